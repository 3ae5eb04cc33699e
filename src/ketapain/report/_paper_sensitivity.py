"""The paper's Missing-data sensitivity section: one table per frame of
``results.sensitivity`` and the tipping-point figure.

Contrasts of these frames are labelled ``"a - b"`` by the statistics; they are shown ``"x vs y"``
with the reference arm second, like Table 2's pairwise rows (numbers flipped as needed).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ketapain.analysis import AnalysisResults

from ._document import DisplayTable, FigureBlock, Paragraph
from ._figures import figure_of, plot_tipping_point
from ._format import DIGITS, _flip, format_number, format_p
from ._paper_labels import arm_codes, display_table, records

__all__ = ["sensitivity_blocks"]

_SENSITIVITY_TITLES = {
    "mar_daily_model": "Likelihood-based analysis of the daily pain (valid under missing at random)",
    "multiple_imputation": "Multiple imputation of the missing diary days (missing at random)",
    "tipping_point": "Delta-adjusted tipping-point analysis (missing not at random)",
}

_CONTRAST = re.compile(r"^\s*(\S+)\s+-\s+(\S+)\s*$")


def _orient_contrasts(frame: pd.DataFrame, results: AnalysisResults) -> pd.DataFrame:
    """Relabel "a - b" contrasts as "x vs y" (reference second) with the numbers flipped as needed."""
    arms = arm_codes(results)
    needed = {"contrast", "estimate", "ci_low", "ci_high"}
    parsed = [_CONTRAST.match(str(c)) for c in frame["contrast"]] if needed <= set(frame.columns) else []
    if not parsed or not all(m and m[1] in arms and m[2] in arms for m in parsed):
        return frame.assign(shown_contrast=frame["contrast"].astype(str) if "contrast" in frame.columns else "",
                            flipped=False)
    out = _flip(frame, [(m[1], m[2]) for m in parsed if m], results.study["reference_arm"], arms)
    return out.assign(shown_contrast=[f"{a} vs {b}" for a, b in zip(out["shown_a"], out["shown_b"], strict=True)])


def _sensitivity_cell(column: str, value: Any) -> str:
    if column in {"p_value", "p_sidak"} or column.startswith("p_"):
        return format_p(value)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) or value is None or value is pd.NA:
        digits = DIGITS["df"] if column == "df" else DIGITS["estimate"] if column in {"estimate", "se", "ci_low", "ci_high"} else 2
        return format_number(value, digits)
    return str(value)


def sensitivity_blocks(results: AnalysisResults) -> list[Paragraph | DisplayTable | FigureBlock]:
    """One table per sensitivity frame (contrasts oriented like Table 2) and the tipping-point figure."""
    s = results.settings
    if not results.sensitivity:
        return [Paragraph("The missing-data sensitivity analyses were not run for this report.")]
    out: list[Paragraph | DisplayTable | FigureBlock] = []
    for name, frame in results.sensitivity.items():
        if name == "model_checks":  # shown in the Model checks section, with every other fit's check
            continue
        key = "sensitivity_" + re.sub(r"[^a-z0-9_]+", "_", name.lower())
        title = _SENSITIVITY_TITLES.get(name, f"Sensitivity analysis: {name.replace('_', ' ')}")
        oriented = _orient_contrasts(frame, results)
        flipped = bool(oriented["flipped"].any())
        shown = {"contrast": "shown_contrast", "estimate": "shown_estimate", "ci_low": "shown_ci_low",
                 "ci_high": "shown_ci_high"} if "shown_estimate" in oriented.columns else {"contrast": "shown_contrast"}
        columns = list(frame.columns)
        rows = [[_sensitivity_cell(c, r[shown.get(c, c)]) for c in columns] for r in records(oriented)]
        notes = ["Contrasts 'x vs y' = x - y (reference arm second)" + ("; estimates and intervals of the analysis' a - b "
                 "negated where the order differs." if flipped else ".")] if "contrast" in columns else []
        out.append(display_table(key, title, [c.replace("_", " ") for c in columns], rows, oriented, notes))
        if name == "tipping_point" and {"delta", "p_value"} <= set(frame.columns) and "shown_estimate" in oriented.columns:
            fig_frame = oriented[["delta", "shown_contrast", "shown_estimate", "shown_ci_low", "shown_ci_high", "p_value"]].rename(
                columns={"shown_contrast": "contrast", "shown_estimate": "estimate", "shown_ci_low": "ci_low",
                         "shown_ci_high": "ci_high"})
            ax = plot_tipping_point(fig_frame, alpha=float(s.alpha))
            out.append(FigureBlock(key="tipping_point", title="Tipping-point analysis",
                                   caption=f"Estimate and {100 * s.conf_level:g}% CI of each contrast as the shift "
                                           "delta added to the imputed values grows; crosses mark where P crosses alpha.",
                                   figure=figure_of(ax), data=fig_frame.reset_index(drop=True)))
    return out

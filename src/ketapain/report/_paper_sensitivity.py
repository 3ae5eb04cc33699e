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
from ._format import DIGITS, _flip, format_estimate_ci, format_number, format_p
from ._paper_labels import arm_codes, display_table, endpoint_label, records

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


_TITLES_OTHER = {
    "missing_days": "Missing diary days per endpoint and arm",
    "mar_daily_means": "Likelihood-based analysis of the daily pain: AUC per arm (valid under missing at random)",
    "omnibus": "Missing-data sensitivity analyses: omnibus treatment tests",
    "tipping_summary": "Tipping-point analysis: where the conclusion changes",
}
_HEADERS = {
    "treatment": "Arm", "n_days": "Diary days", "n_missing_days": "Missing days", "pct_missing": "Missing (%)",
    "contrast": "Contrast", "se": "SE", "df": "df", "statistic": "Statistic", "p_value": "P", "p_sidak": "P (Sidak)",
    "fmi": "FMI", "n_imputations": "Imputations", "analysis": "Analysis", "df_num": "df (numerator)",
    "df_den": "df (denominator)", "delta": "Delta", "conclusion": "Conclusion at delta = 0",
    "delta_up": "Tipping delta (up)", "delta_down": "Tipping delta (down)", "shift_arms": "Shifted arms",
}
"""Column headings of the sensitivity frames' columns (others: the name with spaces)."""
_GROUPED = ("endpoint", "value", "window_day")
"""Columns said once per group of rows, by the endpoint's label."""
_ANALYSES = {"mar_daily_model": "likelihood-based (MAR)", "multiple_imputation": "multiple imputation (MAR)"}
_CONCLUSIONS = {1: "significant, x > y", -1: "significant, x < y", 0: "not significant"}
FMI_SIGNIFICANT = 2
"""The fraction of missing information is shown to this many significant digits (it can be 0.0004)."""


def _significant(x: Any, digits: int = FMI_SIGNIFICANT) -> str:
    v = None if x is None or x is pd.NA else float(x)
    if v is None or not np.isfinite(v):
        return "–"
    return "0" if v == 0 else f"{v:#.{digits}g}".rstrip(".")


def _sensitivity_cell(column: str, value: Any) -> str:
    if column in {"p_value", "p_sidak"} or column.startswith("p_"):
        return format_p(value)
    if column == "fmi":
        return _significant(value)
    if column == "analysis":
        return _ANALYSES.get(str(value), str(value).replace("_", " "))
    if column == "conclusion" and value is not None and not pd.isna(value):
        return _CONCLUSIONS.get(int(value), str(value))
    if column == "contrast":
        return re.sub(r"^\s*(\S+)\s+-\s+(\S+)\s*$", r"\1 vs \2", str(value))
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) or value is None or value is pd.NA:
        digits = (DIGITS["df"] if column in {"df", "df_den"} else DIGITS["estimate"] if column in {"se"}
                  else DIGITS["pct"] if column == "pct_missing" else 2)
        return format_number(value, digits)
    return str(value)


def _rows(frame: pd.DataFrame, oriented: pd.DataFrame,
          results: AnalysisResults) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and group rows of one sensitivity frame: one group per endpoint (its label
    said once), estimate and interval in one cell, readable headings and values."""
    s = results.settings
    conf = f"{100 * s.conf_level:g}%"
    with_ci = {"estimate", "ci_low", "ci_high"} <= set(frame.columns)
    grouped = _GROUPED if "endpoint" in frame.columns else ()
    columns = [c for c in frame.columns if c not in grouped and not (with_ci and c in {"ci_low", "ci_high"})]
    header = [f"Estimate [{conf} CI]" if c == "estimate" and with_ci else _HEADERS.get(c, c.replace("_", " ").capitalize())
              for c in columns]
    shown = {"contrast": "shown_contrast", "estimate": "shown_estimate", "ci_low": "shown_ci_low",
             "ci_high": "shown_ci_high"} if "shown_estimate" in oriented.columns else {"contrast": "shown_contrast"}

    def cell(r: dict[str, Any], c: str) -> str:
        if c == "estimate" and with_ci:
            return format_estimate_ci(r[shown.get("estimate", "estimate")], r[shown.get("ci_low", "ci_low")],
                                      r[shown.get("ci_high", "ci_high")], DIGITS["estimate"])
        return _sensitivity_cell(c, r[shown.get(c, c)])

    rows: list[list[str]] = []
    groups: list[int] = []
    current: object = None
    for r in records(oriented):
        if "endpoint" in frame.columns and r["endpoint"] != current:
            current = r["endpoint"]
            groups.append(len(rows))
            label = endpoint_label(s, str(current)) if s.endpoint(str(current)) else str(current).replace("_", " ")
            rows.append([label, *[""] * (len(columns) - 1)])
        rows.append([("  " if groups else "") + cell(r, columns[0]), *(cell(r, c) for c in columns[1:])])
    return header, rows, groups


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
        title = _SENSITIVITY_TITLES.get(name) or _TITLES_OTHER.get(name, f"Sensitivity analysis: {name.replace('_', ' ')}")
        oriented = _orient_contrasts(frame, results)
        flipped = bool(oriented["flipped"].any())
        header, rows, groups = _rows(frame, oriented, results)
        notes = ["Contrasts 'x vs y' = x - y (reference arm second)" + ("; estimates and intervals of the analysis' a - b "
                 "negated where the order differs." if flipped else ".")] if "contrast" in frame.columns else []
        if "fmi" in frame.columns:
            notes.append(f"FMI: fraction of missing information (Rubin 1987), {FMI_SIGNIFICANT} significant digits.")
        out.append(display_table(key, title, header, rows, oriented, notes, groups))
        if name == "tipping_point" and {"delta", "p_value"} <= set(frame.columns) and "shown_estimate" in oriented.columns:
            fig_frame = oriented[["delta", "shown_contrast", "shown_estimate", "shown_ci_low", "shown_ci_high", "p_value"]].rename(
                columns={"shown_contrast": "contrast", "shown_estimate": "estimate", "shown_ci_low": "ci_low",
                         "shown_ci_high": "ci_high"})
            ax = plot_tipping_point(fig_frame, alpha=float(s.alpha), conf_level=float(s.conf_level))
            out.append(FigureBlock(key="tipping_point", title="Tipping-point analysis",
                                   caption=f"Estimate and {100 * s.conf_level:g}% CI of each contrast as the shift "
                                           "delta added to the imputed values grows; crosses mark where P crosses alpha.",
                                   figure=figure_of(ax), data=fig_frame.reset_index(drop=True)))
    return out

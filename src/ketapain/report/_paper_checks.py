"""The paper's Model checks section: the status of every fit (``results.model_checks`` and
``results.sensitivity["model_checks"]``, from the shared degenerate-fit rules of
``ketapain.stats``), and the short notes the odds-ratio tables print for a fit that is not
estimable or that left rows out.

Every code is said in the words the rest of the report uses: parts of the analysis by their
section names, outcomes by :func:`~ketapain.report._paper_labels.endpoint_label`, the
instruments' score labels or the responder definition, models by
:func:`~ketapain.report._paper_labels.model_name`; a design term ``treatment[K]`` of a reason
is written ``treatment K``.

Examples
--------
>>> readable_terms("SE of the log OR of treatment[K] = 5.83 > 5")
'SE of the log OR of treatment K = 5.83 > 5'
>>> short_note("not estimable (degenerate fit): |log OR| of treatment[KM] = 77.2 > 10; theta = 106 > 10")
'not estimable (degenerate fit): |log OR| of treatment KM = 77.2 > 10; …'
>>> short_note("9 observation(s) perfectly predicted by sequence[K-P-KM] left out (the limit of the fit)")
'9 observations of sequence K-P-KM left out: its patients all had the same outcome'
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from ketapain.analysis import AnalysisResults, AnalysisSettings

from ._document import DisplayTable, Paragraph
from ._paper_labels import (
    display_table,
    endpoint_label,
    item_label,
    model_name,
    records,
    score_label,
    sentence,
)

__all__ = ["CHECKS_KEY", "fit_checks", "model_checks_frame", "readable_terms", "short_note"]

CHECKS_KEY = "fit_status"
"""The key of the Model checks table (the odds-ratio tables refer to it)."""

STATUS_WORDS = {"ok": "ok", "singular": "singular", "not_estimable": "not estimable"}
_SECTIONS = {"pain_before": "Pain before each period", "table2": "Pain outcomes", "responders": "Responders",
             "table3": "Questionnaires", "adverse_events": "Adverse events",
             "mar_daily_model": "Missing-data sensitivity (daily model)",
             "multiple_imputation": "Missing-data sensitivity (multiple imputation)",
             "tipping_point": "Missing-data sensitivity (tipping point)"}
_SHORT = 100
"""Characters of a not-estimable note's first reason kept in an odds-ratio table's cell."""
_TERM = re.compile(r"\b(\w+)\[([^\]]+)\]")
_LEFT_OUT = re.compile(r"^(\d+) observation\(s\) perfectly predicted by (.+?) left out\b")


def readable_terms(text: str) -> str:
    """``treatment[K]`` -> ``treatment K`` (the design's column names, said as words)."""
    return _TERM.sub(r"\1 \2", text)


def short_note(note: str) -> str:
    """A GLMM row's note, short enough for a table cell: a not-estimable note keeps its first
    reason (the full text is in the Model checks table); a rows-left-out note says which
    sequences (or periods) and how many observations."""
    left = _LEFT_OUT.match(note)
    if left:
        terms = [t.strip() for t in left[2].split(",")]
        kinds = {t.partition("[")[0] for t in terms}
        levels = ", ".join(readable_terms(t).partition(" ")[2] or t for t in terms)
        kind = next(iter(kinds)) if len(kinds) == 1 else "term"
        what = f"{kind}{'s' if len(terms) > 1 else ''} {levels}"
        pronoun = "their" if len(terms) > 1 else "its"
        n = int(left[1])
        return (f"{n} observation{'s' if n != 1 else ''} of {what} left out: {pronoun} patients all had the same "
                "outcome")
    if note.startswith("not estimable"):
        head, _, reasons = note.partition(": ")
        first, _, rest = reasons.partition("; ")
        first = readable_terms(first)
        if len(first) > _SHORT:  # cut before a parenthesis, then at a word
            cut = first.find(" (", 20)
            first, rest = first[:cut] if cut > 0 else first, "cut"
        if len(first) > _SHORT:
            first = first[:_SHORT].rsplit(" ", 1)[0]
        return f"{head}: {first}" + ("; …" if rest else "")
    return readable_terms(note)


def model_checks_frame(results: AnalysisResults) -> pd.DataFrame:
    """``results.model_checks`` and the sensitivity analyses' checks in one frame (columns
    section, outcome, model, scale, day, status, reason; a sensitivity fit's section is its
    analysis, its model ``daily`` (the MAR daily model) or ``per_imputation`` (the crossover
    fits of the completed data sets of multiple imputation and the tipping point))."""
    columns = ["section", "outcome", "model", "scale", "day", "status", "reason"]
    frames = [results.model_checks.reindex(columns=columns)]
    sens = results.sensitivity.get("model_checks")
    if sens is not None and not sens.empty:
        model = sens["model"] if "model" in sens else pd.Series("daily", index=sens.index)
        frames.append(pd.DataFrame({"section": sens["analysis"], "outcome": sens["endpoint"], "model": model.fillna("daily"),
                                    "scale": "", "day": math.nan, "status": sens["status"],
                                    "reason": sens["reason"]}))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _outcome_words(settings: AnalysisSettings, section: str, outcome: str, scale: Any) -> str:
    definitions = {d.name: d for d in settings.responder_definitions}
    if section == "responders" and outcome in definitions:
        d = definitions[outcome]
        text = ("responder (any reduction of pain)" if d.min_reduction_pct is None
                else f"responder (≥ {d.min_reduction_pct:g}% reduction{', ' + d.source if d.source else ''})")
    elif section == "adverse_events":
        text = "any treatment-related adverse event"
    elif settings.endpoint(outcome) is not None:
        text = endpoint_label(settings, outcome, impute=False)
    elif "." in outcome:
        text = score_label(outcome)
    else:
        text = item_label(outcome)
    return f"{text} (log scale)" if scale == "log" else text


def _model_words(model: str, results: AnalysisResults) -> str:
    if model == "per_imputation":
        return "crossover model of each completed data set"
    return "daily model" if model == "daily" else model_name(model, results.study)


def _counts(statuses: pd.Series, *, every: bool = False) -> str:
    counts = statuses.value_counts()
    parts = [f"{int(counts.get(k, 0))} {w}" for k, w in STATUS_WORDS.items() if every or counts.get(k, 0)]
    return ", ".join(parts)


def fit_checks(results: AnalysisResults) -> DisplayTable | Paragraph:
    """The Model checks table: how many fits of each part of the analysis are ok, singular or
    not estimable, then one row per fit that is not ok with its reason."""
    s = results.settings
    checks = model_checks_frame(results)
    if checks.empty:
        return Paragraph("No model was fitted: there are no model checks.")
    order = list(_SECTIONS)
    checks = checks.assign(_o=checks["section"].map({k: i for i, k in enumerate(order)}).fillna(len(order)))
    checks = checks.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    header = ["Analysis", "Outcome", "Model", "Status", "Reason"]
    rows: list[list[str]] = [["Number of fits by status", "", "", "", ""]]
    groups = [0]
    for section, block in checks.groupby("section", sort=False):
        n = len(block)
        rows.append([f"  {_SECTIONS.get(str(section), sentence(str(section).replace('_', ' ')))}",
                     f"{n} fit{'s' if n != 1 else ''}", "", _counts(block["status"]), ""])
    rows.append(["  All analyses", f"{len(checks)} fits", "", _counts(checks["status"], every=True), ""])
    flagged = checks[checks["status"] != "ok"]
    if not flagged.empty:
        groups.append(len(rows))
        rows.append(["Fits that are not ok", "", "", "", ""])
        for r in records(flagged):
            where = _SECTIONS.get(str(r["section"]), str(r["section"]).replace("_", " "))
            day = r["day"]
            if isinstance(day, int | float) and not (isinstance(day, float) and math.isnan(day)):
                where += f", day {int(day)}"
            rows.append([f"  {where}", _outcome_words(s, str(r["section"]), str(r["outcome"]), r["scale"]),
                         _model_words(str(r["model"]), results), STATUS_WORDS.get(str(r["status"]), str(r["status"])),
                         readable_terms(str(r["reason"]))])
    notes = ("Every fit is checked by the same degenerate-fit rules (docs/glmm.md): ok = no rule tripped; singular = a "
             "variance component on its boundary 0 (the fit is that of the model without the random intercept; its "
             "numbers are reported); not estimable = a rule tripped, so no estimate, interval or P is reported.",
             "Reason: the rules that tripped, with the fitted numbers; treatment K = the coefficient of arm K vs the "
             "reference arm.")
    return display_table(CHECKS_KEY, "Model checks: status of every fit", header, rows, checks, notes, groups,
                         numbered=True)

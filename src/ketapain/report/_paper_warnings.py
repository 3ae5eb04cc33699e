"""The paper's Warnings section, formatted from the analysis' warning records
(:class:`~ketapain.analysis.AnalysisWarning`): grouped by kind, counted, placed in words. The
section reads the records' fields; it never parses their messages."""

from __future__ import annotations

from collections.abc import Sequence

from ketapain.analysis import (
    WARNING_KINDS,
    AnalysisResults,
    AnalysisSettings,
    AnalysisWarning,
)

from ._document import Paragraph
from ._format import format_count
from ._paper_labels import (
    IMPUTE_LABELS,
    endpoint_label,
    instrument_label,
    item_label,
    model_name,
    score_label,
)

__all__ = ["KIND_LABELS", "MAX_MESSAGES_SHOWN", "warning_blocks"]

_WARNING_SECTIONS = {"consort": "CONSORT", "pain_before": "pain before each period", "auc": "AUC",
                     "table2": "{table:table2}", "responders": "responders", "consecutive": "consecutive active periods",
                     "questionnaires": "questionnaires", "table3": "{table:table3}", "adverse_events": "adverse events"}
"""How a warning's section is named: a numbered table by a cross-reference (its number is given
when the report is rendered), when the table is shown (:func:`_section_name`)."""
_WARNING_OUTCOMES = {"related_ae": "treatment-related adverse events"}


def _warning_outcome(w: AnalysisWarning, settings: AnalysisSettings) -> str:
    """The outcome of a warning in words (endpoint, item, score, instrument, definition)."""
    if w.section in ("table2", "consecutive", "responders") and settings.endpoint(w.outcome) is not None:
        return endpoint_label(settings, w.outcome, impute=False)
    if w.section in ("pain_before", "auc"):
        item = item_label(w.outcome)
        return f"{item} ({IMPUTE_LABELS.get(w.impute, w.impute)})" if w.impute else item
    if w.section == "table3":
        return score_label(w.outcome)
    if w.section == "questionnaires" and w.outcome:
        return instrument_label(w.outcome)
    if w.section == "responders" and w.day is not None:
        return f"{w.outcome} day {w.day}"
    return _WARNING_OUTCOMES.get(w.outcome, w.outcome.replace("_", " "))


def _section_name(section: str, results: AnalysisResults) -> str:
    """The section in words; Table 3 as a plain name when no questionnaire table is shown."""
    if section == "table3" and results.table3.empty:
        return "questionnaire scores"
    return _WARNING_SECTIONS.get(section, section)


def _warning_places(items: Sequence[AnalysisWarning], results: AnalysisResults) -> str:
    """Where the warnings of one group arose: per section and fit, the outcomes concerned."""
    settings = results.settings
    places: dict[tuple[str, str, str], list[str]] = {}
    for w in items:
        outcomes = places.setdefault((w.section, w.model, w.scale), [])
        label = _warning_outcome(w, settings)
        if label and label not in outcomes:
            outcomes.append(label)
    parts = []
    for (section, model, scale), outcomes in places.items():
        fit = ", ".join(x for x in (model_name(model, results.study) if model else "", "log scale" if scale == "log" else "")
                        if x)
        head = _section_name(section, results) + (f" ({fit})" if fit else "")
        parts.append(f"{head}: {', '.join(outcomes)}" if outcomes else head)
    return "; ".join(parts)


#: A kind with more distinct messages than this is summarised by what the kind means.
MAX_MESSAGES_SHOWN = 3

KIND_LABELS = {
    "two_stage_testing": "Two-stage carry-over testing", "singular_fit": "Singular fit", "convergence": "Convergence",
    "imputation": "Missing AUCs", "warning": "Other warning", "no_screening_log": "No screening log",
    "consort_not_computed": "CONSORT not computed", "not_fitted": "Model not fitted",
    "log_refit_impossible": "Log rule not applicable", "log_refit_failed": "Log refit failed",
    "separation": "Separation in a logistic model", "not_estimable": "Logistic model not estimable",
    "no_model": "No model", "no_test": "No test", "not_analysed": "Not analysed", "rows_left_out": "Rows left out",
}
"""A short readable name per warning kind (:data:`~ketapain.analysis.WARNING_KINDS`), shown instead of
the warning class; the class stays in ``results.json``."""


def _kind_label(category: str, kind: str) -> str:
    """``Singular fit (warning)``, ``Log rule not applicable (note)``: the kind in words, and
    whether the statistics warned (a warning class) or the plan noted it."""
    return f"{KIND_LABELS.get(kind, kind.replace('_', ' ').capitalize())} ({'warning' if category else 'note'})"


def warning_blocks(results: AnalysisResults) -> list[Paragraph]:
    """Warnings grouped by kind, with counts and where they arose: each message of the kind in
    full when it has at most :data:`MAX_MESSAGES_SHOWN` different ones, else what the kind means."""
    if not results.warnings:
        return [Paragraph("No warnings were raised.")]
    groups: dict[tuple[str, str], dict[str, list[AnalysisWarning]]] = {}
    for w in results.warnings:
        groups.setdefault((w.category, w.kind), {}).setdefault(w.message, []).append(w)
    out = [Paragraph(f"{format_count(len(results.warnings), 'warning or note', 'warnings and notes')} of "
                     f"{format_count(len(groups), 'kind')}.")]
    for (category, kind), by_message in groups.items():
        head = f"{_kind_label(category, kind)}: "
        if len(by_message) > MAX_MESSAGES_SHOWN:
            items = [w for ws in by_message.values() for w in ws]
            text = f"{WARNING_KINDS[kind]} ({format_count(len(by_message), 'different message')}, each in results.json)"
            out.append(Paragraph(f"{len(items)} × {head}{text}. Where: {_warning_places(items, results)}."))
            continue
        for message, items in by_message.items():
            out.append(Paragraph(f"{len(items)} × {head}{message.rstrip('.')}. Where: {_warning_places(items, results)}."))
    return out

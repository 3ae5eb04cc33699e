"""Warnings and notes of the analysis plan as records: where they arose and what happened.

Every warning the statistics raise while the plan runs (singular fits, the carry-over
pre-test, missing AUCs...) and every note the plan writes itself (a model that could not be
fitted, rows left out) becomes one :class:`AnalysisWarning`: the section of the plan, the
outcome, the model and scale, what kind of event it is and its message. The report formats
these fields; nothing downstream reads structure out of the message text.

Examples
--------
>>> import warnings
>>> from ketapain.errors import SingularFitWarning
>>> log = WarningLog()
>>> with log.catch(section="table3", outcome="hads.anxiety", model="paper"):
...     warnings.warn("boundary (singular) fit", SingularFitWarning)
>>> log.note("no_model", "fewer than two arms with values, no model", section="table3", outcome="pgic.pgic")
>>> [(w.kind, w.category, w.outcome) for w in log.records]
[('singular_fit', 'SingularFitWarning', 'hads.anxiety'), ('no_model', '', 'pgic.pgic')]
>>> str(log.records[0])
'table3 hads.anxiety (paper model): SingularFitWarning: boundary (singular) fit'
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ketapain.errors import (
    ConvergenceWarning,
    ImputationWarning,
    SingularFitWarning,
    TwoStageTestingWarning,
)
from ketapain.stats import ModelCheck

__all__ = ["AnalysisWarning", "CHECK_COLUMNS", "ModelCheckRecord", "WARNING_KINDS", "WARNING_SECTIONS", "WarningLog"]

#: The sections of the plan a warning can come from, in the order the plan runs them.
WARNING_SECTIONS = ("data", "consort", "pain_before", "auc", "table2", "responders", "consecutive", "questionnaires", "table3",
            "adverse_events")

#: Every kind of warning or note, with what it means (the report shows the meaning when the
#: messages of one kind differ, e.g. by a P-value).
WARNING_KINDS: Mapping[str, str] = MappingProxyType({
    "two_stage_testing": "the carry-over term was pre-tested and kept when its P < alpha, dropped otherwise; "
                         "two-stage testing biases the treatment test (Freeman 1989) - prefer a pre-specified model",
    "singular_fit": "a variance component was estimated on its boundary (0)",
    "convergence": "an optimiser stopped before reaching its tolerance",
    "imputation": "values could not be imputed and stay missing",
    "warning": "another warning raised by the computation",
    "no_screening_log": "the screening log is empty: the CONSORT flow starts at randomisation, screening not recorded",
    "consort_not_computed": "the CONSORT flow could not be computed from the screening log",
    "not_fitted": "the model could not be fitted: no row for it",
    "log_refit_impossible": "the log rule fired but the outcome has values <= 0: the identity scale is used",
    "log_refit_failed": "the log rule fired but the log-scale model could not be fitted: the identity scale is used",
    "separation": "the logistic model is not estimable (an arm without events, or with events only)",
    "not_estimable": "the model could not be estimated, or its fit is degenerate (results.model_checks gives the "
                     "rule): its numbers are NaN",
    "no_model": "fewer than two arms have values: no model",
    "no_test": "too few patients per group for the test",
    "not_analysed": "the analysis does not apply to this protocol",
    "rows_left_out": "rows that do not fit the protocol were left out",
    "data_check": "a problem of the data check (ketapain check) accepted as a warning, by default or with --lenient",
})

_CATEGORY_KINDS = {
    TwoStageTestingWarning: "two_stage_testing",
    SingularFitWarning: "singular_fit",
    ConvergenceWarning: "convergence",
    ImputationWarning: "imputation",
}


@dataclass(frozen=True, slots=True)
class AnalysisWarning:
    """One warning or note of the analysis plan.

    Attributes
    ----------
    section : str
        The part of the plan (:data:`WARNING_SECTIONS`): ``data`` (the data check, before
        the plan), ``consort``, ``pain_before``, ``auc``,
        ``table2``, ``responders``, ``consecutive``, ``questionnaires``, ``table3`` or
        ``adverse_events``.
    outcome : str
        What was being analysed: an endpoint name (``table2``, ``consecutive``),
        ``pre_infusion_pain``, a questionnaire score ``instrument.score`` (``table3``), an
        instrument name (``questionnaires``), a diary item (``auc``), the kind of a data-check
        problem (``data``: ``unknown_visit``...), a responder definition
        (``responders``), ``related_ae``; empty when the warning concerns the whole section.
    kind : str
        What happened, one of :data:`WARNING_KINDS`.
    message : str
        The message: the warning's text as the statistics raised it, or the plan's note.
    category : str
        The warning class (``"SingularFitWarning"``) for a warning raised by the statistics;
        empty for the plan's own notes.
    model, scale : str
        The crossover or logistic model (``paper``, ``standard``) and the scale of the fit
        (``identity``, ``log``), when the warning concerns one fit; else empty.
    day : int or None
        The responder day (``responders`` only).
    impute : str
        The imputation of the AUC computation (``auc`` only).
    """

    section: str
    outcome: str
    kind: str
    message: str
    category: str = ""
    model: str = ""
    scale: str = ""
    day: int | None = None
    impute: str = ""

    def __post_init__(self) -> None:
        # the plan's own vocabulary: a section or kind outside it is a programming error
        if self.section not in WARNING_SECTIONS:
            raise ValueError(f"unknown warning section {self.section!r}; sections: {', '.join(WARNING_SECTIONS)}")
        if self.kind not in WARNING_KINDS:
            raise ValueError(f"unknown warning kind {self.kind!r}; kinds: {', '.join(WARNING_KINDS)}")

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON object (every field; ``day`` None when not a responder warning)."""
        return {"section": self.section, "outcome": self.outcome, "kind": self.kind, "message": self.message,
                "category": self.category, "model": self.model, "scale": self.scale, "day": self.day,
                "impute": self.impute}

    def __str__(self) -> str:
        where = " ".join(p for p in (self.section, self.outcome) if p)
        if self.day is not None:
            where += f" day {self.day}"
        if self.impute:
            where += f" (impute={self.impute})"
        if self.model:
            where += f" ({self.model} model)"
        if self.scale == "log":
            where += ", log scale"
        return f"{where}: {self.category + ': ' if self.category else ''}{self.message}"


#: Columns of ``results.model_checks`` (one row per fitted model, :class:`ModelCheckRecord`).
CHECK_COLUMNS = ("section", "outcome", "model", "scale", "day", "status", "reason")


@dataclass(frozen=True, slots=True)
class ModelCheckRecord:
    """The degenerate-fit verdict on one model of the plan (:class:`ketapain.stats.ModelCheck`).

    ``section``, ``outcome``, ``model``, ``scale`` and ``day`` place it as for
    :class:`AnalysisWarning`; ``status`` is ``ok``, ``singular`` or ``not_estimable``
    (``ketapain.stats.MODEL_CHECK_STATUSES``), ``reason`` the rules that tripped (or the error
    of a model that could not be fitted at all), empty when ``ok``.
    """

    section: str
    outcome: str
    model: str
    scale: str
    day: int | None
    status: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in CHECK_COLUMNS}


class WarningLog:
    """The warnings and notes of one analysis run, in the order they arose (no duplicates),
    and the model check of every fit (:meth:`check`)."""

    def __init__(self) -> None:
        self._records: list[AnalysisWarning] = []
        self._checks: list[ModelCheckRecord] = []

    @property
    def checks(self) -> tuple[ModelCheckRecord, ...]:
        """The model check of every fit so far, in the order the fits ran."""
        return tuple(self._checks)

    def check(self, check: ModelCheck, *, section: str, outcome: str = "", model: str = "", scale: str = "",
              day: int | None = None) -> None:
        """Record the verdict ``check`` on one fit."""
        self._checks.append(ModelCheckRecord(section=section, outcome=outcome, model=model, scale=scale, day=day,
                                             status=check.status, reason=check.reason))

    @property
    def records(self) -> tuple[AnalysisWarning, ...]:
        """Every record so far."""
        return tuple(self._records)

    def add(self, record: AnalysisWarning) -> None:
        """Append ``record`` unless an equal one is already there."""
        if record not in self._records:
            self._records.append(record)

    def note(self, kind: str, message: str, *, section: str, outcome: str = "", model: str = "", scale: str = "",
             day: int | None = None, impute: str = "") -> None:
        """Record a note of the plan itself (``category`` empty)."""
        self.add(AnalysisWarning(section=section, outcome=outcome, kind=kind, message=message, model=model,
                                 scale=scale, day=day, impute=impute))

    @contextmanager
    def catch(self, *, section: str, outcome: str = "", model: str = "", scale: str = "", day: int | None = None,
              impute: str = "") -> Iterator[None]:
        """Record every warning raised inside the block, with this context and its class as
        ``category`` (``kind`` from the class; ``"warning"`` for classes not of ketapain)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            kind = next((k for cls, k in _CATEGORY_KINDS.items() if issubclass(w.category, cls)), "warning")
            self.add(AnalysisWarning(section=section, outcome=outcome, kind=kind, message=str(w.message),
                                     category=w.category.__name__, model=model, scale=scale, day=day,
                                     impute=impute))

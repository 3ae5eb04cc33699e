"""Eligibility: the protocol's inclusion and exclusion criteria applied to screening answers.

A person is **eligible when every inclusion rule holds and no exclusion rule holds**
(:meth:`ketapain.protocol.Criterion.rule_holds`). A criterion whose answer is missing
(absent, None or NaN) is a failure of its own kind, "not answered": an unanswered exclusion
question cannot be taken as "no", so a missing answer never makes anyone eligible.

Instrument criteria (``instrument``/``score``, e.g. DN4 total >= 4) read the score computed by
:func:`ketapain.instruments.score` from the items when they are given (``dn4_items``; in a
screening frame, columns ``dn4_1`` ... ``dn4_10``), otherwise the answer named
``<instrument>_<score>`` (``dn4_total``, as in the screening table).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from ketapain._json import json_safe
from ketapain.errors import FIRST_DATA_ROW, DataError, InstrumentError
from ketapain.protocol import Criterion, Protocol

__all__ = [
    "EligibilityResult",
    "FailedCriterion",
    "ScreeningQuestion",
    "evaluate_eligibility",
    "evaluate_screening",
    "screening_questions",
]

FailReason = Literal["not answered", "inclusion not met", "exclusion applies"]


@dataclass(frozen=True, slots=True)
class FailedCriterion:
    """One criterion a screened person fails.

    Attributes
    ----------
    id, kind, text
        The criterion's id, ``"inclusion"`` or ``"exclusion"``, and its text.
    field
        What the rule reads: the answer name, or ``"<instrument>.<score>"`` (e.g. ``dn4.total``).
    value
        The value given (None when not answered).
    rule
        The rule as written, ``"<field> <op> <value>"``; an exclusion fails when it holds.
    reason
        ``"not answered"``, ``"inclusion not met"`` or ``"exclusion applies"``.
    """

    id: str
    kind: str
    text: str
    field: str
    value: Any
    rule: str
    reason: FailReason

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the attributes."""
        return {"id": self.id, "kind": self.kind, "text": self.text, "field": self.field,
                "value": json_safe(self.value), "rule": self.rule, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class EligibilityResult:
    """Whether one screened person is eligible, and every criterion failed.

    Attributes
    ----------
    eligible
        True when no criterion failed.
    failed
        Every failed criterion, in protocol order.
    n_criteria
        Number of criteria checked.
    scores
        Instrument scores used, e.g. ``{"dn4.total": 5.0}`` (computed from items or given).
    """

    eligible: bool
    failed: tuple[FailedCriterion, ...]
    n_criteria: int
    scores: Mapping[str, Any]

    @property
    def failed_ids(self) -> tuple[str, ...]:
        """Ids of the failed criteria."""
        return tuple(f.id for f in self.failed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``eligible``, ``n_criteria``, ``failed`` (list of dicts), ``scores``."""
        return {"eligible": self.eligible, "n_criteria": self.n_criteria,
                "failed": [f.to_dict() for f in self.failed],
                "scores": {k: json_safe(v) for k, v in self.scores.items()}}

    def summary(self) -> str:
        """Readable text: the verdict, then one line per failed criterion."""
        head = (f"ELIGIBLE: all {self.n_criteria} criteria met" if self.eligible
                else f"NOT ELIGIBLE: {len(self.failed)} of {self.n_criteria} criteria failed")
        lines = [head]
        for f in self.failed:
            given = "no answer" if f.value is None else f"given {f.value!r}"
            lines.append(f"  - {f.id} ({f.kind}): {f.text} — {f.reason}; rule {f.rule}; {given}")
        for k, v in self.scores.items():
            lines.append(f"  score {k} = {v:g}" if isinstance(v, float) else f"  score {k} = {v}")
        return "\n".join(lines)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _plain(value: Any) -> Any:
    """numpy / pandas scalars -> Python scalars (so ``numpy.bool_`` compares as a bool)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _category(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _check_type(c: Criterion, value: Any, key: str) -> None:
    """Refuse an answer (``answers[key]``) whose type cannot match the rule (e.g. the text
    'true' for a boolean rule), which would otherwise silently make an exclusion rule false."""
    expected = {_category(v) for v in (c.value if isinstance(c.value, tuple) else (c.value,))}
    got = _category(value)
    if got not in expected:
        allowed = " or ".join(sorted(expected))
        raise DataError(f"criterion {c.id} ({c.source}): {value!r} is a {got}; the rule {_rule_text(c)} needs a {allowed}",
                        source="answers", column=key, value=value, allowed=allowed)


def _rule_text(c: Criterion) -> str:
    value = list(c.value) if isinstance(c.value, tuple) else c.value
    value_text = str(value).lower() if isinstance(value, bool) else repr(value)
    return f"{c.source} {c.op} {value_text}"


def _instrument_score(c: Criterion, answers: Mapping[str, Any], items: Mapping[str, Any] | None) -> tuple[Any, str]:
    """The score a criterion reads, and the key it came from."""
    from ketapain.instruments import score

    key = f"{c.instrument}_{c.score}"
    given = _plain(answers.get(key))
    if items is None:
        return (None if _is_missing(given) else given), key
    items = {str(k): _plain(v) for k, v in items.items() if not _is_missing(_plain(v))}
    try:
        result = score(str(c.instrument), items, incomplete="missing")
    except InstrumentError as exc:  # the items are the caller's dn4_items
        if exc.source is None:
            exc.source = "dn4_items"
        raise
    computed = result.get(str(c.score))
    if computed is None:
        return None, key
    if not _is_missing(given) and given != computed:
        raise DataError(f"criterion {c.id}: {key}={given!r} disagrees with the {c.instrument} items, which score {computed!r}",
                        source="answers", column=key, value=given, allowed=(computed,))
    return computed, key


def evaluate_eligibility(
    protocol: Protocol,
    answers: Mapping[str, Any],
    *,
    dn4_items: Mapping[str, int] | None = None,
) -> EligibilityResult:
    """Apply every eligibility criterion of the protocol to one person's screening answers.

    Parameters
    ----------
    protocol
        The study protocol (``protocol.eligibility.criteria``).
    answers
        Screening answers by field name, e.g. ``{"age": 45, "previous_ketamine": False}``.
        Instrument scores may be given as ``<instrument>_<score>`` (``dn4_total``). Keys no
        criterion reads are ignored.
    dn4_items
        The ten DN4 answers (``{"1": 1, ..., "10": 0}``); when given, DN4 criteria use the
        total scored by :func:`ketapain.instruments.score` (and a ``dn4_total`` answer, if
        also given, must agree). Missing items leave the total unanswered.

    Returns
    -------
    EligibilityResult
        ``eligible`` and every failed criterion with the value given and the rule.

    Raises
    ------
    DataError
        An answer of the wrong type for its rule (``age="old"``; ``"true"`` or ``1`` where the
        rule compares with a boolean), or a
        ``dn4_total`` that disagrees with the DN4 items.
    InstrumentError
        Invalid DN4 items (unknown item, value not 0/1).

    Notes
    -----
    Eligible = every inclusion rule holds and no exclusion rule holds. A missing answer
    (absent, None, NaN) fails its criterion with reason ``"not answered"``, for inclusion and
    exclusion criteria alike. Booleans compare only with booleans (``1 == true`` is False).

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> p = load_protocol("ab_ba_example")
    >>> r = evaluate_eligibility(p, {"age": 17, "dn4_total": 5})
    >>> r.eligible, r.failed_ids
    (False, ('inc_age', 'exc_arrhythmia'))
    >>> [f.reason for f in r.failed]
    ['inclusion not met', 'not answered']
    >>> evaluate_eligibility(p, {"age": 40, "conduction_disorder": False},
    ...                      dn4_items={str(i): int(i <= 4) for i in range(1, 11)}).eligible
    True
    """
    if not isinstance(answers, Mapping):
        raise DataError(f"answers must be a mapping of field name to answer, got {type(answers).__name__}",
                        column="answers")
    failed: list[FailedCriterion] = []
    scores: dict[str, Any] = {}
    criteria = protocol.eligibility.criteria
    for c in criteria:
        if c.instrument is not None:
            items = dn4_items if c.instrument == "dn4" else None
            value, key = _instrument_score(c, answers, items)
            if value is not None:
                scores[c.source] = value
        else:
            key = str(c.field)
            raw = _plain(answers.get(key))
            value = None if _is_missing(raw) else raw
        rule = _rule_text(c)
        if value is None:
            failed.append(FailedCriterion(c.id, c.kind, c.text, c.source, None, rule, "not answered"))
            continue
        _check_type(c, value, key)
        holds = c.rule_holds(value)
        if c.kind == "inclusion" and not holds:
            failed.append(FailedCriterion(c.id, c.kind, c.text, c.source, value, rule, "inclusion not met"))
        elif c.kind == "exclusion" and holds:
            failed.append(FailedCriterion(c.id, c.kind, c.text, c.source, value, rule, "exclusion applies"))
    return EligibilityResult(eligible=not failed, failed=tuple(failed), n_criteria=len(criteria), scores=scores)


def evaluate_screening(protocol: Protocol, frame: pd.DataFrame) -> pd.DataFrame:
    """Evaluate eligibility for every row (screened person) of a screening frame.

    Parameters
    ----------
    protocol
        The study protocol.
    frame
        One row per screened person, one column per answer (the field names of the
        criteria). DN4 is read from columns ``dn4_1`` ... ``dn4_10`` when all ten exist,
        otherwise from ``dn4_total``. Empty cells (NaN/None) are unanswered.

    Returns
    -------
    DataFrame
        One row per input row, same index: ``screening_id`` (if the frame has it),
        ``eligible`` (bool), ``n_failed`` and ``n_not_answered`` (int), and ``failed_ids``
        (text: the failed criterion ids joined by ``";"``, empty when eligible).

    Raises
    ------
    DataError
        As :func:`evaluate_eligibility`, the message prefixed with ``screening row <n>``
        (spreadsheet rows: the header is row 1).

    Examples
    --------
    >>> import pandas as pd
    >>> from ketapain.protocol import load_protocol
    >>> p = load_protocol("ab_ba_example")
    >>> log = pd.DataFrame({"screening_id": ["S1", "S2"], "age": [40, 17],
    ...                     "dn4_total": [6, 2], "conduction_disorder": [False, None]})
    >>> out = evaluate_screening(p, log)
    >>> out["eligible"].tolist(), out["n_failed"].tolist(), out["failed_ids"].tolist()
    ([True, False], [0, 3], ['', 'inc_age;inc_dn4;exc_arrhythmia'])
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    item_cols = [f"dn4_{i}" for i in range(1, 11)]
    has_items = all(c in frame.columns for c in item_cols)
    eligible, n_failed, n_missing, ids = [], [], [], []
    records = frame.to_dict(orient="records")
    for pos, record in enumerate(records):
        items = {col.removeprefix("dn4_"): record[col] for col in item_cols} if has_items else None
        try:
            # answers are looked up by field name, so only the string-named columns can matter
            answers = {k: v for k, v in record.items() if isinstance(k, str)}
            result = evaluate_eligibility(protocol, answers, dn4_items=items)
        except DataError as exc:
            raise DataError(str(exc), located=True, source="screening", row=pos + FIRST_DATA_ROW) from None
        eligible.append(result.eligible)
        n_failed.append(len(result.failed))
        n_missing.append(sum(f.reason == "not answered" for f in result.failed))
        ids.append(";".join(result.failed_ids))
    out = pd.DataFrame(
        {
            "eligible": np.asarray(eligible, dtype=bool),
            "n_failed": np.asarray(n_failed, dtype=np.int64),
            "n_not_answered": np.asarray(n_missing, dtype=np.int64),
            "failed_ids": np.asarray(ids, dtype=object),
        },
        index=frame.index,
    )
    if "screening_id" in frame.columns:
        out.insert(0, "screening_id", frame["screening_id"].to_numpy())
    return out


AnswerKind = Literal["yes_no", "number", "choice"]


@dataclass(frozen=True, slots=True)
class ScreeningQuestion:
    """One question of a screening form, made from the criterion whose rule reads its answer.

    A boolean answer is asked as the criterion's own text, "does this apply?": **Yes means the
    criterion's statement is true, which is exactly when its rule holds** (an inclusion met,
    an exclusion that applies). The value recorded for Yes is the one that makes the rule
    hold (:attr:`value_if_yes`), so "Never treated with ketamine" (``previous_ketamine ==
    false``) answered Yes records ``previous_ketamine = false``. The question text, the
    recorded value and the eligibility rule thus come from one place and cannot disagree.

    Attributes
    ----------
    criterion, kind, text
        The criterion asked (id, ``"inclusion"``/``"exclusion"``, text shown as the question).
    field
        The screening answer recorded (``answers[field]``).
    answer
        ``"yes_no"`` (boolean rule), ``"number"`` (ordering or numeric rule) or ``"choice"``
        (text rule: the values listed by the rule, and ``"other"``).
    choices
        The values offered for a ``"choice"``, ``()`` otherwise.
    rule
        The rule as written, ``"<field> <op> <value>"``.
    also
        Ids of the other criteria whose rule reads the same answer.
    """

    criterion: str
    kind: str
    text: str
    field: str
    answer: AnswerKind
    choices: tuple[str, ...]
    rule: str
    also: tuple[str, ...] = ()
    value_if_yes: bool | None = None

    def value_for(self, yes: bool) -> bool:
        """The value recorded for a Yes (True) or No (False) to a ``yes_no`` question."""
        if self.value_if_yes is None:
            raise DataError(f"criterion {self.criterion}: {self.field} is not a yes/no question", column=self.field)
        return self.value_if_yes if yes else not self.value_if_yes


def _yes_value(c: Criterion) -> bool:
    """The boolean that makes the rule hold while its negation does not (a rule true for
    both booleans or for neither cannot be asked as "does this apply?": True is recorded
    for Yes then, and the question shows the field, not the criterion's text)."""
    holds = {b: c.rule_holds(b) for b in (True, False)}
    return holds[True] or not holds[False]


def _question(c: Criterion) -> ScreeningQuestion:
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    field, rule = str(c.field), _rule_text(c)
    if all(isinstance(v, bool) for v in values):
        clear = c.rule_holds(True) != c.rule_holds(False)
        return ScreeningQuestion(c.id, c.kind, c.text if clear else field, field, "yes_no", (), rule,
                                 value_if_yes=_yes_value(c))
    if all(isinstance(v, str) for v in values):
        return ScreeningQuestion(c.id, c.kind, c.text, field, "choice", tuple(str(v) for v in values), rule)
    return ScreeningQuestion(c.id, c.kind, c.text, field, "number", (), rule)


def screening_questions(protocol: Protocol) -> tuple[ScreeningQuestion, ...]:
    """The questions of the protocol's screening form: one per answer its criteria read.

    Parameters
    ----------
    protocol
        The study protocol (``protocol.eligibility.criteria``).

    Returns
    -------
    tuple of ScreeningQuestion
        In protocol order, one per ``field`` (the first criterion reading it makes the
        question; the others are listed in ``also``). Instrument criteria (DN4) are not
        questions: their score comes from the instrument's items.

    Notes
    -----
    A yes/no question is the criterion's text, and Yes means the text is true, i.e. the rule
    holds; :meth:`ScreeningQuestion.value_for` gives the value recorded, which
    :func:`evaluate_eligibility` reads with the same rule.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> q = {x.field: x for x in screening_questions(load_protocol("ketapain"))}
    >>> q["previous_ketamine"].text, q["previous_ketamine"].value_for(True)
    ('Never treated with ketamine', False)
    >>> q["previous_iv_ketamine"].text, q["previous_iv_ketamine"].value_for(True)
    ('Previous IV ketamine', True)
    >>> q["age"].answer, q["pain_origin"].choices
    ('number', ('peripheral', 'central'))
    """
    out: dict[str, ScreeningQuestion] = {}
    also: dict[str, list[str]] = {}
    for c in protocol.eligibility.criteria:
        if c.field is None:
            continue
        if c.field in out:
            also[c.field].append(c.id)
            continue
        out[c.field], also[c.field] = _question(c), []
    return tuple(replace(q, also=tuple(also[f])) for f, q in out.items())

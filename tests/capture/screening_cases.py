"""Answers to every screening criterion of a protocol, both ways, built from the criteria
themselves: the form of an eligible person with one question answered so that its criterion
is met and then so that it is not (shared by the service test and the Chromium test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ketapain.operations import ScreeningQuestion, screening_questions
from ketapain.protocol import Criterion, Protocol


@dataclass(frozen=True)
class Case:
    """One criterion answered one way: the form answer, the value it must record, and
    whether the person must be eligible (all other criteria met)."""

    criterion: str
    field: str
    form_value: str          # "yes"/"no" for a yes/no question, else the text typed or chosen
    recorded: Any
    eligible: bool


def _criterion(protocol: Protocol, cid: str) -> Criterion:
    return next(c for c in protocol.eligibility.criteria if c.id == cid)


def _met_and_unmet(c: Criterion, q: ScreeningQuestion) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """A (form text, recorded value) pair that meets the criterion and one that does not."""
    if q.answer == "yes_no":
        # Yes = the criterion's text is true: an inclusion met, an exclusion that applies
        yes, no = ("yes", q.value_for(True)), ("no", q.value_for(False))
        return (yes, no) if c.kind == "inclusion" else (no, yes)
    if q.answer == "choice":
        options = [*q.choices, "other"]
    else:
        v = c.value
        options = [v - 1, v, v + 1]

    def meets(x: Any) -> bool:
        return c.rule_holds(x) == (c.kind == "inclusion")
    good = next(x for x in options if meets(x))
    bad = next(x for x in options if not meets(x))
    return (str(good), good), (str(bad), bad)


def eligible_answers(protocol: Protocol) -> dict[str, str]:
    """Form answers (``c_<criterion>`` / ``a_<field>``) meeting every criterion."""
    out = {}
    for q in screening_questions(protocol):
        (text, _), _ = _met_and_unmet(_criterion(protocol, q.criterion), q)
        out[f"c_{q.criterion}" if q.answer == "yes_no" else f"a_{q.field}"] = text
    return out


def cases(protocol: Protocol) -> list[Case]:
    """Every question answered both ways: meeting its criterion (eligible) and not."""
    out = []
    for q in screening_questions(protocol):
        c = _criterion(protocol, q.criterion)
        (t1, v1), (t2, v2) = _met_and_unmet(c, q)
        # a yes/no question: Yes means the criterion's text is true -> an inclusion is met,
        # an exclusion applies
        yes_eligible = c.kind == "inclusion"
        if q.answer == "yes_no":
            out += [Case(c.id, q.field, "yes", q.value_for(True), yes_eligible),
                    Case(c.id, q.field, "no", q.value_for(False), not yes_eligible)]
        else:
            out += [Case(c.id, q.field, t1, v1, True), Case(c.id, q.field, t2, v2, False)]
    return out


def form_key(protocol: Protocol, case: Case) -> str:
    q = next(x for x in screening_questions(protocol) if x.criterion == case.criterion)
    return f"c_{q.criterion}" if q.answer == "yes_no" else f"a_{q.field}"

"""Screening with eligibility (``operations.evaluate_eligibility``) and DN4 scoring.

The form's questions come from the protocol's criteria (:func:`questions`,
``operations.screening_questions``): a yes/no question is the criterion's text, Yes records
the value that makes its rule hold, and :func:`screen` evaluates that value with the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from ketapain.capture import audit
from ketapain.capture.models import Screening
from ketapain.capture.schemas import ScreeningChange, ScreeningCreate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR, correct
from ketapain.errors import DataError
from ketapain.operations import ScreeningQuestion, evaluate_eligibility, screening_questions

__all__ = ["answers_from_form", "change_screening", "get_screening", "list_screenings", "questions", "screen"]


def screen(ctx: Context, data: ScreeningCreate) -> Screening:
    """Evaluate eligibility of one screened person and log it.

    ``outcome``: ``not_eligible`` when a criterion fails; otherwise ``refused``/``other`` if
    given, else ``other`` with reason ``awaiting randomisation`` until :func:`randomise`
    sets ``randomised``. Raises DataError (422) for answers of the wrong type.
    """
    ctx.require("screening.write")
    result = evaluate_eligibility(ctx.protocol, data.answers, dn4_items=data.dn4_items)
    dn4 = result.scores.get("dn4.total", data.answers.get("dn4_total"))
    n = ctx.session.execute(select(func.count(Screening.id))).scalar() or 0
    reason: str | None
    if not result.eligible:
        outcome, reason = "not_eligible", "; ".join(f"{f.id}: {f.reason}" for f in result.failed)
    else:
        outcome = data.outcome or "other"
        reason = data.reason or ("awaiting randomisation" if data.outcome is None else None)
    return audit.create(ctx.session, ctx.actor, Screening(
        screening_id=f"S{n + 1:03d}", screening_date=data.screening_date, answers=dict(data.answers),
        dn4_items=data.dn4_items, dn4_total=None if dn4 is None else int(dn4), eligible=result.eligible,
        failed=[f.to_dict() for f in result.failed], outcome=outcome, reason=reason, patient_id=None, status="active"))


def list_screenings(ctx: Context, *, include_entered_in_error: bool = False) -> list[Screening]:
    """The active screenings (and those entered in error with ``include_entered_in_error``), in order."""
    ctx.require("patients.read")
    shown = ("active", ENTERED_IN_ERROR) if include_entered_in_error else ("active",)
    return list(ctx.session.execute(select(Screening).where(Screening.status.in_(shown)).order_by(Screening.id)).scalars())


def get_screening(ctx: Context, screening_id: str) -> Screening:
    ctx.require("patients.read")
    return ctx.one(Screening, "screening", screening_id=screening_id)


def change_screening(ctx: Context, screening_id: str, data: ScreeningChange) -> Screening:
    """Correct a screening's date, answers (merged; ``None`` clears one) or DN4 answers and
    evaluate eligibility again (audited with the mandatory reason; see :mod:`.corrections`).

    The outcome follows the new evaluation: ``not_eligible`` (with the failed criteria) when a
    criterion now fails; ``other`` / "awaiting randomisation" when a not-eligible person is now
    eligible; a randomised screening keeps ``randomised`` (its ``eligible`` and ``failed`` show
    a deviation), and refused/other keep theirs while eligible."""
    ctx.require("screening.write")
    row = get_screening(ctx, screening_id)
    sent = data.model_dump(exclude_unset=True, exclude={"reason"})
    answers = {**row.answers, **(data.answers or {})}
    dn4_items = data.dn4_items if "dn4_items" in sent else row.dn4_items
    result = evaluate_eligibility(ctx.protocol, answers, dn4_items=dn4_items)
    dn4 = result.scores.get("dn4.total", answers.get("dn4_total"))
    outcome, why = row.outcome, row.reason
    if row.outcome != "randomised" and not result.eligible:
        outcome, why = "not_eligible", "; ".join(f"{f.id}: {f.reason}" for f in result.failed)
    elif row.outcome == "not_eligible" and result.eligible:
        outcome, why = "other", "awaiting randomisation"
    changes: dict[str, Any] = {"answers": answers, "dn4_items": dn4_items, "dn4_total": None if dn4 is None else int(dn4),
               "eligible": result.eligible, "failed": [f.to_dict() for f in result.failed], "outcome": outcome, "reason": why}
    if "screening_date" in sent:
        changes["screening_date"] = data.screening_date
    correct(ctx, row, changes, data.reason, what=f"screening {screening_id}")
    return row


def questions(ctx: Context) -> tuple[ScreeningQuestion, ...]:
    """The screening form's questions, one per answer the protocol's criteria read."""
    return screening_questions(ctx.protocol)


def _number(field: str, raw: str) -> int | float:
    try:
        x = float(raw)
    except ValueError:
        raise DataError(f"{field}: {raw!r} is not a number", source="answers", column=field) from None
    if not math.isfinite(x):
        raise DataError(f"{field}: not a finite number", source="answers", column=field)
    return int(x) if x.is_integer() else x


def answers_from_form(ctx: Context, form: Mapping[str, str | None]) -> dict[str, Any]:
    """Screening answers (by field) from the form's answers to :func:`questions`.

    ``form`` holds, for a yes/no question, ``c_<criterion id>`` = ``"yes"`` (the criterion's
    text is true) or ``"no"``; for a number or a choice, ``a_<field>``. An empty or absent
    answer is None (the criterion then fails as "not answered").
    """
    answers: dict[str, Any] = {}
    for q in questions(ctx):
        if q.answer == "yes_no":
            raw = form.get(f"c_{q.criterion}")
            answers[q.field] = None if raw not in ("yes", "no") else q.value_for(raw == "yes")
            continue
        raw = form.get(f"a_{q.field}")
        if raw is None or not raw.strip():
            answers[q.field] = None
        else:
            answers[q.field] = _number(q.field, raw.strip()) if q.answer == "number" else raw.strip()
    return answers

"""Questionnaire responses at visits, scored on save (``instruments.score``).

Each response records its ``completed_date`` (issue 20): default today (UTC); never in the
future; never before the patient's inclusion, which is the date of the screening the patient
was enrolled from (no lower bound for a patient enrolled without a dated screening). A date
breaking a rule is a :class:`~ketapain.errors.DataError` on field ``completed_date`` that says
which rule and which dates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Patient, QuestionnaireResponse, Screening
from ketapain.capture.schemas import QuestionnaireChange, QuestionnaireCreate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR, correct
from ketapain.errors import Conflict, DataError, InstrumentError, NotFound
from ketapain.instruments import get_instrument, score

__all__ = ["change_response", "check_completed_date", "get_response", "inclusion_date", "list_responses", "save_response"]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def inclusion_date(ctx: Context, patient_id: str) -> dt.date | None:
    """The patient's inclusion: the date of the screening they were enrolled from (None when
    there is none or it has no date)."""
    return ctx.session.execute(
        select(Screening.screening_date).join(Patient, Patient.screening_id == Screening.screening_id)
        .where(Patient.patient_id == patient_id)).scalars().first()


def check_completed_date(ctx: Context, patient_id: str, completed: dt.date | None, *,
                         included: dt.date | Literal["look up"] | None = "look up") -> dt.date:
    """``completed`` (today when None) if it is neither in the future nor before the patient's
    inclusion (module docstring; ``included``: that date when the caller has it already), else
    :class:`DataError` on field ``completed_date``."""
    today = _today()
    if completed is None:
        completed = today
    if completed > today:
        raise DataError(f"completed_date={completed.isoformat()} is in the future (today is {today.isoformat()}, UTC)",
                        column="completed_date", value=completed.isoformat())
    if included == "look up":
        included = inclusion_date(ctx, patient_id)
    if included is not None and completed < included:
        raise DataError(f"completed_date={completed.isoformat()} is before the inclusion of patient {patient_id} "
                        f"({included.isoformat()}, the date of their screening)", column="completed_date",
                        value=completed.isoformat())
    return completed


def _scores(instrument_name: str, answers: dict[str, Any]) -> dict[str, Any]:
    """The instrument's scores of ``answers`` (missing when too few items are answered), as
    JSON-safe values; an :class:`InstrumentError` about the answers names the field ``answers``."""
    instrument = get_instrument(instrument_name)  # InstrumentError (column "instrument") -> 422
    try:
        scores = score(instrument, answers, incomplete="missing")
    except InstrumentError as exc:  # about the answers: the 422 names the field "answers"
        if exc.source is None:
            exc.source = "answers"
        raise
    return {k: v for k, v in scores.items() if v is None or isinstance(v, bool | int | float | str)}


def save_response(ctx: Context, data: QuestionnaireCreate, *, reason: str | None = None) -> QuestionnaireResponse:
    """Validate and score the answers (scores missing when too few items are answered); the
    raw answers are the record, the scores are stored alongside for display only."""
    ctx.require("questionnaires.write")
    ctx.patient(data.patient_id)
    visits = {v.name: v for v in ctx.protocol.visits}
    if data.visit not in visits:
        raise DataError(f"visit={data.visit!r} is not a visit of the protocol; allowed: {', '.join(visits)}",
                        column="visit", value=data.visit, allowed=tuple(visits))
    completed = check_completed_date(ctx, data.patient_id, data.completed_date)
    clean = _scores(data.instrument, dict(data.answers))
    old = ctx.session.execute(select(QuestionnaireResponse).where(
        QuestionnaireResponse.patient_id == data.patient_id, QuestionnaireResponse.visit == data.visit,
        QuestionnaireResponse.instrument == data.instrument)).scalars().first()
    if old is not None and old.status == ENTERED_IN_ERROR:  # the same record (unique key) is entered again
        audit.update(ctx.session, ctx.actor, old, {"answers": dict(data.answers), "scores": clean, "status": "active",
                                                   "completed_date": completed},
                     reason=reason or "entered again after an entry in error")
        return old
    if old is not None:
        raise Conflict(f"{data.instrument} at {data.visit} of patient {data.patient_id} is already saved")
    return audit.create(ctx.session, ctx.actor, QuestionnaireResponse(
        patient_id=data.patient_id, visit=data.visit, instrument=data.instrument, answers=dict(data.answers),
        scores=clean, status="active", completed_date=completed), reason=reason)


def list_responses(ctx: Context, patient_id: str | None = None, *,
                   include_entered_in_error: bool = False) -> list[QuestionnaireResponse]:
    """The active responses (and those entered in error with ``include_entered_in_error``)."""
    ctx.require("patients.read")
    shown = ("active", ENTERED_IN_ERROR) if include_entered_in_error else ("active",)
    q = select(QuestionnaireResponse).where(QuestionnaireResponse.status.in_(shown)).order_by(QuestionnaireResponse.id)
    if patient_id is not None:
        q = q.where(QuestionnaireResponse.patient_id == patient_id)
    return list(ctx.session.execute(q).scalars())


def get_response(ctx: Context, patient_id: str, visit: str, instrument: str) -> QuestionnaireResponse:
    """The active response of ``instrument`` at ``visit`` of the patient, else :class:`NotFound`."""
    ctx.require("patients.read")
    row = ctx.session.execute(select(QuestionnaireResponse).where(
        QuestionnaireResponse.patient_id == patient_id, QuestionnaireResponse.visit == visit,
        QuestionnaireResponse.instrument == instrument, QuestionnaireResponse.status == "active")).scalars().first()
    if row is None:
        raise NotFound(f"no {instrument!r} response at visit {visit!r} of patient {patient_id}")
    return row


def change_response(ctx: Context, patient_id: str, visit: str, instrument: str, data: QuestionnaireChange) -> QuestionnaireResponse:
    """Correct answers of a response (merged into the stored answers; ``None`` clears one) and
    score them again with the instrument, and/or its ``completed_date`` (checked as on save;
    audited with the mandatory reason: the old and new ``answers``, ``scores`` and date; see
    :mod:`.corrections`)."""
    ctx.require("questionnaires.write")
    row = get_response(ctx, patient_id, visit, instrument)
    answers = {**row.answers, **data.answers}
    changes: dict[str, Any] = {"answers": answers, "scores": _scores(instrument, answers)}
    if "completed_date" in data.model_fields_set:
        if data.completed_date is None:
            raise DataError("completed_date may not be cleared; send the date the questionnaire was completed",
                            column="completed_date", value=None)
        changes["completed_date"] = check_completed_date(ctx, patient_id, data.completed_date)
    correct(ctx, row, changes, data.reason, what=f"{instrument} at {visit} of patient {patient_id}")
    return row

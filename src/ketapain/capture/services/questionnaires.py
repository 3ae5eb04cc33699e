"""Questionnaire responses at visits, scored on save (``instruments.score``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import QuestionnaireResponse
from ketapain.capture.schemas import QuestionnaireChange, QuestionnaireCreate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR, correct
from ketapain.errors import Conflict, DataError, InstrumentError, NotFound
from ketapain.instruments import get_instrument, score

__all__ = ["change_response", "get_response", "list_responses", "save_response"]


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
    clean = _scores(data.instrument, dict(data.answers))
    old = ctx.session.execute(select(QuestionnaireResponse).where(
        QuestionnaireResponse.patient_id == data.patient_id, QuestionnaireResponse.visit == data.visit,
        QuestionnaireResponse.instrument == data.instrument)).scalars().first()
    if old is not None and old.status == ENTERED_IN_ERROR:  # the same record (unique key) is entered again
        audit.update(ctx.session, ctx.actor, old, {"answers": dict(data.answers), "scores": clean, "status": "active"},
                     reason=reason or "entered again after an entry in error")
        return old
    if old is not None:
        raise Conflict(f"{data.instrument} at {data.visit} of patient {data.patient_id} is already saved")
    return audit.create(ctx.session, ctx.actor, QuestionnaireResponse(
        patient_id=data.patient_id, visit=data.visit, instrument=data.instrument, answers=dict(data.answers),
        scores=clean, status="active"), reason=reason)


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
    score them again with the instrument (audited with the mandatory reason: the old and new
    ``answers`` and ``scores``; see :mod:`.corrections`)."""
    ctx.require("questionnaires.write")
    row = get_response(ctx, patient_id, visit, instrument)
    answers = {**row.answers, **data.answers}
    correct(ctx, row, {"answers": answers, "scores": _scores(instrument, answers)}, data.reason,
            what=f"{instrument} at {visit} of patient {patient_id}")
    return row

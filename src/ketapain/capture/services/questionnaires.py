"""Questionnaire responses at visits, scored on save (``instruments.score``)."""

from __future__ import annotations

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import QuestionnaireResponse
from ketapain.capture.schemas import QuestionnaireCreate
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict, DataError, InstrumentError
from ketapain.instruments import get_instrument, score

__all__ = ["list_responses", "save_response"]


def save_response(ctx: Context, data: QuestionnaireCreate, *, reason: str | None = None) -> QuestionnaireResponse:
    """Validate and score the answers (scores missing when too few items are answered); the
    raw answers are the record, the scores are stored alongside for display only."""
    ctx.require("questionnaires.write")
    ctx.patient(data.patient_id)
    visits = {v.name: v for v in ctx.protocol.visits}
    if data.visit not in visits:
        raise DataError(f"visit={data.visit!r} is not a visit of the protocol; allowed: {', '.join(visits)}",
                        column="visit", value=data.visit, allowed=tuple(visits))
    instrument = get_instrument(data.instrument)  # InstrumentError (column "instrument") -> 422
    try:
        scores = score(instrument, data.answers, incomplete="missing")
    except InstrumentError as exc:  # about the answers: the 422 names the field "answers"
        if exc.source is None:
            exc.source = "answers"
        raise
    if ctx.session.execute(select(QuestionnaireResponse.id).where(
            QuestionnaireResponse.patient_id == data.patient_id, QuestionnaireResponse.visit == data.visit,
            QuestionnaireResponse.instrument == data.instrument)).first():
        raise Conflict(f"{data.instrument} at {data.visit} of patient {data.patient_id} is already saved")
    clean = {k: v for k, v in scores.items() if v is None or isinstance(v, bool | int | float | str)}
    return audit.create(ctx.session, ctx.actor, QuestionnaireResponse(
        patient_id=data.patient_id, visit=data.visit, instrument=data.instrument, answers=dict(data.answers),
        scores=clean, status="active"), reason=reason)


def list_responses(ctx: Context, patient_id: str | None = None) -> list[QuestionnaireResponse]:
    ctx.require("patients.read")
    q = select(QuestionnaireResponse).where(QuestionnaireResponse.status == "active").order_by(QuestionnaireResponse.id)
    if patient_id is not None:
        q = q.where(QuestionnaireResponse.patient_id == patient_id)
    return list(ctx.session.execute(q).scalars())

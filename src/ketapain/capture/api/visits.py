"""``/api/v1``: record a visit, correct its date (``PATCH``, with a reason), a patient's visit
schedule (out-of-window flags)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathStr
from ketapain.capture.schemas import VisitChange, VisitCreate, VisitPublic
from ketapain.capture.services import visits

router = APIRouter(tags=["visits"])


@router.post("/visits", status_code=201)
def record_visit(body: VisitCreate, ctx: CtxDep) -> VisitPublic:
    """Record a visit. A date in the future is refused; a date outside the visit's protocol
    window (``GET /patients/{id}/schedule``: ``window_first..window_last``) is refused (422)
    unless ``out_of_window_reason`` is given, and is then stored flagged ``out_of_window``."""
    v = visits.record_visit(ctx, body)
    ctx.session.commit()
    return VisitPublic.model_validate(v)


@router.get("/patients/{patient_id}/schedule")
def schedule(patient_id: PathStr, ctx: CtxDep) -> list[dict[str, Any]]:
    return visits.schedule(ctx, patient_id)


@router.patch("/patients/{patient_id}/visits/{visit}", response_model=VisitPublic)
def change_visit(patient_id: PathStr, visit: PathStr, body: VisitChange, ctx: CtxDep):
    """Correct the visit's date (reason required; the casebook's signatures are voided, open
    queries on ``visit_date`` closed with the reason). 409 when nothing differs or when locked."""
    out = visits.change_visit(ctx, patient_id, visit, body)
    ctx.session.commit()
    return out

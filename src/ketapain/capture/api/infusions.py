"""``/api/v1/infusions``: record an infusion, list infusions, correct one (``PATCH``, with a reason)."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathInt, PathStr, QueryStr
from ketapain.capture.schemas import InfusionChange, InfusionCreate, InfusionPublic
from ketapain.capture.services import infusions

router = APIRouter(tags=["infusions"])


@router.post("/infusions", response_model=InfusionPublic, status_code=201)
def record_infusion(body: InfusionCreate, ctx: CtxDep):
    out = infusions.record_infusion(ctx, body)
    ctx.session.commit()
    return out


@router.get("/infusions", response_model=list[InfusionPublic])
def list_infusions(ctx: CtxDep, patient_id: QueryStr = None) -> list:
    return infusions.list_infusions(ctx, patient_id)


@router.patch("/patients/{patient_id}/infusions/{period}", response_model=InfusionPublic)
def change_infusion(patient_id: PathStr, period: PathInt, body: InfusionChange, ctx: CtxDep):
    """Correct the date and/or pre-infusion pain (reason required). A new date moves the period's
    diary calendar: without ``confirm: true`` a 409 lists the entries that would move
    (``affected``: period, day, date, new_date)."""
    out = infusions.change_infusion(ctx, patient_id, period, body)
    ctx.session.commit()
    return out

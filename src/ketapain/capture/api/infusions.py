"""``/api/v1/infusions``: record an infusion, list infusions."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, QueryStr
from ketapain.capture.schemas import InfusionCreate, InfusionPublic
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

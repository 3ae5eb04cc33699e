"""``/api/v1``: randomise a patient, the allocations (kits; arms for unblinded roles only), kit replacement."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathInt, PathStr, QueryStr
from ketapain.capture.schemas import KitReplace
from ketapain.capture.services import randomisation

router = APIRouter(tags=["randomisation"])


@router.post("/patients/{patient_id}/randomise", status_code=201)
def randomise(patient_id: PathStr, ctx: CtxDep) -> list[dict[str, Any]]:
    out = randomisation.randomise(ctx, patient_id)
    ctx.session.commit()
    return out


@router.get("/allocations")
def allocations(ctx: CtxDep, patient_id: QueryStr = None) -> list[dict[str, Any]]:
    return randomisation.allocations(ctx, patient_id)


@router.post("/allocations/{patient_id}/{period}/replace-kit")
def replace_kit(patient_id: PathStr, period: PathInt, body: KitReplace, ctx: CtxDep) -> dict[str, Any]:
    out = randomisation.replace_kit(ctx, patient_id, period, reason=body.reason)
    ctx.session.commit()
    return out

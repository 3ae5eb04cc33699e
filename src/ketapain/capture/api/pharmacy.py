"""``/api/v1/pharmacy``: the kit to prepare, its arm and preparation sheet (pharmacist only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathInt, PathStr
from ketapain.capture.services import randomisation

router = APIRouter(tags=["pharmacy"])


@router.get("/pharmacy/{patient_id}/{period}")
def preparation(patient_id: PathStr, period: PathInt, ctx: CtxDep, weight_kg: float | None = None) -> dict[str, Any]:
    return randomisation.preparation(ctx, patient_id, period, weight_kg=weight_kg)

"""``/api/v1/unblindings``: emergency unblinding (reason + password; one patient-period, to that user only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathInt
from ketapain.capture.schemas import EmergencyUnblind
from ketapain.capture.services import unblinding

router = APIRouter(tags=["unblindings"])


@router.post("/unblindings", status_code=201)
def unblind(body: EmergencyUnblind, ctx: CtxDep) -> dict[str, Any]:
    out = unblinding.emergency_unblind(ctx, body.patient_id, body.period, reason=body.reason, password=body.password)
    ctx.session.commit()
    return out


@router.get("/unblindings/{unblinding_id}")
def get_unblinding(unblinding_id: PathInt, ctx: CtxDep) -> dict[str, Any]:
    return unblinding.get_unblinding(ctx, unblinding_id)

"""``/api/v1/patients/{patient_id}/diary-link``: issue and revoke a patient's personal diary link token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathStr
from ketapain.capture.schemas import KitReplace
from ketapain.capture.services import diary

router = APIRouter(tags=["diary links"])


@router.post("/patients/{patient_id}/diary-link", status_code=201)
def issue_link(patient_id: PathStr, ctx: CtxDep) -> dict[str, str]:
    token = diary.issue_token(ctx, patient_id)
    ctx.session.commit()
    return {"patient_id": patient_id, "token": token}


@router.post("/patients/{patient_id}/diary-link/revoke")
def revoke_link(patient_id: PathStr, body: KitReplace, ctx: CtxDep) -> dict[str, Any]:
    n = diary.revoke_tokens(ctx, patient_id, reason=body.reason)
    ctx.session.commit()
    return {"patient_id": patient_id, "revoked": n}

"""``/api/v1``: randomise, allocations, kit replacement, pharmacy sheet, emergency unblinding."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.schemas import EmergencyUnblind, KitReplace
from ketapain.capture.services import randomisation, unblinding

router = APIRouter(tags=["randomisation"])


@router.post("/patients/{patient_id}/randomise", status_code=201)
def randomise(patient_id: str, ctx: CtxDep) -> list[dict[str, Any]]:
    out = randomisation.randomise(ctx, patient_id)
    ctx.session.commit()
    return out


@router.get("/allocations")
def allocations(ctx: CtxDep, patient_id: str | None = None) -> list[dict[str, Any]]:
    return randomisation.allocations(ctx, patient_id)


@router.post("/allocations/{patient_id}/{period}/replace-kit")
def replace_kit(patient_id: str, period: int, body: KitReplace, ctx: CtxDep) -> dict[str, Any]:
    out = randomisation.replace_kit(ctx, patient_id, period, reason=body.reason)
    ctx.session.commit()
    return out


@router.get("/pharmacy/{patient_id}/{period}")
def preparation(patient_id: str, period: int, ctx: CtxDep, weight_kg: float | None = None) -> dict[str, Any]:
    return randomisation.preparation(ctx, patient_id, period, weight_kg=weight_kg)


@router.post("/unblindings", status_code=201)
def unblind(body: EmergencyUnblind, ctx: CtxDep) -> dict[str, Any]:
    out = unblinding.emergency_unblind(ctx, body.patient_id, body.period, reason=body.reason, password=body.password)
    ctx.session.commit()
    return out


@router.get("/unblindings/{unblinding_id}")
def get_unblinding(unblinding_id: int, ctx: CtxDep) -> dict[str, Any]:
    return unblinding.get_unblinding(ctx, unblinding_id)


@router.get("/notifications")
def notifications(ctx: CtxDep) -> list[dict[str, Any]]:
    return [{"id": n.id, "kind": n.kind, "message": n.message, "created_at": n.created_at, "status": n.status}
            for n in unblinding.list_notifications(ctx)]

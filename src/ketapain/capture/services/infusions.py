"""Infusion records (date, pre-infusion pain, weight, kit)."""

from __future__ import annotations

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Allocation, Infusion
from ketapain.capture.schemas import InfusionCreate
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict

__all__ = ["list_infusions", "record_infusion"]


def record_infusion(ctx: Context, data: InfusionCreate, *, reason: str | None = None) -> Infusion:
    """Record the infusion that starts a period (the patient must be randomised)."""
    ctx.require("infusions.write")
    ctx.patient(data.patient_id)
    alloc = ctx.session.execute(select(Allocation).where(Allocation.patient_id == data.patient_id,
                                                         Allocation.period == data.period)).scalars().first()
    if alloc is None:
        raise Conflict(f"patient {data.patient_id} has no allocation for period {data.period} (randomise first)")
    if data.kit_code is not None and data.kit_code.strip().upper() != alloc.kit_code:
        raise Conflict(f"kit_code {data.kit_code!r} is not the kit of patient {data.patient_id} period {data.period} ({alloc.kit_code})")
    if ctx.session.execute(select(Infusion.id).where(Infusion.patient_id == data.patient_id, Infusion.period == data.period)).first():
        raise Conflict(f"the infusion of patient {data.patient_id} period {data.period} is already recorded")
    values = data.model_dump()
    values["kit_code"] = alloc.kit_code
    return audit.create(ctx.session, ctx.actor, Infusion(status="active", **values), reason=reason)


def list_infusions(ctx: Context, patient_id: str | None = None) -> list[Infusion]:
    ctx.require("patients.read")
    q = select(Infusion).where(Infusion.status == "active").order_by(Infusion.patient_id, Infusion.period)
    if patient_id is not None:
        q = q.where(Infusion.patient_id == patient_id)
    return list(ctx.session.execute(q).scalars())

"""Randomisation, allocations (blinded views), kit replacement and the pharmacy sheet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ketapain.capture import audit
from ketapain.capture.models import Allocation, Infusion, Patient, Screening, SpareKit
from ketapain.capture.roles import allocation_view
from ketapain.capture.services._context import Context
from ketapain.capture.services.randomisation_list import alert_message, list_alert
from ketapain.errors import Conflict, NotFound
from ketapain.operations import prepare_infusions

__all__ = ["allocations", "preparation", "randomise", "replace_kit", "replacement_reserve"]


def _rows(ctx: Context, patient_id: str) -> list[Allocation]:
    return list(ctx.session.execute(select(Allocation).where(Allocation.patient_id == patient_id)
                                    .order_by(Allocation.period)).scalars())


def _views(ctx: Context, rows: list[Allocation]) -> list[dict[str, Any]]:
    blinded = ctx.blinded
    active = ctx.session.execute(select(Infusion).where(Infusion.status == "active")).scalars()
    inf: dict[tuple[str | None, int], Infusion] = {(i.patient_id, i.period): i for i in active}
    return [allocation_view(r, blinded=blinded, infusion=inf.get((r.patient_id, r.period))) for r in rows]


def randomise(ctx: Context, patient_id: str) -> list[dict[str, Any]]:
    """Give the patient the next free slot of the list (of the patient's stratum, when the
    protocol stratifies); returns the patient's allocation views (blinded for blinded roles).
    The patient's screening, if any, becomes ``randomised``."""
    ctx.require("randomise")
    p: Patient = ctx.patient(patient_id)
    if p.status != "active":
        raise Conflict(f"patient {patient_id} is {p.status}; only active patients are randomised")
    if _rows(ctx, patient_id):
        raise Conflict(f"patient {patient_id} is already randomised")
    q = select(Allocation).where(Allocation.patient_id.is_(None), Allocation.status == "active")
    stratum = None
    if ctx.protocol.randomisation.strata:
        stratum = " x ".join(str(getattr(p, s, "")) for s in ctx.protocol.randomisation.strata)
        q = q.where(Allocation.stratum == stratum)
    first = ctx.session.execute(q.order_by(Allocation.slot_number, Allocation.period).limit(1)).scalars().first()
    if first is None:
        level, _ = list_alert(ctx)
        raise Conflict(f"patient {patient_id} cannot be randomised: "
                       + alert_message("none" if level == "none" else "exhausted", [stratum] if stratum else []))
    now = audit.utc_now()
    for row in ctx.session.execute(select(Allocation).where(Allocation.slot == first.slot)).scalars():
        audit.update(ctx.session, ctx.actor, row, {"patient_id": patient_id, "randomised_at": now}, reason="randomisation")
    if p.screening_id:
        scr = ctx.one(Screening, "screening", screening_id=p.screening_id)
        audit.update(ctx.session, ctx.actor, scr, {"outcome": "randomised", "reason": None, "patient_id": patient_id},
                     reason="randomisation")
    return _views(ctx, _rows(ctx, patient_id))


def allocations(ctx: Context, patient_id: str | None = None) -> list[dict[str, Any]]:
    """Randomised allocations (all, or one patient's); blinded roles get no arm or sequence."""
    ctx.require("allocations.read")
    q = select(Allocation).where(Allocation.patient_id.is_not(None))
    if patient_id is not None:
        ctx.patient(patient_id)
        q = q.where(Allocation.patient_id == patient_id)
    return _views(ctx, list(ctx.session.execute(q.order_by(Allocation.patient_id, Allocation.period)).scalars()))


def _allocation(ctx: Context, patient_id: str, period: int) -> Allocation:
    row = ctx.session.execute(select(Allocation).where(Allocation.patient_id == patient_id, Allocation.period == period)).scalars().first()
    if row is None:
        raise NotFound(f"no allocation for patient {patient_id} period {period} (not randomised, or no such period)")
    return row


def replacement_reserve(ctx: Context) -> tuple[int, int]:
    """``(used, capacity)``: kit replacements made so far and how many the spare stock
    guarantees whatever the arms of the replaced kits, i.e. the smallest number of spare kits
    loaded for any protocol arm. While ``used < capacity`` every arm still has a spare, so
    whether a replacement is possible never depends on the arm (blinding)."""
    per_arm = dict(ctx.session.execute(select(SpareKit.treatment, func.count()).group_by(SpareKit.treatment)).all())
    capacity = min(int(per_arm.get(arm, 0)) for arm in ctx.protocol.arm_codes)
    used = int(ctx.session.execute(select(func.count()).select_from(SpareKit).where(SpareKit.status == "used")).scalar_one())
    return used, capacity


def replace_kit(ctx: Context, patient_id: str, period: int, *, reason: str) -> dict[str, Any]:
    """Replace a damaged kit by a spare of the same arm. The answer holds only the new kit
    code; the arm is neither shown nor inferable from the message (spares of every arm look
    alike), and a replacement is refused only when the reserve guaranteed for *every* arm is
    used up (:func:`replacement_reserve`), never because one arm's spares ran out."""
    ctx.require("kits.replace")
    row = _allocation(ctx, patient_id, period)
    used, capacity = replacement_reserve(ctx)
    if used >= capacity:
        raise Conflict(f"the spare-kit reserve is used up ({used} replacements of {capacity}); "
                       "ask the pharmacy to load spare kits")
    spare = ctx.session.execute(select(SpareKit).where(SpareKit.status == "available", SpareKit.treatment == row.treatment)
                                .order_by(SpareKit.id).limit(1)).scalars().one()
    old = row.kit_code
    audit.update(ctx.session, ctx.actor, spare, {"status": "used", "used_for": f"{patient_id}/{period} replaces {old}"}, reason=reason)
    audit.update(ctx.session, ctx.actor, row, {"kit_code": spare.kit_code}, reason=f"kit replaced: {reason}")
    return {"patient_id": patient_id, "period": period, "old_kit_code": old, "kit_code": spare.kit_code}


def preparation(ctx: Context, patient_id: str, period: int, *, weight_kg: float | None = None) -> dict[str, Any]:
    """Pharmacist only: the kit, its arm and the preparation sheet (``operations.prepare_infusions``):
    bags and syringes to prepare, or, for oral, patch and inhaled arms, the units to dispense.
    The weight is needed only when the protocol has per-kg doses."""
    ctx.require("pharmacy")
    row = _allocation(ctx, patient_id, period)
    p = ctx.patient(patient_id)
    weight = weight_kg if weight_kg is not None else p.weight_kg
    if weight is None and ctx.protocol.needs_weight:
        raise Conflict(f"patient {patient_id} has no weight; give weight_kg")
    plan = prepare_infusions(ctx.protocol, row.treatment, None if weight is None else float(weight))
    return {"patient_id": patient_id, "period": period, "kit_code": row.kit_code, "treatment": row.treatment,
            "weight_kg": weight, "plan": plan.to_dict(),
            "preparation_sheet": plan.preparation_sheet(kit_code=row.kit_code, patient_id=patient_id, period=period)}

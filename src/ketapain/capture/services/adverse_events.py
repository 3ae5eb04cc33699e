"""Adverse events (severity, seriousness, causality) and concomitant treatments."""

from __future__ import annotations

from sqlalchemy import func, select

from ketapain.capture import audit
from ketapain.capture.models import AdverseEvent, Concomitant
from ketapain.capture.schemas import AdverseEventCreate, AdverseEventUpdate, ConcomitantCreate, ConcomitantUpdate
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict

__all__ = ["add_concomitant", "create_event", "list_concomitant", "list_events", "update_concomitant", "update_event"]


def create_event(ctx: Context, data: AdverseEventCreate, *, event_id: str | None = None, reason: str | None = None) -> AdverseEvent:
    ctx.require("adverse_events.write")
    ctx.patient(data.patient_id)
    n = ctx.session.execute(select(func.count(AdverseEvent.id))).scalar() or 0
    return audit.create(ctx.session, ctx.actor, AdverseEvent(event_id=event_id or f"AE{n + 1:04d}", status="active",
                                                             **data.model_dump()), reason=reason)


def update_event(ctx: Context, event_id: str, data: AdverseEventUpdate) -> AdverseEvent:
    ctx.require("adverse_events.write")
    ev = ctx.one(AdverseEvent, "adverse event", event_id=event_id)
    audit.update(ctx.session, ctx.actor, ev, data.model_dump(exclude_unset=True, exclude={"reason"}), reason=data.reason)
    return ev


def list_events(ctx: Context, patient_id: str | None = None) -> list[AdverseEvent]:
    ctx.require("patients.read")
    q = select(AdverseEvent).where(AdverseEvent.status == "active").order_by(AdverseEvent.event_id)
    if patient_id is not None:
        q = q.where(AdverseEvent.patient_id == patient_id)
    return list(ctx.session.execute(q).scalars())


def add_concomitant(ctx: Context, data: ConcomitantCreate, *, reason: str | None = None) -> Concomitant:
    """A baseline (period 0) or added (period >= 1) treatment of a drug class."""
    ctx.require("concomitant.write")
    ctx.patient(data.patient_id)
    if ctx.session.execute(select(Concomitant.id).where(Concomitant.patient_id == data.patient_id, Concomitant.period == data.period,
                                                        Concomitant.drug_class == data.drug_class)).first():
        raise Conflict(f"{data.drug_class} in period {data.period} of patient {data.patient_id} is already recorded")
    return audit.create(ctx.session, ctx.actor, Concomitant(status="active", **data.model_dump()), reason=reason)


def update_concomitant(ctx: Context, record_id: int, data: ConcomitantUpdate) -> Concomitant:
    ctx.require("concomitant.write")
    row = ctx.one(Concomitant, "concomitant treatment", id=record_id)
    audit.update(ctx.session, ctx.actor, row, data.model_dump(exclude_unset=True, exclude={"reason"}), reason=data.reason)
    return row


def list_concomitant(ctx: Context, patient_id: str | None = None) -> list[Concomitant]:
    ctx.require("patients.read")
    q = select(Concomitant).where(Concomitant.status == "active").order_by(Concomitant.patient_id, Concomitant.period)
    if patient_id is not None:
        q = q.where(Concomitant.patient_id == patient_id)
    return list(ctx.session.execute(q).scalars())

"""Adverse events (severity, seriousness, causality) and concomitant treatments."""

from __future__ import annotations

from sqlalchemy import func, select

from ketapain.capture import audit
from ketapain.capture.models import AdverseEvent, Concomitant
from ketapain.capture.schemas import AdverseEventCreate, AdverseEventUpdate, ConcomitantCreate, ConcomitantUpdate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR, correct
from ketapain.errors import Conflict

__all__ = ["add_concomitant", "change_concomitant", "change_event", "create_event", "get_concomitant", "get_event",
           "list_concomitant", "list_events"]


def create_event(ctx: Context, data: AdverseEventCreate, *, event_id: str | None = None, reason: str | None = None) -> AdverseEvent:
    ctx.require("adverse_events.write")
    ctx.patient(data.patient_id)
    n = ctx.session.execute(select(func.count(AdverseEvent.id))).scalar() or 0
    return audit.create(ctx.session, ctx.actor, AdverseEvent(event_id=event_id or f"AE{n + 1:04d}", status="active",
                                                             **data.model_dump()), reason=reason)


def get_event(ctx: Context, event_id: str) -> AdverseEvent:
    ctx.require("patients.read")
    return ctx.one(AdverseEvent, "adverse event", event_id=event_id)


def change_event(ctx: Context, event_id: str, data: AdverseEventUpdate) -> AdverseEvent:
    """Correct an adverse event (audited with the mandatory reason; see :mod:`.corrections`)."""
    ctx.require("adverse_events.write")
    ev = get_event(ctx, event_id)
    correct(ctx, ev, data.model_dump(exclude_unset=True, exclude={"reason"}), data.reason,
            what=f"adverse event {event_id}")
    return ev


def list_events(ctx: Context, patient_id: str | None = None, *, include_entered_in_error: bool = False) -> list[AdverseEvent]:
    """The active adverse events (and those entered in error with ``include_entered_in_error``)."""
    ctx.require("patients.read")
    shown = ("active", ENTERED_IN_ERROR) if include_entered_in_error else ("active",)
    q = select(AdverseEvent).where(AdverseEvent.status.in_(shown)).order_by(AdverseEvent.event_id)
    if patient_id is not None:
        q = q.where(AdverseEvent.patient_id == patient_id)
    return list(ctx.session.execute(q).scalars())


def add_concomitant(ctx: Context, data: ConcomitantCreate, *, reason: str | None = None) -> Concomitant:
    """A baseline (period 0) or added (period >= 1) treatment of a drug class."""
    ctx.require("concomitant.write")
    ctx.patient(data.patient_id)
    old = ctx.session.execute(select(Concomitant).where(Concomitant.patient_id == data.patient_id, Concomitant.period == data.period,
                                                        Concomitant.drug_class == data.drug_class)).scalars().first()
    if old is not None and old.status == ENTERED_IN_ERROR:  # the same record (unique key) is entered again
        audit.update(ctx.session, ctx.actor, old, {"drug_name": data.drug_name, "status": "active"},
                     reason=reason or "entered again after an entry in error")
        return old
    if old is not None:
        raise Conflict(f"{data.drug_class} in period {data.period} of patient {data.patient_id} is already recorded")
    return audit.create(ctx.session, ctx.actor, Concomitant(status="active", **data.model_dump()), reason=reason)


def get_concomitant(ctx: Context, record_id: int) -> Concomitant:
    ctx.require("patients.read")
    return ctx.one(Concomitant, "concomitant treatment", id=record_id)


def change_concomitant(ctx: Context, record_id: int, data: ConcomitantUpdate) -> Concomitant:
    """Correct a concomitant treatment (audited with the mandatory reason; see :mod:`.corrections`)."""
    ctx.require("concomitant.write")
    row = get_concomitant(ctx, record_id)
    correct(ctx, row, data.model_dump(exclude_unset=True, exclude={"reason"}), data.reason,
            what=f"concomitant treatment {record_id}")
    return row


def list_concomitant(ctx: Context, patient_id: str | None = None, *, include_entered_in_error: bool = False) -> list[Concomitant]:
    """The active concomitant treatments (and those entered in error with ``include_entered_in_error``)."""
    ctx.require("patients.read")
    shown = ("active", ENTERED_IN_ERROR) if include_entered_in_error else ("active",)
    q = select(Concomitant).where(Concomitant.status.in_(shown)).order_by(Concomitant.patient_id, Concomitant.period)
    if patient_id is not None:
        q = q.where(Concomitant.patient_id == patient_id)
    return list(ctx.session.execute(q).scalars())

"""Visit records and the visit schedule with out-of-window flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Infusion, VisitRecord
from ketapain.capture.schemas import VisitChange, VisitCreate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR, correct
from ketapain.errors import Conflict, DataError, NotFound

__all__ = ["change_visit", "get_visit", "record_visit", "schedule"]


def record_visit(ctx: Context, data: VisitCreate) -> VisitRecord:
    ctx.require("visits.write")
    ctx.patient(data.patient_id)
    names = [v.name for v in ctx.protocol.visits]
    if data.visit not in names:
        raise DataError(f"visit={data.visit!r} is not a visit of the protocol; allowed: {', '.join(names)}",
                        column="visit", value=data.visit, allowed=tuple(names))
    old = ctx.session.execute(
        select(VisitRecord).where(VisitRecord.patient_id == data.patient_id, VisitRecord.visit == data.visit)
    ).scalars().first()
    if old is not None and old.status == ENTERED_IN_ERROR:  # the same record (unique key) is entered again
        audit.update(ctx.session, ctx.actor, old, {"visit_date": data.visit_date, "status": "active"},
                     reason="entered again after an entry in error")
        return old
    if old is not None:
        raise Conflict(f"visit {data.visit} of patient {data.patient_id} is already recorded")
    return audit.create(ctx.session, ctx.actor, VisitRecord(status="active", **data.model_dump()))


def get_visit(ctx: Context, patient_id: str, visit: str) -> VisitRecord:
    """The active record of ``visit`` of the patient, else :class:`NotFound`."""
    ctx.require("patients.read")
    row = ctx.session.execute(select(VisitRecord).where(
        VisitRecord.patient_id == patient_id, VisitRecord.visit == visit, VisitRecord.status == "active")).scalars().first()
    if row is None:
        raise NotFound(f"visit {visit!r} of patient {patient_id} is not recorded")
    return row


def change_visit(ctx: Context, patient_id: str, visit: str, data: VisitChange) -> VisitRecord:
    """Correct a visit's date (audited with the mandatory reason; see :mod:`.corrections`)."""
    ctx.require("visits.write")
    row = get_visit(ctx, patient_id, visit)
    correct(ctx, row, data.model_dump(exclude_unset=True, exclude={"reason"}), data.reason,
            what=f"visit {visit} of patient {patient_id}")
    return row


def schedule(ctx: Context, patient_id: str) -> list[dict[str, Any]]:
    """The protocol's visits for one patient: scheduled date (day 0 = first infusion + the
    visit's ``day``), actual date, days off schedule and ``out_of_window`` (more than
    ``settings.visit_window_days`` off), and ``record_id`` of the visit record (None when not
    recorded). Dates are None before the first infusion."""
    ctx.require("patients.read")
    ctx.patient(patient_id)
    first = ctx.session.execute(
        select(Infusion.infusion_date).where(Infusion.patient_id == patient_id, Infusion.period == 1, Infusion.status == "active")
    ).scalar()
    done = {v.visit: v for v in ctx.session.execute(select(VisitRecord).where(
        VisitRecord.patient_id == patient_id, VisitRecord.status == "active")).scalars()}
    out = []
    for v in ctx.protocol.visits:
        planned = None if first is None else first + dt.timedelta(days=v.day)
        record = done.get(v.name)
        actual = None if record is None else record.visit_date
        off = None if planned is None or actual is None else (actual - planned).days
        out.append(
            {
                "visit": v.name,
                "day": v.day,
                "scheduled_date": planned,
                "visit_date": actual,
                "days_off": off,
                "out_of_window": off is not None and abs(off) > ctx.settings.visit_window_days,
                "questionnaires": list(v.questionnaires),
                "record_id": None if record is None else record.id,
            }
        )
    return out

"""Infusion records (date, pre-infusion pain, weight, kit): dates checked against the protocol's
schedule, and corrected by an audited change with a reason.

Date rules (no tolerance: the protocol defines none for the schedule), for period *k* of a
patient, with ``gap = design.period_days + design.washout_days`` (washout 0 when absent):

- not in the future (UTC date);
- not before the patient's screening date, when known;
- periods do not overlap: at least ``gap x (k - j)`` days after the infusion of the nearest
  recorded earlier period *j*, and at least ``gap x (j - k)`` days before that of the nearest
  recorded later period *j*.

The diary calendar is anchored on the infusion date (day *d* = ``infusion_date + d``), so a
correction that moves the date moves the period's diary entries; it needs ``confirm=True``
(else :class:`~ketapain.errors.ConfirmationRequired` lists the entries) and is refused when an
entry would then fall after the day it was received.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Allocation, DiaryEntry, Infusion, Screening
from ketapain.capture.schemas import InfusionChange, InfusionCreate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import correct
from ketapain.errors import ConfirmationRequired, Conflict, DataError, NotFound

__all__ = ["DateRange", "affected_entries", "change_infusion", "date_range", "list_infusions", "record_infusion"]


@dataclass(frozen=True, slots=True)
class DateRange:
    """The dates allowed for one infusion: ``first..last`` and why each bound is what it is."""

    first: dt.date | None
    last: dt.date
    first_why: str | None
    last_why: str

    def text(self) -> str:
        lo = f"from {self.first.isoformat()} ({self.first_why})" if self.first is not None else "any date"
        return f"{lo} to {self.last.isoformat()} ({self.last_why})"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def date_range(ctx: Context, patient_id: str, period: int, *, today: dt.date | None = None) -> DateRange:
    """The allowed infusion dates of ``period`` given the patient's other active infusions,
    screening date and today (see the module docstring)."""
    today = today or _today()
    design = ctx.protocol.design
    gap = design.period_days + (design.washout_days or 0)
    gap_text = f"{design.period_days} days per period" + (f" + {design.washout_days} days washout" if design.washout_days else "")
    others = ctx.session.execute(
        select(Infusion.period, Infusion.infusion_date).where(
            Infusion.patient_id == patient_id, Infusion.status == "active", Infusion.period != period
        )
    ).all()
    first: dt.date | None = None
    first_why: str | None = None
    patient = ctx.patient(patient_id)
    if patient.screening_id is not None:
        screened = ctx.session.execute(select(Screening.screening_date).where(Screening.screening_id == patient.screening_id)).scalar()
        if screened is not None:
            first, first_why = screened, f"screening date {screened.isoformat()}"
    last, last_why = today, "today; no date in the future"
    before = [(p, d) for p, d in others if p < period]
    after = [(p, d) for p, d in others if p > period]
    if before:
        p, d = max(before)
        lo = d + dt.timedelta(days=gap * (period - p))
        if first is None or lo > first:
            first, first_why = lo, f"period {p} infused {d.isoformat()} + {period - p} x ({gap_text})"
    if after:
        p, d = min(after)
        hi = d - dt.timedelta(days=gap * (p - period))
        if hi < last:
            last, last_why = hi, f"period {p} infused {d.isoformat()} - {p - period} x ({gap_text})"
    return DateRange(first, last, first_why, last_why)


def _check_date(ctx: Context, patient_id: str, period: int, date: dt.date, *, today: dt.date | None = None) -> None:
    """A :class:`DataError` (field ``infusion_date``) unless ``date`` is in :func:`date_range`."""
    rng = date_range(ctx, patient_id, period, today=today)
    if date > rng.last or (rng.first is not None and date < rng.first):
        raise DataError(
            f"infusion_date={date.isoformat()} of patient {patient_id} period {period} is not allowed: "
            f"the infusion date must be {rng.text()}",
            column="infusion_date",
            value=date.isoformat(),
            allowed=rng.text(),
        )


def record_infusion(ctx: Context, data: InfusionCreate, *, reason: str | None = None, today: dt.date | None = None) -> Infusion:
    """Record the infusion that starts a period (the patient must be randomised; the date must
    follow the schedule rules of the module docstring)."""
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
    _check_date(ctx, data.patient_id, data.period, data.infusion_date, today=today)
    values = data.model_dump()
    values["kit_code"] = alloc.kit_code
    return audit.create(ctx.session, ctx.actor, Infusion(status="active", **values), reason=reason)


def _infusion(ctx: Context, patient_id: str, period: int) -> Infusion:
    row = ctx.session.execute(
        select(Infusion).where(Infusion.patient_id == patient_id, Infusion.period == period, Infusion.status == "active")
    ).scalars().first()
    if row is None:
        raise NotFound(f"no infusion recorded for patient {patient_id} period {period}")
    return row


def affected_entries(ctx: Context, patient_id: str, period: int, new_date: dt.date) -> list[dict[str, Any]]:
    """The active diary entries of the period whose calendar date moves to ``new_date + day``:
    ``{"period", "day", "date", "new_date"}`` (ISO dates), by day."""
    inf = _infusion(ctx, patient_id, period)
    entries = ctx.session.execute(
        select(DiaryEntry.day).where(DiaryEntry.patient_id == patient_id, DiaryEntry.period == period, DiaryEntry.status == "active")
        .order_by(DiaryEntry.day)
    ).scalars()
    return [
        {"period": period, "day": d, "date": (inf.infusion_date + dt.timedelta(days=d)).isoformat(),
         "new_date": (new_date + dt.timedelta(days=d)).isoformat()}
        for d in entries
    ]


def _check_reanchor(ctx: Context, inf: Infusion, new_date: dt.date, *, confirm: bool) -> list[DiaryEntry]:
    """The period's active diary entries that move with ``new_date``: a :class:`ConfirmationRequired`
    listing them unless ``confirm``; a :class:`DataError` when one would fall after the day it
    was received (an entry dated in the future)."""
    moved = affected_entries(ctx, inf.patient_id, inf.period, new_date)
    if moved and not confirm:
        raise ConfirmationRequired(
            f"moving the infusion of patient {inf.patient_id} period {inf.period} from {inf.infusion_date.isoformat()} to "
            f"{new_date.isoformat()} moves {len(moved)} diary entries (days {', '.join(str(m['day']) for m in moved)}); "
            "send confirm=true to move them",
            affected=moved,
        )
    rows = list(ctx.session.execute(
        select(DiaryEntry).where(DiaryEntry.patient_id == inf.patient_id, DiaryEntry.period == inf.period, DiaryEntry.status == "active")
    ).scalars())
    for row in rows:
        received = dt.datetime.fromisoformat(row.server_time).date()
        date = new_date + dt.timedelta(days=row.day)
        if date > received:
            latest = (received - dt.timedelta(days=row.day)).isoformat()
            raise DataError(
                f"infusion_date={new_date.isoformat()} would put diary day {row.day} of period {inf.period} on {date.isoformat()}, "
                f"after the entry was received ({received.isoformat()}): the infusion date must be on or before {latest}",
                column="infusion_date",
                value=new_date.isoformat(),
                allowed=f"on or before {latest}",
            )
    return rows


def change_infusion(ctx: Context, patient_id: str, period: int, data: InfusionChange, *, today: dt.date | None = None) -> Infusion:
    """Correct an infusion's date and/or pre-infusion pain (audited with the mandatory reason,
    old and new values; the patient's e-signatures are voided by the write; the rules of
    :func:`.corrections.correct`: nothing to correct is a :class:`Conflict`, queries on a changed
    field are closed with the reason). A new date is checked as at recording and re-anchors the
    period's diary (``data.confirm`` required when entries move); the moved entries' ``late``
    flags follow their new dates (audited)."""
    ctx.require("infusions.write")
    ctx.patient(patient_id)
    inf = _infusion(ctx, patient_id, period)
    changes = data.model_dump(exclude_unset=True, exclude={"reason", "confirm"})
    moved: list[DiaryEntry] = []
    if changes.get("infusion_date") is None:
        changes.pop("infusion_date", None)
    elif changes["infusion_date"] != inf.infusion_date:
        _check_date(ctx, patient_id, period, changes["infusion_date"], today=today)
        moved = _check_reanchor(ctx, inf, changes["infusion_date"], confirm=data.confirm)
    correct(ctx, inf, changes, data.reason, what=f"the infusion of patient {patient_id} period {period}")
    for row in moved:
        late = (dt.datetime.fromisoformat(row.server_time).date() - (inf.infusion_date + dt.timedelta(days=row.day))).days
        audit.update(ctx.session, ctx.actor, row, {"late": late > ctx.settings.late_entry_days},
                     reason=f"diary calendar moved with the infusion date: {data.reason}")
    return inf


def list_infusions(ctx: Context, patient_id: str | None = None) -> list[Infusion]:
    ctx.require("patients.read")
    q = select(Infusion).where(Infusion.status == "active").order_by(Infusion.patient_id, Infusion.period)
    if patient_id is not None:
        q = q.where(Infusion.patient_id == patient_id)
    return list(ctx.session.execute(q).scalars())

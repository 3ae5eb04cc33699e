"""Visit records and the visit schedule: windows from the protocol, out-of-window flags.

Date rules of a visit (``record_visit``), for a protocol visit on day *d* (docs/protocol.md,
``[[visits]]``):

- not in the future (UTC date);
- the visit belongs to period *k* = 1 when ``d <= 0``, else ``min(periods, (d - 1) // gap + 1)``
  with ``gap = design.period_days + design.washout_days`` (washout 0 when absent);
- its **expected date** is the recorded (active) infusion date of period *k* plus
  ``d - (k - 1) x gap`` days; when period *k* has no infusion yet, the nearest earlier recorded
  period *j* anchors it (``infusion_j + d - (j - 1) x gap``); before any infusion it is unknown;
- its **window** is ``expected ± w`` days, ``w`` = the visit's ``window_days`` in the protocol
  or, when absent, ``settings.visit_window_days``;
- a date outside the window is refused (:class:`~ketapain.errors.DataError`, field
  ``visit_date``) unless ``out_of_window_reason`` is given: the visit is then stored with
  ``out_of_window = True``, the reason in ``out_of_window_reason`` and as the reason of its
  audit rows. A reason sent with a date inside the window (or with an unknown window) is not
  stored: nothing is flagged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Infusion, VisitRecord
from ketapain.capture.schemas import VisitChange, VisitCreate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR, correct
from ketapain.errors import Conflict, DataError, NotFound
from ketapain.protocol import Protocol

__all__ = ["VisitWindow", "anchor_period", "change_visit", "check_visit_date", "get_visit", "list_visits", "record_visit",
           "schedule", "visit_window"]


@dataclass(frozen=True, slots=True)
class VisitWindow:
    """Where one visit of one patient is expected: ``first..last`` around ``expected`` (all None
    while no infusion anchors it) and how the expected date was derived."""

    visit: str
    day: int
    period: int
    window_days: int
    expected: dt.date | None
    first: dt.date | None
    last: dt.date | None
    anchor: str | None

    def text(self) -> str:
        if self.expected is None or self.first is None or self.last is None:
            return "unknown (no infusion recorded yet)"
        return (f"{self.first.isoformat()} to {self.last.isoformat()} (expected {self.expected.isoformat()} = {self.anchor}, "
                f"± {self.window_days} days)")

    def contains(self, date: dt.date) -> bool:
        """Whether ``date`` is inside the window (True when the window is unknown)."""
        return self.first is None or self.last is None or self.first <= date <= self.last


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _gap(protocol: Protocol) -> int:
    return protocol.design.period_days + (protocol.design.washout_days or 0)


def anchor_period(protocol: Protocol, day: int) -> int:
    """The period a visit on protocol ``day`` belongs to (module docstring).

    >>> from ketapain.protocol import load_protocol
    >>> p = load_protocol("ketapain")
    >>> [anchor_period(p, d) for d in (-14, 0, 35, 36, 70, 105, 500)]
    [1, 1, 1, 2, 2, 3, 3]
    """
    return protocol.visit_anchor(day)[0]


def _infusion_dates(ctx: Context, patient_id: str) -> dict[int, dt.date]:
    rows = ctx.session.execute(
        select(Infusion.period, Infusion.infusion_date).where(Infusion.patient_id == patient_id, Infusion.status == "active")
    ).all()
    return dict(rows)


def _window(ctx: Context, visit: Any, infused: dict[int, dt.date]) -> VisitWindow:
    gap = _gap(ctx.protocol)
    period = anchor_period(ctx.protocol, visit.day)
    width = visit.window_days if visit.window_days is not None else ctx.settings.visit_window_days
    earlier = [p for p in infused if p <= period]
    if not earlier:
        return VisitWindow(visit.name, visit.day, period, width, None, None, None, None)
    j = max(earlier)
    offset = visit.day - (j - 1) * gap
    expected = infused[j] + dt.timedelta(days=offset)
    anchor = f"period {j} infusion {infused[j].isoformat()} {'+' if offset >= 0 else '-'} {abs(offset)} days"
    return VisitWindow(visit.name, visit.day, period, width, expected, expected - dt.timedelta(days=width),
                       expected + dt.timedelta(days=width), anchor)


def _protocol_visit(ctx: Context, name: str) -> Any:
    names = [v.name for v in ctx.protocol.visits]
    if name not in names:
        raise DataError(f"visit={name!r} is not a visit of the protocol; allowed: {', '.join(names)}",
                        column="visit", value=name, allowed=tuple(names))
    return ctx.protocol.visits[names.index(name)]


def visit_window(ctx: Context, patient_id: str, visit: str) -> VisitWindow:
    """The window of ``visit`` for ``patient_id`` given the patient's recorded infusions."""
    ctx.patient(patient_id)
    return _window(ctx, _protocol_visit(ctx, visit), _infusion_dates(ctx, patient_id))


def record_visit(ctx: Context, data: VisitCreate, *, today: dt.date | None = None) -> VisitRecord:
    """Record a visit: the date rules of the module docstring; out of window only with a reason."""
    ctx.require("visits.write")
    ctx.patient(data.patient_id)
    visit = _protocol_visit(ctx, data.visit)
    old = ctx.session.execute(
        select(VisitRecord).where(VisitRecord.patient_id == data.patient_id, VisitRecord.visit == data.visit)
    ).scalars().first()
    if old is not None and old.status == ENTERED_IN_ERROR:  # the same record (unique key) is entered again
        reason = check_visit_date(ctx, data.patient_id, visit.name, data.visit_date, reason=data.out_of_window_reason,
                                  today=today)
        audit.update(ctx.session, ctx.actor, old, {"visit_date": data.visit_date, "status": "active",
                                                   "out_of_window": reason is not None, "out_of_window_reason": reason},
                     reason="entered again after an entry in error")
        return old
    if old is not None:
        raise Conflict(f"visit {data.visit} of patient {data.patient_id} is already recorded")
    reason = check_visit_date(ctx, data.patient_id, visit.name, data.visit_date, reason=data.out_of_window_reason, today=today)
    row = VisitRecord(status="active", patient_id=data.patient_id, visit=data.visit, visit_date=data.visit_date,
                      out_of_window=reason is not None, out_of_window_reason=reason)
    return audit.create(ctx.session, ctx.actor, row, reason=reason)


def check_visit_date(ctx: Context, patient_id: str, visit: str, date: dt.date, *, reason: str | None,
                     today: dt.date | None = None) -> str | None:
    """The date rules of the module docstring for ``visit`` on ``date`` (for a new visit or a
    corrected date): a :class:`DataError` (field ``visit_date``) for a date in the future, or
    outside the window without ``reason``. Returns the reason to store (the visit is then out
    of window), or None when the date is inside the window (or the window is unknown)."""
    today = today or _today()
    where = f"visit_date={date.isoformat()} of patient {patient_id} visit {visit}"
    if date > today:
        raise DataError(f"{where} is in the future: the visit date must be at most {today.isoformat()} (today)",
                        column="visit_date", value=date.isoformat(), allowed=f"to {today.isoformat()}")
    win = _window(ctx, _protocol_visit(ctx, visit), _infusion_dates(ctx, patient_id))
    if win.contains(date):
        return None
    if not (reason or "").strip():
        raise DataError(f"{where} is outside its window {win.text()}: a reason (out_of_window_reason) is needed "
                        "to record a visit out of window", column="visit_date", value=date.isoformat(), allowed=win.text())
    return reason


def list_visits(ctx: Context, patient_id: str) -> list[VisitRecord]:
    """The patient's recorded visits (any status), by id."""
    ctx.require("patients.read")
    ctx.patient(patient_id)
    return list(ctx.session.execute(select(VisitRecord).where(VisitRecord.patient_id == patient_id)
                                    .order_by(VisitRecord.id)).scalars())


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
    changes = data.model_dump(exclude_unset=True, exclude={"reason"})
    if changes.get("visit_date") is not None:  # the date rules hold for a corrected date too; the
        # correction's reason is the out-of-window reason when the new date is outside the window
        oow = check_visit_date(ctx, patient_id, visit, changes["visit_date"], reason=data.reason)
        changes |= {"out_of_window": oow is not None, "out_of_window_reason": oow}
    correct(ctx, row, changes, data.reason, what=f"visit {visit} of patient {patient_id}")
    return row


def schedule(ctx: Context, patient_id: str) -> list[dict[str, Any]]:
    """The protocol's visits for one patient, in protocol order: the window (module docstring:
    ``scheduled_date`` = expected date, ``window_first``, ``window_last``, ``window_days``,
    ``period``), the recorded visit (``record_id``, ``visit_date``, ``days_off``) and
    ``out_of_window``: flagged when recorded, or the recorded date is outside the window as it
    stands now (an infusion date corrected later moves the window), with ``out_of_window_reason``.
    Dates are None before an infusion anchors the visit."""
    ctx.require("patients.read")
    ctx.patient(patient_id)
    infused = _infusion_dates(ctx, patient_id)
    done = {v.visit: v for v in ctx.session.execute(
        select(VisitRecord).where(VisitRecord.patient_id == patient_id, VisitRecord.status == "active")).scalars()}
    out = []
    for v in ctx.protocol.visits:
        win = _window(ctx, v, infused)
        rec = done.get(v.name)
        actual = rec.visit_date if rec is not None else None
        off = None if win.expected is None or actual is None else (actual - win.expected).days
        out.append({
            "visit": v.name, "day": v.day, "period": win.period, "scheduled_date": win.expected,
            "window_first": win.first, "window_last": win.last, "window_days": win.window_days,
            "record_id": rec.id if rec is not None else None, "visit_date": actual, "days_off": off,
            "out_of_window": rec is not None and (rec.out_of_window or not win.contains(rec.visit_date)),
            "out_of_window_reason": rec.out_of_window_reason if rec is not None else None,
            "questionnaires": list(v.questionnaires),
        })
    return out

"""The daily pain diary: entries (patient link or staff), changes with a reason, compliance.

Day *d* of period *p* is the calendar date ``infusion_date(p) + d``. An entry is *late* when
the server receives it more than ``settings.late_entry_days`` days after that date. Both the
device's clock (``device_time``, as sent) and the server's (``server_time``, UTC) are kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture._errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied
from ketapain.capture.models import DiaryEntry, Infusion, Patient, PatientToken
from ketapain.capture.schemas import DiaryChange, DiaryEntryCreate
from ketapain.capture.security import new_token, token_digest
from ketapain.capture.services._context import Context
from ketapain.errors import DataError

__all__ = ["change_entry", "compliance", "issue_token", "missing_today", "patient_from_token", "read_diary",
           "revoke_tokens", "submit_entry"]


def issue_token(ctx: Context, patient_id: str) -> str:
    """A new personal diary link token for the patient (returned once; stored as an HMAC)."""
    ctx.require("tokens.manage")
    ctx.patient(patient_id)
    token = new_token()
    audit.create(ctx.session, ctx.actor, PatientToken(patient_id=patient_id, token_hash=token_digest(ctx.settings.secret_key, token),
                                                      created_at=audit.utc_now(), status="active"), reason="diary link issued")
    return token


def revoke_tokens(ctx: Context, patient_id: str, *, reason: str) -> int:
    """Revoke every active link of the patient; returns how many."""
    ctx.require("tokens.manage")
    rows = ctx.session.execute(select(PatientToken).where(PatientToken.patient_id == patient_id, PatientToken.status == "active")).scalars().all()
    for r in rows:
        audit.update(ctx.session, ctx.actor, r, {"status": "revoked"}, reason=reason)
    return len(rows)


def patient_from_token(session: Any, secret_key: str, token: str) -> Patient:
    row = session.execute(select(PatientToken).where(PatientToken.token_hash == token_digest(secret_key, token))).scalars().first()
    if row is None or row.status != "active":
        raise AuthenticationFailed("this diary link is not valid (unknown or revoked)")
    p = session.execute(select(Patient).where(Patient.patient_id == row.patient_id)).scalars().first()
    if p is None or p.status != "active":
        raise AuthenticationFailed("this diary link is not valid (patient not active)")
    return p


def _own(ctx: Context, patient_id: str, action: str) -> None:
    if ctx.actor.role == "patient":
        if ctx.actor.username != f"patient:{patient_id}":
            raise PermissionDenied("a patient may only see and fill in their own diary")
    else:
        ctx.require(action)


def _day_date(ctx: Context, patient_id: str, period: int, day: int) -> dt.date:
    inf = ctx.session.execute(select(Infusion).where(Infusion.patient_id == patient_id, Infusion.period == period,
                                                     Infusion.status == "active")).scalars().first()
    if inf is None:
        raise Conflict(f"period {period} of patient {patient_id} has not started (no infusion recorded)")
    return inf.infusion_date + dt.timedelta(days=day)


def submit_entry(ctx: Context, patient_id: str, data: DiaryEntryCreate, *, received_at: dt.datetime | None = None,
                 reason: str | None = None) -> DiaryEntry:
    """Store one day's entry (one per patient x period x day: a second one is a 409 — use
    :func:`change_entry`). ``received_at`` (imports only) replaces the server clock."""
    _own(ctx, patient_id, "diary.write")
    ctx.patient(patient_id)
    days = ctx.protocol.diary.days_per_period
    if data.day > days:
        raise DataError(f"day={data.day} is outside 1..{days} (days_per_period of the protocol)")
    if data.period > ctx.protocol.design.periods:
        raise DataError(f"period={data.period} is outside 1..{ctx.protocol.design.periods}")
    date = _day_date(ctx, patient_id, data.period, data.day)
    now = received_at or dt.datetime.now(dt.UTC)
    if date > now.date():
        raise DataError(f"day={data.day} of period {data.period} is {date.isoformat()}, in the future")
    if ctx.session.execute(select(DiaryEntry.id).where(DiaryEntry.patient_id == patient_id, DiaryEntry.period == data.period,
                                                       DiaryEntry.day == data.day)).first():
        raise Conflict(f"the diary of patient {patient_id} period {data.period} day {data.day} is already filled in; a change needs a reason")
    late = (now.date() - date).days > ctx.settings.late_entry_days
    return audit.create(ctx.session, ctx.actor, DiaryEntry(
        patient_id=patient_id, period=data.period, day=data.day, avg_pain=data.avg_pain, max_pain=data.max_pain,
        night_pain=data.night_pain, extra_analgesics=data.extra_analgesics, extra_analgesics_detail=data.extra_analgesics_detail,
        device_time=None if data.device_time is None else data.device_time.isoformat(), server_time=now.isoformat(),
        late=late, entered_by=ctx.actor.username, status="active"), reason=reason)


def change_entry(ctx: Context, patient_id: str, period: int, day: int, data: DiaryChange) -> DiaryEntry:
    """Change a stored entry; the reason is required and recorded with every changed field."""
    _own(ctx, patient_id, "diary.write")
    row = ctx.session.execute(select(DiaryEntry).where(DiaryEntry.patient_id == patient_id, DiaryEntry.period == period,
                                                       DiaryEntry.day == day)).scalars().first()
    if row is None:
        raise NotFound(f"no diary entry for patient {patient_id} period {period} day {day}")
    audit.update(ctx.session, ctx.actor, row, data.model_dump(exclude_unset=True, exclude={"reason"}), reason=data.reason)
    return row


def read_diary(ctx: Context, patient_id: str) -> list[DiaryEntry]:
    _own(ctx, patient_id, "diary.read")
    return list(ctx.session.execute(select(DiaryEntry).where(DiaryEntry.patient_id == patient_id, DiaryEntry.status == "active")
                                    .order_by(DiaryEntry.period, DiaryEntry.day)).scalars())


def compliance(ctx: Context, *, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Per patient: diary days due up to ``today`` (UTC date), days entered, the missing days
    (``[period, day]`` pairs) and whether today's entry is missing."""
    ctx.require("diary.read")
    today = today or dt.datetime.now(dt.UTC).date()
    days = ctx.protocol.diary.days_per_period
    have: dict[str, set[tuple[int, int]]] = {}
    for pid, per, d in ctx.session.execute(select(DiaryEntry.patient_id, DiaryEntry.period, DiaryEntry.day).where(DiaryEntry.status == "active")):
        have.setdefault(pid, set()).add((per, d))
    out: dict[str, dict[str, Any]] = {}
    infusions = ctx.session.execute(select(Infusion).where(Infusion.status == "active").order_by(Infusion.patient_id, Infusion.period)).scalars()
    for inf in infusions:
        rec = out.setdefault(inf.patient_id, {"patient_id": inf.patient_id, "days_due": 0, "days_entered": 0, "missing": [],
                                              "missing_today": False})
        due = max(0, min(days, (today - inf.infusion_date).days))
        got = have.get(inf.patient_id, set())
        rec["days_due"] += due
        for d in range(1, due + 1):
            if (inf.period, d) in got:
                rec["days_entered"] += 1
            else:
                rec["missing"].append([inf.period, d])
        today_day = (today - inf.infusion_date).days
        if 1 <= today_day <= days and (inf.period, today_day) not in got:
            rec["missing_today"] = True
    return list(out.values())


def missing_today(ctx: Context, *, today: dt.date | None = None) -> list[str]:
    """Patients in a diary period whose entry for today is missing (for reminders)."""
    return [r["patient_id"] for r in compliance(ctx, today=today) if r["missing_today"]]

"""The daily pain diary: entries (patient link or staff), changes with a reason, compliance.

Day *d* of period *p* is the calendar date ``infusion_date(p) + d``. An entry is *late* when
the server receives it more than ``settings.late_entry_days`` calendar days after that date,
counted on the server's UTC calendar (:func:`is_late`): with the default 1, the entry for
yesterday is on time whatever the hour, the one for the day before yesterday is late. Both
the device's clock (``device_time``, as sent) and the server's (``server_time``, UTC) are kept.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import select, tuple_

from ketapain.capture import audit
from ketapain.capture.config import Settings
from ketapain.capture.models import DiaryEntry, Infusion, Patient, PatientToken
from ketapain.capture.schemas import DiaryChange, DiaryEntryCreate
from ketapain.capture.security import new_token, token_digest
from ketapain.capture.services._context import Context
from ketapain.errors import (
    AuthenticationFailed,
    Conflict,
    DataError,
    NotFound,
    PermissionDenied,
)
from ketapain.protocol import Protocol

__all__ = [
    "change_entry",
    "compliance",
    "is_late",
    "issue_token",
    "link_owner",
    "missing_today",
    "new_entry_row",
    "patient_from_token",
    "patient_id_from_token",
    "read_diary",
    "revoke_tokens",
    "submit_entries",
    "submit_entry",
]


def issue_token(ctx: Context, patient_id: str) -> str:
    """A new personal diary link token for the patient (returned once; stored as an HMAC)."""
    ctx.require("tokens.manage")
    ctx.patient(patient_id)
    token = new_token()
    audit.create(
        ctx.session,
        ctx.actor,
        PatientToken(
            patient_id=patient_id, token_hash=token_digest(ctx.settings.secret_key, token), created_at=audit.utc_now(), status="active"
        ),
        reason="diary link issued",
    )
    return token


def revoke_tokens(ctx: Context, patient_id: str, *, reason: str) -> int:
    """Revoke every active link of the patient; returns how many."""
    ctx.require("tokens.manage")
    rows = (
        ctx.session.execute(select(PatientToken).where(PatientToken.patient_id == patient_id, PatientToken.status == "active"))
        .scalars()
        .all()
    )
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


def patient_id_from_token(session: Any, secret_key: str, token: str) -> str:
    """The patient id of an active diary link of an active patient, in one query (the
    group-committed diary post's check; :func:`patient_from_token` returns the patient
    record), else :class:`AuthenticationFailed` with the same messages."""
    row = session.execute(
        select(PatientToken.status, Patient.patient_id, Patient.status)
        .outerjoin(Patient, Patient.patient_id == PatientToken.patient_id)
        .where(PatientToken.token_hash == token_digest(secret_key, token))
        .limit(1)
    ).first()
    return link_owner(None if row is None else tuple(row))


def link_owner(row: tuple[Any, Any, Any] | None) -> str:
    """The patient of a diary link from its ``(link status, patient id, patient status)`` (None:
    no such link), else :class:`AuthenticationFailed`: the link check's two messages, shared by
    the single post and a group-committed batch."""
    if row is None or row[0] != "active":
        raise AuthenticationFailed("this diary link is not valid (unknown or revoked)")
    if row[1] is None or row[2] != "active":
        raise AuthenticationFailed("this diary link is not valid (patient not active)")
    return str(row[1])


def _own(ctx: Context, patient_id: str, action: str) -> None:
    if ctx.actor.role == "patient":
        if ctx.actor.username != f"patient:{patient_id}":
            raise PermissionDenied("a patient may only see and fill in their own diary")
    else:
        ctx.require(action)


def is_late(day_date: dt.date, received: dt.datetime, late_entry_days: int) -> bool:
    """Whether an entry for the diary day ``day_date`` received at ``received`` is late: more
    than ``late_entry_days`` calendar days between the two dates, ``received`` taken on the UTC
    calendar (the server's clock; a naive time counts as UTC). The hour does not matter.

    >>> at = lambda s: dt.datetime.fromisoformat(s + "+00:00")
    >>> day = dt.date(2026, 3, 10)
    >>> is_late(day, at("2026-03-10T22:00"), 1), is_late(day, at("2026-03-11T23:59"), 1), is_late(day, at("2026-03-12T00:00"), 1)
    (False, False, True)
    >>> is_late(day, dt.datetime.fromisoformat("2026-03-12T00:30+02:00"), 1)   # 2026-03-11 22:30 UTC: yesterday's
    False
    """
    utc = received.astimezone(dt.UTC) if received.tzinfo is not None else received
    return (utc.date() - day_date).days > late_entry_days


def submit_entry(
    ctx: Context, patient_id: str, data: DiaryEntryCreate, *, received_at: dt.datetime | None = None, reason: str | None = None
) -> DiaryEntry:
    """Store one day's entry (one per patient x period x day: a second one is a 409 — use
    :func:`change_entry`). ``received_at`` (imports only) replaces the server clock.

    The patient, the period's infusion and an entry already stored for the day are read in one
    query (issue 17: a post's queries are most of its cost under load)."""
    _own(ctx, patient_id, "diary.write")
    found = None
    if "\x00" not in patient_id:  # PostgreSQL refuses a NUL; no stored id holds one
        taken = select(DiaryEntry.id).where(
            DiaryEntry.patient_id == patient_id, DiaryEntry.period == data.period, DiaryEntry.day == data.day
        ).exists()
        started = (Infusion.patient_id == Patient.patient_id) & (Infusion.period == data.period) & (Infusion.status == "active")
        found = ctx.session.execute(
            select(Patient.id, Infusion.infusion_date, taken)
            .outerjoin(Infusion, started)
            .where(Patient.patient_id == patient_id)
            .limit(1)
        ).first()
    if found is None:
        raise NotFound(f"patient not found: patient_id={patient_id!r}")
    now = received_at or dt.datetime.now(dt.UTC)
    row = new_entry_row(ctx.protocol, ctx.settings, ctx.actor.username, patient_id, data,
                        start=found[1], taken=bool(found[2]), now=now)
    return audit.create(ctx.session, ctx.actor, DiaryEntry(**row), reason=reason)


def new_entry_row(protocol: Protocol, settings: Settings, entered_by: str, patient_id: str, data: DiaryEntryCreate, *,
                  start: dt.date | None, taken: bool, now: dt.datetime) -> dict[str, Any]:
    """The stored row of a new entry of one day, after the checks of :func:`submit_entry` (the
    same errors, in the same order, for the single post and a group-committed batch): day and
    period within the protocol (422), the period started (``start``, its infusion date; else
    409), the day not in the future (422), not already filled in (``taken``; 409)."""
    days = protocol.diary.days_per_period
    if data.day > days:
        raise DataError(
            f"day={data.day} is outside 1..{days} (days_per_period of the protocol)", column="day", value=data.day, allowed=f"1..{days}"
        )
    if data.period > protocol.design.periods:
        raise DataError(
            f"period={data.period} is outside 1..{protocol.design.periods}",
            column="period",
            value=data.period,
            allowed=f"1..{protocol.design.periods}",
        )
    if start is None:
        raise Conflict(f"period {data.period} of patient {patient_id} has not started (no infusion recorded)")
    date = start + dt.timedelta(days=data.day)
    if date > now.date():
        raise DataError(f"day={data.day} of period {data.period} is {date.isoformat()}, in the future", column="day", value=data.day)
    if taken:
        raise Conflict(
            f"the diary of patient {patient_id} period {data.period} day {data.day} is already filled in; a change needs a reason"
        )
    return {
        "patient_id": patient_id,
        "period": data.period,
        "day": data.day,
        "avg_pain": data.avg_pain,
        "max_pain": data.max_pain,
        "night_pain": data.night_pain,
        "extra_analgesics": data.extra_analgesics,
        "extra_analgesics_detail": data.extra_analgesics_detail,
        "device_time": None if data.device_time is None else data.device_time.isoformat(),
        "server_time": now.isoformat(),
        "late": is_late(date, now, settings.late_entry_days),
        "entered_by": entered_by,
        "status": "active",
    }


def submit_entries(
    ctx: Context,
    patient_id: str,
    entries: Sequence[DiaryEntryCreate],
    *,
    received_at: dt.datetime | Sequence[dt.datetime] | None = None,
    reason: str | None = None,
) -> list[int]:
    """Store many days of one patient at once (an offline phone's backlog, a paper diary, an
    import): the same checks as :func:`submit_entry` for every entry, then one bulk write
    (:func:`ketapain.capture.audit.audited_bulk_insert`). All or nothing: any invalid entry
    or any day already filled in (or given twice) refuses the whole call.

    ``received_at`` is one server time for all entries or one per entry (imports only;
    default: the server clock). Returns the new entries' ids in the order given.
    """
    _own(ctx, patient_id, "diary.write")
    ctx.patient(patient_id)
    if not entries:
        return []
    now_all = [received_at] * len(entries) if received_at is None or isinstance(received_at, dt.datetime) else list(received_at)
    if len(now_all) != len(entries):
        raise DataError(
            f"received_at: {len(now_all)} times given for {len(entries)} entries",
            column="received_at",
            value=len(now_all),
            allowed=(1, len(entries)),
        )
    starts = dict(
        ctx.session.execute(
            select(Infusion.period, Infusion.infusion_date).where(Infusion.patient_id == patient_id, Infusion.status == "active")
        ).all()
    )
    seen: set[tuple[int, int]] = set()
    rows: list[dict[str, Any]] = []
    clock = dt.datetime.now(dt.UTC)
    for k, (data, when) in enumerate(zip(entries, now_all, strict=True)):
        _check_bounds(ctx, k + 1, data)
        if data.period not in starts:
            raise Conflict(f"period {data.period} of patient {patient_id} has not started (no infusion recorded)")
        if (data.period, data.day) in seen:
            raise Conflict(f"entry {k + 1} (period {data.period} day {data.day}): given twice for patient {patient_id}")
        seen.add((data.period, data.day))
        rows.append(_entry_row(ctx, patient_id, k + 1, data, starts, when or clock))
    taken = ctx.session.execute(
        select(DiaryEntry.period, DiaryEntry.day).where(
            DiaryEntry.patient_id == patient_id, tuple_(DiaryEntry.period, DiaryEntry.day).in_(sorted(seen))
        )
    ).first()
    if taken:
        raise Conflict(f"the diary of patient {patient_id} period {taken[0]} day {taken[1]} is already filled in; a change needs a reason")
    return audit.audited_bulk_insert(ctx.session, ctx.actor, DiaryEntry, rows, reason=reason)


def _check_bounds(ctx: Context, number: int, data: DiaryEntryCreate) -> None:
    """Entry ``number`` (1-based) of a bulk submission: day and period within the protocol."""
    days, periods = ctx.protocol.diary.days_per_period, ctx.protocol.design.periods
    where = f"entry {number} (period {data.period} day {data.day})"
    if data.day > days:
        raise DataError(
            f"{where}: day={data.day} is outside 1..{days} (days_per_period of the protocol)",
            source="entries",
            row=number,
            column="day",
            value=data.day,
            allowed=f"1..{days}",
        )
    if data.period > periods:
        raise DataError(
            f"{where}: period={data.period} is outside 1..{periods}",
            source="entries",
            row=number,
            column="period",
            value=data.period,
            allowed=f"1..{periods}",
        )


def _entry_row(
    ctx: Context, patient_id: str, number: int, data: DiaryEntryCreate, starts: dict[int, dt.date], now: dt.datetime
) -> dict[str, Any]:
    """The stored row of entry ``number`` (1-based) of a bulk submission; refuses a day in the
    future (as :func:`submit_entry` does)."""
    where = f"entry {number} (period {data.period} day {data.day})"
    date = starts[data.period] + dt.timedelta(days=data.day)
    if date > now.date():
        raise DataError(
            f"{where}: day={data.day} of period {data.period} is {date.isoformat()}, in the future",
            source="entries",
            row=number,
            column="day",
            value=data.day,
        )
    return new_entry_row(ctx.protocol, ctx.settings, ctx.actor.username, patient_id, data, start=starts[data.period],
                         taken=False, now=now)


def change_entry(ctx: Context, patient_id: str, period: int, day: int, data: DiaryChange) -> DiaryEntry:
    """Change a stored entry; the reason is required and recorded with every changed field."""
    _own(ctx, patient_id, "diary.write")
    row = (
        ctx.session.execute(
            select(DiaryEntry).where(DiaryEntry.patient_id == patient_id, DiaryEntry.period == period, DiaryEntry.day == day)
        )
        .scalars()
        .first()
    )
    if row is None:
        raise NotFound(f"no diary entry for patient {patient_id} period {period} day {day}")
    audit.update(ctx.session, ctx.actor, row, data.model_dump(exclude_unset=True, exclude={"reason"}), reason=data.reason)
    return row


def read_diary(ctx: Context, patient_id: str) -> list[DiaryEntry]:
    _own(ctx, patient_id, "diary.read")
    return list(
        ctx.session.execute(
            select(DiaryEntry)
            .where(DiaryEntry.patient_id == patient_id, DiaryEntry.status == "active")
            .order_by(DiaryEntry.period, DiaryEntry.day)
        ).scalars()
    )


def compliance(ctx: Context, *, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Per patient: diary days due up to ``today`` (UTC date), days entered, the missing days
    (``[period, day]`` pairs) and whether today's entry is missing."""
    ctx.require("diary.read")
    today = today or dt.datetime.now(dt.UTC).date()
    days = ctx.protocol.diary.days_per_period
    inf = pd.DataFrame(
        ctx.session.execute(
            select(Infusion.patient_id, Infusion.period, Infusion.infusion_date)
            .where(Infusion.status == "active")
            .order_by(Infusion.patient_id, Infusion.period)
        ).all(),
        columns=["patient_id", "period", "infusion_date"],
    )
    got = pd.DataFrame(
        ctx.session.execute(select(DiaryEntry.patient_id, DiaryEntry.period, DiaryEntry.day).where(DiaryEntry.status == "active")).all(),
        columns=["patient_id", "period", "day"],
    )
    return _compliance_table(inf, got, today=today, days=days)


def _compliance_table(inf: pd.DataFrame, got: pd.DataFrame, *, today: dt.date, days: int) -> list[dict[str, Any]]:
    """:func:`compliance` from the active infusions (``patient_id, period, infusion_date``,
    sorted by patient and period) and the active entries (``patient_id, period, day``)."""
    if inf.empty:
        return []
    elapsed = (pd.Timestamp(today) - pd.to_datetime(inf["infusion_date"])).dt.days.to_numpy()
    due = np.clip(elapsed, 0, days)
    # the grid of due days (patient, period, day = 1..due), entered or not
    rep = np.repeat(np.arange(len(inf)), due)
    grid = pd.DataFrame(
        {
            "patient_id": inf["patient_id"].to_numpy()[rep],
            "period": inf["period"].to_numpy()[rep],
            "day": np.arange(len(rep)) - np.repeat(np.cumsum(due) - due, due) + 1,
        }
    )
    entered = pd.MultiIndex.from_frame(got.astype({"period": "int64", "day": "int64"})) if len(got) else None
    keys = pd.MultiIndex.from_frame(grid.astype({"period": "int64", "day": "int64"}))
    grid["entered"] = keys.isin(entered) if entered is not None else False
    # today's day of each period, when inside the diary window, and whether it is entered
    in_window = (elapsed >= 1) & (elapsed <= days)
    today_keys = pd.MultiIndex.from_arrays(
        [inf["patient_id"].to_numpy(), inf["period"].astype("int64").to_numpy(), elapsed.astype("int64")]
    )
    today_missing = in_window & ~(today_keys.isin(entered) if entered is not None else np.zeros(len(inf), bool))
    patients = pd.unique(inf["patient_id"])
    summary = pd.DataFrame(
        {
            "days_due": pd.Series(due).groupby(inf["patient_id"].to_numpy()).sum(),
            "missing_today": pd.Series(today_missing).groupby(inf["patient_id"].to_numpy()).any(),
        }
    )
    summary["days_entered"] = grid.groupby("patient_id")["entered"].sum()
    summary = summary.reindex(patients)
    summary["days_entered"] = summary["days_entered"].fillna(0)
    miss = grid.loc[~grid["entered"].to_numpy(dtype=bool)]
    missing = dict.fromkeys(patients, ())
    pairs = np.column_stack([miss["period"].to_numpy(dtype=np.int64), miss["day"].to_numpy(dtype=np.int64)]).tolist()
    starts: npt.NDArray[np.intp] | list[int] = (
        np.flatnonzero(np.r_[True, miss["patient_id"].to_numpy()[1:] != miss["patient_id"].to_numpy()[:-1]]) if len(miss) else []
    )
    bounds = [*starts, len(miss)]
    pid_col = miss["patient_id"].to_numpy()
    for a, b in itertools.pairwise(bounds):
        missing[pid_col[a]] = pairs[a:b]
    due_by, entered_by, today_by = (summary[c].to_dict() for c in ("days_due", "days_entered", "missing_today"))
    return [
        {
            "patient_id": str(pid),
            "days_due": int(due_by[pid]),
            "days_entered": int(entered_by[pid]),
            "missing": list(missing[pid]),
            "missing_today": bool(today_by[pid]),
        }
        for pid in patients
    ]


def missing_today(ctx: Context, *, today: dt.date | None = None) -> list[str]:
    """Patients in a diary period whose entry for today is missing (for reminders)."""
    return [r["patient_id"] for r in compliance(ctx, today=today) if r["missing_today"]]

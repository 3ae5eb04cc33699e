"""The patient's daily pain diary, reached by the personal link ``/diary/<token>``.

No login: the link token is the credential (a revoked or unknown link gets a 403 page).
Phone-first: average, maximum and night pain 0-10 as large buttons (radio inputs; no
JavaScript needed), extra analgesics yes/no and what. Today's entry, or a missed day
(back-fill; flagged late, and warned so, only beyond ``late_entry_days``: yesterday's is on
time); one entry per day; a change needs a reason.
Every form carries a CSRF token derived from the link (``HMAC(secret, "diary-form:" + token)``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from ketapain.capture.api.deps import SessionDep, SettingsDep
from ketapain.capture.audit import Actor
from ketapain.capture.models import DiaryEntry, Infusion
from ketapain.capture.schemas import DiaryChange, DiaryEntryCreate
from ketapain.capture.security import csrf_matches, token_digest
from ketapain.capture.services import Context, diary
from ketapain.capture.web._common import CsrfFailed, lang_of, render
from ketapain.errors import DataError

router = APIRouter()
ITEMS = ("avg_pain", "max_pain", "night_pain")


def _ctx(request: Request, session: Any, settings: Any, token: str) -> tuple[Context, str]:
    p = diary.patient_from_token(session, settings.secret_key, token)
    return Context(session, Actor(f"patient:{p.patient_id}", "patient"), settings, request.app.state.protocol), p.patient_id


def _form_token(settings: Any, token: str) -> str:
    return token_digest(settings.secret_key, "diary-form:" + token)


def _days(ctx: Context, patient_id: str, today: dt.date) -> tuple[tuple[int, int] | None, list[tuple[int, int, dt.date]]]:
    """Today's (period, day) if a diary period runs today, and the missed earlier days
    (period, day, date), most recent first."""
    n = ctx.protocol.diary.days_per_period
    infs = ctx.session.execute(select(Infusion.period, Infusion.infusion_date).where(
        Infusion.patient_id == patient_id, Infusion.status == "active").order_by(Infusion.period)).all()
    have = {(e.period, e.day) for e in diary.read_diary(ctx, patient_id)}
    current, missed = None, []
    for period, start in infs:
        k = (today - start).days
        if 1 <= k <= n:
            current = (period, k)
        for d in range(1, min(k - 1, n) + 1):
            if (period, d) not in have:
                missed.append((period, d, start + dt.timedelta(days=d)))
    return current, sorted(missed, key=lambda m: m[2], reverse=True)


def _pain(form: Any, name: str) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    return float(raw)


@router.get("/diary/{token}")
def diary_page(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    ctx, pid = _ctx(request, session, settings, token)
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    current, missed = _days(ctx, pid, today)
    q = request.query_params
    chosen = (int(q["period"]), int(q["day"])) if q.get("period") and q.get("day") else current
    entry = None
    if chosen is not None:
        entry = session.execute(select(DiaryEntry).where(DiaryEntry.patient_id == pid, DiaryEntry.period == chosen[0],
                                                         DiaryEntry.day == chosen[1], DiaryEntry.status == "active")).scalars().first()
    start = None
    if chosen is not None:
        start = session.execute(select(Infusion.infusion_date).where(Infusion.patient_id == pid, Infusion.period == chosen[0],
                                                                     Infusion.status == "active")).scalar()
    date = None if start is None else start + dt.timedelta(days=chosen[1])  # type: ignore[index]
    return render(request, "diary.html", token=token, csrf=_form_token(settings, token), patient_id=pid, chosen=chosen,
                  date=date, is_today=chosen == current and chosen is not None, entry=entry, missed=missed, items=ITEMS,
                  late=date is not None and diary.is_late(date, now, settings.late_entry_days), lang_now=lang_of(request))


@router.post("/diary/{token}")
async def diary_submit(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """A new entry (``mode=new``) or a change of a stored one (``mode=change``, reason required)."""
    ctx, pid = _ctx(request, session, settings, token)
    form = await request.form()
    if not csrf_matches(_form_token(settings, token), form.get("csrf_token")):  # type: ignore[arg-type]
        raise CsrfFailed("missing or wrong CSRF token (open your diary link again)")
    period, day = int(form.get("period", "0")), int(form.get("day", "0"))  # type: ignore[arg-type]
    values = {k: _pain(form, k) for k in ITEMS}
    extra = {"yes": True, "no": False}.get(str(form.get("extra_analgesics", "")))
    detail = str(form.get("extra_analgesics_detail", "")).strip() or None
    if form.get("mode") == "change":
        reason = str(form.get("reason", "")).strip()
        if not reason:
            raise DataError("reason: a change of a diary entry needs a reason", column="reason")
        diary.change_entry(ctx, pid, period, day, DiaryChange(**values, extra_analgesics=extra, extra_analgesics_detail=detail,
                                                              reason=reason))
    else:
        if values["avg_pain"] is None:
            raise DataError("avg_pain: the average pain of the day is required (0 to 10)", column="avg_pain",
                            allowed="0..10")
        device = str(form.get("device_time", "")).strip()
        try:
            device_time = dt.datetime.fromisoformat(device.replace("Z", "+00:00")) if device else None
        except ValueError:
            device_time = None
        diary.submit_entry(ctx, pid, DiaryEntryCreate(period=period, day=day, **values, extra_analgesics=extra,
                                                      extra_analgesics_detail=detail, device_time=device_time))
    session.commit()
    lang = lang_of(request)
    return RedirectResponse(f"/diary/{token}/done?period={period}&day={day}&lang={lang}", status_code=303)


@router.get("/diary/{token}/done")
def diary_done(token: str, period: int, day: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The confirmation screen: what was stored, and whether it counts as late."""
    _, pid = _ctx(request, session, settings, token)
    entry = session.execute(select(DiaryEntry).where(DiaryEntry.patient_id == pid, DiaryEntry.period == period,
                                                     DiaryEntry.day == day, DiaryEntry.status == "active")).scalars().first()
    if entry is None:
        return RedirectResponse(f"/diary/{token}", status_code=303)
    return render(request, "diary_done.html", token=token, entry=entry, items=ITEMS, lang_now=lang_of(request))

"""Infusion dates: the schedule rules of the protocol (no future date, periods in order and not
overlapping, not before screening) and the audited correction that re-anchors the diary
calendar after an explicit confirmation. Service and API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from ketapain.capture.audit import Actor
from ketapain.capture.schemas import DiaryEntryCreate, InfusionChange, InfusionCreate
from ketapain.capture.services import Context, diary, infusions
from ketapain.errors import ConfirmationRequired, DataError

from .conftest import ROLE_PW
from .test_api import TODAY, _patient

GAP = 35  # ketapain.toml: period_days = 35, no washout, no tolerance


def _day(n: int) -> str:
    return str(TODAY + dt.timedelta(days=n))


def _ctx(app, session) -> Context:
    return Context(session, Actor("nurse", "nurse"), app.state.settings, app.state.protocol)


def test_protocol_schedule_is_what_the_tests_assume(app):
    design = app.state.protocol.design
    assert (design.period_days, design.washout_days) == (GAP, None)


def test_future_date_refused_with_the_allowed_range(clients):
    pid = _patient(clients, infused_days_ago=40)
    r = clients["nurse"].post("/infusions", {"patient_id": pid, "period": 2, "infusion_date": _day(1)})
    assert r.status_code == 422, r.text
    err = r.json()["detail"][0]
    assert err["loc"] == ["body", "infusion_date"]
    assert f"infusion_date={_day(1)}" in err["msg"]
    assert f"from {_day(-5)}" in err["msg"] and f"to {_day(0)} (today; no date in the future)" in err["msg"]
    assert clients["nurse"].get(f"/infusions?patient_id={pid}").json()[0]["period"] == 1  # nothing stored
    assert len(clients["nurse"].get(f"/infusions?patient_id={pid}").json()) == 1


def test_overlapping_and_out_of_order_periods_refused(clients):
    nurse = clients["nurse"]
    pid = _patient(clients, infused_days_ago=80)  # period 1 on TODAY - 80
    for bad in (_day(-80 + GAP - 1), _day(-100)):  # overlaps period 1; before period 1
        r = nurse.post("/infusions", {"patient_id": pid, "period": 2, "infusion_date": bad})
        assert r.status_code == 422, r.text
        msg = r.json()["detail"][0]["msg"]
        assert f"infusion_date={bad}" in msg and f"from {_day(-80 + GAP)} (period 1 infused {_day(-80)} + 1 x (35 days per period))" in msg
    # period 3 first (two periods after period 1), then period 2 must fit between them
    assert nurse.post("/infusions", {"patient_id": pid, "period": 3, "infusion_date": _day(-11)}).status_code == 422  # < p1 + 70
    assert nurse.post("/infusions", {"patient_id": pid, "period": 3, "infusion_date": _day(-5)}).status_code == 201
    r = nurse.post("/infusions", {"patient_id": pid, "period": 2, "infusion_date": _day(-39)})
    assert r.status_code == 422
    assert f"to {_day(-40)} (period 3 infused {_day(-5)} - 1 x (35 days per period))" in r.json()["detail"][0]["msg"]
    assert nurse.post("/infusions", {"patient_id": pid, "period": 2, "infusion_date": _day(-45)}).status_code == 201  # first allowed day


def test_period_1_not_before_screening_service(app, clients):
    pid = _patient(clients, infused_days_ago=5)  # screened TODAY - 19
    with app.state.sessionmaker() as s:
        ctx = _ctx(app, s)
        rng = infusions.date_range(ctx, pid, 1)
        assert (rng.first, rng.last) == (TODAY - dt.timedelta(days=19), TODAY)
        with pytest.raises(DataError, match=f"infusion_date={_day(-20)}.*from {_day(-19)} \\(screening date {_day(-19)}\\)") as e:
            infusions.change_infusion(ctx, pid, 1, InfusionChange(infusion_date=TODAY - dt.timedelta(days=20), reason="typo"))
        assert (e.value.column, e.value.value) == ("infusion_date", _day(-20))
        with pytest.raises(DataError, match="no date in the future"):
            infusions.record_infusion(ctx, InfusionCreate(patient_id=pid, period=2, infusion_date=TODAY + dt.timedelta(days=40)))


def _audit(clients, table: str) -> list[dict]:
    return clients["monitor"].get(f"/audit?table={table}&limit=5000").json()


def test_correction_confirmation_audit_and_signature_voiding(clients):
    nurse, inv = clients["nurse"], clients["investigator"]
    pid = _patient(clients, infused_days_ago=50)  # period 1 on TODAY - 50, screened TODAY - 64
    for day in (1, 2):
        assert nurse.post(f"/patients/{pid}/diary", {"period": 1, "day": day, "avg_pain": 5}).status_code == 201
    assert inv.post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "I approve"}).status_code == 201
    url = f"/patients/{pid}/infusions/1"
    assert nurse.patch(url, {"infusion_date": _day(-52)}).status_code == 422  # no reason
    # first call: a 409 listing the entries that would move; nothing changed
    r = nurse.patch(url, {"infusion_date": _day(-52), "reason": "date typed wrong"})
    assert r.status_code == 409, r.text
    assert [a["day"] for a in r.json()["affected"]] == [1, 2]
    assert r.json()["affected"][0] == {"period": 1, "day": 1, "date": _day(-49), "new_date": _day(-51)}
    assert "days 1, 2" in r.json()["detail"] and "confirm=true" in r.json()["detail"]
    assert nurse.get(f"/infusions?patient_id={pid}").json()[0]["infusion_date"] == _day(-50)
    assert inv.get(f"/patients/{pid}/signatures").json()[0]["status"] == "valid"
    # confirmed: date and pain changed, old/new values and the reason in the trail, signature voided
    r = nurse.patch(url, {"infusion_date": _day(-52), "pre_infusion_pain": 6, "reason": "date typed wrong", "confirm": True})
    assert r.status_code == 200, r.text
    assert (r.json()["infusion_date"], r.json()["pre_infusion_pain"]) == (_day(-52), 6)
    rows = {a["field"]: a for a in _audit(clients, "infusions") if a["action"] == "update"}
    assert (rows["infusion_date"]["old_value"], rows["infusion_date"]["new_value"]) == (_day(-50), _day(-52))
    assert (rows["pre_infusion_pain"]["old_value"], rows["pre_infusion_pain"]["new_value"]) == ("7.0", "6.0")
    assert {rows[f]["reason"] for f in rows} == {"date typed wrong"}
    sig = inv.get(f"/patients/{pid}/signatures").json()[0]
    assert sig["status"] == "void" and "infusion_date" in sig["void_reason"]
    assert [e["day"] for e in nurse.get(f"/patients/{pid}/diary").json()] == [1, 2]  # same days, moved calendar
    # pain alone: no confirmation needed; unchanged values write nothing and say so (409)
    n = len(_audit(clients, "infusions"))
    r = nurse.patch(url, {"pre_infusion_pain": 6, "reason": "again"})
    assert r.status_code == 409 and "nothing to correct" in r.json()["detail"]
    assert len(_audit(clients, "infusions")) == n
    assert nurse.patch("/patients/P999/infusions/1", {"pre_infusion_pain": 6, "reason": "x"}).status_code == 404
    assert clients["monitor"].patch(url, {"pre_infusion_pain": 5, "reason": "x"}).status_code == 403


def test_move_refused_when_diary_entries_would_be_in_the_future(clients):
    nurse = clients["nurse"]
    pid = _patient(clients, infused_days_ago=50)
    assert nurse.post(f"/patients/{pid}/diary", {"period": 1, "day": 2, "avg_pain": 5}).status_code == 201  # received today
    r = nurse.patch(f"/patients/{pid}/infusions/1", {"infusion_date": _day(-1), "reason": "typo", "confirm": True})
    assert r.status_code == 422, r.text
    msg = r.json()["detail"][0]["msg"]
    assert f"diary day 2 of period 1 on {_day(1)}" in msg and f"on or before {_day(-2)}" in msg
    assert r.json()["detail"][0]["loc"] == ["body", "infusion_date"]
    assert nurse.get(f"/infusions?patient_id={pid}").json()[0]["infusion_date"] == _day(-50)
    assert nurse.get(f"/patients/{pid}/diary").json()[0]["late"] is True  # day 2 = TODAY - 48, received today
    # the last date allowed is accepted; the entry, now dated today, is no longer late (audited)
    assert nurse.patch(f"/patients/{pid}/infusions/1", {"infusion_date": _day(-2), "reason": "typo", "confirm": True}).status_code == 200
    assert nurse.get(f"/patients/{pid}/diary").json()[0]["late"] is False
    late = [a for a in _audit(clients, "diary_entries") if a["field"] == "late" and a["action"] == "update"]
    assert [(a["old_value"], a["new_value"], a["reason"]) for a in late] == [
        ("true", "false", "diary calendar moved with the infusion date: typo")]


def test_reanchoring_moves_the_diary_calendar_service(app, clients):
    pid = _patient(clients, infused_days_ago=50)
    assert clients["nurse"].post(f"/patients/{pid}/diary", {"period": 1, "day": 3, "avg_pain": 4}).status_code == 201
    with app.state.sessionmaker() as s:
        ctx = _ctx(app, s)
        new = TODAY - dt.timedelta(days=45)
        with pytest.raises(ConfirmationRequired) as e:
            infusions.change_infusion(ctx, pid, 1, InfusionChange(infusion_date=new, reason="typo"))
        assert e.value.affected == [{"period": 1, "day": 3, "date": _day(-47), "new_date": _day(-42)}]
        infusions.change_infusion(ctx, pid, 1, InfusionChange(infusion_date=new, reason="typo", confirm=True))
        s.commit()
        # the diary calendar follows: today is day 45 of period 1 (due days counted from the new date)
        row = next(r for r in diary.compliance(ctx, today=TODAY) if r["patient_id"] == pid)
        assert row["days_due"] == 35 and row["days_entered"] == 1
        with pytest.raises(DataError, match=f"day=1 of period 1 is {_day(-44)}, in the future"):  # dated from the new infusion date
            diary.submit_entry(ctx, pid, DiaryEntryCreate(period=1, day=1, avg_pain=1),
                               received_at=dt.datetime.combine(new, dt.time(12), tzinfo=dt.UTC))

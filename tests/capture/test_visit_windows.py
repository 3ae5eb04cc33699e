"""Visit windows from the protocol (issue 16): the expected date anchored on the infusion of the
visit's period, ``window_days`` from the protocol or the capture default, no date in the future,
out of window only with a reason (then flagged and stored). Service, API and migration 0004,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from ketapain.capture.audit import Actor
from ketapain.capture.db import make_engine, upgrade
from ketapain.capture.models import AuditLog, VisitRecord
from ketapain.capture.schemas import VisitCreate
from ketapain.capture.services import Context, visits
from ketapain.errors import DataError, ProtocolError
from ketapain.protocol import load_protocol
from ketapain.protocol._models import Visit

from .conftest import fresh_pg_database
from .test_api import TODAY, _patient
from .test_migrations import _alembic_config, downgrade

GAP = 35  # ketapain.toml: period_days = 35, no washout; visits on days -14, 0, 35, 70, 105; no window_days


def _day(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def _ctx(app, session, protocol=None) -> Context:
    return Context(session, Actor("nurse", "nurse"), app.state.settings, protocol or app.state.protocol)


def test_reference_protocol_and_default_window(app):
    p = app.state.protocol
    assert [(v.name, v.day, v.window_days) for v in p.visits] == [
        ("inclusion", -14, None), ("randomisation", 0, None), ("end_period_1", 35, None), ("end_period_2", 70, None),
        ("end_period_3", 105, None)]
    assert app.state.settings.visit_window_days == 3
    assert [visits.anchor_period(p, v.day) for v in p.visits] == [1, 1, 1, 2, 3]


def test_window_days_validated_in_the_protocol():
    assert Visit(name="v", day=3, window_days=7).window_days == 7
    for bad in (-1, 366):
        with pytest.raises((ProtocolError, ValueError), match="window_days"):
            Visit(name="v", day=3, window_days=bad)


def test_window_in_out_reason_future_and_flag_stored(app, clients):
    pid = _patient(clients, infused_days_ago=40)  # period 1 infused TODAY - 40
    with app.state.sessionmaker() as s:
        ctx = _ctx(app, s)
        win = visits.visit_window(ctx, pid, "end_period_1")  # expected TODAY - 5, ± 3 days
        assert (win.expected, win.first, win.last, win.period) == (_day(-5), _day(-8), _day(-2), 1)
        assert win.text() == f"{_day(-8)} to {_day(-2)} (expected {_day(-5)} = period 1 infusion {_day(-40)} + 35 days, ± 3 days)"
        # outside without a reason: refused, naming visit, date, window and the reason needed
        with pytest.raises(DataError) as e:
            visits.record_visit(ctx, VisitCreate(patient_id=pid, visit="end_period_1", visit_date=_day(-1)))
        msg = str(e.value)
        assert f"visit_date={_day(-1)} of patient {pid} visit end_period_1 is outside its window {_day(-8)} to {_day(-2)}" in msg
        assert "a reason (out_of_window_reason) is needed" in msg and e.value.column == "visit_date"
        # in the future: refused even with a reason
        with pytest.raises(DataError, match=f"visit_date={_day(1)} .* is in the future: .* at most {TODAY}"):
            visits.record_visit(ctx, VisitCreate(patient_id=pid, visit="end_period_2", visit_date=_day(1),
                                                 out_of_window_reason="x"))
        # inside (edge of the window): stored unflagged, a reason given anyway is not stored
        v = visits.record_visit(ctx, VisitCreate(patient_id=pid, visit="end_period_1", visit_date=_day(-8),
                                                 out_of_window_reason="not needed"))
        assert (v.out_of_window, v.out_of_window_reason) == (False, None)
        # outside with a reason: stored, flagged, the reason in the row and in its audit rows
        v2 = visits.record_visit(ctx, VisitCreate(patient_id=pid, visit="inclusion", visit_date=_day(-60),
                                                  out_of_window_reason="screened early, inclusion visit before the holidays"))
        s.commit()
        rid = v2.id
    with app.state.sessionmaker() as s:
        row = s.get(VisitRecord, rid)
        assert (row.out_of_window, row.out_of_window_reason) == (True, "screened early, inclusion visit before the holidays")
        reasons = set(s.execute(select(AuditLog.reason).where(AuditLog.table_name == "visits", AuditLog.record_id == str(rid))).scalars())
        assert reasons == {"screened early, inclusion visit before the holidays"}
        sched = {v["visit"]: v for v in visits.schedule(_ctx(app, s), pid)}
    assert sched["inclusion"]["out_of_window"] is True and sched["inclusion"]["days_off"] == -6  # expected TODAY - 54
    assert sched["end_period_1"]["out_of_window"] is False and sched["end_period_1"]["days_off"] == -3
    assert (sched["end_period_2"]["window_first"], sched["end_period_2"]["window_last"]) == (_day(27), _day(33))


def test_expected_date_anchored_on_the_periods_infusion(app, clients):
    nurse = clients["nurse"]
    pid = _patient(clients, infused_days_ago=80)  # period 1 on TODAY - 80; period 2 infused 4 days late
    assert nurse.post("/infusions", {"patient_id": pid, "period": 2, "infusion_date": str(_day(-80 + GAP + 4))}).status_code == 201
    with app.state.sessionmaker() as s:
        win = visits.visit_window(_ctx(app, s), pid, "end_period_2")
    assert win.expected == _day(-80 + GAP + 4 + GAP) and win.anchor == f"period 2 infusion {_day(-41)} + 35 days"
    # day 70 from the first infusion would be TODAY - 10: 4 days off, outside ± 3; anchored on period 2 it is in window
    r = nurse.post("/visits", {"patient_id": pid, "visit": "end_period_2", "visit_date": str(_day(-6))})
    assert r.status_code == 201 and r.json()["out_of_window"] is False, r.text


def test_window_days_from_the_protocol(app, clients):
    pid = _patient(clients, infused_days_ago=40)
    base = app.state.protocol
    wide = base.model_copy(update={"visits": tuple(v.model_copy(update={"window_days": 10}) if v.name == "end_period_1" else v
                                                   for v in base.visits)})
    with app.state.sessionmaker() as s:
        ctx = _ctx(app, s, wide)
        win = visits.visit_window(ctx, pid, "end_period_1")
        assert (win.first, win.last, win.window_days) == (_day(-15), _day(5), 10)
        assert visits.record_visit(ctx, VisitCreate(patient_id=pid, visit="end_period_1", visit_date=_day(-14))).out_of_window is False


def test_no_infusion_yet_window_unknown(app, clients):
    nurse = clients["nurse"]
    r = nurse.post("/patients", {"sex": "M", "age_years": 61, "pain_type": "radiculopathy"})
    pid = r.json()["patient_id"]
    sched = {v["visit"]: v for v in nurse.get(f"/patients/{pid}/schedule").json()}
    assert sched["inclusion"]["scheduled_date"] is None and sched["inclusion"]["window_first"] is None
    r = nurse.post("/visits", {"patient_id": pid, "visit": "inclusion", "visit_date": str(_day(-3))})
    assert r.status_code == 201 and r.json()["out_of_window"] is False and r.json()["out_of_window_reason"] is None


def test_api_422_names_visit_date_window_and_reason(clients):
    nurse = clients["nurse"]
    pid = _patient(clients, infused_days_ago=40)
    body = {"patient_id": pid, "visit": "end_period_1", "visit_date": str(_day(-20))}
    r = nurse.post("/visits", body)
    assert r.status_code == 422, r.text
    err = r.json()["detail"][0]
    assert err["loc"] == ["body", "visit_date"]
    assert f"visit_date={_day(-20)} of patient {pid} visit end_period_1 is outside its window {_day(-8)} to {_day(-2)}" in err["msg"]
    assert "out_of_window_reason" in err["msg"]
    assert nurse.post("/visits", body | {"out_of_window_reason": "   "}).status_code == 422  # blank is no reason
    r = nurse.post("/visits", body | {"out_of_window_reason": "patient in hospital"})
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ("visit", "out_of_window", "out_of_window_reason")} == {
        "visit": "end_period_1", "out_of_window": True, "out_of_window_reason": "patient in hospital"}
    r = nurse.post("/visits", {"patient_id": pid, "visit": "end_period_2", "visit_date": str(_day(1))})
    assert r.status_code == 422 and "is in the future" in r.json()["detail"][0]["msg"]
    sched = {v["visit"]: v for v in clients["monitor"].get(f"/patients/{pid}/schedule").json()}
    assert sched["end_period_1"]["out_of_window"] is True and sched["end_period_1"]["out_of_window_reason"] == "patient in hospital"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite'}"
        return
    with fresh_pg_database("ketapain_m0004") as url:
        yield url


def test_migration_0004_adds_the_columns_to_existing_rows(empty_url):
    eng = make_engine(empty_url)
    try:
        with eng.begin() as conn:
            command.upgrade(_alembic_config(conn), "0003")
        assert {c["name"] for c in inspect(eng).get_columns("visits")} == {"id", "patient_id", "visit", "visit_date", "status"}
        with eng.begin() as conn:
            conn.execute(text("INSERT INTO visits (patient_id, visit, visit_date, status) "
                              "VALUES ('P001', 'inclusion', '2026-01-05', 'active')"))
        upgrade(eng)
        cols = {c["name"]: c for c in inspect(eng).get_columns("visits")}
        assert cols["out_of_window"]["nullable"] is False and cols["out_of_window_reason"]["nullable"] is True
        with eng.connect() as conn:
            row = conn.execute(text("SELECT out_of_window, out_of_window_reason FROM visits")).one()
        assert (bool(row[0]), row[1]) == (False, None)
        downgrade(eng, "0003")
        assert "out_of_window" not in {c["name"] for c in inspect(eng).get_columns("visits")}
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM visits")).scalar() == 1
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
    finally:
        eng.dispose()


def test_reference_protocol_loads_unchanged():
    assert all(v.window_days is None for v in load_protocol("ketapain").visits)

"""The casebook grid (issue 16): ``GET /api/v1/patients/{id}/casebook`` and
``services.casebook`` — rows and columns from the protocol, cell status (not started,
complete, out of window, diary in progress), open queries per cell, the casebook's signature
status, no allocation data for any role; the field view of one record. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from ketapain.capture.audit import Actor
from ketapain.capture.models import DiaryEntry, Patient, QuestionnaireResponse
from ketapain.capture.services import Context, casebook
from ketapain.errors import NotFound

from .conftest import ROLE_PW
from .test_api import DN4, TODAY, _has_allocation, _patient

ROWS = ["baseline", "inclusion", "randomisation", "period_1", "end_period_1", "period_2", "end_period_2", "period_3",
        "end_period_3"]
COLUMNS = ["visit", "infusion", "diary", "adverse_events", "concomitant", "dn4", "bpi", "qdsa", "npsi", "hads", "sf36", "psqi",
           "pgic", "blinding"]


def _grid(api, pid: str) -> dict:
    r = api.get(f"/patients/{pid}/casebook")
    assert r.status_code == 200, r.text
    return r.json()


def _id(app, model, **where) -> int:
    with app.state.sessionmaker() as s:
        return s.execute(select(model.id).filter_by(**where)).scalar_one()


def _cells(grid: dict) -> dict[str, dict]:
    return {r["row"]: r["cells"] for r in grid["rows"]}


def test_rows_columns_and_expected_cells_follow_the_protocol(clients):
    pid = _patient(clients, infused_days_ago=40)
    g = _grid(clients["nurse"], pid)
    assert [r["row"] for r in g["rows"]] == ROWS and g["columns"] == COLUMNS
    cells = _cells(g)
    assert set(cells["inclusion"]) == {"visit", "dn4", "bpi", "qdsa", "npsi", "hads", "sf36", "psqi"}
    assert set(cells["end_period_3"]) == {"visit", "bpi", "qdsa", "npsi", "hads", "sf36", "psqi", "pgic", "blinding"}
    assert set(cells["randomisation"]) == {"visit"}
    assert set(cells["period_2"]) == {"infusion", "diary", "adverse_events", "concomitant"}
    assert set(cells["baseline"]) == {"adverse_events", "concomitant"}
    inf = cells["period_1"]["infusion"]
    assert (inf["status"], inf["detail"], inf["open_queries"]) == ("complete", str(TODAY - dt.timedelta(days=40)), 0)
    assert inf["link"] == f"/patients/{pid}/records/infusions/{inf['records']['ids'][0]}"
    p2 = cells["period_2"]["infusion"]
    assert p2["status"] == "not_started" and p2["link"] == f"/patients/{pid}#infusions"
    visit = cells["end_period_1"]["visit"]  # not recorded yet: its window as the detail
    assert visit["status"] == "not_started"
    assert visit["detail"] == f"{TODAY - dt.timedelta(days=8)} – {TODAY - dt.timedelta(days=2)}"
    assert cells["inclusion"]["dn4"]["link"] == f"/patients/{pid}/questionnaire?visit=inclusion&instrument=dn4"
    # a role that may not enter questionnaires is sent to the casebook's section (the form would be a 403)
    assert _cells(_grid(clients["monitor"], pid))["inclusion"]["dn4"]["link"] == f"/patients/{pid}#questionnaires"
    assert g["signature"]["status"] == "unsigned" and g["open_queries"] == 0


def test_status_queries_and_signature_in_the_cells(app, clients):
    nurse, mon, inv = clients["nurse"], clients["monitor"], clients["investigator"]
    pid = _patient(clients, infused_days_ago=40)
    r = nurse.post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": DN4})
    assert r.status_code == 201, r.text
    r = nurse.post("/visits", {"patient_id": pid, "visit": "end_period_1", "visit_date": str(TODAY),
                               "out_of_window_reason": "patient came late"})
    assert r.status_code == 201 and r.json()["out_of_window"] is True
    vid = r.json()["id"]
    for day in (1, 2):
        assert nurse.post(f"/patients/{pid}/diary", {"period": 1, "day": day, "avg_pain": 5}).status_code == 201
    assert nurse.post("/adverse-events", {"patient_id": pid, "period": 1, "term": "nausea", "severity": "mild",
                                          "serious": False, "causality": "possibly"}).status_code == 201
    assert inv.post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "I approve"}).status_code == 201
    cells = _cells(_grid(mon, pid))
    assert cells["end_period_1"]["visit"]["status"] == "out_of_window" and cells["end_period_1"]["visit"]["detail"] == str(TODAY)
    assert cells["end_period_1"]["visit"]["link"] == f"/patients/{pid}/records/visits/{vid}"
    assert cells["inclusion"]["dn4"]["status"] == "complete" and cells["inclusion"]["bpi"]["status"] == "not_started"
    assert (cells["period_1"]["diary"]["status"], cells["period_1"]["diary"]["detail"]) == ("in_progress", "2/35")
    assert (cells["period_1"]["adverse_events"]["status"], cells["period_1"]["adverse_events"]["detail"]) == ("recorded", "1")
    assert cells["period_2"]["adverse_events"]["status"] == "none"
    assert _grid(mon, pid)["signature"]["status"] == "signed"
    # two queries on the visit, one on the patient record (counted elsewhere)
    q1 = mon.post("/queries", {"table_name": "visits", "record_id": vid, "field": "visit_date", "text": "date?"}).json()["id"]
    q2 = {"table_name": "visits", "record_id": vid, "field": "out_of_window_reason", "text": "why?"}
    assert mon.post("/queries", q2).status_code == 201
    pat = _id(app, Patient, patient_id=pid)
    assert mon.post("/queries", {"table_name": "patients", "record_id": pat, "text": "age?"}).status_code == 201
    g = _grid(mon, pid)
    assert _cells(g)["end_period_1"]["visit"]["open_queries"] == 2
    assert (g["open_queries"], g["open_queries_elsewhere"]) == (3, 1)
    assert nurse.post(f"/queries/{q1}/answer", {"answer": "checked"}).status_code == 200  # answered: still open
    assert _cells(_grid(mon, pid))["end_period_1"]["visit"]["open_queries"] == 2
    assert mon.post(f"/queries/{q1}/close", {}).status_code == 200
    assert _cells(_grid(mon, pid))["end_period_1"]["visit"]["open_queries"] == 1
    # a new record voids the signature
    assert nurse.post(f"/patients/{pid}/diary", {"period": 1, "day": 3, "avg_pain": 4}).status_code == 201
    sig = _grid(mon, pid)["signature"]
    assert sig["status"] == "voided" and sig["signed_by"] == "Dr investigator" and sig["void_reason"]


def test_no_allocation_in_the_grid_for_any_role(clients):
    pid = _patient(clients, infused_days_ago=40)
    for role, api in clients.items():
        g = _grid(api, pid)
        assert not _has_allocation(g), role
        assert "kit" not in str(g).lower() and "treatment" not in str(g), role
    assert clients["nurse"].get("/patients/P999/casebook").status_code == 404


def _ctx(app, session, role: str = "monitor") -> Context:
    return Context(session, Actor(role, role), app.state.settings, app.state.protocol)


def test_record_view_fields_and_queries(app, clients):
    nurse, mon = clients["nurse"], clients["monitor"]
    pid = _patient(clients, infused_days_ago=40)
    assert nurse.post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": DN4}).status_code == 201
    rid = _id(app, QuestionnaireResponse, patient_id=pid, visit="inclusion", instrument="dn4")
    vid = nurse.post("/visits", {"patient_id": pid, "visit": "end_period_1", "visit_date": str(TODAY),
                                 "out_of_window_reason": "late"}).json()["id"]
    assert mon.post("/queries", {"table_name": "visits", "record_id": vid, "field": "visit_date", "text": "sure?"}).status_code == 201
    other = _patient(clients, infused_days_ago=40)
    with app.state.sessionmaker() as s:
        v = casebook.record_view(_ctx(app, s), pid, "visits", vid)
        assert {f["field"]: f["value"] for f in v["fields"]} == {
            "visit": "end_period_1", "visit_date": str(TODAY), "out_of_window": True, "out_of_window_reason": "late"}
        assert [(q["field"], q["text"], q["status"]) for q in v["queries"]] == [("visit_date", "sure?", "open")]
        qr = casebook.record_view(_ctx(app, s), pid, "questionnaire_responses", rid)
        fields = {f["field"]: f["value"] for f in qr["fields"]}
        assert fields["answers.1"] == 1 and fields["answers.10"] == 0 and fields["scores.total"] == 5
        for table, record in (("visits", 999), ("allocations", 1), ("users", 1), ("visits", 0), ("visits", 2**40)):
            with pytest.raises(NotFound):
                casebook.record_view(_ctx(app, s), pid, table, record)
        with pytest.raises(NotFound, match=f"visits record {vid} of patient {other} not found"):
            casebook.record_view(_ctx(app, s), other, "visits", vid)


def test_diary_cell_complete_and_its_queries(app, clients):
    nurse, mon = clients["nurse"], clients["monitor"]
    pid = _patient(clients, infused_days_ago=40)  # all 35 diary days of period 1 are past
    for day in range(1, 36):
        assert nurse.post(f"/patients/{pid}/diary", {"period": 1, "day": day, "avg_pain": 5}).status_code == 201
    entry = _id(app, DiaryEntry, patient_id=pid, period=1, day=7)
    query = {"table_name": "diary_entries", "record_id": entry, "field": "avg_pain", "text": "5 again?"}
    assert mon.post("/queries", query).status_code == 201
    cells = _cells(_grid(mon, pid))
    diary = cells["period_1"]["diary"]
    assert (diary["status"], diary["detail"], diary["open_queries"], len(diary["records"]["ids"])) == ("complete", "35/35", 1, 35)
    assert cells["period_2"]["diary"]["status"] == "not_started" and cells["period_2"]["diary"]["open_queries"] == 0

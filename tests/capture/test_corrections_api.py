"""The correction endpoints (issue 16) on SQLite and PostgreSQL: ``PATCH`` of visits,
questionnaire responses and screenings, the existing ``PATCH`` of adverse events, concomitant
treatments, patients and users with the correction rules, and
``POST /records/{table_name}/{record_id}/entered-in-error``."""

from __future__ import annotations

import datetime as dt

from ketapain.data import DRUG_CLASSES

from .conftest import ADMIN_PW, ROLE_PW
from .test_api import DN4, ELIGIBLE, TODAY, _has_allocation, _patient

APP_SETTINGS = {"visit_window_days": 60}
"""The ``app`` fixture's settings here: these tests are about corrections, and the dates they record
and correct (today, yesterday) must stay inside the visit windows whatever the infusion dates;
the window rules have their own tests (test_visit_windows.py)."""


def _day(n: int) -> str:
    return str(TODAY + dt.timedelta(days=n))


def _audit(api, table: str, record_id: int | str) -> list[dict]:
    return api.get(f"/audit?table={table}&record_id={record_id}").json()


def test_visit_correction_endpoint(clients):
    nurse, mon = clients["nurse"], clients["monitor"]
    pid = _patient(clients)
    assert nurse.post("/visits", {"patient_id": pid, "visit": "inclusion", "visit_date": _day(0)}).status_code == 201
    url = f"/patients/{pid}/visits/inclusion"
    assert nurse.patch(url, {"visit_date": _day(-1)}).status_code == 422  # no reason
    assert nurse.patch(url, {"visit_date": _day(-1), "reason": "   "}).status_code == 422  # blank reason
    assert mon.patch(url, {"visit_date": _day(-1), "reason": "x"}).status_code == 403
    assert nurse.patch(f"/patients/{pid}/visits/nope", {"visit_date": _day(-1), "reason": "x"}).status_code == 404
    r = nurse.patch(url, {"visit_date": _day(0), "reason": "same"})
    assert r.status_code == 409 and "nothing to correct" in r.json()["detail"]
    vid = nurse.patch(url, {"visit_date": _day(-1), "reason": "the visit was yesterday"}).json()
    assert (vid["visit"], vid["visit_date"], vid["status"]) == ("inclusion", _day(-1), "active")
    row = next(a for a in _audit(mon, "visits", vid["id"]) if a["action"] == "update")
    assert (row["field"], row["old_value"], row["new_value"], row["reason"]) == ("visit_date", _day(0), _day(-1), "the visit was yesterday")
    sched = next(v for v in nurse.get(f"/patients/{pid}/schedule").json() if v["visit"] == "inclusion")
    assert sched["visit_date"] == _day(-1)


def test_questionnaire_and_screening_correction_endpoints(clients):
    nurse = clients["nurse"]
    pid = _patient(clients)
    r = nurse.post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": DN4})
    before = r.json()
    url = f"/patients/{pid}/questionnaires/inclusion/dn4"
    assert nurse.patch(url, {"answers": {"6": 5}, "reason": "x"}).status_code == 422  # the instrument's range
    r = nurse.patch(url, {"answers": {"6": 1, "7": 1}, "reason": "items 6 and 7 were ticked"})
    assert r.status_code == 200, r.text
    after = r.json()
    total = next(k for k in after["scores"] if k.endswith("total"))
    assert after["scores"][total] == before["scores"][total] + 2 and after["answers"]["1"] == 1
    assert nurse.get(f"/questionnaires?patient_id={pid}").json()[0]["scores"][total] == after["scores"][total]
    rows = {a["field"]: a for a in _audit(clients["monitor"], "questionnaire_responses", after["id"]) if a["action"] == "update"}
    assert set(rows) == {"answers", "scores"} and '"6":0' in rows["answers"]["old_value"] and '"6":1' in rows["answers"]["new_value"]
    s = nurse.post("/screenings", {"answers": ELIGIBLE, "dn4_items": DN4, "screening_date": _day(-3)}).json()
    r = nurse.patch(f"/screenings/{s['screening_id']}", {"answers": {"pregnant_or_lactating": True}, "reason": "pregnancy test"})
    assert r.status_code == 200, r.text
    assert (r.json()["eligible"], r.json()["outcome"]) == (False, "not_eligible")
    r = nurse.patch(f"/screenings/{s['screening_id']}", {"dn4_items": {**DN4, "1": 0}, "reason": "item 1 was no"})
    assert r.json()["dn4_total"] == 4
    assert nurse.patch(f"/screenings/{s['screening_id']}", {"screening_date": _day(-3), "reason": "same"}).status_code == 409
    assert clients["monitor"].patch(f"/screenings/{s['screening_id']}", {"screening_date": _day(-2), "reason": "x"}).status_code == 403


def test_patient_ae_concomitant_and_user_corrections(clients):
    nurse, admin = clients["nurse"], clients["admin"]
    pid = _patient(clients)
    r = nurse.patch(f"/patients/{pid}", {"sex": "M", "age_years": 52, "pain_type": "radiculopathy", "reason": "CRF transcription"})
    assert r.status_code == 200 and (r.json()["sex"], r.json()["age_years"]) == ("M", 52)
    fields = {a["field"] for a in _audit(clients["monitor"], "patients", r.json()["id"]) if a["action"] == "update"}
    assert fields == {"sex", "age_years"}  # pain_type did not change: no audit row
    ae = nurse.post("/adverse-events", {"patient_id": pid, "period": 1, "term": "nausea", "severity": "mild", "serious": False,
                                        "causality": "possibly"}).json()
    r = nurse.patch(f"/adverse-events/{ae['event_id']}", {"period": 0, "term": "vomiting", "reason": "before the infusion"})
    assert (r.json()["period"], r.json()["term"]) == (0, "vomiting")
    cm = nurse.post("/concomitant", {"patient_id": pid, "period": 0, "drug_class": DRUG_CLASSES[0]}).json()
    r = nurse.patch(f"/concomitant/{cm['id']}", {"drug_class": DRUG_CLASSES[1], "drug_name": "y", "reason": "wrong class"})
    assert r.status_code == 200 and r.json()["drug_class"] == DRUG_CLASSES[1]
    assert admin.patch("/users/nurse", {"full_name": "Dr nurse", "reason": "same"}).status_code == 409
    assert admin.patch("/users/nurse", {"full_name": "Nurse N.", "reason": "married name"}).json()["full_name"] == "Nurse N."
    assert admin.patch("/users/admin", {"role": "monitor", "reason": "self"}).status_code == 403
    assert nurse.patch("/users/nurse", {"full_name": "Me", "reason": "self"}).status_code == 403


def test_entered_in_error_endpoint(clients):
    nurse, mon = clients["nurse"], clients["monitor"]
    pid = _patient(clients)
    ae = nurse.post("/adverse-events", {"patient_id": pid, "period": 1, "term": "nausea", "severity": "mild", "serious": False,
                                        "causality": "possibly"}).json()
    q = mon.post("/queries", {"table_name": "adverse_events", "record_id": ae["id"], "text": "really nausea?"}).json()
    assert clients["investigator"].post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "ok"}).status_code == 201
    url = f"/records/adverse_events/{ae['id']}/entered-in-error"
    assert nurse.post(url, {}).status_code == 422
    assert nurse.post(url, {"reason": " "}).status_code == 422
    assert mon.post(url, {"reason": "x"}).status_code == 403
    assert nurse.post(f"/records/allocations/{ae['id']}/entered-in-error", {"reason": "x"}).status_code == 422  # not a record type
    assert nurse.post("/records/adverse_events/999/entered-in-error", {"reason": "x"}).status_code == 404
    r = nurse.post(url, {"reason": "entered in the wrong casebook"})
    assert r.status_code == 200, r.text
    assert r.json() == {"table_name": "adverse_events", "record_id": ae["id"], "status": "entered_in_error", "queries_closed": [q["id"]]}
    assert nurse.post(url, {"reason": "again"}).status_code == 409
    assert nurse.get(f"/adverse-events?patient_id={pid}").json() == []
    shown = nurse.get(f"/adverse-events?patient_id={pid}&include_entered_in_error=true").json()
    assert [(e["event_id"], e["status"]) for e in shown] == [(ae["event_id"], "entered_in_error")]
    assert nurse.patch(f"/adverse-events/{ae['event_id']}", {"term": "x", "reason": "x"}).status_code == 409
    closed = next(x for x in mon.get("/queries").json() if x["id"] == q["id"])
    assert (closed["status"], closed["closed_by"]) == ("closed", "nurse")
    trail = _audit(mon, "adverse_events", ae["id"])
    assert trail[0]["action"] == "entered_in_error" and trail[0]["reason"] == "entered in the wrong casebook"
    assert any(a["action"] == "create" and a["field"] == "term" and a["new_value"] == "nausea" for a in trail)
    sig = clients["investigator"].get(f"/patients/{pid}/signatures").json()[0]
    assert sig["status"] == "void" and "adverse_events record" in sig["void_reason"]
    assert not _has_allocation(r.json()) and not _has_allocation(trail)
    pat = nurse.get(f"/patients/{pid}").json()
    assert nurse.post(f"/records/patients/{pat['id']}/entered-in-error", {"reason": "x"}).status_code == 409  # randomised


def test_corrections_refused_when_locked(clients):
    nurse = clients["nurse"]
    pid = _patient(clients)
    assert nurse.post("/visits", {"patient_id": pid, "visit": "inclusion", "visit_date": _day(0)}).status_code == 201
    cm = nurse.post("/concomitant", {"patient_id": pid, "period": 0, "drug_class": DRUG_CLASSES[0]}).json()
    rid = clients["admin"].post("/change-requests", {"action": "lock", "reason": "final", "password": ADMIN_PW}).json()["id"]
    assert clients["statistician"].post(f"/change-requests/{rid}/approve", {"password": ROLE_PW}).status_code == 200
    r = nurse.patch(f"/patients/{pid}/visits/inclusion", {"visit_date": _day(-1), "reason": "late"})
    assert r.status_code == 409 and "locked" in r.json()["detail"]
    assert nurse.post(f"/records/concomitant/{cm['id']}/entered-in-error", {"reason": "late"}).status_code == 409
    assert nurse.get(f"/concomitant?patient_id={pid}").json()[0]["status"] == "active"

"""Site, country, race and questionnaire completion dates in the capture app (issue 20),
with the reference protocol: one site (CFD, CHU Clermont-Ferrand, FRA), race not collected.
Every test on SQLite and PostgreSQL (see conftest)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select

from ketapain.capture import Actor
from ketapain.capture.models import AuditLog
from ketapain.capture.services import Context, export
from ketapain.protocol import load_protocol

from .conftest import make_settings
from .test_api import DN4, TODAY, _patient

PATIENT = {"sex": "F", "age_years": 50, "pain_type": "radiculopathy"}


def _audit(app, table: str, record_id: str, field: str) -> list[tuple[str | None, str | None]]:
    with app.state.sessionmaker() as s:
        rows = s.execute(select(AuditLog.old_value, AuditLog.new_value).where(
            AuditLog.table_name == table, AuditLog.record_id == record_id, AuditLog.field == field).order_by(AuditLog.seq)).all()
    return [tuple(r) for r in rows]


def _loc(r) -> tuple[list[str], str]:
    [err] = r.json()["detail"]
    return err["loc"], err["msg"]


def test_enrolment_records_the_only_site_its_country_and_race_not_reported(app, clients):
    nurse = clients["nurse"]
    r = nurse.post("/patients", PATIENT)  # one site: left out means that site
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["site_id"], p["country"], p["race"]) == ("CFD", "FRA", "NOT REPORTED")
    r = nurse.post("/patients", PATIENT | {"site_id": "CFD"})
    assert r.status_code == 201 and r.json()["country"] == "FRA"
    # the audit trail has the country and race written at enrolment
    record = str(p["id"])
    assert _audit(app, "patients", record, "country") == [(None, "FRA")]
    assert _audit(app, "patients", record, "race") == [(None, "NOT REPORTED")]


def test_unknown_site_and_race_when_not_collected_are_refused_on_their_field(clients):
    nurse = clients["nurse"]
    r = nurse.post("/patients", PATIENT | {"site_id": "LYO"})
    assert r.status_code == 422
    assert _loc(r) == (["body", "site_id"], "site_id='LYO' is not a site of the protocol; allowed: CFD")
    r = nurse.post("/patients", PATIENT | {"race": "WHITE"})
    assert r.status_code == 422
    loc, msg = _loc(r)
    assert loc == ["body", "race"] and "does not collect race" in msg and "'NOT REPORTED'" in msg
    r = nurse.post("/patients", PATIENT | {"race": "white"})  # not a CDISC term at all
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "race"]
    # nothing half-saved
    assert nurse.get("/patients").json() == []


def test_questionnaire_completion_date_default_bounds_and_correction(app, clients):
    nurse = clients["nurse"]
    pid = _patient(clients, infused_days_ago=45)  # screened (included) 59 days ago
    included = TODAY - dt.timedelta(days=59)
    body = {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": DN4}
    future = str(TODAY + dt.timedelta(days=1))
    r = nurse.post("/questionnaires", body | {"completed_date": future})
    assert r.status_code == 422
    assert _loc(r) == (["body", "completed_date"], f"completed_date={future} is in the future (today is {TODAY}, UTC)")
    early = str(included - dt.timedelta(days=1))
    r = nurse.post("/questionnaires", body | {"completed_date": early})
    assert r.status_code == 422
    assert _loc(r) == (["body", "completed_date"], f"completed_date={early} is before the inclusion of patient {pid} "
                                                   f"({included}, the date of their screening)")
    r = nurse.post("/questionnaires", body | {"completed_date": str(included)})  # the inclusion day itself is allowed
    assert r.status_code == 201 and r.json()["completed_date"] == str(included)
    r = nurse.post("/questionnaires", {**body, "visit": "end_period_1", "instrument": "pgic", "answers": {"1": 3}})
    assert r.status_code == 201 and r.json()["completed_date"] == str(TODAY)  # default: today
    # a correction of the date alone: checked as on save, audited with the reason
    path = f"/patients/{pid}/questionnaires/inclusion/dn4"
    r = clients["nurse"].patch(path, {"completed_date": future, "reason": "typo"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "completed_date"]
    later = str(included + dt.timedelta(days=2))
    r = clients["nurse"].patch(path, {"completed_date": later, "reason": "date copied from the paper form"})
    assert r.status_code == 200, r.text
    assert r.json()["completed_date"] == later
    rid = str(r.json()["id"])
    assert _audit(app, "questionnaire_responses", rid, "completed_date") == [(None, str(included)),
                                                                             (str(included), later)]


def test_export_fills_site_country_race_and_completed_date(app, clients):
    pid = _patient(clients, infused_days_ago=45)
    nurse = clients["nurse"]
    assert nurse.post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": DN4,
                                          "completed_date": str(TODAY - dt.timedelta(days=50))}).status_code == 201
    with app.state.sessionmaker() as s:
        data = export.export_trial(Context(s, Actor("ph", "pharmacist"), make_settings("sqlite://"), load_protocol("ketapain")))
    p = data.patients.set_index("patient_id").loc[pid]
    assert (p["site_id"], p["country"], p["race"]) == ("CFD", "FRA", "NOT REPORTED")
    q = data.questionnaires
    assert set(q["completed_date"]) == {pd.Timestamp(TODAY - dt.timedelta(days=50))}
    assert len(q) == 10 and str(q["completed_date"].dtype).startswith("datetime64")


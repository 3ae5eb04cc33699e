"""Two sites and race collected (issue 20): the site is required and the country follows it;
race is required and one of the CDISC terms; a correction of the site moves the country.
Every test on SQLite and PostgreSQL (see conftest)."""

from __future__ import annotations

from importlib import resources

import pytest
from sqlalchemy import select

from ketapain.capture import create_app
from ketapain.capture.models import AuditLog
from ketapain.data import RACES

from .conftest import make_settings

KETAPAIN = (resources.files("ketapain.protocol") / "files" / "ketapain.toml").read_text(encoding="utf-8")
TWO_SITES = KETAPAIN.replace("race_collected = false", "race_collected = true").replace(
    'country = "FRA"\n', 'country = "FRA"\n\n[[sites]]\nid = "GVA"\nname = "HUG Geneva"\ncountry = "CHE"\n', 1)
PATIENT = {"sex": "M", "age_years": 61, "pain_type": "radiculopathy"}


@pytest.fixture
def app(db_url: str, tmp_path):
    path = tmp_path / "two_sites.toml"
    path.write_text(TWO_SITES, encoding="utf-8")
    app = create_app(make_settings(db_url, protocol=str(path)))
    yield app
    app.state.engine.dispose()


def _loc(r) -> tuple[list[str], str]:
    [err] = r.json()["detail"]
    return err["loc"], err["msg"]


def test_site_and_race_are_required_and_checked(clients):
    nurse = clients["nurse"]
    r = nurse.post("/patients", PATIENT | {"race": "ASIAN"})
    assert r.status_code == 422 and _loc(r) == (["body", "site_id"], "site_id is required: the protocol has sites CFD, GVA")
    r = nurse.post("/patients", PATIENT | {"site_id": "LYO", "race": "ASIAN"})
    assert r.status_code == 422
    assert _loc(r) == (["body", "site_id"], "site_id='LYO' is not a site of the protocol; allowed: CFD, GVA")
    r = nurse.post("/patients", PATIENT | {"site_id": "GVA"})
    assert r.status_code == 422
    assert _loc(r) == (["body", "race"], "race is required: the protocol collects race; one of " + ", ".join(RACES))
    r = nurse.post("/patients", PATIENT | {"site_id": "GVA", "race": "Caucasian"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "race"]
    assert nurse.get("/patients").json() == []  # nothing half-saved
    r = nurse.post("/patients", PATIENT | {"site_id": "GVA", "race": "ASIAN"})
    assert r.status_code == 201, r.text
    assert (r.json()["site_id"], r.json()["country"], r.json()["race"]) == ("GVA", "CHE", "ASIAN")


def test_a_site_correction_moves_the_country_with_audit_rows(app, clients):
    nurse = clients["nurse"]
    r = nurse.post("/patients", PATIENT | {"site_id": "GVA", "race": "WHITE"})
    pid, rid = r.json()["patient_id"], str(r.json()["id"])
    r = nurse.patch(f"/patients/{pid}", {"site_id": "CFD", "race": "MULTIPLE", "reason": "enrolled at the wrong site"})
    assert r.status_code == 200, r.text
    assert (r.json()["site_id"], r.json()["country"], r.json()["race"]) == ("CFD", "FRA", "MULTIPLE")
    r = nurse.patch(f"/patients/{pid}", {"site_id": "XX", "reason": "typo"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "site_id"]
    with app.state.sessionmaker() as s:
        rows = s.execute(select(AuditLog.field, AuditLog.old_value, AuditLog.new_value, AuditLog.reason).where(
            AuditLog.table_name == "patients", AuditLog.record_id == rid, AuditLog.action == "update")
            .order_by(AuditLog.seq)).all()
    assert sorted(tuple(r) for r in rows) == [
        ("country", "CHE", "FRA", "enrolled at the wrong site"),
        ("race", "WHITE", "MULTIPLE", "enrolled at the wrong site"),
        ("site_id", "GVA", "CFD", "enrolled at the wrong site"),
    ]

"""The enrolment form's site and race, and the questionnaire form's completion date (issue
20), through the pages (TestClient), with the reference protocol (one site, race not
collected) and a two-site protocol that collects race."""

from __future__ import annotations

import datetime as dt
import html
import re
from importlib import resources

import pytest
from sqlalchemy import select

from ketapain.capture import create_app
from ketapain.capture.models import Patient, QuestionnaireResponse
from ketapain.data import RACES

from ..conftest import make_settings
from .conftest import ROLE_PW, Web
from .test_pages import TODAY, new_patient

ENROL = {"sex": "F", "age_years": "50", "pain_type": "radiculopathy"}


def test_enrolment_form_offers_the_protocol_site_and_says_race_is_not_collected(app, webs):
    nurse = webs["nurse"]
    page = nurse.get("/patients").text
    assert re.search(r'<select name="site_id" required><option value="CFD">CFD — CHU Clermont-Ferrand \(FRA\)</option>', page)
    assert 'name="race"' not in page and "race is not collected in this study" in page
    r = nurse.post("/patients", ENROL | {"site_id": "LYO"})
    assert r.status_code == 422
    assert html.escape("site_id='LYO' is not a site of the protocol; allowed: CFD", quote=False) in r.text.replace("&#39;", "'")
    r = nurse.post("/patients", ENROL | {"site_id": "CFD"})
    assert r.status_code == 303
    pid = r.headers["location"].split("/")[2].split("?")[0]
    with app.state.sessionmaker() as s:
        p = s.execute(select(Patient).where(Patient.patient_id == pid)).scalars().one()
        assert (p.site_id, p.country, p.race) == ("CFD", "FRA", "NOT REPORTED")
    listing = nurse.get("/patients").text
    assert "<td>CFD</td><td>FRA</td>" in listing
    assert "CFD (FRA)" in nurse.get(f"/patients/{pid}").text
    assert "la race n&#39;est pas recueillie" in nurse.get("/patients?lang=fr").text


def test_questionnaire_form_dates_the_response(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse, infused_days_ago=5)  # screened 30 days ago (test_pages.screening_form)
    included = TODAY - dt.timedelta(days=30)
    page = nurse.get(f"/patients/{pid}/questionnaire?visit=end_period_1&instrument=pgic").text
    assert (f'<input type="date" name="completed_date" value="{TODAY}" max="{TODAY}" min="{included}" required>'
            in page)
    form = {"visit": "end_period_1", "instrument": "pgic", "item_1": "3"}
    future = TODAY + dt.timedelta(days=3)
    r = nurse.post(f"/patients/{pid}/questionnaire", form | {"completed_date": str(future)})
    assert r.status_code == 422 and f"completed_date={future} is in the future" in r.text
    early = included - dt.timedelta(days=1)
    r = nurse.post(f"/patients/{pid}/questionnaire", form | {"completed_date": str(early)})
    assert r.status_code == 422 and f"completed_date={early} is before the inclusion of patient {pid}" in r.text
    with app.state.sessionmaker() as s:  # nothing half-saved
        assert s.execute(select(QuestionnaireResponse)).scalars().all() == []
    when = TODAY - dt.timedelta(days=2)
    assert nurse.post(f"/patients/{pid}/questionnaire", form | {"completed_date": str(when)}).status_code == 303
    with app.state.sessionmaker() as s:
        assert s.execute(select(QuestionnaireResponse.completed_date)).scalars().one() == when
    casebook = nurse.get(f"/patients/{pid}").text
    assert f"<td>{when}</td>" in casebook


# --- a protocol with two sites that collects race --------------------------------------------

KETAPAIN = (resources.files("ketapain.protocol") / "files" / "ketapain.toml").read_text(encoding="utf-8")
TWO_SITES = KETAPAIN.replace("race_collected = false", "race_collected = true").replace(
    'country = "FRA"\n', 'country = "FRA"\n\n[[sites]]\nid = "GVA"\nname = "HUG Geneva"\ncountry = "CHE"\n', 1)


@pytest.fixture
def two_sites(db_url: str, tmp_path):
    path = tmp_path / "two_sites.toml"
    path.write_text(TWO_SITES, encoding="utf-8")
    app = create_app(make_settings(db_url, protocol=str(path)))
    yield app
    app.state.engine.dispose()


def test_two_sites_and_race_collected(two_sites):
    from ..conftest import ADMIN_PW, Api

    admin = Api(two_sites, "admin", ADMIN_PW)
    assert admin.post("/users", {"username": "nurse", "role": "nurse", "password": ROLE_PW, "full_name": "N"}).status_code == 201
    nurse = Web(two_sites, "nurse", ROLE_PW)
    page = nurse.get("/patients").text
    assert '<select name="site_id" required><option value="">—</option><option value="CFD">' in page
    assert '<option value="GVA">GVA — HUG Geneva (CHE)</option>' in page
    assert all(f'<option value="{r}">{r}</option>' in page for r in RACES)
    r = nurse.post("/patients", ENROL | {"site_id": "", "race": "ASIAN"})
    assert r.status_code == 422 and "site_id is required: the protocol has sites CFD, GVA" in r.text
    r = nurse.post("/patients", ENROL | {"site_id": "GVA", "race": ""})
    assert r.status_code == 422 and "race is required: the protocol collects race" in r.text
    r = nurse.post("/patients", ENROL | {"site_id": "GVA", "race": "Martian"})
    assert r.status_code == 422 and "race" in r.text
    assert nurse.post("/patients", ENROL | {"site_id": "GVA", "race": "ASIAN"}).status_code == 303
    listing = nurse.get("/patients").text
    assert "<td>GVA</td><td>CHE</td>" in listing and "<td>ASIAN</td>" in listing

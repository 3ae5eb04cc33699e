"""The correction pages (``/correct/{table}/{record_id}``, issue 16) with the ``webs`` form
clients, on SQLite and PostgreSQL: a pre-filled form per record type linked from the casebook,
the screening page and the users page; the correction saved with its reason (audited, old and
new value); problems shown in the form with the values sent and nothing saved; "entered in
error" with a reason; roles; the page in French."""

from __future__ import annotations

import datetime as dt
import html
import re

from ketapain.data import DRUG_CLASSES
from ketapain.protocol import load_protocol

from .conftest import ROLE_PW, Web
from .test_i18n import untranslated, visible_text
from .test_pages import TODAY, _public_protocol_text, new_patient

APP_SETTINGS = {"visit_window_days": 60}
"""The ``app`` fixture's settings here: these tests are about corrections, and the dates they record
and correct (today, yesterday) must stay inside the visit windows whatever the infusion dates;
the window rules have their own tests (test_visit_windows.py)."""


def _day(n: int) -> str:
    return str(TODAY + dt.timedelta(days=n))


def _casebook_records(web: Web, pid: str) -> dict[str, list[str]]:
    """The casebook's correction links: table -> record ids."""
    out: dict[str, list[str]] = {}
    for table, rid in re.findall(r'href="/correct/(\w+)/(\d+)"', web.get(f"/patients/{pid}").text):
        out.setdefault(table, []).append(rid)
    return out


def _fill(web: Web, pid: str) -> dict[str, str]:
    """A visit, a DN4, an adverse event and a concomitant treatment entered through the pages."""
    assert web.post(f"/patients/{pid}/visits", {"visit": "inclusion", "visit_date": _day(0)}).status_code == 303
    items = {f"item_{i}": str(int(i <= 5)) for i in range(1, 11)}
    assert web.post(f"/patients/{pid}/questionnaire", {"visit": "inclusion", "instrument": "dn4", **items}).status_code == 303
    assert web.post(f"/patients/{pid}/adverse-events", {"period": "1", "term": "nausea", "severity": "mild", "serious": "no",
                                                         "causality": "possibly"}).status_code == 303
    cm = {"period": "0", "drug_class": DRUG_CLASSES[0], "drug_name": "tramadol"}
    assert web.post(f"/patients/{pid}/concomitant", cm).status_code == 303
    links = _casebook_records(web, pid)
    assert set(links) == {"patients", "visits", "questionnaire_responses", "adverse_events", "concomitant"}, links
    return {table: ids[0] for table, ids in links.items()}


def test_each_record_type_corrected_through_its_page(app, webs, clients):
    nurse, mon = webs["nurse"], clients["monitor"]
    pid = new_patient(nurse)
    ids = _fill(nurse, pid)
    changes = {  # table -> (a stored value shown in the form, the fields sent, the audited field and its new value)
        "visits": (f'value="{_day(0)}"', {"visit_date": _day(-1)}, "visit_date", _day(-1)),
        "questionnaire_responses": ('name="item_6" type="number" value="0"', {f"item_{i}": str(int(i <= 6)) for i in range(1, 11)},
                                    "answers", None),
        "adverse_events": ('value="nausea"', {"period": "1", "term": "vomiting", "severity": "mild", "serious": "no",
                                              "causality": "possibly"}, "term", "vomiting"),
        "concomitant": ('value="tramadol"', {"period": "0", "drug_class": DRUG_CLASSES[0], "drug_name": "tapentadol"},
                        "drug_name", "tapentadol"),
        "patients": ('name="age_years" type="number" value="50"', {"sex": "F", "age_years": "51", "weight_kg": "70", "height_m": "1.65",
                                                                   "pain_type": "radiculopathy", "pain_duration_years": "1",
                                                                   "dn4_total": "5"}, "age_years", "51"),
    }
    for table, (shown, form, field, new) in changes.items():
        url = f"/correct/{table}/{ids[table]}"
        page = nurse.get(url)
        assert page.status_code == 200 and shown in page.text, (table, page.text)
        assert 'data-testid="entered-in-error"' in page.text
        r = nurse.post(url, {**form, "reason": f"{table} typed wrong"})
        assert r.status_code == 303 and "msg=corrected" in r.headers["location"], (table, r.text)
        rows = [a for a in mon.get(f"/audit?table={table}&record_id={ids[table]}").json() if a["action"] == "update"]
        row = next(a for a in rows if a["field"] == field)
        assert row["reason"] == f"{table} typed wrong" and row["old_value"] != row["new_value"]
        assert new is None or row["new_value"] == new
    page = nurse.get(f"/patients/{pid}").text
    assert "vomiting" in page and "tapentadol" in page and f"<td>{_day(-1)}</td>" in page
    assert "dn4.total = 6" in page or "total = 6" in page
    assert "Correction saved." in nurse.get(f"/patients/{pid}?msg=corrected").text


def test_problems_are_shown_in_the_form_and_nothing_is_saved(app, webs, clients):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    ids = _fill(nurse, pid)
    url = f"/correct/patients/{ids['patients']}"
    form = {"sex": "F", "age_years": "12", "weight_kg": "70", "pain_type": "radiculopathy", "reason": "age typed wrong"}
    r = nurse.post(url, form)
    assert r.status_code == 422 and 'data-testid="correction-problems"' in r.text
    assert 'data-field="age_years"' in r.text and 'value="12"' in r.text and 'value="age typed wrong"' in r.text
    r = nurse.post(url, {**form, "age_years": "51", "weight_kg": "heavy"})  # not a number: nothing half-saved
    assert r.status_code == 422
    assert clients["nurse"].get(f"/patients/{pid}").json()["age_years"] == 50
    r = nurse.post(url, {**form, "age_years": "51", "reason": ""})
    assert r.status_code == 422 and 'data-field="reason"' in r.text
    r = nurse.post(f"/correct/visits/{ids['visits']}", {"visit_date": _day(0), "reason": "same date"})
    assert r.status_code == 409 and "nothing to correct" in r.text
    assert clients["nurse"].get(f"/patients/{pid}").json()["age_years"] == 50


def test_entered_in_error_button_and_roles(app, webs, clients):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    ids = _fill(nurse, pid)
    url = f"/correct/adverse_events/{ids['adverse_events']}"
    for role in ("monitor", "pharmacist", "statistician", "admin"):
        assert webs[role].get(url).status_code == 403, role
        assert webs[role].post(url + "/entered-in-error", {"reason": "x"}).status_code == 403, role
    assert 'href="/correct/' not in webs["monitor"].get(f"/patients/{pid}").text
    r = nurse.post(url + "/entered-in-error", {})
    assert r.status_code == 422 and 'data-testid="correction-problems"' in r.text
    r = nurse.post(url + "/entered-in-error", {"reason": "wrong patient"})
    assert r.status_code == 303 and "msg=entered_in_error" in r.headers["location"]
    page = nurse.get(f"/patients/{pid}").text
    assert "nausea" not in page and f"/correct/adverse_events/{ids['adverse_events']}" not in page
    assert nurse.get(url).status_code == 409
    trail = clients["monitor"].get(f"/audit?table=adverse_events&record_id={ids['adverse_events']}").json()
    assert trail[0]["action"] == "entered_in_error" and trail[0]["reason"] == "wrong patient"
    r = nurse.post(f"/correct/patients/{ids['patients']}/entered-in-error", {"reason": "duplicate"})
    assert r.status_code == 409 and "randomised" in r.text  # a randomised patient stays
    assert nurse.get("/correct/allocations/1").status_code == 404


def test_screening_and_user_correction_pages(app, webs, clients):
    nurse, admin = webs["nurse"], webs["admin"]
    pid = new_patient(nurse)
    sid = clients["nurse"].get(f"/patients/{pid}").json()["screening_id"]
    scr = next(s for s in clients["nurse"].get("/screenings").json() if s["screening_id"] == sid)
    assert f'href="/correct/screenings/{scr["id"]}"' in nurse.get("/screening").text
    url = f"/correct/screenings/{scr['id']}"
    page = nurse.get(url).text
    radios = dict(re.findall(r'name="(c_[\w.]+)" value="(yes|no)" checked', page))
    assert radios and set(radios.values()) <= {"yes", "no"}
    form = dict(re.findall(r'name="(a_\w+)" type="number" value="([^"]*)"', page)) | radios
    form |= dict(re.findall(r'name="(dn4_\d+)" value="(yes|no)" checked', page))
    form |= dict(re.findall(r'<select name="(a_\w+)">.*?<option value="([^"]*)" selected>', page))
    assert any(k.startswith("a_") for k in form)
    r = nurse.post(url, {**form, "screening_date": _day(-20), "reason": "date typed wrong"})  # the answers as shown: still eligible
    assert r.status_code == 303, r.text
    after = next(s for s in clients["nurse"].get("/screenings").json() if s["screening_id"] == sid)
    assert (after["eligible"], after["screening_date"]) == (True, _day(-20))
    exclusion = next(k for k, v in radios.items() if v == "no")  # an exclusion that does not apply
    r = nurse.post(url, {**form, exclusion: "yes", "reason": "the exclusion applies after all"})
    assert r.status_code == 303, r.text
    after = next(s for s in clients["nurse"].get("/screenings").json() if s["screening_id"] == sid)
    assert after["eligible"] is False and after["outcome"] == "randomised"  # kept; the deviation shows in eligible/failed
    users_page = admin.get("/users").text
    uid = re.search(r'<tr><td>monitor</td>.*?href="/correct/users/(\d+)"', users_page, re.S).group(1)
    r = admin.post(f"/correct/users/{uid}", {"full_name": "Dr M. Onitor", "role": "monitor", "reason": "name"})
    assert r.status_code == 303 and "Dr M. Onitor" in admin.get("/users").text
    r = admin.post("/correct/users/1", {"full_name": "Administrator", "role": "monitor", "reason": "self"})
    assert r.status_code == 403  # nobody changes their own role
    assert 'data-testid="entered-in-error"' not in admin.get(f"/correct/users/{uid}").text
    assert nurse.get(f"/correct/users/{uid}").status_code == 403


def test_correction_pages_in_french(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    ids = _fill(nurse, pid)
    fr = Web(app, "nurse", ROLE_PW, lang="fr")
    public = [html.unescape(t) for t in _public_protocol_text(load_protocol("ketapain"))]
    for table, rid in ids.items():
        r = fr.get(f"/correct/{table}/{rid}")
        assert r.status_code == 200 and '<html lang="fr">' in r.text
        assert untranslated(visible_text(r.text), public) == [], table
    assert "Corriger la visite inclusion de " + pid in fr.get(f"/correct/visits/{ids['visits']}").text
    r = fr.post(f"/correct/visits/{ids['visits']}", {"visit_date": _day(0), "reason": "rien"})
    assert r.status_code == 409 and "La correction n'a pas été enregistrée." in html.unescape(r.text)
    assert untranslated(visible_text(r.text), public) == []

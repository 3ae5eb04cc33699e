"""Page tests (TestClient): every page for every role, CSRF, blinding of the HTML, the form
flows, and the patient diary by its link. Each test runs on SQLite and on PostgreSQL when
one answers (the ``app`` fixture of tests/capture/conftest.py)."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select

from ketapain.capture.models import Allocation, DiaryEntry, QuestionnaireResponse
from ketapain.instruments import get_instrument
from ketapain.operations import screening_questions
from ketapain.protocol import load_protocol

from .conftest import ROLE_PW, Web

TODAY = dt.datetime.now(dt.UTC).date()
ROLES = ("admin", "investigator", "nurse", "pharmacist", "statistician", "monitor")
BLINDED_ROLES = ("admin", "investigator", "nurse", "statistician", "monitor")   # before lock (roles.is_blinded)
NUMBERS = {"age": "50", "pain_duration_months": "12", "pain_origin": "peripheral"}


def screening_form(**over: str) -> dict[str, str]:
    """The screening form of an eligible person: every inclusion criterion "yes", every
    exclusion "no" (yes/no questions are the criteria's texts, ``c_<criterion id>``);
    DN4 items 1..5 yes -> total 5 (hand count)."""
    form = {f"a_{k}": v for k, v in NUMBERS.items()} | {f"dn4_{i}": str(int(i <= 5)) for i in range(1, 11)}
    for q in screening_questions(load_protocol("ketapain")):
        if q.answer == "yes_no":
            form[f"c_{q.criterion}"] = "yes" if q.kind == "inclusion" else "no"
    form["screening_date"] = str(TODAY - dt.timedelta(days=30))  # before the first infusion (the date rules)
    return form | over


def new_patient(web: Web, *, infused_days_ago: int | None = 5) -> str:
    """Screen, enrol, randomise (and infuse period 1) through the pages; returns the patient id."""
    assert web.post("/screening", screening_form()).status_code == 303
    page = web.get("/patients").text
    scr = re.findall(r'<option value="(S\d+)">', page)[-1]
    r = web.post("/patients", {"screening_id": scr, "sex": "F", "age_years": "50", "weight_kg": "70", "height_m": "1.65",
                               "pain_type": "radiculopathy", "pain_duration_years": "1", "dn4_total": "5"})
    assert r.status_code == 303, r.text
    pid = r.headers["location"].split("/")[2].split("?")[0]
    assert web.post(f"/patients/{pid}/randomise").status_code == 303
    if infused_days_ago is not None:
        r = web.post(f"/patients/{pid}/infusions", {"period": "1", "infusion_date": str(TODAY - dt.timedelta(days=infused_days_ago)),
                                                     "pre_infusion_pain": "7"})
        assert r.status_code == 303, r.text
    return pid


def page_matrix(pid: str) -> dict[str, dict[str, int]]:
    """GET path -> expected status per role (roles.PERMISSIONS; pages of forbidden actions: 403)."""
    everyone = dict.fromkeys(ROLES, 200)
    only = lambda *ok: {r: 200 if r in ok else 403 for r in ROLES}  # noqa: E731
    return {
        "/": everyone, "/screening": everyone, "/patients": everyone, f"/patients/{pid}": everyone, "/queries": everyone,
        "/audit": only("admin", "investigator", "pharmacist", "statistician", "monitor"),
        "/lock": only("admin", "statistician"), "/users": only("admin"), "/unblinding": only("investigator"),
        f"/patients/{pid}/pharmacy/1": only("pharmacist"),
        f"/patients/{pid}/questionnaire?visit=inclusion&instrument=bpi": only("investigator", "nurse"),
        f"/patients/{pid}/infusions/1": only("investigator", "nurse"),
        f"/patients/{pid}/grid": everyone, f"/patients/{pid}/records/patients/1": everyone,  # the first patient: record 1
    }


# --- blinding scan ----------------------------------------------------------------------

def _public_protocol_text(protocol) -> list[str]:
    """Strings every page may show whatever the allocation (the study title, the criteria
    with their ids and answer fields, and instrument labels name the study drugs): removed
    before scanning."""
    crit = protocol.eligibility.criteria
    texts = [protocol.study.title] + [c.text for c in crit] + [c.id for c in crit] + [c.field for c in crit if c.field]
    for name in {q for v in protocol.visits for q in v.questionnaires} | {"dn4"}:
        inst = get_instrument(name)
        texts += [inst.title] + [it.label for it in inst.items]
    return sorted({html.escape(t) for t in texts} | set(texts), key=len, reverse=True)


def allocation_leaks(page: str, protocol) -> list[str]:
    """Treatment codes, arm names and sequences found in a page's HTML (after removing the
    protocol's public text). Codes match as whole tokens (``P`` in ``P001`` does not)."""
    for t in _public_protocol_text(protocol):
        page = page.replace(t, "")
    codes = sorted(protocol.arm_codes, key=len, reverse=True)
    names = {a.name for a in protocol.arms} | {w for a in protocol.arms for w in re.split(r"\W+", a.name) if len(w) > 3}
    code_re = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, codes)) + r")(?![\w])")
    found = code_re.findall(page)
    found += [n for n in names if n.lower() in page.lower()]
    found += list(re.findall(r"\b[A-Z]+(?:-[A-Z]+){2}\b", page))
    return found


def test_every_page_every_role(app, webs):
    pid = new_patient(webs["nurse"])
    for path, expected in page_matrix(pid).items():
        for role, status in expected.items():
            r = webs[role].get(path)
            assert r.status_code == status, (role, path, r.status_code)
            assert r.headers["content-type"].startswith("text/html")
            if status == 403:
                assert "Error 403" in r.text
    anonymous = Web(app)
    for path in page_matrix(pid):
        r = anonymous.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/static/app.css").status_code == 200 and anonymous.get("/static/diary.js").status_code == 200
    # export: unblinded roles only (pharmacist before lock); a zip of the TrialData folder
    for role in ROLES:
        r = webs[role].post("/export")
        assert r.status_code == (200 if role == "pharmacist" else 403), role
    assert r.status_code == 403 and webs["pharmacist"].post("/export").headers["content-type"] == "application/zip"


def test_csrf_required_on_every_form(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    for path, data in [("/patients", {"sex": "F", "age_years": "40", "pain_type": "radiculopathy"}),
                       (f"/patients/{pid}/adverse-events", {"period": "1", "term": "nausea", "severity": "mild", "serious": "no",
                                                            "causality": "possibly"}),
                       ("/screening", screening_form()), ("/logout", {})]:
        assert nurse.post(path, data, csrf=False).status_code == 403, path
        assert nurse.post(path, data | {"csrf_token": "forged"}, csrf=False).status_code == 403, path
    assert webs["admin"].post("/lock", {"reason": "x"}, csrf=False).status_code == 403
    # the login form has its own token (double submit cookie)
    anon = Web(app)
    anon.get("/login")
    assert anon.post("/login", {"username": "admin", "password": "x"}, csrf=False).status_code == 403
    # nothing was written by the refused forms
    assert "nausea" not in nurse.get(f"/patients/{pid}").text
    assert nurse.get("/").status_code == 200   # still logged in: /logout without token was refused


def test_blinded_roles_never_see_allocation_in_html(app, webs):
    protocol = load_protocol("ketapain")
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    # a replaced kit (spare of the same arm) must not reveal the arm either
    assert webs["pharmacist"].post(f"/patients/{pid}/kit/2", {"reason": "damaged box"}).status_code == 303
    with app.state.sessionmaker() as s:
        rows = s.execute(select(Allocation).where(Allocation.patient_id == pid).order_by(Allocation.period)).scalars().all()
        truth = [(r.kit_code, r.treatment, r.sequence) for r in rows]
    paths = [*list(page_matrix(pid)), f"/patients/{pid}?lang=fr", "/audit?table=allocations", "/audit?table=spare_kits"]
    for role in BLINDED_ROLES:
        for path in paths:
            page = webs[role].get(path).text
            assert allocation_leaks(page, protocol) == [], (role, path)
        casebook = webs[role].get(f"/patients/{pid}").text
        assert all(kit in casebook for kit, _, _ in truth)   # the kit codes are what blinded staff see
    # positive control: the same scan finds the allocation on the pharmacist's pages
    pharm = webs["pharmacist"].get(f"/patients/{pid}").text
    assert truth[0][2] in pharm and allocation_leaks(pharm, protocol)
    sheet = webs["pharmacist"].get(f"/patients/{pid}/pharmacy/1").text
    assert truth[0][0] in sheet and f'data-testid="arm">{truth[0][1]}<' in sheet and "PREPARATION SHEET" in sheet


def test_screening_enrolment_and_casebook_forms(app, webs):
    nurse, inv = webs["nurse"], webs["investigator"]
    # not eligible: DN4 total 3 < 4 (items 1..3 yes)
    bad = screening_form(**{f"dn4_{i}": str(int(i <= 3)) for i in range(1, 11)})
    assert nurse.post("/screening", bad).status_code == 303
    page = nurse.get("/screening").text
    assert "not eligible" in page and "not_eligible" not in page and "inc_dn4" in page
    pid = new_patient(nurse)
    early = {"visit": "inclusion", "visit_date": str(TODAY - dt.timedelta(days=30))}
    r = nurse.post(f"/patients/{pid}/visits", early)  # 11 days before its expected date: a reason is needed
    assert r.status_code == 422 and "a reason (out_of_window_reason) is needed" in r.text
    r = nurse.post(f"/patients/{pid}/visits", early | {"out_of_window_reason": "seen early"})
    assert r.status_code == 303
    # HADS at inclusion (items 0-3): answers 1 for all 14 -> anxiety 7 and depression 7 (7 items each; hand count)
    hads = get_instrument("hads")
    q = nurse.get(f"/patients/{pid}/questionnaire?visit=inclusion&instrument=hads").text
    assert all(f'name="item_{it.key}"' in q for it in hads.items) and html.escape(hads.items[0].label) in q
    form = {"visit": "inclusion", "instrument": "hads"} | {f"item_{it.key}": "1" for it in hads.items}
    assert nurse.post(f"/patients/{pid}/questionnaire", form).status_code == 303
    with app.state.sessionmaker() as s:
        resp = s.execute(select(QuestionnaireResponse).where(QuestionnaireResponse.patient_id == pid)).scalars().one()
        assert resp.answers["1"] == 1 and resp.scores["anxiety"] == 7 and resp.scores["depression"] == 7
    r = nurse.post(f"/patients/{pid}/adverse-events", {"period": "1", "term": "dizziness", "severity": "moderate", "serious": "no",
                                                       "causality": "probably", "onset_date": str(TODAY)})
    assert r.status_code == 303
    added = {"period": "0", "drug_class": "antiepileptics", "drug_name": "pregabalin"}
    assert nurse.post(f"/patients/{pid}/concomitant", added).status_code == 303
    page = nurse.get(f"/patients/{pid}").text
    for text in (
        ("dizziness", "moderate", "probably related", "pregabalin", "anxiety = 7", "in window")
        if False
        else ("dizziness", "moderate", "probably related", "pregabalin", "anxiety = 7")
    ):
        assert text in page, text
    # the visit 30 days before a first infusion 5 days ago is 11 days early: out of the 3-day window
    assert "out of window (-11 days)" in page and "(seen early)" in page
    # French casebook: labels from fr.json
    fr = nurse.get(f"/patients/{pid}?lang=fr").text
    assert "Événements indésirables" in fr and "probable" in fr
    # a bad form gets 422 with one message per field, and stores nothing
    r = nurse.post(
        f"/patients/{pid}/adverse-events", {"period": "1", "term": "x", "severity": "huge", "serious": "no", "causality": "possibly"}
    )
    assert r.status_code == 422 and "severity" in r.text
    # the investigator signs; a later change voids the signature and the casebook says why
    assert inv.post(f"/patients/{pid}/sign", {"meaning": "approved", "password": "wrong-password"}).status_code == 401
    assert inv.post(f"/patients/{pid}/sign", {"meaning": "approved", "password": ROLE_PW}).status_code == 303
    assert 'class="sig-valid"' in inv.get(f"/patients/{pid}").text
    assert nurse.post(f"/patients/{pid}/concomitant", {"period": "1", "drug_class": "tramadol"}).status_code == 303
    page = inv.get(f"/patients/{pid}").text
    assert 'class="sig-void"' in page and "concomitant" in page.split('class="sig-void"')[1].split("</tr>")[0]


def test_queries_lock_unblinding_and_audit_pages(app, webs):
    nurse, mon, admin, inv = webs["nurse"], webs["monitor"], webs["admin"], webs["investigator"]
    pid = new_patient(nurse)
    with app.state.sessionmaker() as s:
        from ketapain.capture.models import Infusion

        inf_id = s.execute(select(Infusion.id).where(Infusion.patient_id == pid)).scalar()
    assert (
        mon.post(
            "/queries",
            {"table_name": "infusions", "record_id": str(inf_id), "field": "pre_infusion_pain", "text": "please check the source"},
        ).status_code
        == 303
    )
    assert nurse.post("/queries", {"table_name": "infusions", "record_id": str(inf_id), "text": "x"}).status_code == 403
    qid = re.search(r"<tr><td>(\d+)</td>", mon.get("/queries").text).group(1)
    assert nurse.post(f"/queries/{qid}/answer", {"answer": "checked: 7 is right"}).status_code == 303
    assert nurse.post(f"/queries/{qid}/close", {}).status_code == 403
    assert mon.post(f"/queries/{qid}/close", {"reason": "ok"}).status_code == 303
    assert "checked: 7 is right" in nurse.get(f"/patients/{pid}").text and ">closed<" in mon.get("/queries?status=closed").text
    # lock: requested by the admin, approved by the statistician (two-person rule); writes
    # refused; unlock: same, with the password again
    stat = webs["statistician"]
    assert admin.post("/lock", {"action": "lock", "reason": "final analysis"}).status_code == 403
    assert admin.post("/lock/requests", {"action": "lock", "reason": "final analysis", "password": "admin-password-1"}).status_code == 303
    rid = re.search(r'action="/lock/requests/(\d+)/approve"', stat.get("/lock").text).group(1)
    assert f'/lock/requests/{rid}/approve' not in admin.get("/lock").text   # the requester is offered no approval
    assert admin.post(f"/lock/requests/{rid}/approve", {"password": "admin-password-1"}).status_code == 403
    assert stat.post(f"/lock/requests/{rid}/approve", {"password": ROLE_PW}).status_code == 303
    assert "locked" in nurse.get("/").text.lower()
    r = nurse.post(f"/patients/{pid}/concomitant", {"period": "1", "drug_class": "nefopam"})
    assert r.status_code == 409
    assert admin.post("/lock/requests", {"action": "unlock", "password": "not-it", "reason": "fix"}).status_code == 401
    assert admin.post("/lock/requests", {"action": "unlock", "password": "admin-password-1", "reason": "late query"}).status_code == 303
    rid = re.search(r'action="/lock/requests/(\d+)/approve"', stat.get("/lock").text).group(1)
    assert stat.post(f"/lock/requests/{rid}/approve", {"password": ROLE_PW}).status_code == 303
    assert nurse.post(f"/patients/{pid}/concomitant", {"period": "1", "drug_class": "nefopam"}).status_code == 303
    # emergency unblinding: reason + password; shown to that investigator only; admins notified
    assert inv.post("/unblinding", {"patient_id": pid, "period": "1", "reason": "anaphylaxis", "password": "bad"}).status_code == 401
    assert inv.post("/unblinding", {"patient_id": pid, "period": "1", "reason": "anaphylaxis", "password": ROLE_PW}).status_code == 303
    with app.state.sessionmaker() as s:
        arm = s.execute(select(Allocation.treatment).where(Allocation.patient_id == pid, Allocation.period == 1)).scalar()
    assert f'data-testid="revealed-arm">{arm} (' in inv.get("/unblinding").text
    other = (
        Web(app, "inv2", "role-password-2")
        if webs["admin"].post("/users", {"username": "inv2", "role": "investigator", "password": "role-password-2"}).status_code == 303
        else None
    )
    assert other is not None and "revealed-arm" not in other.get("/unblinding").text
    assert "anaphylaxis" in admin.get("/").text  # the admin's notification
    audit = admin.get("/audit?table=concomitant").text
    assert "nefopam" in audit and "nurse" in audit


def test_login_rate_limit_and_logout(app, webs):
    anon = Web(app)
    page = anon.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    codes = [
        anon.post("/login", {"csrf_token": token, "username": "monitor", "password": "wrong"}, csrf=False).status_code for _ in range(6)
    ]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    nurse = webs["nurse"]
    assert nurse.post("/logout").status_code == 303
    assert nurse.get("/").status_code == 303


# --- the patient diary ------------------------------------------------------------------


def _link(web: Web, pid: str) -> str:
    r = web.post(f"/patients/{pid}/diary-link", {"action": "issue"})
    assert r.status_code == 200
    return re.search(r'data-testid="diary-link">[^<]*(/diary/[^<"]+)<', r.text).group(1)


def _entry(app, pid: str, period: int, day: int) -> DiaryEntry | None:
    with app.state.sessionmaker() as s:
        return (
            s.execute(select(DiaryEntry).where(DiaryEntry.patient_id == pid, DiaryEntry.period == period, DiaryEntry.day == day))
            .scalars()
            .first()
        )


def test_diary_by_link_today_backfill_change_and_revocation(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse, infused_days_ago=5)
    link = _link(nurse, pid)
    patient = Web(app, lang="en-GB,en;q=0.9")
    page = patient.get(link).text
    assert "Today" in page and "period 1, day 5" in page
    assert page.count('type="radio" name="avg_pain"') == 11 and 'name="night_pain" value="10"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {
        "csrf_token": csrf,
        "period": "1",
        "day": "5",
        "mode": "new",
        "avg_pain": "4",
        "max_pain": "7",
        "night_pain": "3",
        "extra_analgesics": "yes",
        "extra_analgesics_detail": "paracetamol 1 g",
        "device_time": "2024-01-01T08:00:00.000Z",
    }
    r = patient.post(link, form, csrf=False)
    assert r.status_code == 303 and "/done?period=1&day=5" in r.headers["location"]
    done = patient.get(r.headers["location"]).text
    assert 'data-testid="confirmation"' in done and "<strong>7</strong>" in done and 'data-testid="late"' not in done
    e = _entry(app, pid, 1, 5)
    assert (e.avg_pain, e.max_pain, e.night_pain, e.extra_analgesics, e.late) == (4, 7, 3, True, False)
    assert e.device_time.startswith("2024-01-01T08:00") and e.server_time[:10] == str(TODAY)
    # one entry per day: a second "new" entry is refused (409); a change needs a reason
    assert patient.post(link, form, csrf=False).status_code == 409
    change = form | {"mode": "change", "avg_pain": "5"}
    assert patient.post(link, change, csrf=False).status_code == 422
    assert patient.post(link, change | {"reason": "tapped the wrong number"}, csrf=False).status_code == 303
    assert _entry(app, pid, 1, 5).avg_pain == 5
    audit = webs["investigator"].get("/audit?table=diary_entries").text
    assert "tapped the wrong number" in audit
    # back-fill: day 2 was missed (3 days ago > late_entry_days=1): listed, and stored as late
    page = patient.get(link).text
    assert "?period=1&amp;day=2" in page
    old = patient.get(f"{link}?period=1&day=2").text
    assert "Missed day" in old and "marked as late" in old
    r = patient.post(link, form | {"day": "2", "avg_pain": "6"}, csrf=False)
    assert 'data-testid="late"' in patient.get(r.headers["location"]).text and _entry(app, pid, 1, 2).late is True
    # day 4 (yesterday) is within late_entry_days: not late
    patient.post(link, form | {"day": "4"}, csrf=False)
    assert _entry(app, pid, 1, 4).late is False
    # wrong CSRF token -> 403; a future day -> 422
    assert patient.post(link, form | {"day": "3", "csrf_token": "forged"}, csrf=False).status_code == 403
    assert patient.post(link, form | {"day": "6"}, csrf=False).status_code == 422
    # the dashboard reminder and compliance use the same entries: today's is filled in, days 1 and 3 missing
    dash = nurse.get("/").text
    assert f'<a href="/patients/{pid}">{pid}</a></li>' not in dash.split('id="compliance"')[0]
    assert "period 1, day 1, period 1, day 3" in dash
    # revocation: the link now gets a 403 page
    assert nurse.post(f"/patients/{pid}/diary-link", {"action": "revoke", "reason": "phone lost"}).status_code == 303
    assert patient.get(link).status_code == 403
    assert patient.post(link, form | {"day": "3"}, csrf=False).status_code == 403
    assert patient.get("/diary/not-a-token").status_code == 403


def test_diary_language_from_header_query_and_cookie(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse, infused_days_ago=1)
    link = _link(nurse, pid)
    fr = Web(app, lang="fr-FR,fr;q=0.9,en;q=0.5")
    page = fr.get(link).text
    assert '<html lang="fr">' in page and "Douleur moyenne" in page and "Aujourd'hui" in page.replace("&#39;", "'")
    en = Web(app, lang="fr")
    assert "Average pain" in en.get(f"{link}?lang=en").text
    assert "Average pain" in en.get(link).text  # remembered in the cookie
    assert "Douleur moyenne" in en.get(f"{link}?lang=fr").text


def test_no_page_for_a_patient_without_period(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse, infused_days_ago=None)
    link = _link(nurse, pid)
    page = Web(app).get(link).text
    assert "no diary to fill in today" in page and 'name="avg_pain"' not in page

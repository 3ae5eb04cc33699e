"""A refused form comes back as its page (422) with each message beside its field (issue 17):
the adverse-event, screening, questionnaire, users and enrolment forms; the submitted values
kept (never a password), a hostile value escaped, the page's language, nothing saved, and the
corrected form accepted. One Chromium test shows the message beside the field (screenshots
in English and French under /tmp/shots-fielderr)."""

from __future__ import annotations

import datetime as dt
import os
import re

from sqlalchemy import func, select

from ketapain.capture import Settings, create_app
from ketapain.capture.models import AdverseEvent, QuestionnaireResponse, Screening, Unblinding, User
from ketapain.capture.web._fieldhtml import FieldProblem, annotate_form
from ketapain.instruments import get_instrument

from .conftest import ADMIN_PW, ROLE_PW, SECRET, Web, browser_login, live_server
from .test_pages import _link, new_patient, screening_form

SHOTS = "/tmp/shots-fielderr"
TODAY = dt.datetime.now(dt.UTC).date()
HOSTILE = "<script>alert('x')</script>\" onmouseover=\"y"


def _count(app, model, *where) -> int:
    with app.state.sessionmaker() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _form(page: str, action: str) -> str:
    """The HTML of the form posting to ``action`` (the first one)."""
    start = page.index(f'action="{action}"')
    return page[page.rindex("<form", 0, start):page.index("</form>", start) + len("</form>")]


def _error(form: str, name: str) -> str:
    m = re.search(rf'<p class="field-error" id="err-{name}" data-testid="field-error" data-field="{name}">(.*?)</p>', form, re.S)
    assert m, (name, form)
    return m.group(1)


def _beside(form: str, name: str) -> None:
    """The message of ``name`` comes after that field and before any other field; the field
    (every one of a radio group) points to it."""
    tags = [m for m in re.finditer(r"<(input|select|textarea)\b[^>]*>", form) if re.search(r'\bname="([^"]+)"', m.group(0))]
    own = [m for m in tags if f'name="{name}"' in m.group(0)]
    assert own, name
    err = form.index(f'id="err-{name}"')
    assert own[-1].start() < err
    later = [m for m in tags if m.start() > own[-1].start() and f'name="{name}"' not in m.group(0) and 'type="hidden"' not in m.group(0)]
    assert not later or err < later[0].start(), (name, later[0].group(0))
    for m in own:
        assert 'aria-invalid="true"' in m.group(0) and f'aria-describedby="err-{name}"' in m.group(0), m.group(0)


def _no_field_errors_but(form: str, names: set[str]) -> None:
    assert set(re.findall(r'data-testid="field-error" data-field="([^"]+)"', form)) == names


# --- adverse event -----------------------------------------------------------------------

def _bad_ae() -> dict[str, str]:
    return {"period": "2", "term": HOSTILE, "severity": "huge", "serious": "yes", "causality": "probably", "onset_date": str(TODAY)}


def test_adverse_event_refused_beside_the_field(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    r = nurse.post(f"/patients/{pid}/adverse-events", _bad_ae())
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "<title>Error 422 · " in r.text and "Casebook of patient " + pid in r.text and 'action="/logout"' in r.text
    form = _form(r.text, f"/patients/{pid}/adverse-events")
    _beside(form, "severity")
    _no_field_errors_but(form, {"severity"})
    assert _error(form, "severity") == "not one of the allowed choices"
    summary = re.search(r'<div class="form-errors" id="form-errors" role="alert" data-testid="form-errors">(.*?)</div>', form, re.S)
    assert summary
    assert '<li data-field="severity"><a href="#field-severity">Severity</a>: not one of the allowed choices</li>' in summary.group(1)
    assert 'id="field-severity"' in form and "autofocus" in form
    # the other values kept, the hostile text escaped (no tag, no attribute broken out)
    assert 'value="&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34; onmouseover=&#34;y"' in form
    assert "<script>alert" not in r.text and 'onmouseover="y' not in r.text
    assert re.search(r'<option selected>2</option>', form) and '<option value="yes" selected>' in form
    assert '<option value="probably" selected>' in form and f'name="onset_date" value="{TODAY}"' in form
    # the fresh page's CSRF token, the other forms untouched
    assert f'name="csrf_token" value="{nurse.csrf}"' in form
    assert 'data-testid="field-error"' not in _form(r.text, f"/patients/{pid}/concomitant")
    assert _count(app, AdverseEvent, AdverseEvent.patient_id == pid) == 0
    # corrected: saved
    r = nurse.post(f"/patients/{pid}/adverse-events", _bad_ae() | {"severity": "moderate"})
    assert r.status_code == 303, r.text
    assert _count(app, AdverseEvent, AdverseEvent.patient_id == pid) == 1


def test_adverse_event_in_french(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    r = nurse.post(f"/patients/{pid}/adverse-events?lang=fr", _bad_ae() | {"term": "vertiges"})
    assert r.status_code == 422 and '<html lang="fr">' in r.text and "<title>Erreur 422 · " in r.text
    form = _form(r.text, f"/patients/{pid}/adverse-events")
    _beside(form, "severity")
    assert _error(form, "severity") == "ne fait pas partie des choix autorisés"
    assert '<a href="#field-severity">Intensité</a>: ne fait pas partie des choix autorisés' in form
    assert "Certaines saisies ne sont pas valables." in form and "Input should be" not in r.text
    assert 'data-testid="form-errors-link"><a href="#form-errors">Non enregistré' in r.text
    assert 'name="term" required value="vertiges"' in form
    assert _count(app, AdverseEvent, AdverseEvent.patient_id == pid) == 0


# --- screening: a service error (DataError.column) beside its field --------------------------

def test_screening_number_refused_beside_the_field(app, webs):
    nurse = webs["nurse"]
    before = _count(app, Screening)
    sent = screening_form(a_age="fifty", reason=HOSTILE)
    r = nurse.post("/screening", sent)
    assert r.status_code == 422
    form = _form(r.text, "/screening")
    _beside(form, "a_age")
    _no_field_errors_but(form, {"a_age"})
    assert _error(form, "a_age") == "age: &#39;fifty&#39; is not a number"
    assert 'name="a_age" required value="fifty"' in form or 'value="fifty"' in form
    # every radio answer kept as sent
    for name, value in sent.items():
        if name.startswith(("c_", "dn4_")):
            checked = re.search(rf'<input type="radio" name="{name}" value="{value}"[^>]*>', form)
            assert checked and " checked" in checked.group(0), (name, value)
            other = re.search(rf'<input type="radio" name="{name}" value="(?!{value}")[^"]*"[^>]*>', form)
            assert other and " checked" not in other.group(0), name
    assert "<script>alert" not in r.text and 'value="&lt;script&gt;' in form
    assert _count(app, Screening) == before
    assert nurse.post("/screening", screening_form()).status_code == 303
    assert _count(app, Screening) == before + 1


def test_screening_in_french_folds_the_english_message(app, webs):
    nurse = webs["nurse"]
    r = nurse.post("/screening?lang=fr", screening_form(a_age="fifty"))
    assert r.status_code == 422
    form = _form(r.text, "/screening")
    _beside(form, "a_age")
    assert _error(form, "a_age") == "cette valeur a été refusée"
    detail = re.search(r'<details class="detail" data-testid="error-detail" data-verbatim>'
                       r'<summary>([^<]+)</summary><p lang="en">([^<]+)</p>', form)
    assert detail and detail.group(1) == "Détail technique (en anglais)" and "is not a number" in detail.group(2)
    visible = re.sub(r"<details.*?</details>", "", r.text, flags=re.S)
    assert "is not a number" not in visible


def test_refused_french_pages_have_no_english_ui_text(app, webs):
    import html

    from ketapain.protocol import load_protocol

    from .test_i18n import untranslated, visible_text
    from .test_pages import _public_protocol_text

    nurse, admin = webs["nurse"], webs["admin"]
    pid = new_patient(nurse)
    public = [html.unescape(t) for t in _public_protocol_text(load_protocol("ketapain"))]
    pages = {"ae": nurse.post(f"/patients/{pid}/adverse-events?lang=fr", _bad_ae() | {"term": "vertiges"}),
             "screening": nurse.post("/screening?lang=fr", screening_form(a_age="fifty")),
             "users": admin.post("/users?lang=fr", {"username": "u2", "role": "monitor", "password": "court"})}
    for name, r in pages.items():
        assert r.status_code == 422 and 'data-testid="field-error"' in r.text, name
        assert untranslated(visible_text(r.text), public) == [], name


# --- questionnaire: the page's query (visit, instrument) from the hidden fields ------------

def test_questionnaire_item_refused_beside_the_field(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    hads = get_instrument("hads")
    first, second = hads.items[0].key, hads.items[1].key
    sent = {"visit": "inclusion", "instrument": "hads", "completed_date": str(TODAY)} | {f"item_{it.key}": "1" for it in hads.items}
    r = nurse.post(f"/patients/{pid}/questionnaire", sent | {f"item_{second}": "lots"})
    assert r.status_code == 422
    form = _form(r.text, f"/patients/{pid}/questionnaire")
    assert 'name="visit" value="inclusion"' in form and 'name="instrument" value="hads"' in form
    _beside(form, f"item_{second}")
    _no_field_errors_but(form, {f"item_{second}"})
    assert "is not a number" in _error(form, f"item_{second}")
    kept = re.search(rf'<input type="number" name="item_{first}"[^>]*>', form)  # HADS items: numbers 0..3
    assert kept and 'value="1"' in kept.group(0)
    assert re.search(rf'name="item_{second}"[^>]*value="lots"[^>]*type="text"', form)  # a number field would blank it
    assert _count(app, QuestionnaireResponse, QuestionnaireResponse.patient_id == pid) == 0
    assert nurse.post(f"/patients/{pid}/questionnaire", sent).status_code == 303
    assert _count(app, QuestionnaireResponse, QuestionnaireResponse.patient_id == pid) == 1


# --- users: a password is never sent back ----------------------------------------------------

def test_user_form_never_echoes_the_password(app, webs):
    admin = webs["admin"]
    secret = "Zq9-shrt"
    sent = {"username": "new.monitor", "full_name": HOSTILE, "role": "monitor", "password": secret}
    r = admin.post("/users?lang=fr", sent)
    assert r.status_code == 422
    form = _form(r.text, "/users")
    _beside(form, "password")
    _no_field_errors_but(form, {"password"})
    assert _error(form, "password") == "trop court"
    assert secret not in r.text
    assert re.search(r'<input name="password" type="password" minlength="10" required aria-invalid="true"', form)
    assert 'name="username" required value="new.monitor"' in form and '<option value="monitor" selected>' in form
    assert "<script>alert" not in r.text
    assert _count(app, User, User.username == "new.monitor") == 0
    r = admin.post("/users", sent | {"password": "long-enough-password-1", "full_name": "New Monitor"})
    assert r.status_code == 303, r.text
    assert _count(app, User, User.username == "new.monitor") == 1


def test_password_reset_form_comes_back_with_its_fresh_csrf_cookie(app):
    anon = Web(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/password-reset").text).group(1)
    r = anon.client.post("/password-reset", data={"csrf_token": token, "username": "nurse", "code": "123456",
                                                  "new_password": "Zq9-shrt"})
    assert r.status_code == 422 and "Zq9-shrt" not in r.text
    form = _form(r.text, "/password-reset")
    _beside(form, "new_password")
    assert 'name="username"' in form and 'value="nurse"' in form
    # the redrawn page's token goes with the cookie set with it: the next try is checked (401: no such code), not refused as forged
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert fresh != token and any(c.startswith(f"ketapain_reset_csrf={fresh};") for c in r.headers.get_list("set-cookie"))
    r = anon.client.post("/password-reset", data={"csrf_token": fresh, "username": "nurse", "code": "123456",
                                                  "new_password": "long-enough-password-2"})
    assert r.status_code == 401


def test_a_value_the_route_converts_is_refused_beside_its_field(app, webs):
    """Numbers and dates the page converts before validation (opt_float, opt_date) are refused
    naming their field (they were a plain ValueError, "could not convert string to float",
    shown in the summary only); infinite numbers are refused too. A problem naming no field
    stays in the summary (test_annotate_form_keeps_every_problem)."""
    nurse = webs["nurse"]
    scr = screening_form()
    assert nurse.post("/screening", scr).status_code == 303
    page = nurse.get("/patients").text
    sid = re.findall(r'<option value="(S\d+)">', page)[-1]
    for bad in ("seventy", "inf", "nan"):
        r = nurse.post("/patients", {"screening_id": sid, "sex": "F", "age_years": "50", "weight_kg": bad,
                                     "pain_type": "radiculopathy"})
        assert r.status_code == 422
        form = _form(r.text, "/patients")
        _beside(form, "weight_kg")
        _no_field_errors_but(form, {"weight_kg"})
        assert _error(form, "weight_kg") == f"weight_kg=&#39;{bad}&#39; is not a number"  # HTML-escaped quotes
        assert "could not convert" not in r.text
        assert f'name="weight_kg" value="{bad}"' in form and f'<option value="{sid}" selected>' in form
    pid = new_patient(nurse)
    r = nurse.post(f"/patients/{pid}/adverse-events", _bad_ae() | {"severity": "mild", "onset_date": "2026-02-30"})
    assert r.status_code == 422
    form = _form(r.text, f"/patients/{pid}/adverse-events")
    _beside(form, "onset_date")
    assert _error(form, "onset_date") == "onset_date=&#39;2026-02-30&#39; is not a date YYYY-MM-DD"
    assert _count(app, AdverseEvent, AdverseEvent.patient_id == pid) == 0



def test_unblinding_period_refused_beside_its_field(app, webs):
    """The emergency-unblinding page converts the period itself: a period that is not a whole
    number is refused naming it (beside the field), the password never echoed, nothing revealed."""
    pid = new_patient(webs["nurse"])
    inv = webs["investigator"]
    r = inv.post("/unblinding", {"patient_id": pid, "period": "first", "reason": "anaphylaxis", "password": ROLE_PW})
    assert r.status_code == 422
    form = _form(r.text, "/unblinding")
    _beside(form, "period")
    _no_field_errors_but(form, {"period"})
    assert _error(form, "period") == "period=&#39;first&#39; is not a whole number"
    i = r.text.find(ROLE_PW)
    assert i < 0, r.text[max(0, i - 300):i + 100]
    assert 'name="reason" required value="anaphylaxis"' in form
    assert _count(app, Unblinding, Unblinding.patient_id == pid) == 0

def test_correction_form_marks_the_field_too(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    url = re.search(r'href="(/correct/patients/\d+)"', nurse.get(f"/patients/{pid}").text).group(1)
    r = nurse.post(url + "?lang=fr", {"sex": "F", "age_years": "12", "weight_kg": "70", "pain_type": "radiculopathy", "reason": "typo"})
    assert r.status_code == 422 and 'data-testid="correction-problems"' in r.text  # its own list of problems, as before
    form = _form(r.text, url)
    _beside(form, "age_years")
    _no_field_errors_but(form, {"age_years"})
    assert _error(form, "age_years") == "hors des limites autorisées" and 'data-testid="form-errors"' not in r.text
    assert 'value="12"' in form and 'name="reason" value="typo"' in form


def test_annotate_form_keeps_every_problem():
    page = ('<html><head><title>T</title></head><body><main><form method="post" action="/a"><input name="x">'
            '<textarea name="note">old</textarea><input type="checkbox" name="ok" value="on" checked></form></main></body></html>')
    out = annotate_form(page, "/a", [("x", "1"), ("note", "</textarea><b>")],
                        [FieldProblem("form", None, "whole form"), FieldProblem("nowhere", "Nowhere", "not in this form"),
                         FieldProblem("note", "Note", "too long")], heading="H", title="Error 422")
    assert out is not None
    assert '<li data-field="form">form: whole form</li>' in out and '<li data-field="nowhere">Nowhere: not in this form</li>' in out
    assert '<a href="#field-note">Note</a>: too long' in out and out.count('data-testid="field-error"') == 1
    assert "&lt;/textarea&gt;&lt;b&gt;</textarea>" in out and "old" not in out
    assert 'name="ok" value="on">' in out  # unchecked: not sent
    assert "<title>Error 422 · T</title>" in out
    assert annotate_form(page, "/b", [], [], heading="H") is None
    # a radio group: the message after its fieldset, named by its legend (not by a button's "Yes")
    radios = ('<form method="post" action="/s"><fieldset><legend>Pain <b>now</b></legend><label><input type="radio" name="c_x" '
              'value="yes"> Yes</label><label><input type="radio" name="c_x" value="no"> No</label></fieldset>'
              '<label>Note <input name="n"></label></form>')
    out = annotate_form(radios, "/s", [("c_x", "no")], [FieldProblem("x", None, "required")], heading="H")
    assert out is not None and '<a href="#field-c_x">Pain now</a>: required' in out
    assert out.index("</fieldset>") < out.index('id="err-c_x"') < out.index('name="n"')
    assert '<input type="radio" name="c_x" value="no" checked aria-invalid="true" aria-describedby="err-c_x">' in out


# --- what still answers with the error page --------------------------------------------------

def test_diary_and_conflicts_keep_the_error_page(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    r = nurse.post(f"/patients/{pid}/randomise")  # randomised already: a conflict, not a form's value
    assert r.status_code == 409 and "<h1>Error 409</h1>" in r.text and 'data-testid="form-errors"' not in r.text
    link = _link(nurse, pid)
    page = nurse.client.get(link).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = nurse.client.post(link, data={"csrf_token": token, "period": "1", "day": "1"})
    assert r.status_code == 422 and "<h1>Error 422</h1>" in r.text and 'data-testid="form-errors"' not in r.text


# --- Chromium ------------------------------------------------------------------------------

def _submit_invalid(page, form_sel: str, name: str, value: str) -> None:
    """Type a value the browser's own checks would stop (a number field made a text field)."""
    page.eval_on_selector(form_sel, "f => f.noValidate = true")
    page.eval_on_selector(f"{form_sel} [name={name}]", "e => { if (e.tagName === 'INPUT') e.type = 'text'; }")
    if page.eval_on_selector(f"{form_sel} [name={name}]", "e => e.tagName") == "SELECT":
        page.eval_on_selector(f"{form_sel} [name={name}] option", f"o => o.value = {value!r}")
    else:
        page.fill(f"{form_sel} [name={name}]", value)
    page.click(f"{form_sel} button[type=submit]")
    page.wait_for_load_state()


def test_chromium_shows_the_message_beside_the_field(browser, tmp_path):
    os.makedirs(SHOTS, exist_ok=True)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'live.sqlite'}", secret_key=SECRET, admin_user="admin",
                        admin_password=ADMIN_PW, randomisation_seed=7, randomisation_patients=6)
    app = create_app(settings)
    with live_server(app) as base:
        admin = Web(app, "admin", ADMIN_PW)
        assert admin.post("/users", {"username": "nurse", "full_name": "N", "role": "nurse", "password": ROLE_PW}).status_code == 303
        pid = new_patient(Web(app, "nurse", ROLE_PW))
        for lang in ("en", "fr"):
            page = browser.new_context(viewport={"width": 1280, "height": 900}, locale=lang).new_page()
            page.set_default_timeout(10_000)
            browser_login(page, base, "nurse", ROLE_PW)
            page.goto(f"{base}/patients/{pid}?lang={lang}")
            ae = f"form[action='/patients/{pid}/adverse-events']"
            page.fill(f"{ae} [name=term]", "nausea")
            _submit_invalid(page, ae, "severity", "huge")
            msg = page.locator(f"{ae} #err-severity")
            assert msg.is_visible()
            assert msg.inner_text().endswith({"en": "not one of the allowed choices", "fr": "ne fait pas partie des choix autorisés"}[lang])
            assert page.locator(f"{ae} [name=severity]").get_attribute("aria-invalid") == "true"
            assert page.evaluate("document.activeElement.name") == "severity"  # autofocus: scrolled to the field
            assert page.locator(f"{ae} [name=term]").input_value() == "nausea"
            color = msg.evaluate("e => getComputedStyle(e).color")
            assert color == "rgb(179, 38, 30)", color
            # the message sits right under its field, not at the far end of the form
            box, field = msg.bounding_box(), page.locator(f"{ae} [name=severity]").bounding_box()
            assert box and field and 0 <= box["y"] - (field["y"] + field["height"]) < 40
            page.screenshot(path=f"{SHOTS}/adverse-event-{lang}.png")
            page.locator(ae).screenshot(path=f"{SHOTS}/adverse-event-form-{lang}.png")
            page.goto(f"{base}/screening?lang={lang}")
            scr = "form[action='/screening']"
            for name, value in screening_form().items():
                if name.startswith(("c_", "dn4_")):
                    page.check(f"{scr} input[name={name}][value='{value}']")
                elif name != "screening_date" and page.eval_on_selector(f"{scr} [name={name}]", "e => e.tagName") == "SELECT":
                    page.select_option(f"{scr} [name={name}]", value)
                elif name != "screening_date":
                    page.fill(f"{scr} [name={name}]", value)
            _submit_invalid(page, scr, "a_age", "fifty")
            assert page.locator(f"{scr} #err-a_age").is_visible()
            assert page.locator(f"{scr} [data-testid=form-errors]").is_visible()
            assert page.locator(f"{scr} input[name=a_age]").input_value() == "fifty"
            page.screenshot(path=f"{SHOTS}/screening-{lang}.png")
            page.locator(scr).screenshot(path=f"{SHOTS}/screening-form-{lang}.png")
            page.context.close()

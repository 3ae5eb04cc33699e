"""Error pages keep the page layout: a logged-in user still has the navigation and the logout
button; the page's language explains the error, the service's English message is only
folded away as a technical detail on a French page. A form refused with a 422 is not an
error page: its page comes back with the messages beside the fields (test_field_errors.py),
in the same layout and language."""

from __future__ import annotations

import re

import pytest

from .conftest import ADMIN_PW, browser_login
from .test_pages import new_patient

SHOTS = "/tmp/shots-n"


def _errors(web, pid: str, lang: str) -> dict[int, object]:
    """One response per status, as the nurse gets them (``lang`` by ``?lang=``)."""
    q = f"?lang={lang}"
    bad_ae = {"period": "1", "term": "x", "severity": "huge", "serious": "no", "causality": "possibly"}
    return {
        404: web.get(f"/patients/P999{q}"),
        403: web.get(f"/users{q}"),
        409: web.post(f"/patients/{pid}/randomise{q}"),   # randomised already
        422: web.post(f"/patients/{pid}/adverse-events{q}", bad_ae),
    }


def _has_layout(text: str) -> bool:
    return 'action="/logout"' in text and 'href="/patients"' in text and 'href="/queries"' in text


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_error_pages_keep_navigation_and_logout(app, webs, lang):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    heading = {"en": "Error {}", "fr": "Erreur {}"}[lang]
    for status, r in _errors(nurse, pid, lang).items():
        assert r.status_code == status, (status, r.text)
        assert _has_layout(r.text) and f'<html lang="{lang}">' in r.text, status
        if status == 422:  # the casebook again, its adverse-event form marked up; the title says the error
            assert f"<title>{heading.format(422)} · " in r.text and 'data-testid="form-errors"' in r.text
            assert "<h1>" + {"en": "Casebook of patient ", "fr": "Cahier d&#39;observation du patient "}[lang] + pid in r.text
        else:
            assert f"<h1>{heading.format(status)}</h1>" in r.text, status
    pages = _errors(nurse, pid, lang)
    if lang == "fr":
        assert "Se déconnecter" in pages[404].text and "Introuvable." in pages[404].text
        assert "Ceci est en conflit avec les données enregistrées." in pages[409].text
        # the English service message is folded away, under a French summary
        detail = re.search(r'<details class="detail" data-testid="error-detail"[^>]*><summary>([^<]+)</summary>', pages[409].text)
        assert detail and detail.group(1) == "Détail technique (en anglais)"
        visible = re.sub(r"<details.*?</details>", "", pages[409].text, flags=re.S)
        assert "already randomised" not in visible
        # a form's invalid field: its French label and a French explanation, not pydantic's message
        assert re.search(r'data-field="severity"><a href="#field-severity">Intensité</a>\s*: ne fait pas partie des choix autorisés',
                         pages[422].text)
        assert "Input should be" not in pages[422].text
    else:
        assert "Log out" in pages[403].text and "already randomised" in pages[409].text
        assert re.search(r'data-field="severity"><a href="#field-severity">Severity</a>: not one of the allowed choices', pages[422].text)


def test_other_error_pages(app, webs):
    nurse = webs["nurse"]
    # an unknown address and a page's missing query parameter: HTML pages, not JSON
    r = nurse.get("/no-such-page?lang=fr")
    assert r.status_code == 404 and "<h1>Erreur 404</h1>" in r.text and _has_layout(r.text)
    r = nurse.get("/patients/P001/questionnaire?lang=en")
    assert r.status_code in (403, 422) and "<h1>Error" in r.text and _has_layout(r.text)
    # the API keeps its JSON answers
    assert nurse.get("/api/v1/no-such-thing").headers["content-type"].startswith("application/json")
    # a form without its CSRF token: 403 with the reason in the page's language
    r = nurse.post("/patients?lang=fr", {}, csrf=False)
    assert r.status_code == 403 and "Ce formulaire a expiré" in r.text and _has_layout(r.text)
    # without a session: the error page without navigation
    from .conftest import Web

    anon = Web(app).get("/no-such-page")
    assert anon.status_code == 404 and 'action="/logout"' not in anon.text


def test_error_page_in_chromium_keeps_logout(browser, live_server):
    import os

    os.makedirs(SHOTS, exist_ok=True)
    page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR").new_page()
    page.set_default_timeout(10_000)
    browser_login(page, live_server, "admin", ADMIN_PW)
    r = page.goto(f"{live_server}/patients/P999?lang=fr")
    assert r is not None and r.status == 404
    assert page.locator("h1").inner_text() == "Erreur 404"
    assert page.locator("nav a", has_text="Patients").is_visible()
    assert page.locator("[data-testid=error-detail] summary").inner_text() == "Détail technique (en anglais)"
    page.screenshot(path=f"{SHOTS}/error-404-fr.png", full_page=True)
    page.click("button:has-text('Se déconnecter')")
    page.wait_for_url(f"{live_server}/login")

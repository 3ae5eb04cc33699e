"""Correcting an adverse event in Chromium (Playwright), on SQLite and PostgreSQL: the nurse
opens the AE's correction form from the casebook, sends a blank reason (shown in the form,
nothing saved), then the new severity with a reason; the casebook shows it, the investigator's
signature is void, the monitor's query on ``severity`` is closed with the reason and the audit
trail holds the old and the new value. Then the AE is marked entered in error and leaves the
casebook. Screenshots go to ``$KETAPAIN_SHOTS`` when it is set."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketapain.capture import create_app

from ..conftest import Api, make_settings
from ..test_api import _patient
from .conftest import ADMIN_PW, ROLE_PW, browser_login, live_server

SHOTS = os.environ.get("KETAPAIN_SHOTS")


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def study_server(db_url: str) -> Iterator[tuple[str, dict[str, Api], dict[str, str]]]:
    """The app on ``db_url`` (SQLite, and PostgreSQL when one answers) under uvicorn, with a
    randomised patient, an adverse event, a signed casebook and an open query on the AE's
    severity, entered through the API. Yields the base URL, the API clients and the ids."""
    app = create_app(make_settings(db_url, visit_window_days=60))  # corrections, not windows, are tested here
    admin = Api(app, "admin", ADMIN_PW)
    clients = {"admin": admin}
    for role in ("investigator", "nurse", "statistician", "monitor"):
        assert admin.post("/users", {"username": role, "role": role, "password": ROLE_PW, "full_name": f"Dr {role}"}).status_code == 201
        clients[role] = Api(app, role, ROLE_PW)
    pid = _patient(clients)
    ae = clients["nurse"].post("/adverse-events", {"patient_id": pid, "period": 1, "term": "nausea", "severity": "mild",
                                                   "serious": False, "causality": "possibly"}).json()
    q = clients["monitor"].post("/queries", {"table_name": "adverse_events", "record_id": ae["id"], "field": "severity",
                                             "text": "mild? the notes say moderate"}).json()
    assert clients["investigator"].post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "reviewed"}).status_code == 201
    with live_server(app) as base:
        yield base, clients, {"pid": pid, "ae_id": str(ae["id"]), "event_id": ae["event_id"], "query_id": str(q["id"])}


def test_nurse_corrects_an_adverse_event_in_the_browser(browser, study_server) -> None:  # type: ignore[no-untyped-def]
    base, clients, ids = study_server
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    browser_login(page, base, "nurse", ROLE_PW)
    page.goto(f"{base}/patients/{ids['pid']}")
    page.click(f"[data-testid=correct-ae-{ids['event_id']}]")
    page.wait_for_url(f"{base}/correct/adverse_events/{ids['ae_id']}")
    form = page.locator("[data-testid=correct-form]")
    assert form.locator("input[name=term]").input_value() == "nausea"
    assert form.locator("select[name=severity]").input_value() == "mild"
    form.locator("select[name=severity]").select_option("moderate")
    form.locator("input[name=reason]").fill("   ")  # passes the browser's "required", blank for the server
    form.locator("button[type=submit]").click()
    problems = page.locator("[data-testid=correction-problems]")
    assert "Reason" in problems.inner_text()
    _shot(page, "correction-ae-blank-reason")
    assert clients["nurse"].get(f"/adverse-events?patient_id={ids['pid']}").json()[0]["severity"] == "mild"  # nothing saved
    form = page.locator("[data-testid=correct-form]")
    assert form.locator("select[name=severity]").input_value() == "moderate"  # the value sent is kept
    form.locator("input[name=reason]").fill("severity taken from the nurse's notes")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf".*/patients/{ids['pid']}\?msg=corrected#adverse-events"))
    assert "Correction saved." in page.locator("[role=status]").inner_text()
    row = page.locator("#adverse-events tr", has_text=ids["event_id"])
    assert "moderate" in row.inner_text()
    assert "void" in page.locator("#signatures").inner_text().lower()
    _shot(page, "correction-ae-saved")
    query = next(q for q in clients["monitor"].get("/queries").json() if q["id"] == int(ids["query_id"]))
    assert (query["status"], query["closed_by"]) == ("closed", "nurse")
    trail = clients["monitor"].get(f"/audit?table=adverse_events&record_id={ids['ae_id']}").json()
    change = next(a for a in trail if a["action"] == "update" and a["field"] == "severity")
    assert (change["old_value"], change["new_value"], change["reason"]) == ("mild", "moderate", "severity taken from the nurse's notes")
    # entered in error, from the same page
    page.click(f"[data-testid=correct-ae-{ids['event_id']}]")
    eie = page.locator("[data-testid=entered-in-error]")
    eie.locator("input[name=reason]").fill("recorded for the wrong patient")
    eie.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf".*/patients/{ids['pid']}\?msg=entered_in_error#adverse-events"))
    assert ids["event_id"] not in page.locator("#adverse-events").inner_text()
    _shot(page, "correction-ae-entered-in-error")
    assert clients["nurse"].get(f"/adverse-events?patient_id={ids['pid']}").json() == []

"""The casebook grid in Chromium (Playwright against the app served by uvicorn, see
``conftest.serve_app``; on a new SQLite file and a fresh PostgreSQL database): a nurse records a visit outside its protocol window — refused
without a reason, saved with one — and sees it flagged *out of window* in the grid; a monitor
opens the visit from the grid, raises a query from the date field's link (the form arrives
pre-filled with table, record and field), is brought back to the record, and sees the query
counted in the grid cell."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from ..conftest import fresh_pg_database
from .conftest import ADMIN_PW, browser_login, serve_app

NURSE_PW = "nurse-password-3"
MONITOR_PW = "monitor-password-3"
TODAY = dt.datetime.now(dt.UTC).date()
INFUSED = TODAY - dt.timedelta(days=25)
SHOTS = "/tmp/shots-case"


def _api(base: str, user: str, password: str) -> tuple[httpx.Client, dict[str, str]]:
    c = httpx.Client(base_url=f"{base}/api/v1", timeout=30)
    r = c.post("/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def _infused_patient(base: str) -> str:
    """Through the API: a nurse and a monitor; the nurse enrols, randomises and records the
    period-1 infusion 25 days ago. Returns the patient id."""
    admin, h = _api(base, "admin", ADMIN_PW)
    for user, role, pw in (("nurse3", "nurse", NURSE_PW), ("mon3", "monitor", MONITOR_PW)):
        r = admin.post("/users", json={"username": user, "role": role, "password": pw, "full_name": f"{role} {user}"}, headers=h)
        assert r.status_code == 201, r.text
    admin.close()
    nurse, h = _api(base, "nurse3", NURSE_PW)
    r = nurse.post("/patients", json={"sex": "F", "age_years": 55, "weight_kg": 64, "pain_type": "radiculopathy"}, headers=h)
    assert r.status_code == 201, r.text
    pid = r.json()["patient_id"]
    assert nurse.post(f"/patients/{pid}/randomise", headers=h).status_code == 201
    r = nurse.post("/infusions", json={"patient_id": pid, "period": 1, "infusion_date": str(INFUSED)}, headers=h)
    assert r.status_code == 201, r.text
    nurse.close()
    return pid


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path):
    """The live app over a new SQLite file or a freshly created PostgreSQL database."""
    if request.param == "sqlite":
        with serve_app(f"sqlite:///{tmp_path / 'live.sqlite'}") as base:
            yield base
        return
    with fresh_pg_database("ketapain_browser") as url, serve_app(url) as base:
        yield base


def _cell(page, key: str):
    return page.locator(f"td[data-cell='{key}']")


def test_out_of_window_visit_and_query_from_a_field_in_the_grid(browser, server, request):
    base = server
    shots = f"{SHOTS}/{request.node.callspec.id}"
    pid = _infused_patient(base)
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(10_000)
    browser_login(page, base, "nurse3", NURSE_PW)
    page.goto(f"{base}/patients/{pid}")
    page.click("[data-testid=grid-link]")
    page.wait_for_url(f"{base}/patients/{pid}/grid")
    assert _cell(page, "randomisation:visit").get_attribute("data-status") == "not_started"
    assert _cell(page, "period_1:infusion").get_attribute("data-status") == "complete"
    # the visit on day 0 is expected on the infusion day (± 3 days); today is 25 days later
    page.goto(f"{base}/patients/{pid}")
    form = page.locator(f"form[action='/patients/{pid}/visits']")
    form.locator("select[name=visit]").select_option("randomisation")
    form.locator("input[name=visit_date]").fill(str(TODAY))
    form.locator("button[type=submit]").click()
    detail = form.locator("#err-visit_date").inner_text()  # the casebook again, the message beside the date (422)
    assert form.locator("input[name=visit_date]").input_value() == str(TODAY)
    window = f"{INFUSED - dt.timedelta(days=3)} to {INFUSED + dt.timedelta(days=3)}"
    assert "visit randomisation" in detail and window in detail and "a reason (out_of_window_reason) is needed" in detail
    page.goto(f"{base}/patients/{pid}")
    form.locator("select[name=visit]").select_option("randomisation")
    form.locator("input[name=visit_date]").fill(str(TODAY))
    form.locator("input[name=out_of_window_reason]").fill("patient admitted to hospital on the planned day")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/patients/" + pid + r"\?msg=saved"))
    assert "out of window (25 days)" in page.locator("tr[data-visit=randomisation]").inner_text()
    page.goto(f"{base}/patients/{pid}/grid")
    cell = _cell(page, "randomisation:visit")
    assert cell.get_attribute("data-status") == "out_of_window" and "out of window" in cell.inner_text()
    page.click("button:has-text('Log out')")
    # the monitor raises a query from the visit's date field
    browser_login(page, base, "mon3", MONITOR_PW)
    page.goto(f"{base}/patients/{pid}/grid")
    _cell(page, "randomisation:visit").locator("a").first.click()
    page.wait_for_url(re.compile(r".*/records/visits/\d+$"))
    record_url = page.url
    assert "patient admitted to hospital" in page.locator("[data-testid=record-fields]").inner_text()
    page.click("[data-testid=query-visit_date]")
    page.wait_for_url(re.compile(r".*/queries\?.*field=visit_date.*"))
    raise_form = page.locator("[data-testid=raise-query]")
    assert raise_form.locator("select[name=table_name]").input_value() == "visits"
    assert record_url.endswith("/" + raise_form.locator("input[name=record_id]").input_value())
    assert raise_form.locator("input[name=field]").input_value() == "visit_date"
    raise_form.locator("textarea[name=text]").fill("Please confirm the visit date against the hospital letter")
    raise_form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/records/visits/\d+\?msg=saved.*"))
    assert "Please confirm the visit date" in page.locator("#record-queries").inner_text()
    assert "1 open" in page.locator("tr[data-field=visit_date]").inner_text()
    page.screenshot(path=f"{shots}/record-visit.png", full_page=True)
    page.goto(f"{base}/patients/{pid}/grid")
    cell = _cell(page, "randomisation:visit")
    assert cell.get_attribute("data-queries") == "1" and "1 open" in cell.inner_text()
    assert page.locator("[data-testid=open-queries]").inner_text().endswith("1")
    page.screenshot(path=f"{shots}/casebook-grid.png", full_page=True)
    page.goto(f"{base}/patients/{pid}/grid?lang=fr")
    assert "hors fenêtre" in _cell(page, "randomisation:visit").inner_text()
    page.screenshot(path=f"{shots}/casebook-grid-fr.png", full_page=True)

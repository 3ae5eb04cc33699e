"""Real browser (Playwright, Debian Chromium), on SQLite and PostgreSQL: the nurse corrects an
infusion date on the correction page — the allowed dates are shown and set on the date input,
the first save stops at a confirmation listing the diary entries that move (day, current
date, new date) with nothing saved, confirming saves it — and the monitor then finds the audit
row (old and new date, the reason, the nurse) and the voided signature."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from ketapain.capture.models import DiaryEntry, Infusion

from ..conftest import Api
from .conftest import ADMIN_PW, ROLE_PW, Web, browser_login, live_server
from .test_pages import TODAY, new_patient


def _day(n: int) -> str:
    return str(TODAY + dt.timedelta(days=n))


def test_infusion_date_correction_confirmation_and_audit_row(browser, app):
    admin = Web(app, "admin", ADMIN_PW)
    for name, role in (("nurse1", "nurse"), ("monitor1", "monitor"), ("inv1", "investigator")):
        assert admin.post("/users", {"username": name, "role": role, "password": ROLE_PW}).status_code == 303
    pid = new_patient(Web(app, "nurse1", ROLE_PW), infused_days_ago=20)   # screened TODAY - 30, infused TODAY - 20
    api = Api(app, "nurse1", ROLE_PW)
    for day in (2, 5):
        assert api.post(f"/patients/{pid}/diary", {"period": 1, "day": day, "avg_pain": 4}).status_code == 201
    assert Api(app, "inv1", ROLE_PW).post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "I approve"}).status_code == 201

    with live_server(app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)
        browser_login(page, base, "nurse1", ROLE_PW)
        page.goto(f"{base}/patients/{pid}")
        page.click(f"#infusions a[href='/patients/{pid}/infusions/1']")
        page.wait_for_url(f"{base}/patients/{pid}/infusions/1")
        assert f"Dates allowed: {_day(-30)} to {_day(0)}" in page.locator("[data-testid=allowed]").inner_text()
        date_input = page.locator("input[name=infusion_date]")
        bounds = (date_input.get_attribute("min"), date_input.get_attribute("max"), date_input.input_value())
        assert bounds == (_day(-30), _day(0), _day(-20))
        date_input.fill(_day(-22))
        page.fill("input[name=reason]", "date typed wrong")
        page.click("button:has-text('Save the correction')")
        # the confirmation step: both entries with their current and new dates; nothing saved yet
        confirm = page.locator("[data-testid=confirm]")
        assert f"The new date {_day(-22)} moves 2 diary entries" in confirm.inner_text()
        rows = [r.locator("td").all_inner_texts() for r in confirm.locator("tr").all()[1:]]
        assert rows == [["2", _day(-18), _day(-20)], ["5", _day(-15), _day(-17)]]
        with app.state.sessionmaker() as s:
            assert s.execute(select(Infusion.infusion_date).where(Infusion.patient_id == pid)).scalar_one() == TODAY - dt.timedelta(days=20)
        page.click("button:has-text('Confirm the correction and move the entries')")
        page.wait_for_url(re.compile(rf".*/patients/{pid}\?msg=saved.*"))
        assert _day(-22) in page.locator("#infusions").inner_text() and _day(-20) not in page.locator("#infusions").inner_text()
        assert "void" in page.locator("#signatures").inner_text()
        page.click("button:has-text('Log out')")
        page.wait_for_url(f"{base}/login")

        # the monitor reads the correction in the audit trail
        browser_login(page, base, "monitor1", ROLE_PW)
        page.goto(f"{base}/audit?table=infusions")
        trail = [r.locator("td").all_inner_texts() for r in page.locator("tr[data-verbatim]").all()]
        changed = [r for r in trail if r[3] == "update" and r[6] == "infusion_date"]
        assert len(changed) == 1, trail
        _seq, _at, who, _action, table, _rid, _field, old, new, reason = changed[0]
        assert (who, table, old, new, reason) == ("nurse1", "infusions", _day(-20), _day(-22), "date typed wrong")
        context.close()
    with app.state.sessionmaker() as s:   # the entries kept their day numbers; the calendar moved with the infusion
        assert [d for (d,) in s.execute(select(DiaryEntry.day).where(DiaryEntry.patient_id == pid).order_by(DiaryEntry.day))] == [2, 5]
        assert s.execute(select(Infusion.infusion_date).where(Infusion.patient_id == pid)).scalar_one() == TODAY - dt.timedelta(days=22)

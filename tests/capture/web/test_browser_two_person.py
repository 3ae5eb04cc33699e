"""The two-person rule in Chromium: admin A requests the lock on the lock page, is offered no
approval and is refused one when posting it anyway; admin B logs in, approves with the
password, and the database is locked with both names on the page."""

from __future__ import annotations

import re

from .conftest import ADMIN_PW, browser_login

ADMIN2_PW = "second-admin-password"


def test_admin_requests_another_admin_approves(browser, live_server):
    base = live_server
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    browser_login(page, base, "admin", ADMIN_PW)
    page.goto(f"{base}/users")
    page.fill("input[name=username]", "admin2")
    page.select_option("select[name=role]", "admin")
    page.fill("input[name=password]", ADMIN2_PW)
    page.click("button:has-text('Create user')")
    # A requests the lock
    page.goto(f"{base}/lock")
    assert "open for data entry" in page.locator("[data-testid=lock-state]").inner_text()
    page.fill("form[action='/lock/requests'] input[name=reason]", "final analysis")
    page.fill("form[action='/lock/requests'] input[name=password]", ADMIN_PW)
    page.click("button:has-text('Request the lock')")
    page.wait_for_url(re.compile(r".*/lock\?msg=requested"))
    card = page.locator("[data-testid^=change-]")
    rid = card.get_attribute("data-testid").removeprefix("change-")
    assert "a second person must approve it" in card.inner_text()
    assert page.locator(f"form[action='/lock/requests/{rid}/approve']").count() == 0   # no approval offered to A
    page.screenshot(path="/tmp/shots-k/lock-requested.png", full_page=True)
    # A posts the approval anyway (the session's CSRF token, the form the server would expect): refused
    status = page.evaluate("""async ([rid, password]) => {
        const body = new URLSearchParams({csrf_token: document.querySelector('input[name=csrf_token]').value, password});
        const r = await fetch(`/lock/requests/${rid}/approve`, {method: 'POST', body});
        return r.status; }""", [rid, ADMIN_PW])
    assert status == 403
    page.goto(f"{base}/lock")
    assert "open for data entry" in page.locator("[data-testid=lock-state]").inner_text()
    page.click("button:has-text('Log out')")
    # B approves
    browser_login(page, base, "admin2", ADMIN2_PW)
    page.goto(f"{base}/lock")
    page.screenshot(path="/tmp/shots-k/lock-to-approve.png", full_page=True)
    form = page.locator(f"form[action='/lock/requests/{rid}/approve']")
    form.locator("input[name=password]").fill(ADMIN2_PW)
    form.locator("input[name=reason]").fill("agreed with the statistician")
    form.locator("button").click()
    page.wait_for_url(re.compile(r".*/lock\?msg=approved"))
    assert "Locked since" in page.locator("[data-testid=lock-state]").inner_text()
    history = page.locator("table").inner_text()
    assert "admin" in history and "admin2" in history and "approved" in history
    page.goto(f"{base}/lock?lang=fr")
    page.screenshot(path="/tmp/shots-k/lock-approved-fr.png", full_page=True)
    assert "Demandes traitées" in page.locator("main").inner_text()


def test_new_pharmacist_account_waits_for_a_second_person(browser, live_server):
    base = live_server
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    browser_login(page, base, "admin", ADMIN_PW)
    page.goto(f"{base}/users")
    for user, role, pw in (("admin2", "admin", ADMIN2_PW), ("pharm1", "pharmacist", "pharm-password-1")):
        page.fill("input[name=username]", user)
        page.select_option("select[name=role]", role)
        page.fill("input[name=password]", pw)
        page.click("button:has-text('Create user')")
    assert "a second person" in page.locator("main").inner_text()
    assert "disabled" in page.locator("tr", has_text="pharm1").inner_text()
    page.screenshot(path="/tmp/shots-k/users-pharmacist-pending.png", full_page=True)
    page.goto(f"{base}/lock")
    card = page.locator("[data-testid^=change-]", has_text="pharm1")
    assert "Give pharm1 the role pharmacist" in card.inner_text()
    assert card.locator("form[action$='/approve']").count() == 0
    page.click("button:has-text('Log out')")
    browser_login(page, base, "admin2", ADMIN2_PW)
    page.goto(f"{base}/lock")
    card = page.locator("[data-testid^=change-]", has_text="pharm1")
    card.locator("form[action$='/approve'] input[name=password]").fill(ADMIN2_PW)
    card.locator("form[action$='/approve'] button").click()
    page.wait_for_url(re.compile(r".*/lock\?msg=approved"))
    page.click("button:has-text('Log out')")
    browser_login(page, base, "pharm1", "pharm-password-1")
    assert "pharm1" in page.locator("nav, header").first.inner_text()

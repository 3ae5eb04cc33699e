"""Password reset under the two-person rule in Chromium, on SQLite and PostgreSQL: the admin
requests the reset of the pharmacist's password on the users page and is offered no approval;
the statistician approves it on the lock page and is shown the one-time code once; the
pharmacist follows the login page's link, sets their own password with the code and logs in
with it; the old password and the code no longer open the account."""

from __future__ import annotations

import re

from .conftest import ADMIN_PW, ROLE_PW, Web, browser_login, live_server

NEW_PW = "pharmacist-chose-this"


def test_reset_requested_approved_by_a_second_person_and_redeemed(browser, app):
    admin = Web(app, "admin", ADMIN_PW)
    for name, role in (("stat1", "statistician"), ("pharm1", "pharmacist")):
        assert admin.post("/users", {"username": name, "role": role, "password": ROLE_PW}).status_code == 303
    stat = Web(app, "stat1", ROLE_PW)
    (grant,) = re.findall(r'data-testid="change-(\d+)"', stat.get("/lock").text)
    assert stat.post(f"/lock/requests/{grant}/approve", {"password": ROLE_PW}).status_code == 303   # pharm1 enabled

    with live_server(app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)
        browser_login(page, base, "admin", ADMIN_PW)
        page.goto(f"{base}/users")
        form = page.locator("[data-testid=reset-request]")
        assert form.locator("option").all_inner_texts() == ["pharm1"]   # the only account that sees the allocation
        form.locator("select[name=target_user]").select_option("pharm1")
        form.locator("input[name=reason]").fill("forgotten, identity checked by phone")
        form.locator("input[name=password]").fill(ADMIN_PW)
        form.locator("button").click()
        page.wait_for_url(re.compile(r".*/lock\?msg=requested"))
        card = page.locator("[data-testid^=change-]", has_text="Reset the password of pharm1")
        rid = card.get_attribute("data-testid").removeprefix("change-")
        assert page.locator(f"form[action='/lock/requests/{rid}/approve']").count() == 0
        page.click("button:has-text('Log out')")
        page.wait_for_url(f"{base}/login")

        browser_login(page, base, "stat1", ROLE_PW)
        page.goto(f"{base}/lock")
        approve = page.locator(f"form[action='/lock/requests/{rid}/approve']")
        approve.locator("input[name=password]").fill(ROLE_PW)
        approve.locator("button").click()
        shown = page.locator("[data-testid=reset-code]")
        assert "The password of pharm1 is reset" in shown.inner_text()
        code = shown.locator("code").inner_text()
        assert len(code) >= 32
        page.goto(f"{base}/lock")
        assert code not in page.content()
        page.click("button:has-text('Log out')")
        page.wait_for_url(f"{base}/login")

        # the old password and the code do not open the account
        for pw in (ROLE_PW, code):
            page.fill("input[name=username]", "pharm1")
            page.fill("input[name=password]", pw)
            page.click("button[type=submit]")
            assert "User name or password is not correct." in page.locator("[role=alert]").inner_text()
        page.click("a:has-text('Set a password with a reset code')")
        page.wait_for_url(f"{base}/password-reset")
        page.fill("input[name=username]", "pharm1")
        page.fill("input[name=code]", code)
        page.fill("input[name=new_password]", NEW_PW)
        page.click("button:has-text('Set my password')")
        assert "Your new password is set." in page.locator("[role=status]").inner_text()
        browser_login(page, base, "pharm1", NEW_PW)
        assert "pharm1" in page.locator(".who").inner_text()
        context.close()

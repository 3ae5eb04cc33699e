"""Real browser (Playwright, Debian Chromium): in a production study, the administrator imports
the list made by ``ketapain randomize`` on the Randomisation list page (a tampered copy is
refused, naming the file); the investigator randomises a patient and is warned that the list
is running out; the pharmacist (unblinded) sees the slots used and remaining; the monitor
(blinded) does not. Screenshots go to ``$KETAPAIN_SHOTS`` when it is set."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ketapain.capture import Settings, create_app
from ketapain.capture.audit import Actor
from ketapain.capture.db import make_sessionmaker
from ketapain.capture.models import User
from ketapain.capture.schemas import ChangeApproval, UserCreate
from ketapain.capture.services import Context, approvals, users
from ketapain.operations import randomise_protocol, write_randomisation_list
from ketapain.protocol import load_protocol

from .conftest import ADMIN_PW, ROLE_PW, SECRET, browser_login, live_server

SHOTS = os.environ.get("KETAPAIN_SHOTS")


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[str]:
    """A production study (no list yet) under uvicorn, with an investigator, a statistician, a pharmacist and a monitor."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'prod.sqlite'}", secret_key=SECRET, admin_user="admin",
                        admin_password=ADMIN_PW, list_kind="production")
    app = create_app(settings)
    with make_sessionmaker(app.state.engine)() as session:
        admin = session.execute(select(User).where(User.username == "admin")).scalars().one()
        ctx = Context(session, Actor("admin", "admin", admin.id), settings, app.state.protocol)
        for role in ("investigator", "statistician", "pharmacist", "monitor"):
            users.create_user(ctx, UserCreate(username=role, role=role, password=ROLE_PW))  # type: ignore[arg-type]
        # the two-person rule: the new pharmacist works once a second person approves the grant
        stat = session.execute(select(User).where(User.username == "statistician")).scalars().one()
        second = Context(session, Actor("statistician", "statistician", stat.id), settings, app.state.protocol)
        (grant,) = approvals.list_changes(second, status="pending")
        approvals.approve_change(second, grant.id, ChangeApproval(password=ROLE_PW))
        session.commit()
    with live_server(app) as base:
        yield base


def _logout(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.click("button:has-text('Log out')")
    page.wait_for_url(f"{base}/login")


def test_admin_imports_investigator_randomises_only_unblinded_see_counts(browser, production_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = production_server
    folder = write_randomisation_list(randomise_protocol(load_protocol("ketapain"), n_patients=6, kind="production", seed=4),
                                      tmp_path / "list")
    tampered = tmp_path / "copy" / "pharmacy.csv"
    tampered.parent.mkdir()
    tampered.write_bytes((folder / "pharmacy.csv").read_bytes().replace(b",1,", b",2,", 1))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)

    browser_login(page, base, "admin", ADMIN_PW)
    assert "No randomisation list is loaded" in page.locator("[data-testid=list-banner]").inner_text()
    page.click("nav a:has-text('Randomisation list')")
    assert "Production study" in page.locator("[data-testid=rlist-kind]").inner_text()
    # a tampered copy is refused, naming the file
    page.set_input_files("input[name=pharmacy_file]", str(tampered))
    page.set_input_files("input[name=commitment_file]", str(folder / "commitment.txt"))
    page.click("button:has-text('Check and import')")
    assert "pharmacy.csv: SHA-256 " in page.locator("main").inner_text()
    assert "does not match the commitment" in page.locator("main").inner_text()
    _shot(page, "rlist-refused-tampered")
    page.goto(f"{base}/randomisation-list")
    page.set_input_files("input[name=pharmacy_file]", str(folder / "pharmacy.csv"))
    page.set_input_files("input[name=commitment_file]", str(folder / "commitment.txt"))
    page.click("button:has-text('Check and import')")
    page.wait_for_url(re.compile(r".*/randomisation-list\?msg=list_loaded"))
    assert "checked against its commitment and loaded" in page.locator("[role=status]").inner_text()
    lists = page.locator("[data-testid=rlist-lists]").inner_text()
    assert "pharmacy.csv" in lists and "production" in lists and (folder / "commitment.txt").read_text().strip() in lists
    assert page.locator("[data-testid=rlist-status]").count() == 0  # the admin is blinded
    assert page.locator("[data-testid=list-banner]").count() == 0  # 6 free slots: one full block
    _shot(page, "rlist-admin-loaded")
    _logout(page, base)

    browser_login(page, base, "investigator", ROLE_PW)
    assert page.locator("nav a:has-text('Randomisation list')").count() == 0
    page.goto(f"{base}/patients")
    page.fill("input[name=age_years]", "61")
    page.fill("input[name=weight_kg]", "80")
    page.click("button:has-text('Enrol'):not(:has-text('patient'))")
    page.wait_for_url(re.compile(r".*/patients/P001.*"))
    page.click("button:has-text('Randomise')")
    kits = page.locator("td.kit").all_inner_texts()
    assert len(kits) == 3 and not any(k.startswith("T-") for k in kits)  # production kit codes
    assert "running out (less than one block left)" in page.locator("[data-testid=list-banner]").inner_text()
    _shot(page, "rlist-investigator-banner")
    _logout(page, base)

    browser_login(page, base, "pharmacist", ROLE_PW)
    page.click("nav a:has-text('Randomisation list')")
    status = page.locator("[data-testid=rlist-status]").inner_text()
    assert re.search(r"all patients\s+6\s+1\s+5", status), status
    _shot(page, "rlist-pharmacist-status")
    page.goto(f"{base}/randomisation-list?lang=fr")
    assert "Restantes" in page.locator("[data-testid=rlist-status]").inner_text()
    assert "La liste de randomisation s'épuise" in page.locator("[data-testid=list-banner]").inner_text()
    _shot(page, "rlist-pharmacist-status-fr")
    page.goto(f"{base}/randomisation-list?lang=en")
    _logout(page, base)

    browser_login(page, base, "monitor", ROLE_PW)
    page.goto(f"{base}/randomisation-list")
    text = page.locator("main").inner_text()
    assert page.locator("[data-testid=rlist-status]").count() == 0
    assert "shown to unblinded roles only" in text and "Remaining" not in text
    assert page.locator("[data-testid=rlist-import]").count() == 0
    _shot(page, "rlist-monitor-blinded")
    context.close()

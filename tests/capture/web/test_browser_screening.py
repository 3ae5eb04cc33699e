"""The screening form in Chromium: rendered from the reference protocol's criteria, every
criterion answered both ways (all others met), and the value recorded in the database and
the eligibility checked for each (issue 16: "Never treated with ketamine" answered Yes used to
record previous_ketamine = true and make the person ineligible). Every input has a label."""

from __future__ import annotations

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from ketapain.capture.models import Screening
from ketapain.operations import screening_questions
from ketapain.protocol import load_protocol

from ..screening_cases import cases, eligible_answers, form_key
from .conftest import ADMIN_PW, browser_login

NURSE_PW = "nurse-password-1"


def _fill(page, answers: dict[str, str]) -> None:
    for name, value in answers.items():
        if name.startswith("c_"):
            page.check(f"input[name={name}][value={value}]")
        elif page.locator(f"select[name={name}]").count():
            page.select_option(f"select[name={name}]", value)
        else:
            page.fill(f"input[name={name}]", value)
    for i in range(1, 11):
        page.check(f"input[name=dn4_{i}][value='{int(i <= 5)}']")


def _make_nurse(page, base: str) -> None:
    browser_login(page, base, "admin", ADMIN_PW)
    page.goto(f"{base}/users")
    page.fill("input[name=username]", "nurse1")
    page.select_option("select[name=role]", "nurse")
    page.fill("input[name=password]", NURSE_PW)
    page.click("button:has-text('Create user')")
    page.click("button:has-text('Log out')")
    browser_login(page, base, "nurse1", NURSE_PW)


def test_every_criterion_answered_both_ways_in_chromium(browser, live_server, tmp_path):
    base, protocol = live_server, load_protocol("ketapain")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    _make_nurse(page, base)
    page.goto(f"{base}/screening")
    # the form is the protocol's: one question per answer, yes/no questions in the criterion's words
    for q in screening_questions(protocol):
        box = page.locator(f".question[data-criterion={q.criterion}]")
        assert q.text in box.inner_text()
    # every visible input, select and radio has a label naming it
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('form input, form select')]
        .filter(e => e.type !== 'hidden' && (!e.labels || e.labels.length === 0)).map(e => e.name)""")
    assert unlabelled == []
    page.screenshot(path="/tmp/shots-k/screening-form.png", full_page=True)
    base_answers, all_cases = eligible_answers(protocol), cases(protocol)
    expected = {}
    for n, case in enumerate(all_cases, start=1):
        page.goto(f"{base}/screening")
        _fill(page, base_answers | {form_key(protocol, case): case.form_value})
        page.click("button:has-text('Evaluate and save')")
        sid = f"S{n:03d}"
        row = page.locator(f"tr#{sid}").inner_text()
        assert ("Yes" if case.eligible else "No") in row.split("\t")[3], (case, row)
        expected[sid] = case
    page.screenshot(path="/tmp/shots-k/screening-log.png", full_page=True)
    engine = create_engine(f"sqlite:///{tmp_path / 'live.sqlite'}")
    with Session(engine) as s:
        stored = {r.screening_id: r for r in s.execute(select(Screening)).scalars()}
    engine.dispose()
    assert len(stored) == len(all_cases) == 2 * len(screening_questions(protocol))
    for sid, case in expected.items():
        r = stored[sid]
        assert r.answers[case.field] == case.recorded and type(r.answers[case.field]) is type(case.recorded), case
        assert r.eligible is case.eligible, case
        assert [f["id"] for f in r.failed] == ([] if case.eligible else [case.criterion]), case
    # the criterion of the issue: "Never treated with ketamine" - Yes records not previously treated
    naive = [c for c in all_cases if c.criterion == "inc_ketamine_naive"]
    assert [(c.form_value, c.recorded, c.eligible) for c in naive] == [("yes", False, True), ("no", True, False)]

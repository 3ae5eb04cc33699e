"""Real browser: the pharmacist sees a kit's arm and what to prepare; the nurse, on the same
screens, sees the kit codes only, and is refused the pharmacy sheet (Playwright driving
Debian's headless Chromium against the app served by uvicorn, see ``conftest.live_server``).

The truth the pages are checked against is read from the live server's database file
(``allocations`` rows), not from the app's own views; the expected doses come from the
published protocol (Pickering et al., Trials 2017;18:517; ``ketapain.toml``): ketamine
0.5 mg/kg from a 50 mg/ml vial, magnesium sulfate 3,000 mg (two 1.5 g/10 ml ampoules).
"""

from __future__ import annotations

import itertools
import re

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from ketapain.capture.models import Allocation

from .conftest import ADMIN_PW, browser_login

PHARM_PW = "pharmacist-password-1"
NURSE_PW = "nurse-password-2"
WEIGHT_KG = 72.0
ARM_CODES = ("P", "K", "KM")
ARM_NAMES = {"P": "placebo", "K": "ketamine", "KM": "ketamine/magnesium"}
# every order of the three arms, in the two spellings a page could use
SEQUENCES = ["-".join(s) for s in itertools.permutations(ARM_CODES)] + ["".join(s) for s in itertools.permutations(ARM_CODES)]

# What the preparation sheet must say for 72 kg, per arm (hand arithmetic from the protocol):
# ketamine 0.5 mg/kg x 72 kg = 36.0 mg = 0.72 ml of 50 mg/ml; MgSO4 3000 mg = 20 ml of 150 mg/ml.
EXPECTED_SHEET = {
    "P": ["placebo for ketamine: NaCl 0.9% only, no drug", "placebo for magnesium sulfate: NaCl 0.9% only, no drug"],
    "K": ["ketamine: 36.0 mg", "draw 0.72 ml of 50 mg/ml", "placebo for magnesium sulfate: NaCl 0.9% only, no drug"],
    "KM": ["ketamine: 36.0 mg", "draw 0.72 ml of 50 mg/ml", "magnesium sulfate: 3000.0 mg", "draw 20.00 ml of 150 mg/ml"],
}
ABSENT_SHEET = {"P": ["36.0 mg", "3000.0 mg"], "K": ["3000.0 mg", "placebo for ketamine"], "KM": ["placebo for"]}


def _apibrowser_login(base: str, user: str, password: str) -> tuple[httpx.Client, dict[str, str]]:
    c = httpx.Client(base_url=f"{base}/api/v1", timeout=30)
    r = c.post("/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def _randomised_patient(base: str) -> str:
    """Through the API: the admin creates a nurse and a pharmacist; the nurse enrols a 72 kg
    patient and randomises him. Returns the patient id."""
    admin, h = _apibrowser_login(base, "admin", ADMIN_PW)
    for user, role, pw in (("nurse2", "nurse", NURSE_PW), ("pharm1", "pharmacist", PHARM_PW), ("stat1", "statistician", NURSE_PW)):
        r = admin.post("/users", json={"username": user, "role": role, "password": pw, "full_name": f"{role} {user}"}, headers=h)
        assert r.status_code == 201, r.text
    admin.close()
    # the two-person rule: the new pharmacist account waits for a second person's approval
    stat, h = _apibrowser_login(base, "stat1", NURSE_PW)
    (grant,) = [c for c in stat.get("/change-requests?status=pending").json() if c["target_user"] == "pharm1"]
    assert stat.post(f"/change-requests/{grant['id']}/approve", json={"password": NURSE_PW}, headers=h).status_code == 200
    stat.close()
    nurse, h = _apibrowser_login(base, "nurse2", NURSE_PW)
    r = nurse.post("/patients", json={"sex": "M", "age_years": 61, "weight_kg": WEIGHT_KG, "pain_type": "postsurgery"}, headers=h)
    assert r.status_code == 201, r.text
    pid = r.json()["patient_id"]
    r = nurse.post(f"/patients/{pid}/randomise", headers=h)
    assert r.status_code == 201, r.text
    assert all("treatment" not in a and "sequence" not in a for a in r.json())  # the nurse's own answer is blinded too
    nurse.close()
    return pid


def _truth(db_file, pid: str) -> list[Allocation]:
    """The patient's allocation rows, straight from the database (period order)."""
    assert db_file.exists(), f"{db_file}: the live server's database is not where conftest.live_server puts it"
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine) as s:
        rows = list(s.execute(select(Allocation).where(Allocation.patient_id == pid).order_by(Allocation.period)).scalars())
        s.expunge_all()
    engine.dispose()
    return rows


def _assert_no_allocation(html: str, where: str, rows: list[Allocation]) -> None:
    """No arm name, arm code, sequence or pharmacy content in a blinded page's HTML."""
    low = html.lower()
    for word in ("placebo", "ketamine", "magnesium", "preparation sheet", "pharmacy:", 'class="arm"', ">arm<", ">sequence<"):
        assert word not in low, f"{where}: the nurse's page holds {word!r}"
    for seq in SEQUENCES + [r.sequence for r in rows]:
        assert seq not in html, f"{where}: the nurse's page holds the sequence string {seq!r}"
    text = re.sub(r"<[^>]+>", " ", html)  # visible text: no arm code as a word (kit codes such as T-K3P9XM are words of their own)
    hits = re.findall(r"(?<![\w-])(?:KM|K|P)(?![\w-])", text)
    assert not hits, f"{where}: arm codes {hits} in the nurse's page text"


def test_pharmacist_sees_the_kit_arm_and_dose_the_nurse_cannot(browser, live_server, tmp_path):
    base = live_server
    pid = _randomised_patient(base)
    rows = _truth(tmp_path / "live.sqlite", pid)
    assert [r.period for r in rows] == [1, 2, 3] and sorted(r.treatment for r in rows) == sorted(ARM_CODES)  # a crossover: each arm once
    kits = [r.kit_code for r in rows]
    assert len(set(kits)) == 3 and all(k.startswith("T-") for k in kits)  # test-list kit codes

    # --- the pharmacist, through the login page ------------------------------------------------
    pharm_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = pharm_ctx.new_page()
    page.set_default_timeout(10_000)
    browser_login(page, base, "pharm1", PHARM_PW)
    assert "You see allocations (unblinded role)." in page.locator("main").inner_text()
    page.goto(f"{base}/patients/{pid}")
    section = page.locator("section#randomisation")
    assert section.locator("td.kit").all_inner_texts() == kits
    assert section.locator("td.arm").all_inner_texts() == [r.treatment for r in rows]
    assert section.locator("th", has_text="Sequence").count() == 1
    for r in rows:
        cells = section.locator("tr", has=page.locator("td.kit", has_text=r.kit_code)).locator("td").all_inner_texts()
        assert cells[:2] == [str(r.period), r.kit_code] and r.treatment in cells and r.sequence in cells, cells
    for r in rows:  # from the casebook, the preparation sheet of every period
        page.goto(f"{base}/patients/{pid}")
        page.locator(f"a[href='/patients/{pid}/pharmacy/{r.period}']").click()
        page.wait_for_url(f"{base}/patients/{pid}/pharmacy/{r.period}")
        assert page.locator("h1").inner_text() == "Pharmacy: kit to prepare"
        assert page.locator("[data-testid=kit]").inner_text() == r.kit_code
        assert page.locator("[data-testid=arm]").inner_text() == r.treatment
        card = page.locator("section.card").inner_text()
        weight = rf"Patient {pid} · Period {r.period} · Weight \(kg\) 72(?![.\d])"   # shown rounded: 72, not 72.0
        assert f"({ARM_NAMES[r.treatment]})" in card and re.search(weight, card), card
        sheet = page.locator("pre.sheet").inner_text()
        for line in (
            f"kit: {r.kit_code}",
            f"patient: {pid}",
            f"period: {r.period}",
            f"arm: {r.treatment} ({ARM_NAMES[r.treatment]})",
            "weight: 72 kg",
            *EXPECTED_SHEET[r.treatment],
        ):
            assert line in sheet, f"period {r.period} ({r.treatment}): {line!r} not in the sheet:\n{sheet}"
        for line in ABSENT_SHEET[r.treatment]:
            assert line not in sheet, f"period {r.period} ({r.treatment}): {line!r} should not be in the sheet:\n{sheet}"
    pharm_ctx.close()

    # --- the nurse, in her own browser context, on the same screens ----------------------------
    nurse_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = nurse_ctx.new_page()
    page.set_default_timeout(10_000)
    browser_login(page, base, "nurse2", NURSE_PW)
    assert "You work blinded: no allocation is shown to you." in page.locator("main").inner_text()
    html = page.content()
    for seq in SEQUENCES:
        assert seq not in html, f"dashboard: the nurse's page holds the sequence string {seq!r}"
    page.goto(f"{base}/patients")
    assert page.locator(f"a[href='/patients/{pid}']").inner_text() == pid
    _assert_no_allocation(page.content(), "/patients", rows)
    page.goto(f"{base}/patients/{pid}")
    section = page.locator("section#randomisation")
    assert section.locator("td.kit").all_inner_texts() == kits  # the kit codes (blinded labels) are shown ...
    assert section.locator("td.arm").count() == 0 and section.locator("th").all_inner_texts()[:3] == ["Period", "Kit", "Infusion date"]
    assert page.locator("a[href*='/pharmacy/']").count() == 0  # ... with no way to the preparation sheet
    _assert_no_allocation(page.content(), f"/patients/{pid}", rows)

    for r in rows:  # the pharmacist's URL typed in directly: the refusal page, nothing of the sheet
        resp = page.goto(f"{base}/patients/{pid}/pharmacy/{r.period}")
        assert resp.status == 403
        assert page.locator("h1").inner_text() == "Error 403"
        assert "You may not do this" in page.locator("p.err").inner_text()
        assert "may not do this (pharmacy)" in page.locator("[data-testid=error-detail]").inner_text()
        html = page.content()
        assert page.locator("[data-testid=kit], [data-testid=arm], pre.sheet").count() == 0
        assert all(k not in html for k in kits) and "mg" not in re.sub(r"<[^>]+>", " ", html).split()
        _assert_no_allocation(html, f"/patients/{pid}/pharmacy/{r.period}", rows)

    # the same refusal from the JSON API with the nurse's browser session; her allocation view has kits only
    api = nurse_ctx.request
    r1 = api.get(f"{base}/api/v1/pharmacy/{pid}/1")
    assert r1.status == 403 and r1.json() == {"detail": "the nurse role may not do this (pharmacy)"}
    r2 = api.get(f"{base}/api/v1/allocations?patient_id={pid}")
    assert r2.status == 200
    assert [(a["period"], a["kit_code"]) for a in r2.json()] == [(r.period, r.kit_code) for r in rows]
    assert all(not ({"treatment", "sequence", "slot"} & set(a)) for a in r2.json()), r2.json()
    _assert_no_allocation(r2.text(), "/api/v1/allocations", rows)
    nurse_ctx.close()

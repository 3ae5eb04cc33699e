"""Randomisation lists in the capture app (issue 16, item 2): ``ketapain serve
--randomisation-list`` and the admin's import (API, page: tests/capture/web) load the list made
by ``ketapain randomize`` after checking its SHA-256 commitment; a test list is refused in a
production study, a production list in demo mode; the slots come from the list; the status
(used/remaining per stratum) is for unblinded roles only; every role is warned before the list
runs out, and randomisation is refused with what to do when it has run out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain.capture import create_app
from ketapain.capture.audit import verify_audit
from ketapain.capture.db import make_sessionmaker
from ketapain.cli import app as cli_app
from ketapain.operations import randomise_protocol, write_randomisation_list
from ketapain.protocol import load_protocol

from .conftest import ADMIN_PW, ROLE_PW, SECRET, Api, enable_pharmacist, make_settings

PROTOCOL = load_protocol("ketapain")
BLOCK = 6  # ketapain.toml: block_size = 6 (6 sequences)


def _list(tmp_path: Path, kind: str, *, n: int = 6, seed: int = 5, name: str | None = None) -> Path:
    rlist = randomise_protocol(PROTOCOL, n_patients=n, kind=kind, seed=seed)  # type: ignore[arg-type]
    return write_randomisation_list(rlist, tmp_path / (name or f"{kind}-{seed}"))


def _payload(folder: Path, **change: str) -> dict[str, str]:
    body = {"file_name": "pharmacy.csv", "pharmacy_csv": (folder / "pharmacy.csv").read_text(encoding="utf-8"),
            "commitment": (folder / "commitment.txt").read_text(encoding="ascii").strip()}
    body.update(change)
    return body


def _team(app) -> dict[str, Api]:  # type: ignore[no-untyped-def]
    admin = Api(app, "admin", ADMIN_PW)
    out = {"admin": admin}
    for role in ("nurse", "statistician", "pharmacist", "monitor"):
        r = admin.post("/users", {"username": role, "role": role, "password": ROLE_PW, "full_name": f"Dr {role}"})
        assert r.status_code == 201, r.text
        if role == "pharmacist":
            enable_pharmacist(out["statistician"])  # the two-person rule: a second person approves the grant
        out[role] = Api(app, role, ROLE_PW)
    return out


def _enrol(nurse: Api) -> str:
    r = nurse.post("/patients", {"sex": "F", "age_years": 50, "weight_kg": 70, "height_m": 1.65, "pain_type": "radiculopathy",
                                 "pain_duration_years": 1, "dn4_total": 5})
    assert r.status_code == 201, r.text
    return str(r.json()["patient_id"])


@pytest.fixture
def production_app(db_url: str):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(db_url, list_kind="production"))
    yield app
    app.state.engine.dispose()


def test_a_production_study_starts_without_a_list_and_runs_on_the_imported_one(production_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = _team(production_app)
    nurse, pharmacist = c["nurse"], c["pharmacist"]
    status = nurse.get("/randomisation-list").json()
    assert status["study_kind"] == "production" and status["level"] == "none" and status["lists"] == []
    first = _enrol(nurse)
    r = nurse.post(f"/patients/{first}/randomise")
    assert r.status_code == 409 and "No randomisation list is loaded: the administrator imports" in r.json()["detail"]

    folder = _list(tmp_path, "production")
    r = c["admin"].post("/randomisation-list", _payload(folder))
    assert r.status_code == 201, r.text
    loaded = r.json()["loaded"]
    assert loaded["slots"] == 6 and loaded["list_kind"] == "production" and loaded["number"] == 1
    assert loaded["commitment"] == (folder / "commitment.txt").read_text().strip()
    assert r.json()["status"]["strata"] is None  # the admin is blinded: no counts

    assert pharmacist.get("/randomisation-list").json()["strata"] == [{"stratum": None, "slots": 6, "used": 0, "remaining": 6}]
    assert nurse.post(f"/patients/{first}/randomise").status_code == 201
    for who in ("nurse", "monitor", "admin"):  # blinded: the warning, never the counts
        s = c[who].get("/randomisation-list").json()
        assert s["strata"] is None and s["level"] == "low"
        assert s["message"] == ("The randomisation list is running out (less than one block left): "
                                "ask the pharmacy for the next list now.")
    assert pharmacist.get("/randomisation-list").json()["strata"][0] == {"stratum": None, "slots": 6, "used": 1, "remaining": 5}
    for _ in range(5):
        assert nurse.post(f"/patients/{_enrol(nurse)}/randomise").status_code == 201
    assert nurse.get("/randomisation-list").json()["level"] == "exhausted"
    late = _enrol(nurse)
    r = nurse.post(f"/patients/{late}/randomise")
    assert r.status_code == 409
    assert r.json()["detail"] == (f"patient {late} cannot be randomised: The randomisation list has run out: no patient can be "
                                  "randomised until the administrator imports the next list made by ketapain randomize.")
    # the next list continues the slots
    r = c["admin"].post("/randomisation-list", _payload(_list(tmp_path, "production", seed=6)))
    assert r.status_code == 201 and r.json()["loaded"]["number"] == 2, r.text
    assert nurse.post(f"/patients/{late}/randomise").status_code == 201
    assert pharmacist.get("/randomisation-list").json()["strata"] == [{"stratum": None, "slots": 12, "used": 7, "remaining": 5}]
    with make_sessionmaker(production_app.state.engine)() as session:
        assert verify_audit(session).ok


def test_every_refused_import_says_why(production_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = _team(production_app)
    admin = c["admin"]
    good = _list(tmp_path, "production")
    tampered = _payload(good)
    tampered["pharmacy_csv"] = tampered["pharmacy_csv"].replace(",1,", ",2,", 1)
    cases = [
        (tampered, 422, "pharmacy.csv: SHA-256 "),
        (_payload(good, commitment="abc"), 422, "commitment (commitment): a SHA-256 digest is 64 hex digits"),
        (_payload(_list(tmp_path, "test")), 422, "pharmacy.csv: a TEST list is refused in a production study"),
    ]
    for body, code, message in cases:
        r = admin.post("/randomisation-list", body)
        assert r.status_code == code, r.text
        assert r.json()["detail"][0]["msg"].startswith(message)
    assert "does not match the commitment" in admin.post("/randomisation-list", tampered).json()["detail"][0]["msg"]
    r = c["nurse"].post("/randomisation-list", _payload(good))
    assert r.status_code == 403
    assert admin.post("/randomisation-list", _payload(good)).status_code == 201
    r = admin.post("/randomisation-list", _payload(good))
    assert r.status_code == 409 and r.json()["detail"].startswith("pharmacy.csv: this list (SHA-256 ")
    assert "is loaded already, as list 1" in r.json()["detail"]
    assert c["pharmacist"].get("/randomisation-list").json()["strata"][0]["slots"] == 6  # the refused lists left nothing


def test_a_training_study_refuses_a_production_list(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    admin = Api(app, "admin", ADMIN_PW)
    status = admin.get("/randomisation-list").json()
    assert status["study_kind"] == "test" and status["lists"][0]["slots"] == 12  # randomisation_patients=12 in the fixture
    r = admin.post("/randomisation-list", _payload(_list(tmp_path, "production")))
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"].startswith("pharmacy.csv: a PRODUCTION list is refused in this test (training) study")


def test_demo_leaves_room_for_new_patients_and_refuses_a_production_list(sqlite_template: str, tmp_path: Path) -> None:
    import shutil

    shutil.copy(sqlite_template, tmp_path / "demo.sqlite")
    demo = create_app(make_settings(f"sqlite:///{tmp_path / 'demo.sqlite'}"), demo=True, demo_seed=3)
    try:
        c = _team(demo)
        s = c["pharmacist"].get("/randomisation-list").json()
        assert s["demo"] and s["strata"] == [{"stratum": None, "slots": 24, "used": 12, "remaining": 12}]
        thirteenth = _enrol(c["nurse"])
        assert thirteenth not in {f"P{i:03d}" for i in range(1, 13)}
        assert c["nurse"].post(f"/patients/{thirteenth}/randomise").status_code == 201
        r = c["admin"].post("/randomisation-list", _payload(_list(tmp_path, "production")))
        assert r.status_code == 422
        assert r.json()["detail"][0]["msg"].startswith("pharmacy.csv: a PRODUCTION list is refused in demo mode")
        assert c["admin"].post("/randomisation-list", _payload(_list(tmp_path, "test", seed=9))).status_code == 201
    finally:
        demo.state.engine.dispose()


@pytest.fixture
def serve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    started: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda served, **kw: started.append(served))
    for name in [n for n in os.environ if n.startswith("KETAPAIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KETAPAIN_SECRET_KEY", SECRET)
    monkeypatch.setenv("KETAPAIN_ADMIN_USER", "admin")
    monkeypatch.setenv("KETAPAIN_ADMIN_PASSWORD", ADMIN_PW)
    monkeypatch.chdir(tmp_path)
    return started


def test_serve_with_a_production_list_starts_a_production_study(serve_env: list[object], tmp_path: Path) -> None:
    folder = _list(tmp_path, "production", n=10)
    res = CliRunner().invoke(cli_app, ["serve", "--randomisation-list", str(folder)])
    assert res.exit_code == 0, res.output
    assert serve_env
    status = Api(serve_env[0], "admin", ADMIN_PW).get("/randomisation-list").json()
    assert status["study_kind"] == "production" and status["lists"][0]["slots"] == 12  # 10 patients, blocks of 6
    assert status["lists"][0]["source"] == "serve"
    # the same list again (a restart) loads nothing twice; its pharmacy.csv path works too
    again = CliRunner().invoke(cli_app, ["serve", "--randomisation-list", str(folder / "pharmacy.csv")])
    assert again.exit_code == 0, again.output
    assert len(Api(serve_env[1], "admin", ADMIN_PW).get("/randomisation-list").json()["lists"]) == 1


def test_serve_refuses_a_tampered_list_in_one_line(serve_env: list[object], tmp_path: Path) -> None:
    folder = _list(tmp_path, "production")
    pharmacy = folder / "pharmacy.csv"
    pharmacy.write_bytes(pharmacy.read_bytes().replace(b",1,", b",2,", 1))
    res = CliRunner().invoke(cli_app, ["serve", "--randomisation-list", str(folder)])
    assert res.exit_code == 1 and not serve_env
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {pharmacy}: SHA-256 ") and "does not match the commitment" in lines[-1]
    assert [line for line in lines if line.startswith("error")] == [lines[-1]]


def test_serve_demo_refuses_a_production_list_and_a_wrong_commitment(serve_env: list[object], tmp_path: Path) -> None:
    folder = _list(tmp_path, "production")
    res = CliRunner().invoke(cli_app, ["serve", "--demo", "--randomisation-list", str(folder)])
    assert res.exit_code == 1 and "a PRODUCTION list is refused in demo mode" in res.stderr
    res = CliRunner().invoke(cli_app, ["serve", "--randomisation-list", str(folder), "--commitment", "0" * 64])
    assert res.exit_code == 1 and "does not match the commitment " + "0" * 64 + " (--commitment)" in res.stderr
    assert not serve_env

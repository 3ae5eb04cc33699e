"""``randomize``, ``unblind`` and ``verify-list`` on a local Typer app, run with CliRunner."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


@pytest.fixture
def made(tmp_path: Path) -> Path:
    out = tmp_path / "list"
    res = run("randomize", "--protocol", "ketapain", "--patients", "24", "--seed", "2024", "--out", out,
              "--kind", "production")
    assert res.exit_code == 0, res.output
    return out


def test_randomize_writes_files_and_prints_the_commitment(tmp_path: Path) -> None:
    out = tmp_path / "l"
    res = run("randomize", "--protocol", "ketapain", "--patients", "20", "--seed", "7", "--out", out)
    assert res.exit_code == 0, res.output
    digest = hashlib.sha256((out / "pharmacy.csv").read_bytes()).hexdigest()
    assert f"commitment: {digest}" in res.stdout
    assert (out / "commitment.txt").read_text().strip() == digest
    assert "TEST LIST — NOT FOR PATIENT USE" in res.stdout
    pharmacy = rows(out / "pharmacy.csv")
    assert {"patient_id", "block", "block_size", "sequence", "period", "treatment", "kit_code",
            "list_kind", "protocol_id"} <= set(pharmacy[0])
    assert len(pharmacy) == 24 * 3 and all(r["kit_code"].startswith("T-") for r in pharmacy)
    labels = rows(out / "labels.csv")
    assert set(labels[0]) == {"protocol_id", "list_kind", "patient_id", "period", "kit_code"}
    assert "TEST — NOT FOR PATIENT USE" in (out / "labels.html").read_text()
    meta = json.loads((out / "list_meta.json").read_text())
    assert meta["seed"] == "7" and meta["list_kind"] == "test" and meta["protocol_id"] == "ketapain"
    # the seed is not printed on the screen (it reproduces the list)
    assert "seed: 7" not in res.stdout


def test_same_seed_same_bytes_and_no_seed_is_generated(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert run("randomize", "--protocol", "ketapain", "--patients", "12", "--seed", "99", "--out",
                   tmp_path / name).exit_code == 0
    for f in ("pharmacy.csv", "labels.csv", "labels.html", "commitment.txt"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert run("randomize", "--protocol", "ketapain", "--patients", "12", "--out", tmp_path / "c").exit_code == 0
    meta = json.loads((tmp_path / "c" / "list_meta.json").read_text())
    assert meta["seed_source"] == "generated" and int(meta["seed"]) >= 0
    assert (tmp_path / "c" / "pharmacy.csv").read_bytes() != (tmp_path / "a" / "pharmacy.csv").read_bytes()
    # a big seed from list_meta.json reproduces the list
    assert run("randomize", "--protocol", "ketapain", "--patients", "12", "--seed", meta["seed"], "--out",
               tmp_path / "d").exit_code == 0
    assert (tmp_path / "d" / "pharmacy.csv").read_bytes() == (tmp_path / "c" / "pharmacy.csv").read_bytes()


def test_refuses_to_overwrite(made: Path) -> None:
    before = (made / "pharmacy.csv").read_bytes()
    res = run("randomize", "--protocol", "ketapain", "--patients", "24", "--seed", "1", "--out", made)
    assert res.exit_code == 1 and res.stderr.startswith("error: ") and "never overwritten" in res.stderr
    assert (made / "pharmacy.csv").read_bytes() == before


def test_block_size_and_strata(tmp_path: Path) -> None:
    res = run("randomize", "--protocol", "ketapain", "--patients", "13", "--block-size", "12", "--seed", "1",
              "--out", tmp_path / "b")
    assert res.exit_code == 0, res.output
    assert {r["block_size"] for r in rows(tmp_path / "b" / "pharmacy.csv")} == {"12"}
    res = run("randomize", "--protocol", "ab_ba_example", "--strata", "M=6,F=4", "--seed", "1",
              "--out", tmp_path / "s")
    assert res.exit_code == 0, res.output
    assert "sex: M=6, F=4" in res.stdout
    ph = rows(tmp_path / "s" / "pharmacy.csv")
    assert {r["stratum"] for r in ph} == {"M", "F"}
    assert all(r["patient_id"].startswith(r["stratum"] + "-") for r in ph)
    assert "stratum" in rows(tmp_path / "s" / "labels.csv")[0]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--protocol", "ketapain", "--patients", "12", "--block-size", "4"], 1,
         "error: --block-size: 4 is not a positive multiple of the number of sequences (6); allowed: 6, 12, 18, ...\n"),
        (["--protocol", "ab_ba_example", "--patients", "12"], 1, "error: randomisation.strata"),
        (["--protocol", "nope", "--patients", "12"], 1, "error: "),
        (["--protocol", "ketapain", "--patients", "12", "--kind", "live"], 2, "test or production"),
        (["--protocol", "ketapain"], 2, "--patients"),
        (["--protocol", "ab_ba_example", "--strata", "M12"], 2, "VALUE=N"),
        (["--protocol", "ab_ba_example", "--strata", "M=2,F=2", "--patients", "5"], 2, "adds up to 4"),
        # limits before work (issue 14): refused at once, nothing built
        (["--protocol", "ketapain", "--patients", "100000000"], 1,
         "error: --patients: 100000000 patients requested; at most 10000 in one list\n"),
        (["--protocol", "ab_ba_example", "--strata", "M=5000,F=5001"], 1,
         "error: --patients: 10001 patients requested; at most 10000 in one list\n"),
        (["--protocol", "ketapain", "--patients", "24", "--block-size", "600000"], 1,
         "error: --block-size: blocks of up to 600000 patients for 24 patients may need 1800069 kits (3 periods); "
         "at most 200000 in one list: use smaller blocks\n"),
    ],
)
def test_randomize_errors(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    res = run("randomize", *args, "--out", tmp_path / "x")
    assert res.exit_code == code, res.output
    assert message in res.stderr
    assert "Traceback" not in res.output
    assert not (tmp_path / "x").exists()


def test_verify_list_ok_tampered_and_given_commitment(made: Path) -> None:
    res = run("verify-list", made)
    assert res.exit_code == 0 and res.stdout.startswith("OK")
    digest = (made / "commitment.txt").read_text().strip()
    assert run("verify-list", made, "--commitment", digest).exit_code == 0
    res = run("verify-list", made, "--commitment", "0" * 64)
    assert res.exit_code == 1 and "MISMATCH" in res.stdout and res.stderr.startswith("error: ")
    text = (made / "pharmacy.csv").read_text()
    (made / "pharmacy.csv").write_text(re.sub(r",KM,", ",P,", text, count=1))
    res = run("verify-list", made)
    assert res.exit_code == 1 and "does not match" in res.stderr
    res = run("verify-list", made.parent / "absent")
    assert res.exit_code == 1 and res.stderr.startswith("error: cannot read")


def test_unblind_by_kit_and_by_patient(made: Path) -> None:
    r = rows(made / "pharmacy.csv")[4]
    res = run("unblind", "--list", made, "--kit", r["kit_code"], "--reason", "severe hypotension",
              "--user", "Dr A", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["patient_id"], out["period"], out["treatment"]) == (r["patient_id"], int(r["period"]), r["treatment"])
    assert "sequence" not in out
    log = made / "unblinding_log.jsonl"
    rec = json.loads(log.read_text().splitlines()[0])
    assert rec["user"] == "Dr A" and rec["reason"] == "severe hypotension" and rec["kit_code"] == r["kit_code"]
    res = run("unblind", "--list", made, "--patient", r["patient_id"], "--period", r["period"], "--reason", "x",
              "--user", "Dr B", "--log-file", made.parent / "other.jsonl")
    assert res.exit_code == 0 and r["treatment"] in res.stdout
    assert (made.parent / "other.jsonl").exists() and len(log.read_text().splitlines()) == 1
    assert run("verify-list", made).exit_code == 0  # the log does not touch the committed list


def test_unblind_errors(made: Path, tmp_path: Path) -> None:
    kit = rows(made / "pharmacy.csv")[0]["kit_code"]
    res = run("unblind", "--list", made, "--kit", kit, "--reason", " ", "--user", "u")
    assert res.exit_code == 1 and "error: reason" in res.stderr
    res = run("unblind", "--list", made, "--kit", kit, "--user", "u")
    assert res.exit_code == 2  # --reason is required
    res = run("unblind", "--list", made, "--reason", "r", "--user", "u")
    assert res.exit_code == 2 and "--kit" in res.stderr
    res = run("unblind", "--list", made, "--kit", "T-" + kit, "--reason", "r", "--user", "u")
    assert res.exit_code == 1 and "TEST kit" in res.stderr
    assert not (made / "unblinding_log.jsonl").exists()


def test_import_a_list_made_elsewhere(made: Path, tmp_path: Path) -> None:
    ext = tmp_path / "from_elsewhere.csv"
    ext.write_bytes((made / "pharmacy.csv").read_bytes())
    res = run("randomize", "--protocol", "ketapain", "--import", ext, "--kind", "production",
              "--out", tmp_path / "imported")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "imported" / "pharmacy.csv").read_bytes() == ext.read_bytes()
    assert json.loads((tmp_path / "imported" / "list_meta.json").read_text())["seed_source"] == "imported"
    res = run("randomize", "--protocol", "ketapain", "--import", ext, "--out", tmp_path / "wrong")
    assert res.exit_code == 1 and "list_kind='production' in the file but 'test' was asked for" in res.stderr
    res = run("randomize", "--protocol", "ketapain", "--import", ext, "--kind", "production", "--seed", "1",
              "--out", tmp_path / "w2")
    assert res.exit_code == 2

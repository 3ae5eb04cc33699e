"""Emergency unblinding: reason and user required, one allocation only, logged before revealed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ketapain.errors import DataError
from ketapain.operations import (
    CommitmentMismatchError,
    ListKindMismatchError,
    Unblinding,
    make_randomisation_list,
    unblind,
    write_randomisation_list,
)

WILLIAMS3 = (("P", "K", "KM"), ("K", "KM", "P"), ("KM", "P", "K"),
             ("P", "KM", "K"), ("K", "P", "KM"), ("KM", "K", "P"))


@pytest.fixture
def production(tmp_path: Path) -> Path:
    rl = make_randomisation_list(WILLIAMS3, n_patients=12, protocol_id="ketapain", kind="production", seed=21)
    return write_randomisation_list(rl, tmp_path / "prod")


@pytest.fixture
def test_list(tmp_path: Path) -> Path:
    rl = make_randomisation_list(WILLIAMS3, n_patients=12, protocol_id="ketapain", kind="test", seed=21)
    return write_randomisation_list(rl, tmp_path / "test")


def _row(list_dir: Path, i: int) -> dict[str, str]:
    """Data row ``i`` (1-based) of the list's pharmacy.csv."""
    return list(csv.DictReader((list_dir / "pharmacy.csv").read_text().splitlines()))[i - 1]


def test_unblind_by_kit_returns_that_allocation_only_and_logs_it(production: Path, tmp_path: Path) -> None:
    r = _row(production, 5)
    pid, seq, period, trt, kit = r["patient_id"], r["sequence"], r["period"], r["treatment"], r["kit_code"]
    log = tmp_path / "audit" / "unblinding.jsonl"
    res = unblind(production, kit.lower(), reason="  anaphylaxis ", user="Dr Who", log_path=log)
    assert isinstance(res, Unblinding)
    assert (res.patient_id, res.period, res.treatment, res.kit_code) == (pid, int(period), trt, kit)
    assert not hasattr(res, "sequence") and seq not in json.dumps(res.to_dict())
    assert "sequence" not in res.summary().lower() and trt in res.summary()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 1
    rec = records[0]
    assert rec["user"] == "Dr Who" and rec["reason"] == "anaphylaxis" and rec["kit_code"] == kit
    assert rec["patient_id"] == pid and rec["period"] == int(period) and rec["list_kind"] == "production"
    assert rec["timestamp_utc"].endswith("Z") and rec["event"] == "emergency_unblinding"
    assert rec["list_commitment"] == (production / "commitment.txt").read_text().strip()
    assert "treatment" not in rec and trt not in rec.values()  # the log itself stays blinded
    # a second unblinding appends
    unblind(production, (pid, int(period)), reason="SAE follow-up", user="Dr Who", log_path=log)
    assert len(log.read_text().splitlines()) == 2


def test_unblind_by_patient_and_period(production: Path, tmp_path: Path) -> None:
    r = _row(production, 9)
    pid, trt, kit = r["patient_id"], r["treatment"], r["kit_code"]
    res = unblind(production, (pid, 3), reason="r", user="u", log_path=tmp_path / "l.jsonl")
    assert (res.treatment, res.kit_code, res.period) == (trt, kit, 3)


@pytest.mark.parametrize(("reason", "user", "message"), [("", "u", "reason"), ("  ", "u", "reason"),
                                                          ("r", "", "user"), ("r", " \t", "user")])
def test_reason_and_user_are_required(production: Path, tmp_path: Path, reason: str, user: str,
                                      message: str) -> None:
    log = tmp_path / "l.jsonl"
    with pytest.raises(DataError, match=message):
        unblind(production, _row(production, 1)["kit_code"], reason=reason, user=user, log_path=log)
    assert not log.exists()


def test_unknown_kit_or_slot(production: Path, tmp_path: Path) -> None:
    log = tmp_path / "l.jsonl"
    with pytest.raises(DataError, match="kit code 'ACDEFH' is not in the production list of ketapain"):
        unblind(production, "ACDEFH", reason="r", user="u", log_path=log)
    with pytest.raises(DataError, match="patient 'P999' period 1: not in"):
        unblind(production, ("P999", 1), reason="r", user="u", log_path=log)
    assert not log.exists()


def test_test_and_production_never_mix(production: Path, test_list: Path, tmp_path: Path) -> None:
    log = tmp_path / "l.jsonl"
    test_kit = _row(test_list, 1)["kit_code"]
    prod_kit = _row(production, 1)["kit_code"]
    with pytest.raises(ListKindMismatchError, match=r"TEST kit .* PRODUCTION list"):
        unblind(production, test_kit, reason="r", user="u", log_path=log)
    with pytest.raises(ListKindMismatchError, match=r"not a TEST kit .* TEST list"):
        unblind(test_list, prod_kit, reason="r", user="u", log_path=log)
    # the same seed gives a different test list: the test kit minus its prefix is no production kit
    with pytest.raises(DataError, match="not in the production list"):
        unblind(production, test_kit.removeprefix("T-"), reason="r", user="u", log_path=log)
    assert not log.exists()


def test_changed_list_is_refused(production: Path, tmp_path: Path) -> None:
    path = production / "pharmacy.csv"
    path.write_text(path.read_text().replace(",KM,", ",P,", 1))
    with pytest.raises(CommitmentMismatchError):
        unblind(production, _row(production, 1)["kit_code"], reason="r", user="u", log_path=tmp_path / "l.jsonl")


def test_nothing_revealed_when_the_log_cannot_be_written(production: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataError, match="nothing was unblinded"):
        unblind(production, _row(production, 1)["kit_code"], reason="r", user="u", log_path=blocker / "log.jsonl")


def test_in_memory_list(tmp_path: Path) -> None:
    rl = make_randomisation_list(WILLIAMS3, n_patients=6, protocol_id="k", seed=2)
    row = rl.table.iloc[4]
    res = unblind(rl, row["kit_code"], reason="r", user="u", log_path=tmp_path / "l.jsonl")
    assert res.treatment == row["treatment"] and res.list_kind == "test"

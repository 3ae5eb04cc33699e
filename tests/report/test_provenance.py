"""Provenance: data and protocol hashes, and the provenance block."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import ketapain
from ketapain.data import TrialData, read_trial, write_trial
from ketapain.errors import DataError
from ketapain.protocol import load_protocol
from ketapain.report import protocol_hash, provenance, trial_data_hash


def _trial() -> TrialData:
    """The data-model tests' 3-patient trial (tests/data/conftest.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("data_conftest", Path(__file__).parents[1] / "data" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return TrialData.from_tables(**module.build_tables(), meta=module.META)


def test_same_hash_for_csv_and_parquet_copies(tmp_path: Path) -> None:
    data = _trial()
    h = trial_data_hash(data)
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    csv = read_trial(write_trial(data, tmp_path / "csv", format="csv"))
    parquet = read_trial(write_trial(data, tmp_path / "pq", format="parquet"))
    assert trial_data_hash(csv) == h == trial_data_hash(parquet)


def test_hash_ignores_row_order_and_meta_but_not_values() -> None:
    data = _trial()
    tables = data.to_tables()
    shuffled = {k: v.iloc[::-1] for k, v in tables.items()}
    assert trial_data_hash(TrialData.from_tables(**shuffled, meta={"study": "other"})) == trial_data_hash(data)
    diary = tables["diary"].copy()
    diary.loc[0, "avg_pain"] = diary.loc[0, "avg_pain"] + 0.1
    assert trial_data_hash(TrialData.from_tables(**{**tables, "diary": diary})) != trial_data_hash(data)
    # a missing value differs from any number
    diary.loc[0, "avg_pain"] = None
    assert trial_data_hash(TrialData.from_tables(**{**tables, "diary": diary})) != trial_data_hash(data)


def test_hash_is_sha256_of_the_documented_serialisation() -> None:
    data = TrialData.from_tables()
    text = "".join(f"# {name}\n" + ",".join(sorted(data.table(name).columns)) + "\n"
                   for name in ("patients", "allocation", "diary", "questionnaires", "adverse_events",
                                "concomitant", "screening"))
    assert trial_data_hash(data) == hashlib.sha256(text.encode()).hexdigest()


def test_protocol_hash() -> None:
    protocol = load_protocol("ketapain")
    text = json.dumps(protocol.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert protocol_hash(protocol) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert protocol_hash(load_protocol("ketapain")) == protocol_hash(protocol)
    assert protocol_hash(load_protocol("ab_ba_example")) != protocol_hash(protocol)
    with pytest.raises(TypeError, match="pydantic model"):
        protocol_hash({"a": 1})


def test_provenance_block() -> None:
    p = provenance(data_hash="d" * 64, protocol_hash="p" * 64, seed=20200701, command="ketapain demo",
                   extra={"study": "KETAPAIN"})
    assert list(p) == ["ketapain", "date", "data_sha256", "protocol_sha256", "seed", "command", "python",
                       "numpy", "scipy", "pandas", "matplotlib", "fpdf2", "platform", "study"]
    assert p["ketapain"] == ketapain.__version__ and p["seed"] == "20200701"
    assert p["pandas"] == pd.__version__
    assert pd.Timestamp(p["date"]).tzname() == "UTC"
    assert all(isinstance(v, str) for v in p.values())
    assert "seed" not in provenance(data_hash="d", protocol_hash="p")
    with pytest.raises(DataError, match="'date' would replace a standard entry"):
        provenance(data_hash="d", protocol_hash="p", extra={"date": "yesterday"})

"""The pain columns on the protocol's diary scale (``diary_scale``), not always the NRS 0..10.

A statistician's trial with a VAS 0..100 could not be simulated, read, imported or analysed:
the schema bounded ``avg_pain``, ``max_pain``, ``night_pain`` and ``pre_infusion_pain`` by 0..10.
The readers now take the protocol's scale; without one the schema's 0..10 holds, as before.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import scales
from ketapain.data import (
    DEFAULT_DIARY_SCALE,
    PAIN_COLUMNS,
    SCHEMAS,
    TrialData,
    check_trial,
    read_trial,
)
from ketapain.errors import DataError
from ketapain.protocol import data_contract
from ketapain.simulate import simulate_trial


def _tables(avg: float, pre: float = 50.0) -> dict[str, pd.DataFrame]:
    patients = pd.DataFrame({"patient_id": ["P1"], "sex": ["F"], "age_years": [50], "weight_kg": [None],
                             "height_m": [None], "pain_type": ["other"], "pain_duration_years": [None],
                             "dn4_total": [None]})
    allocation = pd.DataFrame({"patient_id": ["P1"], "period": [1], "sequence": ["A"], "treatment": ["A"],
                               "pre_infusion_pain": [pre]})
    diary = pd.DataFrame({"patient_id": ["P1", "P1"], "period": [1, 1], "day": [1, 2], "avg_pain": [70.0, avg],
                          "max_pain": [80.0, 100.0], "night_pain": [0.0, None]})
    return {"patients": patients, "allocation": allocation, "diary": diary}


def test_the_default_scale_is_the_schema_s_nrs() -> None:
    assert DEFAULT_DIARY_SCALE == (0.0, 10.0)
    for table, column in PAIN_COLUMNS:
        col = SCHEMAS[table].column(column)
        assert (col.min, col.max) == DEFAULT_DIARY_SCALE and col.rule == "0..10"


def test_a_vas_trial_is_valid_on_its_scale_and_refused_on_the_default() -> None:
    data = TrialData.from_tables(**_tables(avg=100.0), diary_scale=(0, 100))
    assert data.diary["avg_pain"].tolist() == [70.0, 100.0]
    assert data.allocation["pre_infusion_pain"].tolist() == [50.0]
    with pytest.raises(DataError) as err:
        TrialData.from_tables(**_tables(avg=100.0))
    text = str(err.value)
    # every pain column outside the default 0..10 is named, with its row and the range
    assert "diary row 2: avg_pain=70 is outside 0..10" in text
    assert "diary row 3: max_pain=100 is outside 0..10" in text
    assert "allocation row 2: pre_infusion_pain=50 is outside 0..10" in text


@pytest.mark.parametrize(("table", "column", "value", "where"), [
    ("diary", "avg_pain", 101.0, "diary row 3"),
    ("diary", "avg_pain", -1.0, "diary row 3"),
    ("allocation", "pre_infusion_pain", 100.5, "allocation row 2"),
])
def test_a_value_outside_the_protocol_s_scale_is_named(table: str, column: str, value: float, where: str) -> None:
    tables = _tables(avg=50.0)
    tables[table] = tables[table].copy()
    tables[table].loc[len(tables[table]) - 1, column] = value
    with pytest.raises(DataError) as err:
        TrialData.from_tables(**tables, diary_scale=(0, 100))
    assert f"{where}: {column}={value:g} is outside 0..100" in str(err.value)
    assert "1 problem" in str(err.value)


def test_a_narrower_scale_refuses_what_the_nrs_would_accept() -> None:
    tables = _tables(avg=5.0, pre=4.0)
    tables["diary"] = tables["diary"].assign(avg_pain=[3.0, 5.0], max_pain=[4.0, 6.0], night_pain=[0.0, None])
    with pytest.raises(DataError, match=r"diary row 3: max_pain=6 is outside 0\.\.5"):
        TrialData.from_tables(**tables, diary_scale=(0, 5))
    assert TrialData.from_tables(**tables).diary["max_pain"].max() == 6.0  # the NRS accepts it


@pytest.mark.parametrize("bad", [(10, 0), (5, 5), (0, float("inf")), (float("nan"), 10), (0,), "0..100",
                                 (True, 10), (0, 10, 20)])
def test_a_bad_diary_scale_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(DataError, match=r"diary_scale=.* must be \(low, high\): two finite numbers with low < high"):
        TrialData.from_tables(diary_scale=bad)  # type: ignore[arg-type]


def test_a_vas_trial_round_trips_through_its_folder(tmp_path: Path) -> None:
    protocol = scales.on_scale(tmp_path / "protocol", 0, 100)
    data = TrialData.from_tables(**_tables(avg=99.5), diary_scale=protocol.diary.scale)
    for fmt in ("csv", "parquet"):
        folder = data.write(tmp_path / fmt, format=fmt)  # type: ignore[arg-type]
        again = read_trial(folder, diary_scale=protocol.diary.scale)
        assert again.equals(data)
        assert TrialData.read(folder, diary_scale=(0, 100)).equals(data)
        with pytest.raises(DataError, match=r"diary\.(csv|parquet) row 2: avg_pain=70 is outside 0\.\.10"):
            read_trial(folder)  # without the protocol's scale: the NRS, and the message says so


def test_a_simulated_vas_trial_is_on_its_scale_and_fails_at_101(tmp_path: Path) -> None:
    protocol = scales.on_scale(tmp_path, 0, 100)
    data = simulate_trial(protocol, n_patients=4, seed=1)  # failed: "diary row 129: avg_pain=11 is outside 0..10"
    values = pd.concat([data.diary["avg_pain"], data.diary["max_pain"], data.allocation["pre_infusion_pain"]]).dropna()
    assert values.between(0, 100).all() and values.max() > 10
    folder = data.write(tmp_path / "trial")
    assert read_trial(folder, diary_scale=protocol.diary.scale).equals(data)
    diary = pd.read_csv(folder / "diary.csv")
    diary.loc[4, "avg_pain"] = 101
    diary.to_csv(folder / "diary.csv", index=False)
    with pytest.raises(DataError) as err:
        read_trial(folder, diary_scale=protocol.diary.scale)
    assert "diary.csv row 6: avg_pain=101 is outside 0..100" in str(err.value)


def test_check_trial_bounds_the_pain_columns_by_the_contract_s_scale_once(tmp_path: Path) -> None:
    protocol = scales.on_scale(tmp_path, 0, 100)
    contract = data_contract(protocol)
    data = simulate_trial(protocol, n_patients=4, seed=1)
    assert check_trial(data, contract).ok
    diary = data.diary
    diary.loc[0, "avg_pain"] = 101.0
    result = check_trial({**data.to_tables(), "diary": diary}, contract)
    messages = [str(p) for p in result.problems if "101" in str(p)]
    assert messages == ["diary row 2: avg_pain=101 is outside 0..100"]  # one message, the contract's scale
    assert [p.kind for p in result.problems if "101" in str(p)] == ["invalid_data"]

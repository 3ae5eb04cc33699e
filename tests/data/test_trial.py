"""TrialData as a container: typing, extra columns, empty tables, immutability."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from ketapain.data import SCHEMAS, TABLE_NAMES, TrialData
from ketapain.errors import DataError


def test_valid_trial_has_canonical_columns_and_dtypes(trial: TrialData) -> None:
    for name in TABLE_NAMES:
        frame = trial.table(name)
        schema = SCHEMAS[name]
        assert list(frame.columns) == list(schema.names)
        assert {c: str(t) for c, t in frame.dtypes.items()} == schema.pandas_dtypes
        assert isinstance(frame.index, pd.RangeIndex)
    assert len(trial.patients) == 3
    assert len(trial.allocation) == 9
    assert len(trial.diary) == 45
    assert trial.diary["avg_pain"].isna().sum() == 2
    assert dict(trial.meta) == {
        "study": "KETAPAIN-test",
        "protocol_id": "ketapain-2017",
        "source": "tests",
    }


def test_missing_tables_are_empty_frames_with_the_right_columns() -> None:
    data = TrialData.from_tables()
    for name in TABLE_NAMES:
        frame = data.table(name)
        assert frame.empty
        assert {c: str(t) for c, t in frame.dtypes.items()} == SCHEMAS[name].pandas_dtypes
    assert dict(data.meta) == {}


def test_missing_optional_columns_are_added_as_missing(
    tables: dict[str, pd.DataFrame], make_trial: Callable[..., TrialData]
) -> None:
    diary = tables["diary"].drop(columns="extra_analgesics")
    data = make_trial(diary=diary)
    assert data.diary["extra_analgesics"].isna().all()
    assert str(data.diary["extra_analgesics"].dtype) == "boolean"
    assert data.allocation["kit_code"].tolist()[0] == "KIT-P01-1"


def test_text_input_is_converted(tables: dict[str, pd.DataFrame]) -> None:
    as_text = {
        name: frame.astype(object).map(lambda v: "" if pd.isna(v) else str(v))
        for name, frame in tables.items()
    }
    # str() of a Timestamp has a midnight time: tolerated; bools are 'True'/'False'.
    data = TrialData.from_tables(**as_text)
    typed = TrialData.from_tables(**tables)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(data.table(name), typed.table(name))


def test_extra_columns_are_kept_after_the_schema_columns(
    tables: dict[str, pd.DataFrame], make_trial: Callable[..., TrialData]
) -> None:
    diary = tables["diary"].assign(nurse=["N1"] * 45, avg_pain_raw=tables["diary"]["avg_pain"])
    diary = diary[["nurse", *tables["diary"].columns, "avg_pain_raw"]]
    data = make_trial(diary=diary)
    assert list(data.diary.columns) == [*SCHEMAS["diary"].names, "nurse", "avg_pain_raw"]
    assert data.diary["nurse"].tolist() == ["N1"] * 45


def test_input_frames_are_not_modified(tables: dict[str, pd.DataFrame]) -> None:
    before = {name: frame.copy() for name, frame in tables.items()}
    tables["diary"].index = tables["diary"].index + 100
    data = TrialData.from_tables(**tables)
    assert data.diary.index[0] == 0
    tables["diary"].loc[100, "avg_pain"] = 9.9
    assert data.diary.loc[0, "avg_pain"] != 9.9
    for name in ("patients", "allocation", "screening"):
        pd.testing.assert_frame_equal(tables[name], before[name])


def test_returned_tables_are_copies(trial: TrialData) -> None:
    diary = trial.diary
    diary.loc[0, "avg_pain"] = 99.0
    diary["new"] = 1
    del diary["max_pain"]
    assert trial.diary.loc[0, "avg_pain"] != 99.0
    assert "new" not in trial.diary.columns
    assert "max_pain" in trial.diary.columns
    tables = trial.to_tables()
    tables["patients"].iloc[0, 0] = "X"
    assert trial.patients.iloc[0, 0] == "P01"
    values = trial.diary["avg_pain"].to_numpy()
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 1.0


def test_container_is_frozen(trial: TrialData) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        trial.meta = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        trial.diary = trial.diary  # type: ignore[misc]
    with pytest.raises(TypeError):
        trial.meta["study"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        trial._tables["diary"] = pd.DataFrame()  # type: ignore[index]


def test_meta_is_copied() -> None:
    meta = {"study": "a"}
    data = TrialData.from_tables(meta=meta)
    meta["study"] = "b"
    assert data.meta["study"] == "a"


def test_direct_construction_is_refused() -> None:
    with pytest.raises(TypeError, match="from_tables"):
        TrialData({}, {})


def test_copy_pickle_and_equality(trial: TrialData) -> None:
    assert copy.copy(trial) is trial
    assert copy.deepcopy(trial) is trial
    again = pickle.loads(pickle.dumps(trial))
    assert again.equals(trial)
    assert not again.equals(TrialData.from_tables(meta=trial.meta))
    assert not trial.equals("trial")
    rebuilt = TrialData.from_tables(**trial.to_tables(), meta=trial.meta)
    assert rebuilt.equals(trial)


def test_repr_and_table_lookup(trial: TrialData) -> None:
    assert repr(trial) == (
        "TrialData(study='KETAPAIN-test', patients=3, allocation=9, diary=45, "
        "questionnaires=4, adverse_events=3, concomitant=4, screening=5)"
    )
    with pytest.raises(KeyError, match="no table 'diaries'"):
        trial.table("diaries")


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"study": 3}, "meta['study']: value 3 is not text (int)"),
        ({1: "x"}, "meta: key 1 is not text"),
        (["study"], "meta must be a mapping of text to text, got list"),
    ],
)
def test_bad_meta(meta: object, message: str) -> None:
    with pytest.raises(DataError) as info:
        TrialData.from_tables(meta=meta)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_bad_arguments(tables: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(TypeError, match="expected a pandas DataFrame, got dict"):
        TrialData.from_tables(patients={"patient_id": ["P01"]})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not the string 'PK'"):
        TrialData.from_tables(treatments="PK")
    with pytest.raises(ValueError, match="max_errors must be >= 1"):
        TrialData.from_tables(max_errors=0)


def test_a_million_row_diary_is_validated() -> None:
    """Validation is vectorised: a 1,000,000-row diary goes through (and errors are found)."""
    n_patients, n_periods, n_days = 10_000, 3, 34  # 1,020,000 rows
    ids = np.array([f"P{i:05d}" for i in range(n_patients)])
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "sex": np.where(np.arange(n_patients) % 2 == 0, "F", "M"),
            "age_years": 50,
            "weight_kg": 70.0,
            "height_m": 1.7,
            "pain_type": "other",
            "pain_duration_years": 3.0,
            "dn4_total": 5,
        }
    )
    allocation = pd.DataFrame(
        {
            "patient_id": np.repeat(ids, n_periods),
            "period": np.tile(np.arange(1, n_periods + 1), n_patients),
            "sequence": "P-K-KM",
            "treatment": np.tile(["P", "K", "KM"], n_patients),
            "pre_infusion_pain": 6.0,
        }
    )
    n = n_patients * n_periods * n_days
    rng = np.random.default_rng(1)
    diary = pd.DataFrame(
        {
            "patient_id": np.repeat(ids, n_periods * n_days),
            "period": np.tile(np.repeat(np.arange(1, n_periods + 1), n_days), n_patients),
            "day": np.tile(np.arange(1, n_days + 1), n_patients * n_periods),
            "avg_pain": rng.uniform(0, 10, n),
            "max_pain": rng.uniform(0, 10, n),
            "night_pain": rng.uniform(0, 10, n),
        }
    )
    assert n >= 1_000_000
    data = TrialData.from_tables(patients=patients, allocation=allocation, diary=diary)
    assert len(data.diary) == n
    diary.loc[[10, 500_000], "avg_pain"] = 12.0
    diary.loc[999_999, "day"] = diary.loc[999_998, "day"]
    with pytest.raises(DataError) as info:
        TrialData.from_tables(patients=patients, allocation=allocation, diary=diary)
    lines = str(info.value).splitlines()
    assert lines == [
        "invalid trial data: 3 problems",
        "  diary row 12: avg_pain=12 is outside 0..10",
        "  diary row 500002: avg_pain=12 is outside 0..10",
        f"  diary rows 1000000 and 1000001: duplicate key (patient_id="
        f"{diary.loc[999_999, 'patient_id']!r}, period={diary.loc[999_999, 'period']}, "
        f"day={diary.loc[999_999, 'day']})",
    ]

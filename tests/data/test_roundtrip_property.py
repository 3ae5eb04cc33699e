"""Property: writing and reading any valid diary (CSV or Parquet) gives it back exactly."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketapain.data import TrialData, read_trial

# Any text but surrogates (not encodable) and NUL; includes commas, quotes, newlines, CR.
TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=8,
)
PAIN = st.one_of(st.none(), st.floats(min_value=0.0, max_value=10.0, allow_nan=False))


@st.composite
def diaries(draw: st.DrawFn) -> pd.DataFrame:
    """A valid diary: unique (patient, period, day) keys, pain in 0..10 or missing."""
    patient_ids = draw(st.lists(TEXT, min_size=1, max_size=3, unique=True))
    keys = draw(
        st.lists(
            st.tuples(
                st.sampled_from(patient_ids),
                st.integers(min_value=1, max_value=4),
                st.integers(min_value=1, max_value=60),
            ),
            min_size=0,
            max_size=25,
            unique=True,
        )
    )
    n = len(keys)
    frame = pd.DataFrame(keys, columns=["patient_id", "period", "day"]).astype(
        {"patient_id": "str", "period": "int64", "day": "int64"}
    )
    for col in ("avg_pain", "max_pain", "night_pain"):
        values = draw(st.lists(PAIN, min_size=n, max_size=n))
        frame[col] = np.array([np.nan if v is None else v for v in values], dtype="float64")
    flags = draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n))
    frame["extra_analgesics"] = pd.array(flags, dtype="boolean")
    details = draw(st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n))
    frame["extra_analgesics_detail"] = pd.Series(details, dtype="str")
    return frame


def trial_around(diary: pd.DataFrame) -> TrialData:
    """The smallest valid trial holding ``diary``: its patients and their allocation."""
    ids = sorted(set(diary["patient_id"]))
    patients = pd.DataFrame(
        {"patient_id": ids, "sex": "F", "age_years": 40, "weight_kg": 70.0, "height_m": 1.7,
         "pain_type": "other", "pain_duration_years": 1.0, "dn4_total": 5}
    )
    allocation = pd.DataFrame(
        [(pid, period, "P-K-KM-P", "P", None) for pid in ids for period in range(1, 5)],
        columns=["patient_id", "period", "sequence", "treatment", "pre_infusion_pain"],
    )
    return TrialData.from_tables(patients=patients, allocation=allocation, diary=diary,
                                 meta={"study": "property"})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(diary=diaries(), fmt=st.sampled_from(["csv", "parquet"]))
def test_any_valid_diary_round_trips(diary: pd.DataFrame, fmt: str) -> None:
    data = trial_around(diary)
    pd.testing.assert_frame_equal(data.diary[list(diary.columns)], diary, check_exact=True)
    with tempfile.TemporaryDirectory() as tmp:
        again = read_trial(data.write(f"{tmp}/t", format=fmt))  # type: ignore[arg-type]
    assert again.equals(data)
    pd.testing.assert_frame_equal(again.diary, data.diary, check_exact=True)


AWKWARD = ["\r", '"', " x ", "a\nb", "nan", "NA", "\ufeffP", "\r\n", ",", "x\ry", "é😀"]


def test_awkward_text_and_floats_round_trip() -> None:
    n = len(AWKWARD)
    diary = pd.DataFrame(
        {
            "patient_id": pd.Series(AWKWARD, dtype="str"),
            "period": np.ones(n, dtype="int64"),
            "day": np.arange(1, n + 1, dtype="int64"),
            "avg_pain": [5e-324, 1e-300, 0.1, 9.999999999999998, np.nan, 0.0, 10.0, 1 / 3,
                         2.0, np.nan, 7.25],
            "max_pain": np.nan,
            "night_pain": 0.30000000000000004,
            "extra_analgesics": pd.array([True, False, None] * 3 + [None, True],
                                         dtype="boolean"),
            "extra_analgesics_detail": pd.Series(AWKWARD[::-1], dtype="str"),
        }
    )
    data = trial_around(diary)
    for fmt in ("csv", "parquet"):
        with tempfile.TemporaryDirectory() as tmp:
            again = read_trial(data.write(f"{tmp}/t", format=fmt))  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(again.diary, data.diary, check_exact=True)
        assert again.equals(data), fmt

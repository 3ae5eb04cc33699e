"""Tests of diary_auc: hand-computed AUCs, imputation, time axes, invariants, errors."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ketapain.errors import DataError, ImputationWarning
from ketapain.stats import auc_day_major, diary_auc

NAN = np.nan


def make_diary(curves: dict[tuple[object, int], list[float]]) -> pd.DataFrame:
    """Long diary from {(patient_id, period): [score of day 1, day 2, ...]}."""
    rows = [
        {"patient_id": pid, "period": per, "day": d, "avg_pain": v}
        for (pid, per), values in curves.items()
        for d, v in enumerate(values, start=1)
    ]
    return pd.DataFrame(rows).astype({"avg_pain": float})


def make_anchor(scores: dict[tuple[object, int], float]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"patient_id": pid, "period": per, "pre_infusion_pain": v} for (pid, per), v in scores.items()]
    )


def auc_of(out: pd.DataFrame, pid: object = 1, per: int = 1) -> dict[int, float]:
    sel = out[(out["patient_id"] == pid) & (out["period"] == per)]
    return dict(zip(sel["window_day"].tolist(), sel["auc"].tolist(), strict=True))


def row(out: pd.DataFrame, pid: object, per: int, window: int) -> pd.Series:
    sel = out[(out["patient_id"] == pid) & (out["period"] == per) & (out["window_day"] == window)]
    assert len(sel) == 1
    return sel.iloc[0]


# --- hand-computed examples -------------------------------------------------------------


def test_infusion_axis_hand_example():
    # Anchor 5 at t=0, days 1, 2 = 6, 4.
    # W=1: 0.5*(5+6) = 5.5;  W=2: 0.5*(5+6) + 0.5*(6+4) = 5.5 + 5 = 10.5
    diary = make_diary({(1, 1): [6, 4]})
    out = diary_auc(diary, windows=(1, 2), anchor=make_anchor({(1, 1): 5}))
    assert auc_of(out) == {1: 5.5, 2: 10.5}
    assert out["n_points"].tolist() == [2, 3]  # W + 1 points on the infusion axis
    assert out["n_observed"].tolist() == [2, 3]  # the anchor counts as observed
    assert out["n_imputed"].tolist() == [0, 0]
    assert out["n_missing"].tolist() == [0, 0]


def test_first_diary_day_axis_hand_example():
    # Days 1, 2, 3 = 5, 6, 4; t = day - 1, window W ends at day W (W - 1 intervals).
    # W=2: 0.5*(5+6) = 5.5;  W=3: 5.5 + 0.5*(6+4) = 10.5
    diary = make_diary({(1, 1): [5, 6, 4]})
    out = diary_auc(diary, windows=(2, 3), time_axis="first_diary_day")
    assert auc_of(out) == {2: 5.5, 3: 10.5}
    assert out["n_points"].tolist() == [2, 3]  # W points on this axis


def test_constant_score_gives_score_times_intervals_on_each_axis():
    # Constant 5 with anchor 5: infusion axis AUC_W = 5*W; first-diary-day axis 5*(W-1).
    diary = make_diary({(1, 1): [5] * 35})
    windows = (7, 15, 21, 28, 35)
    infusion = diary_auc(diary, anchor=make_anchor({(1, 1): 5}))
    first_day = diary_auc(diary, time_axis="first_diary_day")
    assert auc_of(infusion) == {w: 5.0 * w for w in windows}
    assert auc_of(first_day) == {w: 5.0 * (w - 1) for w in windows}


def test_output_columns_dtypes_order_and_attrs():
    diary = make_diary({(2, 1): [1, 2, 3], (1, 2): [3, 3, 3], (1, 1): [0, 0, 0]})
    anchor = make_anchor({(1, 1): 0, (1, 2): 3, (2, 1): 1})
    out = diary_auc(diary, windows=(3, 2), anchor=anchor)
    assert list(out.columns) == [
        "patient_id",
        "period",
        "value",
        "window_day",
        "auc",
        "n_points",
        "n_observed",
        "n_imputed",
        "n_missing",
    ]
    # sorted by subject, period, window
    assert list(zip(out["patient_id"], out["period"], out["window_day"], strict=True)) == [
        (1, 1, 2),
        (1, 1, 3),
        (1, 2, 2),
        (1, 2, 3),
        (2, 1, 2),
        (2, 1, 3),
    ]
    assert (out["value"] == "avg_pain").all()
    assert out["auc"].dtype == np.float64
    for name in ("window_day", "n_points", "n_observed", "n_imputed", "n_missing"):
        assert out[name].dtype == np.int64
    assert out.attrs == {
        "value": "avg_pain",
        "time_axis": "infusion",
        "impute": "none",
        "units": "score-days",
    }
    # patient 2: 1,1,2,3 -> W=3: 0.5*(1+1) + 0.5*(1+2) + 0.5*(2+3) = 1 + 1.5 + 2.5 = 5
    assert row(out, 2, 1, 3)["auc"] == 5.0


def test_string_ids_and_custom_column_names():
    diary = pd.DataFrame(
        {"subj": ["b", "a", "a"], "per": ["P2", "P1", "P1"], "d": [1, 2, 1], "night_pain": [4.0, 2.0, 6.0]}
    )
    out = diary_auc(
        diary,
        value="night_pain",
        windows=(1,),
        time_axis="infusion",
        subject="subj",
        period="per",
        day="d",
        anchor=pd.DataFrame({"subj": ["a", "b"], "per": ["P1", "P2"], "pre_infusion_pain": [8.0, 4.0]}),
    )
    assert out["subj"].tolist() == ["a", "b"]
    assert out["per"].tolist() == ["P1", "P2"]
    # a: 0.5*(8 + 6) = 7;  b: 0.5*(4 + 4) = 4
    assert out["auc"].tolist() == [7.0, 4.0]
    assert (out["value"] == "night_pain").all()


def test_days_after_the_last_window_are_ignored_and_absent_days_are_missing():
    # Day 2 absent from the frame = missing; day 9 is beyond max(windows) = 3 and unused.
    diary = pd.DataFrame({"patient_id": 1, "period": 1, "day": [1, 3, 9], "avg_pain": [2.0, 4.0, 10.0]})
    out = diary_auc(diary, windows=(3,), time_axis="first_diary_day", impute="linear")
    # day 2 interpolated between 2 and 4 -> 3; AUC = 0.5*(2+3) + 0.5*(3+4) = 6
    assert auc_of(out) == {3: 6.0}
    assert row(out, 1, 1, 3)[["n_observed", "n_imputed"]].tolist() == [2, 1]


# --- imputation --------------------------------------------------------------------------


def test_none_gives_nan_and_warns_for_any_missing_point():
    diary = make_diary({(1, 1): [4, NAN, 4, 4], (2, 1): [4, 4, 4, 4]})
    with pytest.warns(ImputationWarning) as record:
        out = diary_auc(
            diary, windows=(1, 3, 4), time_axis="infusion", anchor=make_anchor({(1, 1): 4, (2, 1): 4})
        )
    # patient 1, W=1: 0.5*(4+4) = 4; W=3 and W=4 contain day 2 -> NaN
    assert auc_of(out, 1)[1] == 4.0
    assert np.isnan(auc_of(out, 1)[3]) and np.isnan(auc_of(out, 1)[4])
    assert auc_of(out, 2) == {1: 4.0, 3: 12.0, 4: 16.0}
    message = str(record[0].message)
    assert message.startswith("2 of 6 avg_pain AUCs (patient_id x period x window) are NaN")
    assert "impute='none'" in message
    assert "2 with a missing point between observations" in message
    assert "By window: day 3: 1, day 4: 1." in message
    assert "First: patient_id=1, period=1, window_day=3." in message
    assert row(out, 1, 1, 4)[["n_points", "n_observed", "n_imputed", "n_missing"]].tolist() == [5, 4, 0, 1]


def test_locf_interior_trailing_and_anchor_carried():
    # Patient 1, anchor 3, days 1..5 = 2, NaN, 4, NaN, NaN
    #   LOCF curve t=0..5: 3, 2, 2, 4, 4, 4
    #   W=2: 0.5*(3+2) + 0.5*(2+2) = 2.5 + 2 = 4.5                      (1 imputed: day 2)
    #   W=5: 4.5 + 0.5*(2+4) + 0.5*(4+4) + 0.5*(4+4) = 4.5 + 3 + 4 + 4 = 15.5  (days 2, 4, 5)
    # Patient 2, anchor 4, day 1 missing: the anchor is carried to day 1.
    #   curve 4, 4, 6, 6, 6, 6 -> W=2: 0.5*(4+4) + 0.5*(4+6) = 9
    diary = make_diary({(1, 1): [2, NAN, 4, NAN, NAN], (2, 1): [NAN, 6, 6, 6, 6]})
    out = diary_auc(diary, windows=(2, 5), impute="locf", anchor=make_anchor({(1, 1): 3, (2, 1): 4}))
    assert auc_of(out, 1) == {2: 4.5, 5: 15.5}
    assert row(out, 1, 1, 2)[["n_observed", "n_imputed", "n_missing"]].tolist() == [2, 1, 0]
    assert row(out, 1, 1, 5)[["n_observed", "n_imputed", "n_missing"]].tolist() == [3, 3, 0]
    assert auc_of(out, 2)[2] == 9.0
    # W=5: 9 + 0.5*(6+6)*3 = 27
    assert auc_of(out, 2)[5] == 27.0
    assert row(out, 2, 1, 5)[["n_observed", "n_imputed"]].tolist() == [5, 1]


def test_locf_leading_missing_stays_missing_and_warns():
    # Anchor missing and day 1 missing: nothing to carry forward -> every window NaN.
    # First-diary-day axis, day 1 missing: same.
    diary = make_diary({(1, 1): [NAN, 5, 5, 5], (2, 1): [5, 5, 5, 5]})
    anchor = make_anchor({(1, 1): NAN, (2, 1): 5})
    with pytest.warns(ImputationWarning, match=r"2 of 4 avg_pain AUCs") as record:
        out = diary_auc(diary, windows=(2, 4), impute="locf", anchor=anchor)
    assert np.isnan(out.loc[out["patient_id"] == 1, "auc"]).all()
    assert auc_of(out, 2) == {2: 10.0, 4: 20.0}
    message = str(record[0].message)
    assert "LOCF has nothing to carry forward before the first observation" in message
    assert "2 with a missing point before the first observation" in message
    # t=0 and t=1 are still missing, days 2..4 observed
    assert row(out, 1, 1, 4)[["n_points", "n_observed", "n_imputed", "n_missing"]].tolist() == [5, 3, 0, 2]

    with pytest.warns(ImputationWarning, match=r"before the first observation"):
        first = diary_auc(diary, windows=(2, 4), impute="locf", time_axis="first_diary_day")
    assert np.isnan(first.loc[first["patient_id"] == 1, "auc"]).all()


def test_linear_interior_window_edge_and_trailing():
    # Anchor 3, days 1..6 = NaN, 5, NaN, NaN, 8, NaN
    #   interpolated: day 1 = (3+5)/2 = 4, days 3, 4 = 6, 7 (between 5 at day 2 and 8 at day 5)
    #   curve t=0..5: 3, 4, 5, 6, 7, 8; day 6 is after the last observation -> missing
    #   W=3: 0.5*(3+4) + 0.5*(4+5) + 0.5*(5+6) = 3.5 + 4.5 + 5.5 = 13.5  (day 3 uses day 5)
    #   W=5: 13.5 + 0.5*(6+7) + 0.5*(7+8) = 13.5 + 6.5 + 7.5 = 27.5
    #   W=6: NaN
    diary = make_diary({(1, 1): [NAN, 5, NAN, NAN, 8, NAN]})
    with pytest.warns(ImputationWarning) as record:
        out = diary_auc(diary, windows=(3, 5, 6), impute="linear", anchor=make_anchor({(1, 1): 3}))
    got = auc_of(out)
    assert got[3] == 13.5 and got[5] == 27.5 and np.isnan(got[6])
    assert row(out, 1, 1, 3)[["n_observed", "n_imputed", "n_missing"]].tolist() == [2, 2, 0]
    assert row(out, 1, 1, 5)[["n_observed", "n_imputed", "n_missing"]].tolist() == [3, 3, 0]
    assert row(out, 1, 1, 6)[["n_observed", "n_imputed", "n_missing"]].tolist() == [3, 3, 1]
    message = str(record[0].message)
    assert "1 of 3 avg_pain AUCs" in message
    assert "1 with a missing point after the last observation" in message
    assert "linear interpolation needs an observation on both sides" in message


def test_linear_leading_missing_on_first_diary_day_axis():
    # Days 1..3 = NaN, 2, 4: day 1 has nothing before it -> W=2, W=3 NaN.
    # Patient 2: 1, NaN, 4 -> day 2 = 2.5; W=3: 0.5*(1+2.5) + 0.5*(2.5+4) = 1.75 + 3.25 = 5
    diary = make_diary({(1, 1): [NAN, 2, 4], (2, 1): [1, NAN, 4]})
    with pytest.warns(ImputationWarning, match="2 with a missing point before the first observation"):
        out = diary_auc(diary, windows=(2, 3), impute="linear", time_axis="first_diary_day")
    assert np.isnan(out.loc[out["patient_id"] == 1, "auc"]).all()
    assert auc_of(out, 2) == {2: 1.75, 3: 5.0}


def test_complete_data_is_the_same_under_every_imputation():
    diary = make_diary({(1, 1): [7, 6, 5, 6, 7], (1, 2): [1, 0, 0, 2, 3]})
    anchor = make_anchor({(1, 1): 8, (1, 2): 2})
    results = [diary_auc(diary, windows=(2, 5), impute=m, anchor=anchor) for m in ("none", "locf", "linear")]
    for other in results[1:]:
        pd.testing.assert_frame_equal(other, results[0])
    assert (results[0]["n_imputed"] == 0).all()


def test_all_missing_patient_period_is_reported_not_dropped():
    diary = make_diary({(1, 1): [NAN, NAN, NAN], (2, 1): [1, 1, 1]})
    with pytest.warns(ImputationWarning, match="2 of 4"):
        out = diary_auc(diary, windows=(2, 3), impute="locf", time_axis="first_diary_day")
    assert out["patient_id"].tolist() == [1, 1, 2, 2]
    assert row(out, 1, 1, 3)[["n_observed", "n_imputed", "n_missing"]].tolist() == [0, 0, 3]


# --- agreement with numpy.trapezoid, patient by patient ----------------------------------


def reference_curve(values: np.ndarray, impute: str) -> np.ndarray:
    """Straightforward per-patient imputation (a loop, on purpose) for cross-checking."""
    out = values.astype(float).copy()
    observed = np.flatnonzero(~np.isnan(values))
    if impute == "locf":
        last = NAN
        for t in range(len(out)):
            if np.isnan(out[t]):
                out[t] = last
            else:
                last = out[t]
    elif impute == "linear" and len(observed):
        inside = (np.arange(len(out)) > observed[0]) & (np.arange(len(out)) < observed[-1])
        fill = inside & np.isnan(values)
        out[fill] = np.interp(np.flatnonzero(fill), observed, values[observed])
    return out


@pytest.mark.filterwarnings("ignore::ketapain.errors.ImputationWarning")
@pytest.mark.parametrize("impute", ["none", "locf", "linear"])
@pytest.mark.parametrize("time_axis", ["infusion", "first_diary_day"])
def test_agrees_with_numpy_trapezoid_per_patient(impute, time_axis):
    rng = np.random.default_rng(20240607)
    n_patients, n_periods, n_days = 40, 3, 35
    windows = (7, 15, 21, 28, 35)
    scores = rng.integers(0, 11, size=(n_patients, n_periods, n_days)).astype(float)
    scores[rng.random(scores.shape) < 0.08] = NAN
    scores[0, 0, :] = NAN  # one patient-period with nothing observed
    scores[1, 1, 20:] = NAN  # a drop-out
    pre = rng.integers(0, 11, size=(n_patients, n_periods)).astype(float)
    pre[rng.random(pre.shape) < 0.1] = NAN
    diary = pd.DataFrame(
        {
            "patient_id": np.repeat(np.arange(n_patients), n_periods * n_days),
            "period": np.tile(np.repeat(np.arange(1, n_periods + 1), n_days), n_patients),
            "day": np.tile(np.arange(1, n_days + 1), n_patients * n_periods),
            "avg_pain": scores.ravel(),
        }
    )
    anchor = pd.DataFrame(
        {
            "patient_id": np.repeat(np.arange(n_patients), n_periods),
            "period": np.tile(np.arange(1, n_periods + 1), n_patients),
            "pre_infusion_pain": pre.ravel(),
        }
    )
    out = diary_auc(
        diary,
        windows=windows,
        impute=impute,
        time_axis=time_axis,
        anchor=anchor if time_axis == "infusion" else None,
    )
    expected, expected_imputed = [], []
    for i in range(n_patients):
        for j in range(n_periods):
            raw = np.concatenate([[pre[i, j]], scores[i, j]]) if time_axis == "infusion" else scores[i, j]
            curve = reference_curve(raw, impute)
            for w in windows:
                end = w if time_axis == "infusion" else w - 1
                segment = curve[: end + 1]
                expected.append(np.trapezoid(segment) if not np.isnan(segment).any() else NAN)
                expected_imputed.append(int((np.isnan(raw[: end + 1]) & ~np.isnan(segment)).sum()))
    assert_allclose(out["auc"].to_numpy(), np.array(expected), rtol=1e-12, atol=0)
    assert_array_equal(out["n_imputed"].to_numpy(), np.array(expected_imputed))


# --- properties --------------------------------------------------------------------------

SCORES = st.floats(min_value=0, max_value=10, allow_nan=False, allow_infinity=False)


@st.composite
def complete_curves(draw, n_days: int = 6):
    """Two complete diaries (same shape) with anchors, for 1-3 patient-periods."""
    n = draw(st.integers(1, 3))
    shape = st.lists(SCORES, min_size=n * (n_days + 1), max_size=n * (n_days + 1))
    return n, np.array(draw(shape)).reshape(n, n_days + 1), np.array(draw(shape)).reshape(n, n_days + 1)


def frames(matrix: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    n, width = matrix.shape
    diary = pd.DataFrame(
        {
            "patient_id": np.repeat(np.arange(n), width - 1),
            "period": 1,
            "day": np.tile(np.arange(1, width), n),
            "avg_pain": matrix[:, 1:].ravel(),
        }
    )
    anchor = pd.DataFrame({"patient_id": np.arange(n), "period": 1, "pre_infusion_pain": matrix[:, 0]})
    return diary, anchor


@settings(max_examples=60, deadline=None)
@given(
    data=complete_curves(),
    a=st.floats(0, 1),
    share=st.floats(0, 1),
    time_axis=st.sampled_from(["infusion", "first_diary_day"]),
    impute=st.sampled_from(["none", "locf", "linear"]),
)
def test_auc_is_linear_in_the_scores(data, a, share, time_axis, impute):
    # AUC(a*x + b*y) = a*AUC(x) + b*AUC(y); a + b <= 1 keeps the combination within 0..10.
    _, x, y = data
    b = (1 - a) * share
    z = np.clip(a * x + b * y, 0, 10)

    def auc(m):
        diary, anchor = frames(m)
        return diary_auc(
            diary,
            windows=(2, 4, 6),
            time_axis=time_axis,
            impute=impute,
            anchor=anchor if time_axis == "infusion" else None,
        )["auc"].to_numpy()

    assert_allclose(auc(z), a * auc(x) + b * auc(y), rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    data=complete_curves(),
    a=st.floats(0, 1),
    missing=st.lists(st.booleans(), min_size=5, max_size=5),
    impute=st.sampled_from(["locf", "linear"]),
)
def test_imputation_is_linear_for_a_shared_missing_pattern(data, a, missing, impute):
    # LOCF and interpolation are linear maps once the missing days are fixed. Anchor and
    # the last day stay observed so nothing is left missing.
    _, x, y = data
    b = 1 - a
    pattern = np.array([False, *missing, False])
    x, y = x.copy(), y.copy()
    x[:, pattern] = NAN
    y[:, pattern] = NAN
    z = np.clip(a * x + b * y, 0, 10)

    def auc(m):
        diary, anchor = frames(m)
        return diary_auc(diary, windows=(3, 6), impute=impute, anchor=anchor)["auc"].to_numpy()

    assert_allclose(auc(z), a * auc(x) + b * auc(y), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    data=complete_curves(),
    missing=st.lists(st.booleans(), min_size=21, max_size=21),
    seed=st.integers(0, 2**32 - 1),
    impute=st.sampled_from(["none", "locf", "linear"]),
)
def test_row_order_does_not_matter(data, missing, seed, impute):
    _, x, _ = data
    x = np.where(np.array(missing[: x.size]).reshape(x.shape), NAN, x)
    diary, anchor = frames(x)
    rng = np.random.default_rng(seed)
    shuffled = diary.iloc[rng.permutation(len(diary))]
    shuffled_anchor = anchor.iloc[rng.permutation(len(anchor))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImputationWarning)
        expected = diary_auc(diary, windows=(2, 6), impute=impute, anchor=anchor)
        got = diary_auc(shuffled, windows=(6, 2), impute=impute, anchor=shuffled_anchor)
    pd.testing.assert_frame_equal(got, expected)


# --- validation --------------------------------------------------------------------------


@pytest.fixture
def diary() -> pd.DataFrame:
    return make_diary({(1, 1): [5, 6, 4], (2, 1): [1, 2, 3]})


@pytest.fixture
def anchor() -> pd.DataFrame:
    return make_anchor({(1, 1): 5, (2, 1): 1})


def test_missing_column(diary, anchor):
    with pytest.raises(DataError, match=r"diary has no column 'max_pain'; its columns are"):
        diary_auc(diary, value="max_pain", windows=(3,), anchor=anchor)


def test_value_outside_range_names_row_and_value(diary, anchor):
    diary.loc[2, "avg_pain"] = 11
    with pytest.raises(DataError, match=r"^diary row 4: avg_pain=11 is outside 0\.\.10$"):
        diary_auc(diary, windows=(3,), anchor=anchor)
    diary.loc[4, "avg_pain"] = -1
    with pytest.raises(
        DataError, match=re.escape("diary row 4: avg_pain=11 is outside 0..10 (2 rows in all)")
    ):
        diary_auc(diary, windows=(3,), anchor=anchor)


def test_rows_are_numbered_by_position_not_index_label(diary, anchor):
    diary.index = [100, 90, 80, 70, 60, 50]
    diary.loc[70, "avg_pain"] = 10.5
    with pytest.raises(DataError, match=r"^diary row 5: avg_pain=10.5 is outside 0\.\.10$"):
        diary_auc(diary, windows=(3,), anchor=anchor)


def test_infinite_and_non_numeric_scores(diary, anchor):
    diary["avg_pain"] = diary["avg_pain"].astype(object)
    diary.loc[1, "avg_pain"] = "six"
    with pytest.raises(DataError, match=r"^diary row 3: avg_pain='six' is not a number$"):
        diary_auc(diary, windows=(3,), anchor=anchor)
    diary.loc[1, "avg_pain"] = np.inf
    with pytest.raises(DataError, match=r"^diary row 3: avg_pain=inf is outside 0\.\.10$"):
        diary_auc(diary, windows=(3,), anchor=anchor)


@pytest.mark.parametrize(
    ("bad_day", "message"),
    [
        (
            0,
            "diary row 3: day=0 is below 1 "
            "(day 0 is the infusion day: its score goes in anchor's pre_infusion_pain)",
        ),
        (1.5, "diary row 3: day=1.5 is not an integer"),
        (NAN, "diary row 3: day=nan is not an integer"),
        ("x", "diary row 3: day='x' is not a number"),
    ],
)
def test_bad_days(diary, anchor, bad_day, message):
    diary["day"] = diary["day"].astype(object)
    diary.loc[1, "day"] = bad_day
    with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
        diary_auc(diary, windows=(2,), anchor=anchor)


def test_duplicate_day(diary, anchor):
    # frame rows 3 and 4 (0-based) are patient 2's days 1 and 2; day 2 becomes 1. With the header
    # as row 1 they are spreadsheet rows 5 and 6 (errors.FIRST_DATA_ROW); this said 4 and 5 before.
    diary.loc[4, "day"] = 1
    with pytest.raises(
        DataError, match=re.escape("diary rows 5 and 6: duplicate (patient_id=2, period=1, day=1)")
    ):
        diary_auc(diary, windows=(2,), anchor=anchor)


def test_missing_subject(diary, anchor):
    diary["patient_id"] = diary["patient_id"].astype(float)
    diary.loc[3, "patient_id"] = NAN
    with pytest.raises(DataError, match=r"^diary row 5: patient_id is missing$"):
        diary_auc(diary, windows=(2,), anchor=anchor)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"windows": (4,)}, "windows: 4 is beyond the last diary day in diary (3)"),
        ({"windows": (0, 3)}, "windows: 0 is not an integer >= 1"),
        ({"windows": (2.5,)}, "windows: 2.5 is not an integer >= 1"),
        ({"windows": (True,)}, "windows: True is not an integer >= 1"),
        ({"windows": (3, 3)}, "windows: [3, 3] repeats a window day"),
        ({"windows": ()}, "windows is empty; give at least one window day, e.g. 7, 15, 21, 28, 35"),
        ({"windows": "7,15"}, "windows must be a sequence of positive integers, got '7,15'"),
        (
            {"windows": (3,), "impute": "mean"},
            "impute='mean' is not one of none, locf, linear",
        ),
        (
            {"windows": (3,), "time_axis": "day0"},
            "time_axis='day0' is not one of infusion, first_diary_day",
        ),
    ],
)
def test_bad_options(diary, anchor, kwargs, message):
    with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
        diary_auc(diary, anchor=anchor, **kwargs)


def test_first_diary_day_window_needs_two_days(diary):
    with pytest.raises(
        DataError, match=re.escape("windows: 1 is not an integer >= 2 (on the first_diary_day axis")
    ):
        diary_auc(diary, windows=(1, 3), time_axis="first_diary_day")


def test_anchor_required_on_infusion_axis_and_refused_otherwise(diary, anchor):
    with pytest.raises(DataError, match=r"time_axis='infusion' starts the curve at day 0 .* pass anchor="):
        diary_auc(diary, windows=(3,))
    with pytest.raises(DataError, match=r"anchor is only used with time_axis='infusion'"):
        diary_auc(diary, windows=(3,), time_axis="first_diary_day", anchor=anchor)


def test_anchor_problems(diary, anchor):
    with pytest.raises(
        DataError,
        match=re.escape(
            "anchor has no row for 1 subject x period of the diary, first (patient_id=2, period=1)"
        ),
    ):
        diary_auc(diary, windows=(3,), anchor=anchor.iloc[:1])
    doubled = pd.concat([anchor, anchor.iloc[[0]]], ignore_index=True)
    with pytest.raises(
        DataError, match=re.escape("anchor row 4: (patient_id=1, period=1) appears more than once")
    ):
        diary_auc(diary, windows=(3,), anchor=doubled)
    high = anchor.assign(pre_infusion_pain=[5, 12])
    with pytest.raises(DataError, match=r"^anchor row 3: pre_infusion_pain=12 is outside 0\.\.10$"):
        diary_auc(diary, windows=(3,), anchor=high)
    with pytest.raises(DataError, match=r"anchor has no column 'pre_infusion_pain'"):
        diary_auc(diary, windows=(3,), anchor=anchor.drop(columns="pre_infusion_pain"))
    # extra anchor rows (no diary) are ignored
    extra = pd.concat([anchor, make_anchor({(9, 1): 3})], ignore_index=True)
    pd.testing.assert_frame_equal(
        diary_auc(diary, windows=(3,), anchor=extra), diary_auc(diary, windows=(3,), anchor=anchor)
    )


def test_empty_diary_is_an_error(diary, anchor):
    with pytest.raises(DataError, match=r"^diary has no rows$"):
        diary_auc(diary.iloc[:0], windows=(3,), anchor=anchor)


# --- the array kernel: one AUC for diary_auc, simulation-based power and the daily model ------

from ketapain.stats import auc_arrays  # noqa: E402
from ketapain.stats._auc import fill_curve, trapezoid_auc, trapezoid_weights  # noqa: E402

# diary_auc on a simulated trial with extra gaps, every time axis x imputation: SHA-256 of the
# output (CSV + attrs) and of the ImputationWarning messages, computed on main at commit 27591c3
# (before the kernel was factored out) by the code of _gappy_trial and _digest below.
DIARY_AUC_MAIN_27591C3 = {
    ("infusion", "none"): ("2f61ac4cbcd621611bc2c74a6b35cf625a8abb1704b6ed39cd395c33a4241996",
                           "e07999a7c3dee9e403e8c54ac3d4bb65ce41fba37e508b656847c4e27c388033"),
    ("infusion", "locf"): ("4d1b1f383f396c3f0883bbe86b999ecf3601261a2511e484a764c873a9868e5c",
                           "947c20760b6642dc6e51be221b5777aa4057b36091315446152e7b8b759eb471"),
    ("infusion", "linear"): ("8ebe2437891fae0044701edd3556d04abfe27d296b7b46d1ac6c18c9f059ce7f",
                             "165531f5909d082c60db2c5f719d7b8554156af78b134ebed7d15d70611c9b28"),
    ("first_diary_day", "none"): ("308b5b495c9ad900c57ee153d1e91a789030b9a31720fa5233d4b35b5f41438f",
                                  "6123a75b6e8297735fb1d6d1727a5e740fc8177c3a5aa81d7d4d7a522613b23b"),
    ("first_diary_day", "locf"): ("569debd8d9a22e919668ec9a644bb2582499c757ef191c75e815821a661112f3",
                                  "5ca8279285179042d85ccc81c289802b17a164ef2ab72a52493de604df44e638"),
    ("first_diary_day", "linear"): ("9c1ac8501fce9d10ddcc5dd6a4b2f8650653fd84e34ed1aa43aeb1ca200af41a",
                                    "cdad7dcf2c39b22d32ebb2a8a1aa5e085f98c93e52b8638c076998a4ece5c0d9"),
}


def _gappy_trial() -> tuple[pd.DataFrame, pd.DataFrame]:
    from ketapain.simulate import simulate_trial

    data = simulate_trial("ketapain", n_patients=12, seed=3, missing="mar")
    diary = data.diary.copy()
    rng = np.random.default_rng(99)
    y = diary["avg_pain"].to_numpy().copy()
    y[rng.random(y.size) < 0.2] = np.nan
    y[:5] = np.nan  # a leading gap
    diary["avg_pain"] = y
    anchor = data.allocation[["patient_id", "period", "pre_infusion_pain"]].copy()
    anchor.loc[anchor.index[:2], "pre_infusion_pain"] = np.nan
    return diary, anchor


def _digest(frame: pd.DataFrame) -> str:
    import hashlib
    import json

    return hashlib.sha256((frame.to_csv(index=False) + json.dumps(frame.attrs, sort_keys=True)).encode()).hexdigest()


def test_diary_auc_bit_for_bit_as_before_the_kernel() -> None:
    import hashlib

    diary, anchor = _gappy_trial()
    for (time_axis, impute), (table, warned) in DIARY_AUC_MAIN_27591C3.items():
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ImputationWarning)
            out = diary_auc(diary, time_axis=time_axis, impute=impute,  # type: ignore[arg-type]
                            anchor=anchor if time_axis == "infusion" else None)
        text = "\n".join(str(w.message) for w in seen)
        assert (_digest(out), hashlib.sha256(text.encode()).hexdigest()) == (table, warned), (time_axis, impute)


def _old_power_auc_array(values: np.ndarray, anchor: np.ndarray | None, *, window: int, time_axis: str,
                         impute: str) -> np.ndarray:
    """``design._power_sim.auc_array`` of main at commit 27591c3, verbatim: the oracle of the
    AUC that simulation-based power used before it shared the kernel (weights @ points)."""
    v = np.asarray(values, dtype=float)[..., :window]
    if time_axis == "infusion":
        v = np.concatenate([np.asarray(anchor, dtype=float)[..., None], v], axis=-1)
    m = v.shape[-1]
    obs = ~np.isnan(v)
    pos = np.arange(m)
    if impute != "none":
        last = np.maximum.accumulate(np.where(obs, pos, -1), axis=-1)
        prev = np.take_along_axis(v, np.maximum(last, 0), axis=-1)
        if impute == "locf":
            v = np.where(last >= 0, prev, np.nan)
        else:
            nxt = np.flip(np.minimum.accumulate(np.flip(np.where(obs, pos, m), axis=-1), axis=-1), axis=-1)
            after = np.take_along_axis(v, np.minimum(nxt, m - 1), axis=-1)
            ok = (last >= 0) & (nxt < m)
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = np.where(nxt > last, (pos - last) / (nxt - last), 0.0)
            v = np.where(obs, v, np.where(ok, prev + (after - prev) * frac, np.nan))
    weights = np.ones(m)
    weights[0] = weights[-1] = 0.5
    return v @ weights


def _gappy_arrays(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(trials, patients, periods, 35 days) integer scores 0..10 with 15% gaps, leading gaps
    and an empty period; anchors (trials, patients, periods)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 11, (3, 20, 3, 35)).astype(float)
    y[rng.random(y.shape) < 0.15] = np.nan
    y[0, 0, 0, :4] = np.nan
    y[0, 1, 1, :] = np.nan
    pre = rng.integers(0, 11, (3, 20, 3)).astype(float)
    pre[1, 2, 0] = np.nan
    return y, pre


@pytest.mark.parametrize("impute", ["none", "locf", "linear"])
@pytest.mark.parametrize("time_axis", ["infusion", "first_diary_day"])
def test_auc_arrays_equals_diary_auc_bit_for_bit(impute: str, time_axis: str) -> None:
    y, pre = _gappy_arrays()
    T, N, P, D = y.shape
    patient = np.repeat(np.arange(T * N), P * D)
    long = pd.DataFrame({"patient_id": patient, "period": np.tile(np.repeat(np.arange(1, P + 1), D), T * N),
                         "day": np.tile(np.arange(1, D + 1), T * N * P), "avg_pain": y.ravel()})
    anchor = pd.DataFrame({"patient_id": np.repeat(np.arange(T * N), P), "period": np.tile(np.arange(1, P + 1), T * N),
                           "pre_infusion_pain": pre.ravel()})
    windows = (7, 15, 35)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImputationWarning)
        ref = diary_auc(long, windows=windows, time_axis=time_axis, impute=impute,  # type: ignore[arg-type]
                        anchor=anchor if time_axis == "infusion" else None)
    got = auc_arrays(y, pre if time_axis == "infusion" else None, windows=windows, time_axis=time_axis,  # type: ignore[arg-type]
                     impute=impute)  # type: ignore[arg-type]
    assert got.shape == (T, N, P, 3)
    assert_array_equal(got.ravel(), ref["auc"].to_numpy())  # NaN where NaN, every other bit equal


@pytest.mark.parametrize("impute", ["none", "locf", "linear"])
@pytest.mark.parametrize("time_axis", ["infusion", "first_diary_day"])
@pytest.mark.parametrize("window", [7, 35])
def test_auc_arrays_equals_the_old_power_auc(impute: str, time_axis: str, window: int) -> None:
    # Integer scores with LOCF or no imputation sum exactly in any order: bit for bit. Linear
    # interpolation makes thirds and sevenths: the trapezoid sum (kernel) and the weighted dot
    # product (old power code) may differ in the last bits only.
    y, pre = _gappy_arrays(11)
    old = _old_power_auc_array(y, pre, window=window, time_axis=time_axis, impute=impute)
    new = auc_arrays(y, pre if time_axis == "infusion" else None, windows=[window], time_axis=time_axis,  # type: ignore[arg-type]
                     impute=impute)[..., 0]  # type: ignore[arg-type]
    if impute == "linear":
        assert_allclose(new, old, rtol=1e-12, atol=0, equal_nan=True)
        assert np.array_equal(np.isnan(new), np.isnan(old))
    else:
        assert_array_equal(new, old)


def test_trapezoid_weights_are_the_kernel_as_a_linear_functional() -> None:
    # the daily model's weights (old _daily_grid.trapezoid_weights: ones, halves at both ends)
    for n_points in (2, 3, 8, 36):
        expected = np.ones(n_points)
        expected[0] = expected[-1] = 0.5
        assert_array_equal(trapezoid_weights(n_points), expected)
    rng = np.random.default_rng(3)
    y = rng.normal(5.0, 2.0, (50, 36))
    assert_allclose(y @ trapezoid_weights(36), trapezoid_auc(y, ends=np.array([35]))[:, 0], rtol=1e-12, atol=0)
    assert_allclose(y[:, :8] @ trapezoid_weights(8), trapezoid_auc(y, ends=np.array([7]))[:, 0], rtol=1e-12, atol=0)


def test_kernel_hand_examples() -> None:
    # anchor 4; days 2, NaN, 6 -> linear fills 4: 4/2 + 2 + 4 + 6/2 = 11; LOCF fills 2: 9; none: NaN
    v, a = np.array([2.0, NAN, 6.0]), np.array(4.0)
    assert auc_arrays(v, a, windows=[3], impute="linear").tolist() == [11.0]
    assert auc_arrays(v, a, windows=[3], impute="locf").tolist() == [9.0]
    assert np.isnan(auc_arrays(v, a, windows=[3], impute="none")).all()
    # first-diary-day axis, windows given out of order come back ascending: (2+4)/2 = 3 at day 2
    # (after linear filling), 3 + (4+6)/2 = 8 at day 3
    assert auc_arrays(v, windows=[3, 2], time_axis="first_diary_day", impute="linear").tolist() == [3.0, 8.0]
    filled = fill_curve(np.array([[NAN, 3.0, NAN, NAN], [1.0, NAN, NAN, 7.0]]), impute="linear")
    assert_array_equal(filled.values, [[NAN, 3.0, NAN, NAN], [1.0, 3.0, 5.0, 7.0]])
    assert filled.imputed.tolist() == [[False] * 4, [False, True, True, False]]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"impute": "mean"}, "impute='mean' is not one of none, locf, linear"),
    ({"time_axis": "visit"}, "time_axis='visit' is not one of infusion, first_diary_day"),
    ({"windows": [0]}, "windows: 0 is not an integer >= 1"),
    ({"windows": [4]}, "windows: 4 is beyond the last diary day in diary (3)"),
    ({"anchor": None}, "anchor is required with time_axis='infusion'"),
    ({"anchor": np.zeros(2)}, "anchor has shape (2,); the days need ()"),
    ({"time_axis": "first_diary_day", "windows": [2]}, "refused with time_axis='first_diary_day'"),
])
def test_auc_arrays_rejects_bad_input_naming_the_parameter(kwargs: dict, message: str) -> None:
    args = {"anchor": np.array(5.0), "windows": [3]} | kwargs
    days = np.array([6.0, 4.0, 5.0])
    with pytest.raises(DataError, match=re.escape(message)):
        auc_arrays(days, args.pop("anchor"), **args)


def test_a_huge_day_is_refused_before_the_grid_is_made():
    """Issue 14 (found by tests/test_fuzz_inputs.py): day=1e18 gave an IndexError."""
    diary = make_diary({(1, 1): [5, 6, 4]})
    diary.loc[1, "day"] = 10**18
    with pytest.raises(DataError, match=r"^diary row 3: day=1e\+18 is above 365 \(a period's diary has at most a year of days\)$"):
        diary_auc(diary, windows=(2, 3), time_axis="first_diary_day")


def test_an_infinite_period_is_refused():
    """Issue 14 (found by tests/test_fuzz_inputs.py): period=inf gave AUCs with period inf (and a crash in --json)."""
    diary = make_diary({(1, 1): [5, 6, 4]}).astype({"period": float})
    diary.loc[0, "period"] = np.inf
    with pytest.raises(DataError, match=r"^diary row 2: period=inf is not a finite number$"):
        diary_auc(diary, windows=(2, 3), time_axis="first_diary_day")


# --------------------------------------------------------------------------- the pain scale


def _vas_diary() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A VAS 0..100 diary: pre-infusion 50, then 60, 40, (day 3 missing), 80."""
    diary = pd.DataFrame({"patient_id": ["P1"] * 4, "period": [1] * 4, "day": [1, 2, 3, 4],
                          "avg_pain": [60.0, 40.0, None, 80.0]})
    anchor = pd.DataFrame({"patient_id": ["P1"], "period": [1], "pre_infusion_pain": [50.0]})
    return diary, anchor


def test_auc_on_a_vas_0_100_equals_the_hand_calculation() -> None:
    diary, anchor = _vas_diary()
    out = diary_auc(diary, windows=(2, 4), anchor=anchor, impute="linear", scale=(0, 100))
    # day 2: (50 + 60)/2 + (60 + 40)/2 = 55 + 50 = 105 VAS-days;
    # day 3 interpolated between 40 and 80: 60; day 4: 105 + (40 + 60)/2 + (60 + 80)/2 = 105 + 50 + 70 = 225
    assert out["auc"].tolist() == [105.0, 225.0]
    assert out["n_imputed"].tolist() == [0, 1]


def test_auc_refuses_a_score_outside_its_scale_naming_the_range() -> None:
    diary, anchor = _vas_diary()
    with pytest.raises(DataError, match=r"diary row 2: avg_pain=60 is outside 0\.\.10 \(3 rows in all\)"):
        diary_auc(diary, windows=(2,), anchor=anchor)  # the default scale is the NRS 0..10
    over = diary.assign(avg_pain=[60.0, 101.0, None, 80.0])
    with pytest.raises(DataError, match=r"diary row 3: avg_pain=101 is outside 0\.\.100"):
        diary_auc(over, windows=(2,), anchor=anchor, scale=(0, 100))
    with pytest.raises(DataError, match=r"anchor row 2: pre_infusion_pain=50 is outside 0\.\.5"):
        diary_auc(diary.assign(avg_pain=[1.0, 2.0, None, 3.0]), windows=(2,), anchor=anchor, scale=(0, 5))


@pytest.mark.parametrize("bad", [(100, 0), (0, 0), (0, float("nan")), (0,), "0-100"])
def test_auc_refuses_a_bad_scale(bad: object) -> None:
    diary, anchor = _vas_diary()
    with pytest.raises(DataError, match=r"scale=.* must be \(low, high\): two finite numbers with low < high"):
        diary_auc(diary, windows=(2,), anchor=anchor, scale=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("time_axis", ["infusion", "first_diary_day"])
@pytest.mark.parametrize("impute", ["none", "locf", "linear"])
def test_auc_day_major_is_auc_arrays_bit_for_bit(time_axis: str, impute: str) -> None:
    """Issue 21: the power sweep's day-major AUC (a walk over the days, vectorised over the
    curves) equals auc_arrays on the same diaries to the last bit, for integer scores and for
    non-integer ones (where a different summation order would round differently), with missing
    days anywhere (first day and anchor included) and every window."""
    rng = np.random.default_rng(21)
    for case in range(60):
        D = int(rng.integers(2, 40))
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 5)))
        x = rng.normal(5, 2.5, (*shape, D)) if case % 2 else np.rint(rng.uniform(0, 10, (*shape, D)))
        x[rng.random(x.shape) < rng.uniform(0, 0.6)] = np.nan
        anchor = None
        if time_axis == "infusion":
            anchor = np.rint(rng.uniform(0, 10, shape))
            anchor[rng.random(shape) < 0.2] = np.nan
        w = int(rng.integers(1 if time_axis == "infusion" else 2, D + 1))
        want = auc_arrays(x, anchor, windows=[w], time_axis=time_axis, impute=impute)[..., 0]
        got = auc_day_major(np.ascontiguousarray(np.moveaxis(x, -1, 0)), anchor, window=w, time_axis=time_axis,
                            impute=impute)
        assert got.shape == want.shape
        assert np.array_equal(np.isnan(got), np.isnan(want))
        assert np.nan_to_num(got).tobytes() == np.nan_to_num(want).tobytes(), (case, w)


def test_auc_day_major_by_hand_and_its_errors() -> None:
    # anchor 5, days 6, 4, missing, 2 (LOCF fills day 3 with 4): trapezoids 5.5, 5, 4, 3 -> 17.5 to day 4
    days = np.array([[6.0], [4.0], [np.nan], [2.0]])
    assert auc_day_major(days, np.array([5.0]), window=4, impute="locf").tolist() == [17.5]
    assert np.isnan(auc_day_major(days, np.array([5.0]), window=4, impute="none")[0])
    assert auc_day_major(days, np.array([5.0]), window=2, impute="none").tolist() == [10.5]
    assert auc_day_major(days, None, window=2, time_axis="first_diary_day").tolist() == [5.0]  # (6 + 4) / 2
    with pytest.raises(DataError, match="beyond the last diary day"):
        auc_day_major(days, np.array([5.0]), window=5)
    with pytest.raises(DataError, match="anchor"):
        auc_day_major(days, np.array([5.0, 1.0]), window=2)
    with pytest.raises(DataError, match="anchor"):
        auc_day_major(days, None, window=2)

"""Tests of describe / describe_by against R, Stata, numpy/scipy and hand calculations."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from ketapain.errors import DataError
from ketapain.stats import Description, describe, describe_by

# x: n = 7, sorted 1 3 4 8 10 15 30
X = [8, 1, 30, 4, 15, 3, 10]
# y: clearly right-skewed (two outliers)
Y = [1, 1, 2, 2, 3, 3, 4, 5, 30, 60]
# z: roughly symmetric
Z = [4.1, 5.3, 6.0, 6.2, 6.8, 7.1, 7.4, 8.0, 8.3, 9.5, 10.2, 11.0]


def test_against_r_small_sample():
    # R 4.x:
    #   x <- c(1, 3, 4, 8, 10, 15, 30)
    #   mean(x) = 10.142857142857142; sd(x) = 9.9570506247009281
    #   quantile(x, c(.25, .5, .75), type = 7) -> 3.5 8.0 12.5
    #     by hand, position 1 + (n-1)p: q1 at 2.5 -> 3 + 0.5*(4-3) = 3.5; median at 4 -> 8;
    #     q3 at 5.5 -> 10 + 0.5*(15-10) = 12.5
    #   shapiro.test(x): W = 0.85506589332633887, p-value = 0.13666599999610685
    d = describe(X)
    assert (d.n, d.n_missing) == (7, 0)
    assert_allclose(d.mean, 10.142857142857142, rtol=1e-15)
    assert_allclose(d.sd, 9.9570506247009281, rtol=1e-14)
    assert (d.q1, d.median, d.q3) == (3.5, 8.0, 12.5)
    assert_allclose(d.shapiro_w, 0.85506589332633887, rtol=1e-9)
    assert_allclose(d.shapiro_p, 0.13666599999610685, rtol=1e-8)
    assert d.normal is True
    assert d.kind == "mean_sd"
    assert d.format() == "10 ± 10"
    assert d.format(digits=2) == "10.14 ± 9.96"


def test_against_r_symmetric_sample():
    # R: z <- c(4.1, 5.3, 6.0, 6.2, 6.8, 7.1, 7.4, 8.0, 8.3, 9.5, 10.2, 11.0)
    #   mean(z) = 7.4916666666666663; sd(z) = 2.032221504271678
    #   quantile(z, c(.25, .5, .75)) -> 6.15 7.25 8.6  (type 7)
    #   shapiro.test(z): W = 0.98266195782826882, p-value = 0.9921117883182925
    d = describe(Z)
    assert_allclose([d.mean, d.sd], [7.4916666666666663, 2.032221504271678], rtol=1e-14)
    assert_allclose([d.q1, d.median, d.q3], [6.15, 7.25, 8.6], rtol=1e-14)
    assert_allclose([d.shapiro_w, d.shapiro_p], [0.98266195782826882, 0.9921117883182925], rtol=1e-8)
    assert d.kind == "mean_sd"
    assert d.format(1) == "7.5 ± 2.0"


def test_skewed_sample_switches_to_median_iqr():
    # R: y <- c(1, 1, 2, 2, 3, 3, 4, 5, 30, 60)
    #   shapiro.test(y): W = 0.58753179601453565, p-value = 3.929078888147391e-05
    #   quantile(y, c(.25, .5, .75)) -> 2.00 3.00 4.75
    #     by hand, n = 10: q1 at 1 + 9*0.25 = 3.25 -> 2 + 0.25*(2-2) = 2;
    #     median at 5.5 -> (3+3)/2 = 3; q3 at 7.75 -> 4 + 0.75*(5-4) = 4.75
    d = describe(Y)
    assert_allclose([d.shapiro_w, d.shapiro_p], [0.58753179601453565, 3.929078888147391e-05], rtol=1e-8)
    assert d.normal is False
    assert d.kind == "median_iqr"
    assert (d.q1, d.median, d.q3) == (2.0, 3.0, 4.75)
    assert d.format() == "3 [2; 5]"
    assert d.format(digits=2) == "3.00 [2.00; 4.75]"


def test_alpha_moves_the_switch():
    # p = 0.1367 for X: rejected at alpha = 0.2, not at 0.05.
    assert describe(X, alpha=0.05).kind == "mean_sd"
    strict = describe(X, alpha=0.2)
    assert strict.kind == "median_iqr" and strict.normal is False
    assert strict.alpha == 0.2


def test_quantile_methods_r_types_6_and_2():
    # R: quantile(x, c(.25, .5, .75), type = 6) -> 3 8 15
    #   by hand, position (n+1)p = 8p: q1 at 2 -> 3; median at 4 -> 8; q3 at 6 -> 15
    # R: quantile(x, c(.25, .5, .75), type = 2) -> 3 8 15  (np = 1.75, 3.5, 5.25: not whole)
    for method in ("weibull", "averaged_inverted_cdf"):
        d = describe(X, quantile_method=method)
        assert (d.q1, d.median, d.q3) == (3.0, 8.0, 15.0)
        assert d.quantile_method == method


def test_stata_summarize_detail_is_type_2():
    # Stata 10.1 `sum X, detail` on these 31 values, posted on Statalist
    # (statalist/archive/2010-07/msg00878): 25% 98.66666, 50% 126, 75% 203,
    # mean 146.914, Std. Dev. 69.5917.
    data = [
        223,
        104.3333,
        198.3333,
        126,
        95,
        101.3333,
        133,
        90.66666,
        38,
        91,
        101,
        36.5,
        101,
        203,
        92.5,
        149,
        142.3333,
        89.33334,
        105.6667,
        123.3333,
        136,
        240.6667,
        162.3333,
        98.66666,
        181.6667,
        261,
        206,
        251,
        339.3333,
        219.3333,
        114,
    ]
    d = describe(data, quantile_method="averaged_inverted_cdf")
    assert (d.q1, d.median, d.q3) == (98.66666, 126.0, 203.0)
    assert_allclose([d.mean, d.sd], [146.914, 69.5917], atol=5e-4)
    # R's default (type 7) gives another q1 here: position 1 + 30*0.25 = 8.5 ->
    # 98.66666 + 0.5*(101 - 98.66666) = 99.83333
    assert_allclose(describe(data).q1, 99.83333, rtol=1e-12)


def test_agrees_with_numpy_and_scipy_on_random_samples():
    rng = np.random.default_rng(7)
    for n in (3, 4, 10, 57):
        sample = rng.lognormal(size=n)
        d = describe(sample)
        assert_allclose(d.mean, np.mean(sample), rtol=1e-13)
        assert_allclose(d.sd, np.std(sample, ddof=1), rtol=1e-13)
        assert_allclose([d.q1, d.median, d.q3], np.quantile(sample, [0.25, 0.5, 0.75]), rtol=1e-13)
        w, p = stats.shapiro(sample)
        assert_allclose([d.shapiro_w, d.shapiro_p], [w, p], rtol=1e-12)
        assert d.kind == ("median_iqr" if p < 0.05 else "mean_sd")


def test_missing_values_are_counted_and_left_out():
    d = describe([8, None, 1, 30, np.nan, 4, 15, pd.NA, 3, 10])
    assert (d.n, d.n_missing) == (7, 3)
    assert d.to_dict() == {**describe(X).to_dict(), "n_missing": 3}


def test_small_samples_give_none_not_nan():
    empty = describe([np.nan, np.nan])
    assert (empty.n, empty.n_missing) == (0, 2)
    assert all(
        getattr(empty, f) is None
        for f in ("mean", "sd", "median", "q1", "q3", "shapiro_w", "shapiro_p", "normal")
    )
    assert empty.kind == "mean_sd"
    assert empty.format() == "NA"
    assert describe([]).n == 0

    one = describe([4.0])
    assert (one.mean, one.sd, one.median, one.shapiro_p, one.normal) == (4.0, None, 4.0, None, None)
    assert one.format() == "4 ± NA"

    two = describe([4.0, 6.0])
    assert two.shapiro_w is None and two.shapiro_p is None and two.normal is None
    assert two.kind == "mean_sd"
    # sd = sqrt(((4-5)^2 + (6-5)^2) / 1) = sqrt(2)
    assert_allclose(two.sd, np.sqrt(2), rtol=1e-15)
    assert two.format(1) == "5.0 ± 1.4"


def test_constant_sample_is_not_tested():
    # Shapiro-Wilk is undefined when all values are equal (scipy would warn).
    d = describe([5, 5, 5, 5])
    assert d.shapiro_w is None and d.normal is None
    assert d.kind == "mean_sd"
    assert d.format() == "5 ± 0"
    assert "Shapiro-Wilk not run" in d.summary()


def test_large_sample_does_not_warn():
    # pytest turns warnings into errors: scipy's N > 5000 note must not leak.
    sample = np.random.default_rng(3).normal(size=5001)
    d = describe(sample)
    assert d.n == 5001 and d.shapiro_p is not None


def test_format_strings():
    base = dict(
        n=20,
        n_missing=0,
        median=5.0,
        q1=3.0,
        q3=12.0,
        shapiro_w=0.9,
        shapiro_p=0.5,
        normal=True,
        alpha=0.05,
        quantile_method="linear",
    )
    assert Description(mean=187.2, sd=90.4, kind="mean_sd", **base).format() == "187 ± 90"
    assert Description(mean=187.2, sd=90.4, kind="median_iqr", **base).format() == "5 [3; 12]"
    assert Description(mean=-0.04, sd=1.0, kind="mean_sd", **base).format(1) == "0.0 ± 1.0"  # no "-0.0"
    assert Description(mean=-0.6, sd=0.25, kind="mean_sd", **base).format(1) == "-0.6 ± 0.2"


def test_summary_and_to_dict_are_json_safe():
    d = describe(Y)
    assert d.summary() == "3 [2; 5] (n = 10, missing = 0; Shapiro-Wilk W = 0.588, p = 3.93e-05)"
    as_dict = d.to_dict()
    assert list(as_dict) == [
        "n",
        "n_missing",
        "mean",
        "sd",
        "median",
        "q1",
        "q3",
        "shapiro_w",
        "shapiro_p",
        "normal",
        "kind",
        "alpha",
        "quantile_method",
    ]
    json.dumps(as_dict, allow_nan=False)
    json.dumps(describe([]).to_dict(), allow_nan=False)


def test_is_frozen():
    with pytest.raises(AttributeError):
        describe(X).mean = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        ([1.0, np.inf, 2.0], {}, "values[1]=inf is infinite; use NaN for a missing value"),
        ([1.0, "a"], {}, "values[1]='a' is not a number"),
        ([[1.0, 2.0], [3.0, 4.0]], {}, "values must be one-dimensional, got 2 dimensions"),
        (3.0, {}, "values must be one-dimensional, got 0 dimensions"),
        (X, {"alpha": 1.5}, "alpha=1.5 must be a number strictly between 0 and 1"),
        (X, {"alpha": 0}, "alpha=0 must be a number strictly between 0 and 1"),
    ],
)
def test_errors(values, kwargs, message):
    with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
        describe(values, **kwargs)


def test_unknown_quantile_method_lists_the_allowed_ones():
    with pytest.raises(
        DataError, match=r"quantile_method='type7' is not allowed; use one of .*'linear' \(type 7\)"
    ):
        describe(X, quantile_method="type7")


# --- describe_by ---------------------------------------------------------------------------


@pytest.fixture
def long() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    parts = [
        pd.DataFrame({"treatment": "P", "window_day": 35, "auc": Z}),
        pd.DataFrame({"treatment": "K", "window_day": 35, "auc": np.array(Y, dtype=float)}),
        pd.DataFrame({"treatment": "KM", "window_day": 35, "auc": rng.normal(190, 90, size=20)}),
        pd.DataFrame({"treatment": "P", "window_day": 7, "auc": [4.0, np.nan]}),
        pd.DataFrame({"treatment": "K", "window_day": 7, "auc": [np.nan, np.nan, np.nan]}),
        pd.DataFrame({"treatment": "KM", "window_day": 7, "auc": [3.0, 3.0, 3.0, np.nan]}),
    ]
    frame = pd.concat(parts, ignore_index=True)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def test_describe_by_matches_describe_per_group(long):
    out = describe_by(long, value="auc", by=["treatment", "window_day"])
    assert list(out.columns) == [
        "treatment",
        "window_day",
        "n",
        "n_missing",
        "mean",
        "sd",
        "median",
        "q1",
        "q3",
        "shapiro_w",
        "shapiro_p",
        "normal",
        "kind",
    ]
    assert list(zip(out["treatment"], out["window_day"], strict=True)) == [
        ("K", 7),
        ("K", 35),
        ("KM", 7),
        ("KM", 35),
        ("P", 7),
        ("P", 35),
    ]
    for _, got in out.iterrows():
        sub = long[(long["treatment"] == got["treatment"]) & (long["window_day"] == got["window_day"])]
        expected = describe(sub["auc"].to_numpy())
        assert (got["n"], got["n_missing"], got["kind"]) == (expected.n, expected.n_missing, expected.kind)
        for name in ("mean", "sd", "median", "q1", "q3", "shapiro_w", "shapiro_p"):
            want = getattr(expected, name)
            if want is None:
                assert np.isnan(got[name]), name
            else:
                assert_allclose(got[name], want, rtol=1e-12, err_msg=name)
        assert (got["normal"] is pd.NA) if expected.normal is None else (got["normal"] == expected.normal)


def test_describe_by_types_and_rule(long):
    out = describe_by(long, value="auc", by="treatment", quantile_method="weibull")
    assert out["treatment"].tolist() == ["K", "KM", "P"]
    assert out["n"].dtype == np.int64 and out["n_missing"].dtype == np.int64
    for name in ("mean", "sd", "median", "q1", "q3", "shapiro_w", "shapiro_p"):
        assert out[name].dtype == np.float64
    assert out["normal"].dtype == "boolean"
    assert out.attrs == {"value": "auc", "alpha": 0.05, "quantile_method": "weibull"}
    k = out.set_index("treatment").loc["K"]
    assert (k["n"], k["n_missing"], k["kind"]) == (10, 3, "median_iqr")
    # weibull (R type 6) on Y, n = 10: q1 at 11*0.25 = 2.75 -> 1 + 0.75*(2-1) = 1.75;
    # q3 at 8.25 -> 5 + 0.25*(30-5) = 11.25
    assert (k["q1"], k["median"], k["q3"]) == (1.75, 3.0, 11.25)


def test_describe_by_all_missing_group_has_n_zero(long):
    out = describe_by(long, value="auc", by=["treatment", "window_day"]).set_index(
        ["treatment", "window_day"]
    )
    empty = out.loc[("K", 7)]
    assert (empty["n"], empty["n_missing"]) == (0, 3)
    assert np.isnan(
        empty[["mean", "sd", "median", "q1", "q3", "shapiro_w", "shapiro_p"]].to_numpy(float)
    ).all()
    assert empty["normal"] is pd.NA
    constant = out.loc[("KM", 7)]
    assert (constant["n"], constant["sd"], constant["kind"]) == (3, 0.0, "mean_sd")
    assert constant["normal"] is pd.NA


def test_describe_to_frame_matches_describe_by_row():
    frame = pd.DataFrame({"g": "a", "v": Y})
    by = describe_by(frame, value="v", by="g").drop(columns="g")
    pd.testing.assert_frame_equal(describe(Y).to_frame(), by)


def test_describe_by_errors(long):
    with pytest.raises(DataError, match=r"frame has no column 'arm'"):
        describe_by(long, value="auc", by="arm")
    bad = long.copy()
    bad.loc[4, "auc"] = np.inf
    with pytest.raises(DataError, match=r"^frame row 5: auc=inf is infinite; use NaN for a missing value$"):
        describe_by(bad, value="auc", by="treatment")
    bad = long.copy()
    bad.loc[2, "treatment"] = None
    with pytest.raises(DataError, match=r"^frame row 3: group key treatment is missing$"):
        describe_by(bad, value="auc", by="treatment")
    with pytest.raises(DataError, match=r"^by is empty"):
        describe_by(long, value="auc", by=[])

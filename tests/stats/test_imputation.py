"""Tests of multiple imputation (impute_diary, multiple_imputation_auc), Rubin's rules and
the delta-adjusted tipping point."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats as sps

from ketapain.errors import ModelError
from ketapain.stats import diary_auc, fit_crossover
from ketapain.stats._imputation import impute_diary, multiple_imputation_auc
from ketapain.stats._mi_pool import pool_d1, pool_scalar
from ketapain.stats._mi_tipping import tipping_point_auc

from tests.stats.test_daily_lmm import WILLIAMS3, simulate


@pytest.fixture(scope="module")
def mcar() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate(WILLIAMS3, 3, window=14, seed=21, p_mcar=0.15)


def test_rubin_rules_by_hand() -> None:
    # m = 3: Q = 10, 12, 14; U = 4, 5, 6; nu_com = 20.
    # Qbar = 12, Ubar = 5, B = ((-2)^2 + 0 + 2^2) / 2 = 4, T = 5 + (4/3) 4 = 10.3333,
    # r = (4/3) 4 / 5 = 1.06667, lambda = (16/3) / (31/3) = 16/31,
    # nu_old = 2 / (16/31)^2 = 7.50781, nu_obs = (21/23) 20 (15/31) = 8.83590,
    # nu = 1 / (1/7.50781 + 1/8.83590) = 4.05895;
    # fmi = (r + 2/(nu_old + 3)) / (1 + r) = (1.06667 + 2/10.50781) / 2.06667 = 0.60823 (Rubin 1987,
    # eq. 3.1.10; mice::pool() would put nu in place of nu_old and give 0.65322).
    p = pool_scalar(np.array([10.0, 12.0, 14.0]), np.array([4.0, 5.0, 6.0]), 20.0)
    assert p.estimate == 12.0 and p.within == 5.0 and p.between == 4.0
    assert_allclose(p.total, 31 / 3, rtol=1e-14)
    assert_allclose(p.riv, 16 / 15, rtol=1e-14)
    nu_old = 2 / (16 / 31) ** 2
    nu_obs = 21 / 23 * 20 * 15 / 31
    assert_allclose(p.df, 1 / (1 / nu_old + 1 / nu_obs), rtol=1e-14)
    assert_allclose(p.df, 4.05895, rtol=1e-5)
    assert_allclose(p.fmi, 0.60823, rtol=1e-4)
    assert_allclose(p.fmi, (16 / 15 + 2 / (nu_old + 3)) / (1 + 16 / 15), rtol=1e-14)


def test_fmi_tends_to_lambda_as_between_variance_vanishes() -> None:
    # issue 19: with B tiny the fmi must be about lambda, not the 2/(nu + 3) floor of the
    # Barnard-Rubin df (about 0.05 with nu_com = 36) that mice::pool()'s formula gives.
    q = np.array([10.0, 10.0 + 1e-3, 10.0 - 1e-3, 10.0])
    p = pool_scalar(q, np.full(4, 4.0), 36.0)
    lam = p.riv / (1 + p.riv)
    assert 0 < lam < 1e-6
    assert_allclose(p.fmi, lam, rtol=1e-6)
    assert p.fmi < 1e-5 < 2 / (p.df + 3)
    # One-parameter D1 is the squared pooled t / (1 + r) (Li et al. 1991 with k = 1).
    d1 = pool_d1(np.array([[10.0], [12.0], [14.0]]), np.array([[[4.0]], [[5.0]], [[6.0]]]), math.inf)
    assert_allclose(d1.statistic, 12.0**2 / 5.0 / (1 + 16 / 15), rtol=1e-14)
    t = 2  # k (m - 1) <= 4: nu1 = t (1 + 1/k)(1 + 1/r)^2 / 2
    assert_allclose(d1.df_den, t * 2 * (1 + 15 / 16) ** 2 / 2, rtol=1e-14)


def test_no_missing_data_equals_complete_fit() -> None:
    diary, alloc = simulate(WILLIAMS3, 2, window=10, seed=3)
    imp = impute_diary(diary, alloc, window=10, n_imputations=4, seed=1)
    assert not imp.imputed.any()
    assert np.all(imp.values == imp.values[0])
    mi = multiple_imputation_auc(diary, alloc, window=10, ref="A", n_imputations=4, seed=1)
    auc = diary_auc(diary, windows=(10,), anchor=alloc).merge(alloc, on=["patient_id", "period"])
    cf = fit_crossover(auc, outcome="auc", subject="patient_id", model="paper", ref="A")
    exp = cf.contrasts_frame()
    got = mi.to_frame()
    for col in ("estimate", "se", "df", "p_value", "p_sidak", "ci_low", "ci_high"):
        assert_allclose(got[col], exp[col], rtol=1e-12, err_msg=col)
    assert mi.omnibus == cf.treatment_test
    assert np.all(got["fmi"] == 0)


def test_reproducible_with_seed(mcar) -> None:
    diary, alloc = mcar
    a = impute_diary(diary, alloc, window=14, n_imputations=3, seed=5)
    b = impute_diary(diary, alloc, window=14, n_imputations=3, seed=5)
    c = impute_diary(diary, alloc, window=14, n_imputations=3, seed=6)
    assert np.array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    assert a.seed == 5
    obs = ~a.imputed
    assert np.all(a.values[:, obs] == a.values[0][obs])  # observed points untouched
    assert np.all(a.values[0][:, 1:][~a.imputed[:, 1:]] ==
                  diary.sort_values(["patient_id", "period", "day"])["avg_pain"].dropna().to_numpy())


def test_imputed_values_respect_clip_and_delta_shift(mcar) -> None:
    diary, alloc = mcar
    base = impute_diary(diary, alloc, window=14, n_imputations=3, seed=2, clip=None)
    hi = impute_diary(diary, alloc, window=14, n_imputations=3, seed=2, delta={"B": 30.0})
    assert hi.values.min() >= 0 and hi.values.max() <= 10
    b_rows = np.array(hi.treatment) == "B"
    target = hi.imputed & b_rows[:, None] & (hi.days >= 1)[None, :]
    assert target.any() and np.all(hi.values[:, target] == 10.0)
    untouched = hi.imputed & ~target
    assert_allclose(hi.values[:, untouched], np.clip(base.values[:, untouched], 0, 10))


def test_mi_aucs_are_diary_auc_of_completed_data(mcar) -> None:
    diary, alloc = mcar
    imp = impute_diary(diary, alloc, window=14, n_imputations=2, seed=9)
    auc = diary_auc(imp.diary(1), windows=(14,), anchor=imp.anchor(1))
    assert_allclose(auc["auc"], imp.values[1] @ np.r_[0.5, np.ones(13), 0.5], rtol=1e-12)
    long = imp.to_frame()
    assert len(long) == 2 * 54 * 15 and long["imputed"].sum() == 2 * imp.imputed.sum()


def test_mcar_mi_close_to_complete_data() -> None:
    """MCAR deletion from a large data set: MI and complete-data estimates estimate the same
    contrast; their difference has variance about T - U_complete (the extra variance due to
    the missing days, Rubin 1987), so it must lie within 4 such SDs (plus the Monte-Carlo
    error of m = 20 imputations, B / m)."""
    full, alloc = simulate(WILLIAMS3, 20, window=14, seed=99, round_to=None)
    rng = np.random.default_rng(4)
    holed = full.assign(avg_pain=np.where(rng.random(len(full)) < 0.25, np.nan, full["avg_pain"]))
    mi = multiple_imputation_auc(holed, alloc, window=14, ref="A", n_imputations=20, seed=8)
    auc = diary_auc(full, windows=(14,), anchor=alloc).merge(alloc, on=["patient_id", "period"])
    cf = fit_crossover(auc, outcome="auc", subject="patient_id", model="paper", ref="A").contrasts_frame()
    for c, (est, se) in zip(mi.contrasts, zip(cf["estimate"], cf["se"], strict=True), strict=True):
        extra = max(c.se**2 - se**2, 0.0) + c.between_var / 20
        assert abs(c.estimate - est) < 4 * math.sqrt(extra), (c.label, c.estimate, est, extra)
        assert 0 < c.fmi < 0.6


def test_mi_result_api(mcar) -> None:
    diary, alloc = mcar
    mi = multiple_imputation_auc(diary, alloc, window=14, ref="A", n_imputations=5, seed=1)
    json.dumps(mi.to_dict(), allow_nan=False)
    assert list(mi.to_frame().columns) == ["contrast", "estimate", "se", "df", "ci_low", "ci_high", "statistic",
                                          "p_value", "p_sidak", "fmi"]
    assert mi.omnibus.df_num == 2 and 0 < mi.omnibus.p_value < 1
    assert "D1" in mi.summary()
    with pytest.raises(ModelError, match="n_imputations"):
        multiple_imputation_auc(diary, alloc, window=14, ref="A", n_imputations=1, seed=1)


def test_tipping_delta_zero_equals_mi_and_monotone(mcar) -> None:
    diary, alloc = mcar
    tp = tipping_point_auc(diary, alloc, window=14, ref="A", deltas=[-2, -1, 1, 2], shift_arms=["B", "C"],
                           n_imputations=5, seed=4)
    mi = multiple_imputation_auc(diary, alloc, window=14, ref="A", n_imputations=5, seed=4)
    frame = tp.to_frame()
    at0 = frame[frame["delta"] == 0].reset_index(drop=True)
    mif = mi.to_frame()
    for col in ("estimate", "se", "df", "ci_low", "ci_high", "p_value", "p_sidak"):
        assert_allclose(at0[col], mif[col], rtol=1e-12, err_msg=col)
    # A - B: B's imputed days get worse with delta, so A - B decreases.
    ab = frame[frame["contrast"] == "A - B"].sort_values("delta")["estimate"].to_numpy()
    assert np.all(np.diff(ab) < 0)
    json.dumps(tp.to_dict(), allow_nan=False)


def test_tipping_point_known_by_hand() -> None:
    """Every period on treatment B misses five diary days of weight 1 (half of them days
    4..8, the other half days 9..13; nothing else is missing), no clip. Shifting B's imputed
    days by delta adds 5 delta to every B AUC, which the treatment[B] column absorbs exactly:
    residuals, variance estimates, SEs and df do not change, and the pooled A - B estimate is
    est0 - 5 delta. The Sidak conclusion changes where |est0 - 5 delta| / se = t_crit(df) with
    alpha_k = 1 - 0.95^(1/3)."""
    diary, alloc = simulate(WILLIAMS3, 3, window=14, seed=31, effects={"A": 0.0, "B": -1.2, "C": -0.4},
                            sd_e=0.6, round_to=None)
    b_pp = alloc.loc[alloc["treatment"] == "B", ["patient_id", "period"]].reset_index(drop=True)
    b_pp["first"] = np.where(np.arange(len(b_pp)) % 2 == 0, 4, 9)
    m = diary.merge(b_pp, how="left", on=["patient_id", "period"])
    hole = (m["day"] >= m["first"]) & (m["day"] < m["first"] + 5)
    diary = diary.assign(avg_pain=np.where(hole.to_numpy(), np.nan, diary["avg_pain"]))
    tp = tipping_point_auc(diary, alloc, window=14, ref="A", deltas=np.arange(-8, 8.01, 0.25), shift_arms=["B"],
                           n_imputations=4, seed=2, clip=None)
    frame = tp.to_frame()
    ab = frame[frame["contrast"] == "A - B"].set_index("delta")
    est0, se, df = ab.loc[0.0, ["estimate", "se", "df"]]
    assert_allclose(ab["estimate"] - est0, -5 * ab.index.to_numpy(), atol=1e-8)
    assert_allclose(ab["se"], se, rtol=1e-7)
    crit = sps.t.ppf(1 - (1 - 0.95 ** (1 / 3)) / 2, df)
    tip = {t.contrast: t for t in tp.tipping}["A - B"]
    assert tip.conclusion == 1  # A worse than B (B lowers pain) at delta 0
    assert_allclose(tip.delta_up, (est0 - crit * se) / 5, rtol=1e-6)
    assert tip.delta_down is None  # more negative delta only strengthens the conclusion
    # A - C is unaffected by shifting B.
    ac = frame[frame["contrast"] == "A - C"]["estimate"].to_numpy()
    assert_allclose(ac, ac[0], rtol=1e-10)


def test_an_imputation_fit_without_residual_variance_voids_the_pool(mcar) -> None:
    """Row 1 of the AUC matrix is exactly fixed effects + a subject effect (no residual): that
    fit is refused (residual variance 0), so Rubin's rules have no valid input and every pooled
    number is NaN with the reason, never a pool of the other rows."""
    from ketapain.stats._imputation import AucAnalyser, completed_auc, finish, pool_analysis, prepare_imputations

    diary, alloc = mcar
    grid, raw, _ = prepare_imputations(diary, alloc, value="avg_pain", window=14, ref="A", model="standard",
                                       subject="patient_id", n_imputations=3, seed=5, clip=(0.0, 10.0))
    analyser = AucAnalyser(grid, subject="patient_id", model="paper", df_method="kenward-roger", ref="A")
    auc = completed_auc(finish(grid, raw, np.zeros(len(grid.treatment)), (0.0, 10.0)))
    rng = np.random.default_rng(0)
    d = analyser.design
    auc[1] = d.X @ rng.normal(size=d.X.shape[1]) + rng.normal(size=d.group_codes.max() + 1)[d.group_codes]
    an = analyser.run(auc)
    assert [c.status for c in an.checks] == ["ok", "not_estimable", "ok"]
    assert an.check.reason.startswith("1 of 3 imputation fits not estimable: imputation 2: ")
    contrasts, omnibus = pool_analysis(an, conf_level=0.95, complete=False)
    assert all(math.isnan(c.estimate) and math.isnan(c.p_value) for c in contrasts)
    assert math.isnan(omnibus.p_value)
    # the same rows without row 1 pool to finite numbers
    ok = analyser.run(auc[[0, 2]])
    assert ok.check.status == "ok"
    assert all(math.isfinite(c.p_value) for c in pool_analysis(ok, conf_level=0.95, complete=False)[0])


def test_tipping_search_stops_at_a_delta_that_is_not_estimable() -> None:
    # deltas -1, 0, 1, 2; t = 3, 3, NaN, -3 with t_crit 2: the conclusion +1 at delta 0 cannot
    # be followed past delta 1 (not estimable), so no tipping delta upward; downward none.
    from ketapain.stats._mi_tipping import _tip

    deltas = np.array([-1.0, 0.0, 1.0, 2.0])
    ts = np.array([3.0, 3.0, np.nan, -3.0])
    crits = np.full(4, 2.0)
    states = np.array([1, 1, 0, -1])
    assert _tip(deltas, ts, crits, states, 1, 1) is None
    assert _tip(deltas, ts, crits, states, 1, -1) is None
    # with a finite t at delta 1 the change is interpolated: margin 3 - 2 = 1 at 0, -3 - 2 at 1
    ts2 = np.array([3.0, 3.0, -3.0, -3.0])
    assert _tip(deltas, ts2, crits, np.array([1, 1, -1, -1]), 1, 1) == pytest.approx(1 / 6)


# --------------------------------------------------------------------------- the pain scale


@pytest.fixture(scope="module")
def half(mcar) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The MCAR trial on a 0..5 scale (every score halved)."""
    diary, alloc = mcar
    return diary.assign(avg_pain=diary["avg_pain"] / 2), alloc.assign(pre_infusion_pain=alloc["pre_infusion_pain"] / 2)


def test_imputed_values_stay_on_a_0_5_scale(half) -> None:
    diary, alloc = half
    imp = impute_diary(diary, alloc, window=14, n_imputations=3, seed=2, delta={"B": 1.5}, scale=(0, 5))
    assert imp.clip == (0.0, 5.0)
    assert imp.values.min() >= 0.0 and imp.values.max() <= 5.0
    # the test that would have caught the silent 0..10 clip: the same imputations clipped to the
    # NRS (the old default) put imputed days above the top of the 0..5 scale
    nrs = impute_diary(diary, alloc, window=14, n_imputations=3, seed=2, delta={"B": 1.5}, scale=(0, 5),
                       clip=(0.0, 10.0))
    assert nrs.values[:, nrs.imputed].max() > 5.0
    assert np.array_equal(imp.values, np.where(nrs.imputed[None], np.minimum(nrs.values, 5.0), nrs.values))


def test_mi_and_tipping_clip_to_the_scale_by_default(half, monkeypatch) -> None:
    from ketapain.stats import _imputation, _mi_tipping

    diary, alloc = half
    seen = []
    real = _imputation.finish

    def spy(grid, raw, delta, clip):  # type: ignore[no-untyped-def]
        seen.append(clip)
        return real(grid, raw, delta, clip)

    monkeypatch.setattr(_imputation, "finish", spy)
    monkeypatch.setattr(_mi_tipping, "finish", spy)
    multiple_imputation_auc(diary, alloc, window=14, ref="A", n_imputations=2, seed=1, scale=(0, 5))
    tipping_point_auc(diary, alloc, window=14, ref="A", shift_arms=["B"], deltas=[0.0, 1.0], n_imputations=2,
                      seed=1, scale=(0, 5))
    assert seen and all(c == (0.0, 5.0) for c in seen)


def test_the_imputation_refuses_scores_off_its_scale(mcar) -> None:
    from ketapain.errors import DataError

    diary, alloc = mcar
    with pytest.raises(DataError, match=r"outside 0\.\.5"):
        impute_diary(diary, alloc, window=14, n_imputations=2, seed=1, scale=(0, 5))
    with pytest.raises(ModelError, match=r"clip='nrs' must be 'scale', None or \(low, high\)"):
        impute_diary(diary, alloc, window=14, n_imputations=2, seed=1, clip="nrs")  # type: ignore[arg-type]

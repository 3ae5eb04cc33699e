"""The array path of the batched engine against the frame path and the single engine.

References: ``fit_crossover`` (the single engine: grid + Brent + analytic-derivative polish,
unchanged) trial by trial, and ``fit_crossover_batch`` on the long frame of the same trials;
every number at ``rtol=1e-8``. The closed-form (ANOVA) variance ratio of orthogonal-block
designs is checked against the iterative optimiser of the eigen path and against
``_lmm.fit_random_intercept``; the Kenward-Roger df of within-subject contrasts in complete
balanced trials against the containment df (the exact F test of that design).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ketapain.stats._lmm as lmm
from ketapain.errors import DataError, ModelError, SingularFitWarning
from ketapain.stats import fit_crossover
from ketapain.stats._batch import BATCH_COLUMNS, fit_crossover_batch
from ketapain.stats._batch_array import BatchArrays, fit_crossover_arrays
from ketapain.stats._batch_eigen import (
    closed_form_theta,
    group_stats,
    pattern_stats,
    shared_grid,
)
from ketapain.stats._batch_math import optimise
from ketapain.stats._design import crossover_design

WILLIAMS3 = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
LEVELS = ["A", "B", "C"]
PAIR_COLS = ("estimate", "se", "df", "statistic", "p_value", "p_sidak", "ci_low", "ci_high", "ci_sidak_low",
             "ci_sidak_high")


def cube(G: int, n: int, seed: int, *, missing: float = 0.0, shared: bool = True, table=WILLIAMS3):
    """Outcomes (G, n, P), treatment codes and sequence codes of ``G`` simulated trials;
    between-subject SD cycles 0, 0.5, 2 (0 gives boundary fits)."""
    rng = np.random.default_rng(seed)
    S, P = table.shape
    seq = np.arange(n) % S if shared else rng.integers(0, S, (G, n))
    trt = table[seq]
    sd_b = np.array([0.0, 0.5, 2.0])[np.arange(G) % 3][:, None, None]
    y = 5.0 + 0.5 * (trt == 1) + 0.2 * np.arange(P) + sd_b * rng.normal(size=(G, n, 1)) + rng.normal(size=(G, n, P))
    if missing:
        y[rng.random(y.shape) < missing] = np.nan
    return y, trt, seq


def to_frame(y, trt, seq, levels=LEVELS) -> pd.DataFrame:
    """Long frame of the cube (subjects that are NaN in every period left out)."""
    G, N, P = y.shape
    trt = np.broadcast_to(trt, (G, N, P))
    seq = np.broadcast_to(seq, (G, N))
    g, i = np.nonzero(~np.isnan(y).all(axis=2))
    return pd.DataFrame({
        "trial": np.repeat(g, P), "subject": np.repeat([f"S{v:02d}" for v in i], P),
        "period": np.tile(np.arange(1, P + 1), g.size), "sequence": np.repeat([f"Q{v}" for v in seq[g, i]], P),
        "treatment": np.asarray(levels, dtype=object)[trt[g, i].reshape(-1)], "y": y[g, i].reshape(-1),
    })


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return fn(*args, **kw)


def close(actual, expected, msg: str, rtol: float = 1e-8) -> None:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert (np.isinf(actual) == np.isinf(expected)).all(), msg
    fin = np.isfinite(expected)
    a, e = actual[fin], expected[fin]
    ok = np.abs(a - e) <= rtol * np.abs(e) + 1e-12 * np.maximum(1.0, np.abs(e))
    assert ok.all(), f"{msg}: {a[~ok]} != {e[~ok]}"
    assert np.isnan(actual[np.isnan(expected)]).all(), msg


def flat_profile(grp: pd.DataFrame) -> bool:
    """True when the profiled REML criterion is constant in theta up to rounding (range below
    1e-7 over the single engine's grid): the variance ratio is not identified (e.g. 4
    subjects, 2 of them observed once), and either engine may return any point of the
    plateau (the single engine follows rounding noise)."""
    obs = grp.dropna(subset=["y"])
    try:
        d = crossover_design(obs, outcome="y")
        ss = lmm.sufficient_stats(d.X, d.y, d.group_codes)
        dev = lmm.profiled_deviance_grid(ss, lmm._THETA_GRID)
    except (ModelError, np.linalg.LinAlgError):
        return False
    return bool(np.ptp(dev[np.isfinite(dev)]) < 1e-7)


def check_single(res: BatchArrays, frame: pd.DataFrame, trials, *, skip_flat: bool = False, **opts) -> int:
    """Every trial in ``trials`` against ``fit_crossover``; returns the number fitted."""
    fitted = 0
    for g in trials:
        grp = frame[frame.trial == g]
        if skip_flat and flat_profile(grp):
            continue
        if grp.dropna(subset=["y"]).treatment.nunique() < 2:  # fit_crossover: ZeroDivisionError (reported)
            assert not res.converged[g] and "needs at least 2" in res.error[g]
            continue
        try:
            fit = quiet(fit_crossover, grp, outcome="y", **opts)
        except ModelError as exc:
            # the same refusal; the wording may name other labels (the array path has codes)
            assert not res.converged[g] and res.error[g].split(" ")[0] == str(exc).split(" ")[0], (g, exc)
            continue
        fitted += 1
        assert res.converged[g] and res.error[g] is None and res.singular[g] == fit.singular, g
        assert res.n_obs[g] == fit.n_obs and res.n_subjects[g] == fit.n_subjects
        tt = fit.treatment_test
        close([res.f_statistic[g], res.f_df_den[g], res.f_p_value[g], res.f_df_num[g]],
              [tt.statistic, tt.df_den, tt.p_value, tt.df_num], f"trial {g} omnibus")
        close([res.sigma2_subject[g], res.sigma2_residual[g], res.icc[g], res.loglik[g]],
              [fit.variance_subject, fit.variance_residual, fit.icc, fit.loglik], f"trial {g} variances")
        for c in fit.contrasts:
            j = res.pairs.index(f"{c.a} - {c.b}")
            close([getattr(res, col)[g, j] for col in PAIR_COLS],
                  [c.estimate, c.se, c.df, c.statistic, c.p_value, c.p_sidak, c.ci_low, c.ci_high, c.ci_sidak_low,
                   c.ci_sidak_high], f"trial {g} {c.a} - {c.b}")
    return fitted


def check_frame(res: BatchArrays, frame: pd.DataFrame, **opts) -> None:
    """``to_frame()`` equals ``fit_crossover_batch`` on the long frame, row for row."""
    ref = quiet(fit_crossover_batch, frame, outcome="y", by="trial", on_error="flag", **opts)
    got = res.to_frame(by="trial")
    got = got[got.term.isin(ref.term.unique()) | ~got.converged]
    got = got[~(got.term.str.contains(" - ") & got.estimate.isna() & got.converged)]  # pairs a trial lacks
    assert list(got.columns) == ["trial", *BATCH_COLUMNS]
    assert got[["trial", "term"]].to_numpy().tolist() == ref[["trial", "term"]].to_numpy().tolist()
    for col in BATCH_COLUMNS:
        if col in ("term", "error"):
            assert got[col].tolist() == ref[col].tolist(), col
        elif ref[col].dtype.kind == "f":
            close(got[col].to_numpy(), ref[col].to_numpy(), col)
        else:
            assert got[col].tolist() == ref[col].tolist(), col


@pytest.mark.parametrize("df_method", ["kenward-roger", "containment", "normal", "satterthwaite"])
def test_complete_shared_design_equals_single_and_frame(df_method) -> None:
    y, trt, seq = cube(9, 20, seed=4)
    res = quiet(fit_crossover_arrays, y, trt, seq, levels=LEVELS, df_method=df_method)
    frame = to_frame(y, trt, seq)
    assert check_single(res, frame, range(9), df_method=df_method) == 9
    assert res.singular.any() and not res.singular.all()  # boundary (theta = 0) and interior fits
    check_frame(res, frame, df_method=df_method)


@pytest.mark.parametrize("missing", [0.0, 0.12])
def test_per_trial_allocation_unbalanced_and_missing(missing) -> None:
    """Each trial its own random allocation (unequal sequence counts: unbalanced designs,
    several patterns after the canonical subject order) and missing periods."""
    y, trt, seq = cube(8, 14, seed=7, missing=missing, shared=False)
    res = quiet(fit_crossover_arrays, y, trt, seq, levels=LEVELS)
    frame = to_frame(y, trt, seq)
    assert check_single(res, frame, range(8)) >= 6
    check_frame(res, frame)


@pytest.mark.parametrize("layout", ["per-trial treatments, shared sequences", "shared treatments, per-trial sequences"])
@pytest.mark.parametrize("df_method", ["kenward-roger", "satterthwaite"])
def test_one_array_per_trial_the_other_shared(layout, df_method) -> None:
    """treatment_codes (G, N, P) with sequence_codes (N,), or (N, P) with (G, N): the documented
    shapes combine freely. These combinations raised IndexError before (the pattern path
    indexed the shared array by trial); the results equal those of both arrays per trial,
    which the frame engine and the single engine check elsewhere."""
    y, trt, seq = cube(6, 12, seed=3)  # complete: the pattern path (but for Satterthwaite)
    G, N, P = y.shape
    trt_g, seq_g = np.broadcast_to(trt, (G, N, P)).copy(), np.broadcast_to(seq, (G, N)).copy()
    codes = (trt_g, seq) if layout.startswith("per-trial treatments") else (trt, seq_g)
    res = quiet(fit_crossover_arrays, y, *codes, levels=LEVELS, df_method=df_method)
    ref = quiet(fit_crossover_arrays, y, trt_g, seq_g, levels=LEVELS, df_method=df_method)
    assert res.converged.all()
    for name in (*PAIR_COLS, "f_statistic", "f_df_den", "f_p_value", "sigma2_subject", "icc", "loglik"):
        np.testing.assert_array_equal(getattr(res, name), getattr(ref, name), err_msg=name)
    assert check_single(res, to_frame(y, trt, seq), range(G), df_method=df_method) == G


@pytest.mark.parametrize(("method", "model", "df_method"), [("ML", "standard", "containment"), ("REML", "paper", "kenward-roger")])
def test_ml_and_paper_model(method, model, df_method) -> None:
    y, trt, seq = cube(6, 12, seed=5)
    opts = {"method": method, "model": model, "df_method": df_method}
    res = quiet(fit_crossover_arrays, y, trt, seq, levels=LEVELS, **opts)
    assert check_single(res, to_frame(y, trt, seq), range(6), **opts) == 6


def test_levels_order_and_reference() -> None:
    """Codes index ``levels`` in any order; output levels are reference first, then code-point."""
    y, trt, seq = cube(3, 12, seed=9)
    names = ["C", "A", "B"]  # code 0 is "C"
    res = quiet(fit_crossover_arrays, y, trt, seq, levels=names, ref="B")
    assert res.levels == ("B", "A", "C") and res.pairs == ("B - A", "B - C", "A - C")
    assert check_single(res, to_frame(y, trt, seq, levels=names), range(3), ref="B") == 3


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_closed_form_equals_iterative_optimum(method) -> None:
    """The ANOVA closed form against the grid + regula-falsi optimiser of the eigen path (same
    statistics) and against ``_lmm.fit_random_intercept`` (theta to 1e-8)."""
    reml = method == "REML"
    y, trt, seq = cube(30, 12, seed=13)
    frame = to_frame(y, trt, seq)
    grp0 = frame[frame.trial == 0]
    X = np.column_stack([np.ones(len(grp0)), grp0.treatment == "B", grp0.treatment == "C", grp0.period == 2,
                         grp0.period == 3, *[grp0.sequence == f"Q{s}" for s in range(1, 6)]]).astype(float)
    codes = pd.factorize(grp0.subject)[0]
    xpad = X.reshape(12, 3, -1)
    pat = pattern_stats(xpad, np.ones((12, 3)))
    es = group_stats(pat, y)
    theta_cf, status_cf = closed_form_theta(es, reml)
    theta_it, status_it = optimise(None, reml, es, shared_grid(pat, es, reml))
    assert (status_cf == 0).all() and (status_it == 0).all()
    assert (theta_cf == 0).any() and (theta_cf > 0).any()
    np.testing.assert_allclose(theta_cf, theta_it, rtol=1e-8, atol=1e-12)
    for g in range(30):
        fit = quiet(lmm.fit_random_intercept, X, y[g].reshape(-1), codes, method=method)
        np.testing.assert_allclose(theta_cf[g], fit.theta, rtol=1e-8, atol=1e-12)


def test_closed_form_not_used_for_non_orthogonal_design() -> None:
    """With complete data the sequence term makes every design orthogonal-block (subject means
    of all columns are functions of the sequence). Every subject missing one period (the same
    cell in every trial, so one shared pattern with m0 = 2) breaks that: eigenvalues strictly
    between 0 and m0, no closed form; those trials take the iterative path."""
    from ketapain.stats._batch_array import pattern_design

    y, trt, seq = cube(6, 12, seed=3)
    drop = np.arange(12) // 6  # the two subjects of a sequence miss different periods
    y[:, np.arange(12), drop] = np.nan
    x, _mask, _tests = pattern_design(trt, seq, np.ones(12, dtype=bool), 3, "standard")
    mask = np.ones((12, 3))
    mask[np.arange(12), drop] = 0.0
    pat = pattern_stats(x * mask[..., None], mask)
    d = pat.d
    assert ((d > 1e-6) & (d < pat.m0 - 1e-6)).any()
    assert closed_form_theta(group_stats(pat, np.nan_to_num(y)), True) is None
    res = quiet(fit_crossover_arrays, y, trt, seq, levels=LEVELS)
    assert check_single(res, to_frame(y, trt, seq), range(6)) == 6


def test_kr_equals_containment_for_complete_balanced_trials() -> None:
    """Complete Williams trials, interior fits: KR df of the treatment contrasts equals the
    within-subject (containment) df N - G - (p - k) and the KR variance adjustment is zero,
    so KR and containment give the same tests (the exact F test of this orthogonal design)."""
    y, trt, seq = cube(12, 18, seed=17)
    kr = quiet(fit_crossover_arrays, y, trt, seq, levels=LEVELS, df_method="kenward-roger")
    ct = quiet(fit_crossover_arrays, y, trt, seq, levels=LEVELS, df_method="containment")
    inner = ~kr.singular
    assert inner.sum() >= 6
    df_w = 18 * 3 - 18 - 4  # N - G - within columns (2 treatment + 2 period)
    close(kr.df[inner], np.full((inner.sum(), 3), df_w), "KR df", rtol=1e-9)
    close(kr.f_df_den[inner], np.full(inner.sum(), df_w), "KR omnibus df", rtol=1e-9)
    for name in ("se", "p_value", "ci_low"):
        close(getattr(kr, name)[inner], getattr(ct, name)[inner], name, rtol=1e-9)
    close(kr.f_statistic[inner], ct.f_statistic[inner], "F", rtol=1e-9)


@st.composite
def designs(draw):
    n_lv = draw(st.integers(2, 3))
    P = draw(st.integers(2, 4))
    S = draw(st.integers(2, 4))
    table = np.array(draw(st.lists(st.lists(st.integers(0, n_lv - 1), min_size=P, max_size=P), min_size=S, max_size=S)))
    n = draw(st.integers(4, 12))
    return table, n, draw(st.booleans()), draw(st.sampled_from([0.0, 0.15])), draw(st.integers(0, 2**31))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs(), st.sampled_from(["kenward-roger", "containment", "satterthwaite"]))
def test_random_designs_equal_single_engine(design, df_method) -> None:
    table, n, shared, missing, seed = design
    y, trt, seq = cube(2, n, seed=seed, missing=missing, shared=shared, table=table)
    n_lv = int(table.max()) + 1
    levels = LEVELS[: max(n_lv, 2)]
    res = quiet(fit_crossover_arrays, y, trt, seq, levels=levels, df_method=df_method, on_error="flag")
    frame = to_frame(y, trt, seq, levels=levels)
    check_single(res, frame, sorted(frame.trial.unique()), skip_flat=True, df_method=df_method)
    p, ps = res.p_value[res.converged], res.p_sidak[res.converged]
    assert (p[np.isfinite(p)] <= ps[np.isfinite(p)] + 1e-15).all()


def test_errors_and_outputs() -> None:
    y, trt, seq = cube(3, 12, seed=2)
    with pytest.raises(DataError, match="shape"):
        fit_crossover_arrays(y[0], trt, seq, levels=LEVELS)
    bad = trt.copy()
    bad[0, 2] = 3
    with pytest.raises(DataError, match=r"treatment_codes\[0, 2\] = 3 is outside 0..2"):
        fit_crossover_arrays(y, bad, seq, levels=LEVELS)
    with pytest.raises(ModelError, match="ref='D'"):
        fit_crossover_arrays(y, trt, seq, levels=LEVELS, ref="D")
    with pytest.raises(ModelError, match="df_method"):
        fit_crossover_arrays(y, trt, seq, levels=LEVELS, df_method="wald")
    y2 = y.copy()
    y2[1] = 3.0  # constant outcome: the single engine refuses it
    with pytest.raises(ModelError, match="trial 1: "):
        quiet(fit_crossover_arrays, y2, trt, seq, levels=LEVELS)
    res = quiet(fit_crossover_arrays, y2, trt, seq, levels=LEVELS, on_error="flag")
    assert res.converged.tolist() == [True, False, True] and res.error[1] and np.isnan(res.estimate[1]).all()
    frame = res.to_frame()
    assert frame[frame.group == 1].term.tolist() == ["treatment"]
    assert len(frame) == 2 * 7 + 1
    json.dumps(res.to_dict())
    assert "3 trials, 2 fitted" in res.summary()
    with pytest.warns(SingularFitWarning, match=r"in \d+ of 9 trials"):
        fit_crossover_arrays(*cube(9, 20, seed=4), levels=LEVELS)

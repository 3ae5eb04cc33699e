"""The random-intercept engine: sufficient statistics, derivatives, invariances, statsmodels."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from ketapain.errors import ModelError
from ketapain.stats import fit_crossover, fit_random_intercept, sidak_p
from ketapain.stats._ddf import variance_derivatives
from ketapain.stats._design import crossover_design

from strategies import crossover_datasets, fixed_effects_identified


def dataset(seed: int = 5, n: int = 18) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seqs = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
    rows = []
    for i in range(n):
        b = rng.normal(0, 1.5)
        for k, t in enumerate(seqs[i % 6]):
            rows.append((f"S{i:02d}", k + 1, seqs[i % 6], t, 4 + 0.4 * (t == "B") + b + rng.normal()))
    return pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])


def full_reml_deviance(X, y, g, sb2, s2):
    """-2 restricted log-likelihood by dense matrices (independent of the engine's algebra)."""
    Z = (g[:, None] == np.arange(g.max() + 1)[None, :]).astype(float)
    V = sb2 * Z @ Z.T + s2 * np.eye(len(y))
    Vi = np.linalg.inv(V)
    XtViX = X.T @ Vi @ X
    beta = np.linalg.solve(XtViX, X.T @ Vi @ y)
    e = y - X @ beta
    n, p = X.shape
    return (np.linalg.slogdet(V)[1] + np.linalg.slogdet(XtViX)[1] + e @ Vi @ e
            + (n - p) * math.log(2 * math.pi))


def test_profiled_deviance_equals_dense_reml_deviance() -> None:
    d = crossover_design(dataset())
    fit = fit_random_intercept(d.X, d.y, d.group_codes)
    dense = full_reml_deviance(d.X, d.y, d.group_codes, fit.sigma2_subject, fit.sigma2)
    assert_allclose(fit.deviance, dense, rtol=1e-12)


def test_analytic_hessian_matches_finite_differences() -> None:
    d = crossover_design(dataset())
    fit = fit_random_intercept(d.X, d.y, d.group_codes)
    deriv = variance_derivatives(fit)
    x0 = np.array([fit.sigma2_subject, fit.sigma2])
    h = 1e-4 * x0
    f = lambda x: full_reml_deviance(d.X, d.y, d.group_codes, *x)  # noqa: E731
    num = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h[i], np.eye(2)[j] * h[j]
            num[i, j] = (f(x0 + ei + ej) - f(x0 + ei - ej) - f(x0 - ei + ej) + f(x0 - ei - ej)) / (4 * h[i] * h[j])
    assert_allclose(deriv.hessian_observed, num, rtol=1e-5)
    # Gradient at the optimum is 0 (the Hessian is taken at a stationary point).
    grad = [(f(x0 + np.eye(2)[i] * h[i]) - f(x0 - np.eye(2)[i] * h[i])) / (2 * h[i]) for i in range(2)]
    assert_allclose(grad, 0.0, atol=1e-6)


def test_row_order_does_not_matter() -> None:
    data = dataset()
    a = fit_crossover(data).to_dict()
    b = fit_crossover(data.sample(frac=1.0, random_state=3)).to_dict()
    assert_allclose([f["estimate"] for f in a["fixed_effects"]], [f["estimate"] for f in b["fixed_effects"]], rtol=1e-12)
    assert_allclose(a["loglik"], b["loglik"], rtol=1e-12)


def test_agrees_with_statsmodels_mixedlm() -> None:
    """statsmodels MixedLM (REML, lbfgs then tight convergence) on the same data.

    statsmodels' optimiser is less exact than ours (see the issue); rtol 1e-4 here.
    """
    sm = pytest.importorskip("statsmodels.formula.api")
    data = dataset()
    res = fit_crossover(data, df_method="normal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = sm.mixedlm("y ~ C(treatment) + C(period) + C(sequence)", data, groups=data["subject"]).fit(
            reml=True, method=["lbfgs"], gtol=1e-10
        )
    assert_allclose(res.estimate, m.fe_params.to_numpy(), rtol=1e-4)
    assert_allclose(res.variance_residual, m.scale, rtol=1e-4)
    assert_allclose(res.variance_subject, float(m.cov_re.iloc[0, 0]), rtol=1e-4)
    assert_allclose(res.se, m.bse_fe.to_numpy(), rtol=1e-4)
    assert_allclose(res.loglik, m.llf, atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(p=st.floats(0, 1), k=st.integers(1, 10))
@example(p=0.22661085191257174, k=1)  # 1 - (1 - p)^1 rounded below p: found by test_contract_invariants
@example(p=0.12109375, k=1)  # ... and above p (found by this test): k = 1 now returns p itself
def test_sidak_bounds(p: float, k: int) -> None:
    """p <= p_sidak <= 1 exactly (no tolerance), and k = 1 leaves p unchanged."""
    ps = float(sidak_p(p, k))
    assert p <= ps <= 1.0
    if k == 1:
        assert ps == p


@settings(max_examples=15, deadline=None)
@given(data=crossover_datasets())
def test_contract_invariants(data: pd.DataFrame) -> None:
    """On random designs: p <= p_sidak <= 1, Sidak CI contains the raw CI, ICC in [0, 1]."""
    obs = data.dropna(subset=["y"])
    if obs["treatment"].nunique() < data["treatment"].nunique() or (obs.groupby("subject").size() >= 2).sum() < 2:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = fit_crossover(data.drop(columns=["carry"]))
        except ModelError as exc:
            # The only legitimate refusals: a design that is not identified, checked
            # independently of the library (tests/strategies.py).
            assert not fixed_effects_identified(data), str(exc)
            return
    assert 0.0 <= res.icc <= 1.0
    for c in res.contrasts:
        assert c.p_value <= c.p_sidak <= 1.0
        assert c.ci_sidak_low <= c.ci_low <= c.estimate <= c.ci_high <= c.ci_sidak_high


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_batched_grid_equals_pointwise_deviance(method: str) -> None:
    from ketapain.stats._lmm import profiled_deviance, profiled_deviance_grid, sufficient_stats

    d = crossover_design(dataset())
    ss = sufficient_stats(d.X, d.y, d.group_codes)
    thetas = np.array([0.0, 0.01, 0.5, 1.0, 3.0, 50.0])
    assert_allclose(profiled_deviance_grid(ss, thetas, method=method),
                    [profiled_deviance(ss, t, method=method) for t in thetas], rtol=1e-12)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_closed_form_equals_iterative_optimum_on_complete_crossovers(method: str) -> None:
    """The single engine takes the ANOVA closed form for complete crossovers (every subject has
    every period; the sequence term makes the design orthogonal-block). On 60 such trials, a
    third with a between-subject SD of 0 so that boundary fits occur, it must give the theta of
    the grid + Brent + derivative-polish path to 1e-9 relative, and the same boundary decision."""
    from ketapain.stats._lmm import _closed_form_theta, _iterate_theta, sufficient_stats

    n_boundary = 0
    for seed in range(60):
        data = dataset(seed=seed, n=12 + 6 * (seed % 3))
        if seed % 3 == 0:  # no between-subject variation: estimated theta often 0
            noise = np.random.default_rng(seed).normal(0, 0.3, len(data))
            data["y"] = data["y"] - data.groupby("subject")["y"].transform("mean") + 4.0 + noise
        d = crossover_design(data)
        ss = sufficient_stats(d.X, d.y, d.group_codes)
        closed = _closed_form_theta(ss, method)
        iterative = _iterate_theta(ss, method, 1e-12)
        assert closed is not None
        assert (closed == 0.0) == (iterative == 0.0)
        n_boundary += closed == 0.0
        assert_allclose(closed, iterative, rtol=1e-9, atol=1e-12)
    assert n_boundary > 0


def test_closed_form_declines_unbalanced_or_non_orthogonal_designs() -> None:
    """One missing period (unequal subject sizes), or no sequence term with a carry-over-like
    between/within mixture, is not orthogonal-block: the closed form returns None and the fit
    still equals the dense REML optimum (the iterative path)."""
    from ketapain.stats._lmm import _closed_form_theta, sufficient_stats

    data = dataset(seed=3)
    missing = data.drop(index=4)  # subject S01 loses a period
    d = crossover_design(missing)
    ss = sufficient_stats(d.X, d.y, d.group_codes)
    assert _closed_form_theta(ss, "REML") is None
    # Complete data (equal sizes) but with a covariate that is neither constant within subjects
    # nor summing to 0 within them.
    full = crossover_design(data)
    assert _closed_form_theta(sufficient_stats(full.X, full.y, full.group_codes), "REML") is not None
    X = np.column_stack([full.X, np.random.default_rng(0).normal(size=len(full.y))])
    assert _closed_form_theta(sufficient_stats(X, full.y, full.group_codes), "REML") is None

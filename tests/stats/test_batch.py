"""The batched engine against the single-trial engine, group by group.

Reference: ``fit_crossover`` (same options, no carry-over), unchanged: both engines land on
the root of the analytic derivative of the profiled deviance (the single engine polishes
Brent's optimum, ``_lmm._polish``), so every number is compared at ``rtol=1e-8``. The
single engine's derivative is itself checked against central differences of its deviance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ketapain.stats._lmm as lmm
from ketapain.errors import ModelError, SingularFitWarning
from ketapain.stats import fit_crossover
from ketapain.stats._batch import BATCH_COLUMNS, fit_crossover_batch

from strategies import crossover_datasets

SEQS = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]


def trials(n_trials: int, seed: int, missing: float = 0.0, n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for tr in range(n_trials):
        sd_b = [0.0, 0.5, 2.0][tr % 3]
        for i in range(n):
            b = rng.normal(0, sd_b)
            for k, t in enumerate(SEQS[i % 6]):
                rows.append((tr, f"S{i:02d}", k + 1, SEQS[i % 6], t, 5 + 0.5 * (t == "B") + 0.2 * k + b + rng.normal()))
    d = pd.DataFrame(rows, columns=["trial", "subject", "period", "sequence", "treatment", "y"])
    d.loc[rng.random(len(d)) < missing, "y"] = np.nan
    return d


def single_values(fit) -> dict[str, float]:
    out = {
        "treatment/statistic": fit.treatment_test.statistic,
        "treatment/df": fit.treatment_test.df_den,
        "treatment/p_value": fit.treatment_test.p_value,
        "sigma2_subject/estimate": fit.variance_subject,
        "sigma2_residual/estimate": fit.variance_residual,
        "icc/estimate": fit.icc,
        "icc/loglik": fit.loglik,
    }
    for c in fit.contrasts:
        for col, val in (("estimate", c.estimate), ("se", c.se), ("df", c.df), ("statistic", c.statistic),
                         ("p_value", c.p_value), ("p_sidak", c.p_sidak), ("ci_low", c.ci_low),
                         ("ci_high", c.ci_high), ("ci_sidak_low", c.ci_sidak_low), ("ci_sidak_high", c.ci_sidak_high)):
            out[f"{c.a} - {c.b}/{col}"] = val
    return out


def compare(data: pd.DataFrame, rtol: float, **opts) -> int:
    """Compare every group; return the number of fitted groups."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        res = fit_crossover_batch(data, outcome="y", by="trial", on_error="flag", **opts)
    assert list(res.columns) == ["trial", *BATCH_COLUMNS]
    assert sorted(res.trial.unique()) == sorted(data.trial.unique())  # no group dropped
    fitted = 0
    for tr, grp in data.groupby("trial"):
        r = res[res.trial == tr].set_index("term")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_crossover(grp, outcome="y", **opts)
        except ModelError as exc:
            assert r["error"].iloc[0] == str(exc) and not r["converged"].iloc[0]
            continue
        fitted += 1
        assert r["error"].isna().all() and r["singular"].iloc[0] == fit.singular
        assert r["n_obs"].iloc[0] == fit.n_obs and r["n_subjects"].iloc[0] == fit.n_subjects
        for name, expected in single_values(fit).items():
            term, col = name.split("/")
            actual = r.loc[term, col]
            if np.isinf(expected):
                assert np.isinf(actual), name
            else:
                np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-12 * max(1.0, abs(expected)), err_msg=f"trial {tr} {name}")
    return fitted


@pytest.mark.parametrize("df_method", ["kenward-roger", "satterthwaite", "containment", "normal"])
@pytest.mark.parametrize("missing", [0.0, 0.12])
def test_fixed_groups_equal_single_engine(df_method, missing) -> None:
    data = trials(9, seed=11, missing=missing)
    assert compare(data, 1e-8, df_method=df_method) == 9


@pytest.mark.parametrize(("method", "model"), [("ML", "standard"), ("REML", "paper")])
def test_ml_and_paper_model(method, model) -> None:
    data = trials(6, seed=3, missing=0.1)
    assert compare(data, 1e-8, df_method="satterthwaite", method=method, model=model) == 6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(crossover_datasets(), min_size=1, max_size=4), st.sampled_from(["kenward-roger", "satterthwaite", "normal"]))
def test_random_groups_equal_single_engine(frames, df_method) -> None:
    data = pd.concat([f.assign(trial=i) for i, f in enumerate(frames)], ignore_index=True)
    compare(data, 1e-8, df_method=df_method)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_single_engine_derivative_and_polished_optimum(method) -> None:
    """``_lmm.deviance_derivative`` equals central differences of ``profiled_deviance``
    (step 1e-5 relative in theta^2, truncation error ~1e-10 relative), and the single
    engine's theta is its root: the derivative there is ~0 on the scale of its terms."""
    data = trials(3, seed=21, missing=0.1)
    for _tr, trial in data.groupby("trial"):
        grp = trial.dropna(subset=["y"])
        X = np.column_stack([np.ones(len(grp)), grp.treatment == "B", grp.treatment == "C", grp.period == 2,
                             grp.period == 3, *[grp.sequence == s for s in SEQS[1:]]]).astype(float)
        codes = pd.factorize(grp.subject)[0]
        ss = lmm.sufficient_stats(X, grp.y.to_numpy(), codes)
        for gam in (0.05, 0.7, 4.0):
            h = 1e-5 * gam
            fd = (lmm.profiled_deviance(ss, np.sqrt(gam + h), method=method)
                  - lmm.profiled_deviance(ss, np.sqrt(gam - h), method=method)) / (2 * h)
            np.testing.assert_allclose(lmm.deviance_derivative(ss, gam, method=method), fd, rtol=1e-6, atol=1e-7)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            fit = lmm.fit_random_intercept(X, grp.y.to_numpy(), codes, method=method)
        if fit.theta > 0:
            scale = float(np.sum(ss.n / (1 + ss.n * fit.theta**2)))
            assert abs(lmm.deviance_derivative(ss, fit.theta**2, method=method)) < 1e-9 * scale


def test_errors_flagged_or_raised_and_singular_warned() -> None:
    good = trials(2, seed=2)
    bad = good[good.trial == 0].assign(trial=7)
    bad = bad[bad.subject.isin(["S00", "S01", "S02", "S03", "S04", "S05"])]  # one subject per sequence
    data = pd.concat([good, bad], ignore_index=True)
    with pytest.raises(ModelError, match=r"group trial=7: .*between-subject variance cannot be estimated"):
        fit_crossover_batch(data, outcome="y", by="trial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        res = fit_crossover_batch(data, outcome="y", by="trial", on_error="flag")
    row = res[res.trial == 7]
    assert len(row) == 1 and row.term.iloc[0] == "treatment" and not row.converged.iloc[0]
    assert np.isnan(row.p_value.iloc[0]) and "between-subject" in row.error.iloc[0]
    sing = trials(1, seed=3)  # fit_crossover finds sigma2_subject = 0 on this trial
    with pytest.warns(SingularFitWarning, match="1 of 1 groups"):
        res = fit_crossover_batch(sing, outcome="y", by="trial")
    assert res.singular.all() and (res.loc[res.term == "sigma2_subject", "estimate"] == 0).all()


def test_sidak_order_and_duplicate_rows() -> None:
    res = fit_crossover_batch(trials(4, seed=8), outcome="y", by="trial", on_error="flag")
    pairs = res[res.term.str.contains(" - ")]
    assert (pairs.p_value <= pairs.p_sidak).all() and (pairs.p_sidak <= 1).all()
    assert (pairs.ci_sidak_low <= pairs.ci_low).all() and (pairs.ci_high <= pairs.ci_sidak_high).all()
    dup = pd.concat([trials(1, seed=1), trials(1, seed=1).iloc[:1]], ignore_index=True)
    from ketapain.errors import DataError

    with pytest.raises(DataError, match="data row 62: subject='S00' already has a row for period='1'"):
        fit_crossover_batch(dup, outcome="y", by="trial")

"""The degenerate-fit rules (ketapain.stats._degenerate), issue 19.

Reference values: tests/reference/degenerate/ (make_datasets.py -> demo_d7_*.csv, the day-7
responders of the demo trial ``ketapain demo --seed 20200154``; glmer_degenerate.R -> *.json),
lme4 on R 4.x. Every reference fit is

    glmer(y ~ <fixed> + (1 | subject), data = <dataset>, family = binomial, nAGQ = 5,
          control = glmerControl(optimizer = "bobyqa",
                                 optCtrl = list(rhobeg = 2e-4, rhoend = 1e-12, maxfun = 1e6),
                                 tolPwrss = 1e-12))

with treatment releveled to reference P; fixed = ``treatment`` for demo_d7_immpact50 and
``treatment + sequence`` / ``treatment + period + sequence`` for demo_d7_immpact30.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ketapain.errors import ModelError
from ketapain.stats import (
    LogisticGLMMFit,
    ModelCheck,
    check_crossover_fit,
    check_logistic_fit,
    fit_crossover,
    fit_logistic_glmm,
    fixed_effect_separation,
    within_subject_separation,
)

REF = Path(__file__).resolve().parents[1] / "reference" / "degenerate"


def _design(name: str, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """X (reference P, other factors on their first sorted level, as R), y, subject, names."""
    df = pd.read_csv(REF / f"{name}.csv", dtype={"period": str})
    cols: dict[str, np.ndarray] = {"(Intercept)": np.ones(len(df))}
    for term in terms:
        levels = ["K", "KM"] if term == "treatment" else sorted(df[term].unique())[1:]
        for lv in levels:
            cols[f"{term}[{lv}]"] = (df[term] == lv).to_numpy(float)
    return np.column_stack(list(cols.values())), df["y"].to_numpy(float), df["subject"].to_numpy(), list(cols)


def _r_fits(name: str) -> list[dict]:
    return json.loads((REF / f"{name}.json").read_text())


def _quiet_fit(X: np.ndarray, y: np.ndarray, groups: np.ndarray, names: list[str]) -> LogisticGLMMFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a diverging fit may warn about convergence
        return fit_logistic_glmm(X, y, groups, term_names=names, nagq=5)


def test_quasi_separated_fit_that_glmer_reports_is_not_estimable() -> None:
    # R "fits" it silently: KM's log OR and the patient SD diverge (no finite optimum).
    (r,) = _r_fits("demo_d7_immpact50")
    assert r["warnings"] == [] and r["messages"] == []
    km = r["terms"].index("treatmentKM")
    assert abs(r["fixef"][km]) > 10 and r["se"][km] > 5 and r["theta"] > 10
    X, y, g, names = _design("demo_d7_immpact50", ("treatment",))
    fit = _quiet_fit(X, y, g, names)
    assert fit.theta > 10  # ours diverges too (to another point: there is no maximum)
    check = check_logistic_fit(fit, X=X, y=y, groups=g)
    assert check.status == "not_estimable" and not check.estimable
    assert "random-intercept SD theta" in check.reason
    assert "|log OR| of treatment[KM]" in check.reason
    assert "within-patient quasi-separation of treatment[K], treatment[KM]" in check.reason
    # the same data through fit_crossover(binary=True) with the paper's model: the sequence term
    # separates the all-0 patients, so the engine refuses the fit (never a number either)
    df = pd.read_csv(REF / "demo_d7_immpact50.csv")
    with pytest.raises(ModelError, match="perfect separation"):
        fit_crossover(df, outcome="y", model="paper", binary=True, nagq=5, ref="P")


def test_within_subject_separation_by_hand() -> None:
    X, y, g, names = _design("demo_d7_immpact50", ("treatment",))
    trt = ["treatment[K]", "treatment[KM]"]
    # The patients with discordant outcomes are P010 and P019 (K 1, P 1, KM 0); P007 (K 1, P 1,
    # KM missing) and P009 (all 1) are concordant, the rest all 0. Within patients KM never has
    # the event when another arm has it (log OR -> -inf), and K never differs from P, so once KM
    # diverges K has no within-patient information left either: both are separated.
    assert within_subject_separation(X, y, g, term_names=names, terms=trt) == trt
    # without patient intercepts the fixed effects alone do not separate these data
    assert fixed_effect_separation(X, y, term_names=names) is None
    # the ordinary day-7 IMMPACT-30 data have discordant patients both ways for each arm
    X30, y30, g30, names30 = _design("demo_d7_immpact30", ("treatment",))
    assert within_subject_separation(X30, y30, g30, term_names=names30, terms=trt) == []


def test_normal_fit_is_ok_and_equals_glmer() -> None:
    for r in _r_fits("demo_d7_immpact30"):
        terms = ("treatment", "sequence") if r["fixed"] == "treatment + sequence" else ("treatment", "period", "sequence")
        X, y, g, names = _design("demo_d7_immpact30", terms)
        fit = _quiet_fit(X, y, g, names)
        assert_allclose(fit.estimates, r["fixef"], rtol=1e-5, atol=1e-6)
        assert_allclose(fit.se, r["se"], rtol=1e-4)
        assert_allclose(fit.theta, r["theta"], rtol=1e-4)
        check = check_logistic_fit(fit, X=X, y=y, groups=g)
        assert check == ModelCheck("ok") and check.reason == ""


def test_near_singular_hessian_is_not_estimable() -> None:
    # A covariate equal to the K indicator up to 1e-6 (full rank by the engine's 1e-7 test):
    # the two columns are nearly aliased and the inverse Hessian nearly singular.
    X, y, g, names = _design("demo_d7_immpact30", ("treatment",))
    bump = np.where(np.arange(len(y)) % 2 == 0, 1e-6, 0.0)
    Xc = np.column_stack([X, X[:, 1] + bump])
    fit = _quiet_fit(Xc, y, g, [*names, "near_copy_of_K"])
    check = check_logistic_fit(fit)
    assert check.status == "not_estimable"
    assert "near-singular" in check.reason or "not positive definite" in check.reason


def test_condition_number_rule_alone() -> None:
    # The rule on the covariance by itself: a correlation of 1 - 1e-10 between two estimates
    # (condition number (1 + r) / (1 - r) = 2e10 > 1e8); nothing else is wrong with the fit.
    X, y, g, names = _design("demo_d7_immpact30", ("treatment",))
    fit = _quiet_fit(X, y, g, names)
    cov = np.array(fit.cov, dtype=float)
    s1, s2 = math.sqrt(cov[1, 1]), math.sqrt(cov[2, 2])
    cov[1, 2] = cov[2, 1] = (1 - 1e-10) * s1 * s2
    cov[0, 1:] = cov[1:, 0] = 0.0
    bad = dataclasses.replace(fit, cov=cov)
    check = check_logistic_fit(bad)
    assert check.status == "not_estimable"
    assert check.reasons == (check.reasons[0],) and "condition number" in check.reason
    assert check_logistic_fit(fit).status == "ok"


def _crossover_data(noise: float, subject_sd: float, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i, s in enumerate(["ABC", "BCA", "CAB", "ACB", "BAC", "CBA"] * 2):
        b = subject_sd * rng.normal()
        for k, t in enumerate(s):
            rows.append((f"S{i:02d}", k + 1, s, t, 10.0 + b + {"A": 0.0, "B": 1.0, "C": 2.0}[t] + noise * rng.normal()))
    return pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])


def test_linear_singular_fit_is_flagged_and_kept() -> None:
    # No between-subject variation: REML puts sigma_b^2 on its bound 0 (lme4: "boundary
    # (singular) fit"); the fit is the valid fit without the random intercept, numbers kept.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_crossover(_crossover_data(noise=1.0, subject_sd=0.0, seed=5))
    assert fit.singular
    check = check_crossover_fit(fit)
    assert check.status == "singular" and check.estimable and "boundary" in check.reason


def test_linear_fit_without_residual_variance_is_not_estimable() -> None:
    # y = subject effect + treatment effect exactly: the engine itself refuses the fit...
    with pytest.raises(ModelError, match="residual variance is effectively 0"):
        fit_crossover(_crossover_data(noise=0.0, subject_sd=2.0))
    # ...and the rule catches a fit whose residual variance reached its bound anyway
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_crossover(_crossover_data(noise=1.0, subject_sd=2.0))
    exact = dataclasses.replace(fit, variance_residual=1e-12 * fit.variance_subject)
    check = check_crossover_fit(exact)
    assert check.status == "not_estimable" and "residual variance" in check.reason
    nan_se = dataclasses.replace(fit, se=np.full_like(fit.se, np.nan))
    assert "not finite" in check_crossover_fit(nan_se).reason


def test_linear_normal_fit_is_ok() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_crossover(_crossover_data(noise=1.0, subject_sd=2.0))
    assert check_crossover_fit(fit) == ModelCheck("ok")


def test_model_check_refuses_unknown_status() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        ModelCheck("bad")  # type: ignore[arg-type]


def test_linear_rules_on_the_numbers_of_one_completed_data_set() -> None:
    # the linear rules of check_crossover_fit, on plain numbers (one imputation's fit)
    from ketapain.stats import check_linear_numbers

    good = dict(contrasts=["A - B", "A - C"], estimate=np.array([1.0, -2.0]), se=np.array([0.5, 0.6]),
                df=np.array([20.0, 20.0]), df_den=20.0, var_subject=4.0, var_residual=1.0, singular=False)
    assert check_linear_numbers(**good) == ModelCheck("ok")
    assert check_linear_numbers(**{**good, "singular": True}).status == "singular"
    nan_se = check_linear_numbers(**{**good, "se": np.array([0.5, np.nan])})
    assert nan_se.reasons == ("estimate or SE not finite for A - C",)
    zero_se = check_linear_numbers(**{**good, "se": np.array([0.0, 0.6])})
    assert zero_se.reasons == ("SE = 0 for A - B",)
    # residual share 1e-7 of the total (4 + 4e-7) is below MIN_RESIDUAL_SHARE = 1e-6
    exact = check_linear_numbers(**{**good, "var_residual": 4e-7})
    assert exact.status == "not_estimable" and exact.reason.startswith("residual variance 4e-07 at its bound 0")
    # a denominator df of 0.5 < MIN_DF = 1: no t or F reference distribution
    few = check_linear_numbers(**{**good, "df_den": 0.5})
    assert few.reasons == ("denominator df below 1 or not finite (treatment test df 0.5)",)


def test_combine_checks_counts_the_fits_of_one_result() -> None:
    from ketapain.stats import combine_checks

    ok, sing = ModelCheck("ok"), ModelCheck("singular", ("s",))
    bad = ModelCheck("not_estimable", ("r",))
    assert combine_checks([ok, ok], "imputation") == ModelCheck("ok")
    assert combine_checks([ok, sing, sing], "imputation").reasons == (
        "2 of 3 imputation fits singular (between-patient variance estimated as 0)",)
    five = combine_checks([bad, ok, bad, bad, bad, bad], "imputation")
    assert five.status == "not_estimable"
    assert five.reasons == ("5 of 6 imputation fits not estimable: imputation 1: r; imputation 3: r; "
                            "imputation 4: r (and 2 more)",)


def test_degenerate_mask_applies_the_linear_rules_to_a_batch() -> None:
    # G = 6 fits, k = 2 pairs; trial g breaks rule g (0 = none), by hand:
    from ketapain.stats import degenerate_mask

    est = np.array([[1.0, 2.0]] * 6)
    se = np.array([[0.5, 0.5]] * 6)
    df = np.full((6, 2), 20.0)
    den = np.full(6, 20.0)
    vs, vr = np.full(6, 4.0), np.full(6, 1.0)
    est[1, 1] = np.nan          # 1: a non-finite estimate
    se[2, 0] = 0.0              # 2: SE = 0
    df[3, 1] = 0.5              # 3: pair df below MIN_DF = 1
    vr[4] = 1e-9                # 4: residual share 1e-9 / 4 < 1e-6
    den[5] = 0.9                # 5: omnibus denominator df below 1
    mask = degenerate_mask(estimate=est, se=se, df=df, df_den=den, var_subject=vs, var_residual=vr)
    assert mask.tolist() == [False, True, True, True, True, True]

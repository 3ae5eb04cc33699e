"""Tests of fit_daily_model (the MAR likelihood analysis of the daily diary).

Reference numbers: tests/reference/daily_lmm/expected/*.json, written by
``Rscript daily_lmm_reference.R cases.csv expected`` (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3):
estimates ``fixef(m)``, SEs and Satterthwaite df ``summary(m, ddf = "Satterthwaite")``,
variance components ``VarCorr(m)``, ``logLik(m)`` (REML), AUC contrasts
``lmerTest::contest(m, L, ddf = "Satterthwaite", joint = FALSE)`` and the omnibus
``contest(m, Lmat, ddf = "Satterthwaite", joint = TRUE)``, where
``m = lmer(y ~ 0 + X + (1 | patient_id) + (1 | patient_id:period), REML = TRUE)`` at the exactly
optimised theta (see the script header).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ketapain.errors import DataError, ModelError
from ketapain.stats import diary_auc, fit_crossover
from ketapain.stats._daily_lmm import fit_daily_model

from tests.r_compare import SKIP_R

REF = Path(__file__).resolve().parents[1] / "reference" / "daily_lmm"
CASES = pd.read_csv(REF / "cases.csv")
WILLIAMS3 = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]


def load(dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.read_csv(REF / "data" / f"{dataset}_diary.csv"),
            pd.read_csv(REF / "data" / f"{dataset}_allocation.csv"))


def simulate(sequences: list[str], per_sequence: int, *, window: int, seed: int, p_mcar: float = 0.0,
             effects: dict[str, float] | None = None, sd_b: float = 1.0, sd_c: float = 0.5, sd_e: float = 0.8,
             round_to: int | None = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nested random-intercept diaries (vectorised), scores clipped to 0..10, MCAR deletion."""
    rng = np.random.default_rng(seed)
    effects = effects or {"A": 0.0, "B": -0.8, "C": -1.4}
    seqs = np.repeat(sequences, per_sequence)
    n, P = seqs.size, len(sequences[0])
    pid = np.repeat([f"P{i + 1:03d}" for i in range(n)], P)
    period = np.tile(np.arange(1, P + 1), n)
    seq = np.repeat(seqs, P)
    trt = np.array([s[k - 1] for s, k in zip(seq, period, strict=True)])
    b = np.repeat(rng.normal(0, sd_b, n), P)
    c = rng.normal(0, sd_c, n * P)
    mu_pp = 5.5 + b + c + 0.2 * (period - 1)
    pre = np.clip(mu_pp + rng.normal(0, sd_e, n * P), 0, 10)
    days = np.arange(1, window + 1)
    eff = np.array([effects[t] for t in trt])[:, None] * np.exp(-days[None, :] / 10)
    y = np.clip(mu_pp[:, None] + eff + rng.normal(0, sd_e, (n * P, window)), 0, 10)
    if round_to is not None:
        y, pre = np.round(y, round_to), np.round(pre, round_to)
    y[rng.random(y.shape) < p_mcar] = np.nan
    alloc = pd.DataFrame({"patient_id": pid, "period": period, "sequence": seq, "treatment": trt,
                          "pre_infusion_pain": pre})
    diary = pd.DataFrame({"patient_id": np.repeat(pid, window), "period": np.repeat(period, window),
                          "day": np.tile(days, n * P), "avg_pain": y.ravel()})
    return diary, alloc


def compare(fit, exp: dict) -> None:
    assert list(fit.terms) == exp["terms"]
    assert fit.n_obs == exp["n_obs"]
    assert_allclose(fit.estimate, exp["estimate"], rtol=1e-6, atol=1e-9)
    assert_allclose(fit.se, exp["se"], rtol=1e-6)
    v = exp["variance"]
    assert_allclose([fit.sigma2_patient, fit.sigma2_patient_period, fit.sigma2_residual],
                    [v["patient"], v["patient_period"], v["residual"]], rtol=1e-5)
    assert_allclose(fit.loglik, exp["loglik"], atol=1e-6)
    assert_allclose(fit.df, exp["df"], rtol=1e-4)
    con = pd.DataFrame(exp["contrasts"])
    got = fit.auc_contrasts()
    assert got["contrast"].tolist() == con["contrast"].tolist()
    assert_allclose(got["estimate"], con["estimate"], rtol=1e-6)
    assert_allclose(got["se"], con["se"], rtol=1e-6)
    assert_allclose(got["df"], con["df"], rtol=1e-4)
    assert_allclose(got["statistic"], con["t"], rtol=1e-6)
    assert_allclose(got["p_value"], con["p"], atol=1e-6)
    om = exp["omnibus"]
    assert fit.omnibus.df_num == om["df_num"]
    assert_allclose(fit.omnibus.statistic, om["stat"], rtol=1e-5)
    assert_allclose(fit.omnibus.df_den, om["df_den"], rtol=1e-4)
    assert_allclose(fit.omnibus.p_value, om["p"], atol=1e-6)


@pytest.mark.parametrize("case", CASES.to_dict("records"), ids=list(CASES["case"]))
def test_matches_stored_r_reference(case: dict) -> None:
    diary, alloc = load(case["dataset"])
    fit = fit_daily_model(diary, alloc, window=int(case["window"]), ref=case["ref"], model=case["model"],
                          anchor=bool(case["anchor"]))
    compare(fit, json.loads((REF / "expected" / f"{case['case']}.json").read_text()))


@pytest.mark.skipif(SKIP_R, reason="Rscript not installed (and not in CI)")
def test_matches_live_r(tmp_path: Path) -> None:
    diary, alloc = simulate(WILLIAMS3, 2, window=9, seed=7, p_mcar=0.15)
    (tmp_path / "data").mkdir()
    diary.to_csv(tmp_path / "data" / "live_diary.csv", index=False)
    alloc.to_csv(tmp_path / "data" / "live_allocation.csv", index=False)
    pd.DataFrame([{"case": "live", "dataset": "live", "model": "standard", "anchor": 1, "window": 9,
                   "ref": "C"}]).to_csv(tmp_path / "cases.csv", index=False)
    proc = subprocess.run([shutil.which("Rscript") or "Rscript", str(REF / "daily_lmm_reference.R"),
                           str(tmp_path / "cases.csv"), str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    fit = fit_daily_model(diary, alloc, window=9, ref="C")
    compare(fit, json.loads((tmp_path / "out" / "live.json").read_text()))


@pytest.mark.parametrize("model", ["standard", "paper"])
def test_complete_balanced_equals_crossover_on_auc(model: str) -> None:
    """Complete Williams data: GLS = OLS for the cell means (V maps the columns of X into
    their span: every patient has each treatment x day cell once, so Z_b Z_b' x_td = 1 and
    Z_c Z_c' x_td = the treatment-t indicator, both sums of cell columns; nuisance columns are
    constant within patient-periods), and OLS cell-mean differences are differences of
    treatment means because treatments are balanced over periods and sequences. Hence
    sum_d w_d (mu_ad - mu_bd) = mean AUC_a - mean AUC_b = fit_crossover's contrast.

    SEs: per patient the AUC difference a - b is W (c_a - c_b) + sum_d w_d (e_ad - e_bd), so
    the daily model's SE is sqrt(2 (sigma_c^2 W^2 + sigma^2 sum w^2) / n) and the crossover's
    sqrt(2 sigma_AUC^2 / n): both estimate the same variance, from different REML estimates,
    so they agree only approximately.
    """
    diary, alloc = simulate(WILLIAMS3, 4, window=14, seed=11, round_to=None)
    fit = fit_daily_model(diary, alloc, window=14, ref="A", model=model)
    auc = diary_auc(diary, windows=(14,), anchor=alloc).merge(alloc, on=["patient_id", "period"])
    cf = fit_crossover(auc, outcome="auc", subject="patient_id", model=model, ref="A")
    got = fit.auc_contrasts()
    exp = cf.contrasts_frame()
    assert_allclose(got["estimate"], exp["estimate"], rtol=1e-9, atol=1e-9)
    n, W = 24, 14
    w = fit.auc_weights
    se_daily = np.sqrt(2 * (fit.sigma2_patient_period * W**2 + fit.sigma2_residual * (w @ w)) / n)
    assert_allclose(got["se"], se_daily, rtol=1e-8)
    assert_allclose(exp["se"], np.sqrt(2 * cf.variance_residual / n), rtol=1e-8)
    assert_allclose(got["se"], exp["se"], rtol=0.3)  # same target, different estimators


def test_result_api_and_json() -> None:
    diary, alloc = load("w3_mcar")
    fit = fit_daily_model(diary, alloc, window=14, ref="A")
    frame = fit.to_frame()
    assert list(frame.columns) == ["term", "estimate", "se", "df", "ci_low", "ci_high", "statistic", "p_value"]
    assert list(fit.auc_contrasts().columns) == ["contrast", "estimate", "se", "df", "ci_low", "ci_high",
                                                "statistic", "p_value", "p_sidak"]
    con = fit.auc_contrasts()
    assert np.all(con["p_value"] <= con["p_sidak"]) and np.all(con["p_sidak"] <= 1)
    means = fit.auc_means()
    # Mean differences reproduce the contrasts (the nuisance average cancels).
    m = dict(zip(means["treatment"], means["estimate"], strict=True))
    assert_allclose(con["estimate"], [m["A"] - m["B"], m["A"] - m["C"], m["B"] - m["C"]], rtol=1e-10)
    json.dumps(fit.to_dict(), allow_nan=False)
    assert fit.n_missing_days == 54 * 15 - fit.n_obs
    assert "AUC contrasts" in fit.summary()


def test_row_order_and_absent_rows_do_not_matter() -> None:
    diary, alloc = load("w3_mcar")
    a = fit_daily_model(diary, alloc, window=14, ref="A")
    shuffled = diary.dropna().sample(frac=1.0, random_state=1)
    b = fit_daily_model(shuffled, alloc.iloc[::-1], window=14, ref="A")
    assert_allclose(a.estimate, b.estimate, rtol=1e-10)
    assert_allclose(a.loglik, b.loglik, atol=1e-9)


def test_refuses_non_identified_models() -> None:
    diary, alloc = load("ab_ba")
    no_b_day3 = diary[~((diary["day"] == 3) & diary.merge(alloc, on=["patient_id", "period"])["treatment"].eq("B"))]
    with pytest.raises(ModelError, match="'B' has no observed score on day 3"):
        fit_daily_model(no_b_day3, alloc, window=10, ref="A")
    one_period = alloc[alloc["period"] == 1]
    with pytest.raises(DataError, match="has no row in the allocation"):
        fit_daily_model(diary, one_period, window=10, ref="A")
    with pytest.raises(ModelError, match="no patient has two observed periods"):
        fit_daily_model(diary[diary["period"] == 1], one_period.assign(treatment=lambda f: np.where(
            np.arange(len(f)) % 2 == 0, "A", "B")), window=10, ref="A")
    with pytest.raises(ModelError, match="ref='Z'"):
        fit_daily_model(diary, alloc, window=10, ref="Z")


def test_size_20_patients_36_days_vectorised() -> None:
    diary, alloc = simulate(WILLIAMS3 * 2, 2, window=35, seed=5, p_mcar=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_daily_model(diary, alloc, window=35, ref="A")
    assert len(fit.terms) == 3 * 36 + 2
    assert fit.n_patients == 24

"""fit_crossover against stored R results (lme4 + lmerTest + pbkrtest + emmeans + nlme).

Source of every expected number: ``tests/reference/lmm/lmm_reference.R`` run on the datasets
made by ``tests/reference/lmm/make_datasets.py``; outputs in ``tests/reference/lmm/expected``.
For each case the R script fits, with theta optimised exactly (Brent on mkLmerDevfun)::

    m <- lmer(y ~ treatment + period + sequence [+ carry] + (1 | subject), REML = TRUE,
              start = list(theta = th), control = lmerControl(optimizer = NULL))
    summary(m, ddf = "Kenward-Roger"); anova(m, ddf = "Kenward-Roger")      # pbkrtest
    summary(m, ddf = "Satterthwaite"); anova(m, ddf = "Satterthwaite")      # lmerTest
    summary(pairs(emmeans(m, ~ treatment, lmer.df = mode)), adjust = "sidak", infer = TRUE)
    anova(lme(y ~ ..., random = ~ 1 | subject), type = "marginal")          # containment df
    shapiro.test(residuals(m))

Tolerances are those of the issue: fixed effects and SEs rtol 1e-6; variance components rtol
1e-5; log-likelihood atol 1e-6; p-values atol 1e-6; KR and Satterthwaite df rtol 1e-4.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ketapain.errors import SingularFitWarning
from ketapain.stats import fit_crossover

REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"
with open(REF / "cases.csv", newline="") as _fh:
    CASES = list(csv.DictReader(_fh))


def r_term(name: str) -> str:
    """R's coefficient name -> ketapain's (treatmentB -> treatment[B], carryB -> carryover[B])."""
    if name == "(Intercept)":
        return name
    m = re.match(r"^(treatment|period|sequence|carry)(.+)$", name)
    assert m, name
    prefix = "carryover" if m.group(1) == "carry" else m.group(1)
    return f"{prefix}[{m.group(2)}]"


def na(x):
    return None if x == "NA" else x


def load(case: dict) -> tuple[pd.DataFrame, dict]:
    data = pd.read_csv(REF / "data" / f"{case['dataset']}.csv", dtype={"subject": str, "sequence": str})
    expected = json.loads((REF / "expected" / f"{case['case']}.json").read_text())
    return data, expected


def fit(case: dict, data: pd.DataFrame, df_method: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return fit_crossover(
            data.drop(columns=["carry"]),
            model=case["model"],
            carryover=case["carryover"] == "1",
            log=case["log"] == "1",
            method=case["method"],
            df_method=df_method,
        )


def assert_ftest(actual: dict | None, expected: dict, *, df_rtol: float = 1e-4) -> None:
    if na(expected["stat"]) is None:
        assert actual is None
        return
    assert actual is not None
    assert actual["df_num"] == expected["df_num"]
    assert_allclose(actual["stat"], expected["stat"], rtol=1e-5)
    assert_allclose(actual["df_den"], expected["df_den"], rtol=df_rtol)
    assert_allclose(actual["p"], expected["p"], atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_model_fit_matches_lme4(case: dict) -> None:
    data, exp = load(case)
    res = fit(case, data, "satterthwaite").to_dict()
    assert res["n_obs"] == exp["n_obs"]
    assert res["n_subjects"] == exp["n_subjects"]
    terms = [fe["term"] for fe in res["fixed_effects"]]
    assert terms == [r_term(t) for t in exp["terms"]]
    est = np.array([fe["estimate"] for fe in res["fixed_effects"]])
    se = np.array([fe["se"] for fe in res["fixed_effects"]])
    scale = np.max(np.abs(exp["estimate"]))
    assert_allclose(est, exp["estimate"], rtol=1e-6, atol=1e-9 * scale)
    assert_allclose(se, exp["se"], rtol=1e-6)
    vs, vr = exp["variance"]["subject"], exp["variance"]["residual"]
    assert_allclose(res["variance"]["subject"], vs, rtol=1e-5, atol=1e-10 * vr)
    assert_allclose(res["variance"]["residual"], vr, rtol=1e-5)
    assert_allclose(res["icc"], vs / (vs + vr), rtol=1e-5, atol=1e-10)
    assert_allclose(res["loglik"], exp["loglik"], atol=1e-6)
    assert_allclose(res["aic"], exp["aic"], atol=1e-6)
    assert_allclose(res["bic"], exp["bic"], atol=1e-6)
    assert res["singular"] == (exp["theta"] == 0)
    assert_allclose(
        [res["residual_normality"]["W"], res["residual_normality"]["p"]], exp["shapiro"], atol=1e-6
    )


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_satterthwaite_matches_lmertest(case: dict) -> None:
    data, exp = load(case)
    sat = exp["satterthwaite"]
    res = fit(case, data, "satterthwaite").to_dict()
    assert_allclose([fe["df"] for fe in res["fixed_effects"]], sat["df"], rtol=1e-4)
    assert_allclose([fe["p"] for fe in res["fixed_effects"]], sat["p"], atol=1e-6)
    assert_ftest(res["treatment_test"], sat["treatment"])
    if case["carryover"] == "1":
        assert_ftest(res["carryover_test"], sat["carry"])
    assert_ftest(res["sequence_by_treatment"], exp["sequence_by_treatment"]["satterthwaite"])
    assert_pairs(res["contrasts"], sat["pairs"])


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["method"] == "REML"], ids=[c["case"] for c in CASES if c["method"] == "REML"]
)
def test_kenward_roger_matches_pbkrtest(case: dict) -> None:
    data, exp = load(case)
    kr = exp["kenward_roger"]
    res = fit(case, data, "kenward-roger").to_dict()
    assert_allclose([fe["se"] for fe in res["fixed_effects"]], kr["se"], rtol=1e-6)
    assert_allclose([fe["df"] for fe in res["fixed_effects"]], kr["df"], rtol=1e-4)
    assert_allclose([fe["p"] for fe in res["fixed_effects"]], kr["p"], atol=1e-6)
    assert_ftest(res["treatment_test"], kr["treatment"])
    if case["carryover"] == "1":
        assert_ftest(res["carryover_test"], kr["carry"])
    assert_ftest(res["sequence_by_treatment"], exp["sequence_by_treatment"]["kenward_roger"])
    assert_pairs(res["contrasts"], kr["pairs"])


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_containment_matches_nlme(case: dict) -> None:
    data, exp = load(case)
    res = fit(case, data, "containment").to_dict()
    assert [fe["df"] for fe in res["fixed_effects"]] == exp["containment"]["terms_df"]
    cont = dict(exp["containment"]["treatment"])
    assert_ftest(res["treatment_test"], cont, df_rtol=0)


def assert_pairs(actual: list[dict], expected: dict) -> None:
    """emmeans pairwise contrasts: 'A - B' order, raw and Sidak p-values and intervals."""
    names = [f"{c['a']} - {c['b']}" for c in actual]
    exp_names = expected["contrast"] if isinstance(expected["contrast"], list) else [expected["contrast"]]
    assert names == exp_names

    def col(key: str) -> np.ndarray:
        v = expected[key]
        return np.atleast_1d(np.asarray(v, dtype=float))

    assert_allclose([c["estimate"] for c in actual], col("estimate"), rtol=1e-6, atol=1e-9)
    assert_allclose([c["se"] for c in actual], col("se"), rtol=1e-6)
    assert_allclose([c["df"] for c in actual], col("df"), rtol=1e-4)
    assert_allclose([c["p"] for c in actual], col("p"), atol=1e-6)
    assert_allclose([c["p_sidak"] for c in actual], col("p_sidak"), atol=1e-6)
    assert_allclose([c["ci"][0] for c in actual], col("lower"), rtol=1e-5, atol=1e-8)
    assert_allclose([c["ci"][1] for c in actual], col("upper"), rtol=1e-5, atol=1e-8)
    assert_allclose([c["ci_sidak"][0] for c in actual], col("lower_sidak"), rtol=1e-5, atol=1e-8)
    assert_allclose([c["ci_sidak"][1] for c in actual], col("upper_sidak"), rtol=1e-5, atol=1e-8)

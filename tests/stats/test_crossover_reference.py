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
import warnings
from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ketapain.errors import SingularFitWarning
from ketapain.stats import fit_crossover

from r_compare import assert_fit, assert_ftest, assert_pairs

REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"
with open(REF / "cases.csv", newline="") as _fh:
    CASES = list(csv.DictReader(_fh))


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
            covariates=case["covariates"].split() if case["covariates"] else (),
        )


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_model_fit_matches_lme4(case: dict) -> None:
    data, exp = load(case)
    res = fit(case, data, "satterthwaite").to_dict()
    assert_fit(res, exp)
    # model-based (unadjusted) SEs: lme4's vcov(m)
    assert_allclose([fe["se"] for fe in res["fixed_effects"]], exp["se"], rtol=1e-6)
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

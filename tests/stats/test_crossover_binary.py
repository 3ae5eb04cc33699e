"""fit_crossover(binary=True) against the stored lme4::glmer fits.

Source: tests/reference/glmm/glmer_reference.R (datasets from make_datasets.py), e.g.

    glmer(y ~ treatment + period + sequence + (1 | subject), data, family = binomial,
          nAGQ = k, control = glmerControl(optimizer = "bobyqa",
          optCtrl = list(rhobeg = 2e-4, rhoend = 1e-12, maxfun = 1e6), tolPwrss = 1e-12))
    # Wald chi-square for the treatment terms with vcov(m); the contrast in "vector".

Tolerances (issue 2): estimates atol 1e-4 against glmer with the same nAGQ; SEs atol 1e-4.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.errors import SingularFitWarning
from ketapain.stats import fit_crossover

REF = Path(__file__).resolve().parents[1] / "reference" / "glmm"
CASES = [
    (name, entry)
    for name in ("williams3x3", "ab_ba", "unbalanced", "boundary")
    for entry in json.loads((REF / f"{name}.json").read_text())
    if entry["fixed"] == "treatment + period + sequence"
]


@pytest.mark.parametrize(("name", "ref"), CASES, ids=[f"{n}-nagq{r['nagq']}" for n, r in CASES])
def test_binary_crossover_matches_glmer(name: str, ref: dict) -> None:
    data = pd.read_csv(REF / f"{name}.csv", dtype={"subject": str, "sequence": str, "treatment": str})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        res = fit_crossover(data, binary=True, nagq=ref["nagq"])
    out = res.to_dict()
    assert out["model"]["df_method"] == "normal" and out["model"]["outcome_scale"] == "logit"
    assert_allclose(res.estimate, ref["fixef"], atol=1e-4, rtol=0)
    assert_allclose(res.se, ref["se"], atol=1e-4, rtol=0)
    assert_allclose(res.loglik, ref["loglik"], atol=1e-6)
    assert_allclose(math.sqrt(res.variance_subject), ref["theta"], atol=1e-4)
    assert res.singular == ref["singular"]
    assert out["variance"]["residual"] is None
    assert_allclose(res.icc, res.variance_subject / (res.variance_subject + math.pi**2 / 3), rtol=1e-12)
    # Omnibus treatment test: Wald chi-square on the treatment terms.
    wt = ref["wald_treatment"]
    assert out["treatment_test"]["df_num"] == wt["df"] and out["treatment_test"]["df_den"] is None
    assert_allclose(out["treatment_test"]["stat"], wt["statistic"], rtol=1e-4)
    assert_allclose(out["treatment_test"]["p"], wt["p_value"], atol=1e-5)
    # Every contrast is a log odds ratio with z inference; the odds ratio is exp(estimate).
    for c in out["contrasts"]:
        assert c["df"] is None
        assert_allclose(c["ratio"], math.exp(c["estimate"]), rtol=1e-12)
        assert c["p"] <= c["p_sidak"] <= 1
    # R's stored contrast vector c (on R's coefficients); find our pair a - b = +-c'beta.
    vec = np.asarray(ref["contrast"]["vector"], dtype=float)
    levels = sorted(data["treatment"].unique())
    matched = 0
    for c in out["contrasts"]:
        lvec = np.zeros_like(vec)
        for lev, sign in ((c["a"], 1.0), (c["b"], -1.0)):
            if lev != levels[0]:
                lvec[1 + levels.index(lev) - 1] += sign
        for sign in (1.0, -1.0):
            if np.array_equal(lvec, sign * vec):
                assert_allclose(sign * c["estimate"], ref["contrast"]["estimate"], atol=1e-4)
                assert_allclose(c["se"], ref["contrast"]["se"], atol=1e-4)
                assert_allclose(c["p"], ref["contrast"]["p_value"], atol=1e-5)
                matched += 1
    assert matched == 1
    assert {e["kind"] for e in out["effect_sizes"]} == {"odds_ratio"}
    json.dumps(out, allow_nan=False)


def test_binary_cli(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["fit", str(REF / "williams3x3.csv"), "--binary", "--nagq", "5", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    ref = next(r for n, r in CASES if n == "williams3x3" and r["nagq"] == 5)
    assert_allclose([f["estimate"] for f in out["fixed_effects"]], ref["fixef"], atol=1e-4)


def test_binary_cli_rejects_non_binary_values(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("subject,period,sequence,treatment,y\nS1,1,AB,A,1\nS1,2,AB,B,2\n")
    res = CliRunner().invoke(app, ["fit", str(path), "--binary"])
    assert res.exit_code == 1 and "b.csv row 3: y='2' is not 0 or 1 (a binary outcome)" in res.stderr


def test_binary_and_log_are_exclusive() -> None:
    from ketapain.errors import ModelError

    data = pd.DataFrame({"subject": ["a", "a", "b", "b"], "period": [1, 2, 1, 2], "sequence": ["AB", "AB", "BA", "BA"],
                         "treatment": ["A", "B", "B", "A"], "y": [0, 1, 1, 0]})
    with pytest.raises(ModelError, match="log and binary"):
        fit_crossover(data, binary=True, log=True)

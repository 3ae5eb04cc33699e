"""Run the R reference script and compare ketapain's JSON contract with R's numbers.

The R side is ``tests/reference/lmm/lmm_reference.R`` (lme4 + lmerTest + pbkrtest + emmeans +
nlme); see its header for the exact calls. Tolerances are the issue's: fixed effects and SEs
rtol 1e-6, variance components rtol 1e-5 (for a between-subject variance near 0 also atol
1e-5 x total variance: see assert_fit), log-likelihood atol 1e-6, p-values atol 1e-6,
KR/Satterthwaite df rtol 1e-4.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

LMM_DIR = Path(__file__).resolve().parent / "reference" / "lmm"
HAVE_R = shutil.which("Rscript") is not None
# In CI (CI=true) R is installed by .ci/run, so R tests must run, never skip.
SKIP_R = not HAVE_R and os.environ.get("CI", "").lower() not in ("1", "true")


def r_term(name: str) -> str:
    """R's coefficient name -> ketapain's (treatmentB -> treatment[B], carryB -> carryover[B])."""
    if name == "(Intercept)":
        return name
    m = re.match(r"^(treatment|period|sequence|carry)(.+)$", name)
    if m is None:  # a numeric covariate keeps its name
        return name
    prefix = "carryover" if m.group(1) == "carry" else m.group(1)
    return f"{prefix}[{m.group(2)}]"


def na(x: object) -> object:
    """R's NA (written as the string "NA" by jsonlite) -> None."""
    return None if x == "NA" else x


def run_lmm_reference(data: pd.DataFrame, tmp: Path, *, model: str, carryover: bool = False,
                      log: bool = False, method: str = "REML") -> dict:
    """Fit ``data`` (with a ``carry`` column) in R through lmm_reference.R; return its JSON."""
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    data.to_csv(tmp / "data" / "live.csv", index=False)
    pd.DataFrame([{"case": "live", "dataset": "live", "model": model, "carryover": int(carryover),
                   "log": int(log), "method": method, "covariates": ""}]).to_csv(tmp / "cases.csv", index=False)
    proc = subprocess.run(
        ["Rscript", str(LMM_DIR / "lmm_reference.R"), str(tmp / "cases.csv"), str(tmp / "out")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"R failed:\n{proc.stderr}")
    return json.loads((tmp / "out" / "live.json").read_text())


def assert_ftest(actual: dict | None, expected: dict, *, df_rtol: float = 1e-4, stat_rtol: float = 1e-5,
                 p_atol: float = 1e-6) -> None:
    """Compare an F test ``{stat, df_num, df_den, p}`` (None when R says NA)."""
    if na(expected["stat"]) is None:
        assert actual is None
        return
    assert actual is not None
    assert actual["df_num"] == expected["df_num"]
    assert_allclose(actual["stat"], expected["stat"], rtol=stat_rtol)
    assert_allclose(actual["df_den"], expected["df_den"], rtol=df_rtol)
    assert_allclose(actual["p"], expected["p"], atol=p_atol)


def assert_fit(res: dict, exp: dict) -> None:
    """Model-level quantities: terms, estimates, model-based SEs, variances, logLik, AIC, BIC."""
    assert res["n_obs"] == exp["n_obs"]
    assert res["n_subjects"] == exp["n_subjects"]
    assert [fe["term"] for fe in res["fixed_effects"]] == [r_term(t) for t in np.atleast_1d(exp["terms"])]
    est = np.array([fe["estimate"] for fe in res["fixed_effects"]])
    scale = np.max(np.abs(exp["estimate"]))
    assert_allclose(est, exp["estimate"], rtol=1e-6, atol=1e-9 * scale)
    vs, vr = exp["variance"]["subject"], exp["variance"]["residual"]
    # A between-subject variance near 0 sits where the profiled deviance is flat in theta
    # (quadratic in theta^2, quartic in theta), so both optimisers pin it only to an absolute
    # accuracy of about 1e-6 of the total variance: compare it at that scale as well.
    assert_allclose(res["variance"]["subject"], vs, rtol=1e-5, atol=1e-5 * (vs + vr))
    assert_allclose(res["variance"]["residual"], vr, rtol=1e-5)
    assert_allclose(res["icc"], vs / (vs + vr), rtol=1e-5, atol=1e-5)
    assert_allclose(res["loglik"], exp["loglik"], atol=1e-6)
    assert_allclose(res["aic"], exp["aic"], atol=1e-6)
    assert_allclose(res["bic"], exp["bic"], atol=1e-6)
    assert res["singular"] == (exp["theta"] == 0)


def assert_pairs(actual: list[dict], expected: dict) -> None:
    """emmeans pairwise contrasts: 'A - B' order, raw and Sidak p-values and intervals."""
    names = [f"{c['a']} - {c['b']}" for c in actual]
    assert names == list(np.atleast_1d(expected["contrast"]))

    def col(key: str) -> np.ndarray:
        return np.atleast_1d(np.asarray(expected[key], dtype=float))

    assert_allclose([c["estimate"] for c in actual], col("estimate"), rtol=1e-6, atol=1e-9)
    assert_allclose([c["se"] for c in actual], col("se"), rtol=1e-6)
    assert_allclose([c["df"] for c in actual], col("df"), rtol=1e-4)
    assert_allclose([c["p"] for c in actual], col("p"), atol=1e-6)
    assert_allclose([c["p_sidak"] for c in actual], col("p_sidak"), atol=1e-6)
    # An interval limit is estimate -+ q * se: compare it at the scale of its half-width (a
    # limit that happens to fall near 0 has no meaningful relative error).
    half = np.abs(col("upper") - col("estimate"))
    for mine, key in (((0, "ci"), "lower"), ((1, "ci"), "upper"), ((0, "ci_sidak"), "lower_sidak"),
                      ((1, "ci_sidak"), "upper_sidak")):
        got = np.array([c[mine[1]][mine[0]] for c in actual])
        assert np.all(np.abs(got - col(key)) <= 1e-5 * np.abs(col(key)) + 1e-6 * half), key

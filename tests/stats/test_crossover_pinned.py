"""Pinned outputs of ``fit_crossover``'s control flow: carry-over strategy, notes, warnings.

The linear model is checked against R elsewhere (``test_crossover_reference.py``), but the
order of the notes, the warning's attribution, the sequence x treatment model chosen after a
two-stage carry-over decision and the binary (logistic GLMM) path with carry-over had no
reference. The expected values below were computed with the code at commit 27591c3 (before
the crossover engine was split into one orchestration over a linear and a logistic backend),
so that the refactoring provably changes no number, note or warning. They are regression
pins, not external references: the binary numbers are lme4-equivalent only to the tolerances
of ``test_crossover_binary.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ketapain.errors import TwoStageTestingWarning
from ketapain.stats import CrossoverFit, fit_crossover

REF = Path(__file__).resolve().parents[1] / "reference" / "glmm"
RTOL = 1e-8  # same arithmetic; room for BLAS/platform rounding only


def carry_data() -> pd.DataFrame:
    """12 subjects in a 3x3 Williams design, with a carry-over effect of B (seeded)."""
    rng = np.random.default_rng(4)
    seqs = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
    rows = []
    for i in range(12):
        b = rng.normal()
        s = seqs[i % 6]
        for k, t in enumerate(s):
            carry = 0.8 if k > 0 and s[k - 1] == "B" else 0.0
            rows.append((f"S{i}", k + 1, s, t, 5 + {"A": 0, "B": -0.5, "C": 0.2}[t] + b + rng.normal() + carry))
    return pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])


def binary_data() -> pd.DataFrame:
    return pd.read_csv(REF / "williams3x3.csv", dtype={"subject": str, "sequence": str, "treatment": str})


def ftest(t: dict) -> list[float]:
    return [t["stat"], t["df_num"], float("nan") if t["df_den"] is None else t["df_den"], t["p"]]


def fit_warned(data: pd.DataFrame, **opts: object) -> tuple[CrossoverFit, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_crossover(data, **opts)  # type: ignore[arg-type]
    return res, list(caught)


def test_linear_carryover_test_from_the_model_with_carryover_added() -> None:
    res, caught = fit_warned(carry_data(), df_method="kenward-roger")
    assert caught == []
    out = res.to_dict()
    assert res.notes == ("carryover_test is from the same model with carry-over added",)
    assert_allclose(ftest(out["treatment_test"]), [2.7355427908647445, 2, 20.0, 0.08908927117537044], rtol=RTOL)
    assert_allclose(ftest(out["carryover_test"]), [0.37572403355985434, 2, 17.999999999999986, 0.6920528205099089],
                    rtol=RTOL)
    assert_allclose(ftest(out["sequence_by_treatment"]), [2.975444972045999, 8, 11.999999999999977, 0.04355713783105238],
                    rtol=RTOL)
    assert_allclose(out["contrasts"][1]["ci_sidak"], [-1.3519029820511337, 0.4963068504577049], rtol=RTOL)
    # Issue 19 added d_model after the three kinds of every pair (the model's contrast and CI over
    # the total SD: the same estimate as total_sd, an interval that agrees with the model's test).
    assert [e["kind"] for e in out["effect_sizes"][:4]] == ["total_sd", "d_z", "g_av", "d_model"]
    assert_allclose([e["estimate"] for e in out["effect_sizes"]],
                    [0.3433638712594418, 0.3182449075231003, 0.3003717312342169, 0.3433638712594418,
                     -0.3654827513162933, -0.2808724371305828, -0.3271240532085928, -0.3654827513162933,
                     -0.7088466225757352, -0.7869719123121953, -0.6269875491568636, -0.7088466225757352],
                    rtol=RTOL)


@pytest.mark.parametrize(("alpha", "kept"), [(0.05, False), (0.9, True)])
def test_linear_two_stage_warns_at_the_caller_and_notes_first(alpha: float, kept: bool) -> None:
    res, caught = fit_warned(carry_data(), carryover="test-drop", carryover_alpha=alpha, df_method="satterthwaite")
    msg = (f"carry-over pre-test P = 0.6921 {'<' if kept else '>='} {alpha}: carry-over "
           f"{'kept' if kept else 'dropped'}; two-stage testing biases the treatment test (Freeman 1989) - "
           "prefer a pre-specified model")
    assert [(w.category, str(w.message)) for w in caught] == [(TwoStageTestingWarning, msg)]
    assert Path(caught[0].filename).resolve() == Path(__file__).resolve()  # stacklevel: the caller's line
    assert res.notes == (msg,)
    assert ("carryover" in res.formula) is kept
    out = res.to_dict()
    assert_allclose(out["carryover_test"]["p"], 0.6920528205099088, rtol=1e-7)
    if kept:
        # the sequence x treatment model keeps the carry-over term (6 interaction columns left, not 8)
        assert_allclose(ftest(out["sequence_by_treatment"]), [3.7281271795456115, 6, 12.000000000003226, 0.025003712229539926],
                        rtol=1e-7)
        assert_allclose([c["estimate"] for c in out["contrasts"]],
                        [0.32860918126193733, -0.5864543406629843, -0.9150635219249217], rtol=RTOL)
    else:
        assert out["sequence_by_treatment"]["df_num"] == 8


BINARY_NOTES = (
    "binary outcome: Wald z/chi-square tests; ICC on the latent logistic scale (pi^2/3)",
    "residual normality does not apply to a binary outcome",
)


def test_binary_with_carryover() -> None:
    res, caught = fit_warned(binary_data(), binary=True, carryover=True)
    assert caught == []
    out = res.to_dict()
    assert res.formula == "logit P(y = 1) ~ treatment + period + sequence + carryover + (1 | subject)"
    assert res.method == "ML (adaptive Gauss-Hermite, nAGQ = 1)"
    assert res.notes[0].startswith("sequence x treatment test not available: perfect separation")
    assert res.notes[1:] == BINARY_NOTES
    assert out["sequence_by_treatment"] is None
    assert_allclose(ftest(out["treatment_test"]), [3.9310132273079468, 2, float("nan"), 0.14008489971295646],
                    rtol=1e-6)
    assert_allclose(ftest(out["carryover_test"]), [1.8076634043271984, 2, float("nan"), 0.40501478670328706],
                    rtol=1e-6)
    c = out["contrasts"][2]
    assert_allclose([c["estimate"], c["se"], c["p"], c["p_sidak"], *c["ci"], *c["ci_sidak"], c["ratio"], *c["ratio_ci"]],
                    [1.7892432902984055, 0.9153632090745079, 0.05062070600442927, 0.1443044637096951,
                     -0.004835632260637546, 3.5833222128574485, -0.39640412443952333, 3.9748907050363345,
                     5.984921903971014, 0.9951760405862646, 35.99291857501981], rtol=1e-6)
    e = out["effect_sizes"][2]
    assert (e["kind"], e["n"], e["conf_level"]) == ("odds_ratio", 30, 0.95)
    assert_allclose([e["estimate"], *e["ci"]], [5.984921903971014, 0.9951760405862646, 35.99291857501981], rtol=1e-6)
    assert_allclose([out["icc"], out["loglik"]], [0.38593784788555696, -46.144368273680136], rtol=1e-6)


@pytest.mark.parametrize(("alpha", "kept"), [(0.05, False), (0.5, True)])
def test_binary_two_stage(alpha: float, kept: bool) -> None:
    res, caught = fit_warned(binary_data(), binary=True, carryover="test-drop", carryover_alpha=alpha, nagq=3,
                             conf_level=0.9)
    p_text = "0.4147"  # the pre-test with nAGQ = 3
    msg = (f"carry-over pre-test P = {p_text} {'<' if kept else '>='} {alpha}: carry-over "
           f"{'kept' if kept else 'dropped'}; two-stage testing biases the treatment test (Freeman 1989) - "
           "prefer a pre-specified model")
    assert [(w.category, str(w.message)) for w in caught] == [(TwoStageTestingWarning, msg)]
    assert Path(caught[0].filename).resolve() == Path(__file__).resolve()
    assert res.notes[0] == msg and res.notes[-2:] == BINARY_NOTES
    assert ("carryover" in res.formula) is kept
    out = res.to_dict()
    assert_allclose(ftest(out["carryover_test"]), [1.7601983601403397, 2, float("nan"), 0.41474177552327274], rtol=1e-6)
    if kept:
        assert_allclose(ftest(out["treatment_test"]), [3.8550075537562045, 2, float("nan"), 0.14551097336793273],
                        rtol=1e-6)
        assert_allclose([[c["estimate"], *c["ci_sidak"]] for c in out["contrasts"]],
                        [[-1.161680402045671, -2.9384298599168748, 0.615069055825533],
                         [0.6270851120618789, -1.0915327776141082, 2.345703001737866],
                         [1.78876551410755, -0.1634041963904258, 3.7409352246055256]], rtol=1e-6)
        assert "Carry-over: stat = 1.760 (2, inf), P = 0.4147" in res.summary()

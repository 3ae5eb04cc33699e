"""SF-36 (v1 / SF-36v2; Ware-QualityMetric and RAND-36 1.0 scoring; norm-based PCS/MCS).

Sources, named in each test:
- [notes] docs/instruments/scoring-notes.md section 6 (recode tables, half-scale rule, bodily
  pain recalibration, raw score ranges, norms and factor score coefficients), which summarises
  Ware et al. 1993/1994, Ware, Kosinski & Dewey 2000 and Hays, Sherbourne & Mazel 1993.
- [julia] SF36HealthSurvey.jl (github.com/PharmCat/SF36HealthSurvey.jl, test/runtests.jl): one
  v1 response vector scored with Ware's algorithm and the 1990 US norms/coefficients,
  ``@test sfr.PCS ≈ 44.4027962318693 atol=1E-6``, ``@test sfr.MCS ≈ 32.31104541346562 atol=1E-6``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from ketapain.errors import InstrumentError
from ketapain.instruments import get_instrument, score, score_frame
from ketapain.instruments._sf36_norms import SCALES, norm_set, norm_set_names

from incomplete import HINT, frame_both, message, score_both

KEYS = [str(i) for i in range(1, 37)]
SCORE_NAMES = ["PF", "RP", "BP", "GH", "VT", "SF", "RE", "MH", "PCS", "MCS"]
REPORTS = ["n_missing", "n_imputed", *(f"{s}_T" for s in SCALES)]

# [notes] "Item numbering and scales" table.
SCALE_ITEMS = {
    "PF": [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    "RP": [13, 14, 15, 16],
    "BP": [21, 22],
    "GH": [1, 33, 34, 35, 36],
    "VT": [23, 27, 29, 31],
    "SF": [20, 32],
    "RE": [17, 18, 19],
    "MH": [24, 25, 26, 28, 30],
}
ITEM_SCALE = {i: s for s, items in SCALE_ITEMS.items() for i in items}
# [notes] highest allowed answer per item: v1 role items 1-2 and VT/MH 1-6; v2 role 1-5, VT/MH 1-5.
_FIVE = (1, 2, 20, 22, 32, 33, 34, 35, 36)
MAXIMUM = {
    "v1": {i: 5 if i in _FIVE else 3 if i <= 12 else 2 if i <= 19 else 6 for i in range(1, 37)},
    "v2": {i: 5 if i in _FIVE else 3 if i <= 12 else 5 if i <= 19 else 6 if i == 21 else 5 for i in range(1, 37)},
}
# [notes] Ware recode table: items whose LOWER raw answer is the better health state (recalibrated
# or reversed: 1, 20, 21, 22, 23, 26, 27, 30, 34, 36); for every other scored item higher = better.
LOWER_IS_BETTER = {1, 20, 21, 22, 23, 26, 27, 30, 34, 36}

# [julia] test/runtests.jl response vector, items 1..36.
JULIA = [1, 2, 3, 2, 3, 2, 3, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 3,
         3, 2, 3, 2, 1, 2, 1, 2, 1, 2, 3, 2, 1, 1, 2, 3]


def _form(values: list[int] | dict[int, int]) -> dict[str, int]:
    if isinstance(values, dict):
        return {str(k): v for k, v in values.items()}
    return {str(i): v for i, v in enumerate(values, start=1)}


def _best(version: str) -> dict[int, int]:
    return {i: 1 if i in LOWER_IS_BETTER else MAXIMUM[version][i] for i in range(1, 37)}


def _worst(version: str) -> dict[int, int]:
    return {i: MAXIMUM[version][i] if i in LOWER_IS_BETTER else 1 for i in range(1, 37)}


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


# --- the instrument declaration ------------------------------------------------------------------


def test_declaration_items_scores_options() -> None:
    inst = get_instrument("sf36")
    assert inst.item_keys == tuple(KEYS)
    assert list(inst.score_names) == SCORE_NAMES
    assert [r.name for r in inst.reports] == REPORTS
    defaults = {o.name: o.default for o in inst.options}
    # issue 3: 1998 US norms by default; v1 and Ware are the defaults that reject v2 role answers > 2
    assert defaults == {"version": "v1", "method": "ware", "norms": "1998"}
    assert {o.name: o.choices for o in inst.options}["norms"] == ("1990", "1998", "1998-acute")
    # the framework checks the widest range of v1 and v2; only item 2 (health transition) is unscored
    assert [it.key for it in inst.items if not it.scored] == ["2"]
    assert {int(it.key): int(it.maximum) for it in inst.items} == {
        i: max(MAXIMUM["v1"][i], MAXIMUM["v2"][i]) for i in range(1, 37)
    }


# --- norms and factor score coefficients as data -------------------------------------------------


# [notes] "Norm-based scores" table, typed here from docs/instruments/scoring-notes.md: scale -> (1990 mean, 1990 SD,
# 1998 mean, 1998 SD, PCS coef, MCS coef), and the SF-36v2 acute 1998 norms.
NOTES_TABLE = {
    "PF": (84.52404, 22.89490, 83.29094, 23.75883, 0.42402, -0.22999),
    "RP": (81.19907, 33.79729, 82.50964, 25.52028, 0.35119, -0.12329),
    "BP": (75.49196, 23.55879, 71.32527, 23.66224, 0.31754, -0.09731),
    "GH": (72.21316, 20.16964, 70.84570, 20.97821, 0.24954, -0.01571),
    "VT": (61.05453, 20.86942, 58.31411, 20.01923, 0.02877, 0.23534),
    "SF": (83.59753, 22.37642, 84.30250, 22.91921, -0.00753, 0.26876),
    "RE": (81.29467, 33.02717, 87.39733, 21.43778, -0.19206, 0.43407),
    "MH": (74.84212, 18.01189, 74.98685, 17.75604, -0.22069, 0.48581),
}
NOTES_ACUTE = {
    "PF": (82.62455, 24.43176), "RP": (82.65109, 26.19282), "BP": (73.86999, 24.00884),
    "GH": (70.78372, 21.28902), "VT": (58.41968, 20.87823), "SF": (85.11568, 23.24464),
    "RE": (87.50009, 22.01216), "MH": (75.76034, 18.04746),
}


def test_norm_tables_equal_the_notes_exactly() -> None:
    # [notes] every constant, to the published 5 decimals; every set uses the 1990 coefficients
    assert SCALES == ("PF", "RP", "BP", "GH", "VT", "SF", "RE", "MH")
    assert norm_set_names() == ("1990", "1998", "1998-acute")
    n90, n98, acute = norm_set("1990"), norm_set("1998"), norm_set("1998-acute")
    for j, s in enumerate(SCALES):
        m90, sd90, m98, sd98, pcs, mcs = NOTES_TABLE[s]
        assert (n90.mean[j], n90.sd[j], n98.mean[j], n98.sd[j]) == (m90, sd90, m98, sd98)
        assert (acute.mean[j], acute.sd[j]) == NOTES_ACUTE[s]
        for ns in (n90, n98, acute):
            assert (ns.pcs[j], ns.mcs[j]) == (pcs, mcs)
            assert ns.coefficient_set == "us1990"
    with pytest.raises(KeyError, match="2009"):
        norm_set("2009")


def test_norm_based_step_by_hand_1998() -> None:
    # [notes] z = (score - mean)/SD; T = 50 + 10 z; PCS = 50 + 10 sum(z * PCS coef), MCS likewise.
    # Scales of the [julia] vector (see test_julia_scales_by_hand), with the 1998 norms:
    scales = {"PF": 55.0, "RP": 50.0, "BP": 62.0, "GH": 55.0, "VT": 50.0, "SF": 37.5, "RE": 100 / 3, "MH": 40.0}
    z = {s: (scales[s] - NOTES_TABLE[s][2]) / NOTES_TABLE[s][3] for s in SCALES}
    # e.g. PF: z = (55 - 83.29094)/23.75883 = -28.29094/23.75883 = -1.1907548; T = 38.092452
    assert_allclose(z["PF"], -1.1907548, rtol=0, atol=1e-7)
    pcs = 50 + 10 * sum(z[s] * NOTES_TABLE[s][4] for s in SCALES)
    mcs = 50 + 10 * sum(z[s] * NOTES_TABLE[s][5] for s in SCALES)
    out = score("sf36", _form(JULIA))  # defaults: v1, Ware, 1998 norms
    assert_allclose(out["PCS"], pcs, rtol=0, atol=1e-9)
    assert_allclose(out["MCS"], mcs, rtol=0, atol=1e-9)
    assert_allclose([out[f"{s}_T"] for s in SCALES], [50 + 10 * z[s] for s in SCALES], rtol=0, atol=1e-9)


# --- end-to-end check against an independent implementation --------------------------------------


def test_julia_pcs_mcs_end_to_end_v1_ware_1990() -> None:
    # [julia] sfr = SF36.sf36(v); @test sfr.PCS ≈ 44.4027962318693 atol=1E-6;
    #                             @test sfr.MCS ≈ 32.31104541346562 atol=1E-6  (v1, Ware, 1990 norms)
    out = score("sf36", _form(JULIA), version="v1", method="ware", norms="1990")
    assert_allclose(out["PCS"], 44.4027962318693, rtol=0, atol=1e-6)
    assert_allclose(out["MCS"], 32.31104541346562, rtol=0, atol=1e-6)
    # [notes] the end-to-end check value to 5 decimals: PCS 44.40280, MCS 32.31105
    assert (round(out["PCS"], 5), round(out["MCS"], 5)) == (44.4028, 32.31105)


def test_julia_scales_by_hand() -> None:
    # [notes] Ware v1 recodes applied by hand to the [julia] vector:
    # PF items 3-12 = 3,2,3,2,3,2,1,2,1,2 -> raw 21 -> (21-10)/20*100 = 55
    # RP items 13-16 = 1,2,1,2 -> raw 6 -> (6-4)/4*100 = 50
    # BP item 21 = 3 -> 4.2; item 22 = 2 -> 4 (item 21 answered) -> raw 8.2 -> (8.2-2)/10*100 = 62
    # GH item 1 = 1 -> 5.0; 33 = 1; 34 = 1 -> 6-1 = 5; 35 = 2; 36 = 3 -> 3 -> raw 16 -> (16-5)/20*100 = 55
    # VT 23 = 3 -> 7-3 = 4; 27 = 1 -> 6; 29 = 1; 31 = 3 -> raw 14 -> (14-4)/20*100 = 50
    # SF 20 = 3 -> 6-3 = 3; 32 = 2 -> raw 5 -> (5-2)/8*100 = 37.5
    # RE items 17-19 = 1,2,1 -> raw 4 -> (4-3)/3*100 = 33.33
    # MH 24 = 2; 25 = 1; 26 = 2 -> 7-2 = 5; 28 = 2; 30 = 2 -> 5 -> raw 15 -> (15-5)/25*100 = 40
    out = score("sf36", _form(JULIA), norms="1990")
    expected = [55.0, 50.0, 62.0, 55.0, 50.0, 37.5, 100 / 3, 40.0]
    assert_allclose([out[s] for s in SCALES], expected, rtol=0, atol=1e-9)
    assert out["n_missing"] == 0 and out["n_imputed"] == 0


# --- hand-computed vectors: v1 Ware, v2 Ware, RAND -------------------------------------------------

# One v1 answer set (valid for RAND too). Items not listed are given in the dict below.
V1_CASE = {
    1: 2, 2: 3, 3: 1, 4: 1, 5: 2, 6: 2, 7: 3, 8: 3, 9: 3, 10: 3, 11: 3, 12: 3,
    13: 2, 14: 2, 15: 1, 16: 2, 17: 1, 18: 2, 19: 2, 20: 2, 21: 2, 22: 1,
    23: 2, 24: 4, 25: 5, 26: 2, 27: 1, 28: 3, 29: 4, 30: 1, 31: 3, 32: 4,
    33: 4, 34: 2, 35: 5, 36: 1,
}


def test_v1_ware_by_hand() -> None:
    # [notes] Ware v1:
    # PF 3-12 = 1,1,2,2,3,3,3,3,3,3 -> 24 -> (24-10)/20*100 = 70
    # RP 13-16 = 2,2,1,2 -> 7 -> (7-4)/4*100 = 75
    # BP 21 = 2 -> 5.4; 22 = 1 with 21 = 2..6 -> 5 -> 10.4 -> (10.4-2)/10*100 = 84
    # GH 1 = 2 -> 4.4; 33 = 4; 34 = 2 -> 4; 35 = 5; 36 = 1 -> 5 -> 22.4 -> (22.4-5)/20*100 = 87
    # VT 23 = 2 -> 5; 27 = 1 -> 6; 29 = 4; 31 = 3 -> 18 -> (18-4)/20*100 = 70
    # SF 20 = 2 -> 4; 32 = 4 -> 8 -> (8-2)/8*100 = 75
    # RE 17-19 = 1,2,2 -> 5 -> (5-3)/3*100 = 66.67
    # MH 24 = 4; 25 = 5; 26 = 2 -> 5; 28 = 3; 30 = 1 -> 6 -> 23 -> (23-5)/25*100 = 72
    out = score("sf36", _form(V1_CASE), version="v1", method="ware")
    assert_allclose([out[s] for s in SCALES], [70, 75, 84, 87, 70, 75, 200 / 3, 72], rtol=0, atol=1e-9)


def test_rand_by_hand_and_where_it_differs_from_ware() -> None:
    # [notes] RAND-36 1.0, each item to 0-100, scale = mean:
    # PF 1,1,2,2,3,3,3,3,3,3 -> 0,0,50,50,100 x6 -> 700/10 = 70            (Ware 70: same)
    # RP 2,2,1,2 -> 100,100,0,100 -> 75                                      (Ware 75: same)
    # BP 21 = 2 -> 80; 22 = 1 -> 100 -> 90                                   (Ware 84: recalibrated)
    # GH 1 = 2 -> 75; 33 = 4 -> 75; 34 = 2 -> 75; 35 = 5 -> 100; 36 = 1 -> 100 -> 425/5 = 85
    #                                    (Ware 87: item 1 = 2 counts 85, not 75; (85-75)/5 = 2)
    # VT 23 = 2 -> 80; 27 = 1 -> 100; 29 = 4 -> 60; 31 = 3 -> 40 -> 70      (Ware 70: same)
    # SF 20 = 2 -> 75; 32 = 4 -> 75 -> 75                                    (Ware 75: same)
    # RE 1,2,2 -> 0,100,100 -> 66.67                                         (Ware 66.67: same)
    # MH 24 = 4 -> 60; 25 = 5 -> 80; 26 = 2 -> 80; 28 = 3 -> 40; 30 = 1 -> 100 -> 72  (same)
    out = score("sf36", _form(V1_CASE), method="rand")
    assert_allclose([out[s] for s in SCALES], [70, 75, 90, 85, 70, 75, 200 / 3, 72], rtol=0, atol=1e-9)
    # RAND-36 defines no PCS/MCS; the US norm-based outputs are left missing
    assert out["PCS"] is None and out["MCS"] is None and out["PF_T"] is None


def test_gh_item1_recalibration_ware_vs_rand() -> None:
    # [notes] GH item 1 is 100/75/50/25/0 in RAND and 5.0/4.4/3.4/2.0/1.0 (= 100/85/60/25/0) in Ware.
    # With items 33-36 at their best (33 = 5, 34 = 1, 35 = 5, 36 = 1 -> 4 x 5 = 20 / RAND 4 x 100):
    for answer, ware_item, rand_item in [(1, 5.0, 100), (2, 4.4, 75), (3, 3.4, 50), (4, 2.0, 25), (5, 1.0, 0)]:
        form = _form({1: answer, 33: 5, 34: 1, 35: 5, 36: 1})
        ware = score_both("sf36", form)["GH"]
        rand = score_both("sf36", form, method="rand")["GH"]
        assert_allclose(ware, (20 + ware_item - 5) / 20 * 100, rtol=0, atol=1e-9)  # e.g. 2: 24.4 -> 97
        assert_allclose(rand, (400 + rand_item) / 5, rtol=0, atol=1e-9)  # e.g. 2: 475/5 = 95


def test_v2_ware_by_hand() -> None:
    # [notes] Ware v2 (role items 1-5 as is; VT/MH 1-5, items 23, 26, 27, 30 reversed 6 - x):
    # PF 3-12 = 1,1,2,2,3,3,3,3,3,3 -> 24 -> (24-10)/20*100 = 70
    # RP 13-16 = 5,4,3,1 -> 13 -> (13-4)/16*100 = 56.25
    # BP 21 = 2 -> 5.4; 22 = 1 -> 5 -> 10.4 -> 84
    # GH 1 = 2 -> 4.4; 33 = 4; 34 = 2 -> 4; 35 = 5; 36 = 1 -> 5 -> 22.4 -> 87
    # VT 23 = 2 -> 6-2 = 4; 27 = 1 -> 5; 29 = 4; 31 = 3 -> 16 -> (16-4)/16*100 = 75
    # SF 20 = 2 -> 4; 32 = 4 -> 8 -> 75
    # RE 17-19 = 2,5,5 -> 12 -> (12-3)/12*100 = 75
    # MH 24 = 4; 25 = 5; 26 = 2 -> 4; 28 = 3; 30 = 1 -> 5 -> 21 -> (21-5)/20*100 = 80
    case = {**V1_CASE, 13: 5, 14: 4, 15: 3, 16: 1, 17: 2, 18: 5, 19: 5}
    out = score("sf36", _form(case), version="v2")
    assert_allclose([out[s] for s in SCALES], [70, 56.25, 84, 87, 75, 75, 75, 80], rtol=0, atol=1e-9)
    # the same answers read as v1 are refused (role item 13 = 5 > 2), never silently rescored
    with pytest.raises(InstrumentError, match="item 13 = 5"):
        score("sf36", _form(case), version="v1")


@pytest.mark.parametrize(("version", "method"), [("v1", "ware"), ("v2", "ware"), ("v1", "rand")])
def test_all_best_100_all_worst_0(version: str, method: str) -> None:
    # [notes] transformed score = (raw - min)/(max - min) * 100: best answers give max, worst give min
    best = score("sf36", _form(_best(version)), version=version, method=method)
    worst = score("sf36", _form(_worst(version)), version=version, method=method)
    assert [best[s] for s in SCALES] == [100.0] * 8
    assert [worst[s] for s in SCALES] == [0.0] * 8
    if method == "ware":  # best health is far above the population mean on both summaries' main scales
        assert best["PCS"] > 50 and worst["PCS"] < 50


# --- bodily pain: conditional recalibration (Ware) -------------------------------------------------

BP21 = {1: 6.0, 2: 5.4, 3: 4.2, 4: 3.1, 5: 2.2, 6: 1.0}  # [notes]
BP22_ALONE = {1: 6.0, 2: 4.75, 3: 3.5, 4: 2.25, 5: 1.0}  # [notes]


@pytest.mark.parametrize("answer", [1, 2, 3, 4, 5, 6])
def test_bp_only_item_21(answer: int) -> None:
    # [notes] only 21: recalibrate it; 22 takes the same value -> BP = (2 * r21 - 2)/10 * 100
    # e.g. 21 = 3 -> 4.2 + 4.2 = 8.4 -> 64.   RAND: only item 21, linear 100..0 in steps of 20.
    out = score_both("sf36", {"21": answer})
    assert_allclose(out["BP"], (2 * BP21[answer] - 2) / 10 * 100, rtol=0, atol=1e-9)
    assert out["n_imputed"] == 1 and out["n_missing"] == 34
    assert_allclose(score_both("sf36", {"21": answer}, method="rand")["BP"], (6 - answer) * 20, rtol=0, atol=1e-9)


@pytest.mark.parametrize("answer", [1, 2, 3, 4, 5])
def test_bp_only_item_22(answer: int) -> None:
    # [notes] only 22: 1 -> 6.0, 2 -> 4.75, 3 -> 3.5, 4 -> 2.25, 5 -> 1.0; 21 takes the same value
    # e.g. 22 = 2 -> 4.75 + 4.75 = 9.5 -> (9.5-2)/10*100 = 75.   RAND: 22 alone, 100/75/50/25/0.
    out = score_both("sf36", {"22": answer})
    assert_allclose(out["BP"], (2 * BP22_ALONE[answer] - 2) / 10 * 100, rtol=0, atol=1e-9)
    assert out["n_imputed"] == 1
    assert_allclose(score_both("sf36", {"22": answer}, method="rand")["BP"], (5 - answer) * 25, rtol=0, atol=1e-9)


@pytest.mark.parametrize("a21", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("a22", [1, 2, 3, 4, 5])
def test_bp_both_items(a21: int, a22: int) -> None:
    # [notes] both answered: 22 scores 6 if 22 = 1 and 21 = 1; 5 if 22 = 1 and 21 = 2..6; 2->4 ... 5->1
    r22 = (6.0 if a21 == 1 else 5.0) if a22 == 1 else {2: 4.0, 3: 3.0, 4: 2.0, 5: 1.0}[a22]
    out = score_both("sf36", {"21": a21, "22": a22})
    assert_allclose(out["BP"], (BP21[a21] + r22 - 2) / 10 * 100, rtol=0, atol=1e-9)
    assert out["n_imputed"] == 0
    # RAND: independent linear items, (21: 100..0 in 20s, 22: 100..0 in 25s) averaged
    rand = score_both("sf36", {"21": a21, "22": a22}, method="rand")["BP"]
    assert_allclose(rand, ((6 - a21) * 20 + (5 - a22) * 25) / 2, rtol=0, atol=1e-9)


def test_bp_neither_item() -> None:
    out = score_both("sf36", {"1": 3})
    assert out["BP"] is None and out["n_imputed"] == 0
    form = {k: v for k, v in _form(JULIA).items() if k not in ("21", "22")}
    assert message("sf36", form) == (
        "sf36: BP cannot be scored: items 21, 22 unanswered; BP needs at least 1 of its 2 items (method='ware': "
        "half-scale rule); " + HINT
    )
    assert message("sf36", form, method="rand") == (
        "sf36: BP cannot be scored: items 21, 22 unanswered; BP needs at least 1 of its 2 items (method='rand': "
        "mean of the answered items); " + HINT
    )


# --- the half-scale rule at its boundary ------------------------------------------------------------

# [notes] Ware v1: a scale is scored with at least half its items; blanks take the mean of the
# answered recoded items. Each case answers exactly the minimum; removing its last item leaves it
# unscored. Expected values by hand:
HALF_RULE = [
    # PF >= 5/10: 3-7 = 1,2,3,3,2 -> mean 2.2 -> raw 22 -> (22-10)/20*100 = 60
    ("PF", {3: 1, 4: 2, 5: 3, 6: 3, 7: 2}, 60.0),
    # RP >= 2/4: 13 = 1, 14 = 2 -> mean 1.5 -> raw 6 -> (6-4)/4*100 = 50
    ("RP", {13: 1, 14: 2}, 50.0),
    # BP >= 1/2: 22 = 3 alone -> 3.5 twice -> 7 -> 50
    ("BP", {22: 3}, 50.0),
    # GH >= 3/5: 1 = 2 -> 4.4; 33 = 4; 34 = 2 -> 4 -> mean 12.4/3 -> raw 62/3 -> (62/3-5)/20*100 = 78.33
    ("GH", {1: 2, 33: 4, 34: 2}, (62 / 3 - 5) / 20 * 100),
    # VT >= 2/4: 23 = 2 -> 5; 29 = 4 -> mean 4.5 -> raw 18 -> (18-4)/20*100 = 70
    ("VT", {23: 2, 29: 4}, 70.0),
    # SF >= 1/2: 20 = 2 -> 4 -> raw 8 -> (8-2)/8*100 = 75
    ("SF", {20: 2}, 75.0),
    # RE >= 2/3: 17 = 1, 18 = 2 -> mean 1.5 -> raw 4.5 -> (4.5-3)/3*100 = 50
    ("RE", {17: 1, 18: 2}, 50.0),
    # MH >= 3/5: 24 = 4; 25 = 5; 26 = 2 -> 5 -> mean 14/3 -> raw 70/3 -> (70/3-5)/25*100 = 73.33
    ("MH", {24: 4, 25: 5, 26: 2}, (70 / 3 - 5) / 25 * 100),
]


@pytest.mark.parametrize(("scale", "answers", "expected"), HALF_RULE, ids=[c[0] for c in HALF_RULE])
def test_half_scale_rule_boundary(scale: str, answers: dict[int, int], expected: float) -> None:
    k = len(SCALE_ITEMS[scale])
    out = score_both("sf36", _form(answers))
    assert_allclose(out[scale], expected, rtol=0, atol=1e-9)
    assert out["n_imputed"] == k - len(answers)
    fewer = dict(list(answers.items())[:-1])
    below = score_both("sf36", _form(fewer))
    assert below[scale] is None and below["n_imputed"] == 0
    # by default one item fewer than half is refused, naming the scale's blank items and the rule
    # (here with every other scale complete, so that it is the only one refused)
    blank = [str(i) for i in SCALE_ITEMS[scale] if i not in fewer]
    others = {i: v for i, v in enumerate(JULIA, start=1) if ITEM_SCALE.get(i) != scale} | fewer
    assert message("sf36", _form(others)) == (
        f"sf36: {scale} cannot be scored: {'item' if len(blank) == 1 else 'items'} {', '.join(blank)} unanswered; "
        f"{scale} needs at least {len(answers)} of its {k} items (method='ware': half-scale rule); " + HINT
    )
    assert score("sf36", _form(others | answers))[scale] == pytest.approx(expected, abs=1e-9)  # at the minimum: no error
    # RAND has no minimum: one answered item is enough
    if fewer:
        assert score_both("sf36", _form(fewer), method="rand")[scale] is not None


def test_half_rule_imputation_equals_mean_of_answered_recoded_items() -> None:
    # [notes] missing items take the mean of the answered recoded items, so with GH 1 = 1 (5.0),
    # 34 = 3 (3), 36 = 2 (4) answered: mean 4 -> raw 20 -> (20-5)/20*100 = 75;
    # RAND on the same items: (100 + 50 + 75)/3 = 75 (GH1 = 1 is 100 in both).
    out = score_both("sf36", _form({1: 1, 34: 3, 36: 2}))
    assert_allclose(out["GH"], 75.0, rtol=0, atol=1e-9)
    assert_allclose(score_both("sf36", _form({1: 1, 34: 3, 36: 2}), method="rand")["GH"], 75.0, rtol=0, atol=1e-9)


def test_missing_rule_ware_vs_rand() -> None:
    # [notes] RAND scores any answered item; Ware needs half. GH with only 33 = 4: RAND 75, Ware None.
    assert score_both("sf36", {"33": 4}, method="rand")["GH"] == 75.0
    assert score_both("sf36", {"33": 4})["GH"] is None
    assert (
        "GH cannot be scored: items 1, 34, 35, 36 unanswered; GH needs at least 3 of its 5 items (method='ware': "
        "half-scale rule)"
    ) in message("sf36", {"33": 4})
    assert "GH cannot" not in message("sf36", {"33": 4}, method="rand")  # RAND: one item is enough


def test_pcs_mcs_need_all_eight_scales() -> None:
    # [notes] PCS and MCS need all 8 scales; one unscored scale (SF: both items blank) leaves both None
    form = _form(JULIA)
    del form["20"], form["32"]
    out = score_both("sf36", form, norms="1990")
    assert out["SF"] is None and out["PCS"] is None and out["MCS"] is None
    # by default the scale is refused; PCS/MCS follow the scales and are not named themselves
    assert message("sf36", form, norms="1990") == (
        "sf36: SF cannot be scored: items 20, 32 unanswered; SF needs at least 1 of its 2 items (method='ware': "
        "half-scale rule); " + HINT
    )
    assert out["SF_T"] is None and out["PF_T"] is not None
    assert out["n_missing"] == 2 and out["n_imputed"] == 0
    # with one SF item answered the half rule imputes the other and PCS/MCS exist again
    form["32"] = 2
    out = score_both("sf36", form, norms="1990")
    assert out["PCS"] is not None and out["n_imputed"] == 1 and out["n_missing"] == 1


def test_item_2_is_not_scored() -> None:
    a = score("sf36", _form({**dict(enumerate(JULIA, start=1)), 2: 1}))
    b = score("sf36", _form({**dict(enumerate(JULIA, start=1)), 2: 5}))
    assert a == b
    form = _form(JULIA)
    del form["2"]
    assert score("sf36", form)["n_missing"] == 0


# --- properties -----------------------------------------------------------------------------------


@st.composite
def sf36_forms(draw: st.DrawFn) -> tuple[str, str, dict[int, int]]:
    """(version, method, answers): each item blank (0 drawn) or a value valid for the version."""
    version = draw(st.sampled_from(["v1", "v2"]))
    method = draw(st.sampled_from(["ware", "rand"])) if version == "v1" else "ware"
    answers = {i: draw(st.integers(0, MAXIMUM[version][i])) for i in range(1, 37)}
    return version, method, {i: v for i, v in answers.items() if v}


@settings(deadline=None, max_examples=150)
@given(sf36_forms())
def test_property_scales_within_0_100(case: tuple[str, str, dict[int, int]]) -> None:
    version, method, answers = case
    out = score_both("sf36", _form(answers), version=version, method=method)
    for s in SCALES:
        assert out[s] is None or 0.0 <= out[s] <= 100.0
    assert out["n_missing"] == 35 - sum(1 for i in answers if i != 2)
    assert 0 <= out["n_imputed"] <= out["n_missing"]
    all_scored = all(out[s] is not None for s in SCALES)
    assert (out["PCS"] is not None) == (all_scored and method == "ware")


@settings(deadline=None, max_examples=250)
@given(sf36_forms(), st.sampled_from([i for i in range(1, 37) if i != 2]), st.data())
def test_property_better_answer_never_lowers_its_scale(
    case: tuple[str, str, dict[int, int]], item: int, data: st.DataObject
) -> None:
    # [notes] recode tables: every scored item's recode is strictly monotone, and the imputed mean
    # rises with it, so one step towards the better answer raises the item's scale ("better" =
    # lower raw answer for the items in LOWER_IS_BETTER, higher for the others).
    version, method, answers = case
    top = MAXIMUM[version][item]
    worse = data.draw(st.integers(2, top) if item in LOWER_IS_BETTER else st.integers(1, top - 1))
    better = worse - 1 if item in LOWER_IS_BETTER else worse + 1
    pair = pd.DataFrame([_form({**answers, item: worse}), _form({**answers, item: better})])
    before, after = frame_both("sf36", pair, version=version, method=method)[ITEM_SCALE[item]]
    assert math.isnan(before) == math.isnan(after)  # the same items are answered in both
    if not math.isnan(before):
        assert after > before


# --- rejection of bad input ---------------------------------------------------------------------------


def _assert_message(err: pytest.ExceptionInfo[InstrumentError], *parts: str) -> None:
    for part in parts:
        assert part in str(err.value), f"{part!r} not in {str(err.value)!r}"


def test_unknown_item_rejected() -> None:
    with pytest.raises(InstrumentError) as err:
        score("sf36", {**_form(JULIA), "37": 1})
    _assert_message(err, "sf36", "unknown item '37'", "items are 1, 2, 3")


@pytest.mark.parametrize(
    ("version", "item", "value", "allowed"),
    [
        ("v1", 13, 3, "allowed: an integer 1..2 in SF-36 v1"),  # v1 role items are yes/no
        ("v1", 19, 5, "allowed: an integer 1..2 in SF-36 v1"),
        ("v2", 23, 6, "allowed: an integer 1..5 in SF-36 v2"),  # v2 vitality items have 5 levels
        ("v2", 30, 6, "allowed: an integer 1..5 in SF-36 v2"),
    ],
)
def test_out_of_range_for_the_version(version: str, item: int, value: int, allowed: str) -> None:
    with pytest.raises(InstrumentError) as err:
        score("sf36", {str(item): value}, version=version)
    _assert_message(err, "sf36", f"item {item} = {value}", f"version={version!r}", allowed)
    # in a frame the respondent is named too, by its spreadsheet row (header = row 1)
    frame = pd.DataFrame({str(item): [1, value]})
    with pytest.raises(InstrumentError) as err:
        score_frame("sf36", frame, version=version)
    _assert_message(err, "sf36 row 3:", f"item {item} = {value}", allowed)


@pytest.mark.parametrize(
    ("item", "value", "why"),
    [
        ("21", 7, "is out of range"),  # beyond every version's range: the framework's own check
        ("3", 4, "is out of range"),
        ("3", 0, "is out of range"),
        ("1", 2.5, "is not a whole number"),
        ("1", "good", "is not a number"),
        ("1", True, "true/false"),
    ],
)
def test_out_of_range_or_wrong_type_rejected(item: str, value: Any, why: str) -> None:
    with pytest.raises(InstrumentError) as err:
        score("sf36", {item: value})
    _assert_message(err, "sf36", f"item {item} = {value!r}", why, "allowed: an integer 1..")


def test_rand_with_v2_rejected() -> None:
    with pytest.raises(InstrumentError) as err:
        score("sf36", _form(JULIA), version="v2", method="rand")
    _assert_message(err, "sf36", "method='rand'", "version='v2'", "allowed:")


def test_unknown_option_values_rejected() -> None:
    with pytest.raises(InstrumentError, match=re.escape("norms='2009' is not one of 1990, 1998, 1998-acute")):
        score("sf36", _form(JULIA), norms="2009")
    with pytest.raises(InstrumentError, match="version='v3'"):
        score("sf36", _form(JULIA), version="v3")


# --- score_frame agrees with score ------------------------------------------------------------------


def _random_answers(n: int, *, version: str, seed: int, p_missing: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hi = np.array([MAXIMUM[version][i] for i in range(1, 37)])
    values = rng.integers(1, hi + 1, size=(n, 36)).astype(float)
    values[rng.random(values.shape) < p_missing] = np.nan
    return pd.DataFrame(values, columns=KEYS)


@pytest.mark.parametrize(
    ("version", "method", "norms"), [("v1", "ware", "1998"), ("v2", "ware", "1990"), ("v1", "rand", "1998")]
)
def test_score_frame_wide_agrees_with_score(version: str, method: str, norms: str) -> None:
    answers = _random_answers(60, version=version, seed=7, p_missing=0.25)
    wide = answers.assign(patient_id=[f"P{i:02d}" for i in range(60)])
    frame = frame_both("sf36", wide, id_columns=["patient_id"], version=version, method=method, norms=norms)
    assert list(frame.columns) == ["patient_id", *SCORE_NAMES, *REPORTS]
    assert frame.attrs["options"] == {"version": version, "method": method, "norms": norms}
    assert frame.attrs["incomplete"] == "missing"
    assert (frame["n_imputed"] > 0).any()
    if method == "ware":  # both branches of the half rule occur in these data
        assert frame["PF"].notna().any() and frame["PF"].isna().any()
    for pos in range(len(answers)):
        row = answers.iloc[pos]
        single = score_both("sf36", {k: int(v) for k, v in row.items() if not np.isnan(v)},
                       version=version, method=method, norms=norms)
        got = {c: _plain(frame.iloc[pos][c]) for c in [*SCORE_NAMES, *REPORTS]}
        assert got.keys() == single.keys()
        for key, value in single.items():
            if value is None:
                assert got[key] is None, key
            else:
                assert_allclose(got[key], value, rtol=0, atol=1e-12)


def test_score_frame_long_agrees_with_score() -> None:
    answers = _random_answers(30, version="v1", seed=11, p_missing=0.1)
    answers["patient_id"] = np.repeat([f"P{i:02d}" for i in range(15)], 2)
    answers["visit"] = np.tile(["baseline", "end"], 15)
    long = answers.melt(id_vars=["patient_id", "visit"], var_name="item", value_name="value").dropna(subset=["value"])
    long = long.assign(instrument="sf36", value=long["value"].astype(int))
    other = pd.DataFrame(
        {"patient_id": ["P00"], "visit": ["baseline"], "instrument": ["pgic"], "item": ["1"], "value": [3]}
    )
    long = pd.concat([other, long.sample(frac=1.0, random_state=3)], ignore_index=True)  # any row order
    with pytest.raises(InstrumentError, match=r"^sf36 respondent patient_id=P\d\d visit=(baseline|end): [A-Z]{2} cannot be scored: "):
        score_frame("sf36", long)
    frame = score_frame("sf36", long, incomplete="missing")
    assert list(frame.columns[:2]) == ["patient_id", "visit"] and len(frame) == 30
    by_id = answers.set_index(["patient_id", "visit"])
    for _, out in frame.iterrows():
        row = by_id.loc[(out["patient_id"], out["visit"])]
        single = score_both("sf36", {k: int(v) for k, v in row.items() if not np.isnan(v)})
        for key, value in single.items():
            got = _plain(out[key])
            if value is None:
                assert got is None, key
            else:
                assert_allclose(got, value, rtol=0, atol=1e-12)


def test_score_frame_reports_imputation_counts() -> None:
    # PF with 5 of 10 items answered (the other 5 imputed by the half rule), everything else complete
    form = {int(k): v for k, v in _form(JULIA).items()}
    for i in (8, 9, 10, 11, 12):
        del form[i]
    wide = pd.DataFrame([{str(k): v for k, v in form.items()}])
    out = score_frame("sf36", wide, norms="1990")
    # PF 3-7 = 3,2,3,2,3 -> mean 2.6 -> raw 26 -> (26-10)/20*100 = 80
    assert_allclose(out.loc[0, "PF"], 80.0, rtol=0, atol=1e-9)
    assert out.loc[0, "n_imputed"] == 5 and out.loc[0, "n_missing"] == 5

"""HADS (Zigmond & Snaith, Acta Psychiatr Scand 1983;67:361-70; half rule: Bell et al., BMC Res
Notes 2016;9:479; docs/instruments/scoring-notes.md section 5)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketapain.errors import InstrumentError
from ketapain.instruments import get_instrument, score, score_frame

from incomplete import HINT, checked, frame_both, message, score_both

KEYS = [str(i) for i in range(1, 15)]
ANXIETY = [str(i) for i in range(1, 15, 2)]
DEPRESSION = [str(i) for i in range(2, 15, 2)]
REVERSED = {
    "scored": set(),
    "position": {"1", "3", "5", "6", "8", "10", "11", "13"},  # printed 3 -> 0 on the English form
    "agreement": {"2", "4", "6", "7", "12", "14"},  # positively worded items
}
CODINGS = list(REVERSED)
COLUMNS = [
    "anxiety",
    "depression",
    "anxiety_case",
    "anxiety_borderline_or_case",
    "depression_case",
    "depression_borderline_or_case",
    "n_imputed_anxiety",
    "n_imputed_depression",
]


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _encode(scores: dict[str, Any], coding: str) -> dict[str, Any]:
    """The number a database using ``coding`` would hold for each official 0-3 score."""
    return {k: (None if v is None else (3 - v if k in REVERSED[coding] else v)) for k, v in scores.items()}


# --- the paper's scoring, by hand --------------------------------------------------------------


def test_official_scores_summed_by_subscale() -> None:
    # Zigmond & Snaith 1983: HADS-A = odd items, HADS-D = even items, each item scored 0-3
    scores = {"1": 2, "3": 1, "5": 3, "7": 0, "9": 1, "11": 2, "13": 1}  # A = 10
    scores |= {"2": 0, "4": 1, "6": 1, "8": 2, "10": 3, "12": 1, "14": 3}  # D = 11
    assert score("hads", scores) == {
        "anxiety": 10.0,
        "depression": 11.0,
        "anxiety_case": False,
        "anxiety_borderline_or_case": True,
        "depression_case": True,
        "depression_borderline_or_case": True,
        "n_imputed_anxiety": 0,
        "n_imputed_depression": 0,
    }
    for coding in CODINGS:  # the same respondent recorded under each coding scores the same
        assert score("hads", _encode(scores, coding), coding=coding) == score("hads", scores)


def test_position_coding_all_first_options() -> None:
    # 0 = first printed option everywhere. Reversed (printed 3 -> 0): 1, 3, 5, 6, 8, 10, 11, 13.
    # Anxiety: items 1, 3, 5, 11, 13 score 3, items 7, 9 score 0 -> 15.
    # Depression: items 6, 8, 10 score 3, items 2, 4, 12, 14 score 0 -> 9.
    out = score("hads", dict.fromkeys(KEYS, 0), coding="position")
    assert (out["anxiety"], out["depression"]) == (15.0, 9.0)


def test_agreement_coding_all_not_at_all() -> None:
    # 0 = "not at all / never" everywhere. Reversed (positively worded): 2, 4, 6, 7, 12, 14.
    # Anxiety: only item 7 scores 3 -> 3. Depression: 2, 4, 6, 12, 14 score 3, 8 and 10 score 0 -> 15.
    out = score("hads", dict.fromkeys(KEYS, 0), coding="agreement")
    assert (out["anxiety"], out["depression"]) == (3.0, 15.0)


def test_bell_2016_half_rule_at_its_boundary() -> None:
    # Bell et al. 2016: with at least half the items of a subscale answered (4 of 7), the
    # subscale is the mean of the answered items x 7. Anxiety 1, 3, 5, 7 = 2, 1, 3, 0:
    # mean 6/4 = 1.5, x 7 = 10.5 (left unrounded). Depression 2, 4, 6 only: 3 of 7 -> missing.
    answers = {"1": 2, "3": 1, "5": 3, "7": 0, "2": 3, "4": 3, "6": 3}
    out = score_both("hads", answers, missing="half_rule")
    assert out == {
        "anxiety": 10.5,
        "depression": None,
        "anxiety_case": False,
        "anxiety_borderline_or_case": True,
        "depression_case": None,
        "depression_borderline_or_case": None,
        "n_imputed_anxiety": 3,
        "n_imputed_depression": 0,
    }
    plain = score_both("hads", answers)  # default: no imputation
    assert plain["anxiety"] is None and plain["n_imputed_anxiety"] == 0
    # and by default (incomplete="error") too many missing items are refused, with the rule
    assert message("hads", answers, missing="half_rule") == (
        "hads: depression cannot be scored: items 8, 10, 12, 14 unanswered; depression needs at least 4 of its 7 "
        "items (missing='half_rule', Bell et al. 2016); " + HINT
    )
    assert message("hads", answers) == (
        "hads: anxiety cannot be scored: items 9, 11, 13 unanswered; anxiety needs all 7 items (missing='none'; "
        "missing='half_rule' allows up to 3 unanswered); depression cannot be scored: items 8, 10, 12, 14 "
        "unanswered; depression needs all 7 items (missing='none'; missing='half_rule' allows up to 3 "
        "unanswered); " + HINT
    )


def test_half_rule_reverses_before_imputing() -> None:
    # position coding: items 1, 3 reversed (3 - 0 = 3, 3 - 1 = 2), items 7, 9 as recorded (2, 3):
    # (3 + 2 + 2 + 3) / 4 x 7 = 17.5
    out = score_both("hads", {"1": 0, "3": 1, "7": 2, "9": 3}, coding="position", missing="half_rule")
    assert out["anxiety"] == 17.5 and out["anxiety_case"] is True and out["n_imputed_anxiety"] == 3


# --- edge cases --------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("missing", ["none", "half_rule"])
def test_all_minimum_and_all_maximum(coding: str, missing: str) -> None:
    low = score("hads", _encode(dict.fromkeys(KEYS, 0), coding), coding=coding, missing=missing)
    assert (low["anxiety"], low["depression"], low["anxiety_borderline_or_case"]) == (0.0, 0.0, False)
    high = score("hads", _encode(dict.fromkeys(KEYS, 3), coding), coding=coding, missing=missing)
    assert (high["anxiety"], high["depression"], high["depression_case"]) == (21.0, 21.0, True)


@pytest.mark.parametrize(
    ("total", "borderline", "case"), [(7, False, False), (8, True, False), (10, True, False), (11, True, True)]
)
def test_band_boundaries(total: int, borderline: bool, case: bool) -> None:
    items = [3] * (total // 3) + [total % 3] + [0] * 7
    anxiety = dict(zip(ANXIETY, items[:7], strict=True))
    out = score("hads", anxiety | dict(zip(DEPRESSION, items[:7], strict=True)))
    assert out["anxiety"] == out["depression"] == float(total)
    assert out["anxiety_borderline_or_case"] is out["depression_borderline_or_case"] is borderline
    assert out["anxiety_case"] is out["depression_case"] is case


def test_one_missing_item_without_imputation() -> None:
    answers = dict.fromkeys(KEYS, 1)
    del answers["14"]
    out = score_both("hads", answers)
    assert out["anxiety"] == 7.0 and out["depression"] is None and out["depression_case"] is None
    assert message("hads", answers) == (
        "hads: depression cannot be scored: item 14 unanswered; depression needs all 7 items (missing='none'; "
        "missing='half_rule' allows up to 3 unanswered); " + HINT
    )
    out = score("hads", answers, missing="half_rule")  # within the half rule's allowance: no error
    assert out["depression"] == 7.0 and out["n_imputed_depression"] == 1  # 6/6 x 7


def test_half_rule_needs_four_of_seven() -> None:
    four = {"2": 1, "4": 2, "6": 2, "8": 2}
    assert score_both("hads", four, missing="half_rule")["depression"] == 12.25  # 7/4 x 7
    assert "depression" not in message("hads", four, missing="half_rule")  # only anxiety (blank) is refused
    three = {"2": 1, "4": 2, "6": 2}
    assert score_both("hads", three, missing="half_rule")["depression"] is None
    assert score_both("hads", three, missing="half_rule")["n_imputed_depression"] == 0
    assert (
        "depression cannot be scored: items 8, 10, 12, 14 unanswered; depression needs at least 4 of its 7 items "
        "(missing='half_rule', Bell et al. 2016)"
    ) in message("hads", three, missing="half_rule")
    # within the allowance on both subscales: scored, no error
    assert score("hads", four | {"1": 1, "3": 1, "5": 1, "7": 1}, missing="half_rule")["anxiety"] == 7.0


def test_defaults_and_recorded_options() -> None:
    assert {o.name: o.default for o in get_instrument("hads").options} == {"coding": "scored", "missing": "none"}
    frame = score_frame("hads", pd.DataFrame([{"1": 1}]), coding="agreement", missing="half_rule", incomplete="missing")
    assert frame.attrs["options"] == {"coding": "agreement", "missing": "half_rule"}
    assert frame.attrs["incomplete"] == "missing"
    with pytest.raises(InstrumentError, match=r"^hads row 2: anxiety cannot be scored: items 3, 5, 7, 9, 11, 13 "):
        score_frame("hads", pd.DataFrame([{"1": 1}]), coding="agreement", missing="half_rule")


# --- properties --------------------------------------------------------------------------------

official = st.fixed_dictionaries({k: st.one_of(st.none(), st.integers(0, 3)) for k in KEYS})
codings = st.sampled_from(CODINGS)
missings = st.sampled_from(["none", "half_rule"])


@settings(max_examples=150, deadline=None)
@given(scores=official, coding=codings, missing=missings)
def test_every_coding_recovers_the_official_scores_within_range(
    scores: dict[str, Any], coding: str, missing: str
) -> None:
    out = score_both("hads", _encode(scores, coding), coding=coding, missing=missing)
    official, error = checked("hads", scores, missing=missing)
    assert out == official
    for scale, keys in (("anxiety", ANXIETY), ("depression", DEPRESSION)):
        answered = [scores[k] for k in keys if scores[k] is not None]
        value = out[scale]
        assert value is None or 0 <= value <= 21
        if len(answered) == 7:
            assert value == float(sum(answered))
        elif missing == "half_rule" and len(answered) >= 4:
            assert value == pytest.approx(sum(answered) / len(answered) * 7, rel=1e-12, abs=0)
            assert out[f"n_imputed_{scale}"] == 7 - len(answered)
        else:
            assert value is None and out[f"n_imputed_{scale}"] == 0
            if any(v is not None for v in scores.values()):  # (a blank form has its own message)
                assert error is not None and f"{scale} cannot be scored" in error


RANK = {False: 0, True: 1}


@settings(max_examples=200, deadline=None)
@given(scores=official, coding=codings, missing=missings, data=st.data())
def test_a_more_symptomatic_answer_never_gives_a_better_score(
    scores: dict[str, Any], coding: str, missing: str, data: st.DataObject
) -> None:
    # "worse" = a higher official score: a higher recorded number for items not reversed under
    # the coding, a lower recorded number for the reversed ones
    candidates = [k for k, v in scores.items() if v is not None and v < 3]
    if not candidates:
        return
    key = data.draw(st.sampled_from(candidates))
    worse = data.draw(st.integers(scores[key] + 1, 3))
    recorded, recorded_worse = _encode(scores, coding), _encode(scores | {key: worse}, coding)
    if key in REVERSED[coding]:
        assert recorded_worse[key] < recorded[key]
    else:
        assert recorded_worse[key] > recorded[key]
    before = score_both("hads", recorded, coding=coding, missing=missing)
    after = score_both("hads", recorded_worse, coding=coding, missing=missing)
    for name in COLUMNS:
        assert (before[name] is None) == (after[name] is None)
        if before[name] is not None:
            if isinstance(before[name], bool):
                assert RANK[after[name]] >= RANK[before[name]]
            else:
                assert after[name] >= before[name]


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("responses", "options", "parts"),
    [
        ({"15": 1}, {}, ["hads", "unknown item '15'", "1, 2, 3"]),
        ({"0": 1}, {}, ["hads", "unknown item '0'"]),
        ({"A1": 1}, {}, ["hads", "unknown item 'A1'"]),
        ({"1": 4}, {}, ["hads", "item 1 = 4", "out of range", "allowed: an integer 0..3"]),
        ({"14": -1}, {}, ["hads", "item 14 = -1", "out of range", "allowed: an integer 0..3"]),
        ({"6": 1.5}, {}, ["hads", "item 6 = 1.5", "not a whole number", "allowed: an integer 0..3"]),
        ({"3": "abc"}, {}, ["hads", "item 3 = 'abc'", "not a number", "allowed: an integer 0..3"]),
        ({"2": True}, {}, ["hads", "item 2 = True", "true/false", "allowed: an integer 0..3"]),
        ({"1": 1}, {"coding": "reversed"}, ["hads", "coding='reversed'", "scored, position, agreement"]),
        ({"1": 1}, {"missing": "mean"}, ["hads", "missing='mean'", "none, half_rule"]),
    ],
)
def test_bad_input_is_rejected_with_a_precise_message(
    responses: dict[str, Any], options: dict[str, str], parts: list[str]
) -> None:
    with pytest.raises(InstrumentError) as err:
        score("hads", responses, **options)
    for part in parts:
        assert part in str(err.value)


def test_bad_input_in_a_frame_names_the_row() -> None:
    data = pd.DataFrame({"1": [1, 2, 3, "x"]})
    with pytest.raises(InstrumentError, match=r"^hads row 5: item 1 = 'x' is not a number"):
        score_frame("hads", data)


# --- score_frame agrees with score -------------------------------------------------------------

FORMS = [
    {"1": 2, "3": 1, "5": 3, "7": 0, "9": 1, "11": 2, "13": 1}
    | {"2": 0, "4": 1, "6": 1, "8": 2, "10": 3, "12": 1, "14": 3},
    {"1": 2, "3": 1, "5": 3, "7": 0, "2": 3, "4": 3, "6": 3},
    {"2": 1, "4": 2, "6": 2, "8": 2, "10": 0, "12": 1},
    dict.fromkeys(KEYS, 3),
]


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("missing", ["none", "half_rule"])
def test_score_frame_wide_and_long_agree_with_score(coding: str, missing: str) -> None:
    expected = [score_both("hads", f, coding=coding, missing=missing) for f in FORMS]

    wide = pd.DataFrame([{"patient_id": f"P{i}", "visit": "D35"} | f for i, f in enumerate(FORMS)])
    got = frame_both("hads", wide, id_columns=["patient_id", "visit"], coding=coding, missing=missing)
    assert list(got.columns) == ["patient_id", "visit", *COLUMNS]
    for i, exp in enumerate(expected):
        assert {c: _plain(got.loc[i, c]) for c in COLUMNS} == exp

    long = pd.DataFrame(
        [
            {"patient_id": f"P{i}", "visit": "D35", "instrument": "hads", "item": k, "value": v}
            for i, f in enumerate(FORMS)
            for k, v in f.items()
        ]
    )
    expected_error = (
        r"^hads respondent patient_id=P1 visit=D35: .*depression cannot be scored: items 8, 10, 12, 14 unanswered; "
        r".*1 more respondent in these data is incomplete too"
    )
    with pytest.raises(InstrumentError, match=expected_error):
        score_frame("hads", long, coding=coding, missing=missing)
    got = score_frame("hads", long, coding=coding, missing=missing, incomplete="missing").set_index("patient_id")
    for i, exp in enumerate(expected):
        assert {c: _plain(got.loc[f"P{i}", c]) for c in COLUMNS} == exp

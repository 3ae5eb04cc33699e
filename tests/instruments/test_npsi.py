"""NPSI (Bouhassira et al., Pain 2004;108:248-57; docs/instruments/scoring-notes.md section 4)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketapain.errors import InstrumentError
from ketapain.instruments import get_instrument, score, score_frame

from incomplete import HINT, frame_both, message, score_both

INTENSITY = ["1", "2", "3", "5", "6", "8", "9", "10", "11", "12"]
SUBSCORES = {
    "burning_spontaneous": ["1"],
    "pressing_spontaneous": ["2", "3"],
    "paroxysmal": ["5", "6"],
    "evoked": ["8", "9", "10"],
    "paresthesia_dysesthesia": ["11", "12"],
}
COLUMNS = ["total", *SUBSCORES]


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


# --- the paper's formulas, by hand -------------------------------------------------------------


def test_paper_formulas_hand_calculation() -> None:
    # Bouhassira 2004: total = Q1+Q2+Q3+Q5+Q6+Q8+Q9+Q10+Q11+Q12 (0-100); sub-scores
    # Q1; (Q2+Q3)/2; (Q5+Q6)/2; (Q8+Q9+Q10)/3; (Q11+Q12)/2 (each 0-10).
    answers = {"1": 7, "2": 3, "3": 6, "4": 2, "5": 9, "6": 4, "7": 5, "8": 8, "9": 1, "10": 5, "11": 2, "12": 7}
    # total = 7 + 3 + 6 + 9 + 4 + 8 + 1 + 5 + 2 + 7 = 52 (items 4 and 7 are not scored)
    # burning = 7; pressing = (3 + 6)/2 = 4.5; paroxysmal = (9 + 4)/2 = 6.5;
    # evoked = (8 + 1 + 5)/3 = 14/3 = 4.666...; paresthesia/dysesthesia = (2 + 7)/2 = 4.5
    assert score("npsi", answers) == {
        "total": 52.0,
        "burning_spontaneous": 7.0,
        "pressing_spontaneous": 4.5,
        "paroxysmal": 6.5,
        "evoked": 14 / 3,
        "paresthesia_dysesthesia": 4.5,
    }


def test_subscores_are_unrounded() -> None:
    out = score_both("npsi", {"8": 1, "9": 0, "10": 0})
    assert out["evoked"] == 1 / 3 and out["total"] is None


# --- edge cases --------------------------------------------------------------------------------


def test_all_minimum_and_all_maximum() -> None:
    low = score("npsi", dict.fromkeys(INTENSITY, 0) | {"4": 1, "7": 1})
    assert low == dict.fromkeys(COLUMNS, 0.0)
    high = score("npsi", dict.fromkeys(INTENSITY, 10) | {"4": 5, "7": 5})
    assert high == dict.fromkeys(COLUMNS, 10.0) | {"total": 100.0}


def test_temporal_items_are_recorded_but_not_scored() -> None:
    base = dict.fromkeys(INTENSITY, 4)
    expected = score("npsi", base)
    for four in range(1, 6):
        for seven in range(1, 6):
            assert score("npsi", base | {"4": four, "7": seven}) == expected
    inst = get_instrument("npsi")
    assert [it.key for it in inst.items if not it.scored] == ["4", "7"]
    assert inst.options == ()


def test_each_score_needs_all_of_its_items() -> None:
    full = dict.fromkeys(INTENSITY, 5)
    for name, keys in SUBSCORES.items():
        for key in keys:
            answers = {k: v for k, v in full.items() if k != key}
            out = score_both("npsi", answers)
            assert out["total"] is None
            assert out[name] is None
            assert all(out[other] == 5.0 for other in SUBSCORES if other != name)
            # by default: refused, naming the total and the sub-score, the item and the rule
            text = message("npsi", answers)
            assert text.startswith(f"npsi: total cannot be scored: item {key} unanswered; total needs all 10 intensity items")
            assert f"; {name} cannot be scored: item {key} unanswered; {name} needs " in text
            assert sum(f"{other} cannot be scored" in text for other in SUBSCORES) == 1
    assert score_both("npsi", {}) == dict.fromkeys(COLUMNS)
    assert message("npsi", {}).startswith("npsi: the form is blank (no item answered)")
    assert message("npsi", {"4": 2, "7": 1}).startswith("npsi: no scored item is answered (only items 4, 7)")
    assert message("npsi", {k: 5 for k in INTENSITY if k not in ("8", "9")}) == (
        "npsi: total cannot be scored: items 8, 9 unanswered; total needs all 10 intensity items 1, 2, 3, 5, 6, "
        "8-12 (no published missing-item rule); evoked cannot be scored: items 8, 9 unanswered; evoked needs all 3 "
        "items 8, 9, 10 (no published missing-item rule); " + HINT
    )


# --- properties --------------------------------------------------------------------------------

forms = st.fixed_dictionaries(
    {k: st.one_of(st.none(), st.integers(0, 10)) for k in INTENSITY}
    | {"4": st.one_of(st.none(), st.integers(1, 5)), "7": st.one_of(st.none(), st.integers(1, 5))}
)


@settings(max_examples=150, deadline=None)
@given(form=forms)
def test_scores_within_range_and_total_is_the_weighted_subscores(form: dict[str, Any]) -> None:
    out = score_both("npsi", form)
    assert out["total"] is None or 0 <= out["total"] <= 100
    for name, keys in SUBSCORES.items():
        values = [form[k] for k in keys]
        if None in values:
            assert out[name] is None
        else:
            assert 0 <= out[name] <= 10
            assert out[name] == pytest.approx(sum(values) / len(keys), rel=1e-12, abs=0)
    if out["total"] is not None:
        weighted = sum(out[name] * len(keys) for name, keys in SUBSCORES.items())
        assert out["total"] == pytest.approx(weighted, rel=1e-12, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(form=forms, data=st.data())
def test_a_worse_rating_never_gives_a_better_score(form: dict[str, Any], data: st.DataObject) -> None:
    candidates = [k for k in INTENSITY if form[k] is not None and form[k] < 10]
    if not candidates:
        return
    key = data.draw(st.sampled_from(candidates))
    higher = data.draw(st.integers(form[key] + 1, 10))
    before, after = score_both("npsi", form), score_both("npsi", form | {key: higher})
    for name in COLUMNS:
        assert (before[name] is None) == (after[name] is None)
        if before[name] is not None:
            assert after[name] >= before[name]


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("responses", "options", "parts"),
    [
        ({"13": 1}, {}, ["npsi", "unknown item '13'", "1, 2, 3, 4"]),
        ({"Q1": 1}, {}, ["npsi", "unknown item 'Q1'"]),
        ({"1": 11}, {}, ["npsi", "item 1 = 11", "out of range", "allowed: an integer 0..10"]),
        ({"12": -2}, {}, ["npsi", "item 12 = -2", "out of range", "allowed: an integer 0..10"]),
        ({"9": 2.5}, {}, ["npsi", "item 9 = 2.5", "not a whole number", "allowed: an integer 0..10"]),
        ({"4": 0}, {}, ["npsi", "item 4 = 0", "out of range", "allowed: an integer 1..5"]),
        ({"7": 6}, {}, ["npsi", "item 7 = 6", "out of range", "allowed: an integer 1..5"]),
        ({"7": 1.5}, {}, ["npsi", "item 7 = 1.5", "not a whole number", "allowed: an integer 1..5"]),
        ({"5": "abc"}, {}, ["npsi", "item 5 = 'abc'", "not a number", "allowed: an integer 0..10"]),
        ({"2": True}, {}, ["npsi", "item 2 = True", "true/false", "allowed: an integer 0..10"]),
        ({"1": 1}, {"version": "short"}, ["npsi", "unknown option 'version'", "none"]),
    ],
)
def test_bad_input_is_rejected_with_a_precise_message(
    responses: dict[str, Any], options: dict[str, str], parts: list[str]
) -> None:
    with pytest.raises(InstrumentError) as err:
        score("npsi", responses, **options)
    for part in parts:
        assert part in str(err.value)


def test_bad_input_in_long_data_names_the_respondent() -> None:
    long = pd.DataFrame(
        {"patient_id": ["A", "B"], "visit": [1, 1], "instrument": ["npsi", "npsi"], "item": ["1", "4"], "value": [3, 9]}
    )
    expected = r"^npsi respondent patient_id=B visit=1: item 4 = 9\.0 is out of range; allowed: an integer 1\.\.5$"
    with pytest.raises(InstrumentError, match=expected):
        score_frame("npsi", long)


# --- score_frame agrees with score -------------------------------------------------------------

FORMS = [
    {"1": 7, "2": 3, "3": 6, "4": 2, "5": 9, "6": 4, "7": 5, "8": 8, "9": 1, "10": 5, "11": 2, "12": 7},
    {"1": 2, "2": 2, "8": 3, "9": 4, "10": 5},
    dict.fromkeys(INTENSITY, 10),
    {"11": 0, "12": 1, "4": 3},
]


def test_score_frame_wide_and_long_agree_with_score() -> None:
    expected = [score_both("npsi", f) for f in FORMS]

    wide = pd.DataFrame([{"subject": f"S{i}", "visit": 0} | f for i, f in enumerate(FORMS)])
    got = frame_both("npsi", wide, id_columns=["subject", "visit"])
    assert list(got.columns) == ["subject", "visit", *COLUMNS]
    for i, exp in enumerate(expected):
        assert {c: _plain(got.loc[i, c]) for c in COLUMNS} == exp

    long = pd.DataFrame(
        [
            {"patient_id": i, "visit": 3, "instrument": "npsi", "item": int(k), "value": v}
            for i, f in enumerate(FORMS)
            for k, v in f.items()
        ]
    )
    message = (r"^npsi respondent patient_id=1 visit=3: total cannot be scored: items 3, 5, 6, 11, 12 unanswered; .*; "
               r"1 more respondent in these data is incomplete too")
    with pytest.raises(InstrumentError, match=message):
        score_frame("npsi", long)
    got = score_frame("npsi", long, incomplete="missing").set_index("patient_id")
    for i, exp in enumerate(expected):
        assert {c: _plain(got.loc[i, c]) for c in COLUMNS} == exp

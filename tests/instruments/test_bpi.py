"""BPI short form (Cleeland, The Brief Pain Inventory User Guide, 2009; docs/instruments/scoring-notes.md section 2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketapain.errors import InstrumentError
from ketapain.instruments import get_instrument, score, score_frame

from incomplete import HINT, checked, frame_both, message, score_both

SEVERITY = ["3", "4", "5", "6"]
INTERFERENCE = ["9a", "9b", "9c", "9d", "9e", "9f", "9g"]
KEYS = [*SEVERITY, "8", *INTERFERENCE]
SCORES = [
    "worst",
    "least",
    "average",
    "now",
    "severity_mean",
    "interference_mean",
    "interference_affective",
    "interference_activity",
    "relief_pct",
]
COLUMNS = [*SCORES, "least_gt_worst", "n_interference_answered"]


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


# --- the User Guide's rules, by hand -----------------------------------------------------------


def test_user_guide_complete_form() -> None:
    # BPI User Guide: severity items reported as they are, composite = mean of items 3-6;
    # interference = mean of 9A-9G; relief = item 8 in percent.
    answers = {"3": 7, "4": 2, "5": 4, "6": 3, "8": 60, "9a": 5, "9b": 3, "9c": 6, "9d": 8, "9e": 2, "9f": 9, "9g": 4}
    out = score("bpi", answers)
    assert out == {
        "worst": 7.0,
        "least": 2.0,
        "average": 4.0,
        "now": 3.0,
        "severity_mean": 4.0,  # (7 + 2 + 4 + 3) / 4 = 16 / 4
        "interference_mean": 37 / 7,  # (5 + 3 + 6 + 8 + 2 + 9 + 4) / 7
        "interference_affective": 3.0,  # mood, relations, enjoyment: (3 + 2 + 4) / 3
        "interference_activity": 19 / 3,  # activity, walking, work: (5 + 6 + 8) / 3
        "relief_pct": 60.0,
        "least_gt_worst": False,
        "n_interference_answered": 7,
    }
    # sleep in the activity subscore: (5 + 6 + 8 + 9) / 4 = 7
    assert score("bpi", answers, sleep="in_activity")["interference_activity"] == 7.0


def test_user_guide_interference_needs_more_than_half() -> None:
    # BPI User Guide (paraphrased): when more than 50% of the interference items (4 of 7) are
    # answered, the interference score is the mean of the answered items; otherwise none
    four = {"9a": 2, "9b": 4, "9c": 6, "9f": 9}
    out = score_both("bpi", four)
    assert out["interference_mean"] == 21 / 4  # (2 + 4 + 6 + 9) / 4, not divided by 7
    assert out["n_interference_answered"] == 4
    assert "interference_mean" not in message("bpi", four)  # 4 of 7 is allowed (other scores are not)
    three = {"9a": 2, "9b": 4, "9c": 6}
    out = score_both("bpi", three)
    assert out["interference_mean"] is None and out["n_interference_answered"] == 3
    # by default, fewer than 4 answered is refused, naming the score, the blank items and the rule
    assert (
        "interference_mean cannot be scored: items 9d, 9e, 9f, 9g unanswered; interference_mean needs at least 4 "
        "of the 7 interference items 9a-9g (User Guide: more than 50%)"
    ) in message("bpi", three)


# --- edge cases --------------------------------------------------------------------------------


@pytest.mark.parametrize("sleep", ["excluded", "in_activity"])
def test_all_minimum_and_all_maximum(sleep: str) -> None:
    low = score("bpi", dict.fromkeys(KEYS, 0), sleep=sleep)
    assert {k: low[k] for k in SCORES} == dict.fromkeys(SCORES, 0.0)
    high = score("bpi", dict.fromkeys(KEYS, 10) | {"8": 100}, sleep=sleep)
    assert {k: high[k] for k in SCORES} == dict.fromkeys(SCORES, 10.0) | {"relief_pct": 100.0}
    assert low["least_gt_worst"] is False and high["least_gt_worst"] is False


def test_empty_form() -> None:
    assert score("bpi", {}, incomplete="missing") == dict.fromkeys(COLUMNS) | {"n_interference_answered": 0}
    assert score_both("bpi", {}) == dict.fromkeys(COLUMNS) | {"n_interference_answered": 0}
    assert message("bpi", {}).startswith("bpi: the form is blank (no item answered)")


def test_severity_mean_needs_all_four() -> None:
    out = score_both("bpi", {"3": 8, "4": 2, "5": 5})
    assert out["severity_mean"] is None
    assert (out["worst"], out["least"], out["average"], out["now"]) == (8.0, 2.0, 5.0, None)
    text = message("bpi", {"3": 8, "4": 2, "5": 5})
    assert "now cannot be scored: item 6 unanswered; now needs item 6" in text
    assert "severity_mean cannot be scored: item 6 unanswered; severity_mean needs all 4 severity items" in text
    assert "worst cannot" not in text and "least cannot" not in text and "average cannot" not in text


def test_subscores_need_two_of_three() -> None:
    out = score_both("bpi", {"9b": 3, "9g": 6, "9a": 4, "9f": 10})
    assert out["interference_affective"] == 4.5  # (3 + 6) / 2
    assert out["interference_activity"] is None  # only 9a of 9a, 9c, 9d
    assert out["interference_mean"] == 23 / 4
    assert (
        "interference_activity cannot be scored: items 9c, 9d unanswered; interference_activity needs at least 2 "
        "of its 3 items 9a, 9c, 9d (sleep='excluded')"
    ) in message("bpi", {"9b": 3, "9g": 6, "9a": 4, "9f": 10})
    out = score_both("bpi", {"9e": 3, "9c": 4, "9d": 7})
    assert out["interference_affective"] is None and out["interference_activity"] == 5.5
    assert (
        "interference_affective cannot be scored: items 9b, 9g unanswered; interference_affective needs at least 2 "
        "of its 3 items 9b, 9e, 9g"
    ) in message("bpi", {"9e": 3, "9c": 4, "9d": 7})


def test_sleep_in_activity_needs_three_of_four() -> None:
    three = {"9a": 2, "9c": 4, "9f": 9}
    assert score_both("bpi", three, sleep="in_activity")["interference_activity"] == 5.0  # 15 / 3
    assert score_both("bpi", three)["interference_activity"] == 3.0  # sleep excluded: (2 + 4) / 2
    two = {"9a": 2, "9f": 9}
    assert score_both("bpi", two, sleep="in_activity")["interference_activity"] is None
    assert score_both("bpi", two)["interference_activity"] is None  # 1 of 3
    # the message states the rule of the option that ran (9f is not an item of the activity
    # subscore under sleep='excluded', so it is not listed there)
    assert (
        "interference_activity cannot be scored: items 9c, 9d unanswered; interference_activity needs at least 3 "
        "of its 4 items 9a, 9c, 9d, 9f (sleep='in_activity')"
    ) in message("bpi", two, sleep="in_activity")
    assert (
        "interference_activity cannot be scored: items 9c, 9d unanswered; interference_activity needs at least 2 "
        "of its 3 items 9a, 9c, 9d (sleep='excluded')"
    ) in message("bpi", two)


def test_sleep_stays_in_the_seven_item_mean_under_both_options() -> None:
    answers = dict.fromkeys(INTERFERENCE, 2) | {"9f": 9}
    for sleep in ("excluded", "in_activity"):
        assert score_both("bpi", answers, sleep=sleep)["interference_mean"] == 3.0  # (6*2 + 9) / 7
    assert score_both("bpi", answers)["interference_affective"] == 2.0


def test_least_above_worst_is_scored_and_flagged() -> None:
    out = score_both("bpi", {"3": 3, "4": 6, "5": 4, "6": 4})
    assert out["least_gt_worst"] is True and out["severity_mean"] == 4.25
    assert score_both("bpi", {"3": 5, "4": 5})["least_gt_worst"] is False
    assert score_both("bpi", {"4": 5})["least_gt_worst"] is None
    complete = dict.fromkeys(KEYS, 0) | {"3": 3, "4": 6}
    assert score("bpi", complete)["least_gt_worst"] is True  # a complete form: no error by default


def test_relief_steps() -> None:
    for pct in range(0, 101, 10):
        assert score_both("bpi", {"8": pct})["relief_pct"] == float(pct)
        assert score("bpi", dict.fromkeys(KEYS, 0) | {"8": pct})["relief_pct"] == float(pct)
    assert score_both("bpi", {"8": "30"})["relief_pct"] == 30.0
    assert "relief_pct cannot be scored: item 8 unanswered; relief_pct needs item 8" in message("bpi", {"3": 1})


def test_option_default_is_excluded() -> None:
    assert {o.name: o.default for o in get_instrument("bpi").options} == {"sleep": "excluded"}
    assert score_frame("bpi", pd.DataFrame([{"3": 1}]), sleep="in_activity", incomplete="missing").attrs["options"] == {
        "sleep": "in_activity"
    }
    with pytest.raises(InstrumentError, match=r"^bpi row 2: least cannot be scored: item 4 unanswered"):
        score_frame("bpi", pd.DataFrame([{"3": 1}]), sleep="in_activity")
    complete = pd.DataFrame([dict.fromkeys(KEYS, 1) | {"8": 10}])
    assert score_frame("bpi", complete, sleep="in_activity").attrs["options"] == {"sleep": "in_activity"}


# --- properties --------------------------------------------------------------------------------

rating = st.one_of(st.none(), st.integers(0, 10))
forms = st.fixed_dictionaries(
    dict.fromkeys([*SEVERITY, *INTERFERENCE], rating)
    | {"8": st.one_of(st.none(), st.integers(0, 10).map(lambda x: x * 10))}
)
sleeps = st.sampled_from(["excluded", "in_activity"])


@settings(max_examples=150, deadline=None)
@given(form=forms, sleep=sleeps)
def test_scores_within_range_and_means_as_defined(form: dict[str, Any], sleep: str) -> None:
    out, error = checked("bpi", form, sleep=sleep)
    for name in SCORES:
        hi = 100 if name == "relief_pct" else 10
        assert out[name] is None or 0 <= out[name] <= hi
    answered = [form[k] for k in INTERFERENCE if form[k] is not None]
    assert out["n_interference_answered"] == len(answered)
    if len(answered) >= 4:
        assert out["interference_mean"] == pytest.approx(np.mean(answered), rel=1e-12, abs=0)
    else:
        assert out["interference_mean"] is None
        if any(v is not None for v in form.values()):  # (a blank form has its own message)
            assert error is not None and "interference_mean cannot be scored" in error
    severity = [form[k] for k in SEVERITY]
    if None in severity:
        assert out["severity_mean"] is None
    else:
        assert out["severity_mean"] == pytest.approx(sum(severity) / 4, rel=1e-12, abs=0)


@settings(max_examples=150, deadline=None)
@given(form=forms, sleep=sleeps, data=st.data())
def test_a_worse_rating_never_gives_a_better_score(form: dict[str, Any], sleep: str, data: st.DataObject) -> None:
    # every item: a higher number is worse pain/interference (or, for 8, more relief: the score
    # is the item itself, so it moves with it); no score may move the other way
    answered = [k for k, v in form.items() if v is not None]
    if not answered:
        return
    key = data.draw(st.sampled_from(answered))
    top = 100 if key == "8" else 10
    step = 10 if key == "8" else 1
    if form[key] == top:
        return
    higher = data.draw(st.integers(form[key] // step + 1, top // step)) * step
    before = score_both("bpi", form, sleep=sleep)
    after = score_both("bpi", form | {key: higher}, sleep=sleep)
    for name in SCORES:
        assert (before[name] is None) == (after[name] is None)
        if before[name] is not None:
            assert after[name] >= before[name]


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("responses", "options", "parts"),
    [
        ({"9h": 1}, {}, ["bpi", "unknown item '9h'", "9a", "9g"]),
        ({"9A": 1}, {}, ["bpi", "unknown item '9A'", "9a"]),
        ({"1": 1}, {}, ["bpi", "unknown item '1'", "3, 4, 5, 6, 8"]),
        ({"7": 1}, {}, ["bpi", "unknown item '7'"]),
        ({"3": 11}, {}, ["bpi", "item 3 = 11", "out of range", "allowed: an integer 0..10"]),
        ({"9c": -1}, {}, ["bpi", "item 9c = -1", "out of range", "allowed: an integer 0..10"]),
        ({"5": 4.5}, {}, ["bpi", "item 5 = 4.5", "not a whole number", "allowed: an integer 0..10"]),
        ({"6": "abc"}, {}, ["bpi", "item 6 = 'abc'", "not a number", "allowed: an integer 0..10"]),
        ({"9g": True}, {}, ["bpi", "item 9g = True", "true/false", "allowed: an integer 0..10"]),
        ({"8": 35}, {}, ["bpi", "item 8 = 35", "steps", "allowed: 0..100 in steps of 10"]),
        ({"8": 110}, {}, ["bpi", "item 8 = 110", "out of range", "allowed: 0..100 in steps of 10"]),
        ({"8": -10}, {}, ["bpi", "item 8 = -10", "out of range", "allowed: 0..100 in steps of 10"]),
        ({"8": "50%"}, {}, ["bpi", "item 8 = '50%'", "not a number", "allowed: 0..100 in steps of 10"]),
        ({"8": False}, {}, ["bpi", "item 8 = False", "true/false"]),
        ({"3": 1}, {"sleep": "both"}, ["bpi", "sleep='both'", "excluded, in_activity"]),
    ],
)
def test_bad_input_is_rejected_with_a_precise_message(
    responses: dict[str, Any], options: dict[str, str], parts: list[str]
) -> None:
    with pytest.raises(InstrumentError) as err:
        score("bpi", responses, **options)
    for part in parts:
        assert part in str(err.value)


def test_bad_input_in_a_frame_names_the_row() -> None:
    data = pd.DataFrame({"id": [1, 2, 3], "9d": [1, 2, 12]})
    with pytest.raises(InstrumentError, match=r"^bpi row 4: item 9d = 12 is out of range"):
        score_frame("bpi", data, id_columns=["id"])


# --- score_frame agrees with score -------------------------------------------------------------

FORMS = [
    {"3": 7, "4": 2, "5": 4, "6": 3, "8": 60, "9a": 5, "9b": 3, "9c": 6, "9d": 8, "9e": 2, "9f": 9, "9g": 4},
    {"3": 2, "4": 5, "9a": 1, "9c": 2, "9f": 3},
    {"8": 0, "9b": 10, "9e": 10, "9g": 0, "9d": 4},
    dict.fromkeys(KEYS, 10) | {"8": 100},
]


@pytest.mark.parametrize("sleep", ["excluded", "in_activity"])
def test_score_frame_wide_and_long_agree_with_score(sleep: str) -> None:
    expected = [score_both("bpi", f, sleep=sleep) for f in FORMS]

    wide = pd.DataFrame([{"patient_id": f"P{i}"} | f for i, f in enumerate(FORMS)])
    got = frame_both("bpi", wide, id_columns=["patient_id"], sleep=sleep)  # row 3 (P1) is the first incomplete
    assert list(got.columns) == ["patient_id", *COLUMNS]
    for i, exp in enumerate(expected):
        assert {c: _plain(got.loc[i, c]) for c in COLUMNS} == exp

    long = pd.DataFrame(
        [
            {"patient_id": f"P{i}", "visit": "V1", "instrument": "bpi", "item": k, "value": v}
            for i, f in enumerate(FORMS)
            for k, v in f.items()
        ]
        + [{"patient_id": "P1", "visit": "V1", "instrument": "hads", "item": "1", "value": 2}]
    )
    with pytest.raises(InstrumentError) as err:
        score_frame("bpi", long, sleep=sleep)
    assert str(err.value).startswith("bpi respondent patient_id=P1 visit=V1: average cannot be scored: item 5 unanswered")
    assert "; 1 more respondent in these data is incomplete too; " + HINT in str(err.value)
    got = score_frame("bpi", long, sleep=sleep, incomplete="missing")
    assert got.attrs["incomplete"] == "missing"
    assert list(got.columns) == ["patient_id", "visit", *COLUMNS]
    got = got.set_index("patient_id")
    for i, exp in enumerate(expected):
        assert {c: _plain(got.loc[f"P{i}", c]) for c in COLUMNS} == exp

"""DN4 (Bouhassira et al., Pain 2005;114:29-36): yes = 1, no = 0; total 0-10, neuropathic >= 4;
DN4-interview items 1-7, total 0-7, neuropathic >= 3 (docs/instruments/scoring-notes.md section 1)."""

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

KEYS = [str(i) for i in range(1, 11)]
INTERVIEW = KEYS[:7]
COLUMNS = ["total", "neuropathic", "neuropathic_deduced", "n_positive", "n_missing"]


def _form(positive: set[int], keys: list[str] = KEYS) -> dict[str, int]:
    return {k: int(int(k) in positive) for k in keys}


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


# --- the paper's scoring rule, by hand -------------------------------------------------------


def test_paper_cutoff_four_of_ten() -> None:
    # Bouhassira 2005: yes = 1, no = 0, total = sum; neuropathic if total >= 4.
    # burning (1), electric shocks (3), tingling (4) and hypoesthesia to pinprick (9) -> 1+1+1+1 = 4
    out = score("dn4", _form({1, 3, 4, 9}))
    assert out == {"total": 4.0, "neuropathic": True, "neuropathic_deduced": True, "n_positive": 4, "n_missing": 0}
    # one fewer positive: 3 < 4
    out = score("dn4", _form({1, 3, 4}))
    assert out["total"] == 3.0 and out["neuropathic"] is False and out["neuropathic_deduced"] is False


def test_interview_cutoff_three_of_seven() -> None:
    # DN4-interview (items 1-7 only): neuropathic if total >= 3
    assert score("dn4", _form({2, 5, 6}, INTERVIEW), version="interview") == {
        "total": 3.0,
        "neuropathic": True,
        "neuropathic_deduced": True,
        "n_positive": 3,
        "n_missing": 0,
    }
    out = score("dn4", _form({2, 5}, INTERVIEW), version="interview")
    assert out["total"] == 2.0 and out["neuropathic"] is False


# --- edge cases --------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "keys", "maximum"), [("full", KEYS, 10), ("interview", INTERVIEW, 7)])
def test_all_minimum_and_all_maximum(version: str, keys: list[str], maximum: int) -> None:
    low = score("dn4", dict.fromkeys(keys, 0), version=version)
    assert low["total"] == 0.0 and low["neuropathic"] is False and low["n_missing"] == 0
    high = score("dn4", dict.fromkeys(keys, 1), version=version)
    assert high["total"] == float(maximum) and high["neuropathic"] is True and high["n_positive"] == maximum


def test_empty_form_scores_nothing() -> None:
    assert score_both("dn4", {}) == {
        "total": None,
        "neuropathic": None,
        "neuropathic_deduced": None,
        "n_positive": 0,
        "n_missing": 10,
    }
    assert message("dn4", {}) == (
        "dn4: the form is blank (no item answered), so none of its scores (total, neuropathic) can be computed; "
        + HINT
    )


def test_one_missing_item_leaves_total_missing() -> None:
    answers = _form({1, 2, 3})
    del answers["10"]
    out = score_both("dn4", answers)
    assert out["total"] is None and out["neuropathic"] is None and out["n_missing"] == 1
    # 3 positives + 1 missing = 4 could still reach the cut-off: undecided
    assert out["neuropathic_deduced"] is None
    # by default the paper's lack of any allowance is enforced: one blank item is refused
    assert message("dn4", answers) == (
        "dn4: total cannot be scored: item 10 unanswered; total needs all 10 items of version='full' (the paper "
        "has no missing-item rule); neuropathic cannot be scored: item 10 unanswered; neuropathic needs all 10 "
        "items of version='full' (the paper has no missing-item rule) (the report neuropathic_deduced says whether "
        "the answered items already decide it); " + HINT
    )


def test_deduction_boundaries_full() -> None:
    # 4 positives, 6 missing: neuropathic whatever is missing
    out = score_both("dn4", {"1": 1, "2": 1, "3": 1, "4": 1})
    assert out["neuropathic_deduced"] is True and out["total"] is None and out["n_missing"] == 6
    # 0 positives, 3 missing (None counts as missing): 0 + 3 < 4 -> not neuropathic
    answers: dict[str, Any] = dict.fromkeys(KEYS[:7], 0) | {"8": None, "9": None, "10": None}
    out = score_both("dn4", answers)
    assert out["neuropathic_deduced"] is False and out["n_missing"] == 3 and out["neuropathic"] is None
    assert "total cannot be scored: items 8, 9, 10 unanswered" in message("dn4", answers)
    # 0 positives, 4 missing: 0 + 4 = 4 -> undecided
    out = score_both("dn4", dict.fromkeys(KEYS[:6], 0))
    assert out["neuropathic_deduced"] is None and out["n_missing"] == 4
    # 3 positives among answered, 0 missing would be False; with 1 missing undecided (above)


def test_deduction_boundaries_interview() -> None:
    out = score_both("dn4", {"1": 1, "2": 1, "3": 1}, version="interview")
    assert out["neuropathic_deduced"] is True and out["n_missing"] == 4
    out = score_both("dn4", {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}, version="interview")  # 1 + 2 missing = 3
    assert out["neuropathic_deduced"] is None
    out = score_both("dn4", {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0}, version="interview")  # 1 + 1 < 3
    assert out["neuropathic_deduced"] is False
    # the interview version's own items and rule: the examination items 8-10 are not "unanswered"
    assert message("dn4", {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0}, version="interview").startswith(
        "dn4: total cannot be scored: item 7 unanswered; total needs all 7 items of version='interview'"
    )


def test_values_as_floats_and_strings_are_accepted() -> None:
    assert score("dn4", dict.fromkeys(KEYS, "1"))["total"] == 10.0
    assert score("dn4", dict.fromkeys(KEYS, 0.0))["total"] == 0.0


def test_option_default_is_full_and_recorded() -> None:
    inst = get_instrument("dn4")
    assert {o.name: o.default for o in inst.options} == {"version": "full"}
    frame = score_frame("dn4", pd.DataFrame([_form({1})]))
    assert frame.attrs["options"] == {"version": "full"} and frame.attrs["incomplete"] == "error"
    frame = score_frame("dn4", pd.DataFrame([_form({1}, INTERVIEW)]), version="interview")
    assert frame.attrs["options"] == {"version": "interview"}


# --- properties --------------------------------------------------------------------------------

answer = st.one_of(st.none(), st.sampled_from([0, 1]))
full_forms = st.fixed_dictionaries(dict.fromkeys(KEYS, answer))
interview_forms = st.fixed_dictionaries(dict.fromkeys(INTERVIEW, answer))


@settings(max_examples=150, deadline=None)
@given(form=full_forms, version=st.sampled_from(["full", "interview"]))
def test_scores_within_range(form: dict[str, Any], version: str) -> None:
    keys = KEYS if version == "full" else INTERVIEW
    form = {k: form[k] for k in keys}
    out, error = checked("dn4", form, version=version)
    missing = sum(v is None for v in form.values())
    positives = sum(v == 1 for v in form.values())
    assert out["n_missing"] == missing and out["n_positive"] == positives
    if missing:
        assert out["total"] is None and out["neuropathic"] is None
        assert error is not None  # refused by default
    else:
        assert 0 <= out["total"] <= len(keys) and out["total"] == positives
        assert out["neuropathic_deduced"] is out["neuropathic"]
        assert error is None


RANK = {False: 0, None: 1, True: 2}


@settings(max_examples=150, deadline=None)
@given(form=full_forms, data=st.data(), version=st.sampled_from(["full", "interview"]))
def test_a_positive_answer_never_lowers_the_result(form: dict[str, Any], data: st.DataObject, version: str) -> None:
    keys = KEYS if version == "full" else INTERVIEW
    form = {k: form[k] for k in keys}
    negatives = [k for k, v in form.items() if v == 0]
    if not negatives:
        return
    key = data.draw(st.sampled_from(negatives))
    before = score_both("dn4", form, version=version)
    after = score_both("dn4", form | {key: 1}, version=version)
    if before["total"] is not None:
        assert after["total"] == before["total"] + 1
        assert RANK[after["neuropathic"]] >= RANK[before["neuropathic"]]
    assert RANK[after["neuropathic_deduced"]] >= RANK[before["neuropathic_deduced"]]


@settings(max_examples=150, deadline=None)
@given(form=full_forms, fill=st.lists(st.sampled_from([0, 1]), min_size=10, max_size=10))
def test_deduction_agrees_with_every_completion(form: dict[str, Any], fill: list[int]) -> None:
    out = score_both("dn4", form)
    completed = {k: (fill[i] if v is None else v) for i, (k, v) in enumerate(form.items())}
    full = score("dn4", completed)
    if out["neuropathic_deduced"] is not None:
        assert full["neuropathic"] is out["neuropathic_deduced"]
    else:  # undecided: all-missing-negative and all-missing-positive completions disagree
        lo = score("dn4", {k: (0 if v is None else v) for k, v in form.items()})
        hi = score("dn4", {k: (1 if v is None else v) for k, v in form.items()})
        assert lo["neuropathic"] is False and hi["neuropathic"] is True


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("responses", "options", "parts"),
    [
        ({"11": 1}, {}, ["dn4", "unknown item '11'", "1, 2, 3"]),
        ({"Q1": 1}, {}, ["dn4", "unknown item 'Q1'"]),
        ({"1": 2}, {}, ["dn4", "item 1 = 2", "allowed: one of 0, 1"]),
        ({"2": -1}, {}, ["dn4", "item 2 = -1", "allowed: one of 0, 1"]),
        ({"3": 0.5}, {}, ["dn4", "item 3 = 0.5", "allowed: one of 0, 1"]),
        ({"4": "abc"}, {}, ["dn4", "item 4 = 'abc'", "not a number", "allowed: one of 0, 1"]),
        ({"5": "yes"}, {}, ["dn4", "item 5 = 'yes'", "not a number", "allowed: one of 0, 1"]),
        ({"6": True}, {}, ["dn4", "item 6 = True", "true/false", "allowed: one of 0, 1"]),
        ({"7": float("inf")}, {}, ["dn4", "item 7 = inf", "allowed: one of 0, 1"]),
        ({"1": 1, "8": 1}, {"version": "interview"}, ["dn4", "item 8 = 1", "examination", "items 1-7"]),
        ({"9": 0}, {"version": "interview"}, ["dn4", "item 9 = 0", "examination", "items 1-7"]),
        ({"10": 1}, {"version": "interview"}, ["dn4", "item 10 = 1", "examination", "items 1-7"]),
        ({"1": 1}, {"version": "short"}, ["dn4", "version='short'", "full, interview"]),
        ({"1": 1}, {"cutoff": "3"}, ["dn4", "unknown option 'cutoff'", "version"]),
    ],
)
def test_bad_input_is_rejected_with_a_precise_message(
    responses: dict[str, Any], options: dict[str, str], parts: list[str]
) -> None:
    with pytest.raises(InstrumentError) as err:
        score("dn4", responses, **options)
    for part in parts:
        assert part in str(err.value)


def test_bad_input_in_a_frame_names_the_row() -> None:
    data = pd.DataFrame({"patient_id": ["P1", "P2"], "1": [1, 3]})
    with pytest.raises(InstrumentError, match=r"^dn4 row 3: item 1 = 3 .*allowed: one of 0, 1"):
        score_frame("dn4", data, id_columns=["patient_id"])
    data = pd.DataFrame({"1": [1, 1], "8": [None, 0]})
    with pytest.raises(InstrumentError, match=r"^dn4 row 3: item 8 = 0 is an examination item"):
        score_frame("dn4", data, version="interview")


# --- score_frame agrees with score -------------------------------------------------------------

FORMS = [
    _form({1, 2, 3, 4}),
    _form(set()),
    {"1": 1, "2": 1, "3": 1, "4": 1},
    {"1": 0, "5": 1},
    _form(set(range(1, 11))),
]


@pytest.mark.parametrize("version", ["full", "interview"])
def test_score_frame_wide_and_long_agree_with_score(version: str) -> None:
    keys = KEYS if version == "full" else INTERVIEW
    forms = [{k: v for k, v in f.items() if k in keys} for f in FORMS]
    expected = [score_both("dn4", f, version=version) for f in forms]

    wide = pd.DataFrame([{"patient_id": f"P{i}", "visit": 1} | f for i, f in enumerate(forms)])
    got = frame_both("dn4", wide, id_columns=["patient_id", "visit"], version=version)
    assert list(got.columns) == ["patient_id", "visit", *COLUMNS]
    assert list(got["patient_id"]) == [f"P{i}" for i in range(len(forms))]
    for i, exp in enumerate(expected):
        assert {c: _plain(got.loc[i, c]) for c in COLUMNS} == exp

    long = pd.DataFrame(
        [
            {"patient_id": f"P{i}", "visit": 2, "instrument": "DN4", "item": k, "value": float(v)}
            for i, f in enumerate(forms)
            for k, v in f.items()
        ]
        + [{"patient_id": "P0", "visit": 2, "instrument": "nrs", "item": "1", "value": 7.0}]
    )
    with pytest.raises(InstrumentError, match=r"^dn4 respondent patient_id=P2 visit=2: total cannot be scored: items "):
        score_frame("dn4", long, version=version)
    got = score_frame("dn4", long, version=version, incomplete="missing").set_index("patient_id")
    for i, exp in enumerate(expected):
        assert {c: _plain(got.loc[f"P{i}", c]) for c in COLUMNS} == exp

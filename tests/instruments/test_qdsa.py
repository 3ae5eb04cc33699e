"""QDSA: structure (Boureau 1984: 58 words, 16 subclasses), hand-computed examples in both modes,
the reference study's ~99/53/47 arithmetic, blanks, properties, rejections, score_frame."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketapain.errors import InstrumentError
from ketapain.instruments import get_instrument, score, score_frame
from ketapain.instruments.qdsa import INSTRUMENT as QDSA

from incomplete import HINT, frame_both, message, score_both

SIZES = {"A": 6, "B": 2, "C": 5, "D": 6, "E": 6, "F": 2, "G": 2, "H": 3, "I": 3,
         "J": 3, "K": 3, "L": 3, "M": 5, "N": 4, "O": 3, "P": 2}
SENSORY = [f"{s}{i}" for s in "ABCDEFGHI" for i in range(1, SIZES[s] + 1)]
AFFECTIVE = [f"{s}{i}" for s in "JKLMNOP" for i in range(1, SIZES[s] + 1)]
ALL = SENSORY + AFFECTIVE
REPORTED = ("sensory", "affective", "total", "n_words_rated")


def assert_message(err: pytest.ExceptionInfo[InstrumentError], *parts: str) -> None:
    msg = str(err.value)
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"


# ---------------------------------------------------------------------------------------------
# Structure (Boureau 1984; docs/instruments/scoring-notes.md 3b, sizes to be verified against the licensed form)


def test_structure() -> None:
    assert get_instrument("qdsa") is QDSA
    assert QDSA.item_keys == tuple(ALL)
    assert len(SENSORY) == 35 and len(AFFECTIVE) == 23 and len(ALL) == 58
    assert all(it.minimum == 0 and it.maximum == 4 and it.kind == "integer" for it in QDSA.items)
    assert not any(it.required for it in QDSA.items)  # a blank word counts 0
    ranges = {s.name: (s.minimum, s.maximum) for s in QDSA.scores}
    assert ranges == {"sensory": (0, 140), "affective": (0, 92), "total": (0, 232)}
    assert [o.name for o in QDSA.options] == ["mode"]
    assert QDSA.options[0].default == "all_words"


# ---------------------------------------------------------------------------------------------
# Hand-computed examples (Boureau 1984 rules: each word 0-4, sensory = A-I, affective = J-P)


def test_worked_example_all_words() -> None:
    # sensory: A1 3 + A4 2 + C5 4 + I3 1 = 10; affective: J2 4 + M1 1 + M5 2 + N4 3 + P2 1 = 11
    # total = 21; 9 words rated above 0 (B1 = 0 is answered but not rated)
    answers = {"A1": 3, "A4": 2, "B1": 0, "C5": 4, "I3": 1, "J2": 4, "M1": 1, "M5": 2, "N4": 3, "P2": 1}
    assert score(QDSA, answers) == {"sensory": 10, "affective": 11, "total": 21, "n_words_rated": 9}


def test_worked_example_one_per_subclass() -> None:
    # one word per subclass: A2 4, B1 3, D6 2, H3 1 -> sensory 10; K1 2, N3 4 -> affective 6
    answers = {"A2": 4, "B1": 3, "D6": 2, "H3": 1, "K1": 2, "N3": 4, "D1": 0, "D2": 0}
    r = score(QDSA, answers, mode="one_per_subclass")
    assert r == {"sensory": 10, "affective": 6, "total": 16, "n_words_rated": 6}
    assert score(QDSA, answers, mode="all_words") == r  # the sums do not depend on the mode


def test_reference_study_means_need_the_all_words_form() -> None:
    # Pickering 2020 reports about 99 (global), 53 (sensory), 47 (affective).
    # Maxima: MPQ PRI-T 78 and PRI-A 14; classical QDSA total 64, sensory 36, affective 28;
    # all-words QDSA 232, 140, 92. Only the last can hold them: 53/140 = 38 %, 47/92 = 51 %,
    # and 53 + 47 = 100 ~ 99.
    classical = score(QDSA, {f"{s}1": 4 for s in SIZES}, mode="one_per_subclass")
    assert (classical["sensory"], classical["affective"], classical["total"]) == (36, 28, 64)
    assert classical["total"] < 99 and classical["affective"] < 47  # and MPQ: 78 < 99, 14 < 47
    assert round(100 * 53 / 140) == 38 and round(100 * 47 / 92) == 51
    # a respondent at the reference means, all words mode: 13 sensory words at 4 + one at 1
    # (53) and 11 affective words at 4 + one at 3 (47)
    answers = dict.fromkeys(SENSORY[:13], 4) | {SENSORY[13]: 1}
    answers |= dict.fromkeys(AFFECTIVE[:11], 4) | {AFFECTIVE[11]: 3}
    r = score(QDSA, answers)
    assert (r["sensory"], r["affective"], r["total"], r["n_words_rated"]) == (53, 47, 100, 26)
    with pytest.raises(InstrumentError):  # impossible with one word per subclass
        score(QDSA, answers, mode="one_per_subclass")


# ---------------------------------------------------------------------------------------------
# Edge cases


@pytest.mark.parametrize("mode", ["all_words", "one_per_subclass"])
def test_all_minimum(mode: str) -> None:
    assert score(QDSA, dict.fromkeys(ALL, 0), mode=mode) == {
        "sensory": 0, "affective": 0, "total": 0, "n_words_rated": 0}


def test_all_maximum_all_words() -> None:
    # 35 x 4 = 140, 23 x 4 = 92, 232
    assert score(QDSA, dict.fromkeys(ALL, 4)) == {"sensory": 140, "affective": 92, "total": 232, "n_words_rated": 58}


def test_all_maximum_one_per_subclass() -> None:
    # 9 sensory subclasses x 4 = 36, 7 affective x 4 = 28, 64; the word chosen may be any one
    last = {f"{s}{n}": 4 for s, n in SIZES.items()}
    expected = {"sensory": 36, "affective": 28, "total": 64, "n_words_rated": 16}
    assert score(QDSA, last, mode="one_per_subclass") == expected


def test_blank_word_counts_zero() -> None:
    given_zeros = dict.fromkeys(ALL, 0) | {"E3": 2, "O1": 3}
    blanks = {"E3": 2, "O1": 3, "A1": None, "P2": ""}
    assert score(QDSA, blanks) == score(QDSA, given_zeros) == {
        "sensory": 2, "affective": 3, "total": 5, "n_words_rated": 2}


@pytest.mark.parametrize("mode", ["all_words", "one_per_subclass"])
def test_nothing_answered_is_missing(mode: str) -> None:
    assert score(QDSA, {}, mode=mode, incomplete="missing") == dict.fromkeys(REPORTED)
    assert score(QDSA, dict.fromkeys(ALL), mode=mode, incomplete="missing") == dict.fromkeys(REPORTED)
    for blank in ({}, dict.fromkeys(ALL)):
        assert score_both(QDSA, blank, mode=mode) == dict.fromkeys(REPORTED)
        assert message(QDSA, blank, mode=mode) == (
            "qdsa: the form is blank (no item answered), so none of its scores (sensory, affective, total) can be "
            "computed; " + HINT
        )
    # one word rated 0 is an answered form: zeros, no error
    assert score(QDSA, {"K2": 0}, mode=mode) == {"sensory": 0, "affective": 0, "total": 0, "n_words_rated": 0}


@pytest.mark.parametrize("key", ALL)
def test_each_word_counts_in_its_own_dimension(key: str) -> None:
    r = score(QDSA, {key: 4}, mode="one_per_subclass")
    sensory = key in SENSORY
    assert (r["sensory"], r["affective"], r["total"]) == ((4, 0, 4) if sensory else (0, 4, 4))


# ---------------------------------------------------------------------------------------------
# Rejections


@pytest.mark.parametrize(("letter", "rated"), [("D", {"D2": 3, "D5": 1}), ("P", {"P1": 1, "P2": 1}),
                                               ("A", {"A1": 2, "A3": 4, "A6": 1})])
def test_one_per_subclass_rejects_two_rated_words(letter: str, rated: dict[str, int]) -> None:
    with pytest.raises(InstrumentError) as err:
        score(QDSA, {**rated, "J1": 2}, mode="one_per_subclass")
    words = ", ".join(f"{k} = {v}" for k, v in rated.items())
    assert_message(err, f"qdsa: subclass {letter} has {len(rated)} rated words ({words})",
                   "one_per_subclass", "at most one")
    score(QDSA, rated)  # fine in the default all_words mode


def test_one_per_subclass_rejection_names_the_respondent_in_a_frame() -> None:
    frame = pd.DataFrame([{"A1": 1}, {"A1": 1}, {"M1": 2, "M2": 2}])
    with pytest.raises(InstrumentError, match=r"^qdsa row 4: subclass M has 2 rated words \(M1 = 2, M2 = 2\)"):
        score_frame(QDSA, frame, mode="one_per_subclass")


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [("A1", 5, "out of range"), ("P2", -1, "out of range"), ("C3", 2.5, "whole number"),
     ("J1", "strong", "not a number"), ("N4", True, "true/false"), ("E6", math.inf, "not finite")],
)
def test_bad_value_is_rejected(key: str, value: Any, why: str) -> None:
    with pytest.raises(InstrumentError) as err:
        score(QDSA, {key: value})
    assert_message(err, "qdsa", f"item {key} = ", why, "allowed: an integer 0..4")


@pytest.mark.parametrize("key", ["B3", "I4", "P3", "Q1", "A0", "a1", "A", "1"])
def test_unknown_item_is_rejected(key: str) -> None:
    # B3, I4, P3: a word beyond its subclass's size; Q1: a 17th subclass; a1: keys are upper case
    with pytest.raises(InstrumentError) as err:
        score(QDSA, {key: 1})
    assert_message(err, "qdsa", "unknown item", repr(key), "A1", "P2")


def test_bad_option_is_rejected() -> None:
    with pytest.raises(InstrumentError, match=re.escape("mode='classical' is not one of all_words, one_per_subclass")):
        score(QDSA, {"A1": 1}, mode="classical")
    with pytest.raises(InstrumentError, match="unknown option 'duration'"):
        score(QDSA, {"A1": 1}, duration="literal")


# ---------------------------------------------------------------------------------------------
# score_frame agrees with score()


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


RESPONDENTS: list[dict[str, Any]] = [
    {"A1": 3, "A4": 2, "C5": 4, "J2": 4},
    {},
    dict.fromkeys(ALL, 4),
    {"B2": 1, "M3": None, "P1": 2},
]


def test_score_frame_wide_and_long_agree_with_score() -> None:
    wide = pd.DataFrame(RESPONDENTS, columns=ALL)
    wide.insert(0, "patient_id", ["P1", "P2", "P3", "P4"])
    out = frame_both(QDSA, wide, id_columns=["patient_id"])  # row 3 (P2) is a blank form
    assert list(out.columns) == ["patient_id", *REPORTED]
    assert out.attrs["options"] == {"mode": "all_words"}
    for i, answers in enumerate(RESPONDENTS):
        assert {c: _plain(out[c].iloc[i]) for c in REPORTED} == score_both(QDSA, answers)

    rows = [{"patient_id": f"P{i}", "visit": "end_period_1", "instrument": "QDSA", "item": k,
             "value": np.nan if v is None else float(v)}
            for i, answers in enumerate(RESPONDENTS) for k, v in answers.items()]
    long = pd.DataFrame(rows, columns=["patient_id", "visit", "instrument", "item", "value"])
    out_long = score_frame(QDSA, long)
    assert out_long["patient_id"].tolist() == ["P0", "P2", "P3"]  # P1 answered nothing: no rows
    for i, pid in enumerate(out_long["patient_id"]):
        answers = RESPONDENTS[int(pid[1:])]
        assert {c: _plain(out_long[c].iloc[i]) for c in REPORTED} == score_both(QDSA, answers)


# ---------------------------------------------------------------------------------------------
# Properties


ratings = st.dictionaries(st.sampled_from(ALL), st.integers(0, 4), min_size=1)


@st.composite
def one_per_subclass(draw: st.DrawFn) -> dict[str, int]:
    out: dict[str, int] = {}
    for letter, size in SIZES.items():
        if draw(st.booleans()):
            out[f"{letter}{draw(st.integers(1, size))}"] = draw(st.integers(0, 4))
    return out or {"A1": 0}


def _frame(batch: list[dict[str, int]], **options: str) -> pd.DataFrame:
    return frame_both(QDSA, pd.DataFrame(batch, columns=ALL), **options)


@settings(max_examples=60, deadline=None)
@given(st.lists(ratings, min_size=1, max_size=20))
def test_all_words_scores_within_range(batch: list[dict[str, int]]) -> None:
    out = _frame(batch)
    assert out["sensory"].between(0, 140).all() and out["affective"].between(0, 92).all()
    assert (out["total"] == out["sensory"] + out["affective"]).all() and (out["total"] <= 232).all()
    assert out["n_words_rated"].tolist() == [sum(v > 0 for v in a.values()) for a in batch]


@settings(max_examples=60, deadline=None)
@given(st.lists(one_per_subclass(), min_size=1, max_size=20))
def test_one_per_subclass_scores_within_its_range(batch: list[dict[str, int]]) -> None:
    out = _frame(batch, mode="one_per_subclass")
    assert out["sensory"].between(0, 36).all() and out["affective"].between(0, 28).all()
    assert out["total"].between(0, 64).all()
    pd.testing.assert_frame_equal(out, _frame(batch))  # same sums in both modes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ratings, st.sampled_from(ALL), st.integers(1, 4)), min_size=1, max_size=20))
def test_a_higher_rating_never_lowers_a_score(cases: list[tuple[dict[str, int], str, int]]) -> None:
    before = _frame([answers for answers, _, _ in cases])
    after = _frame([{**answers, key: min(4, answers.get(key, 0) + step)} for answers, key, step in cases])
    for name in ("sensory", "affective", "total", "n_words_rated"):
        assert (after[name] >= before[name]).all(), name


@settings(max_examples=20, deadline=None)
@given(st.lists(ratings, min_size=1, max_size=6))
def test_vectorised_equals_one_by_one(batch: list[dict[str, int]]) -> None:
    out = _frame(batch)
    for i, answers in enumerate(batch):
        assert {c: _plain(out[c].iloc[i]) for c in REPORTED} == score(QDSA, answers)

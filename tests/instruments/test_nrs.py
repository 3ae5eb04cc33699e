"""Daily pain NRS 0-10 (docs/instruments/scoring-notes.md section 9): one integer item, the score is the rating."""

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


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


@pytest.mark.parametrize("rating", range(11))
def test_every_rating_is_its_own_score(rating: int) -> None:
    assert score("nrs", {"1": rating}) == {"nrs": float(rating)}
    assert score("nrs", {"1": str(rating)}) == {"nrs": float(rating)}


def test_minimum_maximum_and_missing() -> None:
    assert score("nrs", {"1": 0}) == {"nrs": 0.0}
    assert score("nrs", {"1": 10}) == {"nrs": 10.0}
    for blank in ({}, {"1": None}, {"1": ""}):
        assert score("nrs", blank, incomplete="missing") == {"nrs": None}
        assert score_both("nrs", blank) == {"nrs": None}
        assert message("nrs", blank) == (
            "nrs: the form is blank (no item answered), so none of its scores (nrs) can be computed; " + HINT
        )


def test_declaration() -> None:
    inst = get_instrument("nrs")
    assert inst.item_keys == ("1",) and inst.score_names == ("nrs",) and inst.options == ()


@settings(max_examples=50, deadline=None)
@given(a=st.integers(0, 10), b=st.integers(0, 10))
def test_within_range_and_monotone(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    s_lo, s_hi = score("nrs", {"1": lo})["nrs"], score("nrs", {"1": hi})["nrs"]
    assert 0 <= s_lo <= s_hi <= 10


@pytest.mark.parametrize(
    ("responses", "options", "parts"),
    [
        ({"2": 5}, {}, ["nrs", "unknown item '2'", "items are 1"]),
        ({"avg_pain": 5}, {}, ["nrs", "unknown item 'avg_pain'"]),
        ({"1": 11}, {}, ["nrs", "item 1 = 11", "out of range", "allowed: an integer 0..10"]),
        ({"1": -1}, {}, ["nrs", "item 1 = -1", "out of range", "allowed: an integer 0..10"]),
        ({"1": 5.5}, {}, ["nrs", "item 1 = 5.5", "not a whole number", "allowed: an integer 0..10"]),
        ({"1": "abc"}, {}, ["nrs", "item 1 = 'abc'", "not a number", "allowed: an integer 0..10"]),
        ({"1": True}, {}, ["nrs", "item 1 = True", "true/false", "allowed: an integer 0..10"]),
        ({"1": 5}, {"window": "7"}, ["nrs", "unknown option 'window'", "options: none"]),
    ],
)
def test_bad_input_is_rejected_with_a_precise_message(
    responses: dict[str, Any], options: dict[str, str], parts: list[str]
) -> None:
    with pytest.raises(InstrumentError) as err:
        score("nrs", responses, **options)
    for part in parts:
        assert part in str(err.value)


def test_score_frame_wide_and_long_agree_with_score() -> None:
    ratings: list[Any] = [0, 3, None, 10, 7]
    expected = [score_both("nrs", {"1": r}) for r in ratings]

    wide = pd.DataFrame({"patient_id": [f"P{i}" for i in range(5)], "day": range(1, 6), "1": ratings})
    got = frame_both("nrs", wide, id_columns=["patient_id", "day"])  # row 4 (P2) is blank
    assert list(got.columns) == ["patient_id", "day", "nrs"]
    assert [{"nrs": _plain(v)} for v in got["nrs"]] == expected

    long = pd.DataFrame(
        {
            "patient_id": ["P0", "P1", "P3", "P4", "P0"],
            "visit": [1, 1, 1, 1, 1],
            "instrument": ["nrs", "nrs", "nrs", "nrs", "pgic"],
            "item": ["1"] * 5,
            "value": [0, 3, 10, 7, 2],
        }
    )
    got = score_frame("nrs", long).set_index("patient_id")
    assert {p: _plain(got.loc[p, "nrs"]) for p in got.index} == {"P0": 0.0, "P1": 3.0, "P3": 10.0, "P4": 7.0}

    with pytest.raises(InstrumentError, match=r"^nrs row 3: item 1 = 12 is out of range; allowed: an integer 0\.\.10$"):
        score_frame("nrs", pd.DataFrame({"1": [1, 12]}))

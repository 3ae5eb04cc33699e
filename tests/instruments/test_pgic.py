"""PGIC, bipolar 7-point form: the category and the responder definitions.

Farrar JT, Young JP, LaMoreaux L, Werth JL, Poole RM. Clinical importance of changes in chronic
pain intensity measured on an 11-point numerical pain rating scale. Pain 2001;94:149-58: "much
improved" or "very much improved" (PGIC 1 or 2 on the bipolar scale, 1 = very much improved,
4 = no change, 7 = very much worse) corresponded best to a ~30% (2-point) fall in pain
intensity; that is the ``responder`` definition. ``any_improvement`` adds "minimally
improved" (3).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketapain.errors import InstrumentError
from ketapain.instruments import get_instrument, score, score_frame

from incomplete import HINT, frame_both, message

# category -> (responder, any_improvement), from the bipolar scale's labels
EXPECTED = {
    1: (True, True),  # very much improved
    2: (True, True),  # much improved
    3: (False, True),  # minimally improved
    4: (False, False),  # no change
    5: (False, False),  # minimally worse
    6: (False, False),  # much worse
    7: (False, False),  # very much worse
}


@pytest.mark.parametrize("category", sorted(EXPECTED))
def test_each_category(category):
    responder, improved = EXPECTED[category]
    assert score("pgic", {"1": category}) == {"pgic": category, "responder": responder, "any_improvement": improved}


def test_declaration():
    inst = get_instrument("pgic")
    assert inst.item_keys == ("1",)
    assert inst.score_names == ("pgic", "responder", "any_improvement")
    assert inst.options == () and inst.reports == ()
    assert inst.item("1").allowed() == "an integer 1..7"


def test_direction_is_not_the_unipolar_hurst_bolton_one():
    """Hurst & Bolton's unipolar PGIC has 7 = 'a great deal better'; here 7 is very much worse."""
    assert score("pgic", {"1": 7})["responder"] is False
    assert score("pgic", {"1": 1})["responder"] is True


@pytest.mark.parametrize("missing", [{}, {"1": None}, {"1": ""}, {"1": float("nan")}])
def test_missing_answer_gives_missing_scores(missing):
    assert score("pgic", missing, incomplete="missing") == {"pgic": None, "responder": None, "any_improvement": None}
    assert message("pgic", missing) == (
        "pgic: the form is blank (no item answered), so none of its scores (pgic, responder, any_improvement) "
        "can be computed; " + HINT
    )


def test_numbers_as_text_and_floats_are_accepted():
    assert score("pgic", {"1": "2"}) == score("pgic", {"1": 2.0}) == score("pgic", {1: 2})


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (0, "is out of range"),
        (8, "is out of range"),
        (-1, "is out of range"),
        (2.5, "is not a whole number"),
        ("much better", "is not a number"),
        (True, "is a true/false value, not a number"),
    ],
)
def test_bad_answers(value, why):
    message = f"pgic: item 1 = {value!r} {why}; allowed: an integer 1..7"
    with pytest.raises(InstrumentError, match=re.escape(message)):
        score("pgic", {"1": value})


def test_unknown_item_and_option():
    with pytest.raises(InstrumentError, match=re.escape("pgic: unknown item '2'; items are 1")):
        score("pgic", {"1": 3, "2": 3})
    with pytest.raises(InstrumentError, match="pgic: unknown option 'scale'"):
        score("pgic", {"1": 3}, scale="unipolar")


def test_score_frame_wide_and_long_agree():
    wide = pd.DataFrame({"patient_id": range(1, 9), "1": [1, 2, 3, 4, 5, 6, 7, None]})
    with pytest.raises(InstrumentError, match=re.escape("pgic row 9: the form is blank (no item answered)")):
        score_frame("pgic", wide, id_columns=["patient_id"])
    out = frame_both("pgic", wide, id_columns=["patient_id"])
    assert out["responder"].tolist()[:7] == [EXPECTED[c][0] for c in range(1, 8)]
    assert out["any_improvement"].tolist()[:7] == [EXPECTED[c][1] for c in range(1, 8)]
    assert pd.isna(out.loc[7, "responder"]) and pd.isna(out.loc[7, "pgic"])
    long = pd.DataFrame(
        {"patient_id": range(1, 8), "visit": 5, "instrument": "pgic", "item": "1", "value": range(1, 8)}
    )
    long_out = score_frame("pgic", long)
    assert long_out["pgic"].tolist() == list(range(1, 8))
    assert long_out["responder"].tolist() == out["responder"].tolist()[:7]


def test_score_frame_error_names_the_row():
    with pytest.raises(InstrumentError, match=re.escape("pgic row 3: item 1 = 9 is out of range")):
        score_frame("pgic", pd.DataFrame({"1": [4, 9]}))


@given(st.integers(1, 7), st.integers(1, 7))
def test_a_better_answer_is_never_a_worse_outcome(a, b):
    better, worse = min(a, b), max(a, b)
    sb, sw = score("pgic", {"1": better}), score("pgic", {"1": worse})
    assert sb["responder"] >= sw["responder"]
    assert sb["any_improvement"] >= sw["any_improvement"]
    assert sb["responder"] <= sb["any_improvement"]  # a responder has improved

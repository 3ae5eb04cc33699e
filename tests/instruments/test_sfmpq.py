"""SF-MPQ (Melzack 1987): hand-computed examples, extremes, missing descriptors (no imputation),
properties, rejections, score_frame (wide and long) against score()."""

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
from ketapain.instruments.sfmpq import INSTRUMENT as SFMPQ

from incomplete import HINT, frame_both, message, score_both

SENSORY = [str(k) for k in range(1, 12)]
AFFECTIVE = [str(k) for k in range(12, 16)]
DESCRIPTORS = SENSORY + AFFECTIVE
COLUMNS = ("sensory", "affective", "total", "ppi", "vas", "n_descriptors_missing")


def assert_message(err: pytest.ExceptionInfo[InstrumentError], *parts: str) -> None:
    msg = str(err.value)
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_structure() -> None:
    assert get_instrument("SFMPQ") is SFMPQ
    assert SFMPQ.item_keys == (*DESCRIPTORS, "ppi", "vas")
    assert SFMPQ.score_names == ("sensory", "affective", "total", "ppi", "vas")
    ranges = {s.name: (s.minimum, s.maximum) for s in SFMPQ.scores}
    assert ranges == {"sensory": (0, 33), "affective": (0, 12), "total": (0, 45), "ppi": (0, 5), "vas": (0, 100)}
    assert SFMPQ.options == ()


def test_worked_example() -> None:
    # Melzack 1987 scoring (sum of the intensity ranks 0-3), by hand:
    #   sensory items 1..11 = 3, 2, 0, 1, 0, 0, 3, 2, 1, 0, 0 -> 12
    #   affective items 12..15 = 2, 0, 1, 0 -> 3
    #   total 15; PPI 3 and VAS 62 mm reported as recorded
    values = [3, 2, 0, 1, 0, 0, 3, 2, 1, 0, 0, 2, 0, 1, 0]
    answers = dict(zip(DESCRIPTORS, values, strict=True)) | {"ppi": 3, "vas": 62}
    assert score(SFMPQ, answers) == {"sensory": 12, "affective": 3, "total": 15, "ppi": 3, "vas": 62,
                                     "n_descriptors_missing": 0}


def test_all_minimum_and_all_maximum() -> None:
    low = dict.fromkeys(DESCRIPTORS, 0) | {"ppi": 0, "vas": 0}
    high = dict.fromkeys(DESCRIPTORS, 3) | {"ppi": 5, "vas": 100}
    assert score(SFMPQ, low) == dict(zip(COLUMNS, [0, 0, 0, 0, 0, 0], strict=True))
    # 11 x 3 = 33, 4 x 3 = 12, 45
    assert score(SFMPQ, high) == dict(zip(COLUMNS, [33, 12, 45, 5, 100, 0], strict=True))


def test_vas_may_be_fractional() -> None:
    assert score_both(SFMPQ, {"vas": 37.5})["vas"] == 37.5
    assert score(SFMPQ, dict.fromkeys(DESCRIPTORS, 0) | {"ppi": 0, "vas": 37.5})["vas"] == 37.5


@pytest.mark.parametrize("key", DESCRIPTORS)
def test_missing_descriptor_leaves_its_subscale_and_total_missing(key: str) -> None:
    answers = dict.fromkeys(DESCRIPTORS, 1) | {"ppi": 1, "vas": 10}
    answers[key] = None
    r = score_both(SFMPQ, answers)
    assert r["total"] is None
    assert r["n_descriptors_missing"] == 1
    if key in SENSORY:
        assert (r["sensory"], r["affective"]) == (None, 4)
    else:
        assert (r["sensory"], r["affective"]) == (11, None)
    assert (r["ppi"], r["vas"]) == (1, 10)
    # by default: refused, naming the subscale and the total, the descriptor and the rule
    scale, rule = ("sensory", "needs all 11 items 1-11") if key in SENSORY else ("affective", "needs all 4 items 12-15")
    assert message(SFMPQ, answers) == (
        f"sfmpq: {scale} cannot be scored: item {key} unanswered; {scale} {rule} (no published imputation rule); "
        f"total cannot be scored: item {key} unanswered; total needs all 15 descriptors 1-15 (no published "
        "imputation rule); " + HINT
    )


def test_ppi_and_vas_are_independent_of_the_descriptors() -> None:
    r = score_both(SFMPQ, {"ppi": 4})
    assert r == {"sensory": None, "affective": None, "total": None, "ppi": 4, "vas": None,
                 "n_descriptors_missing": 15}
    full = score_both(SFMPQ, dict.fromkeys(DESCRIPTORS, 2))
    assert (full["total"], full["ppi"], full["vas"]) == (30, None, None)
    assert message(SFMPQ, dict.fromkeys(DESCRIPTORS, 2)) == (
        "sfmpq: ppi cannot be scored: item ppi unanswered; ppi needs item ppi; vas cannot be scored: item vas "
        "unanswered; vas needs item vas; " + HINT
    )


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [("1", 4, "an integer 0..3"), ("15", -1, "an integer 0..3"), ("7", 1.5, "an integer 0..3"),
     ("ppi", 6, "an integer 0..5"), ("ppi", 2.5, "an integer 0..5"), ("vas", 101, "a number 0..100"),
     ("vas", -0.1, "a number 0..100"), ("3", "severe", "an integer 0..3"), ("12", True, "an integer 0..3")],
)
def test_bad_value_is_rejected(key: str, value: Any, allowed: str) -> None:
    with pytest.raises(InstrumentError) as err:
        score(SFMPQ, {key: value})
    assert_message(err, "sfmpq", f"item {key} = ", f"allowed: {allowed}")


@pytest.mark.parametrize("key", ["0", "16", "PPI", "VAS", "pri", "A1"])
def test_unknown_item_is_rejected(key: str) -> None:
    with pytest.raises(InstrumentError) as err:
        score(SFMPQ, {key: 1})
    assert_message(err, "sfmpq", "unknown item", repr(key), "ppi", "vas")


def test_options_are_rejected() -> None:
    with pytest.raises(InstrumentError, match=re.escape("sfmpq: unknown option 'version'; options: none")):
        score(SFMPQ, {}, version="sfmpq2")
    with pytest.raises(InstrumentError, match=re.escape("sfmpq: unknown option 'version'; options: none")):
        score(SFMPQ, {}, version="sfmpq2", incomplete="missing")


def test_bad_value_in_a_frame_names_the_row() -> None:
    frame = pd.DataFrame({"1": [0, 1, 3, 9]})
    with pytest.raises(InstrumentError, match=r"sfmpq row 5: item 1 = 9 is out of range"):
        score_frame(SFMPQ, frame)


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


RESPONDENTS: list[dict[str, Any]] = [
    dict.fromkeys(DESCRIPTORS, 1) | {"ppi": 2, "vas": 45},
    dict.fromkeys(DESCRIPTORS, 3) | {"ppi": 5, "vas": 100},
    dict.fromkeys(SENSORY, 2) | {"vas": 12.5},
    {"ppi": 0},
]


def test_score_frame_wide_and_long_agree_with_score() -> None:
    wide = pd.DataFrame(RESPONDENTS)
    wide.insert(0, "visit", ["v1", "v2", "v3", "v4"])
    out = frame_both(SFMPQ, wide, id_columns=["visit"])  # rows 4 and 5 are incomplete
    assert list(out.columns) == ["visit", *COLUMNS]
    for i, answers in enumerate(RESPONDENTS):
        assert {c: _plain(out[c].iloc[i]) for c in COLUMNS} == score_both(SFMPQ, answers)

    rows = [{"patient_id": 7, "visit": f"v{i}", "instrument": "sfmpq", "item": k, "value": float(v)}
            for i, answers in enumerate(RESPONDENTS) for k, v in answers.items()]
    with pytest.raises(InstrumentError, match=r"^sfmpq respondent patient_id=7 visit=v2: affective cannot be scored"):
        score_frame(SFMPQ, pd.DataFrame(rows))
    out_long = score_frame(SFMPQ, pd.DataFrame(rows), incomplete="missing")
    assert out_long["visit"].tolist() == ["v0", "v1", "v2", "v3"]
    for i, answers in enumerate(RESPONDENTS):
        assert {c: _plain(out_long[c].iloc[i]) for c in COLUMNS} == score_both(SFMPQ, answers)


complete = st.fixed_dictionaries({k: st.integers(0, 3) for k in DESCRIPTORS})


def _frame(batch: list[dict[str, Any]]) -> pd.DataFrame:
    """The descriptors only: ppi and vas are blank, so the default refuses every row (checked)."""
    return frame_both(SFMPQ, pd.DataFrame(batch, columns=DESCRIPTORS).astype(object))


@settings(max_examples=60, deadline=None)
@given(st.lists(complete, min_size=1, max_size=20))
def test_scores_within_range(batch: list[dict[str, int]]) -> None:
    out = _frame(batch)
    assert out["sensory"].between(0, 33).all() and out["affective"].between(0, 12).all()
    assert (out["total"] == out["sensory"] + out["affective"]).all() and (out["total"] <= 45).all()
    assert out["sensory"].tolist() == [sum(a[k] for k in SENSORY) for a in batch]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(complete, st.sampled_from(DESCRIPTORS), st.integers(1, 3)), min_size=1, max_size=20))
def test_a_higher_rating_never_lowers_a_score(cases: list[tuple[dict[str, int], str, int]]) -> None:
    before = _frame([answers for answers, _, _ in cases])
    after = _frame([{**answers, key: min(3, answers[key] + step)} for answers, key, step in cases])
    for name in ("sensory", "affective", "total"):
        assert (after[name] >= before[name]).all(), name


@settings(max_examples=20, deadline=None)
@given(st.lists(complete, min_size=1, max_size=6), st.data())
def test_vectorised_equals_one_by_one(batch: list[dict[str, int]], data: st.DataObject) -> None:
    # blank out some descriptors at random: missing handling must also be vectorised correctly
    batch = [{k: (None if data.draw(st.integers(0, 9)) == 0 else v) for k, v in a.items()} for a in batch]
    out = _frame(batch)
    for i, answers in enumerate(batch):
        assert {c: _plain(out[c].iloc[i]) for c in COLUMNS} == score_both(SFMPQ, answers)
    assert np.array_equal(out["n_descriptors_missing"].to_numpy(dtype=int),
                          [sum(v is None for v in a.values()) for a in batch])

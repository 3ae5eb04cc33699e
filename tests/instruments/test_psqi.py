"""PSQI: worked examples (Buysse 1989 scoring appendix), every boundary, missing items, options,
properties, rejection of bad input, and score_frame (wide and long) against score()."""

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
from ketapain.instruments.psqi import INSTRUMENT as PSQI

from incomplete import HINT, frame_both, message, score_both

COMPONENTS = [
    "c1_quality",
    "c2_latency",
    "c3_duration",
    "c4_efficiency",
    "c5_disturbances",
    "c6_medication",
    "c7_daytime",
]
TROUBLES = [f"5{c}" for c in "abcdefghij"]

# A good sleeper with every component 0: in bed 23:00-07:00 (8 h), 10 min to fall asleep, 8 h
# asleep (efficiency 100 %), no troubles.
BASE: dict[str, Any] = {"1": "23:00", "2": 10, "3": "07:00", "4": 8, **dict.fromkeys(TROUBLES, 0),
                        "6": 0, "7": 0, "8": 0, "9": 0}


def psqi(changes: dict[str, Any] | None = None, **options: str) -> dict[str, Any]:
    return score_both(PSQI, {**BASE, **(changes or {})}, **options)


def components(result: dict[str, Any]) -> list[Any]:
    return [result[c] for c in COMPONENTS]


def assert_message(err: pytest.ExceptionInfo[InstrumentError], *parts: str) -> None:
    msg = str(err.value)
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"


# ---------------------------------------------------------------------------------------------
# Worked examples, by hand with the rules of the Buysse 1989 scoring appendix


def test_registered_under_its_name() -> None:
    assert get_instrument("PSQI") is PSQI
    assert PSQI.score_names == (*COMPONENTS, "global")


def test_worked_example_good_sleeper() -> None:
    # Buysse 1989 appendix, by hand:
    #   bed 22:30, up 06:30 -> 8 h in bed; 7.5 h asleep -> efficiency 7.5/8 = 93.75 % -> C4 0
    #   C1 = item 6 = 0
    #   C2: 10 min -> 0 points; + 5a (0) = 0 -> 0
    #   C3: 7.5 h (>= 7) -> 0
    #   C5: 5b..5j = 1 + 1 + 0 ... = 2 -> (1..9) -> 1
    #   C6 = item 7 = 0;  C7: 8 + 9 = 0 -> 0
    #   global = 0 + 0 + 0 + 0 + 1 + 0 + 0 = 1 (<= 5: good sleeper)
    r = psqi({"1": "22:30", "3": "06:30", "4": 7.5, "5b": 1, "5c": 1})
    assert components(r) == [0, 0, 0, 0, 1, 0, 0]
    assert r["global"] == 1
    assert r["hours_in_bed"] == 8.0
    assert r["efficiency_pct"] == pytest.approx(93.75, abs=1e-12)
    assert r["poor_sleeper"] is False
    assert r["efficiency_capped"] is False


def test_worked_example_poor_sleeper_and_efficiency_options() -> None:
    # Buysse 1989 appendix, by hand:
    #   bed 00:30, up 07:00 -> 6.5 h in bed (390 min); 5.5 h asleep -> 5.5 / 6.5 = 84.615 %
    #     inclusive: 84.6 < 85 -> C4 1;  rounded: round(84.6) = 85 -> C4 0
    #   C1 = item 6 = 2
    #   C2: 45 min -> 2 points; + 5a (3) = 5 -> (5-6) -> 3
    #   C3: 5.5 h, in [5, 6) -> 2
    #   C5: 5b..5j = 3 + 2 + 0 + 1 + 0 + 0 + 1 + 3 + 2 = 12 -> (10-18) -> 2
    #   C6 = item 7 = 1;  C7: 8 + 9 = 1 + 2 = 3 -> (3-4) -> 2
    #   global = 2 + 3 + 2 + 1 + 2 + 1 + 2 = 13 (> 5: poor sleeper); rounded: 12
    answers = {"1": "00:30", "2": 45, "3": "07:00", "4": 5.5, "5a": 3, "5b": 3, "5c": 2, "5d": 0,
               "5e": 1, "5f": 0, "5g": 0, "5h": 1, "5i": 3, "5j": 2, "6": 2, "7": 1, "8": 1, "9": 2}
    r = score(PSQI, answers)
    assert components(r) == [2, 3, 2, 1, 2, 1, 2]
    assert r["global"] == 13
    assert r["poor_sleeper"] is True
    assert r["hours_in_bed"] == 6.5
    assert r["efficiency_pct"] == pytest.approx(100 * 5.5 / 6.5, rel=1e-12)
    rounded = score(PSQI, answers, efficiency="rounded")
    assert rounded["c4_efficiency"] == 0
    assert rounded["global"] == 12


def test_options_that_ran_are_recorded() -> None:
    out = score_frame(PSQI, pd.DataFrame([BASE]), duration="literal")
    assert out.attrs["instrument"] == "psqi" and out.attrs["incomplete"] == "error"
    assert out.attrs["options"] == {"duration": "literal", "efficiency": "inclusive", "sleep_exceeds_bed": "reject"}


# ---------------------------------------------------------------------------------------------
# All minimum, all maximum


def test_all_minimum() -> None:
    r = psqi()
    assert components(r) == [0] * 7
    assert r["global"] == 0
    assert r["poor_sleeper"] is False


def test_all_maximum() -> None:
    # latency 1440 min -> 3 points + 5a 3 = 6 -> 3; 0 h asleep -> C3 3 and efficiency 0 % -> C4 3;
    # 5b..5j all 3 = 27 -> 3; items 6, 7 = 3; 8 + 9 = 6 -> 3; global 21.
    worst = {"2": 1440, "4": 0, **dict.fromkeys(TROUBLES, 3), "6": 3, "7": 3, "8": 3, "9": 3}
    r = psqi(worst)
    assert components(r) == [3] * 7
    assert r["global"] == 21
    assert r["efficiency_pct"] == 0
    assert r["poor_sleeper"] is True


def test_poor_sleeper_cut_off_is_above_5() -> None:
    assert psqi({"6": 3, "7": 2})["global"] == 5
    assert psqi({"6": 3, "7": 2})["poor_sleeper"] is False
    assert psqi({"6": 3, "7": 3})["global"] == 6
    assert psqi({"6": 3, "7": 3})["poor_sleeper"] is True


# ---------------------------------------------------------------------------------------------
# C2 latency: <= 15 / <= 30 / <= 60 / > 60 minutes -> 0 / 1 / 2 / 3 points; + 5a; ceil(sum / 2)


@pytest.mark.parametrize(
    ("minutes", "q5a", "expected"),
    [
        (0, 0, 0),  # 0 + 0 = 0 -> 0
        (15, 0, 0),  # 15 min -> 0 points
        (16, 0, 1),  # 16 min -> 1 point -> 1
        (30, 1, 1),  # 1 + 1 = 2 -> 1
        (31, 1, 2),  # 2 + 1 = 3 -> 2
        (60, 2, 2),  # 2 + 2 = 4 -> 2
        (61, 2, 3),  # 3 + 2 = 5 -> 3
        (15.5, 0, 1),  # between 15 and 16 (<= 30) -> 1 point
        (1440, 3, 3),  # 3 + 3 = 6 -> 3
        (0, 1, 1),  # 0 + 1 -> 1
        (0, 3, 2),  # 0 + 3 -> 2
    ],
)
def test_latency_boundaries(minutes: float, q5a: int, expected: int) -> None:
    assert psqi({"2": minutes, "5a": q5a})["c2_latency"] == expected


# ---------------------------------------------------------------------------------------------
# C3 duration and C4 efficiency (8 h in bed: 23:00 -> 07:00, so efficiency = hours / 8)


@pytest.mark.parametrize(
    ("hours", "half_open", "literal"),
    [
        (8.0, 0, 0),
        (7.5, 0, 0),
        (7.0, 0, 1),  # the only disagreement: >= 7 -> 0 (half_open) vs "6-7" -> 1 (literal)
        (6.99, 1, 1),
        (6.0, 1, 1),  # 6 h -> 1 under both
        (5.99, 2, 2),
        (5.0, 2, 2),  # 5 h -> 2 under both
        (4.99, 3, 3),
        (0.0, 3, 3),
    ],
)
def test_duration_boundaries(hours: float, half_open: int, literal: int) -> None:
    assert psqi({"4": hours})["c3_duration"] == half_open
    assert psqi({"4": hours}, duration="half_open")["c3_duration"] == half_open
    assert psqi({"4": hours}, duration="literal")["c3_duration"] == literal


@pytest.mark.parametrize(
    ("hours", "inclusive", "rounded"),
    [
        (8.0, 0, 0),  # 100 %
        (6.8, 0, 0),  # exactly 85 %
        (6.79, 1, 0),  # 84.875 %: rounds to 85
        (6.75, 1, 1),  # 84.375 %: rounds to 84
        (6.0, 1, 1),  # exactly 75 %
        (5.96, 2, 1),  # exactly 74.5 %: rounds half up to 75
        (5.95, 2, 2),  # 74.375 %
        (5.2, 2, 2),  # exactly 65 %
        (5.16, 3, 2),  # 64.5 %: rounds half up to 65
        (5.0, 3, 3),  # 62.5 %
        (0.0, 3, 3),
    ],
)
def test_efficiency_boundaries(hours: float, inclusive: int, rounded: int) -> None:
    pct = 100 * hours / 8
    r = psqi({"4": hours})
    assert r["efficiency_pct"] == pytest.approx(pct, abs=1e-9)
    assert r["c4_efficiency"] == inclusive
    assert psqi({"4": hours}, efficiency="inclusive")["c4_efficiency"] == inclusive
    assert psqi({"4": hours}, efficiency="rounded")["c4_efficiency"] == rounded


@pytest.mark.parametrize(
    ("bed", "up", "hours"),
    [("22:00", "08:00", 8.5), ("01:00", "07:00", 5.1), ("23:30", "07:00", 6.375), ("00:00", "10:00", 8.5)],
)
def test_efficiency_exactly_85_is_0_whatever_the_float_noise(bed: str, up: str, hours: float) -> None:
    r = psqi({"1": bed, "3": up, "4": hours})
    assert r["efficiency_pct"] == pytest.approx(85.0, abs=1e-9)
    assert r["c4_efficiency"] == 0
    assert psqi({"1": bed, "3": up, "4": hours}, efficiency="rounded")["c4_efficiency"] == 0


@pytest.mark.parametrize(
    ("bed", "up", "in_bed"),
    [
        ("23:00", "07:00", 8.0),  # across midnight
        ("01:00", "09:00", 8.0),  # not across midnight
        ("21:45", "05:15", 7.5),
        ("00:00", "06:30", 6.5),
        ("12:00", "11:59", 1439 / 60),  # the longest possible time in bed
        ("07:00", "07:01", 1 / 60),
    ],
)
def test_time_in_bed_across_midnight_and_not(bed: str, up: str, in_bed: float) -> None:
    r = psqi({"1": bed, "3": up, "4": 0})
    assert r["hours_in_bed"] == pytest.approx(in_bed, abs=1e-12)


def test_time_in_bed_zero_is_rejected() -> None:
    with pytest.raises(InstrumentError) as err:
        psqi({"1": "23:00", "3": "23:00"})
    assert_message(err, "psqi: item 1 = 23:00", "item 3 = 23:00", "0 h", "allowed")


def test_sleep_exceeding_bed_reject_names_values() -> None:
    # 9 h asleep in 8 h in bed
    with pytest.raises(InstrumentError) as err:
        psqi({"4": 9})
    assert_message(err, "psqi: item 4 = 9 h", "8 h", "23:00", "07:00", "allowed", "cap")
    with pytest.raises(InstrumentError):
        psqi({"4": 9}, sleep_exceeds_bed="reject")


def test_sleep_exceeding_bed_cap() -> None:
    r = psqi({"4": 9}, sleep_exceeds_bed="cap")
    assert r["efficiency_pct"] == 100
    assert r["efficiency_capped"] is True
    assert r["c4_efficiency"] == 0
    assert r["c3_duration"] == 0  # duration uses the hours as given
    # equal is not "exceeding": no cap, no rejection
    same = psqi({"4": 8})
    assert same["efficiency_pct"] == 100
    assert same["efficiency_capped"] is False


def test_sleep_exceeding_bed_reject_names_the_respondent_in_a_frame() -> None:
    frame = pd.DataFrame([BASE, {**BASE, "4": 8.5}])
    with pytest.raises(InstrumentError, match=r"^psqi row 3: item 4 = 8\.5 h slept exceeds the time in bed of 8 h"):
        score_frame(PSQI, frame)  # spreadsheet rows: header = row 1
    long = pd.DataFrame(
        [{"patient_id": p, "visit": "v1", "instrument": "psqi", "item": k, "value": v}
         for p, hours in (("P1", 7.0), ("P2", 8.5)) for k, v in {"1": 1380, "3": 420, "4": hours}.items()]
    )
    with pytest.raises(InstrumentError, match=r"^psqi respondent patient_id=P2 visit=v1: item 4 = 8\.5"):
        score_frame(PSQI, long)
    with pytest.raises(InstrumentError, match=r"^psqi row 2: item 1 = 23:00 and item 3 = 23:00"):
        score_frame(PSQI, pd.DataFrame({"1": ["23:00"], "3": ["23:00"]}))
    capped = score_frame(PSQI, frame, sleep_exceeds_bed="cap")
    assert capped["efficiency_capped"].tolist() == [False, True]


# ---------------------------------------------------------------------------------------------
# C5 disturbances, 5j, C7 daytime


@pytest.mark.parametrize(("total", "expected"), [(0, 0), (1, 1), (9, 1), (10, 2), (18, 2), (19, 3), (27, 3)])
def test_disturbance_bands(total: int, expected: int) -> None:
    values = [min(3, max(0, total - 3 * k)) for k in range(9)]  # spread the total over 5b..5j
    assert sum(values) == total
    r = psqi(dict(zip(TROUBLES[1:], values, strict=True)))
    assert r["c5_disturbances"] == expected


def test_5j_blank_counts_zero() -> None:
    nine = dict.fromkeys(TROUBLES[1:9], 1)  # 5b..5i = 1: sum 8 (without 5j)
    absent = score(PSQI, {k: v for k, v in {**BASE, **nine}.items() if k != "5j"})
    blank = psqi({**nine, "5j": None})
    zero = psqi({**nine, "5j": 0})
    assert absent == blank == zero
    assert zero["c5_disturbances"] == 1
    # 5j counts when given: 8 + 2 = 10 -> 2
    assert psqi({**nine, "5j": 2})["c5_disturbances"] == 2
    assert psqi({**nine, "5j": ""})["c5_disturbances"] == 1


@pytest.mark.parametrize(
    ("q8", "q9", "expected"), [(0, 0, 0), (1, 0, 1), (1, 1, 1), (2, 1, 2), (2, 2, 2), (3, 2, 3), (3, 3, 3)]
)
def test_daytime_bands(q8: int, q9: int, expected: int) -> None:
    assert psqi({"8": q8, "9": q9})["c7_daytime"] == expected


def test_quality_and_medication_are_the_items() -> None:
    for v in range(4):
        r = psqi({"6": v, "7": 3 - v})
        assert (r["c1_quality"], r["c6_medication"]) == (v, 3 - v)


# ---------------------------------------------------------------------------------------------
# Missing items: the component and the global score are missing, nothing else (no imputation)

AFFECTS = {
    "1": {"c4_efficiency"},
    "2": {"c2_latency"},
    "3": {"c4_efficiency"},
    "4": {"c3_duration", "c4_efficiency"},
    "5a": {"c2_latency"},
    **{k: {"c5_disturbances"} for k in TROUBLES[1:9]},
    "6": {"c1_quality"},
    "7": {"c6_medication"},
    "8": {"c7_daytime"},
    "9": {"c7_daytime"},
}


@pytest.mark.parametrize("key", sorted(AFFECTS))
def test_missing_item_leaves_its_component_and_global_missing(key: str) -> None:
    answers = {k: v for k, v in BASE.items() if k != key}
    r = score_both(PSQI, answers)
    assert {c for c in COMPONENTS if r[c] is None} == AFFECTS[key]
    assert all(r[c] == 0 for c in COMPONENTS if c not in AFFECTS[key])
    assert r["global"] is None
    assert r["poor_sleeper"] is None
    assert psqi({key: None}) == r
    # by default: refused, naming each affected component, then the global score, with the rules
    text = message(PSQI, answers)
    named = [c for c in (*COMPONENTS, "global") if f"{c} cannot be scored: item {key} unanswered; {c} needs " in text]
    assert named == [c for c in COMPONENTS if c in AFFECTS[key]] + ["global"]
    assert "global needs all 7 components, i.e. every item except the optional 5j (no imputation)" in text


def test_missing_item_message_in_full() -> None:
    assert message(PSQI, {k: v for k, v in BASE.items() if k not in ("8", "9")}) == (
        "psqi: c7_daytime cannot be scored: items 8, 9 unanswered; c7_daytime needs both items 8 and 9 (no "
        "imputation); global cannot be scored: items 8, 9 unanswered; global needs all 7 components, i.e. every "
        "item except the optional 5j (no imputation); " + HINT
    )
    assert "c5_disturbances needs all 8 items 5b-5i (a blank 5j counts 0; no imputation)" in message(
        PSQI, {k: v for k, v in BASE.items() if k != "5c"}
    )


def test_missing_clock_leaves_hours_and_efficiency_missing() -> None:
    r = psqi({"3": None})
    assert r["hours_in_bed"] is None
    assert r["efficiency_pct"] is None
    assert r["efficiency_capped"] is None
    assert psqi({"4": None})["hours_in_bed"] == 8.0


def test_nothing_answered() -> None:
    r = score_both(PSQI, {})
    assert all(v is None for v in r.values())
    assert message(PSQI, {}).startswith("psqi: the form is blank (no item answered), so none of its scores (c1_quality")


def test_every_item_is_declared_and_only_5j_is_optional() -> None:
    assert PSQI.item_keys == ("1", "2", "3", "4", *TROUBLES, "6", "7", "8", "9")
    assert [it.key for it in PSQI.items if not it.required] == ["5j"]
    assert [it.key for it in PSQI.items if it.kind == "clock"] == ["1", "3"]


# ---------------------------------------------------------------------------------------------
# Rejection of bad input: instrument, item, value and what is allowed


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("5a", 4, "out of range"),
        ("5j", -1, "out of range"),
        ("6", 1.5, "whole number"),
        ("9", "often", "not a number"),
        ("7", True, "true/false"),
        ("2", 1441, "out of range"),
        ("2", -1, "out of range"),
        ("4", 24.5, "out of range"),
        ("4", -0.5, "out of range"),
        ("4", math.inf, "not finite"),
        ("1", "25:00", "not a valid time"),
        ("1", "23:60", "not a valid time"),
        ("3", "7h30", "not a valid time"),
        ("3", 1440, "not a valid time"),
        ("1", 90.5, "not a valid time"),
        ("1", True, "not a valid time"),
    ],
)
def test_bad_value_is_rejected_with_a_full_message(key: str, value: Any, why: str) -> None:
    with pytest.raises(InstrumentError) as err:
        psqi({key: value})
    assert_message(err, "psqi", f"item {key} = ", why, "allowed")
    assert repr(value) in str(err.value) or str(value) in str(err.value)
    allowed = PSQI.item(key).allowed()
    assert allowed in str(err.value)


def test_range_messages_state_the_allowed_values() -> None:
    with pytest.raises(InstrumentError, match=re.escape("0..3")):
        psqi({"5a": 4})
    with pytest.raises(InstrumentError, match=re.escape("0..24")):
        psqi({"4": 25})
    with pytest.raises(InstrumentError, match=re.escape("0..1440")):
        psqi({"2": 2000})
    with pytest.raises(InstrumentError, match="HH:MM"):
        psqi({"1": "late"})


@pytest.mark.parametrize("key", ["10", "5k", "10a", "global", "c1"])
def test_unknown_item_is_rejected(key: str) -> None:
    with pytest.raises(InstrumentError) as err:
        psqi({key: 1})
    assert_message(err, "psqi", "unknown item", repr(key), "5j")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"duration": "strict"}, "duration='strict' is not one of half_open, literal"),
        ({"efficiency": "exclusive"}, "efficiency='exclusive' is not one of inclusive, rounded"),
        ({"sleep_exceeds_bed": "ignore"}, "sleep_exceeds_bed='ignore' is not one of reject, cap"),
        ({"mode": "all_words"}, "unknown option 'mode'"),
    ],
)
def test_bad_option_is_rejected(options: dict[str, str], fragment: str) -> None:
    with pytest.raises(InstrumentError, match=re.escape(fragment)):
        psqi(**options)


def test_responses_must_be_a_mapping() -> None:
    with pytest.raises(InstrumentError, match="psqi: responses must be a mapping"):
        score(PSQI, [1, 2, 3])  # type: ignore[arg-type]


def test_bad_value_in_a_frame_names_the_row() -> None:
    frame = pd.DataFrame([BASE, BASE, {**BASE, "8": 7}])
    with pytest.raises(InstrumentError, match=r"psqi row 4: item 8 = 7 is out of range"):
        score_frame(PSQI, frame)


# ---------------------------------------------------------------------------------------------
# score_frame agrees with score(): wide with id columns, and long (TrialData questionnaires)


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return bool(v) if isinstance(v, bool | np.bool_) else float(v)


REPORTS = ("hours_in_bed", "efficiency_pct", "efficiency_capped", "poor_sleeper")


def _row(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    return {c: _plain(frame[c].iloc[i]) for c in (*PSQI.score_names, *REPORTS)}


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


RESPONDENTS = [
    BASE,
    {**BASE, "1": "00:30", "2": 45, "3": "07:00", "4": 5.5, "5a": 3, "5b": 3, "5i": 3, "6": 2, "8": 2},
    {**BASE, "5j": None, "4": 6.8},
    {k: v for k, v in BASE.items() if k != "6"},  # C1 missing
    {**BASE, "1": "21:15", "3": "04:45", "4": 7, "2": 61},
]


def test_score_frame_wide_with_id_columns_agrees_with_score() -> None:
    frame = pd.DataFrame(RESPONDENTS)
    frame.insert(0, "patient_id", [f"P{i}" for i in range(len(RESPONDENTS))])
    for options in ({}, {"duration": "literal", "efficiency": "rounded"}):
        out = frame_both(PSQI, frame, id_columns=["patient_id"], **options)  # row 5: C1 missing
        assert list(out.columns) == ["patient_id", *PSQI.score_names, *REPORTS]
        assert out["patient_id"].tolist() == frame["patient_id"].tolist()
        for i, answers in enumerate(RESPONDENTS):
            assert _row(out, i) == score_both(PSQI, answers, **options)


def test_score_frame_long_with_clock_minutes_agrees_with_score() -> None:
    rows = []
    for i, answers in enumerate(RESPONDENTS):
        for key, answer in answers.items():
            value = answer
            if isinstance(answer, str):  # the long value column is float: clocks in minutes
                h, m = answer.split(":")
                value = 60 * int(h) + int(m)
            rows.append({"patient_id": f"P{i}", "visit": "baseline", "instrument": "psqi", "item": key,
                         "value": np.nan if value is None else float(value)})
    rows.append({"patient_id": "P0", "visit": "baseline", "instrument": "hads", "item": "1", "value": 2.0})
    long = pd.DataFrame(rows).astype({"value": float})
    expected_error = (
        "psqi respondent patient_id=P3 visit=baseline: c1_quality cannot be scored: item 6 unanswered; c1_quality "
        "needs item 6; global cannot be scored: item 6 unanswered; "
    )
    with pytest.raises(InstrumentError, match="^" + re.escape(expected_error)):
        score_frame(PSQI, long)
    out = score_frame(PSQI, long, incomplete="missing")
    assert list(out.columns[:2]) == ["patient_id", "visit"]
    assert out["patient_id"].tolist() == [f"P{i}" for i in range(len(RESPONDENTS))]
    for i, answers in enumerate(RESPONDENTS):
        assert _row(out, i) == score_both(PSQI, answers)


def test_long_duplicate_item_is_rejected() -> None:
    long = pd.DataFrame(
        {"patient_id": ["P1", "P1"], "visit": ["v1", "v1"], "instrument": ["psqi", "psqi"], "item": ["6", "6"],
         "value": [1.0, 2.0]}
    )
    with pytest.raises(InstrumentError, match="psqi: item 6 appears twice"):
        score_frame(PSQI, long)


# ---------------------------------------------------------------------------------------------
# Properties (Hypothesis): ranges, global = sum, vectorised = one by one, monotonicity


@st.composite
def respondents(draw: st.DrawFn) -> dict[str, Any]:
    bed = draw(st.integers(0, 1439))
    up = draw(st.integers(0, 1439).filter(lambda m: m != bed))
    in_bed = ((up - bed) % 1440) / 60
    slept = draw(st.floats(0, in_bed, allow_nan=False))
    answers: dict[str, Any] = {
        "1": _clock(bed),
        "2": draw(st.integers(0, 1440)),
        "3": _clock(up),
        "4": slept,
        **{k: draw(st.integers(0, 3)) for k in TROUBLES},
        **{k: draw(st.integers(0, 3)) for k in ("6", "7", "8", "9")},
    }
    if draw(st.booleans()):
        answers["5j"] = None
    return answers


def _frame(batch: list[dict[str, Any]], **options: str) -> pd.DataFrame:
    return score_frame(PSQI, pd.DataFrame(batch, columns=list(PSQI.item_keys)).astype(object), **options)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(respondents(), min_size=1, max_size=20),
    st.sampled_from(["half_open", "literal"]),
    st.sampled_from(["inclusive", "rounded"]),
)
def test_scores_within_range_and_global_is_the_sum(batch: list[dict[str, Any]], duration: str, efficiency: str) -> None:
    out = _frame(batch, duration=duration, efficiency=efficiency)
    comps = out[COMPONENTS]
    assert comps.isin([0, 1, 2, 3]).all().all()
    assert (out["global"] == comps.sum(axis=1)).all()
    assert out["global"].between(0, 21).all()
    assert out["efficiency_pct"].between(0, 100).all()
    assert (out["poor_sleeper"] == (out["global"] > 5)).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(respondents(), st.sampled_from(TROUBLES[1:])), min_size=1, max_size=20))
def test_more_sleep_troubles_never_lower_c5_or_global(cases: list[tuple[dict[str, Any], str]]) -> None:
    before = _frame([answers for answers, _ in cases])
    after = _frame([{**answers, key: min(3, (answers.get(key) or 0) + 1)} for answers, key in cases])
    assert (after["c5_disturbances"] >= before["c5_disturbances"]).all()
    assert (after["global"] >= before["global"]).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(respondents(), st.integers(0, 600), st.floats(0, 1)), min_size=1, max_size=20))
def test_longer_latency_or_less_sleep_never_lowers_a_component(
    cases: list[tuple[dict[str, Any], int, float]],
) -> None:
    before = _frame([answers for answers, _, _ in cases])
    after = _frame(
        [
            {**answers, "2": min(1440, answers["2"] + extra), "4": answers["4"] * frac, "5a": min(3, answers["5a"] + 1)}
            for answers, extra, frac in cases
        ]
    )
    for c in ("c2_latency", "c3_duration", "c4_efficiency", "global"):
        assert (after[c] >= before[c]).all(), c


@settings(max_examples=20, deadline=None)
@given(st.lists(respondents(), min_size=1, max_size=8))
def test_vectorised_equals_one_by_one(batch: list[dict[str, Any]]) -> None:
    out = _frame(batch)
    for i, answers in enumerate(batch):
        assert _row(out, i) == score(PSQI, answers)

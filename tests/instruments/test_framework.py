"""The instrument framework (``_spec`` and ``_registry``) on small throwaway instruments.

Everything here is the same for every questionnaire: option resolution, item validation and
its messages, wide and long ``score_frame``, and the guard on the scorer's contract.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from ketapain.errors import InstrumentError
from ketapain.instruments import (
    Instrument,
    Item,
    Option,
    Score,
    get_instrument,
    instruments,
    score,
    score_frame,
)
from ketapain.instruments._spec import parse_clock, respondent


def _toy_scorer(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    """sum of items 1..4 (item 3 counted /10); 'prorate' fills one missing item of 1, 2, 4."""
    parts = items[["1", "2", "4"]].assign(**{"3": items["3"] / 10})
    n_missing = parts.isna().sum(axis=1)
    if options["missing"] == "prorate":
        total = parts.mean(axis=1) * 4
        total = total.where(n_missing <= 1)
    else:
        total = parts.sum(axis=1, min_count=4)
    return pd.DataFrame(
        {"sum": total, "high": (total >= 10).astype("boolean").where(total.notna(), pd.NA), "n_missing": n_missing},
        index=items.index,
    )


TOY = Instrument(
    name="toy",
    title="Toy questionnaire",
    reference="none",
    licence="free",
    items=(
        Item("1", "integer 0..3", minimum=0, maximum=3),
        Item("2", "number 0..10", kind="number", minimum=0, maximum=10),
        Item("3", "relief 0..100 by 10", minimum=0, maximum=100, step=10),
        Item("4", "yes/no", values=(0, 1)),
        Item("5", "bedtime", kind="clock", required=False, scored=False),
    ),
    scores=(Score("sum", "items 1, 2, 4 and item 3 / 10", 0, 24, label="sum"),
            Score("high", "sum >= 10", kind="bool", label="high sum")),
    reports=(Score("n_missing", "items of the sum missing", kind="count"),),
    options=(Option("missing", ("none", "prorate"), "none", "missing-item rule"),),
    scorer=_toy_scorer,
)
FULL = {"1": 2, "2": 5.5, "3": 30, "4": 1, "5": "23:30"}


# -- options -------------------------------------------------------------------------------


def test_options_default_and_given():
    assert TOY.resolve_options({}) == {"missing": "none"}
    assert TOY.resolve_options({"missing": "prorate"}) == {"missing": "prorate"}
    assert score(TOY, {"1": 2, "2": 5.5, "4": 1})["sum"] is None
    # prorate: mean(2, 5.5, 1) * 4 = 11.333...
    assert score(TOY, {"1": 2, "2": 5.5, "4": 1}, missing="prorate")["sum"] == pytest.approx(34 / 3)


def test_unknown_option_lists_the_options():
    with pytest.raises(InstrumentError, match=re.escape("toy: unknown option 'coding'; options: missing")):
        score(TOY, FULL, coding="position")


def test_bad_option_value_lists_the_choices():
    with pytest.raises(InstrumentError, match=re.escape("toy: option missing='half' is not one of none, prorate")):
        score(TOY, FULL, missing="half")


def test_instrument_without_options_says_none():
    with pytest.raises(InstrumentError, match=re.escape("pgic: unknown option 'x'; options: none")):
        score("pgic", {"1": 1}, x="y")


def test_score_frame_records_instrument_and_options():
    out = score_frame(TOY, pd.DataFrame([FULL]), missing="prorate")
    assert out.attrs == {"instrument": "toy", "options": {"missing": "prorate"}, "incomplete": "error"}
    assert score_frame(TOY, pd.DataFrame([FULL])).attrs["options"] == {"missing": "none"}
    out = score_frame(TOY, pd.DataFrame([FULL]), incomplete="missing")
    assert out.attrs == {"instrument": "toy", "options": {"missing": "none"}, "incomplete": "missing"}


# -- registry ------------------------------------------------------------------------------


def test_unknown_instrument_lists_the_known_ones():
    with pytest.raises(InstrumentError, match=r"unknown instrument 'nope'; known: .*pgic") as info:
        score("nope", {})
    known = str(info.value).split("known: ")[1].split(", ")
    assert known == sorted(instruments())


def test_registry_is_sorted_case_insensitive_and_accepts_objects():
    names = list(instruments())
    assert names == sorted(names) and "pgic" in names
    assert get_instrument("PGIC") is get_instrument("pgic")
    assert get_instrument(TOY) is TOY
    for name, inst in instruments().items():
        assert inst.name == name


# -- item validation -----------------------------------------------------------------------

ALLOWED_1 = "allowed: an integer 0..3"


@pytest.mark.parametrize(
    ("responses", "message"),
    [
        ({"9": 1}, "toy: unknown item '9'; items are 1, 2, 3, 4, 5"),
        ({"1": "two"}, f"toy: item 1 = 'two' is not a number; {ALLOWED_1}"),
        ({"1": "nan"}, f"toy: item 1 = 'nan' is not a number; {ALLOWED_1}"),
        ({"1": True}, f"toy: item 1 = True is a true/false value, not a number; {ALLOWED_1}"),
        ({"1": np.False_}, f"toy: item 1 = False is a true/false value, not a number; {ALLOWED_1}"),
        ({"1": 4}, f"toy: item 1 = 4 is out of range; {ALLOWED_1}"),
        ({"1": -1}, f"toy: item 1 = -1 is out of range; {ALLOWED_1}"),
        ({"1": 1.5}, f"toy: item 1 = 1.5 is not a whole number; {ALLOWED_1}"),
        ({"2": 10.5}, "toy: item 2 = 10.5 is out of range; allowed: a number 0..10"),
        ({"2": float("inf")}, "toy: item 2 = inf is not finite; allowed: a number 0..10"),
        ({"2": [1]}, "toy: item 2 = [1] is not a number"),
        ({"3": 15}, "toy: item 3 = 15 is not on the allowed steps; allowed: 0..100 in steps of 10"),
        ({"3": 110}, "toy: item 3 = 110 is out of range; allowed: 0..100 in steps of 10"),
        ({"4": 2}, "toy: item 4 = 2 is not an allowed value; allowed: one of 0, 1"),
        ({"4": 0.5}, "toy: item 4 = 0.5 is not an allowed value; allowed: one of 0, 1"),
        ({"5": "25:00"}, "toy: item 5 = '25:00' is not a valid time; allowed: a clock time \"HH:MM\""),
        ({"5": "7h30"}, "toy: item 5 = '7h30' is not a valid time"),
        ({"5": "12:60"}, "toy: item 5 = '12:60' is not a valid time"),
        ({"5": "7:30:00"}, "toy: item 5 = '7:30:00' is not a valid time"),
        ({"5": 1440}, "toy: item 5 = 1440 is not a valid time"),
        ({"5": 90.5}, "toy: item 5 = 90.5 is not a valid time"),
        ({"5": True}, "toy: item 5 = True is not a valid time"),
        ({"5": dt.time(7, 30, 15)}, "toy: item 5 = datetime.time(7, 30, 15) is not a valid time"),
        ({"1": 1, 1: 2}, "toy: item 1 is given twice (as 1 and '1')"),
    ],
)
def test_bad_values_are_named_with_what_is_allowed(responses, message):
    with pytest.raises(InstrumentError, match=re.escape(message)):
        score(TOY, responses)


def test_responses_must_be_a_mapping():
    with pytest.raises(InstrumentError, match="toy: responses must be a mapping of item -> value, got list"):
        score(TOY, [1, 2])  # type: ignore[arg-type]


def test_accepted_forms_of_values():
    base = score(TOY, FULL)
    assert base == {"sum": 11.5, "high": True, "n_missing": 0}
    assert isinstance(base["n_missing"], int)
    # numbers as text (CSV cells), integer keys, numpy scalars
    assert score(TOY, {1: "2", "2": "5.5", "3": np.int64(30), "4": np.float64(1.0)}) == base
    # a clock time as "HH:MM", minutes after midnight or datetime.time
    for bedtime in ("23:30", " 23:30 ", 1410, 1410.0, dt.time(23, 30)):
        assert score(TOY, {**FULL, "5": bedtime}) == base


@pytest.mark.parametrize("blank", [None, "", "  ", float("nan"), np.nan, pd.NA])
def test_blank_values_are_missing(blank):
    out = score(TOY, {**FULL, "1": blank, "5": blank})
    assert out == {"sum": None, "high": None, "n_missing": 1}


def test_parse_clock():
    assert parse_clock("00:00") == 0 and parse_clock("23:59") == 1439 and parse_clock("7:05") == 425
    assert np.isnan(parse_clock(None)) and np.isnan(parse_clock(pd.NA)) and np.isnan(parse_clock(""))
    for bad in ("24:00", "25:00", "7h30", "07:5", "-1:00", 1440, -1, True, np.True_):
        with pytest.raises(ValueError):  # noqa: PT011 - parse_clock's ValueError carries the value only
            parse_clock(bad)


def test_fractional_steps_accept_exact_decimals():
    inst = _single_item(Item("1", "x", kind="number", minimum=0, maximum=1, step=0.1))
    for v in (0.0, 0.1, 0.3, 0.7, 0.9, 1.0):
        assert score(inst, {"1": v}) == {"x": v}
    with pytest.raises(InstrumentError, match=re.escape("is not on the allowed steps; allowed: 0..1 in steps of 0.1")):
        score(inst, {"1": 0.25})


@pytest.mark.parametrize(
    ("item", "allowed"),
    [
        (Item("1", "x", minimum=0, maximum=3), "an integer 0..3"),
        (Item("1", "x", kind="number", minimum=0), "a number >= 0"),
        (Item("1", "x", maximum=5), "an integer <= 5"),
        (Item("1", "x", kind="number"), "any finite number"),
        (Item("1", "x", minimum=0, maximum=100, step=10), "0..100 in steps of 10"),
        (Item("1", "x", values=(1, 2, 4)), "one of 1, 2, 4"),
        (Item("1", "x", kind="number", values=(0, 0.5, 1)), "one of 0, 0.5, 1"),
    ],
)
def test_allowed_text(item, allowed):
    assert item.allowed() == allowed


def test_unbounded_items():
    inst = _single_item(Item("1", "x", kind="number", minimum=0))
    assert score(inst, {"1": 1e6}) == {"x": 1e6}
    with pytest.raises(InstrumentError, match=re.escape("item 1 = -0.5 is out of range; allowed: a number >= 0")):
        score(inst, {"1": -0.5})


# -- wide score_frame ----------------------------------------------------------------------


def test_wide_carries_id_columns_and_matches_score():
    data = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c"],
            "visit": [1, 1, 2],
            "1": [2, 0, None],
            "2": [5.5, 0.0, 1.0],
            "3": [30, 0, 100],
            "4": [1, 0, 1],
        }
    )
    out = score_frame(TOY, data, id_columns=["patient_id", "visit"])
    assert list(out.columns) == ["patient_id", "visit", "sum", "high", "n_missing"]
    assert out["patient_id"].tolist() == ["a", "b", "c"] and out["visit"].tolist() == [1, 1, 2]
    for i, row in data.iterrows():
        expected = score(TOY, row.drop(["patient_id", "visit"]).to_dict())
        got = out.iloc[i]
        assert {k: (None if pd.isna(got[k]) else got[k]) for k in expected} == expected


def test_wide_accepts_a_single_id_column_name_and_integer_columns():
    data = pd.DataFrame({"id": [7], 1: [2], 2: [5.5], 3: [30], 4: [1]})
    out = score_frame(TOY, data, id_columns="id")
    assert out.loc[0, "id"] == 7 and out.loc[0, "sum"] == 11.5


def test_wide_errors_give_spreadsheet_rows_and_plain_values():
    data = pd.DataFrame({"1": [1, 2, 9], "2": [0.0, 0.0, 0.0]})
    # the header is row 1, so the third data row is row 4; the value reads 9, not np.int64(9)
    with pytest.raises(InstrumentError, match=re.escape(f"toy row 4: item 1 = 9 is out of range; {ALLOWED_1}")):
        score_frame(TOY, data)
    with pytest.raises(InstrumentError, match=re.escape("toy row 2: item 2 = 'x' is not a number")):
        score_frame(TOY, pd.DataFrame({"2": ["x", "1"]}))


def test_wide_rejects_unknown_columns_repeated_items_and_absent_ids():
    with pytest.raises(InstrumentError, match="toy: unknown item 'patient_id'"):
        score_frame(TOY, pd.DataFrame({"patient_id": [1], "1": [1]}))
    with pytest.raises(InstrumentError, match=r"toy: id column[(]s[)] subject not in the data"):
        score_frame(TOY, pd.DataFrame({"1": [1]}), id_columns=["subject"])
    with pytest.raises(InstrumentError, match="toy: item 1 is given twice"):
        score_frame(TOY, pd.DataFrame([[1, 2]], columns=pd.Index([1, "1"], dtype=object)))


def test_wide_of_no_rows():
    out = score_frame(TOY, pd.DataFrame({"1": pd.Series([], dtype=float)}))
    assert len(out) == 0 and list(out.columns) == ["sum", "high", "n_missing"]


# -- long score_frame ----------------------------------------------------------------------


def _long(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["patient_id", "visit", "instrument", "item", "value"])


LONG = _long(
    [
        (1, 1, "toy", "1", 2),
        (1, 1, "toy", "2", 5.5),
        (1, 1, "toy", "3", 30),
        (1, 1, "toy", "4", 1),
        (1, 1, "pgic", "1", 9),  # another instrument: ignored (9 would be invalid for toy item 1)
        (1, 1, "other", "99", "x"),
        (1, 2, "TOY", 1, 0),  # instrument names are case-insensitive; item keys may be integers
        (1, 2, "toy", "2", 0),
        (2, 1, "toy", "4", 0),  # only one item: the rest are missing
    ]
)


def test_long_one_row_per_patient_visit_other_instruments_ignored():
    out = score_frame(TOY, LONG, missing="prorate")
    assert list(out.columns) == ["patient_id", "visit", "sum", "high", "n_missing"]
    assert out[["patient_id", "visit"]].to_numpy().tolist() == [[1, 1], [1, 2], [2, 1]]
    # (1,1): full = 11.5; (1,2): 0, 0, missing 3 and 4 -> 2 missing, not pro-rated; (2,1): 3 missing
    assert out["sum"].tolist()[0] == 11.5 and out["sum"].isna().tolist() == [False, True, True]
    assert out["n_missing"].tolist() == [0, 2, 3]


def test_long_matches_wide():
    wide = pd.DataFrame([{"patient_id": 1, "visit": 1, "1": 2, "2": 5.5, "3": 30, "4": 1}])
    long_out = score_frame(TOY, LONG).iloc[[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(long_out, score_frame(TOY, wide, id_columns=["patient_id", "visit"]), check_dtype=False)


def test_long_rejects_duplicates_also_across_key_types():
    dup = pd.concat([LONG, _long([(1, 1, "toy", 3, 40)])], ignore_index=True)
    with pytest.raises(InstrumentError, match=re.escape("toy: item 3 appears twice for patient_id=1, visit=1")):
        score_frame(TOY, dup)
    # a duplicate in another instrument's rows is not ours to judge
    other = pd.concat([LONG, _long([(1, 1, "other", "99", "y")])], ignore_index=True)
    assert len(score_frame(TOY, other)) == 3


def test_long_errors_name_the_respondent():
    bad = pd.concat([LONG, _long([(3, 2, "toy", "1", 7)])], ignore_index=True)
    with pytest.raises(InstrumentError, match=re.escape(f"toy respondent patient_id=3 visit=2: item 1 = 7 is out of range; {ALLOWED_1}")):
        score_frame(TOY, bad)


def test_long_keys():
    no_visit = LONG[LONG["visit"] == 1].drop(columns="visit")
    out = score_frame(TOY, no_visit)
    assert list(out.columns[:1]) == ["patient_id"] and out["patient_id"].tolist() == [1, 2]
    with pytest.raises(InstrumentError, match="long data need a patient_id"):
        score_frame(TOY, LONG.drop(columns=["patient_id", "visit"]))
    # id_columns choose the respondent keys of long data
    by_period = LONG.rename(columns={"visit": "period"})
    out = score_frame(TOY, by_period, id_columns=["patient_id", "period"])
    assert list(out.columns[:2]) == ["patient_id", "period"]
    with pytest.raises(InstrumentError, match=r"id column[(]s[)] visit not in the data"):
        score_frame(TOY, by_period, id_columns=["patient_id", "visit"])


def test_long_without_rows_of_the_instrument():
    out = score_frame(TOY, LONG[LONG["instrument"] == "pgic"])
    assert len(out) == 0 and list(out.columns) == ["patient_id", "visit", "sum", "high", "n_missing"]


# -- the scorer contract and the declaration -----------------------------------------------


def _single_item(item: Item, scorer=None, scores=None) -> Instrument:
    def identity(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
        return pd.DataFrame({"x": items["1"]}, index=items.index)

    return Instrument(
        name="single",
        title="one item",
        reference="none",
        licence="free",
        items=(item,),
        scores=scores or (Score("x", "the answer", item.minimum, item.maximum, label="answer"),),
        scorer=scorer or identity,
    )


ITEM = Item("1", "x", minimum=0, maximum=10)


@pytest.mark.parametrize(
    ("scorer", "message"),
    [
        (lambda items, o: pd.DataFrame({"y": items["1"]}, index=items.index), r"returned columns \['y'\], expected \['x'\]"),
        (lambda items, o: pd.DataFrame({"x": items["1"], "z": 1}, index=items.index), "expected"),
        (lambda items, o: pd.DataFrame({"x": items["1"].to_numpy()}, index=pd.RangeIndex(len(items)) + 10), "different index"),
        (lambda items, o: pd.DataFrame({"x": "high"}, index=items.index), "not a number"),
        (lambda items, o: items["1"], "returned columns Series"),
    ],
)
def test_scorer_contract_guard(scorer, message):
    inst = _single_item(ITEM, scorer)
    with pytest.raises(RuntimeError, match=message):
        score(inst, {"1": 6})


def test_scorer_contract_guard_on_out_of_range_values():
    double = _single_item(ITEM, lambda items, o: pd.DataFrame({"x": items["1"] * 2}, index=items.index))
    assert score(double, {"1": 5}) == {"x": 10.0}  # in range: fine
    with pytest.raises(RuntimeError, match=re.escape("single: score x out of its range 0..10")):
        score(double, {"1": 6})
    shift = _single_item(ITEM, lambda items, o: pd.DataFrame({"x": items["1"] - 1}, index=items.index))
    with pytest.raises(RuntimeError, match="out of its range"):
        score_frame(shift, pd.DataFrame({"1": [3, 0]}))


def test_scorer_contract_guard_on_true_false_scores():
    flag = (Score("x", "a flag", kind="bool", label="flag"),)
    good = _single_item(ITEM, lambda items, o: pd.DataFrame({"x": items["1"] > 5}, index=items.index), flag)
    assert score(good, {"1": 6}) == {"x": True}
    bad = _single_item(ITEM, lambda items, o: pd.DataFrame({"x": items["1"]}, index=items.index), flag)
    with pytest.raises(RuntimeError, match="declared true/false"):
        score(bad, {"1": 6})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"items": (ITEM, ITEM)}, "duplicate item keys"),
        ({"scores": (Score("x", "a"), Score("x", "b"))}, "duplicate score/report names"),
        ({"reports": (Score("x", "a"),)}, "duplicate score/report names"),
        ({"options": (Option("m", ("a", "b"), "c", "doc"),)}, "option m default 'c' is not one of its choices"),
        ({"options": (Option("m", ("a",), "a", ""), Option("m", ("a",), "a", ""))}, "duplicate option names"),
        ({"items": (Item("1", "x", minimum=3, maximum=1),)}, "item 1 has minimum > maximum"),
        ({"items": (Item("1", "x", minimum=0, maximum=1, step=0),)}, "item 1 has a step <= 0"),
    ],
)
def test_declaration_errors(kwargs, message):
    args = {
        "name": "bad",
        "title": "t",
        "reference": "r",
        "licence": "l",
        "items": (ITEM,),
        "scores": (Score("x", "d"),),
        "scorer": lambda items, o: items,
    } | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        Instrument(**args)


def test_every_registered_instrument_describes_itself():
    for inst in instruments().values():
        d = inst.to_dict()
        assert [i["key"] for i in d["items"]] == list(inst.item_keys)
        assert [s["name"] for s in d["scores"]] == list(inst.score_names)
        assert all(isinstance(i["allowed"], str) and i["label"] for i in d["items"])
        for option in d["options"]:
            assert option["default"] in option["choices"]


def test_every_registered_score_has_a_short_label_naming_its_construct():
    """Labels are how reports name scores (docs/instruments.md): a few words naming the
    construct, never an item's licensed wording (no question, no quotation)."""
    for inst in instruments().values():
        d = inst.to_dict()
        assert d["label"] == inst.label and 2 <= len(inst.label) <= 20, inst.name
        for s in d["scores"]:
            label = s["label"]
            assert label.strip() == label and 2 <= len(label) <= 40, (inst.name, s["name"], label)
            assert not set(label) & set("?\"'“”«»:;"), (inst.name, s["name"], label)
    assert instruments()["bpi"].score_label("severity_mean") == "BPI pain severity"
    assert instruments()["sf36"].score_label("PF") == "SF-36 physical functioning"


def test_score_label_joins_the_instrument_label_and_the_score_label():
    assert TOY.label == "TOY"  # the default: the name in capitals
    assert TOY.score_label("high") == "TOY high sum"
    assert TOY.score_label("n_missing") == "TOY n missing"  # without a label: the name, underscores as spaces
    with pytest.raises(InstrumentError, match=re.escape("toy: unknown score 'nope'; scores are sum, high, n_missing")):
        TOY.score_label("nope")


# -- naming the respondent in a scorer's own (cross-item) messages -------------------------


def _ordered_scorer(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    """A cross-item rule: item 2 must not exceed item 1."""
    bad = (items["2"] > items["1"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InstrumentError(f"ordered{respondent(items, i)}: item 2 exceeds item 1")
    return pd.DataFrame({"d": items["1"] - items["2"]}, index=items.index)


ORDERED = Instrument(
    name="ordered",
    title="t",
    reference="r",
    licence="l",
    items=(Item("1", "a", minimum=0, maximum=9), Item("2", "b", minimum=0, maximum=9)),
    scores=(Score("d", "1 - 2", 0, 9, label="difference"),),
    scorer=_ordered_scorer,
)


def test_scorer_messages_name_the_respondent_like_the_framework():
    with pytest.raises(InstrumentError, match=re.escape("ordered: item 2 exceeds item 1")):
        score(ORDERED, {"1": 1, "2": 2})
    wide = pd.DataFrame({"1": [5, 5, 1], "2": [1, 5, 2]})
    with pytest.raises(InstrumentError, match=re.escape("ordered row 4: item 2 exceeds item 1")):
        score_frame(ORDERED, wide)
    long = _long([(1, 1, "ordered", "1", 5), (1, 1, "ordered", "2", 1), (2, 3, "ordered", "1", 0), (2, 3, "ordered", "2", 4)])
    with pytest.raises(InstrumentError, match=re.escape("ordered respondent patient_id=2 visit=3: item 2 exceeds item 1")):
        score_frame(ORDERED, long)
    out = score_frame(ORDERED, wide.iloc[:2])
    assert out["d"].tolist() == [4, 0] and "respondents" not in out.attrs


def test_respondent_outside_the_framework_falls_back_to_the_position():
    assert respondent(pd.DataFrame({"1": [1.0, 2.0]}), 1) == " respondent at 0-based position 1"


# -- incomplete: too many unanswered items for a score (issue 3, Contract) -----------------


def _needs_sum(options: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    if options["missing"] == "prorate":
        return ("1", "2", "3", "4"), "needs at least 3 of its 4 items (missing='prorate')"
    return ("1", "2", "3", "4"), "needs all 4 items (missing='none'; missing='prorate' allows 1 unanswered)"


# TOY with its scores' items and rules declared: the framework refuses what the rule refuses
STRICT = Instrument(
    name="strict",
    title="Toy questionnaire with declared missing-item rules",
    reference="none",
    licence="free",
    items=TOY.items,
    scores=(
        Score("sum", "items 1, 2, 4 and item 3 / 10", 0, 24, items=("1", "2", "3", "4"),
              rule="needs all 4 items (missing='none') or 3 of 4 (missing='prorate')", needs=_needs_sum, label="sum"),
        Score("high", "sum >= 10", kind="bool", items=("1", "2", "3", "4"),
              rule="needs all 4 items (missing='none') or 3 of 4 (missing='prorate')", needs=_needs_sum,
              label="high sum"),
    ),
    reports=TOY.reports,
    options=TOY.options,
    scorer=_toy_scorer,
)
HINT = "pass incomplete='missing' to get the score as missing instead"
SUM_NONE = "sum needs all 4 items (missing='none'; missing='prorate' allows 1 unanswered)"
HIGH_NONE = "high needs all 4 items (missing='none'; missing='prorate' allows 1 unanswered)"


def test_incomplete_default_is_error_naming_score_items_and_rule():
    answers = {"1": 2, "2": 5.5, "4": 1}  # item 3 unanswered
    expected = (
        f"strict: sum cannot be scored: item 3 unanswered; {SUM_NONE}; "
        f"high cannot be scored: item 3 unanswered; {HIGH_NONE}; {HINT}"
    )
    with pytest.raises(InstrumentError) as err:
        score(STRICT, answers)
    assert str(err.value) == expected
    with pytest.raises(InstrumentError, match=re.escape(expected)):
        score(STRICT, answers, incomplete="error")  # the same, explicitly


def test_incomplete_missing_gives_none_and_reports():
    answers = {"1": 2, "2": 5.5, "4": 1}
    assert score(STRICT, answers, incomplete="missing") == {"sum": None, "high": None, "n_missing": 1}
    # an instrument that declares no items is never checked per score (only a blank form is)
    assert score(TOY, answers) == score(TOY, answers, incomplete="missing") == {"sum": None, "high": None, "n_missing": 1}


def test_incomplete_within_the_allowance_is_scored_in_both_modes():
    answers = {"1": 2, "2": 5.5, "4": 1}  # one unanswered: pro-rating allows it
    for incomplete in ("error", "missing"):
        out = score(STRICT, answers, missing="prorate", incomplete=incomplete)
        assert out == {"sum": pytest.approx(34 / 3), "high": True, "n_missing": 1}
    # two unanswered: beyond the allowance; the message gives the rule of the option that ran
    with pytest.raises(InstrumentError) as err:
        score(STRICT, {"1": 2, "2": 5.5}, missing="prorate")
    assert str(err.value).startswith(
        "strict: sum cannot be scored: items 3, 4 unanswered; sum needs at least 3 of its 4 items (missing='prorate'); "
    )
    assert score(STRICT, {"1": 2, "2": 5.5}, missing="prorate", incomplete="missing")["sum"] is None


def test_incomplete_only_when_an_item_of_the_score_is_unanswered():
    # a score missing for another reason, with all its items answered, is never refused
    def scorer(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
        return pd.DataFrame({"d": (items["1"] - items["2"]).where(items["1"] >= items["2"])}, index=items.index)

    inst = Instrument(
        name="diff", title="t", reference="r", licence="l",
        items=(Item("1", "a", minimum=0, maximum=9), Item("2", "b", minimum=0, maximum=9)),
        scores=(Score("d", "1 - 2 when 1 >= 2", 0, 9, items=("1", "2"), rule="needs both items", label="difference"),),
        scorer=scorer,
    )
    assert score(inst, {"1": 1, "2": 3}) == {"d": None}
    with pytest.raises(InstrumentError, match=re.escape(f"diff: d cannot be scored: item 2 unanswered; d needs both items; {HINT}")):
        score(inst, {"1": 1})


@pytest.mark.parametrize("blank", [{}, {"1": None, "2": "", "3": float("nan"), "4": pd.NA}])
@pytest.mark.parametrize("inst", [STRICT, TOY], ids=["declared", "undeclared"])
def test_incomplete_blank_form_is_refused(blank, inst):
    expected = f"{inst.name}: the form is blank (no item answered), so none of its scores (sum, high) can be computed; {HINT}"
    with pytest.raises(InstrumentError) as err:
        score(inst, blank)
    assert str(err.value) == expected
    assert score(inst, blank, incomplete="missing") == {"sum": None, "high": None, "n_missing": 4}
    # only an unscored item answered: still nothing to score
    with pytest.raises(InstrumentError, match=re.escape(f"{inst.name}: no scored item is answered (only item 5), so none")):
        score(inst, {**blank, "5": "23:00"})


def test_incomplete_bad_value_is_refused():
    for call in (lambda: score(STRICT, FULL, incomplete="warn"), lambda: score_frame(STRICT, pd.DataFrame([FULL]), incomplete="warn")):
        with pytest.raises(InstrumentError, match=re.escape("strict: incomplete='warn' is not one of error, missing")):
            call()
    with pytest.raises(InstrumentError, match="is not one of error, missing"):
        score(STRICT, FULL, incomplete=None)  # type: ignore[arg-type]


def test_incomplete_is_a_framework_keyword_not_an_option():
    assert score(STRICT, FULL) == score(STRICT, FULL, incomplete="missing") == {"sum": 11.5, "high": True, "n_missing": 0}
    assert STRICT.resolve_options({}) == {"missing": "none"}  # not among the options
    message = "strict: 'incomplete' is a keyword of score() and score_frame(), not an option of strict"
    with pytest.raises(InstrumentError, match=re.escape(message)):
        STRICT.resolve_options({"incomplete": "missing"})
    for name in ("incomplete", "id_columns"):
        with pytest.raises(ValueError, match=re.escape(f"option name {name!r} is reserved")):
            Instrument(
                name="clash",
                title="t",
                reference="r",
                licence="l",
                items=(ITEM,),
                scores=(Score("x", "d"),),
                options=(Option(name, ("error", "missing"), "error", "clash"),),
                scorer=lambda items, o: items,
            )


def test_incomplete_score_frame_wide_names_the_row_and_counts_the_others():
    data = pd.DataFrame(
        {"patient_id": [1, 2, 3, 4], "1": [2, 2, None, 0], "2": [5.5, 5.5, None, 1], "3": [30, None, None, 0], "4": [1, 1, None, None]}
    )
    with pytest.raises(InstrumentError) as err:
        score_frame(STRICT, data, id_columns=["patient_id"])
    assert str(err.value) == (
        f"strict row 3: sum cannot be scored: item 3 unanswered; {SUM_NONE}; high cannot be scored: item 3 "
        f"unanswered; {HIGH_NONE}; 2 more respondents in these data are incomplete too; {HINT}"
    )
    out = score_frame(STRICT, data, id_columns=["patient_id"], incomplete="missing")
    assert out.attrs == {"instrument": "strict", "options": {"missing": "none"}, "incomplete": "missing"}
    assert out["sum"].isna().tolist() == [False, True, True, True] and out["n_missing"].tolist() == [0, 1, 4, 1]
    # the blank respondent (row 4) is named when it comes first
    with pytest.raises(InstrumentError, match=re.escape("strict row 2: the form is blank (no item answered)")):
        score_frame(STRICT, data.iloc[2:], id_columns=["patient_id"])
    # pro-rating allows rows 3 and 5; the blank row 4 is the only one refused
    with pytest.raises(InstrumentError) as err:
        score_frame(STRICT, data, id_columns=["patient_id"], missing="prorate")
    assert str(err.value).startswith("strict row 4: the form is blank") and "more respondent" not in str(err.value)
    complete = score_frame(STRICT, data.iloc[:1], id_columns=["patient_id"])
    assert complete.attrs["incomplete"] == "error" and complete["sum"].tolist() == [11.5]


def test_incomplete_score_frame_long_names_the_respondent():
    long = _long(
        [
            (1, 1, "strict", "1", 2),
            (1, 1, "strict", "2", 5.5),
            (1, 1, "strict", "3", 30),
            (1, 1, "strict", "4", 1),
            (2, 3, "strict", "1", 0),
            (2, 3, "strict", "2", 0),  # items 3 and 4 unanswered
            (3, 1, "strict", "1", None),  # a row with no value: a blank form
        ]
    )
    with pytest.raises(InstrumentError) as err:
        score_frame(STRICT, long)
    assert str(err.value) == (
        f"strict respondent patient_id=2 visit=3: sum cannot be scored: items 3, 4 unanswered; {SUM_NONE}; "
        f"high cannot be scored: items 3, 4 unanswered; {HIGH_NONE}; 1 more respondent in these data is incomplete too; "
        f"{HINT}"
    )
    with pytest.raises(InstrumentError, match=re.escape("strict respondent patient_id=3 visit=1: the form is blank")):
        score_frame(STRICT, long[long["patient_id"] != 2])
    out = score_frame(STRICT, long, incomplete="missing")
    assert out.attrs["incomplete"] == "missing"
    assert out["sum"].tolist()[0] == 11.5 and out["sum"].isna().tolist() == [False, True, True]
    assert score_frame(STRICT, long[long["patient_id"] == 1]).attrs["incomplete"] == "error"


def test_incomplete_check_is_vectorised_and_matches_score():
    rng = np.random.default_rng(5)
    # small answers, so that the toy's pro-rated sum stays within its declared range 0..24
    data = pd.DataFrame(
        {"1": rng.integers(0, 4, 200), "2": rng.random(200) * 3, "3": rng.integers(0, 4, 200) * 10, "4": rng.integers(0, 2, 200)}
    ).astype(object)
    data = data.mask(rng.random(data.shape) < 0.05)
    out = score_frame(STRICT, data, missing="prorate", incomplete="missing")
    refused = []
    for i in range(len(data)):
        answers = data.iloc[i].to_dict()
        try:
            score(STRICT, answers, missing="prorate")
        except InstrumentError:
            refused.append(i)
            assert pd.isna(out["sum"].iloc[i])
    assert refused, "the data should hold some respondent beyond the allowance"
    with pytest.raises(InstrumentError) as err:
        score_frame(STRICT, data, missing="prorate")
    assert str(err.value).startswith(f"strict row {refused[0] + 2}: ")
    more = len(refused) - 1
    assert f"{more} more respondent{'s' if more > 1 else ''} in these data" in str(err.value)


@pytest.mark.parametrize(
    ("score_", "message"),
    [
        (Score("x", "d", items=("9",), rule="needs item 9"), "items 9 are not items of the instrument"),
        (Score("x", "d", items=("1",)), "score x declares items but no rule"),
        (Score("x", "d", items=(), rule="needs nothing"), "items must be a non-empty tuple"),
        (Score("x", "d", items="1", rule="needs item 1"), "items must be a non-empty tuple"),  # type: ignore[arg-type]
        (Score("x", "d", items=("1", "1"), rule="needs item 1"), "an item is listed twice"),
        (Score("x", "d", rule="r", needs=lambda o: (("1",), "r")), "score x has needs but no items"),
        (Score("x", "d", items=("1",), rule="r", needs=lambda o: (("1", "2"), "r")), "not among the score's declared items"),
        (
            Score("x", "d", items=("1",), rule="r", needs=lambda o: (("1",), "" if o["m"] == "b" else "r")),
            "under {'m': 'b'}: needs must give a non-empty tuple of items and a rule",
        ),
    ],
)
def test_declared_items_and_rules_are_checked(score_, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Instrument(
            name="bad",
            title="t",
            reference="r",
            licence="l",
            items=(ITEM, Item("2", "y", minimum=0, maximum=1)),
            scores=(score_,),
            options=(Option("m", ("a", "b"), "a", "doc"),),
            scorer=lambda items, o: items,
        )
    with pytest.raises(ValueError, match="report r declares items; only scores are checked"):
        Instrument(
            name="bad",
            title="t",
            reference="r",
            licence="l",
            items=(ITEM,),
            scores=(Score("x", "d"),),
            reports=(Score("r", "d", items=("1",), rule="needs item 1"),),
            scorer=lambda items, o: items,
        )


def test_to_dict_lists_items_and_rules():
    d = STRICT.to_dict()
    assert d["scores"][0]["items"] == ["1", "2", "3", "4"]
    assert d["scores"][0]["rule"] == "needs all 4 items (missing='none') or 3 of 4 (missing='prorate')"
    assert d["reports"][0]["items"] is None and d["reports"][0]["rule"] == ""
    assert TOY.to_dict()["scores"][0]["items"] is None


# -- every registered instrument declares what each score needs ----------------------------

# Each score's items (under the default options) and the option-dependent readings, from the
# instruments' pages (docs/instruments/<name>.md, "Missing items"). PCS/MCS follow the scales.
_SF36 = {
    "PF": range(3, 13),
    "RP": range(13, 17),
    "BP": (21, 22),
    "GH": (1, 33, 34, 35, 36),
    "VT": (23, 27, 29, 31),
    "SF": (20, 32),
    "RE": (17, 18, 19),
    "MH": (24, 25, 26, 28, 30),
}
_QDSA_SENSORY = get_instrument("qdsa").item_keys[:35]
DECLARED: dict[str, dict[str, tuple[str, ...] | None]] = {
    "blinding": dict.fromkeys(("n_dont_know", "n_placebo", "n_active", "n_answered", "guessed_all"), ("period_1", "period_2", "period_3")),
    "bpi": {
        "worst": ("3",),
        "least": ("4",),
        "average": ("5",),
        "now": ("6",),
        "severity_mean": ("3", "4", "5", "6"),
        "interference_mean": ("9a", "9b", "9c", "9d", "9e", "9f", "9g"),
        "interference_affective": ("9b", "9e", "9g"),
        "interference_activity": ("9a", "9c", "9d"),
        "relief_pct": ("8",),
    },
    "dn4": {"total": tuple(str(i) for i in range(1, 11)), "neuropathic": tuple(str(i) for i in range(1, 11))},
    "hads": {"anxiety": ("1", "3", "5", "7", "9", "11", "13"), "depression": ("2", "4", "6", "8", "10", "12", "14")},
    "npsi": {
        "total": ("1", "2", "3", "5", "6", "8", "9", "10", "11", "12"),
        "burning_spontaneous": ("1",),
        "pressing_spontaneous": ("2", "3"),
        "paroxysmal": ("5", "6"),
        "evoked": ("8", "9", "10"),
        "paresthesia_dysesthesia": ("11", "12"),
    },
    "nrs": {"nrs": ("1",)},
    "pgic": {"pgic": ("1",), "responder": ("1",), "any_improvement": ("1",)},
    "psqi": {
        "c1_quality": ("6",),
        "c2_latency": ("2", "5a"),
        "c3_duration": ("4",),
        "c4_efficiency": ("1", "3", "4"),
        "c5_disturbances": tuple(f"5{c}" for c in "bcdefghi"),
        "c6_medication": ("7",),
        "c7_daytime": ("8", "9"),
        "global": ("1", "2", "3", "4", *(f"5{c}" for c in "abcdefghi"), "6", "7", "8", "9"),
    },
    "qdsa": {"sensory": _QDSA_SENSORY, "affective": get_instrument("qdsa").item_keys[35:], "total": get_instrument("qdsa").item_keys},
    "sf36": {**{s: tuple(str(i) for i in items) for s, items in _SF36.items()}, "PCS": None, "MCS": None},
    "sfmpq": {
        "sensory": tuple(str(i) for i in range(1, 12)),
        "affective": ("12", "13", "14", "15"),
        "total": tuple(str(i) for i in range(1, 16)),
        "ppi": ("ppi",),
        "vas": ("vas",),
    },
}
BY_OPTION = [  # (instrument, options, score, items, rule)
    (
        "dn4",
        {"version": "interview"},
        "total",
        tuple(str(i) for i in range(1, 8)),
        "needs all 7 items of version='interview' (the paper has no missing-item rule)",
    ),
    (
        "bpi",
        {"sleep": "in_activity"},
        "interference_activity",
        ("9a", "9c", "9d", "9f"),
        "needs at least 3 of its 4 items 9a, 9c, 9d, 9f (sleep='in_activity')",
    ),
    ("bpi", {}, "interference_activity", ("9a", "9c", "9d"), "needs at least 2 of its 3 items 9a, 9c, 9d (sleep='excluded')"),
    (
        "hads",
        {"missing": "half_rule"},
        "depression",
        ("2", "4", "6", "8", "10", "12", "14"),
        "needs at least 4 of its 7 items (missing='half_rule', Bell et al. 2016)",
    ),
    (
        "hads",
        {},
        "anxiety",
        ("1", "3", "5", "7", "9", "11", "13"),
        "needs all 7 items (missing='none'; missing='half_rule' allows up to 3 unanswered)",
    ),
    ("sf36", {}, "GH", ("1", "33", "34", "35", "36"), "needs at least 3 of its 5 items (method='ware': half-scale rule)"),
    (
        "sf36",
        {"method": "rand"},
        "GH",
        ("1", "33", "34", "35", "36"),
        "needs at least 1 of its 5 items (method='rand': mean of the answered items)",
    ),
]


def test_every_score_declares_its_items_and_rule():
    assert sorted(DECLARED) == sorted(instruments())
    for name, inst in instruments().items():
        defaults = inst.resolve_options({})
        got = {s.name: s.requirement(defaults)[0] for s in inst.scores}
        assert got == DECLARED[name], name
        for s in inst.scores:
            if s.items is not None:
                assert s.rule.startswith("needs "), (name, s.name, s.rule)
                assert s.requirement(defaults)[1].startswith("needs "), (name, s.name)


@pytest.mark.parametrize(("name", "options", "score_name", "items", "rule"), BY_OPTION)
def test_items_and_rules_follow_the_options(name, options, score_name, items, rule):
    inst = get_instrument(name)
    s = next(s for s in inst.scores if s.name == score_name)
    assert s.requirement(inst.resolve_options(options)) == (items, rule)


# one complete, valid answer set per instrument (lowest values; PSQI 8 h in bed)
COMPLETE: dict[str, dict[str, object]] = {
    "blinding": {"period_1": 0, "period_2": 1, "period_3": 2},
    "bpi": dict.fromkeys(get_instrument("bpi").item_keys, 0),
    "dn4": dict.fromkeys(get_instrument("dn4").item_keys, 0),
    "hads": dict.fromkeys(get_instrument("hads").item_keys, 0),
    "npsi": dict.fromkeys(get_instrument("npsi").item_keys, 0) | {"4": 1, "7": 1},
    "nrs": {"1": 0},
    "pgic": {"1": 4},
    "psqi": dict.fromkeys(get_instrument("psqi").item_keys, 0) | {"1": "23:00", "3": "07:00", "4": 7},
    "qdsa": dict.fromkeys(get_instrument("qdsa").item_keys, 0),
    "sf36": dict.fromkeys(get_instrument("sf36").item_keys, 1),
    "sfmpq": dict.fromkeys(get_instrument("sfmpq").item_keys, 0),
}


def _option_sets(inst: Instrument) -> list[dict[str, str]]:
    names = [o.name for o in inst.options]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(o.choices for o in inst.options))]


@pytest.mark.parametrize("name", sorted(COMPLETE))
def test_declared_items_are_exactly_what_each_score_needs(name):
    """Under every option set: blanking all of a score's items leaves it missing and is refused
    by default, naming it (or the blank form); keeping only its items (the rest blank) scores it.

    QDSA is the exception the manual makes: a blank word counts 0, so a dimension with every word
    blank scores 0 while any word of the form is answered (only an all-blank form is missing).
    """
    inst = get_instrument(name)
    seen = set()
    for options in _option_sets(inst):
        if name == "sf36" and options["version"] == "v2" and options["method"] == "rand":
            continue  # refused whatever the answers
        requirements = tuple(s.requirement(inst.resolve_options(options)) for s in inst.scores)
        if requirements in seen:
            continue  # options that do not change any score's items or rule (e.g. SF-36 norms)
        seen.add(requirements)
        complete = dict(COMPLETE[name])
        if name == "dn4" and options["version"] == "interview":
            complete = {k: v for k, v in complete.items() if int(k) <= 7}
        full = score(inst, complete, **options)  # complete: no error by default
        assert all(full[s.name] is not None for s in inst.scores if s.items is not None), (name, options)
        for s in inst.scores:
            keys, rule = s.requirement(inst.resolve_options(options))
            if keys is None:
                continue
            without = {k: v for k, v in complete.items() if k not in keys}
            if name == "qdsa" and without:
                assert score(inst, without, **options)[s.name] == 0  # blank words count 0: no error
                without = {}
            assert score(inst, without, incomplete="missing", **options)[s.name] is None, (name, options, s.name)
            with pytest.raises(InstrumentError) as err:
                score(inst, without, **options)
            text = str(err.value)
            blank_form = "the form is blank" in text or "no scored item is answered" in text
            assert f"{s.name} cannot be scored: " in text or blank_form, text
            if not blank_form:
                assert f"; {s.name} {rule}; " in text
            only = {k: v for k, v in complete.items() if k in keys}
            assert score(inst, only, incomplete="missing", **options)[s.name] is not None, (name, options, s.name)


def test_an_integer_beyond_int64_is_an_instrument_error() -> None:
    """Issue 14: a 400-digit answer raised OverflowError from pandas."""
    from ketapain.instruments import get_instrument, score

    expected = r"^hads: item 1 = <an integer of 400 digits> is too large; allowed: an integer 0\.\.3$"
    with pytest.raises(InstrumentError, match=expected) as info:
        score(get_instrument("hads"), {"1": int("9" * 400)}, incomplete="missing")
    assert info.value.column == "1"
    with pytest.raises(InstrumentError, match=r"item 1 = <an integer of 21 digits> is too large"):
        score(get_instrument("hads"), {"1": -(10**20)}, incomplete="missing")

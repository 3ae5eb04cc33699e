"""The instrument framework (``_spec`` and ``_registry``) on small throwaway instruments.

Everything here is the same for every questionnaire: option resolution, item validation and
its messages, wide and long ``score_frame``, and the guard on the scorer's contract.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from ketapain.errors import InstrumentError
from ketapain.instruments import Instrument, Item, Option, Score, get_instrument, instruments, score, score_frame
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
    scores=(Score("sum", "items 1, 2, 4 and item 3 / 10", 0, 24), Score("high", "sum >= 10", kind="bool")),
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
    assert out.attrs == {"instrument": "toy", "options": {"missing": "prorate"}}
    assert score_frame(TOY, pd.DataFrame([FULL])).attrs["options"] == {"missing": "none"}


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
        with pytest.raises(ValueError):
            parse_clock(bad)


def test_fractional_steps_accept_exact_decimals():
    inst = _single_item(Item("1", "x", kind="number", minimum=0, maximum=1, step=0.1))
    for v in (0.0, 0.1, 0.3, 0.7, 0.9, 1.0):
        assert score(inst, {"1": v}) == {"x": v}
    with pytest.raises(InstrumentError, match="is not on the allowed steps; allowed: 0..1 in steps of 0.1"):
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
    with pytest.raises(InstrumentError, match="toy: id column[(]s[)] subject not in the data"):
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
    with pytest.raises(InstrumentError, match="id column[(]s[)] visit not in the data"):
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
        scores=scores or (Score("x", "the answer", item.minimum, item.maximum),),
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
    with pytest.raises(RuntimeError, match="single: score x out of its range 0..10"):
        score(double, {"1": 6})
    shift = _single_item(ITEM, lambda items, o: pd.DataFrame({"x": items["1"] - 1}, index=items.index))
    with pytest.raises(RuntimeError, match="out of its range"):
        score_frame(shift, pd.DataFrame({"1": [3, 0]}))


def test_scorer_contract_guard_on_true_false_scores():
    flag = (Score("x", "a flag", kind="bool"),)
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
    scores=(Score("d", "1 - 2", 0, 9),),
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

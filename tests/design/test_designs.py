"""Williams, Latin-square and all-orders designs: sequences, balance and efficiencies."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import ketapain.design as design_pkg
from ketapain.design import CrossoverDesign, all_orders, check_design, latin_square, williams
from ketapain.errors import ModelError

LETTERS = ["A", "B", "C", "D", "E", "F", "G", "H"]


def test_public_all_is_sorted_and_resolves() -> None:
    assert list(design_pkg.__all__) == sorted(design_pkg.__all__)
    assert all(hasattr(design_pkg, name) for name in design_pkg.__all__)


def test_williams_three_treatments_is_the_square_and_its_mirror() -> None:
    d = williams(["P", "K", "KM"])
    assert d.labels == ("P-K-KM", "K-KM-P", "KM-P-K", "KM-K-P", "P-KM-K", "K-P-KM")
    assert d.n_sequences == 6 and d.n_periods == 3 and d.n_treatments == 3
    assert d.to_dict() == {
        "kind": "williams",
        "treatments": ["P", "K", "KM"],
        "n_sequences": 6,
        "n_periods": 3,
        "sequences": [list(s) for s in d.sequences],
        "labels": list(d.labels),
    }


def test_williams_four_treatments_standard_square() -> None:
    # first row 0, 1, t-1, 2 = A B D C; the others add 1 mod 4 (Williams 1949; Jones & Kenward 2014, section 4.2)
    assert williams(LETTERS[:4]).labels == ("A-B-D-C", "B-C-A-D", "C-D-B-A", "D-A-C-B")


# Jones B, Kenward MG (2014) Design and Analysis of Cross-Over Trials, 3rd ed., section 4.2,
# table of Williams-design efficiencies (%): with carry-over in the model t = 3: 80.00,
# t = 4: 90.91, t = 5: 94.74, t = 6: 96.55, t = 7: 97.56, t = 8: 98.18; 100 without carry-over.
# (t = 3 and 4 are exactly 4/5 and 10/11, checked below.)
JONES_KENWARD_WILLIAMS = {3: 0.8000, 4: 0.9091, 5: 0.9474, 6: 0.9655, 7: 0.9756, 8: 0.9818}


@pytest.mark.parametrize(("t", "expected"), sorted(JONES_KENWARD_WILLIAMS.items()))
def test_williams_efficiencies_match_jones_and_kenward(t: int, expected: float) -> None:
    props = check_design(williams(LETTERS[:t]))
    assert_allclose(props.efficiency, 1.0, rtol=1e-9)
    assert_allclose(props.efficiency_carryover, expected, atol=5e-5)


def test_williams_t3_and_t4_exact_fractions() -> None:
    # 80% = 4/5 and 90.91% = 10/11
    assert_allclose(check_design(williams(LETTERS[:3])).efficiency_carryover, 4 / 5, rtol=1e-12)
    assert_allclose(check_design(williams(LETTERS[:4])).efficiency_carryover, 10 / 11, rtol=1e-12)


def test_reference_study_design_properties() -> None:
    props = check_design(williams(["P", "K", "KM"]))
    assert (props.uniform_on_sequences, props.uniform_on_periods, props.latin) == (True, True, True)
    assert props.carryover_balanced and not props.strongly_balanced
    assert props.replications == 6
    d = props.to_dict()
    assert d["efficiency"] == pytest.approx(1.0) and d["efficiency_carryover"] == pytest.approx(0.8)
    assert "80.00%" in props.summary()


def test_cyclic_latin_square_is_latin_but_not_carryover_balanced() -> None:
    d = latin_square(["A", "B", "C"])
    assert d.labels == ("A-B-C", "B-C-A", "C-A-B")
    props = check_design(d)
    assert props.latin and not props.carryover_balanced
    assert_allclose(props.efficiency, 1.0, rtol=1e-9)
    # carry-over is estimable but badly confounded with treatment: 20%
    assert_allclose(props.efficiency_carryover, 0.2, rtol=1e-9)


def test_two_treatments_carryover_not_estimable_within_patients() -> None:
    # AB/BA: carry-over difference is aliased with sequence (between patients)
    props = check_design(williams(["A", "B"]))
    assert props.efficiency == pytest.approx(1.0)
    assert props.efficiency_carryover is None
    assert "not estimable" in props.summary()


def test_custom_unbalanced_design() -> None:
    d = CrossoverDesign("custom", ("A", "B", "C"), (("A", "B", "C"), ("B", "A", "C"), ("C", "A", "B")))
    props = check_design(d)
    assert props.uniform_on_sequences and not props.uniform_on_periods and not props.latin
    assert props.efficiency is not None and 0 < props.efficiency < 1
    # A always in period 1: A vs B and A vs C are confounded with period, efficiency undefined
    confounded = CrossoverDesign("custom", ("A", "B", "C"), (("A", "B", "C"), ("A", "C", "B")))
    assert check_design(confounded).efficiency is None


def test_extra_period_design_is_strongly_balanced() -> None:
    # Williams t = 2 with an extra period repeating the last treatment: ABB / BAA
    d = CrossoverDesign("custom", ("A", "B"), (("A", "B", "B"), ("B", "A", "A")))
    props = check_design(d)
    assert props.strongly_balanced and props.carryover_balanced
    assert props.efficiency_carryover is not None


@pytest.mark.parametrize(
    ("func", "arg", "match"),
    [
        (williams, ["A"], "at least 2 treatments"),
        (williams, "ABC", "not the string"),
        (latin_square, ["A", "A"], "distinct"),
        (all_orders, ["A", " "], "must not be empty"),
        (all_orders, list("ABCDEFGHI"), "at most 8"),
    ],
)
def test_bad_treatments_raise(func, arg, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        func(arg)


def test_check_design_rejects_malformed_designs() -> None:
    with pytest.raises(ModelError, match="same number"):
        check_design(CrossoverDesign("custom", ("A", "B"), (("A", "B"), ("A",))))
    with pytest.raises(ModelError, match="not among"):
        check_design(CrossoverDesign("custom", ("A", "B"), (("A", "C"),)))
    with pytest.raises(ModelError, match="no sequences"):
        check_design(CrossoverDesign("custom", ("A", "B"), ()))


# --- properties -------------------------------------------------------------------------------

n_treatments = st.integers(2, 8)


def _distinct_labels(t: int) -> st.SearchStrategy[list[str]]:
    label = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=3)
    return st.lists(label, min_size=t, max_size=t, unique=True)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), t=n_treatments)
def test_williams_is_latin_and_carryover_balanced(data: st.DataObject, t: int) -> None:
    labels = data.draw(_distinct_labels(t))
    d = williams(labels)
    assert d.n_sequences == (t if t % 2 == 0 else 2 * t)
    assert d.n_periods == t
    for seq in d.sequences:
        assert sorted(seq) == sorted(labels)
    for k in range(t):
        column = [seq[k] for seq in d.sequences]
        assert all(column.count(x) == d.n_sequences // t for x in labels)
    props = check_design(d)
    assert props.latin and props.carryover_balanced and not props.strongly_balanced
    assert 0 < props.efficiency <= 1
    if t >= 3:
        assert props.efficiency_carryover is not None and 0 < props.efficiency_carryover <= 1


@settings(max_examples=10, deadline=None)
@given(t=n_treatments)
def test_all_orders_has_t_factorial_sequences_and_is_balanced(t: int) -> None:
    d = all_orders(LETTERS[:t])
    assert d.n_sequences == math.factorial(t)
    assert len(set(d.sequences)) == d.n_sequences
    props = check_design(d)
    assert props.latin and props.carryover_balanced
    assert_allclose(props.efficiency, 1.0, rtol=1e-9)
    if t >= 3:
        assert props.efficiency_carryover is not None and 0 < props.efficiency_carryover <= 1
        # all orders is a union of Williams-type balanced designs: same carry-over efficiency
        assert_allclose(props.efficiency_carryover, check_design(williams(LETTERS[:t])).efficiency_carryover, rtol=1e-9)


@settings(max_examples=20, deadline=None)
@given(t=n_treatments)
def test_latin_square_properties(t: int) -> None:
    props = check_design(latin_square(LETTERS[:t]))
    assert props.latin
    assert props.carryover_balanced == (t == 2)
    assert 0 < props.efficiency <= 1
    assert props.efficiency_carryover is None or 0 < props.efficiency_carryover <= 1

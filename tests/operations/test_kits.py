"""Kit codes: form, uniqueness, test/production separation, and no leak of the treatment.

The leak tests use fixed seeds, so they are deterministic; their thresholds (P > 0.001) would
flag a real dependence of codes on treatments while never failing by chance on re-runs.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ketapain.errors import DataError
from ketapain.operations import (
    KIT_ALPHABET,
    KIT_CODE_LENGTH,
    TEST_PREFIX,
    ListKindMismatchError,
    check_kit_code_kind,
    kit_codes,
    make_randomisation_list,
    normalise_kit_code,
)

WILLIAMS3 = (("P", "K", "KM"), ("K", "KM", "P"), ("KM", "P", "K"),
             ("P", "KM", "K"), ("K", "P", "KM"), ("KM", "K", "P"))
TREATMENTS = ("P", "K", "KM")


def _lists(n_lists: int, kind: str = "production", **kw):
    for seed in range(n_lists):
        yield make_randomisation_list(WILLIAMS3, n_patients=kw.get("n", 12), protocol_id="leak", kind=kind,
                                      seed=10_000 + seed, block_size=kw.get("block_size", 6))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2000), st.integers(0, 2**128), st.sampled_from(["test", "production"]))
def test_codes_unique_well_formed_and_of_their_kind(n: int, seed: int, kind: str) -> None:
    codes = kit_codes(n, seed=seed, kind=kind, protocol_id="x")
    assert len(set(codes)) == n
    for code in codes:
        body = code.removeprefix(TEST_PREFIX) if kind == "test" else code
        assert len(body) == KIT_CODE_LENGTH and set(body) <= set(KIT_ALPHABET)
        assert code.startswith(TEST_PREFIX) == (kind == "test")
        check_kit_code_kind(code, kind)
    assert codes == kit_codes(n, seed=seed, kind=kind, protocol_id="x")


def test_alphabet_has_no_lookalikes_and_production_codes_never_look_like_test_codes() -> None:
    assert not set("0O1IL2Z5S8B6GQT-") & set(KIT_ALPHABET)
    assert len(set(KIT_ALPHABET)) == len(KIT_ALPHABET) == 21
    with pytest.raises(ListKindMismatchError, match="is a TEST kit"):
        check_kit_code_kind("T-ACDEFH", "production")
    with pytest.raises(ListKindMismatchError, match="is not a TEST kit"):
        check_kit_code_kind("ACDEFH", "test")
    assert normalise_kit_code(" t-acd efh\n") == "T-ACDEFH"
    with pytest.raises(DataError, match="kind='x'"):
        kit_codes(1, seed=1, kind="x", protocol_id="p")  # type: ignore[arg-type]


def test_codes_do_not_depend_on_the_allocation() -> None:
    """Same seed, kind, protocol and number of kits -> the same codes in the same slots,
    whatever the treatments: the code stream never sees a treatment."""
    a = make_randomisation_list(WILLIAMS3, n_patients=12, protocol_id="p", seed=8, block_size=6)
    b = make_randomisation_list(WILLIAMS3, n_patients=12, protocol_id="p", seed=8, block_size=12)
    assert a.table["treatment"].tolist() != b.table["treatment"].tolist()
    assert a.table["kit_code"].tolist() == b.table["kit_code"].tolist()


def test_character_distribution_is_independent_of_treatment() -> None:
    """Chi-square of treatment x symbol, separately for each character position, over 300 lists."""
    tables = np.zeros((KIT_CODE_LENGTH, len(TREATMENTS), len(KIT_ALPHABET)), dtype=np.int64)
    index = {c: i for i, c in enumerate(KIT_ALPHABET)}
    for rl in _lists(300):
        for trt, code in zip(rl.table["treatment"], rl.table["kit_code"], strict=True):
            for pos, ch in enumerate(code):
                tables[pos, TREATMENTS.index(trt), index[ch]] += 1
    for pos in range(KIT_CODE_LENGTH):
        p = stats.chi2_contingency(tables[pos]).pvalue
        assert p > 0.001, (pos, p)
    # and the symbols are uniform overall
    assert stats.chisquare(tables.sum(axis=(0, 1))).pvalue > 0.001


def test_lexicographic_order_of_codes_carries_no_treatment() -> None:
    """Sorting a list's kit codes gives treatments in random order: the treatment of the
    smallest code is uniform, and the rank of a code is unrelated to its treatment."""
    first, ranks = [], {t: [] for t in TREATMENTS}
    for rl in _lists(300):
        ordered = rl.table.sort_values("kit_code")
        first.append(TREATMENTS.index(ordered["treatment"].iloc[0]))
        rank = ordered["kit_code"].rank().to_numpy() / len(ordered)
        for t, r in zip(ordered["treatment"], rank, strict=True):
            ranks[t].append(r)
    assert stats.chisquare(np.bincount(first, minlength=3)).pvalue > 0.001
    assert stats.kruskal(*ranks.values()).pvalue > 0.001


def test_codes_within_a_block_are_not_in_treatment_order() -> None:
    """Within a block, order the patients by their period-1 kit code: the order of sequences is
    a random permutation — each of the 6! orders equally likely, so 'sorted by sequence'
    happens about 1/720 of the time, and the first sequence is uniform."""
    sorted_blocks, first_seq, n_blocks = 0, [], 0
    labels = ["-".join(s) for s in WILLIAMS3]
    for rl in _lists(400, n=6):
        p1 = rl.table[rl.table["period"] == 1]
        for _, block in p1.groupby("block"):
            n_blocks += 1
            order = block.sort_values("kit_code")["sequence"].tolist()
            sorted_blocks += order == sorted(order) or order == sorted(order, reverse=True)
            first_seq.append(labels.index(order[0]))
            # codes also do not increase in allocation order
    assert n_blocks == 400
    assert sorted_blocks <= 4  # expected 400 * 2 / 720 ~ 1.1
    assert stats.chisquare(np.bincount(first_seq, minlength=6)).pvalue > 0.001


def test_codes_are_not_ordered_along_the_list() -> None:
    increasing = 0
    for rl in _lists(200, n=6):
        codes = rl.table["kit_code"].tolist()
        increasing += codes == sorted(codes)
        # codes of one patient's periods share nothing systematic: no common prefix beyond chance
    assert increasing == 0
    shared = 0
    pairs = 0
    for rl in _lists(100, n=6):
        for _, grp in rl.table.groupby("patient_id"):
            for a, b in itertools.combinations(grp["kit_code"], 2):
                pairs += 1
                shared += a[0] == b[0]
    assert abs(shared / pairs - 1 / len(KIT_ALPHABET)) < 0.03


def test_too_many_codes_for_the_space() -> None:
    with pytest.raises(DataError, match="crowd the code space"):
        kit_codes(10, seed=1, kind="test", protocol_id="p", length=2)


def test_list_exceptions_live_in_errors_and_are_importable_from_operations() -> None:
    import ketapain.errors as errors
    import ketapain.operations as operations

    for name in ("ListKindMismatchError", "CommitmentMismatchError"):
        cls = getattr(errors, name)
        assert getattr(operations, name) is cls and name in errors.__all__ and name in operations.__all__
        assert issubclass(cls, errors.DataError) and issubclass(cls, ValueError)
        assert cls.__module__ == "ketapain.errors" and name in (errors.__doc__ or "")


def test_list_kind_and_count_options_go_through_the_option_validator(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ketapain.errors import ProtocolError
    from ketapain.operations import import_pharmacy_list, make_randomisation_list

    with pytest.raises(DataError, match=re.escape("kind='x' is not one of test, production")):
        kit_codes(3, seed=1, kind="x", protocol_id="p")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=re.escape("n=-1 must be an integer >= 0")):
        kit_codes(-1, seed=1, kind="test", protocol_id="p")
    with pytest.raises(ProtocolError, match=re.escape("kind='prod' is not one of test, production")):
        make_randomisation_list([("A", "B"), ("B", "A")], n_patients=2, protocol_id="p", kind="prod", seed=1)  # type: ignore[arg-type]
    path = tmp_path / "l.csv"
    path.write_text("patient_id,block,sequence,period,treatment,kit_code\nP1,1,A-B,1,A,T-ACDEFH\n")
    with pytest.raises(DataError, match=re.escape("kind='prod' is not one of test, production")):
        import_pharmacy_list(path, [("A", "B"), ("B", "A")], kind="prod", protocol_id="p")

"""Permuted-block sequence lists: balance, reproducibility, strata, import, files and commitment."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketapain.errors import DataError, KetapainError, ProtocolError
from ketapain.operations import (
    CommitmentMismatchError,
    ListKindMismatchError,
    import_pharmacy_list,
    load_randomisation_list,
    make_randomisation_list,
    randomise_protocol,
    verify_list,
    write_randomisation_list,
)
from ketapain.protocol import load_protocol

WILLIAMS3 = (("P", "K", "KM"), ("K", "KM", "P"), ("KM", "P", "K"),
             ("P", "KM", "K"), ("K", "P", "KM"), ("KM", "K", "P"))
AB = (("A", "B"), ("B", "A"))


def cyclic(n_seq: int) -> tuple[tuple[str, ...], ...]:
    """n_seq distinct sequences of n_seq periods (a cyclic Latin square)."""
    trts = [f"T{i}" for i in range(n_seq)]
    return tuple(tuple(trts[(i + j) % n_seq] for j in range(n_seq)) for i in range(n_seq))


@st.composite
def list_settings(draw: st.DrawFn) -> dict:
    n_seq = draw(st.integers(2, 8))
    multiples = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True))
    strata = draw(st.booleans())
    if strata:
        n = {name: draw(st.integers(1, 20)) for name in draw(st.lists(st.sampled_from("MFXY"), min_size=1,
                                                                        max_size=3, unique=True))}
    else:
        n = draw(st.integers(1, 40))
    return {
        "sequences": cyclic(n_seq),
        "n_patients": n,
        "block_size": multiples[0] * n_seq if len(multiples) == 1 else None,
        "random_block_sizes": [m * n_seq for m in multiples] if len(multiples) > 1 else None,
        "kind": draw(st.sampled_from(["test", "production"])),
        "seed": draw(st.integers(0, 2**128)),
        "protocol_id": "prop",
    }


@settings(max_examples=60, deadline=None)
@given(list_settings())
def test_every_block_is_complete_and_balanced_and_codes_unique(kw: dict) -> None:
    rl = make_randomisation_list(**kw)
    n_seq = len(kw["sequences"])
    blocks = rl.block_summary()
    assert blocks["complete"].all() and blocks["balanced"].all()
    allowed = set(kw["random_block_sizes"] or [kw["block_size"]])
    assert set(blocks["block_size"]) <= allowed
    # every block holds each sequence block_size / n_seq times (checked directly, not via block_summary)
    per_patient = rl.table.drop_duplicates("patient_id")
    keys = ["stratum", "block"] if rl.stratified else ["block"]
    for _, grp in per_patient.groupby(keys):
        size = grp["block_size"].iloc[0]
        assert len(grp) == size
        assert grp["sequence"].value_counts().tolist() == [size // n_seq] * n_seq
    # enough slots, and no more than one block too many per stratum
    counts = kw["n_patients"] if isinstance(kw["n_patients"], dict) else {None: kw["n_patients"]}
    for stratum, n in counts.items():
        got = per_patient if stratum is None else per_patient[per_patient["stratum"] == stratum]
        assert n <= len(got) < n + max(allowed)
        if stratum is not None:
            assert got["patient_id"].str.startswith(f"{stratum}-").all()
    # one row per patient x period, treatment follows the sequence, codes unique and of the kind
    assert len(rl.table) == rl.n_patients * n_seq
    assert rl.table["kit_code"].is_unique
    assert rl.table["kit_code"].str.startswith("T-").all() == (kw["kind"] == "test")
    seq = rl.table["sequence"].str.split("-")
    assert all(s[p - 1] == t for s, p, t in zip(seq, rl.table["period"], rl.table["treatment"], strict=True))
    assert (rl.table["list_kind"] == kw["kind"]).all()


@settings(max_examples=30, deadline=None)
@given(list_settings(), st.integers(0, 2**64))
def test_same_seed_reproduces_bytes_and_other_seed_differs(kw: dict, other: int) -> None:
    a = make_randomisation_list(**kw)
    b = make_randomisation_list(**kw)
    assert a.pharmacy_csv_bytes() == b.pharmacy_csv_bytes()
    assert a.labels_csv_bytes() == b.labels_csv_bytes() and a.labels_html() == b.labels_html()
    assert a.commitment == b.commitment
    if other != kw["seed"]:
        c = make_randomisation_list(**{**kw, "seed": other})
        assert c.pharmacy_csv_bytes() != a.pharmacy_csv_bytes()
        assert set(c.table["kit_code"]).isdisjoint(a.table["kit_code"]) or len(a.table) > 50


def test_allocations_differ_between_seeds_not_only_codes() -> None:
    orders = {tuple(make_randomisation_list(WILLIAMS3, n_patients=24, protocol_id="k", seed=s)
                    .table.drop_duplicates("patient_id")["sequence"]) for s in range(20)}
    assert len(orders) == 20


def test_seed_is_recorded_and_generated_when_absent() -> None:
    rl = make_randomisation_list(AB, n_patients=6, protocol_id="ab")
    assert rl.seed_source == "generated" and isinstance(rl.seed, int) and rl.seed >= 0
    again = make_randomisation_list(AB, n_patients=6, protocol_id="ab", seed=rl.seed)
    assert again.pharmacy_csv_bytes() == rl.pharmacy_csv_bytes()
    seeds = {make_randomisation_list(AB, n_patients=2, protocol_id="ab").seed for _ in range(5)}
    assert len(seeds) == 5 and max(seeds) > 2**64  # 128-bit seeds
    g = make_randomisation_list(AB, n_patients=6, protocol_id="ab", seed=np.random.default_rng(3))
    assert g.seed_source == "generator"
    assert make_randomisation_list(AB, n_patients=6, protocol_id="ab", seed=g.seed).commitment == g.commitment


def test_known_list_is_stable() -> None:
    """Regression anchor: the algorithm must not change silently (bump ALGORITHM if it must)."""
    rl = make_randomisation_list(AB, n_patients=4, protocol_id="ab", block_size=4, seed=2024)
    first = rl.table.drop_duplicates("patient_id")["sequence"].tolist()
    assert sorted(first) == ["A-B", "A-B", "B-A", "B-A"]
    assert rl.commitment == make_randomisation_list(AB, n_patients=4, protocol_id="ab", block_size=4,
                                                    seed=2024).commitment
    assert rl.pharmacy_csv_bytes().splitlines()[0] == (
        b"patient_id,block,block_size,sequence,period,treatment,kit_code,list_kind,protocol_id")


def test_test_and_production_lists_from_one_seed_are_unrelated() -> None:
    t = make_randomisation_list(WILLIAMS3, n_patients=60, protocol_id="k", seed=11, kind="test")
    p = make_randomisation_list(WILLIAMS3, n_patients=60, protocol_id="k", seed=11, kind="production")
    assert t.table["sequence"].tolist() != p.table["sequence"].tolist()
    assert {c[2:] for c in t.table["kit_code"]}.isdisjoint(p.table["kit_code"])


def test_strata_have_independent_streams() -> None:
    a = make_randomisation_list(WILLIAMS3, n_patients={"M": 12, "F": 6}, protocol_id="k", seed=5)
    b = make_randomisation_list(WILLIAMS3, n_patients={"M": 12, "F": 18}, protocol_id="k", seed=5)
    seq = lambda rl, s: rl.table[rl.table["stratum"] == s].drop_duplicates("patient_id")["sequence"].tolist()  # noqa: E731
    assert seq(a, "M") == seq(b, "M")  # adding F patients does not move the M list
    assert a.stratified and list(a.table.columns[:2]) == ["patient_id", "stratum"]
    assert list(a.labels().columns) == ["protocol_id", "list_kind", "stratum", "patient_id", "period", "kit_code"]


def test_random_block_sizes_are_mixed() -> None:
    rl = make_randomisation_list(AB, n_patients=200, protocol_id="ab", random_block_sizes=[2, 4, 6], seed=1)
    assert set(rl.block_summary()["block_size"]) == {2, 4, 6}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"block_size": 4}, "block_size: 4 is not a positive multiple of the number of sequences (6)"),
        ({"random_block_sizes": [6, 9]}, "random_block_sizes: 9 is not a positive multiple"),
        ({"block_size": 6, "random_block_sizes": [12, 18]}, "give one"),
        ({"n_patients": 0}, "n_patients=0: must be an integer >= 1"),
        ({"n_patients": {"M F": 2}}, "stratum 'M F'"),
        ({"seed": -1}, "seed=-1 must be an integer >= 0"),
        ({"seed": True}, "seed=True"),
        ({"kind": "prod"}, "kind='prod'"),
        ({"protocol_id": " "}, "protocol_id"),
    ],
)
def test_bad_settings_raise_protocol_error(kwargs: dict, message: str) -> None:
    base = {"n_patients": 6, "protocol_id": "k", "seed": 1}
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_randomisation_list(WILLIAMS3, **{**base, **kwargs})


def test_bad_sequences() -> None:
    with pytest.raises(ProtocolError, match="at least 2"):
        make_randomisation_list([("A", "B")], n_patients=2, protocol_id="k")
    with pytest.raises(ProtocolError, match="same number"):
        make_randomisation_list([("A", "B"), ("B",)], n_patients=2, protocol_id="k")
    with pytest.raises(ProtocolError, match="appears twice"):
        make_randomisation_list([("A", "B"), ("A", "B")], n_patients=2, protocol_id="k")
    with pytest.raises(ProtocolError, match="treatment code 'A-1'"):
        make_randomisation_list([("A-1", "B"), ("B", "A-1")], n_patients=2, protocol_id="k")


def test_from_protocol_files() -> None:
    rl = randomise_protocol(load_protocol("ketapain"), n_patients=20, seed=9, kind="production")
    assert rl.protocol_id == "ketapain" and rl.n_patients == 24 and len(rl.sequences) == 6
    ab = randomise_protocol(load_protocol("ab_ba_example"), n_patients={"M": 5, "F": 4}, seed=9)
    assert ab.stratum_factor == "sex" and set(ab.block_summary()["block_size"]) <= {2, 4}
    with pytest.raises(ProtocolError, match="stratifies on sex"):
        randomise_protocol(load_protocol("ab_ba_example"), n_patients=10)
    fixed = randomise_protocol(load_protocol("ab_ba_example"), n_patients={"M": 5}, block_size=6, seed=1)
    assert set(fixed.block_summary()["block_size"]) == {6}


# ------------------------------------------------------------------ files and commitment


def test_write_verify_load_and_refuse_overwrite(tmp_path: Path) -> None:
    rl = make_randomisation_list(WILLIAMS3, n_patients={"M": 6, "F": 6}, protocol_id="k", seed=3,
                                 stratum_factor="sex")
    out = write_randomisation_list(rl, tmp_path / "list")
    assert sorted(p.name for p in out.iterdir()) == ["commitment.txt", "labels.csv", "labels.html",
                                                      "list_meta.json", "pharmacy.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["list"]  # no temporary folder left behind
    data = (out / "pharmacy.csv").read_bytes()
    assert data == rl.pharmacy_csv_bytes() and b"\r" not in data
    assert (out / "commitment.txt").read_text() == hashlib.sha256(data).hexdigest() + "\n"
    meta = json.loads((out / "list_meta.json").read_text())
    assert meta["seed"] == "3" and meta["list_kind"] == "test" and meta["protocol_id"] == "k"
    assert meta["commitment_sha256"] == rl.commitment and meta["strata"] == {"M": 6, "F": 6}
    assert {"created_utc", "algorithm", "sequences", "block_sizes"} <= set(meta)
    labels = pd.read_csv(out / "labels.csv", dtype=str)
    assert not {"treatment", "sequence", "block", "block_size"} & set(labels.columns)
    assert verify_list(out).ok and verify_list(out, commitment=rl.commitment.upper()).ok
    loaded = load_randomisation_list(out, kind="test")
    assert loaded.pharmacy_csv_bytes() == data and loaded.seed == 3
    with pytest.raises(ListKindMismatchError, match="TEST list"):
        load_randomisation_list(out, kind="production")
    with pytest.raises(DataError, match="already exists"):
        write_randomisation_list(rl, out)
    # tampering: one treatment changed
    (out / "pharmacy.csv").write_bytes(data.replace(b",P,", b",K,", 1))
    assert not verify_list(out).ok
    with pytest.raises(CommitmentMismatchError, match="was changed"):
        load_randomisation_list(out)
    with pytest.raises(DataError, match="64 hex digits"):
        verify_list(out, commitment="abc")


def test_written_labels_mark_test_lists(tmp_path: Path) -> None:
    t = write_randomisation_list(make_randomisation_list(AB, n_patients=2, protocol_id="ab", seed=1), tmp_path / "t")
    p = write_randomisation_list(make_randomisation_list(AB, n_patients=2, protocol_id="ab", seed=1,
                                                         kind="production"), tmp_path / "p")
    html_t, html_p = (t / "labels.html").read_text(), (p / "labels.html").read_text()
    assert html_t.count("TEST — NOT FOR PATIENT USE</div>") == 4 and "TEST" not in html_p
    assert html_p.count('class="label"') == 4 and "For IV use only — blinded" in html_p
    for kit in pd.read_csv(p / "labels.csv")["kit_code"]:
        assert kit in html_p and kit not in html_t
    assert "treatment" not in html_p.lower() and "A-B" not in html_p


# ------------------------------------------------------------------ import


def _written(tmp_path: Path, **kw) -> Path:
    rl = make_randomisation_list(WILLIAMS3, **{"n_patients": 12, "protocol_id": "k", "seed": 4, **kw})
    path = tmp_path / "ext.csv"
    path.write_bytes(rl.pharmacy_csv_bytes())
    return path


def test_import_round_trip_keeps_the_list(tmp_path: Path) -> None:
    rl = make_randomisation_list(WILLIAMS3, n_patients={"M": 6, "F": 12}, protocol_id="k", seed=4,
                                 random_block_sizes=[6, 12])
    path = tmp_path / "ext.csv"
    path.write_bytes(rl.pharmacy_csv_bytes())
    imp = import_pharmacy_list(path, WILLIAMS3)
    assert imp.pharmacy_csv_bytes() == rl.pharmacy_csv_bytes() and imp.commitment == rl.commitment
    assert imp.seed is None and imp.seed_source == "imported"
    assert imp.source == {"file": "ext.csv", "sha256": rl.commitment}


def test_import_minimal_columns_and_incomplete_last_block(tmp_path: Path) -> None:
    rows = ["patient_id,block,sequence,period,treatment,kit_code"]
    seqs = ["AB", "BA", "BA", "AB", "AB"]  # block 1 = 4 balanced, block 2 = 1 patient (incomplete)
    blocks = [1, 1, 1, 1, 2]
    for i, (s, b) in enumerate(zip(seqs, blocks, strict=True)):
        for per in (1, 2):
            rows.append(f"{i + 1},{b},{s},{per},{s[per - 1]},K{i}{per}XYZ")
    path = tmp_path / "x.csv"
    path.write_text("\n".join(rows) + "\n")
    imp = import_pharmacy_list(path, AB, kind="production", protocol_id="ab")
    summary = imp.block_summary()
    assert summary["n_patients"].tolist() == [4, 1] and summary["balanced"].all()
    assert imp.table["sequence"].iloc[0] == "A-B"
    with pytest.raises(DataError, match="no list_kind column; pass kind="):
        import_pharmacy_list(path, AB, protocol_id="ab")
    with pytest.raises(ListKindMismatchError, match=r"x.csv row 2: kit_code 'K01XYZ' is not a TEST kit"):
        import_pharmacy_list(path, AB, kind="test", protocol_id="ab")


def _edit(path: Path, row: int, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 2, column] = value
    frame.to_csv(path, index=False)


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (5, "kit_code", "{kit2}", r"ext.csv rows 3, 5: kit_code='.+' appears more than once"),
        (4, "treatment", "P", r"ext.csv row 4: treatment='P' but sequence .+ gives"),
        (3, "sequence", "X-Y-Z", r"ext.csv row 3: sequence='X-Y-Z' is not one of the design's sequences"),
        (6, "period", "4", r"ext.csv row 6: period='4' is outside 1..3"),
        (6, "period", "two", r"ext.csv row 6: period='two' is not a whole number"),
        (7, "patient_id", "", r"ext.csv row 7: patient_id is empty"),
        (2, "list_kind", "production", r"ext.csv row 3: list_kind='test' but row 2 has 'production'"),
        (3, "kit_code", "ABCDEF", r"ext.csv row 3: kit_code 'ABCDEF' is not a TEST kit"),
    ],
)
def test_import_errors_name_file_row_column_value(tmp_path: Path, row: int, column: str, value: str,
                                                  message: str) -> None:
    path = _written(tmp_path)
    kit2 = pd.read_csv(path, dtype=str)["kit_code"].iloc[1]
    _edit(path, row, column, value.format(kit2=kit2))
    with pytest.raises(DataError, match=message):
        import_pharmacy_list(path, WILLIAMS3)


def test_import_rejects_unbalanced_block_and_missing_period(tmp_path: Path) -> None:
    path = _written(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    first = frame["patient_id"].iloc[0]
    target_seq = next(s for s in frame["sequence"] if s != frame["sequence"].iloc[0])
    mask = frame["patient_id"] == first
    frame.loc[mask, "sequence"] = target_seq
    frame.loc[mask, "treatment"] = target_seq.split("-")
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"ext.csv row 2: block 1: not balanced \(.*×2.*\); a block of 6"):
        import_pharmacy_list(path, WILLIAMS3)
    path = _written(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.drop(index=4).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"row 5: patient 'P002' has no row for period\(s\) 2"):
        import_pharmacy_list(path, WILLIAMS3)
    path = _written(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame["patient_id"] == "P003", "block"] = "2"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"block 1.*which another block interrupted|block 2: 1 patients"):
        import_pharmacy_list(path, WILLIAMS3)


def test_import_missing_column_and_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("patient_id,period\n1,1\n")
    with pytest.raises(DataError, match=r"m.csv: required column\(s\) 'block', 'sequence'"):
        import_pharmacy_list(path, AB, kind="test", protocol_id="ab")
    with pytest.raises(KetapainError, match="cannot read"):
        import_pharmacy_list(tmp_path / "absent.csv", AB, kind="test", protocol_id="ab")


def test_list_size_is_checked_before_the_list_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: 10 million patients took 22 s and 1.7 GB before the refusal; now nothing is drawn."""
    import ketapain.operations._randomisation as module

    def no_stream(*args: object) -> None:
        raise AssertionError("the list was started")

    monkeypatch.setattr(module, "_Stream", no_stream)
    seqs = [("A", "B"), ("B", "A")]
    with pytest.raises(ProtocolError, match=r"^n_patients: 100000000 patients requested; at most 10000 in one list$") as info:
        make_randomisation_list(seqs, n_patients=100_000_000, protocol_id="AB", seed=1)
    assert (info.value.column, info.value.value, info.value.allowed) == ("n_patients", 100_000_000, "1..10000")
    with pytest.raises(ProtocolError, match=r"^n_patients: 10001 patients requested"):
        make_randomisation_list(seqs, n_patients={"M": 5000, "F": 5001}, protocol_id="AB", seed=1)
    with pytest.raises(ProtocolError, match=r"^random_block_sizes: blocks of up to 200000 patients for 10 patients in 2 strata"):
        make_randomisation_list(seqs, n_patients={"M": 5, "F": 5}, protocol_id="AB", seed=1, random_block_sizes=[2, 200_000])


def test_the_largest_list_allowed_is_made() -> None:
    from ketapain.operations import MAX_LIST_PATIENTS

    rl = make_randomisation_list([("A", "B"), ("B", "A")], n_patients=MAX_LIST_PATIENTS, protocol_id="AB", seed=1)
    assert rl.n_patients == MAX_LIST_PATIENTS

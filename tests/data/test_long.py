"""Long crossover data are read and checked once (ketapain.data._long; issue 14, item 1).

Each broken design of issue 14's "silent wrong answers" list is a regression case here: before,
``ketapain fit`` turned it into extra model terms and exited 0.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.data import TrialData, check_long, read_long_csv
from ketapain.errors import DataError
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial
from ketapain.stats import fit_crossover, fit_crossover_batch

HEADER = "subject,period,sequence,treatment,y"
COLUMNS = ["subject", "period", "sequence", "treatment", "y"]


def good_rows(n_subjects: int = 8) -> list[str]:
    """A valid 2x2 crossover: sequences AB and BA alternate; y is made up (any numbers do)."""
    rows = []
    for i in range(n_subjects):
        seq = "AB" if i % 2 == 0 else "BA"
        rows += [f"S{i},1,{seq},{seq[0]},{10 + i + 0.5 * (i % 3)}", f"S{i},2,{seq},{seq[1]},{12 + i - 0.25 * (i % 4)}"]
    return rows


def write(tmp_path: Path, lines: list[str], name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems_of(path: Path) -> DataError:
    frame = read_long_csv(path, columns=COLUMNS, numeric=["y"])
    with pytest.raises(DataError) as err:
        check_long(frame, outcome="y", source=path.name)
    return err.value


def kinds(error: DataError) -> dict[str, list[int | None]]:
    out: dict[str, list[int | None]] = {}
    for p in error.problems:  # type: ignore[attr-defined]
        out.setdefault(p.kind, []).append(p.row)
    return out


def test_valid_data_pass_and_are_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, *good_rows()])
    frame = check_long(read_long_csv(path, columns=COLUMNS, numeric=["y"]), outcome="y")
    assert frame["period"].dtype == np.int64 and frame["y"].dtype == float
    assert list(frame.index[:3]) == [2, 3, 4]  # spreadsheet rows, header = 1


@pytest.mark.parametrize(
    ("change", "kind", "row"),
    [
        # S1 under AB on row 4 (its first row) and BA on row 5: row 5 is the odd one out
        (lambda r: r.__setitem__(2, "S1,1,AB,A,11"), "two sequences", 5),
        # a treatment that is not the sequence's at that period
        (lambda r: r.__setitem__(0, "S0,1,AB,B,10"), "treatment vs sequence", 2),
        # periods 0, -1, 3 (of 2) and "one"
        (lambda r: r.__setitem__(0, "S0,0,AB,A,10"), "bad period", 2),
        (lambda r: r.__setitem__(0, "S0,-1,AB,A,10"), "bad period", 2),
        (lambda r: r.__setitem__(1, "S0,3,AB,B,12"), "bad period", 3),
        (lambda r: r.__setitem__(0, "S0,one,AB,A,10"), "bad period", 2),
        (lambda r: r.__setitem__(1, "S0,1,AB,B,12"), "duplicate row", 3),
        (lambda r: r.__setitem__(0, "S0,1,AB,A,"), None, None),  # an empty outcome is a missing value: fine
        (lambda r: r.__setitem__(0, "S0,1,AB,A,inf"), "not finite", 2),
        (lambda r: r.__setitem__(0, "S0,1,AB,A,ten"), "not a number", 2),
        (lambda r: r.__setitem__(0, ",1,AB,A,10"), "empty cell", 2),
    ],
)
def test_each_broken_design_is_refused_naming_the_row(tmp_path: Path, change, kind: str | None, row: int | None) -> None:
    rows = good_rows()
    change(rows)
    path = write(tmp_path, [HEADER, *rows])
    frame = read_long_csv(path, columns=COLUMNS, numeric=["y"])
    if kind is None:
        assert np.isnan(check_long(frame, outcome="y")["y"].iloc[0])
        return
    with pytest.raises(DataError) as err:
        check_long(frame, outcome="y", source=path.name)
    assert kinds(err.value)[kind][0] == row
    assert str(err.value).startswith("data.csv")


def test_case_variants_and_number_formats_are_near_duplicates(tmp_path: Path) -> None:
    rows = good_rows()
    rows[1] = "S0,2,AB,b,12"  # b next to B
    rows[3] = "S1,2.0,BA,A,13"  # 2.0 next to 2
    err = problems_of(write(tmp_path, [HEADER, *rows]))
    near = [p for p in err.problems if p.kind == "near-duplicate labels"]  # type: ignore[attr-defined]
    assert {p.column for p in near} == {"treatment", "period"}
    assert "'B', 'b'" in str(err) and "'2', '2.0'" in str(err)


def test_a_column_given_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER + ",y", *[r + ",1" for r in good_rows()]])
    with pytest.raises(DataError, match=r"data.csv: column 'y' appears 2 times"):
        read_long_csv(path, columns=COLUMNS, numeric=["y"])
    frame = pd.DataFrame([[1, 1, "AB", "A", 1.0, 2.0]], columns=[*COLUMNS, "y"])
    with pytest.raises(DataError, match="column 'y' appears more than once"):
        check_long(frame, outcome="y")


def test_messages_are_grouped_by_kind_with_counts(tmp_path: Path) -> None:
    """93 rows with a text outcome must not hide the one design problem (the old 20-message cap did)."""
    rows = good_rows(50)
    rows = [r.rsplit(",", 1)[0] + ",n/a" if k < 93 else r for k, r in enumerate(rows)]
    rows[99] = rows[99].replace(",BA,A,", ",BA,B,")  # S49 period 2 (row 101): B where BA gives A
    err = problems_of(write(tmp_path, [HEADER, *rows]))
    text = str(err)
    assert "94 problems" in text
    assert "not a number (93 rows):" in text and "... and 90 more" in text
    assert "treatment vs sequence (1 row):" in text and "row 101:" in text


def test_blank_lines_do_not_shift_row_numbers(tmp_path: Path) -> None:
    rows = good_rows()
    rows[5] = "S2,2,AB,B,ten"  # line 7 of the file before the blank lines
    path = write(tmp_path, [HEADER, rows[0], "", "", *rows[1:]])
    err = problems_of(path)
    assert err.row == 9  # two blank lines above it: the spreadsheet shows it on row 9
    assert "row 9: y='ten' is not a number" in str(err)


def test_header_only_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"h\.csv: has a header but no data rows"):
        read_long_csv(write(tmp_path, [HEADER], "h.csv"), columns=COLUMNS)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e\.csv: is empty; row 1 must be the header"):
        read_long_csv(tmp_path / "e.csv", columns=COLUMNS)


def test_semicolon_file_names_the_options_and_reads_with_them(tmp_path: Path) -> None:
    comma = write(tmp_path, [HEADER, *good_rows()], "comma.csv")
    semi = tmp_path / "semi.csv"
    semi.write_text(comma.read_text().replace(",", ";").replace(".", ","), encoding="utf-8")
    with pytest.raises(DataError, match=r"semi.csv: this file uses ';' as delimiter .* pass --delimiter ';' --decimal ','"):
        read_long_csv(semi, columns=COLUMNS)
    a = check_long(read_long_csv(comma, columns=COLUMNS, numeric=["y"]), outcome="y")
    b = check_long(read_long_csv(semi, columns=COLUMNS, numeric=["y"], delimiter=";", decimal=","), outcome="y")
    pd.testing.assert_frame_equal(a, b)
    runner = CliRunner()
    res_a = runner.invoke(app, ["fit", str(comma), "--json"])
    res_b = runner.invoke(app, ["fit", str(semi), "--json", "--delimiter", ";", "--decimal", ","])
    assert res_a.exit_code == 0 and res_a.stdout == res_b.stdout


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_text("\n".join([HEADER, *good_rows()]) + "\n", encoding="utf-16")
    assert len(check_long(read_long_csv(path, columns=COLUMNS, numeric=["y"]), outcome="y")) == 16


def test_sequences_that_do_not_spell_treatments_use_the_majority(tmp_path: Path) -> None:
    """Sequence labels 1 and 2 say nothing of the order: the treatment most subjects of that
    sequence have at that period is the expected one."""
    rows = [r.replace(",AB,", ",1,").replace(",BA,", ",2,") for r in good_rows()]
    check_long(read_long_csv(write(tmp_path, [HEADER, *rows]), columns=COLUMNS, numeric=["y"]), outcome="y")
    rows[0] = "S0,1,1,B,10"
    err = problems_of(write(tmp_path, [HEADER, *rows], "d2.csv"))
    assert kinds(err) == {"treatment vs sequence": [2]}
    assert "what most rows of that sequence and period have" in str(err)


def test_separated_sequence_labels_are_spelt(tmp_path: Path) -> None:
    lines = [HEADER]
    for i, seq in enumerate(["P-KM-K", "KM-K-P", "K-P-KM"] * 2):
        lines += [f"S{i},{k + 1},{seq},{t},{i + k}" for k, t in enumerate(seq.split("-"))]
    check_long(read_long_csv(write(tmp_path, lines), columns=COLUMNS, numeric=["y"]), outcome="y")
    lines[1] = "S0,1,P-KM-K,K,0"
    err = problems_of(write(tmp_path, lines, "d2.csv"))
    assert "treatment='K' but sequence='P-KM-K' gives 'P' at period 1 (the sequence's letter)" in str(err)


def test_every_entry_point_refuses_a_broken_design(tmp_path: Path) -> None:
    rows = good_rows()
    rows[0] = "S0,1,AB,B,10"
    path = write(tmp_path, [HEADER, *rows])
    res = CliRunner().invoke(app, ["fit", str(path)])
    assert res.exit_code == 1 and "data.csv row 2: treatment='B' but sequence='AB' gives 'A'" in res.stderr
    assert "Traceback" not in res.output
    frame = pd.read_csv(path)
    with pytest.raises(DataError, match="data row 2: treatment='B'"):
        fit_crossover(frame, outcome="y")
    with pytest.raises(DataError, match="data row 2: treatment='B'"):
        fit_crossover_batch(frame.assign(trial=1), outcome="y", by="trial")
    res = CliRunner().invoke(app, ["fit", str(path), "--by", "sequence"])
    assert res.exit_code == 1 and "treatment='B'" in res.stderr


def test_trial_allocation_must_follow_its_sequences() -> None:
    """``ketapain analyze`` reads a TrialData: a contradicting allocation is refused there."""
    trial = simulate_trial(load_protocol("ketapain"), seed=1)
    tables = trial.to_tables()
    alloc = tables["allocation"].copy()
    first = alloc.iloc[0]
    letters = first["sequence"].split("-")
    wrong = next(t for t in letters if t != letters[int(first["period"]) - 1])
    alloc.loc[alloc.index[0], "treatment"] = wrong
    with pytest.raises(DataError, match=rf"allocation row 2: treatment='{wrong}' but sequence='{first['sequence']}' gives"):
        TrialData.from_tables(**{**tables, "allocation": alloc}, meta=dict(trial.meta))


@pytest.mark.parametrize("column", [
    pd.Series(np.random.default_rng(1).integers(-3, 40, 500)),
    pd.Series(np.where(np.random.default_rng(2).random(500) < 0.1, np.nan,
                       np.random.default_rng(3).integers(0, 6, 500) / np.array([1.0, 2.0])[np.arange(500) % 2])),
    pd.Series([0.0, -0.0, 1.0, np.nan, 2.5, 1e20, np.inf, -np.inf, 2.0**62, 2.0**63]),
    pd.Series(pd.Categorical(np.random.default_rng(4).choice(["A", " B", "C ", None], 300))),
    pd.Series(pd.Categorical([1, 2, None, 2])),
    pd.Series(pd.array([1, None, 3, 3], dtype="Int64"), index=[7, 7, 2, 0], name="subj"),
    pd.Series(pd.array([1.0, None, 3.5], dtype="Float64")),
    pd.Series(np.array([True, False, True])),
    pd.Series(np.array([1, 2, 255], dtype=np.uint8)),
])
def test_factor_labels_by_distinct_value_equal_cell_by_cell(column: pd.Series) -> None:
    """Issue 21: non-text factor columns are labelled per distinct value and spread back by
    code; the labels, dtype, index and name are those of labelling every cell."""
    from ketapain.data._long import _cell_labels, _labels

    fast, slow = _labels(column), _cell_labels(column)
    assert fast.equals(slow) and fast.dtype == slow.dtype and fast.index.equals(slow.index) and fast.name == slow.name


def test_float_factor_labels_by_hand() -> None:
    from ketapain.data._long import _labels

    got = _labels(pd.Series([1.0, -0.0, 2.5, np.nan, 1e20, np.inf, -np.inf, 2.0**53])).tolist()
    assert got == ["1", "0", "2.5", "", "1e+20", "inf", "-inf", "9007199254740992"]
    mixed = pd.Series(np.array([1, 1.0, True, " 1 ", None], dtype=object))  # an object column stays cell by cell
    assert _labels(mixed).tolist() == ["1", "1.0", "True", "1", ""]


@pytest.mark.parametrize(("bad", "shown"), [(np.inf, "inf"), (1e20, "1e+20")])
def test_an_infinite_or_huge_float_period_is_named(bad: float, shown: str) -> None:
    """A float period column holding inf crashed with IntCastingNaNError, and 1e20 was shown as
    a wrapped-around integer (-9223372036854775808); both are now a bad period naming the cell."""
    df = pd.DataFrame({"subject": [1, 1, 1, 2, 2, 2], "period": [1.0, 2, 3, 1, 2, bad], "sequence": ["ABC"] * 6,
                       "treatment": list("ABCABC"), "y": [1.0] * 6})
    with pytest.raises(DataError, match=re.escape(f"data row 7: period='{shown}' is not a whole number 1..3")):
        check_long(df, outcome="y")


def test_group_codes_are_those_of_a_multiindex() -> None:
    """Issue 21: the ``by`` groups are coded by combining per-column codes; the codes (order of
    first appearance) are those of ``MultiIndex.factorize``, which builds a tuple per row."""
    from ketapain.data._long import _group_codes

    rng = np.random.default_rng(8)
    for _ in range(40):
        n = int(rng.integers(1, 400))
        cols = [pd.Series(rng.choice(["a", "b", "", "c d"], n), dtype="str"),
                pd.Series(rng.integers(0, 5, n).astype(str), dtype="str"),
                pd.Series(rng.choice(["x", "y"], n), dtype="str")][: int(rng.integers(1, 4))]
        want = pd.MultiIndex.from_frame(pd.DataFrame({f"c{i}": c for i, c in enumerate(cols)})).factorize()[0]
        assert np.array_equal(_group_codes(cols), want)

"""Validation of the document model: every invalid document is refused before anything is written."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_samples import sample_document, table2

from ketapain.errors import DataError
from ketapain.report import (
    DisplayTable,
    Document,
    FigureBlock,
    Paragraph,
    Section,
    validate_document,
    write_report,
)
from ketapain.report._document import section_ids


def _with_blocks(*blocks: object, results: object = None) -> Document:
    return Document(title="T", subtitle="S", sections=(Section("Results", tuple(blocks)),),
                    provenance={"k": "v"}, results={} if results is None else results)


def _refused(doc: Document, tmp_path: Path, error: type[Exception], match: str) -> None:
    out = tmp_path / "report"
    with pytest.raises(error, match=match):
        write_report(doc, out, pdf=False)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []   # no temporary folder left either


def test_sample_document_is_valid() -> None:
    validate_document(sample_document())


def test_row_width_must_match_header(tmp_path: Path) -> None:
    bad = dataclasses.replace(table2(), rows=(("Day 35", "1", "2"),), group_rows=frozenset())
    _refused(_with_blocks(bad), tmp_path, DataError, r"table 'table2'\) row 0: has 3 cells, the header has 4")


def test_duplicate_table_keys(tmp_path: Path) -> None:
    _refused(_with_blocks(table2(), table2()), tmp_path, DataError, "table key 'table2' is used twice")


def test_duplicate_figure_keys(tmp_path: Path) -> None:
    from report_samples import lines_figure

    fig = FigureBlock(key="f", title="Figure", caption="", figure=lines_figure())
    _refused(_with_blocks(fig, fig), tmp_path, DataError, "figure key 'f' is used twice")


def test_figure_data_file_clashing_with_table_key(tmp_path: Path) -> None:
    from report_samples import lines_figure

    fig = FigureBlock(key="a", title="Figure", caption="", figure=lines_figure(), data=pd.DataFrame({"x": [1]}))
    table = dataclasses.replace(table2(), key="figure_a")
    _refused(_with_blocks(fig, table), tmp_path, DataError, "clashes with the data file of figure 'a'")


@pytest.mark.parametrize("key", ["Table2", "table-2", "", "t 2", "tabl\u00e9"])
def test_bad_table_keys(key: str, tmp_path: Path) -> None:
    _refused(_with_blocks(dataclasses.replace(table2(), key=key)), tmp_path, DataError, r"\[a-z0-9_\]\+")


def test_group_row_with_text_beyond_first_cell(tmp_path: Path) -> None:
    bad = dataclasses.replace(table2(), group_rows=frozenset({1}))
    _refused(_with_blocks(bad), tmp_path, DataError, "row 1: a group row shows only its first cell")


def test_group_row_out_of_range(tmp_path: Path) -> None:
    bad = dataclasses.replace(table2(), group_rows=frozenset({0, 9}))
    _refused(_with_blocks(bad), tmp_path, DataError, "group row 9 is not a row index 0..3")


@pytest.mark.parametrize(
    ("results", "match"),
    [({"p": float("nan")}, r"results\['p'\]=nan is not JSON-safe"),
     ({"rows": [{"est": math.inf}]}, r"results\['rows'\]\[0\]\['est'\]=inf"),
     ({"n": np.int64(3)}, r"results\['n'\]=.*int64.*\.item\(\)"),
     ({"x": {1: "a"}}, r"key 1 is not text"),
     ({"s": {1, 2}}, "set")],
)
def test_results_must_be_json_safe(results: dict, match: str, tmp_path: Path) -> None:
    _refused(_with_blocks(Paragraph("x"), results=results), tmp_path, DataError, match)


def test_sections_nested_too_deep(tmp_path: Path) -> None:
    deep = Section("A", (Section("B", (Section("C", (Section("D", (Paragraph("x"),)),)),)),))
    doc = Document(title="T", subtitle="", sections=(deep,), provenance={}, results={})
    _refused(doc, tmp_path, DataError, r"section 1.1.1.1 \('D'\) is nested 4 deep; at most 3")


def test_wrong_block_type(tmp_path: Path) -> None:
    _refused(_with_blocks("just text"), tmp_path, TypeError, "must be a Paragraph, DisplayTable, FigureBlock or Section, got str")


def test_top_level_must_be_sections(tmp_path: Path) -> None:
    doc = Document(title="T", subtitle="", sections=(Paragraph("x"),), provenance={}, results={})  # type: ignore[arg-type]
    _refused(doc, tmp_path, TypeError, r"document.sections\[0\] must be a Section, got Paragraph")


def test_cells_must_be_text(tmp_path: Path) -> None:
    bad = dataclasses.replace(table2(), rows=(("Day 35", 1.5, "2", "3"),), group_rows=frozenset())
    _refused(_with_blocks(bad), tmp_path, TypeError, r"row 0 cell 1 must be text \(str\), got float")


def test_provenance_values_must_be_text(tmp_path: Path) -> None:
    doc = dataclasses.replace(sample_document(), provenance={"seed": 7})
    _refused(doc, tmp_path, DataError, r"provenance\['seed'\]=7: keys and values must be text")


def test_duplicate_and_reserved_section_keys(tmp_path: Path) -> None:
    doc = Document(title="T", subtitle="", provenance={}, results={},
                   sections=(Section("A", (), "same"), Section("B", (), "same")))
    _refused(doc, tmp_path, DataError, "key='same' is used twice")
    doc = Document(title="T", subtitle="", provenance={}, results={}, sections=(Section("A", (), "provenance"),))
    _refused(doc, tmp_path, DataError, "reserved for the provenance block")


def test_derived_section_ids_are_unique() -> None:
    sections = (Section("Results", (Section("Day 35", ()), Section("Day 35", ()))),
                Section("Provenance", ()), Section("Other", (), "results"))
    ids = section_ids(sections)
    # the explicit key "results" wins; the derived ones step aside
    assert ids == {(1,): "section-results-2", (1, 1): "section-day-35", (1, 2): "section-day-35-2",
                   (2,): "section-provenance-2", (3,): "section-results"}


def test_table_data_must_be_a_dataframe(tmp_path: Path) -> None:
    bad = dataclasses.replace(table2(), data={"a": [1]})
    _refused(_with_blocks(bad), tmp_path, TypeError, "must be a pandas DataFrame, got dict")


def test_block_types_are_frozen() -> None:
    p = Paragraph("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.text = "y"  # type: ignore[misc]
    assert DisplayTable.__slots__ and Section.__slots__

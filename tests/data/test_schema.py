"""The schemas as data: names, keys, rules, public API and their documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ketapain.data as data_pkg
from ketapain.data import SCHEMAS, TABLE_NAMES, Column, TableSchema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def test_all_is_sorted_and_complete() -> None:
    assert data_pkg.__all__ == sorted(data_pkg.__all__)
    for name in data_pkg.__all__:
        assert hasattr(data_pkg, name), name


def test_private_modules_are_prefixed() -> None:
    package = Path(data_pkg.__file__).parent
    modules = [p.stem for p in package.glob("*.py") if p.stem != "__init__"]
    assert modules, "no modules found"
    assert all(m.startswith("_") for m in modules), modules
    for p in package.glob("*.py"):
        assert len(p.read_text().splitlines()) < 800, p.name


def test_the_seven_tables_in_order() -> None:
    assert TABLE_NAMES == (
        "patients",
        "allocation",
        "diary",
        "questionnaires",
        "adverse_events",
        "concomitant",
        "screening",
    )
    assert list(SCHEMAS) == list(TABLE_NAMES)


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_schema_is_consistent(name: str) -> None:
    schema = SCHEMAS[name]
    assert schema.name == name
    for col in schema.columns:
        assert SNAKE.match(col.name), col.name
        if not col.required:
            assert col.nullable, col.name
    for k in schema.key:
        assert schema.column(k).required and not schema.column(k).nullable


def test_keys_match_the_design() -> None:
    keys = {name: SCHEMAS[name].key for name in TABLE_NAMES}
    assert keys == {
        "patients": ("patient_id",),
        "allocation": ("patient_id", "period"),
        "diary": ("patient_id", "period", "day"),
        "questionnaires": ("patient_id", "visit", "instrument", "item"),
        "adverse_events": ("event_id",),
        "concomitant": ("patient_id", "period", "drug_class"),
        "screening": ("screening_id",),
    }


def test_units_are_in_the_column_names() -> None:
    suffix = {"years": "_years", "kg": "_kg", "m": "_m"}
    for schema in SCHEMAS.values():
        for col in schema.columns:
            if col.unit in suffix:
                assert col.name.endswith(suffix[col.unit]), col.name


def test_some_rules() -> None:
    patients = SCHEMAS["patients"]
    assert patients.column("age_years").rule == "18..120"
    assert patients.column("sex").rule == "one of 'M', 'F'"
    assert patients.column("pain_duration_years").rule == ">= 0"
    assert patients.column("dn4_total").pandas_dtype == "Int64"
    assert SCHEMAS["diary"].column("day").pandas_dtype == "int64"
    assert SCHEMAS["adverse_events"].column("serious").pandas_dtype == "bool"
    assert SCHEMAS["diary"].column("extra_analgesics").pandas_dtype == "boolean"
    assert SCHEMAS["allocation"].column("infusion_date").pandas_dtype == "datetime64[us]"
    assert len(data_pkg.DRUG_CLASSES) == 11


def test_column_definition_errors() -> None:
    with pytest.raises(ValueError, match="optional column must be nullable"):
        Column("x", "str", "x", required=False)
    with pytest.raises(ValueError, match="bounds need"):
        Column("x", "str", "x", min=0)
    with pytest.raises(ValueError, match="allowed set needs"):
        Column("x", "int", "x", allowed=("a",))
    with pytest.raises(ValueError, match="must be required"):
        TableSchema("t", "row", ("x",), (Column("x", "str", "x", nullable=True),))
    with pytest.raises(ValueError, match="pattern needs"):
        Column("x", "int", "x", pattern=("[0-9]+", "digits"))
    with pytest.raises(KeyError, match="no column 'nope'"):
        SCHEMAS["diary"].column("nope")


def test_docs_describe_every_table_and_column() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for schema in SCHEMAS.values():
        assert f"`{schema.name}`" in text, schema.name
        for col in schema.columns:
            assert f"`{col.name}`" in text, f"{schema.name}.{col.name}"
    for drug_class in data_pkg.DRUG_CLASSES:
        assert drug_class in text

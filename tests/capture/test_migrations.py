"""Migrations from empty on SQLite and PostgreSQL (issue 7).

On an empty SQLite file and on a freshly created, uniquely named PostgreSQL database
(127.0.0.1:5432, user postgres; skipped with the reason when no server answers), the
project's own :func:`ketapain.capture.db.upgrade` applies the Alembic migrations; then

* the schema equals the SQLAlchemy models' metadata (``alembic.autogenerate.compare_metadata``
  with types and server defaults compared: no difference at all);
* ``alembic_version`` holds the head revision of the shipped migration scripts;
* a second upgrade is a no-op: no DDL, no write, the same schema and version;
* a downgrade to base (every migration defines one) leaves no table of ours, no index, no
  PostgreSQL sequence, and an empty ``alembic_version`` (Alembic keeps that table itself);
* an upgrade after the downgrade gives the same schema again.

These tests build their own databases: they do not use the migrated templates of
tests/capture/conftest.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    event,
    inspect,
    text,
)

from ketapain.capture.db import MIGRATIONS, make_engine, upgrade
from ketapain.capture.models import Base

from .conftest import fresh_pg_database

_DDL_OR_WRITE = re.compile(r"^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE|TRUNCATE|COPY)\b", re.IGNORECASE)


def _alembic_config(engine_connection: Any) -> Config:
    """The Alembic configuration :func:`ketapain.capture.db.upgrade` builds (same scripts,
    same connection hand-over to ``migrations/env.py``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = engine_connection
    return cfg


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Undo the migrations down to ``revision`` (the project ships no downgrade helper: this
    is :func:`ketapain.capture.db.upgrade` with ``command.downgrade``)."""
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)


def head_revision() -> str:
    """The head revision of the shipped migration scripts (one head: no branches)."""
    script = ScriptDirectory.from_config(_alembic_config(None))
    heads = script.get_heads()
    assert len(heads) == 1, f"the capture migrations have {len(heads)} heads {heads}; merge them into one"
    return heads[0]


def schema_differences(engine: Engine, metadata: Any = Base.metadata) -> list[Any]:
    """``compare_metadata`` of the database against ``metadata`` (types and server defaults too)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(ctx, metadata)


def schema_snapshot(engine: Engine) -> dict[str, Any]:
    """Tables with their columns (name, type, nullable), indexes, unique constraints and
    primary keys, as the database reports them; PostgreSQL sequences."""
    with engine.connect() as conn:
        insp = inspect(conn)
        out: dict[str, Any] = {}
        for t in sorted(insp.get_table_names()):
            out[t] = {"columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
                      "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t)),
                      "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(t)),
                      "pk": tuple(insp.get_pk_constraint(t)["constrained_columns"])}
        if conn.dialect.name == "postgresql":
            out["<sequences>"] = sorted(insp.get_sequence_names())
        return out


def version(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file that does not exist yet, or a PostgreSQL
    database created for this test (and dropped after it)."""
    if request.param == "sqlite":
        path = tmp_path / "empty" / "capture.sqlite"
        assert not path.exists()
        yield f"sqlite:///{path}"
        return
    with fresh_pg_database("ketapain_migrations") as url:
        yield url


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    eng = make_engine(empty_url)
    yield eng
    eng.dispose()


def test_the_database_starts_empty(engine):
    assert inspect(engine).get_table_names() == []


def test_upgrade_from_empty_matches_the_models_and_is_at_head(engine):
    upgrade(engine)
    assert schema_differences(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}, tables ^ (set(Base.metadata.tables) | {"alembic_version"})
    assert version(engine) == [head_revision()]


def test_the_comparison_sees_a_difference(engine):
    """Control: a model column the migrations do not create is reported."""
    upgrade(engine)
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["diary_entries"].append_column(Column("not_migrated", Integer, nullable=True))
    diffs = schema_differences(engine, changed)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "diary_entries", "not_migrated")], diffs


def test_second_upgrade_is_a_no_op(engine):
    upgrade(engine)
    before, at = schema_snapshot(engine), version(engine)
    statements: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        upgrade(engine)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements, "the second upgrade did not even read alembic_version"
    assert [s for s in statements if _DDL_OR_WRITE.match(s)] == []
    assert schema_snapshot(engine) == before and version(engine) == at == [head_revision()]
    assert schema_differences(engine) == []


def test_downgrade_to_base_leaves_nothing_and_upgrade_again_works(engine):
    upgrade(engine)
    first = schema_snapshot(engine)
    downgrade(engine, "base")
    left = schema_snapshot(engine)
    assert set(left) - {"alembic_version"} - {"<sequences>"} == set(), sorted(left)
    assert left.get("<sequences>", []) == []   # PostgreSQL: the id sequences went with their tables
    assert version(engine) == []
    upgrade(engine)
    assert schema_differences(engine) == []
    assert schema_snapshot(engine) == first and version(engine) == [head_revision()]

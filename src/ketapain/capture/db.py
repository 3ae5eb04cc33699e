"""Engine, sessions and migrations.

SQLite files are opened in WAL mode with foreign keys on, a 30 s busy timeout, and every
transaction started with ``BEGIN IMMEDIATE`` (so concurrent writers queue instead of failing
half-way, and the audit hash chain is appended by one writer at a time). PostgreSQL uses
psycopg 3 (``postgresql+psycopg://``). :func:`upgrade` applies the Alembic migrations shipped
in ``ketapain/capture/migrations`` (run at every start; a no-op when up to date).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ketapain.capture.config import sqlite_path
from ketapain.errors import DataError

__all__ = ["MIGRATIONS", "make_engine", "make_sessionmaker", "open_existing", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (SQLite: WAL, foreign keys, ``BEGIN IMMEDIATE``; created on first use)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def open_existing(url: str) -> Engine:
    """An engine for an existing capture database; never creates one (for ``audit verify``,
    backups and every command that reads a database rather than serving it).

    Raises
    ------
    DataError
        One line: no SQLite file at that path, the database cannot be opened, or it is not a
        ketapain capture database (no ``audit_log`` table). A password in the URL is never shown.
    """
    shown = make_url(url).render_as_string(hide_password=True) if "://" in url else url
    path = sqlite_path(url)
    if url.startswith("sqlite") and (path is None or not path.is_file()):
        where = "an in-memory database" if path is None else str(path)
        raise DataError(f"{where}: no capture database there (`ketapain serve` creates one on its first start; "
                        "give another with --db URL or KETAPAIN_DATABASE_URL)", source=where)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DataError(f"{shown}: cannot open the database ({reason})", source=shown) from None
    if "audit_log" not in tables:
        engine.dispose()
        raise DataError(f"{shown}: not a ketapain capture database (it has no audit_log table)", source=shown)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that never expire on commit (objects stay readable for the response)."""
    return sessionmaker(engine, expire_on_commit=False)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision`` (creates every table on an empty database)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

"""Engine, sessions and migrations.

SQLite files are opened in WAL mode with foreign keys on and a 30 s busy timeout. Concurrency
(issue 17): a *read* session (:func:`read_only`; the API's GET requests) begins with a plain
``BEGIN``, which in WAL mode never waits for a writer and never blocks one; every other
transaction begins with ``BEGIN IMMEDIATE`` (writers queue instead of failing half-way, and the
audit hash chain is appended by one writer at a time). The server also queues its writing
requests on the event loop before they take a thread (``api.deps.get_session``), so a request
never holds SQLite's write lock while it waits for a worker thread. A read session that tries
to write raises (:class:`ReadOnlySessionError`), so a GET route that writes is caught by any
test that calls it.
The pool holds as many connections as the server has worker threads (:data:`POOL_SIZE`), so a
request never waits for a connection while a thread is free. PostgreSQL uses psycopg 3
(``postgresql+psycopg://``) with a pool of the same size; its own MVCC lets readers and writers
run together. :func:`upgrade` applies the Alembic migrations shipped
in ``ketapain/capture/migrations`` (run at every start; a no-op when up to date).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ketapain.capture.config import sqlite_path
from ketapain.errors import DataError

__all__ = ["MIGRATIONS", "POOL_SIZE", "ReadOnlySessionError", "make_engine", "make_sessionmaker", "open_existing",
           "read_only", "read_only_engine", "upgrade", "upgrade_connection"]

MIGRATIONS = Path(__file__).parent / "migrations"

POOL_SIZE = 40
"""Database connections per engine: the worker threads of one server process (anyio's default
thread limiter, which runs FastAPI's sync routes and dependencies, has 40 tokens)."""

WRITER_WAIT_S = 30.0
"""SQLite's busy timeout (seconds): how long a write waits for another process's write."""

_READ_ONLY = "ketapain_read_only"


class ReadOnlySessionError(RuntimeError):
    """A read session (:func:`read_only`) tried to write: the route must use a write session."""


def read_only(session: Session) -> Session:
    """Make ``session`` a read session: its transaction begins with a plain ``BEGIN`` (SQLite: no
    write lock) and a flush with changes raises :class:`ReadOnlySessionError`."""
    session.info[_READ_ONLY] = True
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    session.bind = read_only_engine(engine)  # connects lazily
    return session


def read_only_engine(engine: Engine) -> Engine:
    """``engine`` for reads only: its transactions begin as :func:`read_only` sessions' do."""
    return engine.execution_options(**{_READ_ONLY: True})


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if path and path != ":memory:":  # an in-memory database keeps its one-connection-per-thread pool
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_SIZE)
    engine = create_engine(url, connect_args={"timeout": WRITER_WAIT_S, "check_same_thread": False}, **kwargs)

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
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (SQLite: WAL, foreign keys, reads with ``BEGIN``, writes one at a
    time with ``BEGIN IMMEDIATE``; created on first use). The pool holds :data:`POOL_SIZE`
    connections unless ``kwargs`` say otherwise. On both backends a read session's INSERT,
    UPDATE or DELETE raises :class:`ReadOnlySessionError` before it reaches the database."""
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url, **kwargs)
    else:
        kwargs.setdefault("pool_size", POOL_SIZE // 2)
        kwargs.setdefault("max_overflow", POOL_SIZE - POOL_SIZE // 2)
        engine = create_engine(url, pool_pre_ping=True, **kwargs)

    @event.listens_for(engine, "before_execute")
    def _refuse_writes(conn: Any, statement: Any, *_args: Any) -> None:
        if getattr(statement, "is_dml", False) and conn.get_execution_options().get(_READ_ONLY):
            raise ReadOnlySessionError(f"a read session (GET request) tried to write ({statement.table}); "
                                       "list the route's path in app.state.writing_reads")

    return engine


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
    """Sessions that never expire on commit (objects stay readable for the response); a read
    session (:func:`read_only`) refuses to flush changes."""
    made = sessionmaker(engine, expire_on_commit=False)

    @event.listens_for(made, "before_flush")
    def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
        if session.info.get(_READ_ONLY) and (session.new or session.dirty or session.deleted):
            raise ReadOnlySessionError("a read session (GET request) tried to write; "
                                       "list the route's path in app.state.writing_reads")

    return made


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision`` (creates every table on an empty database)."""
    with engine.begin() as conn:
        upgrade_connection(conn, revision)


def upgrade_connection(conn: Connection, revision: str = "head") -> None:
    """:func:`upgrade` inside the caller's transaction on ``conn`` (committed or rolled back
    by the caller: on PostgreSQL, whose DDL is transactional, a rollback removes the tables)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)

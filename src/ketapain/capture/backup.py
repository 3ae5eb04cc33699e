"""Online backups of the capture database and their restore (``ketapain backup`` / ``restore``).

Archive
-------
One portable format for both backends: a zip holding ``tables/<table>.jsonl`` (one JSON array
per row, columns in the order the manifest lists them) and ``manifest.json`` (format and its
version, the ketapain version, UTC time, the backend it came from, the Alembic revision, and
per table its columns with their kind, its row count, its member and the member's SHA-256).
Values keep their types: integers and booleans as JSON, floats as JSON numbers (Python's
shortest repr, which reads back to the same double; ``"nan"``/``"inf"``/``"-inf"`` as strings),
dates in ISO 8601, JSON columns as JSON, text as strings. A SQLite backup restores into
PostgreSQL and the reverse.

Consistency
-----------
The backup is taken while the server runs. SQLite: the online backup API
(``sqlite3.Connection.backup``) copies the database into a temporary file in one step (a
snapshot: writers wait or are not seen), then the tables are read from that copy. PostgreSQL:
every table is read in one ``REPEATABLE READ`` read-only transaction (one snapshot). Either
way the archive holds a state in which the audit chain and the records agree.

Restore
-------
:func:`restore_database` checks the manifest and every member's SHA-256 before it touches the
target, refuses a target that holds rows, migrates it to the archive's revision, loads every
table in one transaction, resets PostgreSQL's ``id`` sequences, runs
:func:`~ketapain.capture.audit.verify_audit` in that transaction and commits only if the chain
verifies; then it upgrades the database to the newest revision. On PostgreSQL the migrations
run in the load's transaction too (its DDL is transactional): a restore that fails leaves the
database as it was, without tables; a SQLite file the restore created is removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, Date, Engine, Float, Integer, column, create_engine, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ketapain import __version__
from ketapain._atomic import file_write
from ketapain.capture.audit import AuditVerification, verify_audit
from ketapain.capture.config import sqlite_path
from ketapain.capture.db import MIGRATIONS, make_engine, open_existing, upgrade, upgrade_connection
from ketapain.capture.models import Base
from ketapain.errors import DataError

__all__ = ["ARCHIVE_FORMAT", "BackupSummary", "RestoreSummary", "backup_database", "read_manifest", "restore_database"]

ARCHIVE_FORMAT = "ketapain-capture-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VERSION_TABLE = "alembic_version"
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What :func:`backup_database` wrote: the archive, its backend, revision and row counts."""

    path: Path
    backend: str
    revision: str
    rows: Mapping[str, int]

    def summary(self) -> str:
        return (f"backup written to {self.path}: {sum(self.rows.values())} rows in {len(self.rows)} tables "
                f"from {self.backend}, revision {self.revision}")


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    """What :func:`restore_database` did: ``verification`` says whether the chain verified
    (when not, nothing was kept)."""

    target: str
    revision: str
    rows: Mapping[str, int]
    verification: AuditVerification
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.verification.ok

    def summary(self) -> str:
        if not self.ok:
            return f"restore into {self.target} undone: the audit chain does not verify\n{self.verification.summary()}"
        return (f"restored {sum(self.rows.values())} rows in {len(self.rows)} tables into {self.target} "
                f"(revision {self.revision}, then upgraded to the newest)\n{self.verification.summary()}")


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "://" in url else url


def _kind(col_type: Any) -> str:
    for cls, kind in ((Boolean, "boolean"), (Integer, "integer"), (Float, "float"), (Date, "date"), (JSON, "json")):
        if isinstance(col_type, cls):
            return kind
    return "string"


def _encode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "date":
        return value.isoformat()
    if kind == "float":
        value = float(value)
        return value if math.isfinite(value) else repr(value)
    return value


def _decode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "float":
        return float(value)
    if kind == "boolean":
        return bool(value)
    return value


def _orm_tables() -> list[Any]:
    return list(Base.metadata.sorted_tables)


def _columns_of(conn: Connection, name: str) -> list[tuple[str, str]]:
    """The table's columns present in the database, with their kind (from the ORM model)."""
    present = {c["name"] for c in inspect(conn).get_columns(name)}
    orm = Base.metadata.tables[name]
    return [(c.name, _kind(c.type)) for c in orm.columns if c.name in present]


def _dump_tables(conn: Connection, zf: zipfile.ZipFile) -> tuple[str, dict[str, Any]]:
    """Write every table as a member of ``zf``; return the revision and the manifest's tables."""
    names = set(inspect(conn).get_table_names())
    if VERSION_TABLE not in names:
        raise DataError("the database has no alembic_version table (not migrated)")
    revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one()
    tables: dict[str, Any] = {}
    for orm in _orm_tables():
        if orm.name not in names:
            continue
        cols = _columns_of(conn, orm.name)
        query = select(*(orm.c[c] for c, _ in cols)).order_by(orm.c.id)
        member = f"tables/{orm.name}.jsonl"
        digest, n = hashlib.sha256(), 0
        with zf.open(member, "w") as out:
            for row in conn.execute(query.execution_options(yield_per=_BATCH)):
                line = json.dumps([_encode(v, k) for v, (_, k) in zip(row, cols, strict=True)],
                                  ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                out.write(line)
                digest.update(line)
                n += 1
        tables[orm.name] = {"member": member, "columns": [list(c) for c in cols], "rows": n, "sha256": digest.hexdigest()}
    return revision, tables


def _write_archive(conn: Connection, tmp: Path, backend: str) -> BackupSummary:
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        revision, tables = _dump_tables(conn, zf)
        manifest = {"format": ARCHIVE_FORMAT, "format_version": FORMAT_VERSION, "ketapain_version": __version__,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    "backend": backend, "alembic_revision": revision, "tables": tables}
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return BackupSummary(path=tmp, backend=backend, revision=revision, rows={k: v["rows"] for k, v in tables.items()})


def _sqlite_snapshot(path: Path, into: Path) -> None:
    """Copy the SQLite database at ``path`` into ``into`` with the online backup API (one step)."""
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        dst = sqlite3.connect(into)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def backup_database(url: str, out: Path, *, overwrite: bool = False) -> BackupSummary:
    """Write a consistent backup of the capture database at ``url`` to the zip ``out``.

    Raises
    ------
    DataError
        ``out`` exists (without ``overwrite``), the database is missing or not a capture
        database, or it cannot be read (one line, the URL without its password).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise DataError(template="{path} already exists; pass {@overwrite=True} to replace it", params={"path": out})
    engine = open_existing(url)
    shown = _shown(url)
    try:
        with file_write(out) as tmp:
            if engine.dialect.name == "sqlite":
                engine.dispose()
                with tempfile.TemporaryDirectory(prefix=".ketapain-backup-", dir=out.parent) as d:
                    copy = Path(d) / "snapshot.sqlite"
                    _sqlite_snapshot(sqlite_path(url) or Path(), copy)
                    snap = create_engine(f"sqlite:///{copy}")
                    try:
                        with snap.connect() as conn:
                            made = _write_archive(conn, tmp, "sqlite")
                    finally:
                        snap.dispose()
            else:
                opts = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                with engine.connect().execution_options(**opts) as conn, conn.begin():
                    made = _write_archive(conn, tmp, engine.dialect.name)
    except (SQLAlchemyError, sqlite3.Error) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DataError(f"{shown}: cannot back up the database ({reason})", source=shown) from None
    except DataError as exc:
        raise DataError(f"{shown}: {exc}", source=shown) from None
    finally:
        engine.dispose()
    return BackupSummary(path=out, backend=made.backend, revision=made.revision, rows=made.rows)


def read_manifest(archive: Path) -> dict[str, Any]:
    """The archive's manifest after checking it and every member's SHA-256 and row count.

    Raises
    ------
    DataError
        Naming the archive and the member that is missing, changed or truncated.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            manifest = json.loads(zf.read(MANIFEST))
            if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
                raise DataError(f"{archive}: not a ketapain capture backup (manifest.json has no format {ARCHIVE_FORMAT!r})")
            if manifest.get("format_version") != FORMAT_VERSION:
                raise DataError(f"{archive}: backup format version {manifest.get('format_version')!r} is not supported")
            for name, info in manifest["tables"].items():
                _check_member(zf, archive, name, info)
    except FileNotFoundError:
        raise DataError(f"{archive}: no such file") from None
    except KeyError as exc:
        raise DataError(f"{archive}: not a complete backup ({exc.args[0]} is missing)") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, OSError, TypeError,
            AttributeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{archive}: damaged or not a backup archive ({exc})") from None
    known = _known_revisions()
    if manifest.get("alembic_revision") not in known:
        raise DataError(f"{archive}: database revision {manifest.get('alembic_revision')!r} is not one this ketapain "
                        f"knows ({', '.join(sorted(known))}); restore it with the ketapain version that wrote it "
                        f"({manifest.get('ketapain_version')})")
    return manifest


def _check_member(zf: zipfile.ZipFile, archive: Path, name: str, info: Mapping[str, Any]) -> None:
    if name not in Base.metadata.tables:
        raise DataError(f"{archive}: table {name!r} is not a table of the capture database")
    unknown = [c for c, _ in info["columns"] if c not in Base.metadata.tables[name].c]
    if unknown:
        raise DataError(f"{archive}: table {name} has columns this ketapain does not know ({', '.join(unknown)})")
    digest, n = hashlib.sha256(), 0
    with zf.open(info["member"]) as member:
        for line in member:
            digest.update(line)
            n += 1
    if digest.hexdigest() != info["sha256"] or n != info["rows"]:
        raise DataError(f"{archive}: member {info['member']} was changed or truncated (SHA-256 or row count "
                        "does not match the manifest)")


def _known_revisions() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return {r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()}


def _rows(zf: zipfile.ZipFile, member: str) -> Iterator[list[Any]]:
    with zf.open(member) as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            yield json.loads(line)


def _target_problem(engine: Engine, revision: str) -> str | None:
    """Why the target cannot take the restore (it holds rows, or another revision), else None."""
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        if not names:
            return None
        full = [t.name for t in _orm_tables() if t.name in names
                and conn.execute(select(table(t.name, column("id"))).limit(1)).first() is not None]
        if full:
            return f"is not empty (table {full[0]} has rows); restore only into a new or empty database"
        if VERSION_TABLE in names:
            current = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            if current is not None and current != revision:
                return (f"is an empty database at revision {current}, the backup is at {revision}; "
                        "restore into a new database")
    return None


def _load(conn: Connection, zf: zipfile.ZipFile, tables: Mapping[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for orm in _orm_tables():
        info = tables.get(orm.name)
        if info is None:
            continue
        cols = [(c, k) for c, k in info["columns"]]
        target = table(orm.name, *(column(c, orm.c[c].type) for c, _ in cols))
        batch: list[dict[str, Any]] = []
        counts[orm.name] = 0
        for row in _rows(zf, info["member"]):
            batch.append({c: _decode(v, k) for v, (c, k) in zip(row, cols, strict=True)})
            if len(batch) >= _BATCH:
                conn.execute(target.insert(), batch)
                counts[orm.name] += len(batch)
                batch = []
        if batch:
            conn.execute(target.insert(), batch)
            counts[orm.name] += len(batch)
    if conn.dialect.name == "postgresql":
        for orm in _orm_tables():
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{orm.name}', 'id'), "
                              f"COALESCE(MAX(id), 0) + 1, false) FROM {orm.name}"))
    return counts


def restore_database(archive: Path, url: str) -> RestoreSummary:
    """Restore the backup ``archive`` into the new or empty database at ``url``.

    Nothing is written when the archive does not check out or the target holds rows. The rows
    are loaded and the audit chain verified in one transaction, committed only when it
    verifies; a SQLite file the restore created is removed when it does not.

    Raises
    ------
    DataError
        The archive is damaged or changed, or the target is not empty or cannot be opened.
    """
    archive = Path(archive)
    manifest = read_manifest(archive)
    path = sqlite_path(url)  # first: a string that is not a URL is refused in one line
    revision, shown = manifest["alembic_revision"], _shown(url)
    created = path is not None and not path.exists()
    engine = make_engine(url)
    ok = False
    try:
        try:
            problem = _target_problem(engine, revision)
            if problem is not None:
                raise DataError(f"{shown}: {problem}", source=shown)
            # PostgreSQL: the tables are made in the load's transaction (its DDL is transactional),
            # so a restore that fails leaves the database as it was, without tables; SQLite: made
            # first (a file the restore created is removed when it fails)
            in_one = engine.dialect.name == "postgresql"
            if not in_one:
                upgrade(engine, revision)
            with zipfile.ZipFile(archive) as zf, engine.connect() as conn, conn.begin() as trans:
                if in_one:
                    upgrade_connection(conn, revision)
                counts = _load(conn, zf, manifest["tables"])
                with Session(bind=conn) as session:
                    result = verify_audit(session)
                if not result.ok:
                    trans.rollback()
                elif in_one:
                    upgrade_connection(conn)
            if result.ok and not in_one:
                upgrade(engine)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise DataError(f"{shown}: cannot restore into the database ({reason})", source=shown) from None
        ok = result.ok
    finally:
        engine.dispose()
        if created and not ok and path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    return RestoreSummary(target=shown, revision=revision, rows=counts, verification=result)


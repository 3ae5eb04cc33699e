"""The single write path: every create and change of an audited table, with its audit rows.

Services never call ``session.add`` or set attributes on audited rows themselves; they call
:func:`create`, :func:`update` or :func:`event`. Each writes the row change *and* one
``audit_log`` row per field (who, when in UTC, table, record, field, old value, new value,
reason) in the caller's transaction; the caller commits once, so a request saves everything
or nothing. Nothing is deleted: :func:`update` sets ``status="deleted"``.

Bulk writes
-----------
:func:`audited_bulk_insert` inserts many rows of one table with the same guarantees (same
transaction, one ``create`` audit row per non-empty field, one chain) without the ORM's
per-object work: the rows are normalised in memory, inserted with one executemany
(``INSERT ... RETURNING id``), their audit rows built and chained in one pass and inserted
with a second executemany (PostgreSQL, from 64 audit rows on: ``COPY`` on the session's
connection, same transaction). :func:`create`, :func:`update` and :func:`event` write their
audit rows the same way (one executemany per call).

Hash chain
----------
Audit rows are numbered ``seq = 1, 2, ...`` and chained: ``hash = sha256(canonical JSON of
[seq, at, username, action, table_name, record_id, field, old_value, new_value, reason,
prev_hash])`` with ``prev_hash`` the previous row's hash (:data:`GENESIS` for the first).
Appends are serialised (PostgreSQL: a transaction-level advisory lock; SQLite: every
transaction starts with ``BEGIN IMMEDIATE``, see :mod:`ketapain.capture.db`); ``seq`` is
unique, so a forked chain could not even be stored. A write that clashes with a unique key
(two simultaneous posts of the same diary day: both passed the service's existence check,
the second insert waits for the first commit and fails) raises :class:`Conflict` (409).
:func:`verify_audit` recomputes the chain and also checks that every audited row still holds
the value its last audit row recorded, so an edit made with raw SQL to the data *or* to the
log is found and named.

Values are stored as text by :func:`dump`: ``None`` -> NULL, booleans ``true``/``false``,
numbers ``repr``, dates ISO 8601, mappings and lists canonical JSON. Secrets' digests
(:data:`SECRET_FIELDS`: password hashes, patient-token and session digests) are never written
to the log: their audit value is ``sha256:`` + the SHA-256 of the stored value
(:func:`audit_value`), which still lets :func:`verify_audit` detect a replaced hash (it also
accepts the raw value that trails written before this rule hold).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Boolean, ColumnDefault, Float, Integer, UniqueConstraint, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketapain.capture.models import AUDITED_TABLES, AuditLog, Base, Signature, Study
from ketapain.errors import Conflict, StudyLocked

__all__ = [
    "Actor",
    "AuditVerification",
    "CASEBOOK_TABLES",
    "GENESIS",
    "LOCK_EXEMPT_TABLES",
    "SECRET_FIELDS",
    "SYSTEM",
    "audit_value",
    "audited_bulk_insert",
    "create",
    "dump",
    "event",
    "row_hash",
    "savepoint",
    "signed_patients",
    "update",
    "utc_now",
    "verify_audit",
]

GENESIS = "0" * 64
"""``prev_hash`` of the first audit row."""

CASEBOOK_TABLES = frozenset({"patients", "screenings", "infusions", "diary_entries", "visits",
                             "questionnaire_responses", "adverse_events", "concomitant"})
"""Tables whose rows belong to a patient's casebook: a change voids the patient's signatures."""

LOCK_EXEMPT_TABLES = frozenset({"users", "study", "notifications", "patient_tokens", "unblindings", "data_queries",
                                "change_requests"})
"""Tables that may still be written after database lock (administration, not trial data)."""

_ADVISORY_KEY = 7_470_001  # PostgreSQL advisory lock that serialises audit appends

M = TypeVar("M", bound=Base)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who writes: a user name and role (``system`` for start-up, ``patient:<id>`` for diaries)."""

    username: str
    role: str
    user_id: int | None = None


SYSTEM = Actor("system", "system")


def utc_now() -> str:
    """Current UTC time, ISO 8601 with microseconds and ``+00:00``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def dump(value: Any) -> str | None:
    """The text form of a value in the audit trail.

    >>> dump(True), dump(3.5), dump(dt.date(2016, 2, 9)), dump({"b": 1, "a": None}), dump(None)
    ('true', '3.5', '2016-02-09', '{"a":null,"b":1}', None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value + 0.0)  # -0.0 -> 0.0
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


SECRET_FIELDS = frozenset({"password_hash", "token_hash"})
"""Columns whose values are secrets' digests: the audit trail keeps only a digest of them."""


def audit_value(field: str, value: Any) -> str | None:
    """The audit trail's text of ``value`` in column ``field``: :func:`dump`, or for a
    :data:`SECRET_FIELDS` column ``"sha256:<hex digest of the dumped value>"``."""
    text = dump(value)
    if text is None or field not in SECRET_FIELDS:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def row_hash(seq: int, at: str, username: str, action: str, table_name: str, record_id: str, field: str | None,
             old_value: str | None, new_value: str | None, reason: str | None, prev_hash: str) -> str:
    """SHA-256 (hex) of one audit row's content and the previous row's hash."""
    payload = json.dumps([seq, at, username, action, table_name, record_id, field, old_value, new_value, reason, prev_hash],
                         separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _tail(session: Session) -> list[Any]:
    tail = session.info.get("audit_tail")
    if tail is None or tail[2] is not session.get_transaction():
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        last = session.execute(select(AuditLog.seq, AuditLog.hash).order_by(AuditLog.seq.desc()).limit(1)).first()
        tail = [last[0], last[1], session.get_transaction()] if last else [0, GENESIS, session.get_transaction()]
        session.info["audit_tail"] = tail
    return tail


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT around one unit of audited writes inside a longer transaction (the group
    commit of :mod:`ketapain.capture.writer`): when the block raises, its rows *and* its audit
    rows are rolled back, and so is this module's per-transaction state (the chain's tail, the
    lock and signature cache), so the next unit chains on the last row that is kept. Without
    the reset, the next unit would chain on a row that was rolled back and the trail would not
    verify. PostgreSQL releases the advisory lock taken inside a rolled-back savepoint; the
    reset tail makes the next unit take it again."""
    tail = session.info.get("audit_tail")
    cache = session.info.get("audit_cache")
    saved_tail = None if tail is None else list(tail)
    saved_cache = None if cache is None else {**cache, "signed": set(cache["signed"])}
    nested = session.begin_nested()
    try:
        yield
        session.flush()
    except BaseException:
        nested.rollback()
        for key, saved in (("audit_tail", saved_tail), ("audit_cache", saved_cache)):
            if saved is None:
                session.info.pop(key, None)
            else:
                session.info[key] = saved
        raise
    nested.commit()


def _write_audit(session: Session, actor: Actor, entries: Sequence[tuple[str, str, str, str | None, str | None, str | None]],
                 reason: str | None, at: str, usernames: Sequence[str] | None = None) -> None:
    """Chain and insert audit rows in one executemany; ``entries`` are
    ``(action, table, record_id, field, old, new)``, written by ``actor`` or, when given, by
    ``usernames[k]`` (one per entry)."""
    if not entries:
        return
    tail = _tail(session)
    seq, prev = tail[0], tail[1]
    rows = []
    names = usernames if usernames is not None else [actor.username] * len(entries)
    for (action, table, record_id, fld, old, new), username in zip(entries, names, strict=True):
        seq += 1
        h = row_hash(seq, at, username, action, table, record_id, fld, old, new, reason, prev)
        rows.append({"seq": seq, "at": at, "username": username, "action": action, "table_name": table,
                     "record_id": record_id, "field": fld, "old_value": old, "new_value": new, "reason": reason,
                     "prev_hash": prev, "hash": h})
        prev = h
    if len(rows) >= _COPY_MIN and session.get_bind().dialect.name == "postgresql":
        _copy_rows(session, rows)
    else:
        session.execute(AuditLog.__table__.insert(), rows)  # executemany (psycopg: pipelined)
    tail[0], tail[1] = seq, prev


_COPY_MIN = 64  # PostgreSQL: from this many audit rows on, COPY instead of executemany


def _copy_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL ``COPY audit_log FROM STDIN`` on the session's own connection (same
    transaction); ~10x faster than an executemany of thousands of rows."""
    cols = list(rows[0])
    driver = session.connection().connection.driver_connection
    assert driver is not None  # the session's connection is checked out, so its driver connection is live
    with driver.cursor() as cur, cur.copy(f"COPY audit_log ({', '.join(cols)}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row([r[c] for c in cols])


def _append(session: Session, actor: Actor, action: str, table: str, record_id: str, fld: str | None,
            old: str | None, new: str | None, reason: str | None, at: str) -> None:
    _write_audit(session, actor, [(action, table, record_id, fld, old, new)], reason, at)


def _columns(obj: Base) -> list[str]:
    return [c.key for c in obj.__mapper__.column_attrs if c.key != "id"]


def _cache(session: Session) -> dict[str, Any]:
    """Per-transaction cache: lock state and patients with a valid signature."""
    c = session.info.get("audit_cache")
    if c is None or c["txn"] is not session.get_transaction():
        c = {"txn": session.get_transaction(),
             "locked": bool(session.execute(select(Study.locked).limit(1)).scalar()),
             "signed": set(session.execute(select(Signature.patient_id).where(Signature.status == "valid")).scalars())}
        session.info["audit_cache"] = c
    return c


def signed_patients(session: Session) -> set[str]:
    """The patients whose casebook has a valid signature, as this transaction sees them (a
    write to their casebook voids it; cached per transaction)."""
    return set(_cache(session)["signed"])


def _check_writable(session: Session, table: str) -> None:
    if table in LOCK_EXEMPT_TABLES:
        return
    if _cache(session)["locked"]:
        raise StudyLocked(f"the database is locked: {table} cannot be changed (an admin must unlock it first, with a reason)")


def _void_signatures(session: Session, actor: Actor, obj: Base, what: str, at: str) -> None:
    _void_patient(session, actor, obj.__tablename__, getattr(obj, "patient_id", None), what)


def _void_patient(session: Session, actor: Actor, table: str, pid: str | None, what: str) -> None:
    if table not in CASEBOOK_TABLES or not pid or pid not in _cache(session)["signed"]:
        return
    _cache(session)["signed"].discard(pid)
    sigs = session.execute(select(Signature).where(Signature.patient_id == pid, Signature.status == "valid")).scalars().all()
    for sig in sigs:
        update(session, actor, sig, {"status": "void", "void_reason": f"{what} after signature"},
               reason=f"signature voided: {what} after signature of {sig.signed_at}")


def _unique_keys(model: type[Base]) -> list[tuple[str, ...]]:
    keys = [tuple(c.name for c in con.columns) for con in model.__table__.constraints if isinstance(con, UniqueConstraint)]
    keys += [(c.name,) for c in model.__table__.columns if c.unique]
    return keys


def _is_duplicate(exc: IntegrityError) -> bool:
    """A unique-key violation (PostgreSQL SQLSTATE 23505; SQLite "UNIQUE constraint failed")."""
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def _duplicate(model: type[Base], values: Mapping[str, Any] | None) -> Conflict:
    """The 409 for a unique-key clash (e.g. two simultaneous posts of the same diary day);
    names the key's fields, with their values unless one is a secret's digest."""
    keys = _unique_keys(model)
    if values is not None and keys and not any("hash" in c for k in keys for c in k):
        what = "; ".join(", ".join(f"{c}={values.get(c)!r}" for c in k) for k in keys)
        return Conflict(f"{model.__tablename__}: a record with the same {what} already exists")
    return Conflict(f"{model.__tablename__}: a record with the same key already exists "
                    f"(unique: {'; '.join(', '.join(k) for k in keys)})")


def create(session: Session, actor: Actor, obj: M, *, reason: str | None = None) -> M:
    """Insert ``obj`` and one ``create`` audit row per non-empty field; returns ``obj`` (with id)."""
    table = obj.__tablename__
    if table not in AUDITED_TABLES:
        raise TypeError(f"{table} is not an audited table")
    _check_writable(session, table)
    session.add(obj)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent writer stored the same key first
        if not _is_duplicate(exc):
            raise
        raise _duplicate(type(obj), {c: getattr(obj, c) for c in _columns(obj)}) from exc
    at = utc_now()
    rid = str(obj.id)
    entries = [("create", table, rid, col, None, value) for col in _columns(obj)
               if (value := audit_value(col, getattr(obj, col))) is not None]
    _write_audit(session, actor, entries, reason, at)
    _void_signatures(session, actor, obj, f"{table} record {obj.id} added", at)
    if isinstance(obj, Signature):  # the model of the "signatures" table
        _cache(session)["signed"].add(obj.patient_id)
    return obj


def _normaliser(column: Any) -> Any:
    """Convert a value to the Python type the column reads back (so the audited text of the
    value is the text :func:`verify_audit` will recompute from the stored row)."""
    kind = column.type

    def plain(v: Any) -> Any:
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(kind, Boolean):
            return bool(v)
        if isinstance(kind, Float):
            return float(v)
        if isinstance(kind, Integer):
            if isinstance(v, float) and not v.is_integer():
                raise TypeError(f"{column.table.name}.{column.name}: {v!r} is not a whole number")
            return int(v)
        return v

    return plain


def audited_bulk_insert(session: Session, actor: Actor, table: str | type[Base], rows: Sequence[Mapping[str, Any]], *,
                        reason: str | None, actors: Sequence[Actor] | None = None) -> list[int]:
    """Insert many new rows of one audited table, with their audit rows, in the caller's transaction.

    Same guarantees as calling :func:`create` once per row — the lock is checked, every
    non-empty field gets a ``create`` audit row (who, when, table, record, field, new value,
    reason), the rows join the hash chain in order, signed casebooks are voided — but the
    rows are inserted with one executemany and the audit rows with another, so thousands of
    rows take milliseconds, not seconds.

    Parameters
    ----------
    session : the caller's session (the caller commits once).
    actor : who writes.
    table : table name (a key of ``AUDITED_TABLES``) or model class.
    rows : one mapping per new row, field -> value (no ``id``); absent fields take the
        column default. NumPy scalars and NaN are accepted (NaN -> NULL); values are
        converted to the column's type (floats for Float columns...).
    reason : recorded with every audit row.
    actors : who wrote each row (one per row; e.g. the patients of a group-committed batch of
        diary posts); default: ``actor`` for every row. A signed casebook voided by the call
        is voided by the writer of that patient's first row.

    Returns
    -------
    list of int
        The new rows' ids, in the order of ``rows``.

    Raises
    ------
    TypeError
        Not an audited table, or a field the table does not have.
    StudyLocked
        The database is locked and the table is not lock-exempt.
    Conflict
        A row clashes with a unique key (already stored, or stored meanwhile by a concurrent
        writer); nothing of the call is kept once the caller rolls back.

    Examples
    --------
    >>> from sqlalchemy import create_engine
    >>> from ketapain.capture.models import Concomitant
    >>> engine = create_engine("sqlite://")
    >>> Base.metadata.create_all(engine)
    >>> with Session(engine) as s:
    ...     ids = audited_bulk_insert(s, SYSTEM, "concomitant", [
    ...         {"patient_id": "P001", "period": 0, "drug_class": "opioid", "drug_name": None},
    ...         {"patient_id": "P002", "period": 0, "drug_class": "gabapentinoid", "drug_name": "pregabalin"}],
    ...         reason="import")
    ...     s.commit()
    ...     ids, verify_audit(s).n_rows, verify_audit(s).ok
    ([1, 2], 9, True)
    """
    model = AUDITED_TABLES.get(table) if isinstance(table, str) else table
    if model is None or model.__tablename__ not in AUDITED_TABLES:
        raise TypeError(f"{table} is not an audited table")
    name = model.__tablename__
    _check_writable(session, name)
    if not rows:
        return []
    who = [actor] * len(rows) if actors is None else list(actors)
    if len(who) != len(rows):
        raise TypeError(f"actors: {len(who)} given for {len(rows)} rows")
    columns = [c for c in model.__table__.columns if c.name != "id"]
    names = {c.name for c in columns}
    fill: dict[str, Any] = {}
    for c in columns:
        if isinstance(c.default, ColumnDefault) and c.default.is_scalar:
            fill[c.name] = c.default.arg
        elif isinstance(c.default, ColumnDefault) and c.default.is_callable:
            fill[c.name] = c.default.arg  # called per row below (dict, list)
    plain = {c.name: _normaliser(c) for c in columns}
    clean: list[dict[str, Any]] = []
    for k, row in enumerate(rows):
        unknown = set(row) - names
        if unknown:
            raise TypeError(f"{name} has no field {', '.join(sorted(unknown))} (row {k})")
        out: dict[str, Any] = {}
        for c in columns:
            if c.name in row:
                out[c.name] = plain[c.name](row[c.name])
            elif c.name in fill:
                d = fill[c.name]
                out[c.name] = d(None) if callable(d) else d
            else:
                out[c.name] = None
        clean.append(out)
    session.flush()  # pending ORM changes first, so the chain keeps the order of the calls
    stmt = model.__table__.insert().returning(model.__table__.c.id, sort_by_parameter_order=True)
    try:
        ids = [r[0] for r in session.execute(stmt, clean)]
    except IntegrityError as exc:
        if not _is_duplicate(exc):
            raise
        raise _duplicate(model, None) from exc
    at = utc_now()
    order = [c.name for c in columns]
    entries, usernames = [], []
    for i, row, by in zip(ids, clean, who, strict=True):
        for col in order:
            if (v := audit_value(col, row[col])) is not None:
                entries.append(("create", name, str(i), col, None, v))
                usernames.append(by.username)
    _write_audit(session, actor, entries, reason, at, usernames)
    if name == "signatures":
        _cache(session)["signed"].update(r["patient_id"] for r in clean)
    elif name in CASEBOOK_TABLES and "patient_id" in names:
        first = {r["patient_id"]: by for r, by in zip(reversed(clean), reversed(who), strict=True)}
        for pid in dict.fromkeys(r["patient_id"] for r in clean):
            _void_patient(session, first[pid], name, pid, f"{name} records added")
    return ids


def update(session: Session, actor: Actor, obj: Base, changes: Mapping[str, Any], *, reason: str | None,
           action: str = "update") -> list[str]:
    """Apply ``changes`` (field -> new value) to ``obj``; one audit row per field that really
    changes. Returns the changed field names (empty: nothing written)."""
    table = obj.__tablename__
    if table not in AUDITED_TABLES:
        raise TypeError(f"{table} is not an audited table")
    _check_writable(session, table)
    cols = set(_columns(obj))
    unknown = sorted(set(changes) - cols)
    if unknown:
        raise TypeError(f"{table} has no field {', '.join(unknown)}")
    at = utc_now()
    olds: dict[str, str | None] = {}
    for col, value in changes.items():
        if dump(getattr(obj, col)) == dump(value):
            continue
        olds[col] = audit_value(col, getattr(obj, col))
        setattr(obj, col, value)
    if olds:
        if isinstance(obj, Study) and "locked" in olds:  # the model of the "study" table
            _cache(session)["locked"] = bool(obj.locked)
        try:
            session.flush()
        except IntegrityError as exc:
            if not _is_duplicate(exc):
                raise
            raise _duplicate(type(obj), {c: getattr(obj, c) for c in cols}) from exc
        rid = str(obj.id)
        _write_audit(session, actor, [(action, table, rid, col, old, audit_value(col, getattr(obj, col))) for col, old in olds.items()],
                     reason, at)
        _void_signatures(session, actor, obj, f"{table} record {obj.id} changed ({', '.join(olds)})", at)
    return list(olds)


def event(session: Session, actor: Actor, *, table: str, record_id: str | int, action: str, reason: str | None = None,
          detail: str | None = None) -> None:
    """Record an event that changes no audited field (login, logout, export, unblinding...)."""
    _append(session, actor, action, table, str(record_id), None, None, detail, reason, utc_now())


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """Result of :func:`verify_audit`: ``ok`` and every problem found (row named by ``seq``)."""

    ok: bool
    n_rows: int
    problems: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        if self.ok:
            return f"audit trail OK: {self.n_rows} rows, hash chain intact, every record matches its last audited value"
        return "\n".join([f"audit trail BROKEN: {len(self.problems)} problem(s) in {self.n_rows} rows", *("  " + p for p in self.problems)])

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "n_rows": self.n_rows, "problems": list(self.problems)}


AUDIT_BATCH = 10_000
"""Audit rows fetched at a time by :func:`verify_audit`."""


def verify_audit(session: Session, *, max_problems: int = 50) -> AuditVerification:
    """Recompute the hash chain and compare every audited record with its last audit values.

    Problems name the audit row (``seq`` and ``id``) or the record (table, id, field): a row
    whose content no longer matches its hash, a broken link or a gap in ``seq`` (a deleted
    row), a record or field changed outside the write path, a record with no audit trail.
    """
    problems: list[str] = []
    log = AuditLog.__table__
    # plain rows, streamed in batches (PostgreSQL: a server-side cursor): the memory holds the
    # records' last audited values, not the whole trail (1 M rows: BENCHMARKS.md, "Audit at scale")
    rows = session.execute(select(log).order_by(log.c.seq).execution_options(yield_per=AUDIT_BATCH))
    prev, expected_seq, n_rows = GENESIS, 1, 0
    state: dict[tuple[str, str, str], str | None] = {}
    for r in rows:
        n_rows += 1
        if r.seq != expected_seq:
            problems.append(f"audit row seq={r.seq} (id {r.id}): expected seq={expected_seq}; rows are missing")
        if r.prev_hash != prev:
            problems.append(f"audit row seq={r.seq} (id {r.id}): prev_hash does not match the hash of the row before")
        h = row_hash(r.seq, r.at, r.username, r.action, r.table_name, r.record_id, r.field, r.old_value, r.new_value, r.reason, r.prev_hash)
        if h != r.hash:
            problems.append(f"audit row seq={r.seq} (id {r.id}, {r.table_name} record {r.record_id} field {r.field}): "
                            "content does not match its hash (edited outside the app)")
        if r.field is not None:
            state[(r.table_name, r.record_id, r.field)] = r.new_value
        prev, expected_seq = r.hash, r.seq + 1
    for name, model in AUDITED_TABLES.items():
        tab = model.__table__
        cols = [c.name for c in tab.columns if c.name != "id"]
        for rec in session.execute(select(tab).order_by(tab.c.id)).mappings():
            rid = str(rec["id"])
            if not any((name, rid, c) in state for c in cols):
                problems.append(f"{name} record {rid}: not in the audit trail (inserted outside the app)")
                continue
            for c in cols:
                now, audited = audit_value(c, rec[c]), state.get((name, rid, c))
                if c in SECRET_FIELDS and audited == dump(rec[c]):
                    audited = now  # a trail written before secrets were digested
                if now != audited:
                    problems.append(f"{name} record {rid} field {c}: holds {now!r} but the audit trail last recorded "
                                    f"{audited!r} (changed outside the app)")
    if len(problems) > max_problems:
        problems = [*problems[:max_problems], f"... and {len(problems) - max_problems} more"]
    return AuditVerification(ok=not problems, n_rows=n_rows, problems=tuple(problems))

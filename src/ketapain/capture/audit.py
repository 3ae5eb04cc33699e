"""The single write path: every create and change of an audited table, with its audit rows.

Services never call ``session.add`` or set attributes on audited rows themselves; they call
:func:`create`, :func:`update` or :func:`event`. Each writes the row change *and* one
``audit_log`` row per field (who, when in UTC, table, record, field, old value, new value,
reason) in the caller's transaction; the caller commits once, so a request saves everything
or nothing. Nothing is deleted: :func:`update` sets ``status="deleted"``.

Hash chain
----------
Audit rows are numbered ``seq = 1, 2, ...`` and chained: ``hash = sha256(canonical JSON of
[seq, at, username, action, table_name, record_id, field, old_value, new_value, reason,
prev_hash])`` with ``prev_hash`` the previous row's hash (:data:`GENESIS` for the first).
Appends are serialised (PostgreSQL: a transaction-level advisory lock; SQLite: every
transaction starts with ``BEGIN IMMEDIATE``, see :mod:`ketapain.capture.db`).
:func:`verify_audit` recomputes the chain and also checks that every audited row still holds
the value its last audit row recorded, so an edit made with raw SQL to the data *or* to the
log is found and named.

Values are stored as text by :func:`dump`: ``None`` -> NULL, booleans ``true``/``false``,
numbers ``repr``, dates ISO 8601, mappings and lists canonical JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ketapain.capture._errors import StudyLocked
from ketapain.capture.models import AUDITED_TABLES, AuditLog, Base, Signature, Study

__all__ = [
    "Actor",
    "AuditVerification",
    "CASEBOOK_TABLES",
    "GENESIS",
    "LOCK_EXEMPT_TABLES",
    "SYSTEM",
    "create",
    "dump",
    "event",
    "row_hash",
    "update",
    "utc_now",
    "verify_audit",
]

GENESIS = "0" * 64
"""``prev_hash`` of the first audit row."""

CASEBOOK_TABLES = frozenset({"patients", "screenings", "infusions", "diary_entries", "visits",
                             "questionnaire_responses", "adverse_events", "concomitant"})
"""Tables whose rows belong to a patient's casebook: a change voids the patient's signatures."""

LOCK_EXEMPT_TABLES = frozenset({"users", "study", "notifications", "patient_tokens", "unblindings", "data_queries"})
"""Tables that may still be written after database lock (administration, not trial data)."""

_ADVISORY_KEY = 7_470_001  # PostgreSQL advisory lock that serialises audit appends


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


def _append(session: Session, actor: Actor, action: str, table: str, record_id: str, fld: str | None,
            old: str | None, new: str | None, reason: str | None, at: str) -> None:
    tail = _tail(session)
    seq = tail[0] + 1
    h = row_hash(seq, at, actor.username, action, table, record_id, fld, old, new, reason, tail[1])
    session.add(AuditLog(seq=seq, at=at, username=actor.username, action=action, table_name=table,
                         record_id=record_id, field=fld, old_value=old, new_value=new, reason=reason,
                         prev_hash=tail[1], hash=h))
    tail[0], tail[1] = seq, h


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


def _check_writable(session: Session, table: str) -> None:
    if table in LOCK_EXEMPT_TABLES:
        return
    if _cache(session)["locked"]:
        raise StudyLocked(f"the database is locked: {table} cannot be changed (an admin must unlock it first, with a reason)")


def _void_signatures(session: Session, actor: Actor, obj: Base, what: str, at: str) -> None:
    table = obj.__tablename__
    pid = getattr(obj, "patient_id", None)
    if table not in CASEBOOK_TABLES or not pid or pid not in _cache(session)["signed"]:
        return
    _cache(session)["signed"].discard(pid)
    sigs = session.execute(select(Signature).where(Signature.patient_id == pid, Signature.status == "valid")).scalars().all()
    for sig in sigs:
        update(session, actor, sig, {"status": "void", "void_reason": f"{what} after signature"},
               reason=f"signature voided: {what} after signature of {sig.signed_at}")


def create(session: Session, actor: Actor, obj: Base, *, reason: str | None = None) -> Base:
    """Insert ``obj`` and one ``create`` audit row per non-empty field; returns ``obj`` (with id)."""
    table = obj.__tablename__
    if table not in AUDITED_TABLES:
        raise TypeError(f"{table} is not an audited table")
    _check_writable(session, table)
    session.add(obj)
    session.flush()
    at = utc_now()
    for col in _columns(obj):
        value = dump(getattr(obj, col))
        if value is not None:
            _append(session, actor, "create", table, str(obj.id), col, None, value, reason, at)
    _void_signatures(session, actor, obj, f"{table} record {obj.id} added", at)
    if table == "signatures":
        _cache(session)["signed"].add(obj.patient_id)  # type: ignore[attr-defined]
    return obj


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
        old = dump(getattr(obj, col))
        if old == dump(value):
            continue
        olds[col] = old
        setattr(obj, col, value)
    if olds:
        if table == "study" and "locked" in olds:
            _cache(session)["locked"] = bool(getattr(obj, "locked"))
        session.flush()
        for col, old in olds.items():
            _append(session, actor, action, table, str(obj.id), col, old, dump(getattr(obj, col)), reason, at)
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


def verify_audit(session: Session, *, max_problems: int = 50) -> AuditVerification:
    """Recompute the hash chain and compare every audited record with its last audit values.

    Problems name the audit row (``seq`` and ``id``) or the record (table, id, field): a row
    whose content no longer matches its hash, a broken link or a gap in ``seq`` (a deleted
    row), a record or field changed outside the write path, a record with no audit trail.
    """
    problems: list[str] = []
    rows = session.execute(select(AuditLog).order_by(AuditLog.seq)).scalars().all()
    prev, expected_seq = GENESIS, 1
    state: dict[tuple[str, str, str], str | None] = {}
    for r in rows:
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
        for obj in session.execute(select(model)).scalars():
            cols = _columns(obj)
            rid = str(obj.id)
            if not any((name, rid, c) in state for c in cols):
                problems.append(f"{name} record {rid}: not in the audit trail (inserted outside the app)")
                continue
            for c in cols:
                now, audited = dump(getattr(obj, c)), state.get((name, rid, c))
                if now != audited:
                    problems.append(f"{name} record {rid} field {c}: holds {now!r} but the audit trail last recorded "
                                    f"{audited!r} (changed outside the app)")
    if len(problems) > max_problems:
        problems = [*problems[:max_problems], f"... and {len(problems) - max_problems} more"]
    return AuditVerification(ok=not problems, n_rows=len(rows), problems=tuple(problems))

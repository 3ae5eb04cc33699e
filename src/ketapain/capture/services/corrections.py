"""Corrections of captured records: an audited change with a mandatory reason, and the soft
"entered in error" status.

Every correction (infusions, visits, questionnaire responses, screenings, adverse events,
concomitant treatments, patients) goes through :func:`correct`:

- the reason is mandatory and not blank (:class:`~ketapain.errors.DataError`, field ``reason``);
- the database must not be locked (:class:`~ketapain.errors.StudyLocked`);
- a record entered in error is not corrected (:class:`~ketapain.errors.Conflict`);
- only the fields whose value really differs are written; when none differs nothing is
  written and :class:`~ketapain.errors.Conflict` says so ("nothing to correct");
- :func:`ketapain.capture.audit.update` writes one audit row per changed field (old value, new
  value, the reason) and voids the e-signatures of the patient's casebook;
- the open (or answered) data queries on a corrected field are closed with the reason
  (:func:`close_queries`): a query on ``field`` closes when ``field`` changes; on a mapping
  column (questionnaire ``answers``, screening ``answers``) a query on ``answers.<key>`` closes
  when that key changes. A query on the whole record (no field) stays open on a field
  correction: it closes when the record is entered in error.

"Entered in error" (:func:`enter_in_error`) sets ``status`` to :data:`ENTERED_IN_ERROR` with a
reason (audit action ``entered_in_error``); nothing is deleted. Such records leave the lists,
the visit schedule and the export (they read ``status == "active"``; the export also leaves
out every record of a patient entered in error); the audit trail keeps them. A randomised
patient and an enrolled screening are never entered in error (the patient stays in the trial:
withdraw instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.audit import LOCK_EXEMPT_TABLES
from ketapain.capture.models import (
    AdverseEvent,
    Allocation,
    Base,
    Concomitant,
    DataQuery,
    Patient,
    QuestionnaireResponse,
    Screening,
    VisitRecord,
)
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict, DataError, NotFound, StudyLocked

__all__ = ["ENTERED_IN_ERROR", "RECORD_TYPES", "check_reason", "close_queries", "correct", "enter_in_error"]

ENTERED_IN_ERROR = "entered_in_error"
"""The ``status`` of a record entered in error (soft: the row and its audit trail stay)."""

RECORD_TYPES: dict[str, tuple[type[Base], str]] = {
    "visits": (VisitRecord, "visits.write"),
    "questionnaire_responses": (QuestionnaireResponse, "questionnaires.write"),
    "screenings": (Screening, "screening.write"),
    "adverse_events": (AdverseEvent, "adverse_events.write"),
    "concomitant": (Concomitant, "concomitant.write"),
    "patients": (Patient, "patients.write"),
}
"""Tables whose records can be entered in error, with the permission that creates them."""


def check_reason(reason: str | None) -> str:
    """The stripped reason, or a :class:`DataError` (field ``reason``) when it is blank."""
    text = (reason or "").strip()
    if not text:
        raise DataError("reason: a correction needs a reason (it is kept in the audit trail)", column="reason")
    return text


def _check_open(ctx: Context, table: str) -> None:
    if table not in LOCK_EXEMPT_TABLES and ctx.locked:
        raise StudyLocked(f"the database is locked: {table} cannot be corrected (an admin must unlock it first, with a reason)")


def _changed_keys(col: str, old: Any, new: Any) -> set[str]:
    """``col`` and, for mappings, ``col.<key>`` of every key whose value differs."""
    out = {col}
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out |= {f"{col}.{k}" for k in set(old) | set(new) if audit.dump(old.get(k)) != audit.dump(new.get(k))}
    return out


def close_queries(ctx: Context, obj: Base, fields: set[str] | None, reason: str) -> list[DataQuery]:
    """Close the data queries not yet closed on ``obj`` whose field is in ``fields`` (every
    query on the record when ``fields`` is None); each closure is audited with the reason."""
    rows = ctx.session.execute(select(DataQuery).where(
        DataQuery.table_name == obj.__tablename__, DataQuery.record_id == obj.id, DataQuery.status != "closed")
        .order_by(DataQuery.id)).scalars().all()
    closed = [q for q in rows if fields is None or q.field in fields]
    for q in closed:
        audit.update(ctx.session, ctx.actor, q, {"status": "closed", "closed_by": ctx.actor.username},
                     reason=f"closed by the correction of {obj.__tablename__} record {obj.id}: {reason}")
    return closed


def correct(ctx: Context, obj: Base, changes: Mapping[str, Any], reason: str | None, *, what: str) -> list[str]:
    """Apply a correction to ``obj`` (see the module docstring); returns the changed fields.

    The caller has checked the permission and validated the new values."""
    text = check_reason(reason)
    _check_open(ctx, obj.__tablename__)
    if getattr(obj, "status", None) == ENTERED_IN_ERROR:
        raise Conflict(f"{what} is entered in error; it cannot be corrected")
    differ = {k: v for k, v in changes.items() if audit.dump(getattr(obj, k)) != audit.dump(v)}
    if not differ:
        raise Conflict(f"nothing to correct: {what} already holds the values sent")
    fields: set[str] = set()
    for k, v in differ.items():
        fields |= _changed_keys(k, getattr(obj, k), v)
    changed = audit.update(ctx.session, ctx.actor, obj, differ, reason=text)
    close_queries(ctx, obj, fields, text)
    return changed


def _refuse_if_in_use(ctx: Context, obj: Base) -> None:
    if isinstance(obj, Patient) and ctx.session.execute(select(Allocation.id).where(Allocation.patient_id == obj.patient_id)).first():
        raise Conflict(f"patient {obj.patient_id} is randomised: a randomised patient stays in the trial "
                       "(correct the record, or withdraw the patient)")
    if isinstance(obj, Screening) and ctx.session.execute(select(Patient.patient_id).where(
            Patient.screening_id == obj.screening_id, Patient.status != ENTERED_IN_ERROR)).first():
        raise Conflict(f"screening {obj.screening_id} is enrolled: enter the patient in error first")


def enter_in_error(ctx: Context, table: str, record_id: int, reason: str | None) -> tuple[Base, list[DataQuery]]:
    """Mark record ``record_id`` of ``table`` (a key of :data:`RECORD_TYPES`) as entered in
    error, with a reason; its open queries are closed with that reason. Returns the record and
    the queries closed."""
    if table not in RECORD_TYPES:
        raise NotFound(f"table={table!r}: records of this table cannot be entered in error; allowed: {', '.join(RECORD_TYPES)}")
    model, permission = RECORD_TYPES[table]
    ctx.require(permission)
    text = check_reason(reason)
    obj = ctx.one(model, f"{table} record", id=record_id)
    _check_open(ctx, table)
    if getattr(obj, "status", None) == ENTERED_IN_ERROR:
        raise Conflict(f"{table} record {record_id} is already entered in error")
    _refuse_if_in_use(ctx, obj)
    audit.update(ctx.session, ctx.actor, obj, {"status": ENTERED_IN_ERROR}, reason=text, action=ENTERED_IN_ERROR)
    return obj, close_queries(ctx, obj, None, text)

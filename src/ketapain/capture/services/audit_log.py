"""Reading the audit trail (blinded fields filtered for blinded viewers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, select

from ketapain.capture.models import AuditLog
from ketapain.capture.roles import BLINDED_FIELDS
from ketapain.capture.schemas import DB_INT_MAX
from ketapain.capture.services._context import Context

__all__ = ["read_audit", "visible_to_blinded"]


def read_audit(ctx: Context, *, table: str | None = None, record_id: str | None = None, limit: int = 200,
               offset: int = 0) -> list[dict[str, Any]]:
    """Audit rows, newest first; rows about blinded fields are left out for blinded roles.

    Blinded roles get no ``hash`` either: the left-out rows are chained between the visible
    ones and hold one of a handful of values (arms, sequences), so the neighbours' hashes
    would let anyone rebuild them by hashing every guess."""
    ctx.require("audit.read")
    blinded = ctx.blinded
    q = select(AuditLog).order_by(AuditLog.seq.desc())
    if table is not None:
        q = q.where(AuditLog.table_name == table)
    if record_id is not None:
        q = q.where(AuditLog.record_id == str(record_id))
    if blinded:
        q = q.where(*visible_to_blinded())
    offset, limit = min(max(offset, 0), DB_INT_MAX), min(max(limit, 1), DB_INT_MAX)  # bind-safe on every database
    rows = ctx.session.execute(q.offset(offset).limit(limit)).scalars()  # one page, filtered by the database
    return [{"seq": r.seq, "at": r.at, "username": r.username, "action": r.action, "table_name": r.table_name,
             "record_id": r.record_id, "field": r.field, "old_value": r.old_value, "new_value": r.new_value,
             "reason": r.reason, **({} if blinded else {"hash": r.hash})} for r in rows]


def visible_to_blinded() -> list[ColumnElement[bool]]:
    """:func:`ketapain.capture.roles.visible_audit_row` for a blinded viewer, as SQL conditions
    (so that paging and filtering happen in the database, not over the whole trail in Python)."""
    conds: list[ColumnElement[bool]] = [AuditLog.table_name != "spare_kits"]
    for table_name, fields in BLINDED_FIELDS.items():
        conds.append(not_(and_(AuditLog.table_name == table_name,
                               or_(AuditLog.field.is_(None), AuditLog.field.in_(sorted(fields))))))
    return conds

"""Reading the audit trail (blinded fields filtered for blinded viewers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ketapain.capture.models import AuditLog
from ketapain.capture.roles import visible_audit_row
from ketapain.capture.services._context import Context

__all__ = ["read_audit"]


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
    out: list[dict[str, Any]] = []
    for r in ctx.session.execute(q).scalars():
        if not visible_audit_row(r.table_name, r.field, blinded=blinded):
            continue
        if offset:
            offset -= 1
            continue
        out.append({"seq": r.seq, "at": r.at, "username": r.username, "action": r.action, "table_name": r.table_name,
                    "record_id": r.record_id, "field": r.field, "old_value": r.old_value, "new_value": r.new_value,
                    "reason": r.reason, **({} if blinded else {"hash": r.hash})})
        if len(out) >= limit:
            break
    return out

"""``/api/v1/audit``: the audit log (blinded viewers never get rows on allocation fields)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, QueryStr
from ketapain.capture.services import audit_log

router = APIRouter(tags=["audit"])


@router.get("/audit")
def read_audit(ctx: CtxDep, table: QueryStr = None, record_id: QueryStr = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    return audit_log.read_audit(ctx, table=table, record_id=record_id, limit=min(max(limit, 1), 5000), offset=max(offset, 0))

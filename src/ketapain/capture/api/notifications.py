"""``/api/v1/notifications``: the admins' notifications (emergency unblindings), never naming an arm."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.services import unblinding

router = APIRouter(tags=["notifications"])


@router.get("/notifications")
def notifications(ctx: CtxDep) -> list[dict[str, Any]]:
    return [{"id": n.id, "kind": n.kind, "message": n.message, "created_at": n.created_at, "status": n.status}
            for n in unblinding.list_notifications(ctx)]

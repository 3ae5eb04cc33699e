"""``/api/v1/lock`` and ``/api/v1/unlock``: database lock status, lock, audited unlock (password + reason)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.schemas import LockRequest, UnlockRequest
from ketapain.capture.services import lock

router = APIRouter(tags=["lock"])


@router.get("/lock")
def lock_status(ctx: CtxDep) -> dict[str, Any]:
    return lock.lock_status(ctx)


@router.post("/lock")
def lock_db(body: LockRequest, ctx: CtxDep) -> dict[str, Any]:
    lock.lock_database(ctx, reason=body.reason)
    ctx.session.commit()
    return lock.lock_status(ctx)


@router.post("/unlock")
def unlock_db(body: UnlockRequest, ctx: CtxDep) -> dict[str, Any]:
    lock.unlock_database(ctx, password=body.password, reason=body.reason)
    ctx.session.commit()
    return lock.lock_status(ctx)

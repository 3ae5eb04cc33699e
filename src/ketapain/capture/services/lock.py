"""Database lock and the documented unlock procedure (admin, password, reason; audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Study
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict

__all__ = ["lock_database", "lock_status", "unlock_database"]


def _study(ctx: Context) -> Study:
    study = ctx.session.execute(select(Study).limit(1)).scalars().first()
    if study is None:
        raise Conflict("the study is not set up")
    return study


def lock_status(ctx: Context) -> dict[str, Any]:
    s = _study(ctx)
    return {"locked": s.locked, "locked_at": s.locked_at, "locked_by": s.locked_by}


def lock_database(ctx: Context, *, reason: str) -> Study:
    """Lock: every later write to trial data is refused (409) until unlocked."""
    ctx.require("lock")
    s = _study(ctx)
    if s.locked:
        raise Conflict("the database is already locked")
    audit.update(ctx.session, ctx.actor, s, {"locked": True, "locked_at": audit.utc_now(), "locked_by": ctx.actor.username},
                 reason=reason, action="lock")
    return s


def unlock_database(ctx: Context, *, password: str, reason: str) -> Study:
    """Unlock (admin re-enters the password and gives a reason; recorded as action ``unlock``)."""
    ctx.require("lock")
    ctx.check_password(password)
    s = _study(ctx)
    if not s.locked:
        raise Conflict("the database is not locked")
    audit.update(ctx.session, ctx.actor, s, {"locked": False, "locked_at": None, "locked_by": None}, reason=reason, action="unlock")
    return s

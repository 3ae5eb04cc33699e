"""Database lock and the documented unlock procedure (admin, password, reason; audited).

Under the protocol's two-person rule (``[blinding] two_person_rule``, the default) an admin
cannot lock or unlock alone: :func:`lock_database` and :func:`unlock_database` refuse (403)
and the change goes through :mod:`ketapain.capture.services.approvals` (a request by one admin,
applied by :func:`apply_change` when another admin or the statistician approves it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Study
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict, PermissionDenied

__all__ = ["apply_change", "check_applicable", "lock_database", "lock_status", "two_person_rule", "unlock_database"]


def _study(ctx: Context) -> Study:
    study = ctx.session.execute(select(Study).limit(1)).scalars().first()
    if study is None:
        raise Conflict("the study is not set up")
    return study


def lock_status(ctx: Context) -> dict[str, Any]:
    s = _study(ctx)
    return {"locked": s.locked, "locked_at": s.locked_at, "locked_by": s.locked_by}


def two_person_rule(ctx: Context) -> bool:
    """Whether lock and unlock need a second person (the protocol's ``[blinding]`` key)."""
    return ctx.protocol.blinding.two_person_rule


def _single_person(ctx: Context, action: str) -> None:
    if two_person_rule(ctx):
        raise PermissionDenied(f"{action}: the protocol's two-person rule ([blinding] two_person_rule) is on; request the "
                               f"{action} (change requests) and another admin or the statistician approves it")


def check_applicable(ctx: Context, action: str) -> Study:
    """The study row, if ``action`` (``lock``/``unlock``) can be applied now (else Conflict)."""
    s = _study(ctx)
    if action == "lock" and s.locked:
        raise Conflict("the database is already locked")
    if action == "unlock" and not s.locked:
        raise Conflict("the database is not locked")
    return s


def apply_change(ctx: Context, action: str, *, reason: str) -> Study:
    """Lock or unlock (audit action ``lock``/``unlock`` by ``ctx.actor``). The callers check
    who may: :func:`lock_database`/:func:`unlock_database`, or an approved change request."""
    s = check_applicable(ctx, action)
    if action == "lock":
        changes = {"locked": True, "locked_at": audit.utc_now(), "locked_by": ctx.actor.username}
    else:
        changes = {"locked": False, "locked_at": None, "locked_by": None}
    audit.update(ctx.session, ctx.actor, s, changes, reason=reason, action=action)
    return s


def lock_database(ctx: Context, *, reason: str) -> Study:
    """Lock: every later write to trial data is refused (409) until unlocked. One admin alone
    only when the two-person rule is off (else PermissionDenied)."""
    ctx.require("lock")
    _single_person(ctx, "lock")
    return apply_change(ctx, "lock", reason=reason)


def unlock_database(ctx: Context, *, password: str, reason: str) -> Study:
    """Unlock (admin re-enters the password and gives a reason; recorded as action ``unlock``).
    One admin alone only when the two-person rule is off (else PermissionDenied)."""
    ctx.require("lock")
    _single_person(ctx, "unlock")
    ctx.check_password(password)
    return apply_change(ctx, "unlock", reason=reason)

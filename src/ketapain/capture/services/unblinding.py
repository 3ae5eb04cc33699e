"""Emergency unblinding: one patient-period, to the requesting user only; admins notified."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Allocation, Notification, Unblinding, User
from ketapain.capture.services._context import Context
from ketapain.errors import NotFound

__all__ = ["emergency_unblind", "get_unblinding", "list_notifications"]


def _reveal(ctx: Context, u: Unblinding) -> dict[str, Any]:
    row = (
        ctx.session.execute(select(Allocation).where(Allocation.patient_id == u.patient_id, Allocation.period == u.period)).scalars().one()
    )
    return {
        "id": u.id,
        "patient_id": u.patient_id,
        "period": u.period,
        "kit_code": row.kit_code,
        "treatment": row.treatment,
        "reason": u.reason,
        "at": u.at,
    }


def emergency_unblind(ctx: Context, patient_id: str, period: int, *, reason: str, password: str) -> dict[str, Any]:
    """Reveal the treatment of one patient-period (never the sequence) after password
    re-entry; the unblinding and the admins' notifications are recorded first (the audit rows
    hold no treatment)."""
    ctx.require("unblind.emergency")
    ctx.check_password(password)
    ctx.patient(patient_id)
    if ctx.session.execute(select(Allocation.id).where(Allocation.patient_id == patient_id, Allocation.period == period)).first() is None:
        raise NotFound(f"no allocation for patient {patient_id} period {period}")
    u = audit.create(
        ctx.session,
        ctx.actor,
        Unblinding(user_id=ctx.actor.user_id, patient_id=patient_id, period=period, reason=reason, at=audit.utc_now(), status="active"),
        reason=reason,
    )
    for admin in ctx.session.execute(select(User).where(User.role == "admin", User.status == "active")).scalars():
        audit.create(
            ctx.session,
            ctx.actor,
            Notification(
                user_id=admin.id,
                kind="emergency_unblinding",
                created_at=u.at,
                status="unread",
                message=f"{ctx.actor.username} unblinded patient {patient_id} period {period}: {reason}",
            ),
        )
    return _reveal(ctx, u)


def get_unblinding(ctx: Context, unblinding_id: int) -> dict[str, Any]:
    """Only the user who unblinded sees the treatment again; anyone else gets 404."""
    u = ctx.session.get(Unblinding, unblinding_id)
    if u is None or u.user_id != ctx.actor.user_id:
        raise NotFound(f"unblinding {unblinding_id} not found")
    return _reveal(ctx, u)


def list_notifications(ctx: Context) -> list[Notification]:
    return list(
        ctx.session.execute(select(Notification).where(Notification.user_id == ctx.actor.user_id).order_by(Notification.id)).scalars()
    )

"""The two-person rule: a lock or unlock requested by one admin, applied when a second
person approves it.

* :func:`request_change` (admin; password re-entered, reason): a ``pending`` change request.
  One pending request per action; the change must be applicable now (lock an open
  database, unlock a locked one).
* :func:`approve_change` (another admin or the statistician; password re-entered): the
  request becomes ``approved`` and the change is applied in the same transaction, the study's
  audit rows written by the approver with a reason naming the request, its requester and
  the approver. The requester can never approve their own request (403).
* :func:`reject_change` (an approver, or the requester withdrawing it; reason): ``rejected``
  or ``withdrawn``; nothing applied.

Every step is audited: the request's ``create`` rows by the requester, its ``approve``,
``reject`` or ``withdraw`` rows (status, decided_by, decided_at, decision_reason) by the
second person. The rule is on unless the protocol says ``[blinding] two_person_rule = false``;
emergency unblinding of one patient-period (:mod:`.unblinding`) is not under it.
"""

from __future__ import annotations

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import ChangeRequest
from ketapain.capture.schemas import ChangeApproval, ChangeRejection, ChangeRequestCreate
from ketapain.capture.services import lock
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict, PermissionDenied

__all__ = ["approve_change", "list_changes", "reject_change", "request_change"]


def _pending(ctx: Context, request_id: int) -> ChangeRequest:
    req = ctx.one(ChangeRequest, "change request", id=request_id)
    if req.status != "pending":
        raise Conflict(f"change request {request_id} is {req.status}, not pending")
    return req


def request_change(ctx: Context, data: ChangeRequestCreate) -> ChangeRequest:
    """Ask for a lock or unlock; nothing changes until a second person approves."""
    ctx.require("changes.request")
    if not lock.two_person_rule(ctx):
        raise Conflict("the protocol's two-person rule is off ([blinding] two_person_rule = false): lock or unlock directly")
    ctx.check_password(data.password)
    lock.check_applicable(ctx, data.action)
    taken = ctx.session.execute(select(ChangeRequest.id).where(ChangeRequest.action == data.action,
                                                               ChangeRequest.status == "pending")).scalar()
    if taken is not None:
        raise Conflict(f"a {data.action} is already requested (change request {taken}); approve, reject or withdraw it first")
    return audit.create(ctx.session, ctx.actor, ChangeRequest(
        action=data.action, reason=data.reason, requested_by=ctx.actor.username, requested_at=audit.utc_now(),
        status="pending", decided_by=None, decided_at=None, decision_reason=None), reason=data.reason)


def approve_change(ctx: Context, request_id: int, data: ChangeApproval) -> ChangeRequest:
    """Approve a pending request of someone else and apply it (password re-entered)."""
    ctx.require("changes.approve")
    req = _pending(ctx, request_id)
    if req.requested_by == ctx.actor.username:
        raise PermissionDenied(f"change request {request_id}: you requested it, so you cannot approve it; "
                               "a second person (another admin or the statistician) must")
    ctx.check_password(data.password)
    why = data.reason or req.reason
    audit.update(ctx.session, ctx.actor, req, {"status": "approved", "decided_by": ctx.actor.username,
                                               "decided_at": audit.utc_now(), "decision_reason": data.reason},
                 reason=why, action="approve")
    lock.apply_change(ctx, req.action, reason=f"{req.reason} (change request {req.id}: requested by {req.requested_by}, "
                                              f"approved by {ctx.actor.username})")
    return req


def reject_change(ctx: Context, request_id: int, data: ChangeRejection) -> ChangeRequest:
    """Reject a pending request (an approver) or withdraw one's own (the requester)."""
    req = _pending(ctx, request_id)
    own = req.requested_by == ctx.actor.username
    if not own:
        ctx.require("changes.approve")
    status = "withdrawn" if own else "rejected"
    audit.update(ctx.session, ctx.actor, req, {"status": status, "decided_by": ctx.actor.username,
                                               "decided_at": audit.utc_now(), "decision_reason": data.reason},
                 reason=data.reason, action="withdraw" if own else "reject")
    return req


def list_changes(ctx: Context, *, status: str | None = None) -> list[ChangeRequest]:
    """Change requests, newest first (admins and the statistician)."""
    ctx.require("changes.approve")
    q = select(ChangeRequest).order_by(ChangeRequest.id.desc())
    if status is not None:
        q = q.where(ChangeRequest.status == status)
    return list(ctx.session.execute(q).scalars())

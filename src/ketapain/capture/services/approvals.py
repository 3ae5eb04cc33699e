"""The two-person rule: a lock, an unlock or a role that sees the allocation, requested by
one admin and applied when a second person approves it.

Role grants (``grant_role``, with ``target_user`` and ``role``): a role is "unblinded" when
:func:`ketapain.capture.roles.is_blinded` says so now (the pharmacist always; the admin and the
statistician after lock). Under the rule, :func:`ketapain.capture.services.users.create_user`
of an account with such a role creates it disabled with a pending grant (by
:func:`open_grant`), and ``update_user`` refuses to give such a role or to re-enable such an
account alone; approving the grant sets the role and enables the account. Nobody requests or
approves a grant to themself.

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

from ketapain.capture import audit, roles
from ketapain.capture.models import ChangeRequest, User
from ketapain.capture.schemas import ChangeApproval, ChangeRejection, ChangeRequestCreate
from ketapain.capture.services import lock
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict, PermissionDenied

__all__ = ["approve_change", "list_changes", "open_grant", "reject_change", "request_change", "unblinded_role"]


def _pending(ctx: Context, request_id: int) -> ChangeRequest:
    req = ctx.one(ChangeRequest, "change request", id=request_id)
    if req.status != "pending":
        raise Conflict(f"change request {request_id} is {req.status}, not pending")
    return req


def unblinded_role(ctx: Context, role: str) -> bool:
    """Whether ``role`` sees the allocation now (so giving it falls under the rule)."""
    return not roles.is_blinded(role, locked=ctx.locked)


def _check_request(ctx: Context, data: ChangeRequestCreate) -> None:
    if data.action != "grant_role":
        lock.check_applicable(ctx, data.action)
        return
    target = ctx.one(User, "user", username=data.target_user)
    if target.username == ctx.actor.username:
        raise PermissionDenied("target_user: you cannot request a role for yourself; another admin must")
    if not unblinded_role(ctx, str(data.role)):
        raise Conflict(f"role: {data.role} does not see the allocation now; change it on the user directly")


def open_grant(ctx: Context, target: User, role: str, *, reason: str) -> ChangeRequest:
    """A pending ``grant_role`` request (no password: the caller has just authenticated the
    admin's action, e.g. creating the account)."""
    taken = ctx.session.execute(select(ChangeRequest.id).where(
        ChangeRequest.action == "grant_role", ChangeRequest.target_user == target.username, ChangeRequest.status == "pending")).scalar()
    if taken is not None:
        raise Conflict(f"a role for {target.username} is already requested (change request {taken}); approve, reject or withdraw it first")
    return audit.create(ctx.session, ctx.actor, ChangeRequest(
        action="grant_role", reason=reason, target_user=target.username, role=role, requested_by=ctx.actor.username,
        requested_at=audit.utc_now(), status="pending", decided_by=None, decided_at=None, decision_reason=None), reason=reason)


def request_change(ctx: Context, data: ChangeRequestCreate) -> ChangeRequest:
    """Ask for a lock, an unlock or a role grant; nothing changes until a second person approves."""
    ctx.require("changes.request")
    if not lock.two_person_rule(ctx):
        raise Conflict("the protocol's two-person rule is off ([blinding] two_person_rule = false): make the change directly")
    ctx.check_password(data.password)
    _check_request(ctx, data)
    if data.action == "grant_role":
        return open_grant(ctx, ctx.one(User, "user", username=data.target_user), str(data.role), reason=data.reason)
    taken = ctx.session.execute(select(ChangeRequest.id).where(ChangeRequest.action == data.action,
                                                               ChangeRequest.status == "pending")).scalar()
    if taken is not None:
        raise Conflict(f"a {data.action} is already requested (change request {taken}); approve, reject or withdraw it first")
    return audit.create(ctx.session, ctx.actor, ChangeRequest(
        action=data.action, reason=data.reason, target_user=None, role=None, requested_by=ctx.actor.username,
        requested_at=audit.utc_now(), status="pending", decided_by=None, decided_at=None, decision_reason=None), reason=data.reason)


def _apply(ctx: Context, req: ChangeRequest) -> None:
    why = f"{req.reason} (change request {req.id}: requested by {req.requested_by}, approved by {ctx.actor.username})"
    if req.action != "grant_role":
        lock.apply_change(ctx, req.action, reason=why)
        return
    target = ctx.one(User, "user", username=req.target_user)
    audit.update(ctx.session, ctx.actor, target, {"role": req.role, "status": "active"}, reason=why, action="grant_role")


def approve_change(ctx: Context, request_id: int, data: ChangeApproval) -> ChangeRequest:
    """Approve a pending request of someone else and apply it (password re-entered)."""
    ctx.require("changes.approve")
    req = _pending(ctx, request_id)
    if req.requested_by == ctx.actor.username:
        raise PermissionDenied(f"change request {request_id}: you requested it, so you cannot approve it; "
                               "a second person (another admin or the statistician) must")
    if req.target_user == ctx.actor.username:
        raise PermissionDenied(f"change request {request_id}: it gives you a role, so you cannot approve it; another person must")
    ctx.check_password(data.password)
    why = data.reason or req.reason
    audit.update(ctx.session, ctx.actor, req, {"status": "approved", "decided_by": ctx.actor.username,
                                               "decided_at": audit.utc_now(), "decision_reason": data.reason},
                 reason=why, action="approve")
    _apply(ctx, req)
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

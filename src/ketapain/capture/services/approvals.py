"""The two-person rule: a lock, an unlock, a role that sees the allocation or the password
reset of an account that sees it (or of an admin), requested by one admin and applied when a
second person approves it.

Role grants (``grant_role``, with ``target_user`` and ``role``): a role is "unblinded" when
:func:`ketapain.capture.roles.is_blinded` says so now (the pharmacist always; the admin and the
statistician after lock). Under the rule, :func:`ketapain.capture.services.users.create_user`
of an account with such a role creates it disabled with a pending grant (by
:func:`open_grant`), and ``update_user`` refuses to give such a role or to re-enable such an
account alone; approving the grant sets the role and enables the account. Nobody requests or
approves a grant to themself.

Password resets (``reset_password``, with ``target_user``): under the rule an admin cannot
set the password of another admin, nor of an account whose role sees the allocation now
(:func:`ketapain.capture.services.users.update_user` refuses): with the new password the admin
could log in as that user alone. The reset is requested instead; approving it replaces the
account's password by a random one-time **reset code** (:data:`RESET_CODE_HOURS` valid),
returned once to the approver only (stored as a hash, never in the trail, never shown to the
requester), sets the account's status to ``reset`` (no login) and ends its sessions. The
approver hands the code to the user, who sets their own password with it
(:func:`ketapain.capture.services.users.redeem_reset`); nobody else learns the new password.
A disabled account is not reset (the code would enable it without, say, its pending role
grant's approval). Neither the requester nor the user concerned can approve; one's own password is changed with
the current one (:func:`ketapain.capture.services.users.change_own_password`), not by a reset.

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

from dataclasses import dataclass

from sqlalchemy import select

from ketapain.capture import audit, roles
from ketapain.capture.models import ChangeRequest, User, UserSession
from ketapain.capture.schemas import ChangeApproval, ChangeRejection, ChangeRequestCreate
from ketapain.capture.security import hash_password, new_token
from ketapain.capture.services import lock
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict, PermissionDenied

__all__ = ["RESET_CODE_HOURS", "Approval", "approve_change", "list_changes", "open_grant", "reject_change", "request_change",
           "reset_needs_approval", "unblinded_role"]

RESET_CODE_HOURS = 72
"""Hours a password-reset code stays valid after the approval."""


@dataclass(frozen=True, slots=True)
class Approval:
    """An approved change request; ``reset_code``: the one-time code of an approved password
    reset (shown once to the approver; ``None`` for the other actions)."""

    request: ChangeRequest
    reset_code: str | None = None


def _pending(ctx: Context, request_id: int) -> ChangeRequest:
    req = ctx.one(ChangeRequest, "change request", id=request_id)
    if req.status != "pending":
        raise Conflict(f"change request {request_id} is {req.status}, not pending")
    return req


def unblinded_role(ctx: Context, role: str) -> bool:
    """Whether ``role`` sees the allocation now (so giving it falls under the rule)."""
    return not roles.is_blinded(role, locked=ctx.locked)


def reset_needs_approval(ctx: Context, target: User) -> bool:
    """Whether setting ``target``'s password (by someone else) needs a second person: the
    rule is on and ``target`` is an admin or has a role that sees the allocation now."""
    return lock.two_person_rule(ctx) and (target.role == "admin" or unblinded_role(ctx, target.role))


def _resettable(target: User) -> None:
    """A disabled account is not reset: the code would enable it (a pending role grant, say)
    without the grant's own approval."""
    if target.status == "disabled":
        raise Conflict(f"target_user: {target.username} is disabled; its password is not reset (enable the account first)")


def _check_request(ctx: Context, data: ChangeRequestCreate) -> None:
    if data.action in ("lock", "unlock"):
        lock.check_applicable(ctx, data.action)
        return
    target = ctx.one(User, "user", username=data.target_user)
    if data.action == "reset_password":
        if target.username == ctx.actor.username:
            raise PermissionDenied("target_user: change your own password with your current password, not by a reset")
        if not reset_needs_approval(ctx, target):
            raise Conflict(f"target_user: {target.username} ({target.role}) is neither an admin nor sees the allocation; "
                           "reset the password on the user directly")
        _resettable(target)
        return
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
    """Ask for a lock, an unlock, a role grant or a password reset; nothing changes until a
    second person approves."""
    ctx.require("changes.request")
    if not lock.two_person_rule(ctx):
        raise Conflict("the protocol's two-person rule is off ([blinding] two_person_rule = false): make the change directly")
    ctx.check_password(data.password)
    _check_request(ctx, data)
    if data.action == "grant_role":
        return open_grant(ctx, ctx.one(User, "user", username=data.target_user), str(data.role), reason=data.reason)
    same = select(ChangeRequest.id).where(ChangeRequest.action == data.action, ChangeRequest.status == "pending")
    if data.target_user is not None:  # one pending reset per user
        same = same.where(ChangeRequest.target_user == data.target_user)
    taken = ctx.session.execute(same).scalar()
    if taken is not None:
        raise Conflict(f"a {data.action} is already requested (change request {taken}); approve, reject or withdraw it first")
    return audit.create(ctx.session, ctx.actor, ChangeRequest(
        action=data.action, reason=data.reason, target_user=data.target_user, role=None, requested_by=ctx.actor.username,
        requested_at=audit.utc_now(), status="pending", decided_by=None, decided_at=None, decision_reason=None), reason=data.reason)


def _apply(ctx: Context, req: ChangeRequest) -> str | None:
    """Apply an approved request; the reset code of a password reset, else None."""
    why = f"{req.reason} (change request {req.id}: requested by {req.requested_by}, approved by {ctx.actor.username})"
    if req.action in ("lock", "unlock"):
        lock.apply_change(ctx, req.action, reason=why)
        return None
    target = ctx.one(User, "user", username=req.target_user)
    if req.action == "grant_role":
        audit.update(ctx.session, ctx.actor, target, {"role": req.role, "status": "active"}, reason=why, action="grant_role")
        for s in ctx.session.execute(select(UserSession).where(UserSession.user_id == target.id)).scalars():
            s.revoked = True  # the new role starts with a new login (session rotation)
        return None
    _resettable(target)   # it may have been disabled since the request
    code = new_token()
    # the trail keeps a digest of the hash only (audit.SECRET_FIELDS); the code itself is nowhere
    audit.update(ctx.session, ctx.actor, target, {"password_hash": hash_password(code), "status": "reset"}, reason=why,
                 action="reset_password")
    for s in ctx.session.execute(select(UserSession).where(UserSession.user_id == target.id)).scalars():
        s.revoked = True
    return code


def approve_change(ctx: Context, request_id: int, data: ChangeApproval) -> Approval:
    """Approve a pending request of someone else and apply it (password re-entered). A password
    reset's one-time code is in the result (``reset_code``), for the approver only."""
    ctx.require("changes.approve")
    req = _pending(ctx, request_id)
    if req.requested_by == ctx.actor.username:
        raise PermissionDenied(f"change request {request_id}: you requested it, so you cannot approve it; "
                               "a second person (another admin or the statistician) must")
    if req.target_user == ctx.actor.username:
        what = "gives you a role" if req.action == "grant_role" else "resets your own password"
        raise PermissionDenied(f"change request {request_id}: it {what}, so you cannot approve it; another person must")
    ctx.check_password(data.password)
    why = data.reason or req.reason
    audit.update(ctx.session, ctx.actor, req, {"status": "approved", "decided_by": ctx.actor.username,
                                               "decided_at": audit.utc_now(), "decision_reason": data.reason},
                 reason=why, action="approve")
    return Approval(req, _apply(ctx, req))


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

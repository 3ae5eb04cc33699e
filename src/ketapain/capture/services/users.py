"""Users, logins and sessions; passwords: one's own changed with the current one
(:func:`change_own_password`), someone else's set by an admin (:func:`update_user`) or, under
the two-person rule for an admin or an account that sees the allocation, reset through an
approved change request and then set by the user with the one-time code (:func:`redeem_reset`;
see :mod:`ketapain.capture.services.approvals`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketapain.capture import audit
from ketapain.capture.audit import SYSTEM, Actor
from ketapain.capture.config import Settings
from ketapain.capture.models import ChangeRequest, User, UserSession
from ketapain.capture.schemas import PasswordChange, PasswordResetRedeem, UserCreate, UserUpdate
from ketapain.capture.security import (
    LoginLimiter,
    dummy_hash,
    hash_password,
    login_keys,
    new_token,
    token_digest,
    verify_password,
)
from ketapain.capture.services import approvals, lock
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import check_reason
from ketapain.errors import AuthenticationFailed, Conflict, PermissionDenied

__all__ = ["bootstrap_admin", "change_own_password", "change_user", "create_user", "list_users", "login", "logout", "redeem_reset",
           "session_user", "update_user"]


def _two_person_grant(ctx: Context, role: str) -> bool:
    return lock.two_person_rule(ctx) and approvals.unblinded_role(ctx, role)


def create_user(ctx: Context, data: UserCreate) -> User:
    """A new account. Under the two-person rule an account whose role sees the allocation now
    (the pharmacist; the admin and the statistician after lock) is created **disabled** with a
    pending ``grant_role`` change request: it is enabled when a second person approves."""
    ctx.require("users.manage")
    if ctx.session.execute(select(User.id).where(User.username == data.username)).first():
        raise Conflict(f"username {data.username!r} is already taken")
    pending = _two_person_grant(ctx, data.role)
    user = audit.create(ctx.session, ctx.actor, User(username=data.username, full_name=data.full_name, role=data.role,
                                                     password_hash=hash_password(data.password),
                                                     status="disabled" if pending else "active"))
    if pending:
        approvals.open_grant(ctx, user, data.role, reason=f"new account {data.username} with role {data.role}")
    return user


def list_users(ctx: Context) -> list[User]:
    ctx.require("users.manage")
    return list(ctx.session.execute(select(User).order_by(User.id)).scalars())


def update_user(ctx: Context, username: str, data: UserUpdate) -> User:
    ctx.require("users.manage")
    user = ctx.one(User, "user", username=username)
    changes = data.model_dump(exclude_unset=True, exclude={"reason", "password"})
    old_role = user.role
    if user.username == ctx.actor.username and changes.get("role", user.role) != user.role:
        # separation of duties: a role (blinded or not) is always given by someone else
        raise PermissionDenied("role: you cannot change your own role; another admin must")
    role, status = changes.get("role", user.role), changes.get("status", user.status)
    if _two_person_grant(ctx, role) and status == "active" and (role != user.role or user.status != "active"):
        raise PermissionDenied(f"role: {role} sees the allocation; under the two-person rule request it (change request "
                               "grant_role) and another admin or the statistician approves it")
    if user.status == "reset" and changes.get("status", "reset") == "active":
        raise Conflict(f"status: {username}'s password was reset; the user sets a new one with the reset code "
                       "(or reset it again), or disable the account")
    if data.password is not None:
        if user.username == ctx.actor.username:
            raise PermissionDenied("password: change your own password with your current password (POST /api/v1/auth/password)")
        if approvals.reset_needs_approval(ctx, user):
            raise PermissionDenied(f"password: {username} is an admin or sees the allocation; under the two-person rule request "
                                   "the reset (change request reset_password) and another admin or the statistician approves it")
        changes["password_hash"] = hash_password(data.password)
    audit.update(ctx.session, ctx.actor, user, changes, reason=data.reason)
    if data.status == "disabled" or data.password is not None or changes.get("role", user.role) != old_role:
        _end_sessions(ctx.session, user)  # a new role starts with a new login (session rotation)
    return user


def _end_sessions(session: Session, user: User) -> None:
    for s in session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalars():
        s.revoked = True


def change_own_password(ctx: Context, data: PasswordChange) -> User:
    """The logged-in user's own new password, with the current one re-entered (any role; not
    under the two-person rule: nobody else learns it). Audited as ``password_change``; the
    user's other sessions stay open."""
    user = ctx.check_password(data.current_password)
    audit.update(ctx.session, ctx.actor, user, {"password_hash": hash_password(data.new_password)}, reason="own password changed",
                 action="password_change")
    return user


def redeem_reset(session: Session, settings: Settings, limiter: LoginLimiter, data: PasswordResetRedeem, *, client: str) -> User:
    """The user of a ``reset`` account sets their own password with the one-time code of the
    approved reset (valid :data:`~ketapain.capture.services.approvals.RESET_CODE_HOURS` hours;
    rate-limited like a login; a failure never says whether the user exists). The account is
    active again; audited as ``password_set`` by the user, naming the change request."""
    keys = login_keys(data.username, client)
    limiter.check(*keys)
    user = session.execute(select(User).where(User.username == data.username)).scalars().first()
    req = None if user is None else session.execute(select(ChangeRequest).where(
        ChangeRequest.action == "reset_password", ChangeRequest.target_user == user.username,
        ChangeRequest.status == "approved").order_by(ChangeRequest.id.desc())).scalars().first()
    oldest = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=approvals.RESET_CODE_HOURS)).isoformat(timespec="microseconds")
    pending = user is not None and req is not None and user.status == "reset" and (req.decided_at or "") >= oldest
    # one password hash is verified whatever the case, so the answer's time does not tell
    # whether the user exists or has a pending reset (as login: security.dummy_hash)
    matches = verify_password(user.password_hash if pending and user is not None else dummy_hash(), data.code)
    if not (pending and matches) or user is None or req is None:  # (the last two: for the type checker; pending implies them)
        limiter.failure(*keys)
        audit.event(session, SYSTEM, table="users", record_id=user.id if user else "-", action="reset_failed",
                    detail=f"user name {data.username[:64]!r} from {client}")
        raise AuthenticationFailed("user name or reset code is not correct (or the code has expired)")
    limiter.success(*keys[:2])
    audit.update(session, Actor(user.username, user.role, user.id), user,
                 {"password_hash": hash_password(data.new_password), "status": "active"},
                 reason=f"new password set with the reset code of change request {req.id} (from {client})", action="password_set")
    return user


def change_user(ctx: Context, username: str, data: UserUpdate) -> User:
    """A correction of a user (full name, role, status): :func:`update_user` with its rules
    (nobody changes their own role; a role that sees the allocation needs a second person
    under the two-person rule), a non-blank reason, and a :class:`Conflict` when nothing
    differs. Users are administration, not casebook data: no signature is voided and the
    lock does not apply."""
    ctx.require("users.manage")
    check_reason(data.reason)
    user = ctx.one(User, "user", username=username)
    changes = data.model_dump(exclude_unset=True, exclude={"reason", "password"})
    if data.password is None and all(audit.dump(getattr(user, k)) == audit.dump(v) for k, v in changes.items()):
        raise Conflict(f"nothing to correct: user {username} already holds the values sent")
    return update_user(ctx, username, data)


def bootstrap_admin(session: Session, settings: Settings) -> str | None:
    """Create the first admin when there is no user. Returns the one-time password when one
    had to be generated (no ``KETAPAIN_ADMIN_PASSWORD``), else None. Caller commits."""
    if session.execute(select(User.id).limit(1)).first():
        return None
    password = settings.admin_password or new_token()
    audit.create(session, SYSTEM, User(username=settings.admin_user or "admin", full_name="Administrator", role="admin",
                                      password_hash=hash_password(password), status="active"), reason="first start")
    return None if settings.admin_password else password


def login(session: Session, settings: Settings, limiter: LoginLimiter, *, username: str, password: str,
          client: str) -> tuple[User, str, str]:
    """Check the password (rate-limited per user name and client); open a session.

    Returns ``(user, session_token, csrf_token)``; only the token's HMAC is stored.
    The message of a failure never says whether the user exists.
    """
    keys = login_keys(username, client)
    limiter.check(*keys)
    user = session.execute(select(User).where(User.username == username)).scalars().first()
    # an unknown or inactive account costs one hash too: the time of the answer does not tell
    # which user names exist (security.dummy_hash)
    active = user if user is not None and user.status == "active" else None
    matches = verify_password(active.password_hash if active is not None else dummy_hash(), password)
    if active is None or not matches:
        limiter.failure(*keys)
        audit.event(session, SYSTEM, table="users", record_id=user.id if user else "-", action="login_failed",
                    detail=f"user name {username[:64]!r} from {client}")
        raise AuthenticationFailed("user name or password is not correct")
    user = active
    limiter.success(*keys[:2])  # not the address: others behind it keep their count
    token, csrf = new_token(), new_token()
    now = dt.datetime.now(dt.UTC)
    session.add(UserSession(token_hash=token_digest(settings.secret_key, token), csrf_token=csrf, user_id=user.id,
                            created_at=now.isoformat(), expires_at=(now + dt.timedelta(seconds=settings.session_max_age_s)).isoformat(),
                            revoked=False))
    audit.event(session, Actor(user.username, user.role, user.id), table="users", record_id=user.id, action="login",
                detail=f"from {client}")
    return user, token, csrf


def session_user(session: Session, settings: Settings, token: str) -> tuple[User, UserSession]:
    """The active user of a session cookie, or :class:`AuthenticationFailed`."""
    row = session.execute(select(UserSession).where(UserSession.token_hash == token_digest(settings.secret_key, token))).scalars().first()
    if row is None or row.revoked or row.expires_at < dt.datetime.now(dt.UTC).isoformat():
        raise AuthenticationFailed("not logged in (session missing, expired or ended)")
    user = session.get(User, row.user_id)
    if user is None or user.status != "active":
        raise AuthenticationFailed("not logged in (account disabled)")
    return user, row


def logout(session: Session, user: User, row: UserSession) -> None:
    row.revoked = True
    audit.event(session, Actor(user.username, user.role, user.id), table="users", record_id=user.id, action="logout")

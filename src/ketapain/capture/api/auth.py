"""``/api/v1/auth``: login, logout, me, one's own password, a password reset's code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ketapain.capture.api.deps import CtxDep, SessionDep, SettingsDep
from ketapain.capture.schemas import LoginRequest, PasswordChange, PasswordResetRedeem, UserPublic
from ketapain.capture.security import CSRF_COOKIE, SESSION_COOKIE
from ketapain.capture.services import users

router = APIRouter(prefix="/auth", tags=["auth"])


def _secure(request: Request, settings: Any) -> bool:
    return settings.secure_cookies if settings.secure_cookies is not None else request.url.scheme == "https"


@router.post("/login")
def login(body: LoginRequest, request: Request, response: Response, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    client = request.client.host if request.client else "-"
    try:
        user, token, csrf = users.login(session, settings, request.app.state.limiter, username=body.username,
                                        password=body.password, client=client)
    finally:
        session.commit()  # failed attempts are audited too
    secure = _secure(request, settings)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure, max_age=settings.session_max_age_s, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="lax", secure=secure, max_age=settings.session_max_age_s, path="/")
    return {"user": UserPublic.model_validate(user).model_dump(), "csrf_token": csrf}


@router.post("/logout")
def logout(ctx: CtxDep, request: Request, response: Response) -> dict[str, str]:
    from ketapain.capture.models import User

    user = ctx.session.get(User, ctx.actor.user_id)
    assert user is not None  # get_context (CtxDep) loaded this user from a valid session
    users.logout(ctx.session, user, request.state.user_session)
    ctx.session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"status": "logged out"}


@router.get("/me")
def me(ctx: CtxDep) -> dict[str, Any]:
    return {"username": ctx.actor.username, "role": ctx.actor.role, "blinded": ctx.blinded}


@router.post("/password")
def change_password(body: PasswordChange, ctx: CtxDep) -> dict[str, str]:
    """One's own new password (the current one re-entered)."""
    users.change_own_password(ctx, body)
    ctx.session.commit()
    return {"status": "password changed"}


@router.post("/reset-password")
def reset_password(body: PasswordResetRedeem, request: Request, session: SessionDep, settings: SettingsDep) -> dict[str, str]:
    """Set one's new password with the one-time code of an approved reset (no session needed)."""
    client = request.client.host if request.client else "-"
    try:
        users.redeem_reset(session, settings, request.app.state.limiter, body, client=client)
    finally:
        session.commit()  # failed attempts are audited too
    return {"status": "password set; log in with it"}

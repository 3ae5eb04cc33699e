"""Login, logout, the admin's user list, password-reset requests and the reset-code page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ketapain.capture.api.deps import SessionDep, SettingsDep
from ketapain.capture.schemas import ChangeRequestCreate, PasswordResetRedeem, UserCreate
from ketapain.capture.security import CSRF_COOKIE, SESSION_COOKIE, csrf_matches, new_token
from ketapain.capture.services import approvals, users
from ketapain.capture.web._common import PageDep, render, verify_form
from ketapain.errors import AuthenticationFailed, PermissionDenied, RateLimited

router = APIRouter()
LOGIN_CSRF_COOKIE = "ketapain_login_csrf"


def _secure(request: Request, settings) -> bool:
    return settings.secure_cookies if settings.secure_cookies is not None else request.url.scheme == "https"


@router.get("/login")
def login_page(request: Request, settings: SettingsDep) -> Response:
    """The login form; its CSRF token is also set as a cookie (double submit)."""
    token = new_token()
    resp = render(request, "login.html", csrf=token, user=None)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request, settings), path="/login")
    return resp


@router.post("/login")
async def login_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf_token")):  # type: ignore[arg-type]
        raise PermissionDenied("missing or wrong CSRF token (reload the login page)")
    client = request.client.host if request.client else "-"
    try:
        _user, token, csrf = users.login(session, settings, request.app.state.limiter, username=str(form.get("username", "")),
                                         password=str(form.get("password", "")), client=client)
    except AuthenticationFailed:
        session.commit()  # failed attempts are audited too
        return render(request, "login.html", status=401, csrf=form.get("csrf_token"), user=None, failed=True)
    except RateLimited:
        session.commit()
        raise
    session.commit()
    resp = RedirectResponse("/", status_code=303)
    secure = _secure(request, settings)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure, max_age=settings.session_max_age_s, path="/")
    resp.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="lax", secure=secure, max_age=settings.session_max_age_s, path="/")
    return resp


@router.post("/logout")
async def logout(page: PageDep) -> Response:
    await verify_form(page.request, page.csrf)
    users.logout(page.ctx.session, page.user, page.extra["session_row"])
    page.commit()
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


@router.get("/users")
def users_page(page: PageDep) -> Response:
    """The users; under the two-person rule, the reset request form for the accounts whose
    password only a reset approved by a second person may change."""
    everyone = users.list_users(page.ctx)
    targets = [u for u in everyone if u.username != page.ctx.actor.username and approvals.reset_needs_approval(page.ctx, u)]
    return page.render("users.html", users=everyone, reset_targets=targets)


@router.post("/users/reset")
async def reset_request(page: PageDep) -> Response:
    """Request the password reset of an admin or of an account that sees the allocation; it
    waits on the lock page for a second person's approval."""
    form = await verify_form(page.request, page.csrf)
    approvals.request_change(page.ctx, ChangeRequestCreate.model_validate({
        "action": "reset_password", "target_user": form.get("target_user", ""), "reason": form.get("reason", ""),
        "password": form.get("password", "")}))
    page.commit()
    return RedirectResponse("/lock?msg=requested", status_code=303)


RESET_CSRF_COOKIE = "ketapain_reset_csrf"


@router.get("/password-reset")
def password_reset_page(request: Request, settings: SettingsDep) -> Response:
    """The form where a user sets their new password with the one-time reset code."""
    token = new_token()
    resp = render(request, "password_reset.html", csrf=token, user=None)
    resp.set_cookie(RESET_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request, settings), path="/password-reset")
    return resp


@router.post("/password-reset")
async def password_reset_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    if not csrf_matches(request.cookies.get(RESET_CSRF_COOKIE), form.get("csrf_token")):  # type: ignore[arg-type]
        raise PermissionDenied("missing or wrong CSRF token (reload the page)")
    data = PasswordResetRedeem.model_validate({k: str(form.get(k, "")) for k in ("username", "code", "new_password")})
    client = request.client.host if request.client else "-"
    try:
        users.redeem_reset(session, settings, request.app.state.limiter, data, client=client)
    except AuthenticationFailed:
        session.commit()  # failed attempts are audited too
        return render(request, "password_reset.html", status=401, csrf=form.get("csrf_token"), user=None, failed=True)
    except RateLimited:
        session.commit()
        raise
    session.commit()
    return render(request, "password_reset.html", csrf="", user=None, done=True)


@router.post("/users")
async def users_create(page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("users.manage")
    user = users.create_user(page.ctx, UserCreate.model_validate({
        "username": form.get("username", ""), "full_name": form.get("full_name", ""), "role": form.get("role", ""),
        "password": form.get("password", "")}))
    page.commit()
    # an account whose role sees the allocation waits, disabled, for a second person's approval
    return RedirectResponse("/users?msg=saved" if user.status == "active" else "/users?msg=user_pending", status_code=303)

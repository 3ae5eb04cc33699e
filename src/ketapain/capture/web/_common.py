"""What every page shares: templates, the logged-in page context, CSRF on forms."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from ketapain.capture import roles
from ketapain.capture.api.deps import SessionDep, SettingsDep
from ketapain.capture.audit import Actor
from ketapain.capture.config import Settings
from ketapain.capture.models import User
from ketapain.capture.security import CSRF_FIELD, SESSION_COOKIE, csrf_matches
from ketapain.capture.services import Context
from ketapain.capture.services.randomisation_list import list_alert
from ketapain.capture.services.users import session_user
from ketapain.capture.web._format import formatters
from ketapain.capture.web.i18n import LANG_COOKIE, LANGS, negotiate, translator
from ketapain.errors import AuthenticationFailed, DataError, PermissionDenied

__all__ = ["CsrfFailed", "NotLoggedIn", "Page", "PageDep", "env", "lang_of", "render", "staff_page", "verify_form"]

_HERE = Path(__file__).parent
env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)
"""Jinja2 environment of the pages (autoescaped)."""

class NotLoggedIn(AuthenticationFailed):
    """No valid staff session: a page answers with a redirect to the login page."""


class CsrfFailed(PermissionDenied):
    """A form without the session's CSRF token (an old page, or sent from elsewhere): 403."""


def lang_of(request: Request) -> str:
    return negotiate(query=request.query_params.get("lang"), cookie=request.cookies.get(LANG_COOKIE),
                     accept=request.headers.get("accept-language"))


def render(request: Request, name: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """Render template ``name`` in the request's language (``?lang=`` is remembered)."""
    lang = lang_of(request)
    html = env.get_template(name).render(t=translator(lang), lang=lang, langs=LANGS, path=request.url.path,
                                         csrf_field=CSRF_FIELD, **formatters(lang), **values)
    resp = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400, path="/")
    return resp


@dataclass(slots=True)
class Page:
    """A logged-in staff request: the service context, the session's CSRF token, the user."""

    request: Request
    ctx: Context
    csrf: str
    user: User
    extra: dict[str, Any] = field(default_factory=dict)

    def can(self, action: str) -> bool:
        return roles.can(self.ctx.actor.role, action)

    def render(self, name: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        """The page with its banners: the lock, and the randomisation list's warning (no count)."""
        list_level, list_strata = list_alert(self.ctx)
        return render(self.request, name, status=status, user=self.user, role=self.ctx.actor.role, csrf=self.csrf,
                      can=self.can, blinded=self.ctx.blinded, locked=self.ctx.locked, msg=self.request.query_params.get("msg"),
                      list_level=list_level, list_strata=", ".join(s for s in list_strata if s), **values)

    def commit(self) -> None:
        self.ctx.session.commit()


def staff_page(request: Request, session: Session, settings: Settings) -> Page:
    """The staff page context from the session cookie (:class:`NotLoggedIn` without a valid one)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotLoggedIn("not logged in")
    try:
        user, row = session_user(session, settings, token)
    except AuthenticationFailed as exc:
        raise NotLoggedIn(str(exc)) from None
    ctx = Context(session, Actor(user.username, user.role, user.id), settings, request.app.state.protocol,
                  request.app.state.limiter)
    return Page(request, ctx, row.csrf_token, user, {"session_row": row})


def page_context(request: Request, session: SessionDep, settings: SettingsDep) -> Page:
    """The staff page context of a route (401 -> redirect to the login page)."""
    return staff_page(request, session, settings)


PageDep = Annotated[Page, Depends(page_context)]


async def verify_form(request: Request, expected: str | None) -> dict[str, str]:
    """The submitted form (text fields, stripped; empty fields left out) after checking its
    ``csrf_token`` field against ``expected`` (403 when missing or wrong)."""
    form = await request.form()
    if not csrf_matches(expected, form.get(CSRF_FIELD)):  # type: ignore[arg-type]
        raise CsrfFailed("missing or wrong CSRF token (reload the page and submit the form again)")
    for name, value in form.items():  # before any service sees it: PostgreSQL refuses NUL in text
        if isinstance(value, str) and "\x00" in value:
            raise DataError(f"{name}: contains a NUL character (code 0); allowed: printable text", column=name,
                            allowed="text without NUL characters")
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD and v.strip() != ""}


def opt_float(form: Mapping[str, Any], name: str) -> float | None:
    """The form's field ``name`` as a number, None when blank; a :class:`DataError` naming the
    field (``column``: the page shows the message beside it) when it is not a number."""
    value = form.get(name)
    if value in (None, ""):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise DataError(f"{name}={str(value)!r} is not a number", column=name, value=value, allowed="a number, or blank")
    return number


def form_int(form: Mapping[str, Any], name: str) -> int:
    """The form's field ``name`` as a whole number; a :class:`DataError` naming the field
    (``column``) when it is blank or not a whole number."""
    value = str(form.get(name) or "").strip()
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{name}={value!r} is not a whole number", column=name, value=value, allowed="a whole number") from None


def opt_date(form: Mapping[str, Any], name: str) -> dt.date | None:
    """The form's field ``name`` as a date (YYYY-MM-DD), None when blank; a :class:`DataError`
    naming the field when it is not a date."""
    value = form.get(name)
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DataError(f"{name}={str(value)!r} is not a date YYYY-MM-DD", column=name, value=value,
                        allowed="a date YYYY-MM-DD, or blank") from None


def yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")

"""Error pages: the status code the API would give, inside the page layout.

A logged-in user keeps the navigation and the logout button on an error page (the session is
read again in a fresh database session: the failed request's one is rolled back). The page
says what happened in the page's language (``err.<code>``); a form's invalid fields are
named by their label where the locale has one and explained by the kind of problem
(``err.type.*``: required, not a number, out of range, ...). The service's own message is
English technical text: on a page in another language it is shown folded under "technical
detail (in English)", never as the page's text.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError, StarletteHTTPException  # the class the router raises (404, 405)
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from ketapain.capture.db import read_only
from ketapain.capture.security import SESSION_COOKIE
from ketapain.capture.web._common import CsrfFailed, NotLoggedIn, lang_of, render, staff_page
from ketapain.capture.web.i18n import load_locale
from ketapain.errors import AuthenticationFailed, Conflict, KetapainError, NotFound, PermissionDenied, RateLimited

__all__ = ["error_response", "error_status", "problem_kind"]

_STATUS = ((AuthenticationFailed, 401), (RateLimited, 429), (PermissionDenied, 403), (NotFound, 404), (Conflict, 409))
_KINDS = {
    "missing": "missing", "enum": "choice", "literal_error": "choice", "float_parsing": "number", "int_parsing": "number",
    "float_type": "number", "int_type": "number", "int_from_float": "whole", "greater_than": "range", "greater_than_equal": "range",
    "less_than": "range", "less_than_equal": "range", "date_parsing": "date", "date_from_datetime_parsing": "date",
    "date_type": "date", "string_too_short": "too_short", "string_too_long": "too_long", "string_pattern_mismatch": "format",
}
_LABEL_PREFIXES = ("ae", "pat", "cm", "common", "visit", "cb", "scr", "diary", "users", "q", "qry", "sign", "unb", "lock")


def problem_kind(error_type: str) -> str | None:
    """The ``err.type.<kind>`` of a pydantic error type, None when unknown.

    >>> problem_kind("greater_than_equal"), problem_kind("something_new")
    ('range', None)
    """
    return _KINDS.get(error_type)


def _field_label(field: str, lang: str) -> str | None:
    table = load_locale(lang)
    return next((table[f"{p}.{field}"] for p in _LABEL_PREFIXES if f"{p}.{field}" in table), None)


def _problems(exc: ValidationError | RequestValidationError, lang: str) -> list[dict[str, Any]]:
    """One row per invalid field: its name, its label (or None), the kind of problem and the
    validator's English message."""
    out = []
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"] if p != "body") or "form"
        out.append({"field": field, "label": _field_label(field.split(".")[-1], lang), "kind": problem_kind(e["type"]),
                    "msg": e["msg"]})
    return out


def _render_error(request: Request, status: int, *, message: str | None, problems: list[dict[str, Any]],
                  key: str | None = None) -> Response:
    """The error page; with the navigation and logout when a valid staff session comes with it."""
    key = key or f"err.{status}"
    values = {"status_code": status, "message": message, "problems": problems, "key": key if key in load_locale("en") else "err.generic",
              "english": lang_of(request) == "en"}
    if request.cookies.get(SESSION_COOKIE) and not request.url.path.startswith("/diary/"):
        try:
            with request.app.state.sessionmaker() as session:
                read_only(session)
                return staff_page(request, session, request.app.state.settings).render("error.html", status=status, **values)
        except KetapainError:
            pass  # no valid session: the page without navigation
    return render(request, "error.html", status=status, **values)


def error_status(request: Request, exc: Exception) -> int:
    """The status code of the error page of ``exc`` (401 for a missing staff session, which
    :func:`error_response` answers with the login page's address instead)."""
    if isinstance(exc, ValidationError | RequestValidationError):
        return 422
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    if isinstance(exc, ValueError) and not isinstance(exc, KetapainError):
        return 422
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 422)
    return 403 if request.url.path.startswith("/diary/") and status == 401 else status


def error_response(request: Request, exc: Exception) -> Response:
    """The HTML answer to an error on a page: login redirect (401 on a staff page), else an
    error page with the status code the API would give."""
    if isinstance(exc, ValidationError | RequestValidationError):
        return _render_error(request, 422, message=None, problems=_problems(exc, lang_of(request)))
    if isinstance(exc, StarletteHTTPException):
        return _render_error(request, exc.status_code, message=None, problems=[])
    if isinstance(exc, ValueError) and not isinstance(exc, KetapainError):
        return _render_error(request, 422, message=str(exc), problems=[])
    if isinstance(exc, NotLoggedIn):
        return RedirectResponse("/login", status_code=303)
    status = error_status(request, exc)  # a revoked or unknown diary link: 403
    key = "err.csrf" if isinstance(exc, CsrfFailed) else None
    resp = _render_error(request, status, message=str(exc), problems=[], key=key)
    if isinstance(exc, RateLimited):
        resp.headers["Retry-After"] = str(exc.retry_after_s)
    return resp

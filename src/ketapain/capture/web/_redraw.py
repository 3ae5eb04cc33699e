"""A refused form comes back drawn again, the messages beside its fields (issue 17).

When a form posted from a page is refused with a 422 (a pydantic :class:`ValidationError`, a
``DataError`` or another ``ValueError``), :func:`redraw_form` draws the page the form came
from again, as its own GET route draws it (an internal request with the same cookies: the
fresh CSRF token, the navigation, the failed request's changes rolled back), then
:func:`ketapain.capture.web._fieldhtml.annotate_form` puts the submitted values back into
that form (never a password or the CSRF token) and each problem beside its field, with a
summary at the top of the form. The answer keeps the status 422.

The form's page is the GET route of the form's own path (``/patients/P001/infusions/1``,
``/screening``), else of its parent path (``/patients/P001/adverse-events`` ->
``/patients/P001``, ``/users/reset`` -> ``/users``); a GET route's query parameters come from
the submitted fields of the same name (the questionnaire's ``visit`` and ``instrument``).

Messages are those of the error page: a field is named by its label (the locale's, else the
page's own), the problem by its kind (``err.type.*``) in the page's language; the service's
English message is beside its field (``DataError.column``) on an English page, folded under
"technical detail (in English)" in the summary on another. A problem naming no field of the
form stays in the summary.

Not redrawn (the error page, as before): the patient diary (``/diary/...``), any status but
422, and any form whose page does not draw (its GET fails or no longer has the form).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.routing import Match

from ketapain.capture.security import CSRF_FIELD
from ketapain.capture.web._common import lang_of
from ketapain.capture.web._errors import _field_label, _problems, error_status
from ketapain.capture.web._fieldhtml import FieldProblem, annotate_form, escape
from ketapain.capture.web.i18n import translator

__all__ = ["mark_fields", "redraw_form"]

_SKIP = ("/api/", "/diary/", "/static/")
_SCOPE_KEYS = ("type", "asgi", "http_version", "scheme", "server", "client", "root_path", "app", "state", "router",
               "extensions", "starlette.exception_handlers")


def _page_route(routes: Sequence[APIRoute], path: str) -> tuple[str, APIRoute] | None:
    """The GET route drawing the form that posts to ``path``: the same path, else a parent."""
    parts = path.rstrip("/").split("/")
    while parts:
        candidate = "/".join(parts) or "/"
        for route in routes:
            if route.matches({"type": "http", "path": candidate, "method": "GET", "root_path": ""})[0] is Match.FULL:
                return candidate, route
        parts.pop()
    return None


async def _get(request: Request, path: str, query: dict[str, str]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of an internal GET of ``path`` with the request's cookies."""
    scope = {k: v for k, v in request.scope.items() if k in _SCOPE_KEYS}
    scope.update(method="GET", path=path, raw_path=path.encode(), query_string=urlencode(query).encode(),
                 headers=[(k, v) for k, v in request.scope["headers"] if k not in (b"content-type", b"content-length")])
    start: dict[str, Any] = {}
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    async with AsyncExitStack() as stack:  # what FastAPI's middleware gives every request
        scope["fastapi_middleware_astack"] = stack
        await request.app.router(scope, receive, send)
    return int(start.get("status", 500)), list(start.get("headers", [])), b"".join(body)


def _as_field_problems(rows: Sequence[dict[str, Any]], lang: str) -> list[FieldProblem]:
    """Rows of :func:`._errors._problems` (field, label, kind, msg) as problems in ``lang``:
    the kind's text, else the validator's English message marked as such."""
    t = translator(lang)
    return [FieldProblem(p["field"], p.get("label") if isinstance(p.get("label"), str) else None,
                         t(f"err.type.{p['kind']}") if p["kind"] else p["msg"], verbatim=not p["kind"] and lang != "en")
            for p in rows]


def mark_fields(request: Request, response: HTMLResponse, rows: Sequence[dict[str, Any]]) -> HTMLResponse:
    """``response`` (a page that lists the problems itself, the correction form) with each
    problem also beside its field in the form posting to the request's path."""
    if not rows:
        return response
    html = annotate_form(bytes(response.body).decode(), request.url.path, [], _as_field_problems(rows, lang_of(request)),
                         fill=False, summary=False)
    if html is None:
        return response
    marked = HTMLResponse(html, status_code=response.status_code)
    marked.raw_headers.extend((k, v) for k, v in response.raw_headers if k.lower() == b"set-cookie")
    return marked


def _field_problems(exc: Exception, lang: str) -> tuple[list[FieldProblem], str | None]:
    """The problems of ``exc`` in ``lang`` and the service's English message (None for pydantic's)."""
    t = translator(lang)
    if isinstance(exc, ValidationError | RequestValidationError):
        return _as_field_problems(_problems(exc, lang), lang), None
    message, column = str(exc), getattr(exc, "column", None)
    if column:
        return [FieldProblem(str(column), _field_label(str(column), lang),
                             message if lang == "en" else t("err.field_refused"))], message
    return [], message


def _detail(message: str | None, lang: str, *, shown: bool) -> str:
    """The service's message under the summary (folded, marked English, on a non-English page)."""
    if not message or (shown and lang == "en"):
        return ""
    if lang == "en":
        return f'<p class="detail" data-testid="error-detail">{escape(message)}</p>'
    return (f'<details class="detail" data-testid="error-detail" data-verbatim><summary>{escape(translator(lang)("err.technical"))}'
            f'</summary><p lang="en">{escape(message)}</p></details>')


async def redraw_form(request: Request, exc: Exception, routes: Sequence[APIRoute]) -> Response | None:
    """The form's page again with the problems of ``exc`` beside its fields (module
    docstring), or None when the error page answers instead."""
    path = request.url.path
    if request.method != "POST" or path.startswith(_SKIP) or error_status(request, exc) != 422:
        return None
    form = getattr(request, "_form", None)  # read by the route (Starlette keeps it on the request)
    found = _page_route(routes, path)
    if form is None or found is None:
        return None
    submitted = [(k, v) for k, v in form.multi_items() if isinstance(v, str) and k != CSRF_FIELD]
    page_path, route = found
    sent = dict(submitted)
    query = {q.alias: sent[q.alias] for q in route.dependant.query_params if q.alias in sent}
    if "lang" in request.query_params:
        query["lang"] = request.query_params["lang"]
    try:
        status, headers, body = await _get(request, page_path, query)
    except Exception:  # the page cannot be drawn: the error page answers
        return None
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if status != 200 or not content_type.startswith(b"text/html"):
        return None
    lang = lang_of(request)
    t = translator(lang)
    problems, message = _field_problems(exc, lang)
    html = annotate_form(body.decode(), path, submitted, problems, heading=t("err.422"),
                         detail=_detail(message, lang, shown=bool(problems)), notice=t("err.not_saved"),
                         title=t("err.title", code=422))
    if html is None:
        return None
    resp = HTMLResponse(html, status_code=422)
    for k, v in headers:
        if k.lower() == b"set-cookie":  # the page's own cookies (the password reset form's CSRF cookie, the language)
            resp.raw_headers.append((k, v))
    return resp

"""Server-rendered pages of the capture app and the patients' phone diary (English/French).

Plain HTML forms (no JavaScript needed; one tiny script fills the phone's clock into the
diary form), a CSRF token in every form checked with :func:`ketapain.capture.security.csrf_matches`,
every asset served by the app under ``/static``. Pages call the same services as the JSON
API, so roles and blinding are decided in one place (:mod:`ketapain.capture.roles`).

:func:`mount_web` adds the pages to an app built by :func:`ketapain.capture.create_app`.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError, StarletteHTTPException  # the class the router raises (404, 405)
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from ketapain.capture.web import _admin, _auth, _casebook, _corrections, _diary, _patients, _rlist
from ketapain.capture.web._errors import error_response
from ketapain.capture.web._redraw import redraw_form
from ketapain.errors import KetapainError

__all__ = ["STATIC_DIR", "mount_web", "web_router"]

STATIC_DIR = Path(__file__).parent / "static"

web_router = APIRouter(include_in_schema=False)
for _m in (_auth, _patients, _casebook, _corrections, _admin, _rlist, _diary):
    web_router.include_router(_m.router)
_PAGES = [r for _m in (_auth, _patients, _casebook, _corrections, _admin, _rlist, _diary) for r in _m.router.routes
          if isinstance(r, APIRoute) and "GET" in (r.methods or ())]
"""The GET routes drawing the pages (a refused form's page is drawn again: :mod:`._redraw`)."""


def mount_web(app: FastAPI) -> None:
    """Add the pages, ``/static`` and HTML error pages to ``app`` (call after its API error
    handlers are registered: errors under ``/api/`` keep their JSON answers; an unknown page
    or a page's bad query string gets the error page too; a form refused with a 422 comes back
    as its page with the messages beside the fields, :mod:`._redraw`)."""
    async def _form_error(request: Request, exc: Exception):
        if request.url.path.startswith("/api/"):
            raise exc
        return await redraw_form(request, exc, _PAGES) or error_response(request, exc)

    def _keep_api(exc_class: type[Exception]):
        """The app's handler of ``exc_class`` under ``/api/`` (JSON), the error page elsewhere."""
        api = app.exception_handlers.get(exc_class)

        async def handler(request: Request, exc: Exception):
            if request.url.path.startswith(("/api/", "/static/")) and api is not None:
                response = api(request, exc)  # Starlette allows sync and async handlers
                return await response if inspect.isawaitable(response) else response
            return await redraw_form(request, exc, _PAGES) or error_response(request, exc)

        return handler

    app.add_exception_handler(StarletteHTTPException, _keep_api(StarletteHTTPException))
    app.add_exception_handler(RequestValidationError, _keep_api(RequestValidationError))
    app.add_exception_handler(KetapainError, _keep_api(KetapainError))
    app.add_exception_handler(ValidationError, _form_error)
    app.add_exception_handler(ValueError, _form_error)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

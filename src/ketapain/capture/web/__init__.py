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
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from ketapain.capture.web import _admin, _auth, _diary, _patients, _rlist
from ketapain.capture.web._common import error_response
from ketapain.errors import KetapainError

__all__ = ["STATIC_DIR", "mount_web", "web_router"]

STATIC_DIR = Path(__file__).parent / "static"

web_router = APIRouter(include_in_schema=False)
for _m in (_auth, _patients, _admin, _rlist, _diary):
    web_router.include_router(_m.router)


def mount_web(app: FastAPI) -> None:
    """Add the pages, ``/static`` and HTML error pages to ``app`` (call after its API error
    handlers are registered: errors under ``/api/`` keep their JSON answers)."""
    api_handler = app.exception_handlers.get(KetapainError)

    async def _ketapain_error(request: Request, exc: Exception):
        if request.url.path.startswith("/api/") and api_handler is not None:
            response = api_handler(request, exc)  # Starlette allows sync and async handlers
            return await response if inspect.isawaitable(response) else response
        return error_response(request, exc)

    async def _form_error(request: Request, exc: Exception):
        if request.url.path.startswith("/api/"):
            raise exc
        return error_response(request, exc)

    app.add_exception_handler(KetapainError, _ketapain_error)
    app.add_exception_handler(ValidationError, _form_error)
    app.add_exception_handler(ValueError, _form_error)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

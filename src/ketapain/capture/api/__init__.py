"""The JSON API under ``/api/v1``: one router per resource (see ``docs/capture.md``)."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api import admin, auth, clinical, patients, randomisation, users

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api/v1")
for _m in (auth, users, patients, randomisation, clinical, admin):
    api_router.include_router(_m.router)

"""The capture web app: the trial's database, roles, blinding, audit trail and JSON API.

``create_app(settings)`` builds the FastAPI application; services (``ketapain.capture.services``)
hold every rule and write through the single audited write path (``ketapain.capture.audit``).
See ``docs/capture.md``.

Needs the ``[capture]`` extra (the web stack): without it, importing this package raises an
``ImportError`` that says ``pip install 'ketapain[capture]'``.
"""

from __future__ import annotations

from ketapain._extras import require_extra

require_extra("capture")  # before any module of the web stack is imported

from ketapain.capture.app import create_app, prepare_database  # noqa: E402
from ketapain.capture.audit import Actor, AuditVerification, verify_audit  # noqa: E402
from ketapain.capture.config import Settings  # noqa: E402
from ketapain.errors import (  # noqa: E402
    AuthenticationFailed,
    CaptureError,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    StudyLocked,
)

__all__ = [
    "Actor",
    "AuditVerification",
    "AuthenticationFailed",
    "CaptureError",
    "Conflict",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Settings",
    "StudyLocked",
    "create_app",
    "prepare_database",
    "verify_audit",
]

"""The capture web app: the trial's database, roles, blinding, audit trail and JSON API.

``create_app(settings)`` builds the FastAPI application; services (``ketapain.capture.services``)
hold every rule and write through the single audited write path (``ketapain.capture.audit``).
See ``docs/capture.md``.
"""

from __future__ import annotations

from ketapain.capture.app import create_app, prepare_database
from ketapain.capture.audit import Actor, AuditVerification, verify_audit
from ketapain.capture.config import Settings
from ketapain.errors import AuthenticationFailed, CaptureError, Conflict, NotFound, PermissionDenied, RateLimited, StudyLocked

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

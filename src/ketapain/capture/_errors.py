"""Errors of the capture app (service layer; the API maps them to HTTP status codes).

They subclass :class:`ketapain.errors.KetapainError` and a built-in, like every ketapain error:
``PermissionDenied`` -> 403, ``NotFound`` -> 404, ``Conflict`` (and ``StudyLocked``) -> 409,
``AuthenticationFailed`` -> 401, ``RateLimited`` -> 429; :class:`ketapain.errors.DataError`
(bad input) -> 422.
"""

from __future__ import annotations

from ketapain.errors import KetapainError

__all__ = ["AuthenticationFailed", "CaptureError", "Conflict", "NotFound", "PermissionDenied", "RateLimited", "StudyLocked"]


class CaptureError(KetapainError):
    """Base class of the capture app's errors."""


class AuthenticationFailed(CaptureError, PermissionError):
    """Wrong or missing credentials (user name, password, session or patient token)."""


class PermissionDenied(CaptureError, PermissionError):
    """The user's role may not do this (the message never names blinded data)."""


class NotFound(CaptureError, LookupError):
    """No such record."""


class Conflict(CaptureError, ValueError):
    """The request clashes with stored data (a duplicate, a closed query, a used slot...)."""


class StudyLocked(Conflict):
    """The database is locked: writes are refused until the documented unlock."""


class RateLimited(CaptureError, PermissionError):
    """Too many failed logins; ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

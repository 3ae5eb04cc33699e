"""Passwords, tokens, CSRF and login rate limiting.

- Passwords: Argon2id (``argon2-cffi`` defaults); never logged, never stored in clear.
- Session, CSRF and patient-link tokens: ``secrets.token_urlsafe(32)`` (256 bits); only
  ``HMAC-SHA256(secret_key, token)`` is stored, so a copy of the database does not give
  working tokens. Patient tokens are revoked by status; sessions by logout or expiry.
- CSRF: every session has its own random token; a state-changing request authenticated by
  the session cookie must carry it (header ``X-CSRF-Token`` or form field ``csrf_token``),
  compared in constant time.
- Login rate limit: :class:`LoginLimiter` counts failures per user name and per client
  address in a sliding window.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ketapain.errors import RateLimited

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LoginLimiter",
    "SESSION_COOKIE",
    "csrf_matches",
    "hash_password",
    "new_token",
    "token_digest",
    "verify_password",
]

SESSION_COOKIE = "ketapain_session"
CSRF_COOKIE = "ketapain_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Argon2id hash of ``password`` (PHC string)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (False, never an exception, when not)."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """An unguessable URL-safe token (32 random bytes).

    >>> len(new_token()) >= 43
    True
    """
    return secrets.token_urlsafe(32)


def token_digest(secret_key: str, token: str) -> str:
    """What the database stores for a token: HMAC-SHA256 keyed by the app's secret key (hex)."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def csrf_matches(expected: str | None, supplied: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the one the request carries."""
    return bool(expected) and bool(supplied) and hmac.compare_digest(str(expected), str(supplied))


class LoginLimiter:
    """Failed logins per key (user name, client address) in a sliding window.

    >>> lim = LoginLimiter(max_failures=2, window_s=60)
    >>> lim.failure("alice", now=0); lim.failure("alice", now=1)
    >>> lim.check("alice", now=2)
    Traceback (most recent call last):
    ...
    ketapain.errors.RateLimited: too many failed logins; try again in 58 s
    >>> lim.check("alice", now=61)
    """

    def __init__(self, *, max_failures: int, window_s: int) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def check(self, *keys: str, now: float | None = None) -> None:
        """Raise :class:`RateLimited` when any key has reached the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                q = self._recent(key, now)
                if len(q) >= self.max_failures:
                    wait = max(1, math.ceil(q[0] + self.window_s - now))
                    raise RateLimited(f"too many failed logins; try again in {wait} s", retry_after_s=wait)

    def failure(self, *keys: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def success(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

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
    "SHARED_FACTOR",
    "dummy_hash",
    "login_keys",
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


SHARED_FACTOR = 10
"""A key shared by many people (``user:``, all addresses trying one account; ``client:``, one
address, e.g. a hospital's NAT) starts its delays after this many times ``max_failures``."""

_DUMMY: list[str] = []


def dummy_hash() -> str:
    """The hash an unknown user name is checked against, so that its answer takes as long as a
    wrong password's (made once per process from a random password)."""
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY[0]


def login_keys(username: str, client: str) -> tuple[str, str, str]:
    """The limiter keys of a login attempt: the account from this address, the account from
    anywhere, this address for any account (see :class:`LoginLimiter`)."""
    user = username.casefold()
    return f"pair:{user}|{client}", f"user:{user}", f"client:{client}"


class LoginLimiter:
    """Failed password checks per key in a sliding window, answered by increasing delays, never
    by a lockout that someone else could trigger.

    A key reaches its threshold after ``max_failures`` failures (``pair:`` and ``reauth:`` keys:
    one account from one address, one user re-entering their password) or ``SHARED_FACTOR`` times
    that (``user:``, ``client:``). From there, each further attempt must wait 1, 2, 4, ... seconds
    (at most ``window_s``) after the key's last failure, else :class:`RateLimited` says how long.
    So a stranger who fails on purpose delays only their own address, and an account's owner at
    another address is not slowed until the account has drawn ``SHARED_FACTOR x max_failures``
    failures in the window (a guessing campaign), and even then can still log in.

    >>> lim = LoginLimiter(max_failures=2, window_s=60)
    >>> lim.failure("pair:alice|a", now=0); lim.failure("pair:alice|a", now=1)
    >>> lim.check("pair:alice|a", now=1.5)
    Traceback (most recent call last):
    ...
    ketapain.errors.RateLimited: too many failed attempts; try again in 1 s
    >>> lim.check("pair:alice|a", now=2.0)  # one second after the last failure
    >>> lim.failure("pair:alice|a", now=2.0); lim.check("pair:alice|a", now=3.5)
    Traceback (most recent call last):
    ...
    ketapain.errors.RateLimited: too many failed attempts; try again in 1 s
    >>> lim.check("pair:alice|b", now=3.5)  # the same account from another address
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

    def _threshold(self, key: str) -> int:
        return self.max_failures * (SHARED_FACTOR if key.startswith(("user:", "client:")) else 1)

    def check(self, *keys: str, now: float | None = None) -> None:
        """Raise :class:`RateLimited` when a key past its threshold asks again too soon."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                q = self._recent(key, now)
                over = len(q) - self._threshold(key)
                if over < 0:
                    continue
                delay = min(float(self.window_s), 2.0 ** over)
                if now - q[-1] < delay:
                    wait = max(1, math.ceil(q[-1] + delay - now))
                    raise RateLimited(f"too many failed attempts; try again in {wait} s", retry_after_s=wait)

    def failure(self, *keys: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def success(self, *keys: str) -> None:
        """Forget the failures of ``keys`` (the keys of the person who succeeded, not an address
        shared with others)."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

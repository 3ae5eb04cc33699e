"""Settings of the capture app: one frozen object, built explicitly (never at import time).

>>> s = Settings(database_url="sqlite:///:memory:", secret_key="x" * 40)
>>> s.protocol, s.login_max_failures
('ketapain', 5)
>>> Settings(database_url="sqlite://", secret_key="change-me")
Traceback (most recent call last):
...
ketapain.errors.DataError: secret_key: a default or short secret key is refused; set KETAPAIN_SECRET_KEY to 32 or more random characters (e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ketapain.errors import DataError

__all__ = ["DEFAULT_DB_FILE", "REFUSED_SECRETS", "Settings"]

DEFAULT_DB_FILE = "ketapain-capture.sqlite"
"""SQLite file used when no database URL is given (in the current directory)."""

REFUSED_SECRETS = frozenset({"", "change-me", "changeme", "secret", "default", "ketapain", "password"})
"""Secret keys refused outright (besides any key shorter than 32 characters)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the app reads from its environment.

    Attributes
    ----------
    database_url
        SQLAlchemy URL: ``sqlite:///path.sqlite`` or ``postgresql+psycopg://user@host/db``.
    secret_key
        Key of the HMACs that protect stored session and patient tokens (>= 32 characters;
        defaults such as ``change-me`` are refused).
    protocol
        Protocol name or path (:func:`ketapain.protocol.load_protocol`).
    secure_cookies
        ``True``: cookies carry ``Secure`` (serve over TLS); ``None``: decided per request
        from its scheme.
    session_max_age_s
        Lifetime of a staff session, seconds.
    login_max_failures, login_window_s
        Failed logins allowed per user name and per client address within the window (seconds)
        before further attempts get HTTP 429.
    late_entry_days
        A diary entry for day *d* is *late* when the server receives it more than this many
        days after the calendar date of day *d* (infusion date + d).
    visit_window_days
        A visit is out of window when its date differs from the scheduled date (first
        infusion + protocol visit day) by more than this many days.
    randomisation_seed, randomisation_patients, spare_kits_per_arm
        Study setup: the randomisation list (``operations.randomise_protocol``, test kind
        unless ``list_kind="production"``) and spare kits for replacements. To keep the
        blind, replacements are refused once as many have been made as the smallest
        per-arm stock (``services.randomisation.replacement_reserve``), so
        ``spare_kits_per_arm`` is the number of damaged kits the study can replace.
    """

    database_url: str
    secret_key: str
    protocol: str = "ketapain"
    secure_cookies: bool | None = None
    session_max_age_s: int = 8 * 3600
    login_max_failures: int = 5
    login_window_s: int = 300
    late_entry_days: int = 1
    visit_window_days: int = 3
    randomisation_seed: int | None = None
    randomisation_patients: int = 24
    list_kind: str = "test"
    spare_kits_per_arm: int = 6
    admin_user: str | None = None
    admin_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        key = self.secret_key or ""
        if key.strip().lower() in REFUSED_SECRETS or len(key) < 32:
            raise DataError(
                "secret_key: a default or short secret key is refused; set KETAPAIN_SECRET_KEY to 32 or more "
                'random characters (e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        if not self.database_url:
            raise DataError("database_url: give a SQLAlchemy URL (sqlite:///file.sqlite or postgresql+psycopg://...)")
        if self.list_kind not in ("test", "production"):
            raise DataError(f"list_kind={self.list_kind!r}: allowed 'test', 'production'")

    def __repr__(self) -> str:  # never print the secret
        return f"Settings(database_url={self.database_url!r}, protocol={self.protocol!r})"

    @classmethod
    def from_env(cls, *, database_url: str | None = None, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``KETAPAIN_*`` environment variables.

        ``KETAPAIN_DATABASE_URL`` (default: SQLite file :data:`DEFAULT_DB_FILE`),
        ``KETAPAIN_SECRET_KEY`` (required), ``KETAPAIN_PROTOCOL``, ``KETAPAIN_ADMIN_USER``,
        ``KETAPAIN_ADMIN_PASSWORD``, ``KETAPAIN_SECURE_COOKIES`` (1/0). ``database_url``
        (the ``--db`` option) wins over the environment.
        """
        env = os.environ if environ is None else environ
        url = database_url or env.get("KETAPAIN_DATABASE_URL") or f"sqlite:///{Path(DEFAULT_DB_FILE).resolve()}"
        secure = env.get("KETAPAIN_SECURE_COOKIES")
        kwargs: dict[str, object] = {
            "database_url": url,
            "secret_key": env.get("KETAPAIN_SECRET_KEY", ""),
            "protocol": env.get("KETAPAIN_PROTOCOL", "ketapain"),
            "secure_cookies": None if secure is None else secure.strip().lower() in ("1", "true", "yes"),
            "admin_user": env.get("KETAPAIN_ADMIN_USER") or None,
            "admin_password": env.get("KETAPAIN_ADMIN_PASSWORD") or None,
        }
        kwargs.update(overrides)
        return cls(**kwargs)  # type: ignore[arg-type]

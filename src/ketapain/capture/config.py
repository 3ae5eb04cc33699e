"""Settings of the capture app: one frozen object, built explicitly (never at import time).

>>> s = Settings(database_url="sqlite:///:memory:", secret_key="x" * 40)
>>> s.protocol, s.login_max_failures
('ketapain', 5)
>>> Settings(database_url="sqlite://", secret_key="change-me")
Traceback (most recent call last):
...
ketapain.errors.DataError: secret_key: a default or short secret key is refused; set KETAPAIN_SECRET_KEY
to 32 or more random characters (e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ketapain.errors import DataError

__all__ = [
    "DEFAULT_DB_FILE",
    "REFUSED_SECRETS",
    "SECRET_KEY_SUFFIX",
    "Settings",
    "StoredKey",
    "database_url_from_env",
    "sqlite_path",
    "stored_secret_key",
]

DEFAULT_DB_FILE = "ketapain-capture.sqlite"
"""SQLite file used when no database URL is given (in the current directory)."""

REFUSED_SECRETS = frozenset({"", "change-me", "changeme", "secret", "default", "ketapain", "password"})
"""Secret keys refused outright (besides any key shorter than 32 characters)."""

SECRET_KEY_SUFFIX = ".secret-key"
"""A generated key is stored as ``<database file><suffix>`` beside a SQLite database."""

_MIN_KEY_LENGTH = 32


def database_url_from_env(database_url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The database URL: ``database_url`` (the ``--db`` option), else ``KETAPAIN_DATABASE_URL``,
    else the SQLite file :data:`DEFAULT_DB_FILE` in the current folder (absolute path)."""
    env = os.environ if environ is None else environ
    return database_url or env.get("KETAPAIN_DATABASE_URL") or f"sqlite:///{Path(DEFAULT_DB_FILE).resolve()}"


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite database URL (``sqlite:///x.sqlite``), or None (in-memory, other databases).

    >>> sqlite_path("sqlite:///data/trial.sqlite"), sqlite_path("sqlite://"), sqlite_path("postgresql+psycopg://h/db")
    (PosixPath('data/trial.sqlite'), None, None)
    """
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise DataError(
            f"database URL {database_url!r} is not a SQLAlchemy URL (sqlite:///file.sqlite or postgresql+psycopg://user@host/db)",
            column="database_url",
        ) from None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A secret key kept in a file: the key, the file, and whether this call made it."""

    key: str = field(repr=False)
    path: Path
    created: bool


def stored_secret_key(database_url: str, *, config_dir: Path | None = None) -> StoredKey:
    """The secret key kept for ``database_url`` when ``KETAPAIN_SECRET_KEY`` is not set: made on
    first use (``secrets.token_urlsafe(48)``, 64 characters) and reused afterwards.

    Where: beside a SQLite database file (``<file>.secret-key``), so the key travels and is
    backed up with its database; for another database, in the user's config folder
    (``$XDG_CONFIG_HOME/ketapain/secret-keys/<sha256 of the URL>.key``, default ``~/.config``).
    The file is created with mode 0600 (owner only) and never overwritten; a file that others
    may read, or that holds a weak key, is refused.

    The key signs stored session and patient tokens: losing it logs everyone out and voids the
    patients' diary links, so back it up with the database (docs/capture.md).

    Raises
    ------
    DataError
        The file cannot be written or read, is readable by others, or holds a weak key.
    """
    db_file = sqlite_path(database_url)
    if db_file is not None:
        path = db_file.with_name(db_file.name + SECRET_KEY_SUFFIX)
    else:
        root = config_dir or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "ketapain" / "secret-keys"
        path = root / (hashlib.sha256(database_url.encode()).hexdigest()[:24] + ".key")
    created = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
            created = True
        mode = path.stat().st_mode
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: cannot keep the secret key there ({getattr(exc, 'strerror', None) or exc}); set KETAPAIN_SECRET_KEY instead",
            source=str(path),
        ) from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DataError(
            f"{path}: the secret key file may be read by others (mode {stat.filemode(mode)}); make it private with: chmod 600 {path}",
            source=str(path),
        )
    if key.lower() in REFUSED_SECRETS or len(key) < _MIN_KEY_LENGTH:
        raise DataError(
            f"{path}: holds a weak secret key (fewer than {_MIN_KEY_LENGTH} characters); "
            "delete the file to have a new one made (everyone is logged out) or set KETAPAIN_SECRET_KEY",
            source=str(path),
        )
    return StoredKey(key, path, created)


def _check_public_url(url: str) -> None:
    """``url`` must be ``http(s)://host[:port][/path]``, without query or fragment."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise DataError(f"public_url={url!r}: give the address patients reach the server at, "
                        "http(s)://host[:port][/path] (env KETAPAIN_PUBLIC_URL, ketapain serve --public-url)",
                        column="public_url", value=url, allowed="http(s)://host[:port][/path]")


DEFAULT_WORKER_THREADS = 8
"""Default :attr:`Settings.worker_threads`."""
MAX_WORKER_THREADS = 32
"""Largest :attr:`Settings.worker_threads`: below the database pool (``db.POOL_SIZE``), so a
thread never waits for a connection."""


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
        calendar days (UTC calendar, the hour ignored) after the date of day *d* (infusion
        date + d): with 1, yesterday's entry is on time (``services.diary.is_late``).
    visit_window_days
        Window of a protocol visit that sets no ``window_days``: a visit is out of window when
        its date differs from its expected date (the infusion of its period + the visit's
        offset, ``services.visits``) by more than this many days; it is then recorded only
        with a reason, and flagged.
    list_kind
        Kind of a new study started without a list: ``"test"`` (a test list of
        ``randomisation_patients`` patients is made) or ``"production"`` (no list is made; the
        admin imports the pharmacy's list, ``services.randomisation_list``). A study started
        with ``ketapain serve --randomisation-list`` takes the list's kind.
    public_url
        The address patients reach the server at (``https://trial.example.org``): the diary
        links given to patients start with it. Never taken from a request's ``Host`` header,
        which a client chooses (a forged one would send a patient's link, and its token, to
        another server). ``ketapain serve`` defaults it to its own ``http://HOST:PORT``.
    worker_threads
        Requests that run in worker threads at once (the sync routes; 1..:data:`MAX_WORKER_THREADS`).
        The others wait their turn on the event loop, where waiting costs no thread. Python runs
        one thread at a time, so more threads than a few only add switching: on the 2-core
        machine of BENCHMARKS.md ("Load matrix") 40 threads (the default of Starlette's pool)
        answered 100 clients more slowly than 8.
    randomisation_seed, randomisation_patients, spare_kits_per_arm
        Study setup: the generated test list (``operations.randomise_protocol``) and spare
        kits for replacements. To keep the
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
    public_url: str | None = None
    worker_threads: int = DEFAULT_WORKER_THREADS

    def __post_init__(self) -> None:
        key = self.secret_key or ""
        if key.strip().lower() in REFUSED_SECRETS or len(key) < _MIN_KEY_LENGTH:
            raise DataError(
                "secret_key: a default or short secret key is refused; set KETAPAIN_SECRET_KEY to 32 or more "
                'random characters (e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")',
                column="secret_key",  # never the value
            )
        if not self.database_url:
            raise DataError(
                "database_url: give a SQLAlchemy URL (sqlite:///file.sqlite or postgresql+psycopg://...)", column="database_url"
            )
        if self.public_url is not None:
            _check_public_url(self.public_url)
        if not 1 <= self.worker_threads <= MAX_WORKER_THREADS:
            raise DataError(
                f"worker_threads={self.worker_threads}: allowed 1..{MAX_WORKER_THREADS}",
                column="worker_threads", value=self.worker_threads, allowed=f"1..{MAX_WORKER_THREADS}",
            )
        if self.list_kind not in ("test", "production"):
            raise DataError(
                f"list_kind={self.list_kind!r}: allowed 'test', 'production'",
                column="list_kind",
                value=self.list_kind,
                allowed=("test", "production"),
            )

    def __repr__(self) -> str:  # never print the secret
        return f"Settings(database_url={self.database_url!r}, protocol={self.protocol!r})"

    @classmethod
    def from_env(cls, *, database_url: str | None = None, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``KETAPAIN_*`` environment variables.

        ``KETAPAIN_DATABASE_URL`` (default: SQLite file :data:`DEFAULT_DB_FILE`),
        ``KETAPAIN_SECRET_KEY`` (required), ``KETAPAIN_PROTOCOL``, ``KETAPAIN_ADMIN_USER``,
        ``KETAPAIN_ADMIN_PASSWORD``, ``KETAPAIN_SECURE_COOKIES`` (1/0), ``KETAPAIN_PUBLIC_URL``,
        ``KETAPAIN_WORKER_THREADS`` (an integer). ``database_url`` (the ``--db`` option) wins over the environment.
        """
        env = os.environ if environ is None else environ
        url = database_url_from_env(database_url, env)
        secure = env.get("KETAPAIN_SECURE_COOKIES")
        kwargs: dict[str, object] = {
            "database_url": url,
            "secret_key": env.get("KETAPAIN_SECRET_KEY", ""),
            "protocol": env.get("KETAPAIN_PROTOCOL", "ketapain"),
            "secure_cookies": None if secure is None else secure.strip().lower() in ("1", "true", "yes"),
            "admin_user": env.get("KETAPAIN_ADMIN_USER") or None,
            "admin_password": env.get("KETAPAIN_ADMIN_PASSWORD") or None,
            "public_url": env.get("KETAPAIN_PUBLIC_URL") or None,
        }
        threads = env.get("KETAPAIN_WORKER_THREADS")
        if threads:
            try:
                kwargs["worker_threads"] = int(threads)
            except ValueError:
                raise DataError(f"KETAPAIN_WORKER_THREADS={threads!r} is not an integer; allowed 1..{MAX_WORKER_THREADS}",
                                column="KETAPAIN_WORKER_THREADS", value=threads, allowed=f"1..{MAX_WORKER_THREADS}") from None
        kwargs.update(overrides)
        return cls(**kwargs)  # type: ignore[arg-type]

"""Capture fixtures: an app per test on SQLite (always) and PostgreSQL (when one answers).

SQLite: the migrated database is built once per session and copied per test (a fresh
database per test). PostgreSQL: a temporary database is created for the session, migrated,
and every table truncated between tests; it is dropped at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from ketapain.capture import Settings, create_app
from ketapain.capture.db import make_engine, upgrade
from ketapain.capture.models import Base

SECRET = "test-secret-" + "k" * 40
ADMIN_PW = "admin-password-1"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Argon2id with minimal cost for the tests only (the app keeps argon2-cffi's defaults).

    Every page and API test creates and logs in users; at the default cost (64 MiB, 3 passes)
    hashing dominated the capture tests' time. The algorithm, salt and verification path are
    the same; only the work factor differs. test_security_defaults (below) checks the app's
    own hasher still has the library defaults.
    """
    from argon2 import PasswordHasher

    from ketapain.capture import security

    app_hasher = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield app_hasher
    security._hasher = app_hasher


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return f"PostgreSQL on 127.0.0.1:5432 does not answer ({type(exc).__name__})"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tpl") / "template.sqlite"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()
    return str(path)


@contextlib.contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A uniquely named, empty PostgreSQL database on 127.0.0.1:5432: yields its URL, drops it
    afterwards (and checks it is gone); skips the test with the reason when no server answers."""
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            assert c.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}).scalar() == 0
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with fresh_pg_database("ketapain_test") as url:
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path, sqlite_template: str) -> str:
    if request.param == "sqlite":
        dest = tmp_path / "capture.sqlite"
        shutil.copy(sqlite_template, dest)
        yield f"sqlite:///{dest}"
        return
    url = request.getfixturevalue("pg_url")
    eng = make_engine(url)
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with eng.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    eng.dispose()
    yield url


def make_settings(url: str, **kw) -> Settings:
    return Settings(database_url=url, secret_key=SECRET, admin_user="admin", admin_password=ADMIN_PW,
                    randomisation_seed=11, randomisation_patients=12, **kw)


@pytest.fixture
def app(request, db_url: str):
    """The app over ``db_url``, with :func:`make_settings` changed by the test module's
    ``APP_SETTINGS`` dict when it has one (e.g. ``{"visit_window_days": 60}``); disposed after."""
    app = create_app(make_settings(db_url, **getattr(request.module, "APP_SETTINGS", {})))
    yield app
    app.state.engine.dispose()


class Api:
    """A logged-in client: ``api.post(path, json)`` adds the CSRF header."""

    def __init__(self, app, username: str, password: str) -> None:
        self.client = TestClient(app)
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf_token"]

    def get(self, path: str, **kw):
        return self.client.get("/api/v1" + path, **kw)

    def post(self, path: str, json=None, **kw):
        return self.client.post("/api/v1" + path, json=json, headers={"X-CSRF-Token": self.csrf}, **kw)

    def patch(self, path: str, json=None, **kw):
        return self.client.patch("/api/v1" + path, json=json, headers={"X-CSRF-Token": self.csrf}, **kw)


ROLE_PW = "role-password-1"


@pytest.fixture
def clients(app) -> dict[str, Api]:
    """A logged-in client per staff role (admin creates the others)."""
    admin = Api(app, "admin", ADMIN_PW)
    out = {"admin": admin}
    for role in ("investigator", "nurse", "pharmacist", "statistician", "monitor"):
        r = admin.post("/users", {"username": role, "role": role, "password": ROLE_PW, "full_name": f"Dr {role}"})
        assert r.status_code == 201, r.text
        if role != "pharmacist":
            out[role] = Api(app, role, ROLE_PW)
    enable_pharmacist(out["statistician"])
    out["pharmacist"] = Api(app, "pharmacist", ROLE_PW)
    return dict(sorted(out.items(), key=lambda kv: STAFF_ORDER.index(kv[0])))


STAFF_ORDER = ("admin", "investigator", "nurse", "pharmacist", "statistician", "monitor")


def enable_pharmacist(approver: Api, username: str = "pharmacist") -> None:
    """Approve the pending role grant of a new pharmacist account (the two-person rule: the
    admin's new pharmacist is disabled until a second person approves)."""
    pending = [c for c in approver.get("/change-requests?status=pending").json() if c["target_user"] == username]
    assert len(pending) == 1, pending
    r = approver.post(f"/change-requests/{pending[0]['id']}/approve", {"password": ROLE_PW})
    assert r.status_code == 200, r.text

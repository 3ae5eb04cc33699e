"""Web-page fixtures: logged-in form clients per role (TestClient), and a live server with a
headless Debian Chromium page for the Playwright tests (never a downloaded browser).

The parent ``tests/capture/conftest.py`` gives ``app`` (SQLite, and PostgreSQL when one
answers) and ``clients`` (JSON API clients per role).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from ketapain.capture import Settings, create_app

from net import free_port

SECRET = "web-test-secret-" + "w" * 40
ADMIN_PW = "admin-password-1"
ROLE_PW = "role-password-1"   # as in tests/capture/conftest.py


class Web:
    """A browser-like client of the pages: logs in through the login form and sends the
    session's CSRF token (read from the page) with every form."""

    def __init__(self, app, username: str | None = None, password: str | None = None, *, lang: str | None = None) -> None:
        headers = {"Accept-Language": lang} if lang else {}
        self.client = TestClient(app, follow_redirects=False, headers=headers)
        self.csrf = ""
        if username is not None:
            r = self.client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
            r = self.client.post("/login", data={"csrf_token": token, "username": username, "password": password})
            assert r.status_code == 303 and r.headers["location"] == "/", r.text
            self.csrf = self.client.cookies.get("ketapain_csrf")

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw):
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf
        return self.client.post(path, data=body, **kw)


@pytest.fixture
def webs(app, clients) -> dict[str, Web]:
    """A logged-in page client per staff role (the users are made by ``clients``)."""
    out = {"admin": Web(app, "admin", ADMIN_PW)}
    for role in ("investigator", "nurse", "pharmacist", "statistician", "monitor"):
        out[role] = Web(app, role, ROLE_PW)
    return out


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run on CI: {reason}")
    pytest.skip(reason)


@contextmanager
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Serve ``app`` under uvicorn in a background thread on a free port until the block
    ends (then the server stops and the app's engine is disposed). Yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    if app.state.settings.public_url is None:  # as `ketapain serve` does: diary links start with its own address
        app.state.settings = dataclasses.replace(app.state.settings, public_url=base)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()


@pytest.fixture(name="live_server")
def live_server_fixture(tmp_path) -> Iterator[str]:
    """The app over a temporary SQLite file, served by :func:`live_server`; the admin comes
    from the settings. Yields the base URL."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'live.sqlite'}", secret_key=SECRET, admin_user="admin",
                        admin_password=ADMIN_PW, randomisation_seed=7, randomisation_patients=6)
    with live_server(create_app(settings)) as base:
        yield base


@contextmanager
def serve_app(database_url: str) -> Iterator[str]:
    """:func:`live_server` of a fresh app over any database URL (a migrated or empty SQLite file,
    a fresh PostgreSQL database); the admin comes from the settings. Yields the base URL."""
    settings = Settings(database_url=database_url, secret_key=SECRET, admin_user="admin",
                        admin_password=ADMIN_PW, randomisation_seed=7, randomisation_patients=6)
    with live_server(create_app(settings)) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Debian Chromium through Playwright (``executable_path``; ``--no-sandbox``).

    Skips with the reason when chromium or playwright is missing, unless ``CI`` is set:
    then the test fails, so CI never silently loses the browser tests.
    """
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("no 'chromium' executable on PATH (Debian package 'chromium')")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("the Python package 'playwright' is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def browser_login(page, base: str, user: str, password: str) -> None:
    """Log ``user`` in through the login page of the live server at ``base`` (Playwright page)."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

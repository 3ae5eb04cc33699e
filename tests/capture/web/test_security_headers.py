"""Issue 17, headers and links: every answer carries the CSP, anti-framing, nosniff and
no-referrer headers; pages and API answers are never stored by a cache (static files may be);
the diary link given to a patient starts with the configured public address, never with the
request's Host header (a forged one must not receive the patient's token)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from ketapain.capture import Settings
from ketapain.capture.headers import CONTENT_SECURITY_POLICY
from ketapain.errors import DataError

from .conftest import Web
from .test_pages import new_patient

SECURITY = {"content-security-policy": CONTENT_SECURITY_POLICY, "x-frame-options": "DENY",
            "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def test_every_answer_has_the_security_headers(webs):
    nurse = webs["nurse"]
    for path in ("/", "/patients", "/login", "/no-such-page", "/api/v1/patients", "/healthz", "/static/app.css"):
        r = nurse.get(path)
        assert {k: r.headers.get(k) for k in SECURITY} == SECURITY, path
        assert ("no-store" in r.headers.get("cache-control", "")) is (not path.startswith("/static/")), path
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


def test_pages_need_no_inline_script_or_style(webs):
    """The CSP refuses inline script and style: no page may rely on them (a control that the
    policy above breaks nothing)."""
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    for path in ("/", "/patients", f"/patients/{pid}", "/queries", "/login"):
        text = nurse.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", text), path


def _diary_link(web: Web, pid: str, **kw) -> str:
    r = web.post(f"/patients/{pid}/diary-link", {"action": "issue"}, **kw)
    assert r.status_code == 200, r.text
    return re.search(r'data-testid="diary-link">([^<]+)<', r.text).group(1)


def test_diary_link_ignores_a_forged_host(app, webs):
    app.state.settings = dataclasses.replace(app.state.settings, public_url="https://trial.example.org/capture")
    pid = new_patient(webs["nurse"])
    link = _diary_link(webs["nurse"], pid, headers={"Host": "attacker.example"})
    assert link.startswith("https://trial.example.org/capture/diary/") and "attacker" not in link


def test_without_a_public_url_the_link_is_relative(webs):
    pid = new_patient(webs["nurse"])
    link = _diary_link(webs["nurse"], pid, headers={"Host": "attacker.example"})
    assert link.startswith("/diary/") and "attacker" not in link


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "trial.example.org", "https://", "https://x.org/?a=1",
                                 "https://x.org/#f", "ftp://x.org", "https://x.org:99999"])
def test_a_bad_public_url_is_refused(bad):
    with pytest.raises(DataError, match=r"public_url=.*http\(s\)://host\[:port\]\[/path\]"):
        Settings(database_url="sqlite://", secret_key="k" * 40, public_url=bad)


def test_serve_defaults_the_public_url_to_its_own_address(monkeypatch):
    seen = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: seen.update(url=app.state.settings.public_url, **kw))
    from typer.testing import CliRunner

    from ketapain.cli import app as cli

    res = CliRunner().invoke(cli, ["serve", "--db", "sqlite://", "--port", "8123"], env={"KETAPAIN_SECRET_KEY": "s" * 40})
    assert res.exit_code == 0, res.output
    assert seen["url"] == "http://127.0.0.1:8123" and seen["port"] == 8123
    res = CliRunner().invoke(cli, ["serve", "--db", "sqlite://", "--public-url", "https://trial.example.org"],
                             env={"KETAPAIN_SECRET_KEY": "s" * 40})
    assert res.exit_code == 0 and seen["url"] == "https://trial.example.org"

"""No secrets in logs: the audit trail keeps only digests of password hashes and token
digests (yet still detects a replaced hash), Python log records never carry a password or a
token, and session cookies are ``Secure`` when the app is served over TLS."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from ketapain.capture.audit import SECRET_FIELDS, verify_audit
from ketapain.capture.db import make_sessionmaker
from ketapain.capture.models import AuditLog

from .conftest import ADMIN_PW, ROLE_PW
from .test_api import _patient

NEW_PW = "a-new-password-42"


def _secrets_flow(app, clients) -> tuple[str, list[str]]:
    """Create users (fixture), a patient diary link and a diary entry, change a password and
    fail a login: returns the patient token and every plain secret used."""
    pid = _patient(clients)
    token = clients["nurse"].post(f"/patients/{pid}/diary-link").json()["token"]
    patient = TestClient(app)
    entry = {"period": 1, "day": 2, "avg_pain": 4, "max_pain": 6, "night_pain": 3}
    assert patient.post("/api/v1/diary", json=entry, headers={"X-Patient-Token": token}).status_code == 201
    r = clients["admin"].patch("/users/monitor", {"password": NEW_PW, "reason": "reset on request"})
    assert r.status_code == 200, r.text
    bad = TestClient(app).post("/api/v1/auth/login", json={"username": "monitor", "password": ROLE_PW})
    assert bad.status_code == 401
    return token, [ADMIN_PW, ROLE_PW, NEW_PW, token]


def test_audit_trail_holds_digests_not_secrets_and_still_detects_a_replaced_hash(app, clients) -> None:
    _token, secrets = _secrets_flow(app, clients)
    sm = make_sessionmaker(app.state.engine)
    with sm() as s:
        rows = s.execute(select(AuditLog)).scalars().all()
        stored = {r[0] for r in s.execute(text("SELECT password_hash FROM users"))}
        stored |= {r[0] for r in s.execute(text("SELECT token_hash FROM patient_tokens"))}
        assert len(stored) >= 7  # 6 staff users + 1 patient token
        values = [v for r in rows for v in (r.old_value, r.new_value, r.reason) if v]
        for secret in [*secrets, *stored]:
            assert not any(secret in v for v in values), secret[:12]
        assert not any("$argon2" in v for v in values)
        secret_rows = [r for r in rows if r.field in SECRET_FIELDS]
        # 6 user creations + 1 password change (old and new) + 1 token creation
        assert len(secret_rows) >= 8
        assert all(v.startswith("sha256:") and len(v) == 71 for r in secret_rows for v in (r.old_value, r.new_value) if v)
        assert verify_audit(s).ok
        s.execute(text("UPDATE users SET password_hash = :h WHERE username = 'nurse'"),
                  {"h": s.execute(text("SELECT password_hash FROM users WHERE username = 'admin'")).scalar_one()})
        s.commit()
        res = verify_audit(s)
        assert not res.ok and any("users record" in p and "password_hash" in p for p in res.problems), res.problems


def test_log_records_never_carry_a_password_or_token(app, clients, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    token, secrets = _secrets_flow(app, clients)
    assert TestClient(app).get(f"/diary/{token}").status_code == 200  # the personal diary page by link
    # The server side's records: ours and those of the libraries the server runs on (httpx's
    # records are the test client's own request lines, not the server's).
    server = ("ketapain", "uvicorn", "fastapi", "starlette", "sqlalchemy", "alembic", "argon2")
    messages = [rec.getMessage() for rec in caplog.records if rec.name.split(".")[0] in server]
    messages += [str(rec.args) for rec in caplog.records if rec.name.split(".")[0] in server]
    assert any(rec.name == "httpx" for rec in caplog.records)  # records were captured at all
    for secret in secrets:
        assert not any(secret in m for m in messages), secret[:12]


def test_session_cookies_secure_over_tls_only(app) -> None:
    over_tls = TestClient(app, base_url="https://testserver")
    r = over_tls.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PW})
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    assert cookies and all("Secure" in c and "HttpOnly" in c for c in cookies if c.startswith("ketapain_session"))
    plain = TestClient(app).post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PW})
    assert not any("Secure" in c for c in plain.headers.get_list("set-cookie"))


def test_verify_accepts_a_trail_written_before_secrets_were_digested(app, clients, monkeypatch) -> None:
    """Databases written by the earlier code hold the raw hash in the trail: verify still passes
    on them, and still names a hash replaced afterwards."""
    from ketapain.capture import audit

    monkeypatch.setattr(audit, "audit_value", lambda field, value: audit.dump(value))  # the earlier rule
    _secrets_flow(app, clients)
    monkeypatch.undo()
    sm = make_sessionmaker(app.state.engine)
    with sm() as s:
        assert any(v and v.startswith("$argon2") for v in s.execute(select(AuditLog.new_value)).scalars())
        assert verify_audit(s).ok
        s.execute(text("UPDATE users SET password_hash = 'x' WHERE username = 'nurse'"))
        s.commit()
        assert any("password_hash" in p for p in verify_audit(s).problems)

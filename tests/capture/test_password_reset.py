"""The two-person rule covers password resets (issue 16): an admin cannot set alone the
password of another admin or of an account that sees the allocation (the pharmacist; the
statistician after lock) and then log in as them. The reset is requested by one admin and
approved by a second person, who alone receives a one-time code; the user sets their own
password with it. One's own password is changed with the current one. Service, API and
pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ketapain.capture.audit import verify_audit
from ketapain.capture.models import AuditLog, ChangeRequest, User
from ketapain.capture.schemas import ChangeApproval, ChangeRequestCreate, PasswordChange, UserCreate, UserUpdate
from ketapain.capture.services import approvals, users
from ketapain.errors import AuthenticationFailed, Conflict, PermissionDenied

from .conftest import ADMIN_PW, ROLE_PW, Api, TestClient
from .test_two_person_rule import ADMIN2_PW, _ctx
from .web.conftest import Web

NEW_PW = "pharmacist-own-new-pw"


@pytest.fixture
def admin2(app, clients) -> Api:
    r = clients["admin"].post("/users", {"username": "admin2", "role": "admin", "password": ADMIN2_PW})
    assert r.status_code == 201, r.text
    return Api(app, "admin2", ADMIN2_PW)


def _login(app, username: str, password: str) -> int:
    return TestClient(app).post("/api/v1/auth/login", json={"username": username, "password": password}).status_code


def test_admin_alone_cannot_reset_an_unblinded_user_or_another_admin(app, clients, admin2):
    admin = clients["admin"]
    for target in ("pharmacist", "admin2"):
        r = admin.patch(f"/users/{target}", {"password": "admin-knows-this-pw", "reason": "forgot it"})
        assert r.status_code == 403 and "reset_password" in r.json()["detail"], r.text
        assert _login(app, target, "admin-knows-this-pw") == 401
    assert admin.patch("/users/monitor", {"password": "monitor-new-pw-1", "reason": "forgot it"}).status_code == 200  # blinded
    assert _login(app, "monitor", "monitor-new-pw-1") == 200
    # one's own password: not by update, by the current password
    r = admin.patch("/users/admin", {"password": "admin-new-password", "reason": "mine"})
    assert r.status_code == 403 and "current password" in r.json()["detail"]
    with app.state.sessionmaker() as s:
        a = _ctx(s, app, "admin")
        with pytest.raises(PermissionDenied, match="own password"):
            approvals.request_change(a, ChangeRequestCreate(action="reset_password", target_user="admin", reason="x",
                                                            password=ADMIN_PW))
        with pytest.raises(Conflict, match="neither an admin nor sees the allocation"):
            approvals.request_change(a, ChangeRequestCreate(action="reset_password", target_user="nurse", reason="x",
                                                            password=ADMIN_PW))
        # before lock the statistician is blinded: one admin resets that password alone
        stat = s.execute(select(User).where(User.username == "statistician")).scalars().one()
        assert approvals.reset_needs_approval(a, stat) is False
        users.update_user(a, "statistician", UserUpdate(password="stat-new-password", reason="forgot it"))
        s.commit()
    assert _login(app, "statistician", "stat-new-password") == 200


def test_request_and_approval_by_a_second_person_with_audit_rows(app, clients, admin2):
    admin, stat = clients["admin"], clients["statistician"]
    r = admin.post("/change-requests", {"action": "reset_password", "target_user": "pharmacist", "reason": "forgot it",
                                        "password": ADMIN_PW})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["reset_code"] is None and r.json()["target_user"] == "pharmacist"
    again = admin2.post("/change-requests", {"action": "reset_password", "target_user": "pharmacist", "reason": "x",
                                             "password": ADMIN2_PW})
    assert again.status_code == 409
    r = admin.post(f"/change-requests/{rid}/approve", {"password": ADMIN_PW})
    assert r.status_code == 403 and "you requested it" in r.json()["detail"]
    assert clients["pharmacist"].get("/auth/me").status_code == 200   # nothing applied yet
    r = stat.post(f"/change-requests/{rid}/approve", {"password": ROLE_PW, "reason": "identity checked by phone"})
    assert r.status_code == 200, r.text
    code = r.json()["reset_code"]
    assert r.json()["status"] == "approved" and r.json()["decided_by"] == "statistician" and len(code) >= 32
    # the code is nowhere else: not in the list, not in the trail; it is not a login password
    assert all(c["reset_code"] is None for c in stat.get("/change-requests").json())
    assert clients["pharmacist"].get("/auth/me").status_code == 401   # the sessions ended
    assert _login(app, "pharmacist", ROLE_PW) == 401 and _login(app, "pharmacist", code) == 401
    anon = TestClient(app)
    bad = anon.post("/api/v1/auth/reset-password", json={"username": "pharmacist", "code": "wrong", "new_password": NEW_PW})
    assert bad.status_code == 401
    ok = anon.post("/api/v1/auth/reset-password", json={"username": "pharmacist", "code": code, "new_password": NEW_PW})
    assert ok.status_code == 200, ok.text
    assert _login(app, "pharmacist", NEW_PW) == 200
    reuse = anon.post("/api/v1/auth/reset-password", json={"username": "pharmacist", "code": code, "new_password": "another-pw-123"})
    assert reuse.status_code == 401   # one time
    with app.state.sessionmaker() as s:
        pharm = s.execute(select(User).where(User.username == "pharmacist")).scalars().one()
        rows = s.execute(select(AuditLog).where(AuditLog.table_name == "users", AuditLog.record_id == str(pharm.id),
                                                AuditLog.action.in_(("reset_password", "password_set", "reset_failed")))
                         .order_by(AuditLog.seq)).scalars().all()
        got = [(r.action, r.field, r.username) for r in rows]
        assert got == [("reset_password", "password_hash", "statistician"), ("reset_password", "status", "statistician"),
                       ("reset_failed", None, "system"), ("password_set", "password_hash", "pharmacist"),
                       ("password_set", "status", "pharmacist"), ("reset_failed", None, "system")]
        assert "requested by admin, approved by statistician" in rows[0].reason and rows[1].new_value == "reset"
        assert f"change request {rid}" in rows[3].reason
        trail = s.execute(select(AuditLog.old_value, AuditLog.new_value, AuditLog.reason)).all()
        assert not any(code in (v or "") for row in trail for v in row)
        req = s.get(ChangeRequest, rid)
        by = {r.action: r.username for r in s.execute(select(AuditLog).where(AuditLog.table_name == "change_requests",
                                                                             AuditLog.record_id == str(rid))).scalars()}
        assert req is not None and req.status == "approved" and by == {"create": "admin", "approve": "statistician"}
        assert verify_audit(s).ok


def test_the_target_cannot_approve_and_a_reset_account_stays_closed(app, clients, admin2):
    with app.state.sessionmaker() as s:
        a, b = _ctx(s, app, "admin"), _ctx(s, app, "admin2")
        req = approvals.request_change(a, ChangeRequestCreate(action="reset_password", target_user="admin2", reason="lost",
                                                              password=ADMIN_PW))
        with pytest.raises(PermissionDenied, match="resets your own password"):
            approvals.approve_change(b, req.id, ChangeApproval(password=ADMIN2_PW))
        done = approvals.approve_change(_ctx(s, app, "statistician"), req.id, ChangeApproval(password=ROLE_PW))
        assert done.reset_code and done.request.status == "approved"
        target = s.execute(select(User).where(User.username == "admin2")).scalars().one()
        assert target.status == "reset"
        with pytest.raises(Conflict, match="reset code"):   # the requester cannot reopen it with the code's hash
            users.update_user(a, "admin2", UserUpdate(status="active", reason="reopen"))
        with pytest.raises(PermissionDenied, match="reset_password"):
            users.update_user(a, "admin2", UserUpdate(password="admin-chosen-pw", reason="set it"))
        users.update_user(a, "admin2", UserUpdate(status="disabled", reason="left"))   # disabling stays possible
        # a disabled account is not reset (the code would enable it, e.g. a pharmacist waiting for the grant's approval)
        with pytest.raises(Conflict, match="disabled"):
            approvals.request_change(a, ChangeRequestCreate(action="reset_password", target_user="admin2", reason="again",
                                                            password=ADMIN_PW))
        new = users.create_user(a, UserCreate(username="pharm2", role="pharmacist", password="pharm-password-2"))
        assert new.status == "disabled"
        with pytest.raises(Conflict, match="disabled"):
            approvals.request_change(a, ChangeRequestCreate(action="reset_password", target_user="pharm2", reason="x",
                                                            password=ADMIN_PW))
        # disabled between the request and the approval: the approval is refused
        req = approvals.request_change(a, ChangeRequestCreate(action="reset_password", target_user="pharmacist", reason="lost",
                                                              password=ADMIN_PW))
        users.update_user(a, "pharmacist", UserUpdate(status="disabled", reason="left"))
        with pytest.raises(Conflict, match="disabled"):
            approvals.approve_change(_ctx(s, app, "statistician"), req.id, ChangeApproval(password=ROLE_PW))
        s.rollback()


def test_rule_off_one_admin_resets_any_password(app, clients, admin2):
    p = app.state.protocol
    protocol = type(p).from_dict(p.model_dump(mode="json") | {"blinding": {"two_person_rule": False}})
    with app.state.sessionmaker() as s:
        a = _ctx(s, app, "admin", protocol=protocol)
        users.update_user(a, "pharmacist", UserUpdate(password="pharm-new-password", reason="forgot it"))
        users.update_user(a, "admin2", UserUpdate(password="admin2-new-password", reason="forgot it"))
        with pytest.raises(Conflict, match="two-person rule is off"):
            approvals.request_change(a, ChangeRequestCreate(action="reset_password", target_user="pharmacist", reason="x",
                                                            password=ADMIN_PW))
        s.commit()
    assert _login(app, "pharmacist", "pharm-new-password") == 200 and _login(app, "admin2", "admin2-new-password") == 200


def test_own_password_with_the_current_one_any_role(app, clients):
    pharm = clients["pharmacist"]
    r = pharm.post("/auth/password", {"current_password": "not-it", "new_password": NEW_PW})
    assert r.status_code == 401
    assert pharm.post("/auth/password", {"current_password": ROLE_PW, "new_password": NEW_PW}).status_code == 200
    assert _login(app, "pharmacist", NEW_PW) == 200 and _login(app, "pharmacist", ROLE_PW) == 401
    with app.state.sessionmaker() as s:
        pharm_id = s.execute(select(User.id).where(User.username == "pharmacist")).scalar()
        (row,) = s.execute(select(AuditLog).where(AuditLog.action == "password_change", AuditLog.record_id == str(pharm_id))).scalars()
        assert (row.username, row.field) == ("pharmacist", "password_hash") and NEW_PW not in (row.new_value or "")
        with pytest.raises(AuthenticationFailed):
            users.change_own_password(_ctx(s, app, "admin"), PasswordChange(current_password="wrong", new_password=NEW_PW))


def test_pages_request_approve_show_the_code_once_and_redeem(app, clients, admin2):
    a = Web(app, "admin", ADMIN_PW)
    users_page = a.get("/users").text
    form = users_page[users_page.index('data-testid="reset-request"'):]
    assert '<option value="pharmacist">' in form and '<option value="admin2">' in form
    assert '<option value="nurse">' not in form and '<option value="admin">' not in form
    r = a.post("/users/reset", {"target_user": "pharmacist", "reason": "forgot it", "password": ADMIN_PW})
    assert r.status_code == 303 and r.headers["location"] == "/lock?msg=requested"
    lock = a.get("/lock").text
    rid = re.search(r'data-testid="change-(\d+)"', lock).group(1)
    assert "Reset the password of pharmacist" in lock and f"/lock/requests/{rid}/approve" not in lock
    b = Web(app, "admin2", ADMIN2_PW, lang="fr")
    assert "Réinitialiser le mot de passe de pharmacist" in b.get("/lock").text
    r = b.post(f"/lock/requests/{rid}/approve", {"password": ADMIN2_PW})
    assert r.status_code == 200 and "Réinitialisation du mot de passe approuvée" in r.text
    code = re.search(r"<code data-verbatim>([^<]+)</code>", r.text).group(1)
    assert code not in b.get("/lock").text and code not in a.get("/lock").text
    anon = TestClient(app, follow_redirects=False)
    page = anon.get("/password-reset")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = anon.post("/password-reset", data={"csrf_token": token, "username": "pharmacist", "code": "nope", "new_password": NEW_PW})
    assert r.status_code == 401 and "reset code is not correct" in r.text
    r = anon.post("/password-reset", data={"csrf_token": token, "username": "pharmacist", "code": code, "new_password": NEW_PW})
    assert r.status_code == 200 and "Your new password is set." in r.text
    assert _login(app, "pharmacist", NEW_PW) == 200
    r = anon.post("/password-reset", data={"username": "pharmacist", "code": code, "new_password": NEW_PW})
    assert r.status_code == 403   # no CSRF token


def test_every_failed_redeem_costs_one_hash(app, clients, admin2, monkeypatch):
    """The redeem answers in the same time whether the user name exists, has a pending reset or
    not: one Argon2id check in every case (the dummy hash when there is nothing to check), as
    login does (test_auth_hardening.test_an_unknown_user_costs_a_hash)."""
    from ketapain.capture import security

    admin, stat = clients["admin"], clients["statistician"]
    rid = admin.post("/change-requests", {"action": "reset_password", "target_user": "pharmacist", "reason": "forgot it",
                                          "password": ADMIN_PW}).json()["id"]
    assert stat.post(f"/change-requests/{rid}/approve", {"password": ROLE_PW, "reason": "identity checked"}).status_code == 200
    checked: list[str] = []
    real = security.verify_password
    monkeypatch.setattr(users, "verify_password", lambda stored, pw: checked.append(stored) or real(stored, pw))
    anon = TestClient(app)
    for name in ("nobody", "nurse", "pharmacist"):  # unknown; exists without a reset; pending reset, wrong code
        r = anon.post("/api/v1/auth/reset-password", json={"username": name, "code": "wrong-code", "new_password": NEW_PW})
        assert r.status_code == 401 and r.json()["detail"] == "user name or reset code is not correct (or the code has expired)"
    with app.state.sessionmaker() as s:
        pharm_hash = s.execute(select(User.password_hash).where(User.username == "pharmacist")).scalar()
    assert checked == [security.dummy_hash(), security.dummy_hash(), pharm_hash]

"""Separation of duties (issue 16): no user changes their own role; lock and unlock need a
second authorised person (request by one admin, approval by another admin or the
statistician, never by the requester), configurable in the protocol ([blinding]
two_person_rule, default on); emergency unblinding stays single-person. Service and API tests,
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ketapain.capture.audit import Actor, verify_audit
from ketapain.capture.models import AuditLog, ChangeRequest, Study, User
from ketapain.capture.schemas import ChangeApproval, ChangeRejection, ChangeRequestCreate, UserCreate, UserUpdate
from ketapain.capture.services import Context, approvals, lock, users
from ketapain.errors import Conflict, PermissionDenied
from ketapain.protocol import load_protocol

from .conftest import ADMIN_PW, ROLE_PW, Api, TestClient
from .test_api import _patient

ADMIN2_PW = "second-admin-password"


@pytest.fixture
def admin2(app, clients) -> Api:
    r = clients["admin"].post("/users", {"username": "admin2", "role": "admin", "password": ADMIN2_PW})
    assert r.status_code == 201, r.text
    return Api(app, "admin2", ADMIN2_PW)


def _ctx(session, app, username: str, *, protocol=None) -> Context:
    user = session.execute(select(User).where(User.username == username)).scalars().one()
    return Context(session, Actor(user.username, user.role, user.id), app.state.settings, protocol or app.state.protocol)


def test_the_protocol_default_is_on_and_can_be_turned_off():
    p = load_protocol("ketapain")
    assert p.blinding.two_person_rule is True
    off = type(p).from_dict(p.model_dump(mode="json") | {"blinding": {"two_person_rule": False}})
    assert off.blinding.two_person_rule is False


def test_service_request_approve_with_both_users_in_the_audit_trail(app, clients, admin2):
    with app.state.sessionmaker() as s:
        a, b, stat = _ctx(s, app, "admin"), _ctx(s, app, "admin2"), _ctx(s, app, "statistician")
        with pytest.raises(PermissionDenied, match="two-person rule"):
            lock.lock_database(a, reason="alone")
        req = approvals.request_change(a, ChangeRequestCreate(action="lock", reason="final analysis", password=ADMIN_PW))
        assert req.status == "pending" and not a.locked
        with pytest.raises(Conflict, match="already requested"):
            approvals.request_change(b, ChangeRequestCreate(action="lock", reason="again", password=ADMIN2_PW))
        with pytest.raises(PermissionDenied, match="you requested it, so you cannot approve it"):
            approvals.approve_change(a, req.id, ChangeApproval(password=ADMIN_PW))
        for role in ("nurse", "investigator", "monitor", "pharmacist"):
            with pytest.raises(PermissionDenied):
                approvals.approve_change(_ctx(s, app, role), req.id, ChangeApproval(password=ROLE_PW))
        approvals.approve_change(b, req.id, ChangeApproval(password=ADMIN2_PW, reason="checked"))
        assert a.locked and req.status == "approved" and req.decided_by == "admin2"
        with pytest.raises(Conflict, match="not pending"):
            approvals.approve_change(stat, req.id, ChangeApproval(password=ROLE_PW))
        # the statistician (unblinded after lock) approves an unlock requested by the second admin
        req2 = approvals.request_change(b, ChangeRequestCreate(action="unlock", reason="late query", password=ADMIN2_PW))
        approvals.approve_change(stat, req2.id, ChangeApproval(password=ROLE_PW))
        assert not a.locked
        rows = s.execute(select(AuditLog).order_by(AuditLog.seq)).scalars().all()
        by = {(r.table_name, r.record_id, r.action): r.username for r in rows}
        assert by[("change_requests", str(req.id), "create")] == "admin"
        assert by[("change_requests", str(req.id), "approve")] == "admin2"
        study = [r for r in rows if r.table_name == "study" and r.action in ("lock", "unlock") and r.field == "locked"]
        assert [(r.action, r.username) for r in study] == [("lock", "admin2"), ("unlock", "statistician")]
        assert "requested by admin, approved by admin2" in study[0].reason
        assert "requested by admin2, approved by statistician" in study[1].reason
        assert verify_audit(s).ok
        s.rollback()


def test_service_reject_and_withdraw_apply_nothing(app, clients, admin2):
    with app.state.sessionmaker() as s:
        a, b = _ctx(s, app, "admin"), _ctx(s, app, "admin2")
        req = approvals.request_change(a, ChangeRequestCreate(action="lock", reason="x", password=ADMIN_PW))
        approvals.reject_change(b, req.id, ChangeRejection(reason="too early"))
        assert (req.status, req.decided_by) == ("rejected", "admin2") and not a.locked
        req = approvals.request_change(a, ChangeRequestCreate(action="lock", reason="y", password=ADMIN_PW))
        with pytest.raises(PermissionDenied):
            approvals.reject_change(_ctx(s, app, "nurse"), req.id, ChangeRejection(reason="no"))
        approvals.reject_change(a, req.id, ChangeRejection(reason="my mistake"))
        assert req.status == "withdrawn" and not a.locked
        with pytest.raises(Conflict, match="not locked"):
            approvals.request_change(a, ChangeRequestCreate(action="unlock", reason="z", password=ADMIN_PW))
        s.rollback()


def test_service_rule_off_one_admin_locks_and_unlocks_alone(app, clients):
    p = app.state.protocol
    protocol = type(p).from_dict(p.model_dump(mode="json") | {"blinding": {"two_person_rule": False}})
    with app.state.sessionmaker() as s:
        a = _ctx(s, app, "admin", protocol=protocol)
        lock.lock_database(a, reason="final")
        assert a.locked
        with pytest.raises(Conflict, match="two-person rule is off"):
            approvals.request_change(a, ChangeRequestCreate(action="unlock", reason="x", password=ADMIN_PW))
        lock.unlock_database(a, password=ADMIN_PW, reason="query")
        assert not a.locked
        s.rollback()


def test_service_nobody_changes_their_own_role(app, clients, admin2):
    with app.state.sessionmaker() as s:
        a = _ctx(s, app, "admin")
        for role in ("pharmacist", "statistician", "monitor"):
            with pytest.raises(PermissionDenied, match="you cannot change your own role"):
                users.update_user(a, "admin", UserUpdate(role=role, reason="I need it"))
        users.update_user(a, "admin", UserUpdate(full_name="The Admin", reason="typo"))   # other fields: allowed
        users.update_user(a, "admin", UserUpdate(role="admin", reason="unchanged"))       # same role: no change
        users.update_user(a, "admin2", UserUpdate(role="monitor", reason="moved"))        # someone else's: allowed
        assert s.execute(select(User.role).where(User.username == "admin")).scalar() == "admin"
        s.rollback()


def test_api_two_person_flow(clients, admin2):
    a, stat, nurse = clients["admin"], clients["statistician"], clients["nurse"]
    assert a.post("/lock", {"reason": "alone"}).status_code == 403
    r = a.post("/change-requests", {"action": "lock", "reason": "final analysis", "password": ADMIN_PW})
    assert r.status_code == 201 and r.json()["status"] == "pending" and r.json()["requested_by"] == "admin"
    rid = r.json()["id"]
    assert a.post("/change-requests", {"action": "lock", "reason": "again", "password": ADMIN_PW}).status_code == 409
    r = a.post(f"/change-requests/{rid}/approve", {"password": ADMIN_PW})
    assert r.status_code == 403 and "cannot approve" in r.json()["detail"]
    assert nurse.post(f"/change-requests/{rid}/approve", {"password": ROLE_PW}).status_code == 403
    assert stat.post("/change-requests", {"action": "lock", "reason": "x", "password": ROLE_PW}).status_code == 403
    assert nurse.get("/change-requests").status_code == 403
    assert a.get("/lock").json()["locked"] is False
    r = admin2.post(f"/change-requests/{rid}/approve", {"password": ADMIN2_PW, "reason": "agreed"})
    assert r.status_code == 200 and (r.json()["status"], r.json()["decided_by"]) == ("approved", "admin2")
    assert a.get("/lock").json()["locked"] is True
    assert next((c["action"], c["status"]) for c in stat.get("/change-requests").json()) == ("lock", "approved")
    assert stat.get("/change-requests?status=pending").json() == []
    assert a.post("/change-requests/999/approve", {"password": ADMIN_PW}).status_code == 404


def test_api_own_role_change_refused(clients, admin2):
    r = clients["admin"].patch("/users/admin", {"role": "pharmacist", "reason": "unblind myself"})
    assert r.status_code == 403 and "own role" in r.json()["detail"]
    assert admin2.patch("/users/admin2", {"role": "statistician", "reason": "x"}).status_code == 403
    assert clients["admin"].get("/auth/me").json()["role"] == "admin"


def test_emergency_unblinding_stays_single_person(clients):
    pid = _patient(clients)
    r = clients["investigator"].post("/unblindings", {"patient_id": pid, "period": 1, "reason": "SAE", "password": ROLE_PW})
    assert r.status_code == 201 and "treatment" in r.json()


def test_requests_survive_the_lock_and_stay_out_of_trial_tables(app, clients, admin2):
    rid = clients["admin"].post("/change-requests", {"action": "lock", "reason": "final", "password": ADMIN_PW}).json()["id"]
    assert admin2.post(f"/change-requests/{rid}/approve", {"password": ADMIN2_PW}).status_code == 200
    # while locked an unlock can still be requested (change_requests is lock-exempt)
    r = admin2.post("/change-requests", {"action": "unlock", "reason": "query", "password": ADMIN2_PW})
    assert r.status_code == 201, r.text
    with app.state.sessionmaker() as s:
        assert s.execute(select(Study.locked)).scalar() is True
        assert [c.action for c in s.execute(select(ChangeRequest).order_by(ChangeRequest.id)).scalars()][-2:] == ["lock", "unlock"]


def test_service_roles_that_see_the_allocation_need_a_second_person(app, clients, admin2):
    """A new pharmacist account is disabled until approved; an admin cannot give the role,
    or re-enable such an account, alone; nobody requests or approves a grant to themself."""
    with app.state.sessionmaker() as s:
        a, b = _ctx(s, app, "admin"), _ctx(s, app, "admin2")
        new = users.create_user(a, UserCreate(username="pharm2", role="pharmacist", password="pharm-password-2"))
        assert new.status == "disabled"
        (grant,) = [c for c in approvals.list_changes(a, status="pending") if c.target_user == "pharm2"]
        assert (grant.action, grant.role, grant.requested_by) == ("grant_role", "pharmacist", "admin")
        with pytest.raises(PermissionDenied, match="sees the allocation"):
            users.update_user(a, "pharm2", UserUpdate(status="active", reason="enable it myself"))
        with pytest.raises(PermissionDenied, match="you requested it"):
            approvals.approve_change(a, grant.id, ChangeApproval(password=ADMIN_PW))
        approvals.approve_change(b, grant.id, ChangeApproval(password=ADMIN2_PW))
        assert (new.role, new.status) == ("pharmacist", "active")
        # a role change to pharmacist: refused alone, requested, approved by someone else
        with pytest.raises(PermissionDenied, match="sees the allocation"):
            users.update_user(a, "monitor", UserUpdate(role="pharmacist", reason="needs kits"))
        with pytest.raises(PermissionDenied, match="for yourself"):
            approvals.request_change(a, ChangeRequestCreate(action="grant_role", target_user="admin", role="pharmacist",
                                                            reason="me", password=ADMIN_PW))
        req = approvals.request_change(b, ChangeRequestCreate(action="grant_role", target_user="admin", role="pharmacist",
                                                              reason="for a", password=ADMIN2_PW))
        with pytest.raises(PermissionDenied, match="gives you a role"):
            approvals.approve_change(a, req.id, ChangeApproval(password=ADMIN_PW))
        with pytest.raises(Conflict, match="does not see the allocation"):
            approvals.request_change(a, ChangeRequestCreate(action="grant_role", target_user="monitor", role="nurse",
                                                            reason="x", password=ADMIN_PW))
        users.update_user(a, "monitor", UserUpdate(role="nurse", reason="moved"))   # a blinded role: one admin
        rows = s.execute(select(AuditLog).where(AuditLog.table_name == "users", AuditLog.action == "grant_role",
                                                AuditLog.record_id == str(new.id))).scalars().all()
        assert [(r.field, r.username) for r in rows] == [("status", "admin2")] and "active" in rows[0].new_value
        assert "requested by admin, approved by admin2" in rows[0].reason
        s.rollback()


def test_api_new_pharmacist_waits_for_a_second_person(app, clients, admin2):
    a = clients["admin"]
    r = a.post("/users", {"username": "pharm2", "role": "pharmacist", "password": "pharm-password-2"})
    assert r.status_code == 201 and r.json()["status"] == "disabled"
    assert TestClient(app).post("/api/v1/auth/login", json={"username": "pharm2", "password": "pharm-password-2"}).status_code == 401
    assert a.patch("/users/pharm2", {"status": "active", "reason": "now"}).status_code == 403
    (grant,) = [c for c in a.get("/change-requests?status=pending").json() if c["target_user"] == "pharm2"]
    assert a.post(f"/change-requests/{grant['id']}/approve", {"password": ADMIN_PW}).status_code == 403
    assert admin2.post(f"/change-requests/{grant['id']}/approve", {"password": ADMIN2_PW}).status_code == 200
    assert Api(app, "pharm2", "pharm-password-2").get("/auth/me").json()["role"] == "pharmacist"
    r = a.post("/change-requests", {"action": "grant_role", "reason": "x", "password": ADMIN_PW})
    assert r.status_code == 422   # a grant names the user and the role

"""Issue 17, authentication: failed logins slow down the address or the campaign that makes them
(increasing delays, no lockout a stranger can trigger), an unknown user name costs a password
hash like a known one, every password re-entry (signature, unblinding, approvals) is rate-limited,
and a role change ends the user's sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ketapain.capture import security
from ketapain.capture.models import User
from ketapain.capture.security import SHARED_FACTOR, LoginLimiter, login_keys
from ketapain.capture.services import users
from ketapain.errors import AuthenticationFailed, RateLimited

from .conftest import ROLE_PW, Api
from .test_api import _patient


def _login(app, username: str, password: str, client: str):
    with app.state.sessionmaker() as s:
        try:
            return users.login(s, app.state.settings, app.state.limiter, username=username, password=password, client=client)
        finally:
            s.commit()


def test_a_stranger_cannot_lock_an_account(app, clients):
    limit = app.state.settings.login_max_failures
    for _ in range(limit):
        with pytest.raises(AuthenticationFailed):
            _login(app, "nurse", "guess", client="10.0.0.66")
    with pytest.raises(RateLimited):  # the stranger's own address is slowed down ...
        _login(app, "nurse", ROLE_PW, client="10.0.0.66")
    user, token, _ = _login(app, "nurse", ROLE_PW, client="10.0.0.5")  # ... the nurse at her desk is not
    assert user.username == "nurse" and token


def test_shared_keys_delay_only_after_a_campaign_and_never_lock():
    lim = LoginLimiter(max_failures=5, window_s=300)
    user_key = login_keys("nurse", "x")[1]
    for i in range(5 * SHARED_FACTOR - 1):  # 49 failures from 49 addresses: no delay for anyone
        lim.failure(login_keys("nurse", f"10.0.{i}.1")[0], user_key, now=float(i))
    lim.check(*login_keys("nurse", "10.9.9.9"), now=49.0)
    lim.failure(user_key, now=49.0)  # the 50th: from now on each attempt waits 1, 2, 4 ... s after the last failure
    with pytest.raises(RateLimited) as caught:
        lim.check(*login_keys("nurse", "10.9.9.9"), now=49.5)
    assert caught.value.retry_after_s == 1
    lim.check(*login_keys("nurse", "10.9.9.9"), now=50.0)
    for k in range(6):
        lim.failure(user_key, now=100.0 + k)
    with pytest.raises(RateLimited) as caught:
        lim.check(user_key, now=105.0)
    assert caught.value.retry_after_s == 2 ** 6  # 56 failures, 6 over the threshold: 2**6 = 64 s after the last
    lim.check(user_key, now=105.0 + 2 ** 6)
    for _ in range(20):
        lim.failure(user_key, now=200.0)
    with pytest.raises(RateLimited) as caught:
        lim.check(user_key, now=200.0)
    assert caught.value.retry_after_s == 300  # capped at the window, never more


def test_an_unknown_user_costs_a_hash(app, clients, monkeypatch):
    checked: list[str] = []
    real = security.verify_password
    monkeypatch.setattr(users, "verify_password", lambda stored, pw: checked.append(stored) or real(stored, pw))
    for name in ("nobody", "nurse"):
        with pytest.raises(AuthenticationFailed, match="user name or password is not correct"):
            _login(app, name, "wrong", client=f"10.1.1.{len(name)}")
    with app.state.sessionmaker() as s:
        nurse_hash = s.execute(select(User.password_hash).where(User.username == "nurse")).scalar()
    assert checked == [security.dummy_hash(), nurse_hash]  # one Argon2id check each
    assert security.dummy_hash().startswith("$argon2id$")


def test_password_re_entry_is_rate_limited(app, clients):
    pid = _patient(clients)
    inv = clients["investigator"]
    limit = app.state.settings.login_max_failures
    codes = [inv.post(f"/patients/{pid}/signatures", {"password": "nope", "meaning": "reviewed"}).status_code
             for _ in range(limit)]
    assert codes == [401] * limit
    r = inv.post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "reviewed"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    r = clients["admin"].post("/unblindings", {"patient_id": pid, "period": 1, "reason": "x", "password": "nope"})
    assert r.status_code in (401, 403)  # another user's count is their own


def test_a_role_change_ends_the_users_sessions(app, clients):
    monitor = clients["monitor"]
    assert monitor.get("/patients").status_code == 200
    r = clients["admin"].patch("/users/monitor", {"role": "investigator", "reason": "moved to the site team"})
    assert r.status_code == 200, r.text
    assert monitor.get("/patients").status_code == 401  # the old session (and its role) is gone
    again = Api(app, "monitor", ROLE_PW)
    assert again.get("/auth/me").json()["role"] == "investigator"

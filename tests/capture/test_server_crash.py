"""Crash test of the real server: ``ketapain serve`` runs as a subprocess (SQLite file, and
PostgreSQL when one answers); threads post diary entries over HTTP (personal link tokens)
and the server's whole process group gets SIGKILL while posts are in flight. After a restart
on the same database: every entry acknowledged with a 2xx is there exactly once with the
values sent; no entry exists without its audit rows (nor audit rows without their entry);
a retry of each unacknowledged post is answered 201 or 409, never 5xx; and
``ketapain audit verify --db URL`` exits 0.

Unlike tests/capture/test_crash.py (which kills writer processes calling the services),
this kills the HTTP server itself: the answer a client got is the only evidence it has.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ketapain.capture.audit import dump
from ketapain.capture.db import make_engine, make_sessionmaker
from ketapain.capture.models import AuditLog, DiaryEntry

from .conftest import fresh_pg_database
from net import free_port

SECRET = "server-crash-test-secret-" + "s" * 32
ADMIN_PW = "crash-admin-password-1"
NURSE_PW = "crash-nurse-password-1"
N_PATIENTS = 4
DAYS = 35                  # diary days of period 1 (protocol: days_per_period)
THREADS = 8
ROUNDS = (25, 60)          # acknowledged posts before each kill (cumulative within the round)
START_TIMEOUT_S = 40.0


def _ketapain_command() -> list[str]:
    """The ``ketapain`` console script installed with this interpreter (not a pyenv shim in
    front of it, so the server is the process that gets SIGKILL); else the same entry point
    (``ketapain.cli:main``) run by this interpreter."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (folder / "ketapain").is_file():
            return [str(folder / "ketapain")]
    return [sys.executable, "-c", "from ketapain.cli import main; main()"]


KETAPAIN = _ketapain_command()

Key = tuple[str, int, int]  # patient, period, day


class Server:
    """``ketapain serve`` in its own process group, configured by KETAPAIN_* variables."""

    def __init__(self, url: str, log_dir: Path) -> None:
        self.url = url
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.base = ""
        self.starts = 0

    def start(self) -> str:
        self.starts += 1
        port = free_port()
        env = {**os.environ, "KETAPAIN_DATABASE_URL": self.url, "KETAPAIN_SECRET_KEY": SECRET,
               "KETAPAIN_ADMIN_USER": "admin", "KETAPAIN_ADMIN_PASSWORD": ADMIN_PW}
        log = open(self.log_dir / f"serve-{self.starts}.log", "wb")  # noqa: SIM115 (kept open by the child)
        self.proc = subprocess.Popen([*KETAPAIN, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"ketapain serve exited with {self.proc.returncode} at start:\n{self.log()}")
            try:
                r = httpx.get(f"{self.base}/healthz", timeout=2)
                if r.status_code == 200 and r.json()["status"] == "ok":
                    return self.base
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"ketapain serve did not answer /healthz within {START_TIMEOUT_S:.0f} s:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.log_dir / f"serve-{self.starts}.log").read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL to the server's whole process group (the serve process and any child)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL, self.proc.returncode

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


@pytest.fixture(params=["sqlite", "postgresql"])
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database for the server (it migrates at start): a SQLite file, or a
    PostgreSQL database created for this test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.sqlite'}"
        return
    with fresh_pg_database("ketapain_crash") as url:
        yield url


def _login(base: str, user: str, password: str) -> tuple[httpx.Client, dict[str, str]]:
    c = httpx.Client(base_url=f"{base}/api/v1", timeout=30)
    r = c.post("/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def _setup_trial(base: str) -> dict[str, str]:
    """Through the API: a nurse; patients enrolled, randomised, period 1 infused 40 days ago
    (so days 1..35 are all in the past); one diary link token each. Returns {patient: token}."""
    admin, h = _login(base, "admin", ADMIN_PW)
    r = admin.post("/users", json={"username": "nurse", "role": "nurse", "password": NURSE_PW, "full_name": "Crash Nurse"}, headers=h)
    assert r.status_code == 201, r.text
    admin.close()
    nurse, h = _login(base, "nurse", NURSE_PW)
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=40)
    tokens = {}
    for k in range(N_PATIENTS):
        r = nurse.post("/patients", json={"sex": "FM"[k % 2], "age_years": 40 + k, "weight_kg": 60.0 + k, "pain_type": "postsurgery"},
                       headers=h)
        assert r.status_code == 201, r.text
        pid = r.json()["patient_id"]
        r = nurse.post(f"/patients/{pid}/randomise", headers=h)
        assert r.status_code == 201, r.text
        r = nurse.post("/infusions", json={"patient_id": pid, "period": 1, "infusion_date": start.isoformat()}, headers=h)
        assert r.status_code == 201, r.text
        r = nurse.post(f"/patients/{pid}/diary-link", headers=h)
        assert r.status_code == 201, r.text
        tokens[pid] = r.json()["token"]
    nurse.close()
    return tokens


def _values(key: Key) -> dict[str, object]:
    """The entry posted for a key (distinct values per patient and day)."""
    pid, _, day = key
    n = int(pid.lstrip("P"))
    avg = (3 * day + n) % 11
    return {"avg_pain": avg, "max_pain": min(10, avg + day % 3), "night_pain": (day + 2 * n) % 11,
            "extra_analgesics": (day + n) % 2 == 0,
            "device_time": dt.datetime(2020, 3, 1, 20, n, day % 60, tzinfo=dt.UTC).isoformat()}


def _post(client: httpx.Client, token: str, key: Key) -> httpx.Response:
    return client.post("/api/v1/diary", json={"period": key[1], "day": key[2], **_values(key)}, headers={"X-Patient-Token": token})


class Round:
    """Threads posting distinct keys; the server is killed once ``kill_after`` posts are acknowledged."""

    def __init__(self, base: str, tokens: dict[str, str], keys: list[Key]) -> None:
        self.base, self.tokens, self.keys = base, tokens, keys
        self.lock = threading.Lock()
        self.acked: dict[Key, dict] = {}            # key -> the 201 answer's body
        self.refused: list[tuple[Key, int, str]] = []  # any non-2xx answer (none expected: keys are distinct)
        self.lost: dict[Key, str] = {}             # no answer: the transport error (sent before or after the kill)

    def _worker(self, keys: list[Key]) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as c:
            for key in keys:
                try:
                    r = _post(c, self.tokens[key[0]], key)
                except httpx.TransportError as exc:
                    with self.lock:
                        self.lost[key] = type(exc).__name__
                    return  # the server is gone
                with self.lock:
                    if 200 <= r.status_code < 300:
                        self.acked[key] = r.json()
                    else:
                        self.refused.append((key, r.status_code, r.text))

    def run(self, server: Server, kill_after: int, rng: random.Random) -> None:
        shares = [self.keys[i::THREADS] for i in range(THREADS)]
        threads = [threading.Thread(target=self._worker, args=(s,), daemon=True) for s in shares]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(self.acked) < kill_after and any(t.is_alive() for t in threads):
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"only {len(self.acked)} posts acknowledged in 30 s (refused: {self.refused[:3]})")
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.03))
        server.kill()  # posts are in flight: every thread still has keys to send
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)


def _stored(url: str) -> tuple[Counter, dict[Key, DiaryEntry], dict[str, dict[str, str | None]], list[str]]:
    """From the database: how often each key is stored, the rows, the diary_entries audit
    rows (record id -> field -> new value, ``create`` rows) and every other diary audit action."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        rows = list(s.execute(select(DiaryEntry)).scalars())
        s.expunge_all()
        audit: dict[str, dict[str, str | None]] = {}
        other = []
        for a in s.execute(select(AuditLog).where(AuditLog.table_name == "diary_entries").order_by(AuditLog.seq)).scalars():
            if a.action == "create":
                fields = audit.setdefault(a.record_id, {})
                assert a.field not in fields, f"audit: diary_entries record {a.record_id} field {a.field} created twice"
                fields[a.field] = a.new_value
            else:
                other.append(f"{a.action} {a.record_id} {a.field}")
    engine.dispose()
    counts = Counter((r.patient_id, r.period, r.day) for r in rows)
    return counts, {(r.patient_id, r.period, r.day): r for r in rows}, audit, other


def test_kill_the_server_while_diary_posts_are_in_flight(server_db: str, tmp_path: Path):
    rng = random.Random(20200154)
    server = Server(server_db, tmp_path)
    try:
        base = server.start()
        tokens = _setup_trial(base)
        keys = [(pid, 1, day) for pid in tokens for day in range(1, DAYS + 1)]
        rng.shuffle(keys)
        acked: dict[Key, dict] = {}
        lost: dict[Key, str] = {}
        for kill_after in ROUNDS:
            todo = [k for k in keys if k not in acked and k not in lost]
            rnd = Round(base, tokens, todo)
            rnd.run(server, kill_after, rng)
            assert not rnd.refused, rnd.refused[:5]  # distinct keys: every answer before the kill was a 201
            assert len(rnd.acked) >= kill_after
            acked.update(rnd.acked)
            lost.update(rnd.lost)
            base = server.start()  # restart on the same database
        in_flight = [k for k, err in lost.items() if err != "ConnectError"]
        assert in_flight, f"no post was cut off by the kill (only {sorted(set(lost.values()))}); the test proves nothing"

        # after the restart, through the API: every acknowledged entry, once, with its values
        nurse, _ = _login(base, "nurse", NURSE_PW)
        for pid in tokens:
            r = nurse.get(f"/patients/{pid}/diary")
            assert r.status_code == 200, r.text
            got = Counter((e["patient_id"], e["period"], e["day"]) for e in r.json())
            by_key = {(e["patient_id"], e["period"], e["day"]): e for e in r.json()}
            for key in (k for k in acked if k[0] == pid):
                assert got[key] == 1, f"acknowledged entry {key} is stored {got[key]} times"
                e = by_key[key]
                want = _values(key)
                assert {f: e[f] for f in want} == want, (key, e)
                assert e["server_time"] == acked[key]["server_time"]  # the very row that was acknowledged
        nurse.close()

        # ... and in the database, with the audit trail beside it
        server.stop()
        counts, rows, audit, other = _stored(server_db)
        assert set(acked) <= set(counts)
        assert max(counts.values()) == 1, [k for k, n in counts.items() if n > 1]  # unique key: no day twice
        assert set(counts) <= set(acked) | set(lost)  # nothing stored that was never sent
        assert other == []  # entries were only created
        assert set(audit) == {str(r.id) for r in rows.values()}, "diary entries without audit rows, or audit rows without their entry"
        for key, row in rows.items():
            expected = {c.name: dump(getattr(row, c.name)) for c in DiaryEntry.__table__.columns if c.name != "id"}
            expected = {f: v for f, v in expected.items() if v is not None}
            assert audit[str(row.id)] == expected, key
            if key in acked:
                sent = _values(key)
                assert (row.avg_pain, row.max_pain, row.night_pain, row.extra_analgesics) == (
                    sent["avg_pain"], sent["max_pain"], sent["night_pain"], sent["extra_analgesics"]), key

        # a client retrying its unanswered posts: 201 when the post was lost, 409 when it had been stored
        base = server.start()
        with httpx.Client(base_url=base, timeout=30) as c:
            for key in sorted(lost):
                r = _post(c, tokens[key[0]], key)
                assert r.status_code == (409 if key in counts else 201), (key, r.status_code, r.text)
        server.stop()
        counts_after, *_ = _stored(server_db)
        assert set(counts_after) == set(counts) | set(lost) and max(counts_after.values()) == 1

        # the command line's audit check on the same database
        res = subprocess.run([*KETAPAIN, "audit", "verify", "--db", server_db], check=False, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "audit trail OK" in res.stdout + res.stderr
    finally:
        server.stop()

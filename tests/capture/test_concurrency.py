"""Hundreds of simultaneous diary posts (threads, processes, HTTP against a real uvicorn
server) on SQLite (WAL, BEGIN IMMEDIATE, busy timeout) and PostgreSQL (advisory lock):
every day is stored exactly once, every duplicate gets a clean conflict (409, never a 500),
and the audit chain verifies afterwards (appends are serialised: no forked chain)."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from ketapain.capture import create_app
from ketapain.capture.audit import Actor, verify_audit
from ketapain.capture.db import make_engine, make_sessionmaker, upgrade
from ketapain.capture.models import AuditLog, DiaryEntry, Infusion
from ketapain.capture.schemas import DiaryEntryCreate
from ketapain.capture.services import Context, demo, diary
from ketapain.data import TrialData
from ketapain.errors import Conflict
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

from .conftest import make_settings
from net import free_port

PROTOCOL = load_protocol("ketapain")
INV = Actor("inv", "investigator")


def _empty_diary_trial(url: str) -> list[tuple[str, int, int]]:
    """A 3-patient trial with every infusion recorded and no diary yet; returns the
    (patient, period, day) keys that may be posted."""
    t = simulate_trial(PROTOCOL, seed=5, n_patients=3)
    trial = TrialData.from_tables(patients=t.patients, allocation=t.allocation, screening=t.screening, meta=t.meta)
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        demo.import_trial(Context(s, INV, make_settings(url), PROTOCOL), trial)
        s.commit()
        keys = [(p, k, d) for p, k in s.execute(select(Infusion.patient_id, Infusion.period)) for d in range(1, 36)]
    engine.dispose()
    return keys


def _post(sm, settings, key: tuple[str, int, int]) -> str:
    pid, period, day = key
    with sm() as s:
        ctx = Context(s, Actor(f"patient:{pid}", "patient"), settings, PROTOCOL)
        try:
            diary.submit_entry(ctx, pid, DiaryEntryCreate(period=period, day=day, avg_pain=(day % 11), night_pain=3))
            s.commit()
            return "stored"
        except Conflict:
            s.rollback()
            return "conflict"


def _check_stored_once(url: str, keys: list[tuple[str, int, int]]) -> None:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        stored = s.execute(select(DiaryEntry.patient_id, DiaryEntry.period, DiaryEntry.day)).all()
        assert sorted(map(tuple, stored)) == sorted(keys)  # each posted day once: none lost, none twice
        n_audit = s.execute(select(func.count(AuditLog.id))).scalar()
        assert s.execute(select(func.max(AuditLog.seq))).scalar() == n_audit  # seq 1..n, no gap, no fork
        check = verify_audit(s)
        assert check.ok, check.summary()
    engine.dispose()


def test_threads_post_each_day_twice(db_url):
    keys = random.Random(1).sample(_empty_diary_trial(db_url), 150)
    posts = keys + keys[::-1]  # every day posted twice, the copies far apart in time
    settings = make_settings(db_url)
    engine = make_engine(db_url, pool_size=8)
    sm = make_sessionmaker(engine)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda k: _post(sm, settings, k), posts))
    engine.dispose()
    assert outcomes.count("stored") == len(keys) and outcomes.count("conflict") == len(keys)
    _check_stored_once(db_url, keys)


def _process_worker(url: str, keys: list[tuple[str, int, int]], seed: int, out: multiprocessing.Queue) -> None:
    settings = make_settings(url)
    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    order = keys[:]
    random.Random(seed).shuffle(order)
    out.put([(k, _post(sm, settings, k)) for k in order])
    engine.dispose()


def test_processes_post_the_same_days(db_url):
    """4 processes each post the same 60 days in their own order: each day is stored by exactly one."""
    keys = random.Random(2).sample(_empty_diary_trial(db_url), 60)
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(db_url, keys, seed, q)) for seed in range(4)]
    for p in procs:
        p.start()
    results = [q.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    stored = sorted(k for r in results for k, what in r if what == "stored")
    assert stored == sorted(keys)
    assert sum(what == "conflict" for r in results for _, what in r) == 3 * len(keys)
    _check_stored_once(db_url, keys)


def test_http_posts_get_201_or_409_never_500(db_url):
    import uvicorn

    keys = random.Random(3).sample(_empty_diary_trial(db_url), 100)
    settings = make_settings(db_url)
    app = create_app(settings)
    tokens = {}
    with app.state.sessionmaker() as s:
        ctx = Context(s, INV, settings, PROTOCOL)
        for pid in sorted({k[0] for k in keys}):
            tokens[pid] = diary.issue_token(ctx, pid)
        s.commit()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    try:
        def post(key):
            pid, period, day = key
            with httpx.Client(base_url=base, timeout=60) as c:
                r = c.post("/api/v1/diary", json={"period": period, "day": day, "avg_pain": 4, "max_pain": 6},
                           headers={"X-Patient-Token": tokens[pid]})
            return key, r.status_code, r.text

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(post, keys + keys[::-1]))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.state.engine.dispose()
    codes = [code for _, code, _ in outcomes]
    assert set(codes) <= {201, 409}, [o for o in outcomes if o[1] not in (201, 409)][:3]
    assert sorted(k for k, code, _ in outcomes if code == 201) == sorted(keys)
    assert all("already" in text for _, code, text in outcomes if code == 409)
    _check_stored_once(db_url, keys)


def _serve(app):  # type: ignore[no-untyped-def]
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    return server, thread, f"http://127.0.0.1:{server.config.port}"


def test_100_clients_reading_and_writing_get_no_5xx(db_url):
    """Issue 17: 100 concurrent clients, each alternating a diary post (5% re-posts of a day already
    sent) and a read of its own diary. Bounded: 300 posts and 300 reads on 127.0.0.1. Every answer
    is 201, 409 (the re-post) or 200; nothing is lost or stored twice; the audit chain verifies.
    With every transaction taking SQLite's write lock (before issue 17) the reads queued behind
    the writes; with reads in plain BEGIN they never wait for one."""
    all_keys = _empty_diary_trial(db_url)
    rng = random.Random(17)
    keys = rng.sample(all_keys, 285)
    reposts = rng.sample(keys, 15)
    work = keys + reposts
    rng.shuffle(work)
    settings = make_settings(db_url)
    app = create_app(settings)
    with app.state.sessionmaker() as s:
        ctx = Context(s, INV, settings, PROTOCOL)
        tokens = {pid: diary.issue_token(ctx, pid) for pid in sorted({k[0] for k in all_keys})}
        s.commit()
    server, thread, base = _serve(app)
    local = threading.local()
    opened: list[httpx.Client] = []

    def one(key):
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=base, timeout=60)
            opened.append(local.c)
        pid, period, day = key
        headers = {"X-Patient-Token": tokens[pid]}
        w = local.c.post("/api/v1/diary", json={"period": period, "day": day, "avg_pain": 4, "max_pain": 6},
                         headers=headers)
        r = local.c.get("/api/v1/diary", headers=headers)
        return key, w.status_code, r.status_code, r.json() if r.status_code == 200 else r.text

    try:
        with ThreadPoolExecutor(100) as pool:
            outcomes = list(pool.map(one, work))
    finally:
        for c in opened:
            c.close()
        server.should_exit = True
        thread.join(timeout=30)
        app.state.engine.dispose()
    assert [o for o in outcomes if o[1] not in (201, 409) or o[2] != 200][:3] == []
    assert sorted(k for k, code, *_ in outcomes if code == 201) == sorted(keys)
    assert sum(code == 409 for _, code, *_ in outcomes) == len(reposts)
    for (_pid, period, day), _, _, listed in outcomes:  # a client reads what it wrote (or wrote before)
        assert any(e["period"] == period and e["day"] == day for e in listed)
    _check_stored_once(db_url, keys)


def test_reads_do_not_wait_for_a_writer(db_url):
    """A read session answers while another session holds an open write transaction, and a read
    session refuses to write (ReadOnlySessionError) before anything reaches the database."""
    from ketapain.capture.db import ReadOnlySessionError, read_only

    _empty_diary_trial(db_url)
    engine = make_engine(db_url)
    sm = make_sessionmaker(engine)
    with sm() as writer:
        writer.add(DiaryEntry(
            patient_id="X", period=1, day=1, server_time="t", entered_by="test"))
        writer.flush()  # the write transaction is open (SQLite: the write lock is held)
        done = threading.Event()

        def read() -> None:
            with sm() as reader:
                read_only(reader)
                reader.execute(select(func.count(DiaryEntry.id))).scalar()
                done.set()

        t = threading.Thread(target=read)
        t.start()
        assert done.wait(5), "a read waited for the open write transaction"
        t.join()
        writer.rollback()
    with sm() as reader:
        read_only(reader)
        reader.add(DiaryEntry(patient_id="X", period=1, day=1, server_time="t", entered_by="test"))
        with pytest.raises(ReadOnlySessionError, match="read session"):
            reader.flush()
        reader.rollback()
        with pytest.raises(ReadOnlySessionError, match="audit_log"):
            reader.execute(AuditLog.__table__.delete())
    engine.dispose()


def test_a_unique_key_clash_in_the_write_path_is_a_conflict(db_url):
    """What a racing writer meets when its existence check passed before the other's commit:
    the insert hits the unique key and the write path raises Conflict (409), naming the key."""
    from ketapain.capture import audit

    pid, period, day = _empty_diary_trial(db_url)[0]
    engine = make_engine(db_url)
    sm = make_sessionmaker(engine)
    row = {"patient_id": pid, "period": period, "day": day, "avg_pain": 2.0, "server_time": "2020-01-01T00:00:00+00:00", "entered_by": "x"}
    with sm() as s:
        audit.create(s, INV, DiaryEntry(**row), reason=None)
        s.commit()
    with sm() as s:
        duplicate = f"diary_entries: a record with the same patient_id='{pid}', period={period}, day={day} already exists"
        with pytest.raises(Conflict, match=duplicate):
            audit.create(s, INV, DiaryEntry(**row), reason=None)
        s.rollback()
        with pytest.raises(Conflict, match=r"diary_entries: a record with the same key already exists \(unique: patient_id, period, day\)"):
            audit.audited_bulk_insert(s, INV, DiaryEntry, [row], reason=None)
        s.rollback()
        assert verify_audit(s).ok
    engine.dispose()

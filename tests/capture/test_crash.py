"""Crash safety: a writer killed with SIGKILL in the middle of a large request leaves the
database consistent — the whole request is there with its audit rows, or nothing of it —
every acknowledged (committed) request is there, and the audit chain verifies."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import signal
import time

from sqlalchemy import func, select

from ketapain.capture.audit import Actor, verify_audit
from ketapain.capture.db import make_engine, make_sessionmaker
from ketapain.capture.models import AuditLog, DiaryEntry, Infusion
from ketapain.capture.schemas import DiaryEntryCreate
from ketapain.capture.services import Context, diary
from ketapain.protocol import load_protocol

from .conftest import make_settings
from .test_concurrency import _empty_diary_trial

PROTOCOL = load_protocol("ketapain")
DAYS = 35


def _entries() -> list[DiaryEntryCreate]:
    return [DiaryEntryCreate(period=1, day=d, avg_pain=d % 11, max_pain=(d + 2) % 11, night_pain=d % 7, extra_analgesics=d % 2 == 0,
                             device_time=dt.datetime(2020, 1, 1, 20, tzinfo=dt.UTC)) for d in range(1, DAYS + 1)]


def _request(sm, settings, pid: str, period: int) -> None:
    """One request: a whole period of one patient's diary (35 entries, ~500 audit rows)."""
    with sm() as s:
        ctx = Context(s, Actor("nurse1", "investigator"), settings, PROTOCOL)
        diary.submit_entries(ctx, pid, [e.model_copy(update={"period": period}) for e in _entries()], reason="paper diary")
        s.commit()


def _writer(url: str, groups: list[tuple[str, int]], acks: multiprocessing.Queue) -> None:
    """Write the groups one request at a time, acknowledging each after its commit."""
    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    for pid, period in groups:
        _request(sm, make_settings(url), pid, period)
        acks.put((pid, period))
    acks.put(None)


def _stalled_writer(url: str, pid: str, ready: multiprocessing.Event) -> None:
    """Write a patient's three periods (105 entries) in one transaction, then stall before commit."""
    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    with sm() as s:
        ctx = Context(s, Actor("nurse1", "investigator"), make_settings(url), PROTOCOL)
        diary.submit_entries(ctx, pid, [e.model_copy(update={"period": p}) for p in (1, 2, 3) for e in _entries()], reason="paper diary")
        s.flush()
        ready.set()
        time.sleep(600)  # killed here, inside the transaction
        s.commit()


def _state(url: str) -> tuple[dict[tuple[str, int], int], int, object]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        counts = {(p, k): n for p, k, n in s.execute(select(DiaryEntry.patient_id, DiaryEntry.period, func.count())
                                                     .group_by(DiaryEntry.patient_id, DiaryEntry.period))}
        n_audit = s.execute(select(func.count(AuditLog.id))).scalar()
        check = verify_audit(s)
    engine.dispose()
    return counts, n_audit, check


def _groups(url: str) -> list[tuple[str, int]]:
    keys = _empty_diary_trial(url)
    return sorted({(p, k) for p, k, _ in keys})


def test_kill_inside_the_transaction_leaves_nothing(db_url):
    groups = _groups(db_url)
    before = _state(db_url)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_stalled_writer, args=(db_url, groups[0][0], ready))
    child.start()
    assert ready.wait(timeout=300), "the writer never reached the middle of its transaction"
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=60)
    assert child.exitcode == -signal.SIGKILL
    counts, n_audit, check = _state(db_url)
    assert counts == {} and (counts, n_audit) == before[:2]  # neither the 105 entries nor their ~1,500 audit rows
    assert check.ok, check.summary()


def test_kill_at_random_moments_keeps_whole_requests(db_url):
    groups = _groups(db_url)
    rng = random.Random(7)
    acked: list[tuple[str, int]] = []
    ctx = multiprocessing.get_context("fork")
    for _round in range(3):
        todo = [g for g in groups if g not in _state(db_url)[0]]
        if not todo:
            break
        acks = ctx.Queue()
        child = ctx.Process(target=_writer, args=(db_url, todo, acks))
        child.start()
        first = acks.get(timeout=300)  # the writer is running: kill it a little later, mid-request
        if first is not None:
            acked.append(first)
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=60)
        while not acks.empty():
            item = acks.get()
            if item is not None:
                acked.append(item)
        counts, _, check = _state(db_url)
        assert check.ok, check.summary()
        assert set(acked) <= set(counts)  # every acknowledged request is there ...
        assert set(counts.values()) <= {DAYS}  # ... and every request is whole or absent
    _, _, check = _state(db_url)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as s:  # each stored entry carries its create audit rows
        n_diary_audit = s.execute(select(func.count(AuditLog.id)).where(AuditLog.table_name == "diary_entries")).scalar()
        # 12 non-empty fields per entry: patient_id, period, day, avg/max/night_pain, extra_analgesics,
        # device_time, server_time, late, entered_by, status (extra_analgesics_detail is empty)
        n_fields = s.execute(select(func.count(DiaryEntry.id))).scalar() * 12
        assert n_diary_audit == n_fields
        assert s.execute(select(func.count(Infusion.id))).scalar() == len(groups)
    engine.dispose()
    assert check.ok and len(acked) >= 3

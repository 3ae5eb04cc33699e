"""The group-commit writer (ketapain.capture.writer, issue 17) on SQLite and PostgreSQL: many
requests' writes in one transaction, a savepoint each, one commit. Exactly once under
concurrent posts and duplicates; a failing request fails alone (its audit rows too); nothing is
acknowledged before the commit (a failed commit fails every waiter and stores nothing); the
audit chain verifies after each."""

from __future__ import annotations

import asyncio
import random

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ketapain.capture import audit, create_app
from ketapain.capture.audit import Actor, verify_audit
from ketapain.capture.db import make_engine, make_sessionmaker
from ketapain.capture.models import AuditLog, Concomitant, DiaryEntry
from ketapain.capture.schemas import DiaryEntryCreate
from ketapain.capture.services import Context, diary
from ketapain.capture.writer import GroupWriter
from ketapain.errors import Conflict, DataError, NotSaved
from ketapain.protocol import load_protocol

from .conftest import make_settings
from .test_concurrency import INV, _empty_diary_trial

PROTOCOL = load_protocol("ketapain")


def _post_job(settings, key: tuple[str, int, int]):
    pid, period, day = key

    def job(session: Session) -> tuple[str, int, int, int]:
        ctx = Context(session, Actor(f"patient:{pid}", "patient"), settings, PROTOCOL)
        entry = diary.submit_entry(ctx, pid, DiaryEntryCreate(period=period, day=day, avg_pain=day % 11, night_pain=3))
        return pid, period, day, entry.id

    return job


async def _submit_all(writer: GroupWriter, jobs) -> list:
    return await asyncio.gather(*(writer.submit(job) for job in jobs), return_exceptions=True)


def _stored(url: str) -> tuple[list[tuple], int, bool, str]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        rows = sorted(map(tuple, s.execute(select(DiaryEntry.patient_id, DiaryEntry.period, DiaryEntry.day)).all()))
        n_audit = s.execute(select(func.count(AuditLog.id))).scalar()
        check = verify_audit(s)
    engine.dispose()
    return rows, n_audit, check.ok, check.summary()


def test_concurrent_posts_and_duplicates_are_stored_exactly_once(db_url):
    keys = random.Random(4).sample(_empty_diary_trial(db_url), 120)
    work = keys + random.Random(5).sample(keys, 30)  # 30 duplicates, some in the same batch as their first post
    random.Random(6).shuffle(work)
    settings = make_settings(db_url)
    engine = make_engine(db_url)
    writer = GroupWriter(make_sessionmaker(engine), max_batch=40)

    async def main() -> list:
        # three waves, so later posts of a day meet an entry committed by an earlier batch
        out = []
        for wave in (work[:50], work[50:100], work[100:]):
            out += await _submit_all(writer, [_post_job(settings, k) for k in wave])
        return out

    outcomes = asyncio.run(main())
    engine.dispose()
    assert max(writer.batches) > 1 and sum(writer.batches) == len(work)  # batched, every job run once
    stored = [o[:3] for o in outcomes if isinstance(o, tuple)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert sorted(stored) == sorted(keys) and len(conflicts) == 30, [o for o in outcomes if isinstance(o, Exception)][:3]
    rows, _n_audit, ok, summary = _stored(db_url)
    assert rows == sorted(keys)
    assert ok, summary


def test_a_failing_request_fails_alone_and_its_audit_rows_go_with_it(db_url):
    keys = _empty_diary_trial(db_url)[:6]
    settings = make_settings(db_url)
    engine = make_engine(db_url)
    writer = GroupWriter(make_sessionmaker(engine))

    def half_written(session: Session) -> None:
        # writes an audited row (and its audit rows, which advance the chain), then fails
        audit.create(session, INV, Concomitant(patient_id=keys[0][0], period=1, drug_class="opioid"), reason=None)
        raise DataError("drug_name: refused after the write", column="drug_name")

    def crashing(_session: Session) -> None:
        raise RuntimeError("a bug in a job")

    jobs = [_post_job(settings, keys[0]), half_written, _post_job(settings, keys[1]), crashing,
            _post_job(settings, keys[0]), _post_job(settings, keys[2])]
    outcomes = asyncio.run(_submit_all(writer, jobs))
    engine.dispose()
    assert list(writer.batches) == [6]  # one transaction
    assert [type(o).__name__ for o in outcomes] == ["tuple", "DataError", "tuple", "RuntimeError", "Conflict", "tuple"]
    rows, n_audit, ok, summary = _stored(db_url)
    assert rows == sorted(keys[:3])
    assert ok, summary  # the rolled-back audit rows left no gap and no fork in the chain
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as s:
        assert s.execute(select(func.count(Concomitant.id)).where(Concomitant.drug_class == "opioid",
                                                                  Concomitant.period == 1)).scalar() == 0
        assert s.execute(select(func.max(AuditLog.seq))).scalar() == n_audit
    engine.dispose()


def test_nothing_is_acknowledged_before_the_commit(db_url):
    """A commit that fails: every waiter of the batch gets NotSaved, none a result, and nothing
    of the batch is stored; the next batch commits normally."""
    keys = _empty_diary_trial(db_url)[:8]
    settings = make_settings(db_url)
    engine = make_engine(db_url)
    sm = make_sessionmaker(engine)
    fail = {"on": True}

    @event.listens_for(sm, "before_commit")
    def _refuse(_session: Session) -> None:
        if fail["on"]:
            raise OSError("disk full (injected)")

    writer = GroupWriter(sm)
    before = _stored(db_url)
    outcomes = asyncio.run(_submit_all(writer, [_post_job(settings, k) for k in keys[:5]]))
    assert all(isinstance(o, NotSaved) for o in outcomes), outcomes
    assert all("disk full (injected)" in str(o) and isinstance(o.__cause__, OSError) for o in outcomes)
    assert _stored(db_url) == before  # nothing stored, the chain as it was
    fail["on"] = False
    outcomes = asyncio.run(_submit_all(writer, [_post_job(settings, k) for k in keys[:5]]))
    engine.dispose()
    assert [o[:3] for o in outcomes] == keys[:5]  # sent again: stored once
    rows, _n, ok, summary = _stored(db_url)
    assert rows == sorted(keys[:5]) and ok, summary


def test_http_post_answers_503_when_the_batch_is_not_saved(db_url):
    """Through the app: the diary post of a failed batch (group commit on both backends)
    answers 503 with Retry-After and stores nothing; sent again it answers 201, then 409."""
    pid, period, day = _empty_diary_trial(db_url)[0]
    settings = make_settings(db_url)
    app = create_app(settings)
    assert isinstance(app.state.group_writer, GroupWriter)
    with app.state.sessionmaker() as s:
        token = diary.issue_token(Context(s, INV, settings, PROTOCOL), pid)
        s.commit()
    fail = {"on": True}

    @event.listens_for(app.state.sessionmaker, "before_commit")
    def _refuse(_session: Session) -> None:
        if fail["on"]:
            raise OSError("disk full (injected)")

    try:
        client = TestClient(app)
        post = lambda: client.post("/api/v1/diary", json={"period": period, "day": day, "avg_pain": 4},  # noqa: E731
                                   headers={"X-Patient-Token": token})
        r = post()
        assert r.status_code == 503 and r.headers["Retry-After"] == "1" and "not saved" in r.json()["detail"], r.text
        assert _stored(db_url)[0] == []
        fail["on"] = False
        assert post().status_code == 201
        assert post().status_code == 409
        bad = client.post("/api/v1/diary", json={"period": period, "day": day, "avg_pain": 4}, headers={"X-Patient-Token": "nope"})
        assert bad.status_code == 401
    finally:
        app.state.engine.dispose()
    rows, _n, ok, summary = _stored(db_url)
    assert rows == [(pid, period, day)] and ok, summary


def test_max_batch_is_checked():
    with pytest.raises(ValueError, match="max_batch=0"):
        GroupWriter(make_sessionmaker(make_engine("sqlite://")), max_batch=0)

"""The patients' diary posts of a group-commit batch stored together
(ketapain.capture.services.diary_batch, issue 17), on SQLite and PostgreSQL.

The reference for every answer is the single post (``diary.submit_entry`` after
``diary.patient_id_from_token``) run one by one, each in its savepoint, on the same database
state: the batch must give every post the same answer (the same error type and message, or the
same stored row) and leave the same diary rows and the same audit rows (who, what, field, old,
new, reason, in order). Each path runs in a transaction that is rolled back, so both start from
one state."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketapain.capture import audit
from ketapain.capture.audit import Actor, verify_audit
from ketapain.capture.db import make_engine, make_sessionmaker
from ketapain.capture.models import AuditLog, DiaryEntry, Infusion, Patient, Signature, Study
from ketapain.capture.schemas import DiaryEntryCreate
from ketapain.capture.services import Context, diary, diary_batch
from ketapain.capture.writer import BulkJob, GroupWriter
from ketapain.errors import AuthenticationFailed, DataError, StudyLocked

from .conftest import make_settings
from .test_concurrency import INV, PROTOCOL, _empty_diary_trial

_ROW_FIELDS = ["patient_id", "period", "day", "avg_pain", "max_pain", "night_pain", "extra_analgesics",
               "extra_analgesics_detail", "device_time", "server_time", "late", "entered_by", "status"]


def _one_by_one(session: Session, settings, posts, now: dt.datetime) -> list:
    """The reference: each post alone, in its savepoint, as the route's single job."""
    out = []
    for token, body in posts:
        try:
            with audit.savepoint(session):
                pid = diary.patient_id_from_token(session, settings.secret_key, token)
                ctx = Context(session, Actor(f"patient:{pid}", "patient"), settings, PROTOCOL)
                entry = diary.submit_entry(ctx, pid, body, received_at=now)
                out.append({f: getattr(entry, f) for f in _ROW_FIELDS})
        except Exception as exc:
            out.append(exc)
    return out


def _answers(outcomes: list) -> list:
    return [(type(o).__name__, str(o)) if isinstance(o, Exception) else {f: o[f] for f in _ROW_FIELDS} for o in outcomes]


def _written(session: Session, seq0: int) -> tuple[list, list]:
    """The diary rows and the audit rows written after audit row ``seq0`` (ids left out)."""
    rows = session.execute(select(*[getattr(DiaryEntry, f) for f in _ROW_FIELDS]).order_by(
        DiaryEntry.patient_id, DiaryEntry.period, DiaryEntry.day)).all()
    trail = session.execute(select(AuditLog.username, AuditLog.action, AuditLog.table_name, AuditLog.field,
                                   AuditLog.old_value, AuditLog.new_value, AuditLog.reason)
                            .where(AuditLog.seq > seq0).order_by(AuditLog.seq)).all()
    return [tuple(r) for r in rows], [tuple(r) for r in trail]


@pytest.fixture
def trial(db_url):
    """The 3-patient trial with links: patient 0 and 1 active links, patient 2 withdrawn, a
    revoked link of patient 0; patient 1's period 2 infusion entered in error; patient 0 period
    1 day 1 already stored. Yields (sessionmaker, settings, tokens, keys, now)."""
    keys = _empty_diary_trial(db_url)
    settings = make_settings(db_url)
    engine = make_engine(db_url)
    sm = make_sessionmaker(engine)
    with sm() as s:
        ctx = Context(s, INV, settings, PROTOCOL)
        pids = sorted({k[0] for k in keys})
        old = diary.issue_token(ctx, pids[0])
        diary.revoke_tokens(ctx, pids[0], reason="phone lost")
        tokens = {"p0": diary.issue_token(ctx, pids[0]), "p1": diary.issue_token(ctx, pids[1]),
                  "p2": diary.issue_token(ctx, pids[2]), "revoked": old, "unknown": "not-a-token"}
        audit.update(s, INV, s.execute(select(Patient).where(Patient.patient_id == pids[2])).scalar_one(),
                     {"status": "withdrawn"}, reason="withdrew consent")
        inf = s.execute(select(Infusion).where(Infusion.patient_id == pids[1], Infusion.period == 2)).scalar_one()
        audit.update(s, INV, inf, {"status": "entered_in_error"}, reason="wrong patient")
        last = s.execute(select(Infusion.infusion_date).order_by(Infusion.infusion_date.desc()).limit(1)).scalar_one()
        now = dt.datetime.combine(last, dt.time(12), tzinfo=dt.UTC) + dt.timedelta(days=10)
        diary.submit_entry(Context(s, Actor(f"patient:{pids[0]}", "patient"), settings, PROTOCOL), pids[0],
                           DiaryEntryCreate(period=1, day=1, avg_pain=5), received_at=now)
        s.commit()
        late_period = {row[0]: row[1] for row in s.execute(
            select(Infusion.patient_id, Infusion.period).where(Infusion.infusion_date == last))}
    yield sm, settings, tokens, pids, late_period, now
    engine.dispose()


def _mixed_posts(tokens, pids, late_period) -> list[tuple[str, DiaryEntryCreate]]:
    """Every answer a post can get, in one batch."""
    e = lambda period, day, **kw: DiaryEntryCreate(period=period, day=day, avg_pain=day % 11, **kw)  # noqa: E731
    future_pid = next(iter(late_period))
    future_token = tokens["p0"] if future_pid == pids[0] else tokens["p1"] if future_pid == pids[1] else None
    posts = [
        (tokens["p0"], e(1, 2, night_pain=3.5, extra_analgesics=True, extra_analgesics_detail="tramadol 50 mg",
                         device_time=dt.datetime(2026, 1, 2, 21, 30, tzinfo=dt.UTC))),  # stored
        (tokens["p0"], e(1, 1)),  # day stored before the batch: 409
        (tokens["p1"], e(1, 5)),  # stored
        (tokens["p1"], e(1, 5)),  # the same day again in the batch: 409, as one after another
        (tokens["p1"], e(2, 3)),  # period 2's infusion entered in error: not started, 409
        (tokens["p1"], e(1, 36)),  # day beyond the protocol's 35: 422
        (tokens["p1"], e(4, 1)),  # period beyond the protocol's 3: 422
        (tokens["revoked"], e(1, 7)),  # 401 unknown or revoked
        (tokens["unknown"], e(1, 7)),  # 401 unknown or revoked
        (tokens["p2"], e(1, 7)),  # 401 patient not active
        (tokens["p0"], e(3, 35, max_pain=9)),  # stored (or in the future: see below)
    ]
    if future_token is not None:
        posts.append((future_token, e(late_period[future_pid], 20)))  # 10 days after the last infusion: 422 future
    return posts


def _both_paths(sm, settings, posts, now, prepare=lambda s: None):
    """(answers, written) of the batch and of one by one, from the same state."""
    results = []
    for path in ("batch", "one by one"):
        with sm() as s:
            prepare(s)
            seq0 = s.execute(select(AuditLog.seq).order_by(AuditLog.seq.desc()).limit(1)).scalar_one()
            if path == "batch":
                with audit.savepoint(s):
                    got = diary_batch.submit_own_posts(s, settings, PROTOCOL, posts, now=now)
            else:
                got = _one_by_one(s, settings, posts, now)
            s.flush()
            assert verify_audit(s).ok, verify_audit(s).summary()
            results.append((_answers(got), _written(s, seq0), got))
            s.rollback()
    return results


def test_a_batch_answers_every_post_as_one_by_one(trial):
    sm, settings, tokens, pids, late_period, now = trial
    posts = _mixed_posts(tokens, pids, late_period)
    (answers, written, got), (ref_answers, ref_written, _ref) = _both_paths(sm, settings, posts, now)
    assert answers == ref_answers
    assert written == ref_written  # same diary rows, same audit rows in the same order
    kinds = [a[0] if isinstance(a, tuple) else "stored" for a in answers]
    assert kinds.count("stored") >= 3 and {"Conflict", "DataError", "AuthenticationFailed"} <= set(kinds), kinds
    # the messages the patient sees (read off diary.submit_entry / patient_id_from_token)
    assert answers[3] == ("Conflict", f"the diary of patient {pids[1]} period 1 day 5 is already filled in; "
                                      "a change needs a reason")
    assert answers[4] == ("Conflict", f"period 2 of patient {pids[1]} has not started (no infusion recorded)")
    assert answers[5] == ("DataError", "day=36 is outside 1..35 (days_per_period of the protocol)")
    assert answers[7] == answers[8] == ("AuthenticationFailed", "this diary link is not valid (unknown or revoked)")
    assert answers[9] == ("AuthenticationFailed", "this diary link is not valid (patient not active)")
    assert isinstance(got[5], DataError) and got[5].column == "day"
    assert "in the future" in answers[-1][1], answers[-1]  # the last post: 10 days after the last infusion, day 20
    assert all("id" in o for o in got if isinstance(o, dict))  # the stored rows carry their ids
    # each entry's audit rows are its patient's
    assert {row[0] for row in written[1] if row[2] == "diary_entries"} == {f"patient:{pids[0]}", f"patient:{pids[1]}"}


def test_a_locked_study_refuses_every_post_that_passed_its_checks(trial):
    sm, settings, tokens, pids, late_period, now = trial
    posts = _mixed_posts(tokens, pids, late_period)
    lock = lambda s: audit.update(s, INV, s.execute(select(Study)).scalar_one(), {"locked": True}, reason="lock")  # noqa: E731
    (answers, written, got), (ref_answers, ref_written, _ref) = _both_paths(sm, settings, posts, now, lock)
    assert answers == ref_answers
    assert written == ref_written and written[1] == []  # nothing written
    assert isinstance(got[0], StudyLocked) and isinstance(got[2], StudyLocked)
    assert isinstance(got[3], StudyLocked)  # the second post of a day meets the lock too (the first was not stored)
    assert isinstance(got[5], DataError) and isinstance(got[7], AuthenticationFailed)


def test_a_signed_casebook_sends_the_batch_one_by_one(trial):
    """The single post voids the signature with a reason naming its entry: the batch raises
    RunAlone before writing, and the group writer then runs the posts one by one."""
    sm, settings, tokens, pids, _late, now = trial
    with sm() as s:
        audit.create(s, INV, Signature(patient_id=pids[0], signed_by="inv", full_name="Dr Inv", meaning="casebook",
                                       signed_at=audit.utc_now()), reason=None)
        s.commit()
    posts = [(tokens["p0"], DiaryEntryCreate(period=1, day=9, avg_pain=2)),
             (tokens["p1"], DiaryEntryCreate(period=1, day=9, avg_pain=2))]
    with sm() as s:
        seq0 = s.execute(select(AuditLog.seq).order_by(AuditLog.seq.desc()).limit(1)).scalar_one()
        with pytest.raises(diary_batch.RunAlone, match="signed casebook"), audit.savepoint(s):
            diary_batch.submit_own_posts(s, settings, PROTOCOL, posts, now=now)
        assert _written(s, seq0)[1] == []

    calls = []

    def many(session, items):
        calls.append(len(items))
        return diary_batch.submit_own_posts(session, settings, PROTOCOL, items, now=now)

    def alone(token, body):
        return lambda session: _one_by_one(session, settings, [(token, body)], now)[0]

    writer = GroupWriter(sm)

    async def main():
        return await asyncio.gather(*(writer.submit(BulkJob(alone(t, b), many, (t, b))) for t, b in posts))

    out = asyncio.run(main())
    assert calls == [2] and list(writer.batches) == [2]
    assert [o["patient_id"] for o in out] == [pids[0], pids[1]]
    with sm() as s:
        sig = s.execute(select(Signature).where(Signature.patient_id == pids[0])).scalar_one()
        assert sig.status == "void" and sig.void_reason.startswith("diary_entries record ")  # the single post's reason
        assert verify_audit(s).ok


def test_a_bulk_write_refused_as_a_whole_falls_back_to_one_by_one(trial):
    """A day stored by a writer outside the batch after the batch's check (PostgreSQL: another
    transaction) makes the multi-row insert fail: the batch's savepoint is rolled back and each
    post gets its own answer one by one (the clashing day 409, the others stored)."""
    sm, settings, tokens, pids, _late, now = trial
    posts = [(tokens["p0"], DiaryEntryCreate(period=1, day=d, avg_pain=1)) for d in (11, 12, 13)]

    with sm() as s:  # day 12 stored by another writer...
        diary.submit_entry(Context(s, Actor(f"patient:{pids[0]}", "patient"), settings, PROTOCOL), pids[0],
                           DiaryEntryCreate(period=1, day=12, avg_pain=7), received_at=now)
        s.commit()

    def many(session, items):
        real = diary_batch._known_days

        def known(*a):  # ...after the batch's check read the stored days (the race, as on PostgreSQL)
            starts, taken = real(*a)
            return starts, taken - {(pids[0], 1, 12)}

        diary_batch._known_days = known
        try:
            return diary_batch.submit_own_posts(session, settings, PROTOCOL, items, now=now)
        finally:
            diary_batch._known_days = real

    alone = lambda t, b: lambda session: _one_by_one(session, settings, [(t, b)], now)[0]  # noqa: E731
    writer = GroupWriter(sm)

    async def main():
        return await asyncio.gather(*(writer.submit(BulkJob(alone(t, b), many, (t, b))) for t, b in posts))

    out = asyncio.run(main())
    assert [o["day"] if isinstance(o, dict) else type(o).__name__ for o in out] == [11, "Conflict", 13]
    with sm() as s:
        days = s.execute(select(DiaryEntry.day, DiaryEntry.avg_pain).where(
            DiaryEntry.patient_id == pids[0], DiaryEntry.period == 1).order_by(DiaryEntry.day)).all()
        assert [tuple(r) for r in days] == [(1, 5.0), (11, 1.0), (12, 7.0), (13, 1.0)]
        assert verify_audit(s).ok


def test_bulk_insert_with_one_actor_per_row_and_a_wrong_count(trial):
    sm, _settings, _tokens, pids, _late, _now = trial
    rows = [{"patient_id": pids[0], "period": 1, "day": 30, "server_time": "t", "entered_by": "a"},
            {"patient_id": pids[1], "period": 1, "day": 30, "server_time": "t", "entered_by": "b"}]
    with sm() as s:
        seq0 = s.execute(select(AuditLog.seq).order_by(AuditLog.seq.desc()).limit(1)).scalar_one()
        with pytest.raises(TypeError, match="actors: 1 given for 2 rows"):
            audit.audited_bulk_insert(s, INV, DiaryEntry, rows, reason=None, actors=[INV])
        assert _written(s, seq0)[1] == []  # refused before anything was written
        audit.audited_bulk_insert(s, INV, DiaryEntry, rows, reason=None,
                                  actors=[Actor("patient:a", "patient"), Actor("patient:b", "patient")])
        by_record = {}
        for rid, user in s.execute(select(AuditLog.record_id, AuditLog.username).where(AuditLog.seq > seq0)):
            by_record.setdefault(rid, set()).add(user)
        assert sorted(map(sorted, by_record.values())) == [["patient:a"], ["patient:b"]]
        s.rollback()


"""The bulk audited write path: same audit rows as one ``create`` per row, one verifiable
chain, tampering with a bulk-written row found and named; vectorised compliance and
questionnaire scoring equal the one-at-a-time code on the demo trial."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.app import prepare_database
from ketapain.capture.audit import Actor, audited_bulk_insert, verify_audit
from ketapain.capture.db import make_engine, make_sessionmaker
from ketapain.capture.models import AuditLog, Concomitant, DiaryEntry, Infusion, Study
from ketapain.capture.schemas import DiaryEntryCreate
from ketapain.capture.services import Context, demo, diary
from ketapain.errors import Conflict, StudyLocked
from ketapain.instruments import score
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

from .conftest import make_settings

INV = Actor("inv", "investigator")
PROTOCOL = load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial():
    return simulate_trial(PROTOCOL, seed=20200154, n_patients=3)


@pytest.fixture
def demo_db(db_url, trial):
    """A database holding the 3-patient demo trial, imported through the bulk path."""
    engine = make_engine(db_url)
    settings = make_settings(db_url)
    prepare_database(engine, settings, demo=True, demo_patients=3)  # simulate_trial(seed=20200154), as ``trial``
    yield engine, make_sessionmaker(engine), settings
    engine.dispose()


def _content(s, start: int) -> list[tuple]:
    """Audit rows without time and hash; record ids replaced by their rank (PostgreSQL does
    not give back the ids of a rolled-back insert)."""
    rows = [
        tuple(r)
        for r in s.execute(
            select(
                AuditLog.action,
                AuditLog.table_name,
                AuditLog.record_id,
                AuditLog.field,
                AuditLog.old_value,
                AuditLog.new_value,
                AuditLog.reason,
            )
            .where(AuditLog.seq > start)
            .order_by(AuditLog.seq)
        )
    ]
    rank = {rid: k for k, rid in enumerate(dict.fromkeys(r[2] for r in rows))}
    return [(*r[:2], rank[r[2]], *r[3:]) for r in rows]


ROWS = [
    {"patient_id": "P001", "period": 0, "drug_class": "opioid", "drug_name": None},
    {"patient_id": "P001", "period": 1, "drug_class": "opioid", "drug_name": "tramadol"},
    {"patient_id": "P002", "period": 0, "drug_class": "gabapentinoid", "drug_name": "pregabalin", "status": "active"},
]


def test_bulk_writes_the_same_audit_rows_as_one_create_per_row(db_url):
    engine = make_engine(db_url)
    prepare_database(engine, make_settings(db_url))
    sm = make_sessionmaker(engine)
    with sm() as s:
        start = s.execute(select(AuditLog.seq).order_by(AuditLog.seq.desc())).scalar()
        for r in ROWS:
            audit.create(s, INV, Concomitant(**{"status": "active", **r}), reason="import")
        one_by_one = _content(s, start)
        s.rollback()
    with sm() as s:
        ids = audited_bulk_insert(s, INV, "concomitant", ROWS, reason="import")
        s.commit()
        bulk = _content(s, start)
        assert len(ids) == 3 and ids == sorted(ids)
        # who/what/old/new/reason per field, in the same order
        assert bulk == one_by_one
        # one row per non-empty field: 4 + 5 + 5 (status is filled from the column default)
        assert len(bulk) == 14 and [b[3] for b in bulk[:4]] == ["patient_id", "period", "drug_class", "status"]
        rows = s.execute(select(AuditLog).where(AuditLog.seq > start).order_by(AuditLog.seq)).scalars().all()
        assert {r.username for r in rows} == {"inv"} and len({r.at for r in rows}) == 1
        assert [r.seq for r in rows] == list(range(start + 1, start + 1 + len(rows)))
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
        assert verify_audit(s).ok
    engine.dispose()


def test_bulk_converts_numpy_and_nan_to_what_the_column_reads_back(db_url):
    import numpy as np

    engine = make_engine(db_url)
    prepare_database(engine, make_settings(db_url))
    with make_sessionmaker(engine)() as s:
        [i] = audited_bulk_insert(
            s,
            INV,
            DiaryEntry,
            [
                {
                    "patient_id": "P009",
                    "period": np.int64(1),
                    "day": 2.0,
                    "avg_pain": np.int64(4),
                    "max_pain": float("nan"),
                    "night_pain": np.float64(3.5),
                    "extra_analgesics": np.bool_(True),
                    "server_time": "2020-01-01T00:00:00+00:00",
                    "entered_by": "inv",
                }
            ],
            reason="r",
        )
        s.commit()
        new = dict(
            s.execute(
                select(AuditLog.field, AuditLog.new_value).where(AuditLog.record_id == str(i), AuditLog.table_name == "diary_entries")
            ).all()
        )
        assert new["avg_pain"] == "4.0" and new["day"] == "2" and new["extra_analgesics"] == "true" and "max_pain" not in new
        assert new["late"] == "false" and new["status"] == "active"  # column defaults are filled and audited
        assert verify_audit(s).ok
        with pytest.raises(TypeError, match=r"diary_entries has no field colour \(row 0\)"):
            audited_bulk_insert(s, INV, DiaryEntry, [{"colour": "red"}], reason="r")
        with pytest.raises(TypeError, match="audit_log is not an audited table"):
            audited_bulk_insert(s, INV, "audit_log", [{}], reason="r")
    engine.dispose()


def test_demo_import_verifies_and_tampering_with_a_bulk_row_is_named(demo_db, trial):
    engine, sm, _ = demo_db
    with sm() as s:
        check = verify_audit(s)
        assert check.ok, check.summary()
        n_diary = s.execute(select(DiaryEntry.id)).all()
        filled = trial.diary[["avg_pain", "max_pain", "night_pain"]].notna().any(axis=1).sum()
        assert len(n_diary) == filled
        # every bulk-written diary row has one create audit row per non-empty field, with the reason
        e = (
            s.execute(
                select(DiaryEntry)
                .where(DiaryEntry.avg_pain.is_not(None), DiaryEntry.avg_pain != 9.5, DiaryEntry.night_pain.is_not(None))
                .order_by(DiaryEntry.id.desc())
                .limit(1)
            )
            .scalars()
            .one()
        )
        audited = dict(
            s.execute(
                select(AuditLog.field, AuditLog.new_value).where(
                    AuditLog.table_name == "diary_entries",
                    AuditLog.record_id == str(e.id),
                    AuditLog.action == "create",
                    AuditLog.reason == demo.DEMO_REASON,
                    AuditLog.username == "demo",
                )
            ).all()
        )
        assert audited == {c: audit.dump(getattr(e, c)) for c in audit._columns(e) if getattr(e, c) is not None}
        target = e.id
        seq = s.execute(
            select(AuditLog.seq).where(
                AuditLog.table_name == "diary_entries", AuditLog.record_id == str(target), AuditLog.field == "night_pain"
            )
        ).scalar()
    with engine.begin() as c:
        c.exec_driver_sql(f"UPDATE diary_entries SET avg_pain = 9.5 WHERE id = {target}")
    with sm() as s:
        check = verify_audit(s)
        assert not check.ok
        assert check.problems == (
            (
                f"diary_entries record {target} field avg_pain: holds '9.5' but the audit trail last "
                f"recorded {audit.dump(e.avg_pain)!r} (changed outside the app)"
            ),
        )
    with engine.begin() as c:
        c.exec_driver_sql(f"UPDATE diary_entries SET avg_pain = {e.avg_pain!r} WHERE id = {target}")
        c.exec_driver_sql(f"UPDATE audit_log SET new_value = '0.0' WHERE seq = {seq}")
    with sm() as s:
        problems = verify_audit(s).problems
        assert any(
            p.startswith(f"audit row seq={seq} ")
            and f"diary_entries record {target} field night_pain" in p
            and "does not match its hash" in p
            for p in problems
        )


def test_submit_entries_is_all_or_nothing(demo_db):
    _, sm, settings = demo_db
    with sm() as s:
        ctx = Context(s, INV, settings, PROTOCOL)
        pid = s.execute(select(Infusion.patient_id)).scalars().first()
        before = s.execute(select(AuditLog.seq).order_by(AuditLog.seq.desc())).scalar()
        taken = s.execute(select(DiaryEntry.period, DiaryEntry.day).where(DiaryEntry.patient_id == pid)).first()
        with pytest.raises(Conflict, match=f"patient {pid} period {taken[0]} day {taken[1]} is already filled in"):
            diary.submit_entries(ctx, pid, [DiaryEntryCreate(period=taken[0], day=taken[1], avg_pain=1)])
        s.rollback()
        with pytest.raises(Conflict, match=r"entry 2 .*given twice"):
            diary.submit_entries(ctx, pid, [DiaryEntryCreate(period=1, day=99 % 35 + 1, avg_pain=1)] * 2)
        s.rollback()
        with pytest.raises(Exception, match=re.escape("day=36 is outside 1..35")):
            diary.submit_entries(ctx, pid, [DiaryEntryCreate(period=1, day=36, avg_pain=1)])
        s.rollback()
        assert s.execute(select(AuditLog.seq).order_by(AuditLog.seq.desc())).scalar() == before


def test_bulk_refused_after_lock(demo_db):
    _, sm, _ = demo_db
    with sm() as s:
        audit.update(s, INV, s.execute(select(Study)).scalars().one(), {"locked": True}, reason="lock")
        with pytest.raises(StudyLocked):
            audited_bulk_insert(s, INV, Concomitant, ROWS, reason="late")


def _compliance_loop(ctx: Context, today: dt.date) -> list[dict]:
    """The per-day Python loop that ``diary.compliance`` replaced (kept verbatim as the oracle)."""
    days = ctx.protocol.diary.days_per_period
    have: dict[str, set[tuple[int, int]]] = {}
    for pid, per, d in ctx.session.execute(
        select(DiaryEntry.patient_id, DiaryEntry.period, DiaryEntry.day).where(DiaryEntry.status == "active")
    ):
        have.setdefault(pid, set()).add((per, d))
    out: dict[str, dict] = {}
    infusions = ctx.session.execute(
        select(Infusion).where(Infusion.status == "active").order_by(Infusion.patient_id, Infusion.period)
    ).scalars()
    for inf in infusions:
        rec = out.setdefault(
            inf.patient_id, {"patient_id": inf.patient_id, "days_due": 0, "days_entered": 0, "missing": [], "missing_today": False}
        )
        due = max(0, min(days, (today - inf.infusion_date).days))
        got = have.get(inf.patient_id, set())
        rec["days_due"] += due
        for d in range(1, due + 1):
            if (inf.period, d) in got:
                rec["days_entered"] += 1
            else:
                rec["missing"].append([inf.period, d])
        today_day = (today - inf.infusion_date).days
        if 1 <= today_day <= days and (inf.period, today_day) not in got:
            rec["missing_today"] = True
    return list(out.values())


def test_vectorised_compliance_equals_the_loop_on_the_demo(demo_db):
    _, sm, settings = demo_db
    with sm() as s:
        ctx = Context(s, INV, settings, PROTOCOL)
        starts = {(p, k): d for p, k, d in s.execute(select(Infusion.patient_id, Infusion.period, Infusion.infusion_date))}
        dates = sorted(starts.values())
        after = dt.date.today() + dt.timedelta(days=400)
        # days on which some patient's diary is missing (so missing_today is exercised)
        gaps = [starts[(r["patient_id"], p)] + dt.timedelta(days=d) for r in _compliance_loop(ctx, after) for p, d in r["missing"][:2]]
        # before the first infusion, inside every period, after the trial
        todays = [
            dates[0] - dt.timedelta(days=3),
            dates[0],
            *(d + dt.timedelta(days=k) for d in dates[::4] for k in (1, 17, 35, 36)),
            *gaps,
            after,
        ]
        seen_missing_today = seen_missing = False
        for today in todays:
            new, old = diary.compliance(ctx, today=today), _compliance_loop(ctx, today)
            assert new == old, today
            seen_missing_today |= any(r["missing_today"] for r in new)
            seen_missing |= any(r["missing"] for r in new)
        assert seen_missing and seen_missing_today  # the comparison covered both kinds of gap
        # a patient whose period started today has nothing due and nothing missing
        assert diary.compliance(ctx, today=dates[0])[0]["days_due"] == 0


def test_compliance_without_infusions_is_empty(db_url):
    engine = make_engine(db_url)
    settings = make_settings(db_url)
    prepare_database(engine, settings)
    with make_sessionmaker(engine)() as s:
        assert diary.compliance(Context(s, INV, settings, PROTOCOL)) == []
    engine.dispose()


def test_vectorised_questionnaire_scores_equal_score(demo_db, trial):
    _, sm, _ = demo_db
    from ketapain.capture.models import QuestionnaireResponse

    with sm() as s:
        stored = {(r.patient_id, r.visit, r.instrument): r for r in s.execute(select(QuestionnaireResponse)).scalars()}
    groups = trial.questionnaires.groupby(["patient_id", "visit", "instrument"], sort=False)
    assert len(stored) == groups.ngroups
    for (pid, visit, inst), grp in groups:
        answers = {str(i): (None if pd.isna(v) else v) for i, v in zip(grp["item"], grp["value"], strict=True)}
        ref = {k: v for k, v in score(inst, answers, incomplete="missing").items() if v is None or isinstance(v, bool | int | float | str)}
        got = stored[(pid, visit, inst)].scores
        assert got.keys() == ref.keys()
        for k, v in ref.items():
            if isinstance(v, float) and not isinstance(got[k], bool) and got[k] is not None:
                assert math.isclose(got[k], v, rel_tol=1e-12, abs_tol=1e-12), (pid, visit, inst, k)
            else:
                assert got[k] == v and type(got[k]) is type(v), (pid, visit, inst, k, got[k], v)


def _compliance_loop_tables(inf: list[tuple], got: list[tuple], today: dt.date, days: int) -> list[dict]:
    """The former loop of ``diary.compliance``, on plain tuples (oracle for the property test)."""
    have: dict[str, set[tuple[int, int]]] = {}
    for pid, per, d in got:
        have.setdefault(pid, set()).add((per, d))
    out: dict[str, dict] = {}
    for pid, period, start in inf:
        rec = out.setdefault(pid, {"patient_id": pid, "days_due": 0, "days_entered": 0, "missing": [], "missing_today": False})
        due = max(0, min(days, (today - start).days))
        rec["days_due"] += due
        for d in range(1, due + 1):
            if (period, d) in have.get(pid, set()):
                rec["days_entered"] += 1
            else:
                rec["missing"].append([period, d])
        today_day = (today - start).days
        if 1 <= today_day <= days and (period, today_day) not in have.get(pid, set()):
            rec["missing_today"] = True
    return list(out.values())


@st.composite
def _diaries(draw):
    base = dt.date(2020, 1, 1)
    inf = sorted(
        {
            (f"P{p}", k): base + dt.timedelta(days=draw(st.integers(0, 120)))
            for p in draw(st.sets(st.integers(1, 4), max_size=4))
            for k in draw(st.sets(st.integers(1, 3), min_size=1))
        }.items()
    )
    got = draw(st.sets(st.tuples(st.sampled_from(["P1", "P2", "P3", "P4"]), st.integers(1, 3), st.integers(1, 40)), max_size=60))
    today = base + dt.timedelta(days=draw(st.integers(-5, 200)))
    return [(p, k, d) for (p, k), d in inf], sorted(got), today, draw(st.sampled_from([1, 7, 35]))


@hyp_settings(max_examples=150, deadline=None)
@given(_diaries())
def test_vectorised_compliance_equals_the_loop_property(case):
    inf, got, today, days = case
    new = diary._compliance_table(
        pd.DataFrame(inf, columns=["patient_id", "period", "infusion_date"]),
        pd.DataFrame(got, columns=["patient_id", "period", "day"]),
        today=today,
        days=days,
    )
    assert new == _compliance_loop_tables(inf, got, today, days)

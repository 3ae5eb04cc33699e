"""``ketapain backup`` / ``ketapain restore``: a SQLite or PostgreSQL study backed up while it
runs and restored into either backend with every row (values and types) equal and the audit
chain verified; changed archives, non-empty targets and existing outputs are refused."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from ketapain.capture.audit import Actor, verify_audit
from ketapain.capture.backup import backup_database, restore_database
from ketapain.capture.db import make_engine, make_sessionmaker, upgrade
from ketapain.capture.models import Base, Infusion
from ketapain.capture.schemas import DiaryEntryCreate
from ketapain.capture.services import Context, demo, diary
from ketapain.cli import app
from ketapain.data import TrialData
from ketapain.errors import Conflict
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

from .conftest import fresh_pg_database, make_settings

PROTOCOL = load_protocol("ketapain")
INV = Actor("inv", "investigator")
runner = CliRunner()


def _study(url: str, *, diary_entries: bool = True) -> None:
    t = simulate_trial(PROTOCOL, seed=5, n_patients=3)
    trial = t if diary_entries else TrialData.from_tables(patients=t.patients, allocation=t.allocation,
                                                          screening=t.screening, meta=t.meta)
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        demo.import_trial(Context(s, INV, make_settings(url), PROTOCOL), trial)
        s.commit()
    engine.dispose()


def _contents(url: str) -> dict[str, list[tuple[tuple[object, str], ...]]]:
    """Every table's rows in id order, each value with its Python type's name."""
    engine = make_engine(url)
    out = {}
    with engine.connect() as conn:
        for t in Base.metadata.sorted_tables:
            out[t.name] = [tuple((v, type(v).__name__) for v in row) for row in conn.execute(select(t).order_by(t.c.id))]
        out["alembic_version"] = [tuple(r) for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    engine.dispose()
    return out


@pytest.fixture
def new_url(request, tmp_path):
    """A factory of new, empty databases of a backend ("sqlite" or "postgresql")."""
    stack: list = []
    made = iter(range(1000))

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'new{next(made)}.sqlite'}"
        cm = fresh_pg_database("ketapain_restore")
        stack.append(cm)
        return cm.__enter__()

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.mark.parametrize("source", ["sqlite", "postgresql"])
def test_backup_restores_into_both_backends_with_equal_rows(source, new_url, tmp_path):
    src = new_url(source)
    _study(src)
    archive = tmp_path / "backup.zip"
    made = runner.invoke(app, ["backup", "--db", src, "--out", str(archive)])
    assert made.exit_code == 0, made.output
    assert "backup written to" in made.output
    with zipfile.ZipFile(archive) as zf:
        assert "manifest.json" in zf.namelist() and "tables/audit_log.jsonl" in zf.namelist()
    expected = _contents(src)
    assert len(expected["diary_entries"]) > 50 and len(expected["audit_log"]) > 1000
    for target in ("sqlite", "postgresql"):
        dst = new_url(target)
        done = runner.invoke(app, ["restore", str(archive), "--db", dst])
        assert done.exit_code == 0, done.output
        assert "audit trail OK" in done.output
        assert _contents(dst) == expected
        engine = make_engine(dst)
        with make_sessionmaker(engine)() as s:
            assert verify_audit(s).ok
        engine.dispose()


def test_postgresql_sequences_continue_after_restore(new_url, tmp_path):
    src, dst = new_url("sqlite"), new_url("postgresql")
    _study(src, diary_entries=False)
    archive = backup_database(src, tmp_path / "b.zip").path
    assert restore_database(archive, dst).ok
    engine = make_engine(dst)
    with make_sessionmaker(engine)() as s:  # a new audited row gets the next id, not a clash
        pid, period = s.execute(select(Infusion.patient_id, Infusion.period)).first()
        diary.submit_entry(Context(s, Actor(f"patient:{pid}", "patient"), make_settings(dst), PROTOCOL), pid,
                           DiaryEntryCreate(period=period, day=1, avg_pain=3, night_pain=3))
        s.commit()
        assert verify_audit(s).ok
    engine.dispose()


def _rewrite(archive: Path, member: str, change) -> None:
    with zipfile.ZipFile(archive) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    items[member] = change(items[member])
    with zipfile.ZipFile(archive, "w") as zf:
        for n, data in items.items():
            zf.writestr(n, data)


@pytest.mark.parametrize("damage", ["one byte", "truncated member", "truncated file"])
def test_a_changed_archive_is_refused_and_nothing_written(damage, new_url, tmp_path):
    src = new_url("sqlite")
    _study(src, diary_entries=False)
    archive = backup_database(src, tmp_path / "b.zip").path
    if damage == "one byte":
        _rewrite(archive, "tables/patients.jsonl", lambda b: b.replace(b'"M"', b'"F"', 1) if b'"M"' in b else b.replace(b'"F"', b'"M"', 1))
    elif damage == "truncated member":
        _rewrite(archive, "tables/audit_log.jsonl", lambda b: b[: len(b) // 2])
    else:
        archive.write_bytes(archive.read_bytes()[:-200])
    target = tmp_path / "target.sqlite"
    done = runner.invoke(app, ["restore", str(archive), "--db", f"sqlite:///{target}"])
    assert done.exit_code == 1
    assert done.output.startswith(f"error: {archive}:"), done.output
    assert "Traceback" not in done.output and len(done.output.strip().splitlines()) == 1
    assert not target.exists()


def test_a_non_empty_target_is_refused(new_url, tmp_path):
    src = new_url("sqlite")
    _study(src, diary_entries=False)
    archive = backup_database(src, tmp_path / "b.zip").path
    before = _contents(src)
    done = runner.invoke(app, ["restore", str(archive), "--db", src])
    assert done.exit_code == 1
    assert "is not empty" in done.output and src.split("///")[1] in done.output
    assert _contents(src) == before


def test_an_existing_out_is_refused_without_overwrite(new_url, tmp_path):
    src = new_url("sqlite")
    _study(src, diary_entries=False)
    out = tmp_path / "b.zip"
    out.write_text("keep me")
    done = runner.invoke(app, ["backup", "--db", src, "--out", str(out)])
    assert done.exit_code == 1 and "--overwrite" in done.output and str(out) in done.output
    assert out.read_text() == "keep me"
    assert runner.invoke(app, ["backup", "--db", src, "--out", str(out), "--overwrite"]).exit_code == 0
    assert zipfile.is_zipfile(out)


def test_errors_name_the_database_without_its_password(tmp_path, monkeypatch):
    url = "postgresql+psycopg://postgres:hunter2pw@127.0.0.1:1/nothing"
    for args in (["backup", "--db", url, "--out", str(tmp_path / "b.zip")],):
        done = runner.invoke(app, args)
        assert done.exit_code == 1 and done.output.startswith("error: ")
        assert "hunter2pw" not in done.output and "127.0.0.1:1/nothing" in done.output
    missing = tmp_path / "none.sqlite"
    monkeypatch.setenv("KETAPAIN_DATABASE_URL", f"sqlite:///{missing}")
    done = runner.invoke(app, ["backup", "--out", str(tmp_path / "b.zip")])
    assert done.exit_code == 1 and str(missing) in done.output and not missing.exists()
    done = runner.invoke(app, ["restore", str(tmp_path / "absent.zip")])
    assert done.exit_code == 1 and "absent.zip" in done.output
    src = tmp_path / "s.sqlite"
    _study(f"sqlite:///{src}", diary_entries=False)
    archive = backup_database(f"sqlite:///{src}", tmp_path / "b.zip").path
    done = runner.invoke(app, ["restore", str(archive), "--db", url])
    assert done.exit_code == 1 and done.output.startswith("error: ") and len(done.output.strip().splitlines()) == 1
    assert "hunter2pw" not in done.output and "127.0.0.1:1/nothing" in done.output


@pytest.mark.parametrize("source", ["sqlite", "postgresql"])
def test_a_backup_taken_while_diaries_are_posted_restores_to_a_verifying_chain(source, new_url, tmp_path):
    src = new_url(source)
    _study(src, diary_entries=False)
    engine = make_engine(src)
    sm, settings = make_sessionmaker(engine), make_settings(src)
    with sm() as s:
        keys = [(p, k, d) for p, k in s.execute(select(Infusion.patient_id, Infusion.period)) for d in range(1, 36)]
    stop, begun, posted = threading.Event(), [], []

    def writer() -> None:
        for pid, period, day in keys:
            if stop.is_set():
                return
            begun.append(day)
            with sm() as s:
                ctx = Context(s, Actor(f"patient:{pid}", "patient"), settings, PROTOCOL)
                try:
                    diary.submit_entry(ctx, pid, DiaryEntryCreate(period=period, day=day, avg_pain=day % 11, night_pain=3))
                    s.commit()
                    posted.append(day)
                except Conflict:
                    s.rollback()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(posted) < 5 and thread.is_alive():
            threading.Event().wait(0.01)
        before = len(posted)
        made = backup_database(src, tmp_path / "live.zip")
        after = len(begun)
    finally:
        stop.set()
        thread.join()
    engine.dispose()
    # every entry acknowledged before the backup began is in it; none begun after it ended
    assert 0 < before <= made.rows["diary_entries"] <= after
    dst = new_url("sqlite")
    done = restore_database(made.path, dst)
    assert done.ok, done.summary()
    assert done.rows["diary_entries"] == made.rows["diary_entries"]


def _reseal(archive: Path, member: str, change) -> None:
    """Change a member and write its new SHA-256 and row count into the manifest (a forged archive)."""
    import hashlib
    import json

    with zipfile.ZipFile(archive) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    items[member] = change(items[member])
    manifest = json.loads(items["manifest.json"])
    name = member.removeprefix("tables/").removesuffix(".jsonl")
    manifest["tables"][name]["sha256"] = hashlib.sha256(items[member]).hexdigest()
    items["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(archive, "w") as zf:
        for n, data in items.items():
            zf.writestr(n, data)


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_a_restore_whose_chain_does_not_verify_exits_1_and_keeps_nothing(target, new_url, tmp_path):
    src = new_url("sqlite")
    _study(src, diary_entries=False)
    archive = backup_database(src, tmp_path / "b.zip").path
    _reseal(archive, "tables/patients.jsonl", lambda b: b.replace(b'"M"', b'"X"', 1) if b'"M"' in b else b.replace(b'"F"', b'"X"', 1))
    dst = new_url(target)
    done = runner.invoke(app, ["restore", str(archive), "--db", dst])
    assert done.exit_code == 1
    assert "undone: the audit chain does not verify" in done.output and "audit trail BROKEN" in done.output
    assert "patients record" in done.output
    if target == "sqlite":
        assert not Path(dst.split("///")[1]).exists()
    else:  # the tables were made in the load's transaction: the database is left as it was, without tables
        engine = make_engine(dst)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
        again = runner.invoke(app, ["restore", str(backup_database(src, tmp_path / "ok.zip").path), "--db", dst])
        assert again.exit_code == 0, again.output


def test_an_archive_from_an_unknown_revision_is_refused(new_url, tmp_path):
    import json

    src = new_url("sqlite")
    _study(src, diary_entries=False)
    archive = backup_database(src, tmp_path / "b.zip").path
    _rewrite(archive, "manifest.json", lambda b: json.dumps({**json.loads(b), "alembic_revision": "9999"}).encode())
    target = tmp_path / "t.sqlite"
    done = runner.invoke(app, ["restore", str(archive), "--db", f"sqlite:///{target}"])
    assert done.exit_code == 1 and "revision '9999' is not one this ketapain knows" in done.output, done.output
    assert not target.exists()

"""Audit at scale (issue 17): the audit listing and ``verify_audit`` on a 1 M-row trail.

Run from the repository root::

    python benchmarks/bench_audit.py [--rows 1000000] [--backends sqlite postgresql]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For each backend, a migrated empty database (PostgreSQL: a temporary database, dropped at the
end) gets ``--rows`` chained audit rows (synthetic: 12 tables, allocation and spare-kit rows
among them, 5,000 records per table), written by executemany in batches. Then, each the median
of 15 calls of ``services.audit_log.read_audit`` (a page of 100 rows, newest first): the
admin's first page, a blinded monitor's first page (the blinded rows filtered in SQL), the
monitor's page at offset 10,000, one table, one record. Last, ``verify_audit`` over the whole
trail: seconds and the growth of the process's peak RSS (it streams the rows in batches).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import uuid
import warnings
from pathlib import Path

TABLES = ("diary_entries", "patients", "visits", "questionnaire_responses", "adverse_events", "concomitant",
          "infusions", "allocations", "spare_kits", "screenings", "users", "data_queries")
FIELDS = ("status", "avg_pain", "treatment", "sequence", "used_for", "visit_date", None)


def fill(url: str, n_rows: int) -> float:
    """Write ``n_rows`` chained audit rows; returns seconds."""
    from sqlalchemy import insert

    from ketapain.capture.audit import GENESIS, row_hash
    from ketapain.capture.db import make_engine, upgrade
    from ketapain.capture.models import AuditLog

    engine = make_engine(url)
    upgrade(engine)
    t = time.perf_counter()
    prev, batch = GENESIS, []
    with engine.begin() as conn:
        for seq in range(1, n_rows + 1):
            table, field = TABLES[seq % len(TABLES)], FIELDS[seq % len(FIELDS)]
            rec = str(seq % 5000)
            h = row_hash(seq, "2026-12-07T00:00:00+00:00", "nurse", "update", table, rec, field, "1", "2", None, prev)
            batch.append({"seq": seq, "at": "2026-12-07T00:00:00+00:00", "username": "nurse", "action": "update",
                          "table_name": table, "record_id": rec, "field": field, "old_value": "1", "new_value": "2",
                          "reason": None, "prev_hash": prev, "hash": h})
            prev = h
            if len(batch) == 50_000:
                conn.execute(insert(AuditLog), batch)
                batch = []
        if batch:
            conn.execute(insert(AuditLog), batch)
    engine.dispose()
    return time.perf_counter() - t


def pages(url: str) -> dict[str, float]:
    """Median milliseconds of the listing calls of the module docstring."""
    from ketapain.capture.audit import Actor
    from ketapain.capture.db import make_engine, make_sessionmaker, read_only
    from ketapain.capture.services import Context, audit_log
    from ketapain.protocol import load_protocol

    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    protocol = load_protocol("ketapain")
    from ketapain.capture import Settings

    settings = Settings(database_url=url, secret_key="b" * 40)
    runs = {"admin, first page": ("admin", {}), "monitor (blinded), first page": ("monitor", {}),
            "monitor, offset 10,000": ("monitor", {"offset": 10_000}),
            "monitor, one table": ("monitor", {"table": "visits"}),
            "monitor, one record": ("monitor", {"table": "visits", "record_id": "42"})}
    out = {}
    for name, (role, kw) in runs.items():
        times = []
        for _ in range(15):
            with sm() as s:
                read_only(s)
                ctx = Context(s, Actor(role, role, 1), settings, protocol)
                t = time.perf_counter()
                rows = audit_log.read_audit(ctx, limit=100, **kw)
                times.append((time.perf_counter() - t) * 1e3)
            assert rows, name
        out[name] = statistics.median(times)
    engine.dispose()
    return out


def verify(url: str) -> tuple[float, float, int]:
    """(seconds, peak RSS growth in MB, rows) of verify_audit."""
    from ketapain.capture.audit import verify_audit
    from ketapain.capture.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with make_sessionmaker(engine)() as s:
        result = verify_audit(s)
    took = time.perf_counter() - t
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    engine.dispose()
    return took, grew, result.n_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from sqlalchemy import create_engine, text

    for backend in args.backends:
        tmp = tempfile.TemporaryDirectory()
        admin, name = None, None
        if backend == "sqlite":
            url = f"sqlite:///{Path(tmp.name) / 'audit.sqlite'}"
        else:
            admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
            name = f"ketapain_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            url = args.pg.rsplit("/", 1)[0] + "/" + name
        try:
            took = fill(url, args.rows)
            print(f"\n## {backend}: {args.rows:,} audit rows written in {took:.1f} s")
            print("| listing (100 rows) | median ms |\n|---|---|")
            for run, ms in pages(url).items():
                print(f"| {run} | {ms:.1f} |")
            secs, grew, n = verify(url)
            print(f"verify_audit: {n:,} rows in {secs:.1f} s; peak RSS grew {grew:.0f} MB")
        finally:
            tmp.cleanup()
            if admin is not None:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()

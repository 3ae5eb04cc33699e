"""Where a diary post's time goes under load: py-spy samples of the capture server (issue 17).

Run from the repository root (``py-spy`` on PATH or given with ``--py-spy``)::

    python benchmarks/profile_capture.py [--backend sqlite|postgresql] [--clients 100] [--posts 1200]

Starts the server of ``bench_capture.py`` (one uvicorn worker in a child process) over a trial
with no diary, then records the child with ``py-spy record --format raw`` (every thread, on-CPU
samples only, plus ``--gil``: only samples of the thread holding the GIL) while ``--clients``
raw-socket clients post diary entries with no think time. Prints the share of the samples per
phase of a post (HTTP and the event loop, FastAPI/pydantic, the token check, the service's
queries, the audit rows, the commit), summed over every thread: with one process the GIL makes
this the CPU each post costs, which bounds posts/s whatever the database does.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_capture as bc

# (phase, substring of a frame "function (file:line)"). A stack goes to the innermost frame
# matching a SPECIFIC phase (the work of a post), else to the innermost matching a GENERAL one.
SPECIFIC: list[tuple[str, str]] = [
    ("commit (SQL COMMIT, fsync)", "commit (sqlalchemy/engine/default.py"),
    ("commit (SQL COMMIT, fsync)", "_commit_impl"),
    ("audit rows (hash, insert)", "_write_audit"),
    ("audit: lock and signature cache", "_cache (ketapain/capture/audit.py"),
    ("audit: chain tail (advisory lock, last row)", "_tail (ketapain/capture/audit.py"),
    ("ORM insert of the entry (flush)", "flush (sqlalchemy/orm/session.py"),
    ("service checks (patient, infusion, exists)", "submit_entry (ketapain/capture/services/diary.py"),
    ("token check (2 queries)", "patient_from_token"),
    ("group-commit writer (queue, savepoints)", "ketapain/capture/writer.py"),
    ("session open/close, rollback", "get_session"),
]
GENERAL: list[tuple[str, str]] = [
    ("response model (pydantic, JSON)", "serialize_response"),
    ("request body (pydantic)", "request_body_to_args"),
    ("request body (pydantic)", "solve_dependencies"),
    ("FastAPI/Starlette routing, middleware", "starlette"),
    ("FastAPI/Starlette routing, middleware", "fastapi"),
    ("HTTP parsing and event loop (uvicorn, asyncio)", "uvicorn"),
    ("HTTP parsing and event loop (uvicorn, asyncio)", "asyncio"),
    ("thread hand-off (anyio)", "anyio"),
]


def classify(stack: str) -> str:
    """The phase of one collapsed stack (outermost frame first, frames separated by ``;``)."""
    frames = stack.split(";")
    for table in (SPECIFIC, GENERAL):
        for frame in reversed(frames):
            for phase, needle in table:
                if needle in frame:
                    return phase
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--posts", type=int, default=1200)
    ap.add_argument("--gil", action="store_true", help="count only samples holding the GIL")
    ap.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--db-prefix", default="ketapain_profile")
    ap.add_argument("--keep", type=Path, help="also write py-spy's collapsed stacks to this file")
    args = ap.parse_args()
    from sqlalchemy import create_engine, text

    tmp = tempfile.TemporaryDirectory()
    admin, name = None, None
    if args.backend == "sqlite":
        url = f"sqlite:///{Path(tmp.name) / 'profile.sqlite'}"
    else:
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        name = f"{args.db_prefix}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.pg.rsplit("/", 1)[0] + "/" + name
    try:
        keys = bc.empty_diary_trial(url, -(-args.posts // 105) + 1)[: args.posts]
        proc, base = bc.start_server(url)
        out = Path(tmp.name) / "stacks.txt"
        spy = subprocess.Popen([args.py_spy, "record", "--pid", str(proc.pid), "--format", "raw", "--rate", "250",
                                "--output", str(out), "--nonblocking", *(["--gil"] if args.gil else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        host, port = base.removeprefix("http://").split(":")
        counts = {"5xx": 0, "timeout": 0, "other": 0}

        def post(key: tuple) -> tuple:
            _pid, period, day, token = key
            body = json.dumps({"period": period, "day": day, "avg_pain": 4, "max_pain": 6, "night_pain": 3}).encode()
            return "POST", "/api/v1/diary", body, (("X-Patient-Token", token),)

        t = time.perf_counter()
        rate, p50, p99 = asyncio.run(bc._closed_loop(host, int(port), args.clients, keys, post, counts))
        wall = time.perf_counter() - t
        spy.send_signal(2)
        spy.wait(timeout=60)
        proc.terminate()
        proc.wait(timeout=30)
        if args.keep:
            shutil.copy(out, args.keep)
        phases: collections.Counter[str] = collections.Counter()
        for line in out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            phases[classify(stack)] += int(n)
        total = sum(phases.values())
        print(f"# {args.backend}, {args.clients} clients, {len(keys)} posts: {rate:.0f} posts/s, p50 {p50:.0f} ms, "
              f"p99 {p99:.0f} ms, {counts}; load average {os.getloadavg()[0]:.1f}")
        print(f"# py-spy samples at 250/s{' holding the GIL' if args.gil else ' on CPU'}: {total} "
              f"= {total / 250 / wall:.2f} cores busy over {wall:.1f} s, {total / 250 / len(keys) * 1e3:.2f} ms per post")
        print("| phase | share of samples | ms per post |\n|---|---|---|")
        for phase, n in phases.most_common():
            print(f"| {phase} | {n / total:.0%} | {n / 250 / len(keys) * 1e3:.2f} |")
    finally:
        tmp.cleanup()
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()

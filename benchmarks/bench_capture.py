"""Capture backend speed: demo import, diary posts per second, audit verification.

Run from the repository root::

    python benchmarks/bench_capture.py [--backends sqlite postgresql] [--patients 12] [--posts 300]
        [--clients 8] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For each backend (PostgreSQL: a temporary database on the given server, dropped at the end):

1. **demo import**: ``demo.import_trial`` of ``simulate_trial(seed=20200154, n_patients=12)``
   (12 patients x 3 periods x 35 diary days, ~350 questionnaires, ~18,000 audit rows) into a
   migrated empty database, one transaction (simulation and migrations not counted);
2. **audit verify**: ``verify_audit`` on that database, reported per 10,000 audit rows;
3. **diary posts over HTTP**: a uvicorn server (``create_app``, one worker) in a child
   process; ``POST /api/v1/diary`` with a patient link token (one entry per request: validate,
   insert, ~12 audit rows, commit), first sequentially then from ``--clients`` concurrent
   client threads (each request a distinct patient/day). Posts per second and p50/p99
   latency, beside ``GET /healthz`` (a database ``SELECT 1``: the server's ceiling).
   Every post must answer 201.
4. **load matrix** (``--load 8 32 50 100``, issue 17): for each number of concurrent clients,
   ``GET /healthz`` and then diary posts (600 each, 5% of the posts re-sent: 409 expected) from
   that many client connections (asyncio, raw HTTP/1.1 keep-alive, no think time), each request
   with a 10 s timeout; requests/s, p50/p99, the posts/healthz
   ratio, 5xx answers and client timeouts per backend. Nothing else answers than 201/409/200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SECRET = "bench-secret-" + "k" * 40


def settings(url: str):
    from ketapain.capture import Settings
    from ketapain.capture.config import DEFAULT_WORKER_THREADS

    threads = int(os.environ.get("KETAPAIN_WORKER_THREADS", DEFAULT_WORKER_THREADS))  # the server's own setting
    return Settings(database_url=url, secret_key=SECRET, admin_user="admin", admin_password="bench-password-1",
                    randomisation_seed=11, randomisation_patients=12, worker_threads=threads)


def serve(url: str, port: int) -> None:
    """Child process: the app on 127.0.0.1:port."""
    import uvicorn

    from ketapain.capture import create_app

    uvicorn.run(create_app(settings(url)), host="127.0.0.1", port=port, log_level="error")


def import_demo(url: str, n_patients: int) -> tuple[float, float, int]:
    """(import s, verify s, audit rows) of the demo trial into an empty database."""
    from ketapain.capture.audit import Actor, verify_audit
    from ketapain.capture.db import make_engine, make_sessionmaker, upgrade
    from ketapain.capture.services import Context, demo
    from ketapain.protocol import load_protocol
    from ketapain.simulate import simulate_trial

    protocol = load_protocol("ketapain")
    trial = simulate_trial(protocol, seed=20200154, n_patients=n_patients)
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        t = time.perf_counter()
        demo.import_trial(Context(s, Actor("demo", "investigator"), settings(url), protocol), trial)
        s.commit()
        t_import = time.perf_counter() - t
        t = time.perf_counter()
        check = verify_audit(s)
        t_verify = time.perf_counter() - t
    engine.dispose()
    if not check.ok:
        raise SystemExit(check.summary())
    return t_import, t_verify, check.n_rows


def empty_diary_trial(url: str, n_patients: int) -> list[tuple[str, int, int, str]]:
    """A trial with infusions and no diary; returns (patient, period, day, token) to post."""
    from sqlalchemy import select

    from ketapain.capture.audit import Actor
    from ketapain.capture.db import make_engine, make_sessionmaker, upgrade
    from ketapain.capture.models import Infusion
    from ketapain.capture.services import Context, demo, diary
    from ketapain.data import TrialData
    from ketapain.protocol import load_protocol
    from ketapain.simulate import simulate_trial

    protocol = load_protocol("ketapain")
    t = simulate_trial(protocol, seed=5, n_patients=n_patients)
    trial = TrialData.from_tables(patients=t.patients, allocation=t.allocation, screening=t.screening, meta=t.meta)
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        ctx = Context(s, Actor("inv", "investigator"), settings(url), protocol)
        demo.import_trial(ctx, trial)
        tokens = {pid: diary.issue_token(ctx, pid) for pid in t.patients["patient_id"]}
        s.commit()
        keys = [(p, k, d, tokens[p]) for p, k in s.execute(select(Infusion.patient_id, Infusion.period)) for d in range(1, 36)]
    engine.dispose()
    keys.sort(key=lambda x: (x[2], x[1], x[0]))  # interleave patients
    return keys


def start_server(url: str) -> tuple[subprocess.Popen, str]:
    """The app over ``url`` in a child process on a free port, answering ``/healthz``:
    (process, base URL). The caller terminates the process."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", url, str(port)])
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(base + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, base


def http_bench(url: str, keys, *, posts: int, clients: int) -> dict[str, tuple[float, float, float]]:
    import httpx

    proc, base = start_server(url)
    try:
        local = threading.local()

        def client() -> httpx.Client:
            if not hasattr(local, "c"):
                local.c = httpx.Client(base_url=base, timeout=120)
            return local.c

        def post(key) -> float:
            _pid, period, day, token = key
            t = time.perf_counter()
            r = client().post("/api/v1/diary", json={"period": period, "day": day, "avg_pain": 4, "max_pain": 6, "night_pain": 3},
                              headers={"X-Patient-Token": token})
            if r.status_code != 201:
                raise SystemExit(f"diary post answered {r.status_code}: {r.text}")
            return time.perf_counter() - t

        def health(_key: object) -> float:
            t = time.perf_counter()
            client().get("/healthz").raise_for_status()
            return time.perf_counter() - t

        out = {}
        seq, par = keys[:posts], keys[posts:3 * posts]
        for name, fn, work, n_clients in [("healthz, sequential", health, range(posts), 1), ("diary post, sequential", post, seq, 1),
                                          (f"healthz, {clients} clients", health, range(2 * posts), clients),
                                          (f"diary post, {clients} clients", post, par, clients)]:
            t = time.perf_counter()
            with ThreadPoolExecutor(n_clients) as pool:
                lat = list(pool.map(fn, work))
            wall = time.perf_counter() - t
            q = statistics.quantiles(lat, n=100)
            out[name] = (len(lat) / wall, q[49] * 1e3, q[98] * 1e3)
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str,
                    body: bytes, headers: tuple[tuple[str, str], ...]) -> int:
    """One HTTP/1.1 request on a kept-alive connection; returns the status code (body read and dropped)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    if body:
        head += "Content-Type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    writer.write(head.encode() + b"\r\n" + body)
    status = await reader.readline()
    if not status:
        raise ConnectionError("the server closed the connection")
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status.split()[1])


async def _closed_loop(host: str, port: int, n_clients: int, items: list, request, counts: dict[str, int]) -> tuple:
    """``n_clients`` connections, each sending its next item as soon as the last was answered
    (no think time): (requests/s, p50 ms, p99 ms). A request not answered in 10 s counts as a
    timeout (the connection is then replaced)."""
    todo = list(reversed(items))
    lat: list[float] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while todo:
                t = time.perf_counter()
                try:
                    code = await asyncio.wait_for(_exchange(reader, writer, *request(todo.pop())), 10)
                except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                    code = -1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                lat.append(time.perf_counter() - t)
                kind = "timeout" if code == -1 else "5xx" if code >= 500 else None if code in (200, 201, 409) else "other"
                if kind:
                    counts[kind] += 1
        finally:
            writer.close()

    t = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(n_clients)))
    wall = time.perf_counter() - t
    q = statistics.quantiles(lat, n=100)
    return len(lat) / wall, q[49] * 1e3, q[98] * 1e3


def _load_run(base: str, n_clients: int, work: list, per_run: int) -> tuple:
    """One row of :func:`load_matrix`: healthz then ``work`` (diary posts) from ``n_clients``
    connections. The client is asyncio over raw sockets, one thread: it costs the shared cores
    little (100 httpx client threads took more CPU than the server and capped what was measured)."""
    host, port = base.removeprefix("http://").split(":")
    counts = {"5xx": 0, "timeout": 0, "other": 0}

    def post(key) -> tuple:
        _pid, period, day, token = key
        body = json.dumps({"period": period, "day": day, "avg_pain": 4, "max_pain": 6, "night_pain": 3}).encode()
        return "POST", "/api/v1/diary", body, (("X-Patient-Token", token),)

    h_rate, _h50, h99 = asyncio.run(_closed_loop(host, int(port), n_clients, list(range(per_run)),
                                                 lambda _i: ("GET", "/healthz", b"", ()), counts))
    p_rate, p50, p99 = asyncio.run(_closed_loop(host, int(port), n_clients, work, post, counts))
    return (n_clients, h_rate, h99, p_rate, p50, p99, p_rate / h_rate, counts["5xx"], counts["timeout"], counts["other"])


def load_matrix(url: str, keys, *, clients: list[int], per_run: int = 600) -> list[tuple]:
    """Rows (clients, healthz/s, healthz p99 ms, posts/s, p50 ms, p99 ms, ratio, 5xx, timeouts)."""
    import random


    proc, base = start_server(url)
    rows = []
    try:
        rng = random.Random(17)
        todo = list(keys)
        for n_clients in clients:
            fresh, todo = todo[:per_run - per_run // 20], todo[per_run - per_run // 20:]
            work = fresh + rng.sample(fresh, per_run // 20)
            rng.shuffle(work)
            rows.append(_load_run(base, n_clients, work, per_run))
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--patients", type=int, default=12)
    ap.add_argument("--posts", type=int, default=300, help="sequential posts; twice as many concurrent ones")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--load", type=int, nargs="+", metavar="CLIENTS",
                    help="only the load matrix (issue 17) with these numbers of concurrent clients, e.g. 8 32 50 100")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--db-prefix", default="ketapain_bench",
                    help="name prefix of the temporary PostgreSQL databases (the server may be shared)")
    ap.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    import tempfile

    from sqlalchemy import create_engine, text

    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"python {platform.python_version()}")
    def new_db(backend: str, tmp: str, admin, made: list[str]) -> str:
        if backend == "sqlite":
            return f"sqlite:///{Path(tmp) / uuid.uuid4().hex}.sqlite"
        name = f"{args.db_prefix}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return args.pg.rsplit("/", 1)[0] + "/" + name

    for backend in args.backends:
        made: list[str] = []
        tmp = tempfile.TemporaryDirectory()
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT") if backend == "postgresql" else None
        try:
            if args.load:
                url = new_db(backend, tmp.name, admin, made)
                keys = empty_diary_trial(url, -(-600 * len(args.load) // 105) + 1)
                print(f"\n## {backend}: load matrix\n| clients | healthz/s | healthz p99 ms | posts/s | post p50 ms | post p99 ms "
                      "| posts/healthz | 5xx | timeouts | other |\n|---|---|---|---|---|---|---|---|---|---|")
                for row in load_matrix(url, keys, clients=args.load):
                    n, hr, h99, pr, p50, p99, ratio, e5, to, other = row
                    print(f"| {n} | {hr:.0f} | {h99:.0f} | {pr:.0f} | {p50:.0f} | {p99:.0f} | {ratio:.0%} | {e5} | {to} | {other} |")
                continue
            t_import, t_verify, n_rows = import_demo(new_db(backend, tmp.name, admin, made), args.patients)
            print(f"\n## {backend}")
            print(f"demo import ({args.patients} patients, {n_rows} audit rows): {t_import:.2f} s")
            print(f"verify_audit: {t_verify:.2f} s = {t_verify / n_rows * 1e4:.2f} s per 10,000 audit rows")
            url = new_db(backend, tmp.name, admin, made)
            keys = empty_diary_trial(url, max(args.patients, -(-3 * args.posts // 105)))
            print("| run | requests/s | p50 ms | p99 ms |\n|---|---|---|---|")
            for name, (rate, p50, p99) in http_bench(url, keys, posts=args.posts, clients=args.clients).items():
                print(f"| {name} | {rate:.0f} | {p50:.1f} | {p99:.1f} |")
        finally:
            tmp.cleanup()
            if admin is not None:
                with admin.connect() as c:
                    for name in made:
                        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()

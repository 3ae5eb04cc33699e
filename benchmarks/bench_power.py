"""Power-sweep throughput: trials simulated and analysed per second, end to end, against lme4.

Run from the repository root::

    python benchmarks/bench_power.py [--protocol ketapain] [--n 18] [--sims 20000] [--workers 1 2 4]
                                     [--repeats 3] [--lme4-fits 200]

Each repeat, in one run: ``simulate_power(protocol, n=..., sims=..., seed=1)`` (block diary
generator -> primary AUC -> batched crossover fit -> counts) serially, then on a Dask
``ketapain.simulate.local_cluster(W)`` for each W (W single-threaded worker processes; cluster
start-up reported separately, not counted; results checked equal to the serial run bit for
bit), and R ``lme4::lmer`` fitting ``--lme4-fits`` trials of the same sweep
(``benchmarks/bench_power_r.R``, timed inside R; skipped without ``Rscript`` and lme4). The
benchmark process sets glibc's malloc as a serial ``ketapain power`` does
(``ketapain.simulate.SWEEP_MALLOC_ENV``, the settings of ``local_cluster``'s workers). The
ratio to lme4's fit rate uses the rates of the same repeat. ``uptime`` (load average) is
printed before and after each repeat. Last, a cProfile of one serial sweep splits the time
into the diary generator, the AUC and the fit.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def load() -> str:
    """The load averages (1, 5, 15 min) from ``os.getloadavg``."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def lme4_rate(protocol: str, n: int, fits: int) -> tuple[float, str] | None:
    """lme4 fits per second on ``fits`` trials of the sweep (None without R and lme4)."""
    if shutil.which("Rscript") is None:
        return None
    from ketapain.simulate import _power as pw
    from ketapain.simulate import _power_sim as ps

    captured = {}
    real = pw._run

    def grab(spec, *a):  # type: ignore[no-untyped-def]
        captured["spec"] = spec  # the sweep's settings, as simulate_power builds them
        return real(spec, *a)

    pw._run = grab
    try:
        pw.simulate_power(protocol, n=[n], sims=1, seed=1)
    finally:
        pw._run = real
    spec = captured["spec"]
    auc, seq, arm = ps._simulate_block(spec, n, 0)
    frame = ps._frame(spec, auc[:fits], seq[:fits], arm[:fits]).dropna()
    with tempfile.TemporaryDirectory() as tmp:
        csv, out = Path(tmp) / "trials.csv", Path(tmp) / "out.json"
        frame.to_csv(csv, index=False)
        res = subprocess.run(["Rscript", str(Path(__file__).with_name("bench_power_r.R")), str(csv), str(out)],
                             capture_output=True, text=True, check=False)
        if res.returncode != 0:
            print("lme4 skipped:", res.stderr.strip().splitlines()[-1:])
            return None
        r = json.loads(out.read_text())
    return r["fits"] / r["seconds"], f"{r['R']}, lme4 {r['lme4']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="ketapain")
    ap.add_argument("--n", type=int, nargs="+", default=[18])
    ap.add_argument("--sims", type=int, default=20000)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lme4-fits", type=int, default=200)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from dask.distributed import Client

    # this process's malloc as `ketapain power` sets it for a serial sweep (local_cluster's workers get the same)
    from ketapain.cli._common import set_malloc
    from ketapain.simulate import SWEEP_MALLOC_ENV, local_cluster, simulate_power

    set_malloc(mmap_threshold=int(SWEEP_MALLOC_ENV["MALLOC_MMAP_THRESHOLD_"]),
               trim_threshold=int(SWEEP_MALLOC_ENV["MALLOC_TRIM_THRESHOLD_"]))
    total = args.sims * len(args.n)
    kw = {"n": args.n, "sims": args.sims, "seed": 1}
    simulate_power(args.protocol, n=args.n, sims=500, seed=9)  # warm imports and caches
    rows = []
    for rep in range(1, args.repeats + 1):
        print(f"repeat {rep}: before: {load()}")
        t, c = time.perf_counter(), time.process_time()
        serial = simulate_power(args.protocol, **kw)
        ts, cs = time.perf_counter() - t, time.process_time() - c
        row = {"repeat": rep, "serial": total / ts, "serial_cpu": total / cs}
        print(f"  serial: {total} trials in {ts:.2f} s = {total / ts:,.0f} trials/s "
              f"({total / cs:,.0f} per CPU second of this process)")
        for w in args.workers:
            t = time.perf_counter()
            with local_cluster(w) as cl, Client(cl) as client:
                tc = time.perf_counter() - t
                client.run(lambda: __import__("ketapain.simulate._power_sim"))  # warm imports on the workers
                t = time.perf_counter()
                dist = simulate_power(args.protocol, client=client, **kw)
                td = time.perf_counter() - t
            row[f"dask{w}"] = total / td
            print(f"  dask {w} workers: {total / td:,.0f} trials/s ({td:.2f} s; cluster start {tc:.1f} s, not counted); "
                  f"{ts / td:.2f}x serial; equal to serial: {dist.to_dict() == serial.to_dict()}")
        lme = lme4_rate(args.protocol, args.n[0], args.lme4_fits)
        if lme is not None:
            row["lme4"] = lme[0]
            best = max(v for k, v in row.items() if k == "serial" or k.startswith("dask"))
            print(f"  lme4::lmer: {lme[0]:,.1f} fits/s ({lme[1]}); sweep / lme4: serial {row['serial'] / lme[0]:,.0f}x, "
                  f"fastest {best / lme[0]:,.0f}x")
        print(f"  after: {load()}")
        rows.append(row)
    print(pd.DataFrame(rows).round(1).to_string(index=False))

    prof = cProfile.Profile()
    prof.enable()
    simulate_power(args.protocol, n=args.n[:1], sims=min(args.sims, 5000), seed=2)
    prof.disable()
    st = pstats.Stats(prof)
    cum = {f[2]: v[3] for f, v in st.stats.items()}  # function name -> cumulative time
    whole = cum.get("simulate_power", float("nan"))
    for name in ("_simulate_block", "simulate_item_block", "auc_day_major", "auc_arrays", "fit_crossover_arrays"):
        print(f"  {name}: {cum.get(name, 0.0) / whole:.0%} of the serial time")
    print(f"numpy {np.__version__}")


if __name__ == "__main__":
    main()

"""Power-sweep throughput: trials simulated and analysed per second, end to end.

Run from the repository root::

    python benchmarks/bench_power.py [--protocol ketapain] [--n 12 20] [--sims 1000] [--workers 2]

``simulate_power(protocol, n=..., sims=..., seed=1)`` (diaries of the in-silico trial ->
primary AUC -> batched crossover fit -> counts), timed serially and on a Dask
``ketapain.simulate.local_cluster(W)`` (W single-threaded worker processes; cluster start-up
reported separately, not counted), and serially again with BLAS limited to one thread, as
each Dask worker runs. The results are checked equal. A cProfile of the
serial run splits the time into simulation, AUC and fit.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="ketapain")
    ap.add_argument("--n", type=int, nargs="+", default=[12, 20])
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from ketapain.simulate import simulate_power

    total = args.sims * len(args.n)
    kw = {"n": args.n, "sims": args.sims, "seed": 1}
    t = time.perf_counter()
    serial = simulate_power(args.protocol, **kw)
    ts = time.perf_counter() - t
    print(f"serial: {total} trials in {ts:.2f} s = {total / ts:,.0f} trials/s")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # what one Dask worker gets (dask sets OPENBLAS/OMP threads to 1)
        t = time.perf_counter()
        simulate_power(args.protocol, **kw)
        ts1 = time.perf_counter() - t
    print(f"serial, BLAS limited to 1 thread: {total} trials in {ts1:.2f} s = {total / ts1:,.0f} trials/s")

    prof = cProfile.Profile()
    prof.enable()
    simulate_power(args.protocol, n=args.n[:1], sims=min(args.sims, 500), seed=2)
    prof.disable()
    st = pstats.Stats(prof)
    cum = {f[2]: v[3] for f, v in st.stats.items()}  # function name -> cumulative time
    whole = cum.get("simulate_power", float("nan"))
    for name in ("_simulate_block", "simulate_diary", "auc_arrays", "fit_crossover_arrays"):
        print(f"  {name}: {cum.get(name, 0.0) / whole:.0%} of the serial time")

    from dask.distributed import Client

    from ketapain.simulate import local_cluster

    t = time.perf_counter()
    with local_cluster(args.workers) as cl, Client(cl) as client:
        tc = time.perf_counter() - t
        client.run(lambda: __import__("ketapain.simulate._power_sim"))  # warm imports on the workers
        t = time.perf_counter()
        dist = simulate_power(args.protocol, client=client, chunk_size=500, **kw)
        td = time.perf_counter() - t
    print(f"dask {args.workers} workers: {total} trials in {td:.2f} s = {total / td:,.0f} trials/s "
          f"(cluster start {tc:.1f} s, not counted); speed-up {ts / td:.2f}x over serial, "
          f"{ts1 / td:.2f}x over serial with one BLAS thread")
    print("equal to serial:", dist.to_dict() == serial.to_dict())


if __name__ == "__main__":
    main()

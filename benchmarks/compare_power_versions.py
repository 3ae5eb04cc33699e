"""Serial power-sweep throughput of two source trees side by side (e.g. before/after a change).

Run from anywhere::

    python benchmarks/compare_power_versions.py OLD_SRC NEW_SRC [--sims 5000] [--n 18] [--repeats 3]

Each repeat runs ``simulate_power("ketapain", n=[N], sims=SIMS, seed=1)`` in a fresh process
with ``PYTHONPATH=OLD_SRC``, then with ``PYTHONPATH=NEW_SRC`` (after a 500-trial warm-up), and
prints trials per wall second and per CPU second of that process, with the 1-minute load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--sims", type=int, default=5000)
    ap.add_argument("--n", type=int, default=18)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    code = ("import time, warnings; warnings.simplefilter('ignore'); from ketapain.simulate import simulate_power; "
            f"simulate_power('ketapain', n=[{args.n}], sims=500, seed=9); c = time.process_time(); t = time.perf_counter(); "
            f"simulate_power('ketapain', n=[{args.n}], sims={args.sims}, seed=1); "
            f"print({args.sims} / (time.perf_counter() - t), {args.sims} / (time.process_time() - c))")
    for rep in range(1, args.repeats + 1):
        for name, src in (("old", args.old), ("new", args.new)):
            out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=os.path.abspath(src)),
                                 capture_output=True, text=True, check=True).stdout.split()
            wall, cpu = float(out[0]), float(out[1])
            print(f"repeat {rep} {name}: {wall:,.0f} trials/s wall, {cpu:,.0f} per CPU second; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()

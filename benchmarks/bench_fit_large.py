"""``ketapain fit`` on large long CSVs (issue 14: 5 M rows within 2 GB): wall time and peak RSS.

Run from the repository root::

    python benchmarks/bench_fit_large.py [--rows 1000000 5000000] [--dir /tmp] [--seed 1]

For each size, the input is written by ``benchmarks/make_fit_data.py`` (a 3x3 Williams design,
one row per subject x period, 5% of outcomes empty; skipped when the file exists), then
``/usr/bin/time -v python -c "from ketapain.cli import main; main()" fit FILE --json`` runs in a
fresh process: its "Maximum resident set size" is the peak RSS, its "Elapsed (wall clock)"
the time. The JSON output is kept next to the input (``FILE.json``) to compare runs. Prints
one Markdown table row per size, as BENCHMARKS.md shows them ("Large fits").
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fit_data

CLI = "from ketapain.cli import main; main()"


def run(path: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in GB: kB / 10^6, as BENCHMARKS.md) of ``ketapain fit path --json``; the JSON goes to path.json."""
    with path.with_suffix(".json").open("w") as out:
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", CLI, "fit", str(path), "--json"],
                              stdout=out, stderr=subprocess.PIPE, text=True, check=True)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    assert wall and rss, proc.stderr
    seconds = sum(float(part) * 60**k for k, part in enumerate(reversed(wall.group(1).split(":"))))
    return seconds, int(rss.group(1)) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--dir", type=Path, default=Path("/tmp"))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print("| rows | subjects | file | wall | peak RSS |")
    print("|---|---|---|---|---|")
    for rows in args.rows:
        path = args.dir / f"fit{rows}.csv"
        if not path.exists():
            make_fit_data.write(path, rows, 50, 0.05, args.seed)
        seconds, gb = run(path)
        n = rows // 3 * 3
        print(f"| {n:,} | {n // 3:,} | {path.stat().st_size / 1e6:.0f} MB | {seconds:.1f} s | {gb:.2f} GB |", flush=True)


if __name__ == "__main__":
    main()

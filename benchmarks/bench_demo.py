"""The main job's speed: simulate KETAPAIN, run the analysis plan, write the report.

Writes benchmarks/RESULTS_demo.md (merged into BENCHMARKS.md by run_benchmarks.py).
Issue 5 asks for ``ketapain demo`` in under a minute on a 2-core machine.

Usage: python benchmarks/bench_demo.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_info

from ketapain.analysis import run_analysis
from ketapain.protocol import load_protocol
from ketapain.report import paper_document, write_report
from ketapain.simulate import calibrate, simulate_trial

ROOT = Path(__file__).resolve().parents[1]
SEED = 20200154


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    protocol = load_protocol("ketapain")
    simulate_trial(protocol, n_patients=20, seed=1)  # warm-up (imports, caches)
    rows: list[tuple[str, float]] = []
    rows.append(
        ("simulate_trial, 20 patients (all 7 tables)", _median(lambda: simulate_trial(protocol, n_patients=20, seed=SEED), args.repeat))
    )
    data = simulate_trial(protocol, n_patients=20, seed=SEED)
    rows.append(
        ("run_analysis without sensitivity analyses", _median(lambda: run_analysis(data, protocol, sensitivity=False), args.repeat))
    )
    results = run_analysis(data, protocol, seed=SEED)
    rows.append(
        (
            "run_analysis with sensitivity analyses (MAR model, MI x50, tipping point)",
            _median(lambda: run_analysis(data, protocol, seed=SEED), 1),
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(
            (
                "paper layout + write_report (HTML, PDF, 17+ figures as SVG and PNG, CSV)",
                _median(lambda: write_report(paper_document(results, provenance={}), Path(tmp) / "r", pdf=True), 1),
            )
        )
        rows.append(
            (
                "write_report without the PDF",
                _median(lambda: write_report(paper_document(results, provenance={}), Path(tmp) / "r2", pdf=False), 1),
            )
        )
    rows.append(("calibrate, 100 simulated trials", _median(lambda: calibrate("ketapain", seed=7, trials=100), 1)))
    with tempfile.TemporaryDirectory() as tmp:

        def demo() -> None:
            from typer.testing import CliRunner

            from ketapain.cli import app

            res = CliRunner().invoke(app, ["demo", "--out", tmp, "--quiet"])
            assert res.exit_code == 0, res.output

        rows.append(("ketapain demo end to end (simulate, analyse, report incl. PDF)", _median(demo, 1)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    blas = ", ".join(sorted({f"{i['internal_api']} ({i['num_threads']} threads)" for i in threadpool_info()}))
    lines = [
        "# The main job (issue 5)",
        "",
        "Command: `python benchmarks/bench_demo.py` (median of repeated runs; single runs for the long steps).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, BLAS {blas}; "
        f"load average at the end {load:.1f}.",
        "",
        "| what | time |",
        "|---|---|",
        *(f"| {name} | {t:.2f} s |" for name, t in rows),
        "",
        "Target: `ketapain demo` under a minute on a 2-core machine. The report step is dominated by",
        "matplotlib (each figure drawn twice, SVG and PNG) and fpdf2's table layout; the analysis by the",
        "50 imputations x 13 deltas of the tipping point.",
        "",
    ]
    text = "\n".join(lines)
    (ROOT / "benchmarks" / "RESULTS_demo.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

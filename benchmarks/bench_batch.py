"""Fits per second of the batched crossover engine, the single-fit engine, statsmodels and R.

Run from the repository root (writes ``benchmarks/RESULTS_batch.md``)::

    python benchmarks/bench_batch.py [--trials 1000] [--single 100] [--sm 1000] [--no-r]

Data: ``--trials`` simulated 20-patient 3x3 Williams trials (6 sequences, subject i gets
sequence i mod 6; random intercept SD 1, residual SD 1, treatment B +0.5, period 2/3 +0.2/+0.4),
generated with numpy from seed 2024, complete and with 10% of the periods missing (MCAR).
The trials are generated directly with numpy (``ketapain.simulate`` generates 35-day diaries
and questionnaires; its AUC step is not what is measured here).

Measured, in one run, on the same complete trials (model ``y ~ treatment + period +
sequence + (1 | subject)``, REML, Kenward-Roger df where we compute tests):

* array path: ``fit_crossover_arrays(y, treatment_codes, sequence_codes, levels=...)`` on the
  (trials, 20, 3) outcome cube (median of 7 runs), also on 10x as many other trials in one call;
* batched engine: ``fit_crossover_batch(frame, by="trial")`` (labels parsed from the frame)
  and ``fit_crossover_batch`` on integer-coded columns (the simulator's fast path);
  median of 3 runs;
* raw single engine: ``fit_random_intercept`` + ``variance_derivatives`` + KR omnibus
  ``f_test`` + 3 KR ``t_test`` per trial, design matrices built beforehand;
* full ``fit_crossover`` (also carry-over and sequence x treatment tests, effect sizes,
  normality test) on the first ``--single`` trials;
* statsmodels ``MixedLM(y, X, groups).fit(reml=True)`` on the first ``--sm`` trials;
* R ``lme4::lmer`` and ``nlme::lme`` (``benchmarks/bench_batch_r.R``, time measured inside R
  with ``system.time`` over a loop on all trials; data passed as one CSV).

Estimates (3 pairwise treatment differences, 2 variance components) are compared with
lme4's: the largest relative difference over all trials is reported for each engine.

Heterogeneous trials (issue 21)::

    python benchmarks/bench_batch.py --heterogeneous [--trials 1000] [--big 100000] [--sm 1000]

20-patient 3x3 trials whose sequences are allocated at random per trial (each patient's
sequence drawn uniformly from the 6, so sequence counts and subject order differ from trial to
trial; a sequence may have no patient), complete and with 10% of the periods missing (MCAR).
``fit_crossover_batch`` on ``--trials`` and on ``--big`` trials, each run in its own
subprocess (its peak RSS and the time of each stage are reported), the array path
``fit_crossover_arrays`` (per-trial codes) on the same trials, and statsmodels, lme4 and nlme
on the ``--trials`` trials in the same run. Writes the section between ``<!-- heterogeneous
-->`` markers of ``benchmarks/RESULTS_batch.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ketapain.stats import fit_crossover
from ketapain.stats._batch import fit_crossover_batch
from ketapain.stats._batch_array import fit_crossover_arrays
from ketapain.stats._ddf import f_test, t_test, variance_derivatives
from ketapain.stats._design import crossover_design
from ketapain.stats._lmm import fit_random_intercept

ROOT = Path(__file__).resolve().parents[1]
SEQS = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
PAIRS = ("A - B", "A - C", "B - C")
VARS = ("sigma2_subject", "sigma2_residual")


def trials(n_trials: int, n_patients: int = 20, seed: int = 2024, missing: float = 0.0) -> pd.DataFrame:
    """Long frame of ``n_trials`` Williams 3x3 trials (labels as text, as read from a CSV)."""
    rng = np.random.default_rng(seed)
    subj = np.arange(n_patients)
    seq = np.array(SEQS)[subj % 6]
    trt = np.array([[s[k] for k in range(3)] for s in seq])  # (n, 3)
    b = rng.normal(0.0, 1.0, (n_trials, n_patients, 1))
    y = 5.0 + 0.5 * (trt == "B")[None] + np.array([0.0, 0.2, 0.4]) + b + rng.normal(0.0, 1.0, (n_trials, n_patients, 3))
    if missing:
        y[rng.random(y.shape) < missing] = np.nan
    return pd.DataFrame(
        {
            "trial": np.repeat(np.arange(n_trials), n_patients * 3),
            "subject": np.tile(np.repeat([f"P{i:02d}" for i in subj], 3), n_trials),
            "period": np.tile(np.tile(["1", "2", "3"], n_patients), n_trials),
            "sequence": np.tile(np.repeat(seq, 3), n_trials),
            "treatment": np.tile(trt.reshape(-1), n_trials),
            "y": y.reshape(-1),
        }
    )


def trials_random(n_trials: int, n_patients: int = 20, seed: int = 2024, missing: float = 0.0) -> pd.DataFrame:
    """Long frame of ``n_trials`` 3x3 trials, each patient's sequence drawn at random (text
    labels, as read from a CSV); outcome model as :func:`trials`."""
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, 6, size=(n_trials, n_patients))
    table = np.array([["ABC".index(c) for c in s] for s in SEQS])
    trt = table[seq]
    b = rng.normal(0.0, 1.0, (n_trials, n_patients, 1))
    y = 5.0 + 0.5 * (trt == 1) + np.array([0.0, 0.2, 0.4]) + b + rng.normal(0.0, 1.0, (n_trials, n_patients, 3))
    if missing:
        y[rng.random(y.shape) < missing] = np.nan
    return pd.DataFrame(
        {
            "trial": np.repeat(np.arange(n_trials), n_patients * 3),
            "subject": np.tile(np.repeat([f"P{i:02d}" for i in range(n_patients)], 3), n_trials),
            "period": np.tile(np.tile(["1", "2", "3"], n_patients), n_trials),
            "sequence": np.repeat(np.array(SEQS, dtype=object)[seq].reshape(-1), 3),
            "treatment": np.array(list("ABC"), dtype=object)[trt.reshape(-1)],
            "y": y.reshape(-1),
        }
    )


def random_arrays(frame: pd.DataFrame, n_patients: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trials of :func:`trials_random` for ``fit_crossover_arrays``: outcomes, per-trial
    treatment codes (trials, patients, 3) and sequence codes (trials, patients)."""
    y = frame["y"].to_numpy().reshape(-1, n_patients, 3)
    trt = frame["treatment"].map({"A": 0, "B": 1, "C": 2}).to_numpy(dtype=np.int64).reshape(y.shape)
    seq = frame["sequence"].map({s: k for k, s in enumerate(SEQS)}).to_numpy(dtype=np.int64)[::3].reshape(y.shape[:2])
    return y, trt, seq


def as_arrays(frame: pd.DataFrame, n_patients: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trials of :func:`trials` as ``fit_crossover_arrays`` takes them: outcomes
    (trials, patients, 3), treatment codes (patients, 3) and sequence codes (patients,)."""
    y = frame["y"].to_numpy().reshape(-1, n_patients, 3)
    seq = np.arange(n_patients) % 6
    table = np.array([["ABC".index(c) for c in s] for s in SEQS])
    return y, table[seq], seq


def array_values(res) -> np.ndarray:
    return np.column_stack([res.estimate[:, [res.pairs.index(p) for p in PAIRS]], res.sigma2_subject, res.sigma2_residual])


def coded(frame: pd.DataFrame) -> pd.DataFrame:
    """The same trials with integer subject/period and categorical sequence/treatment."""
    out = frame.copy()
    out["subject"] = frame["subject"].str[1:].astype(np.int64)
    out["period"] = frame["period"].astype(np.int64)
    out["sequence"] = pd.Categorical(frame["sequence"])
    out["treatment"] = pd.Categorical(frame["treatment"])
    return out


def median_time(fn, repeat: int = 3) -> tuple[float, object]:
    times, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), res


def batch_values(res: pd.DataFrame) -> np.ndarray:
    """(trials, 5): A-B, A-C, B-C estimates, sigma2_subject, sigma2_residual."""
    piv = res.pivot(index="trial", columns="term", values="estimate")
    return piv[[*PAIRS, *VARS]].to_numpy()


def from_beta(beta: np.ndarray) -> np.ndarray:
    """Pairwise differences from (trials, >=3) fixed effects (intercept, treatment B, C, ...)."""
    bb, bc = beta[:, 1], beta[:, 2]
    return np.column_stack([-bb, -bc, bb - bc])


def max_rel(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Largest relative difference of the pairwise estimates (relative to each) and of the
    variance components (relative to the total variance, so that a boundary fit's 0 against
    1e-10 counts as 1e-10)."""
    rel = np.abs(a[:, :3] - b[:, :3]) / np.maximum(np.abs(b[:, :3]), 1e-300)
    total = b[:, 3:].sum(axis=1, keepdims=True)
    return float(rel.max()), float((np.abs(a[:, 3:] - b[:, 3:]) / total).max())


def run_single_raw(designs) -> tuple[float, np.ndarray]:
    out = np.empty((len(designs), 5))
    t0 = time.perf_counter()
    for k, d in enumerate(designs):
        fit = fit_random_intercept(d.X, d.y, d.group_codes)
        deriv = variance_derivatives(fit)
        f_test(fit, d.term_hypothesis("treatment"), df_method="kenward-roger", deriv=deriv)
        for a, b in d.treatment_pairs():
            t_test(fit, d.pair_vector(a, b), df_method="kenward-roger", deriv=deriv)
        out[k, :3] = from_beta(fit.beta[None])[0]
        out[k, 3:] = fit.sigma2_subject, fit.sigma2
    return time.perf_counter() - t0, out


def run_statsmodels(designs) -> tuple[float, np.ndarray]:
    from statsmodels.regression.mixed_linear_model import MixedLM

    out = np.empty((len(designs), 5))
    t0 = time.perf_counter()
    for k, d in enumerate(designs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = MixedLM(d.y, d.X, groups=d.group_codes).fit(reml=True)
        out[k, :3] = from_beta(np.asarray(r.fe_params)[None])[0]
        out[k, 3:] = float(np.asarray(r.cov_re)[0, 0]), float(r.scale)
    return time.perf_counter() - t0, out


def run_r(frame: pd.DataFrame) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, js = Path(tmp) / "trials.csv", Path(tmp) / "out.json"
        frame.to_csv(csv, index=False)
        subprocess.run(["Rscript", str(ROOT / "benchmarks" / "bench_batch_r.R"), str(csv), str(js)], check=True)
        res = json.loads(js.read_text())
    names = res["names"]
    for eng in ("lmer", "lme", "lmer_tight"):
        arr = np.asarray(res[eng], dtype=float)
        beta = arr[:, [names.index("(Intercept)"), names.index("treatmentB"), names.index("treatmentC")]]
        res[eng] = np.column_stack([from_beta(beta), arr[:, names.index("sigma2_subject")], arr[:, names.index("sigma2_residual")]])
    return res


def run_scenario(path: str, n: int, missing: float, repeat: int) -> dict:
    """One timed scenario in this process (called in a subprocess by :func:`heterogeneous`):
    seconds (median of ``repeat``), the time of each stage of ``fit_crossover_batch`` (last
    run), estimates when ``n <= 5000``, peak RSS."""
    import resource

    import ketapain.stats._batch as batch

    data = trials_random(n, seed=2024 if n <= 5000 else 2025, missing=missing)
    stages: dict[str, float] = {}

    def timed(name: str, fn):
        def inner(*a, **k):
            t0 = time.perf_counter()
            out = fn(*a, **k)
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0
            return out
        return inner

    warnings.simplefilter("ignore")
    if path == "frame":
        for name in ("code_frame", "_fit_vectorised", "_fit_single", "results_frame"):
            setattr(batch, name, timed(name, getattr(batch, name)))
        times = []
        for _ in range(repeat):
            stages.clear()
            t0 = time.perf_counter()
            res = batch.fit_crossover_batch(data, outcome="y", by="trial", on_error="flag")
            times.append(time.perf_counter() - t0)
        est = batch_values(res) if n <= 5000 else None
        n_single = int((~res.loc[res.term == "treatment", "converged"]).sum())
    else:
        arr = random_arrays(data)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fit_crossover_arrays(*arr, levels=["A", "B", "C"], on_error="flag")
            times.append(time.perf_counter() - t0)
        est = array_values(out) if n <= 5000 else None
        n_single = int((~out.converged).sum())
    return {"seconds": float(np.median(times)), "stages": stages, "unfitted": n_single,
            "est": None if est is None else est.tolist(),
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _scenario(path: str, n: int, missing: float, repeat: int) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--scenario", path, "--trials", str(n), "--missing",
         str(missing), "--repeat", str(repeat)], check=True, capture_output=True, text=True)
    res: dict = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{path} {n} trials, {missing:.0%} missing: {n / res['seconds']:,.0f} fits/s, stages "
          f"{ {k: round(v, 3) for k, v in res['stages'].items()} }, peak RSS {res['maxrss_mb']:.0f} MB", flush=True)
    return res


def hardware() -> tuple[float, float, float]:
    """Measured numpy matmul rate (GFLOP/s, 1000x1000 float64), memory copy bandwidth (GB/s,
    read + write of a 200 MB array) and batched ``eigh`` cost (us per 10 x 10 matrix)."""
    a = np.random.default_rng(0).standard_normal((1000, 1000))
    t_mm, _ = median_time(lambda: a @ a)
    src = np.ones(25_000_000)
    dst = np.empty_like(src)
    t_cp, _ = median_time(lambda: np.copyto(dst, src))
    x = np.random.default_rng(1).standard_normal((5000, 30, 10))
    sym = x.transpose(0, 2, 1) @ x
    t_eig, _ = median_time(lambda: np.linalg.eigh(sym))
    return 2e9 / t_mm / 1e9, 2 * src.nbytes / t_cp / 1e9, t_eig / 5000 * 1e6


def heterogeneous(args: argparse.Namespace) -> None:
    """The issue-21 scenarios (module docstring); writes the heterogeneous section."""
    load_start = os.getloadavg()
    n, big = args.trials, args.big
    rows: list[str] = []
    ratios: list[str] = []
    for missing in (0.0, 0.10):
        label = "complete" if missing == 0 else "10% missing periods"
        data = trials_random(n, missing=missing)
        small = _scenario("frame", n, missing, 3)
        large = _scenario("frame", big, missing, 1)
        arr_small = _scenario("arrays", n, missing, 3)
        arr_large = _scenario("arrays", big, missing, 1)
        designs = [crossover_design(g.dropna(subset=["y"]), outcome="y") for _, g in data.groupby("trial")]
        t_sm, est_sm = run_statsmodels(designs[: args.sm])
        r = None if args.no_r else run_r(data)
        refs = {"statsmodels MixedLM (REML)": (len(designs[: args.sm]) / t_sm, est_sm)}
        if r is not None:
            refs["R lme4::lmer"] = (n / r["seconds_lmer"], r["lmer"])
            refs["R nlme::lme"] = (n / r["seconds_lme"], r["lme"])
        fastest = max(rate for rate, _ in refs.values())

        def agree(est: np.ndarray | None, r: dict | None = r) -> str:
            if r is None or est is None:
                return ""
            return "{:.1e} / {:.1e}".format(*max_rel(np.asarray(est), r["lmer_tight"][: len(est)]))

        def stage_text(res: dict, k: int) -> str:
            st = res["stages"]
            return (f"parse {st.get('code_frame', 0) / k * 1e6:.1f}, fit {st.get('_fit_vectorised', 0) / k * 1e6:.1f}, "
                    f"single engine {st.get('_fit_single', 0) / k * 1e6:.1f}, rows {st.get('results_frame', 0) / k * 1e6:.1f}"
                    if st else "")

        for name, res, k in (("`fit_crossover_batch` (text labels)", small, n), ("`fit_crossover_batch` (text labels)", large, big),
                             ("array path `fit_crossover_arrays`", arr_small, n), ("array path `fit_crossover_arrays`", arr_large, big)):
            rate = k / res["seconds"]
            rows.append(f"| {label} | {name} | {k} | {res['seconds']:.3f} | {rate:,.0f} | {rate / fastest:,.0f}x | "
                        f"{res['maxrss_mb']:.0f} | {stage_text(res, k)} | {res['unfitted']} | {agree(res['est'])} |")
        for ref_name, (rate, est) in refs.items():
            rows.append(f"| {label} | {ref_name} | {n if 'statsmodels' not in ref_name else len(est)} | "
                        f"{(n if 'statsmodels' not in ref_name else len(est)) / rate:.3f} | {rate:,.1f} | 1x"
                        f"{' (fastest)' if rate == fastest else ''} |  |  |  | {agree(est)} |")
        ratios.append(f"{label}: {n / small['seconds'] / fastest:,.0f}x ({n} trials), {big / large['seconds'] / fastest:,.0f}x "
                      f"({big} trials) the fastest reference")
    gflops, gbs, eig_us = hardware()
    load_end = os.getloadavg()
    cpu = subprocess.run(["lscpu"], check=False, capture_output=True, text=True).stdout if shutil.which("lscpu") else ""
    model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("Model name")), platform.machine())
    section = [
        "<!-- heterogeneous -->",
        "## Heterogeneous trials (issue 21): random allocation per trial, 20 patients, 3x3",
        "",
        (f"Command: `python benchmarks/bench_batch.py --heterogeneous --trials {n} --big {big} --sm {args.sm}"
         f"{' --no-r' if args.no_r else ''}`"),
        f"CPU: {model}, {os.cpu_count()} cores shared with other engineers' jobs; Python {platform.python_version()}, "
        f"numpy {np.__version__}" + (f", {r['versions']['R']}, lme4 {r['versions']['lme4']}, nlme {r['versions']['nlme']}"
                                     if r else "") + ".",
        (f"Load average (1/5/15 min) at start {load_start[0]:.1f}/{load_start[1]:.1f}/{load_start[2]:.1f}, at end "
         f"{load_end[0]:.1f}/{load_end[1]:.1f}/{load_end[2]:.1f}."),
        (f"Measured in the same run: numpy matmul {gflops:.1f} GFLOP/s (1000x1000 float64), memory copy "
         f"{gbs:.1f} GB/s (read + write, 200 MB), batched `np.linalg.eigh` {eig_us:.1f} us per 10x10 matrix."),
        "",
        "Each patient's sequence is drawn uniformly from the 6 Williams sequences, independently per trial and patient "
        "(seed 2024; 2025 for the large runs); outcome model as above. Our engines: REML, KR omnibus F and 3 KR pairwise "
        "tests with Sidak; references fit the model only, timed on the small set in the same run. Every timed run of "
        "ours is its own subprocess: peak RSS is that process's (data generation included); stages are us per fit "
        "(parse = `code_frame`, i.e. the checks of `check_long` and the factor coding; fit = the vectorised fits; "
        "single engine = trials handed to `fit_crossover`; rows = building the result frame).",
        "",
        "| data | engine | fits | seconds | fits/s | vs fastest reference | peak RSS (MB) | stages (us per fit) | "
        "trials not fitted (flagged) | max rel. diff. vs lme4 tight (pairs / variances) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Ratios: " + "; ".join(ratios) + ".",
        "<!-- /heterogeneous -->",
    ]
    text = "\n".join(section) + "\n"
    old = args.out.read_text() if args.out.exists() else ""
    if "<!-- heterogeneous -->" in old:
        a, b = old.index("<!-- heterogeneous -->"), old.index("<!-- /heterogeneous -->") + len("<!-- /heterogeneous -->\n")
        new = old[:a] + text + old[b:]
    elif "<!-- analysis -->" in old:
        a = old.index("<!-- analysis -->")
        new = old[:a] + text + "\n" + old[a:]
    else:
        new = old + "\n" + text
    args.out.write_text(new)
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--single", type=int, default=100, help="trials for the full fit_crossover")
    ap.add_argument("--sm", type=int, default=1000, help="trials for statsmodels")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS_batch.md")
    ap.add_argument("--heterogeneous", action="store_true", help="the issue-21 scenarios only")
    ap.add_argument("--big", type=int, default=100_000, help="trials of the large heterogeneous runs")
    ap.add_argument("--scenario", choices=["frame", "arrays"], help=argparse.SUPPRESS)
    ap.add_argument("--missing", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.trials, args.missing, args.repeat)))
        return
    if args.heterogeneous:
        heterogeneous(args)
        return
    load_start = os.getloadavg()
    n = args.trials
    rows: list[tuple[str, float, float, str]] = []  # engine, trials, seconds, agreement text

    def add(engine: str, n_fit: int, secs: float, note: str = "") -> None:
        rows.append((engine, n_fit, secs, note))
        print(f"{engine}: {n_fit} fits in {secs:.3f} s = {n_fit / secs:,.1f} fits/s {note}", flush=True)

    data = trials(n)
    missing = trials(n, missing=0.10)
    warnings.simplefilter("ignore")
    t_b, res_b = median_time(lambda: fit_crossover_batch(data, outcome="y", by="trial", on_error="flag"))
    data_c, missing_c = coded(data), coded(missing)
    t_bc, _ = median_time(lambda: fit_crossover_batch(data_c, outcome="y", by="trial", on_error="flag"))
    t_bm, _ = median_time(lambda: fit_crossover_batch(missing, outcome="y", by="trial", on_error="flag"))
    t_bmc, _ = median_time(lambda: fit_crossover_batch(missing_c, outcome="y", by="trial", on_error="flag"))
    est_b = batch_values(res_b)
    arr, arr_m = as_arrays(data), as_arrays(missing)
    levels = ["A", "B", "C"]
    t_a, res_a = median_time(lambda: fit_crossover_arrays(*arr, levels=levels, on_error="flag"), repeat=7)
    t_am, _ = median_time(lambda: fit_crossover_arrays(*arr_m, levels=levels, on_error="flag"))
    big = trials(10 * n, seed=2025)
    arr_big = as_arrays(big)
    t_abig, _ = median_time(lambda: fit_crossover_arrays(*arr_big, levels=levels, on_error="flag"), repeat=5)
    est_a = array_values(res_a)

    designs = [crossover_design(g, outcome="y") for _, g in data.groupby("trial")]
    t_raw, est_raw = run_single_raw(designs)
    first = data[data.trial < args.single]
    t0 = time.perf_counter()
    for _, g in first.groupby("trial"):
        fit_crossover(g, outcome="y")
    t_full = time.perf_counter() - t0
    t_sm, est_sm = run_statsmodels(designs[: args.sm])
    r = None if args.no_r else run_r(data)

    def agree(est: np.ndarray) -> str:
        if r is None:
            return ""
        a, v = max_rel(est, r["lmer"][: len(est)])
        return f"{a:.1e} / {v:.1e}"

    add("batched, array path `fit_crossover_arrays` (complete data)", n, t_a, agree(est_a))
    add(f"batched, array path, {10 * n} other trials in one call (complete data)", 10 * n, t_abig)
    add("batched, array path (10% missing periods)", n, t_am)
    add("batched, text labels (complete data)", n, t_b, agree(est_b))
    add("batched, integer/categorical codes (complete data)", n, t_bc, agree(est_b))
    add("batched, text labels (10% missing periods)", n, t_bm)
    add("batched, integer/categorical codes (10% missing periods)", n, t_bmc)
    add("single engine, raw (fit_random_intercept + KR tests)", n, t_raw, agree(est_raw))
    add("single engine, full fit_crossover", len(first.trial.unique()), t_full)
    add("statsmodels MixedLM (REML)", len(designs[: args.sm]), t_sm, agree(est_sm))
    if r is not None:
        add("R lme4::lmer (timed inside R)", n, r["seconds_lmer"], "reference")
        add("R nlme::lme (timed inside R)", n, r["seconds_lme"], agree(r["lme"]))
    diff_raw = max_rel(est_raw, est_b)
    sm_detail = ""
    if r is not None:
        ref = r["lmer"][: len(est_sm)]
        rel = np.abs(est_sm - ref) / ref[:, 3:].sum(axis=1, keepdims=True)
        worst = np.argsort(rel[:, 3:].max(axis=1))[::-1][:3]
        sm_detail = "; ".join(
            f"trial {k}: sigma2_subject {est_sm[k, 3]:.6g} vs {r['lmer'][k, 3]:.6g}, sigma2_residual "
            f"{est_sm[k, 4]:.6g} vs {r['lmer'][k, 4]:.6g}"
            for k in worst
        )
        n_sm_1e4 = int((rel[:, 3:].max(axis=1) > 1e-4).sum())
        n_sm_1e2 = int((rel[:, 3:].max(axis=1) > 1e-2).sum())
    fastest_ref = max((c / s for e, c, s, _ in rows if e.startswith(("statsmodels", "R "))), default=float("nan"))
    lme4_rate = n / r["seconds_lmer"] if r is not None else float("nan")

    # Measured flops of this machine (one 1000x1000 float64 matmul, median of 3).
    a = np.random.default_rng(0).standard_normal((1000, 1000))
    t_mm, _ = median_time(lambda: a @ a)
    gflops = 2e9 / t_mm / 1e9
    load_end = os.getloadavg()

    table = [
        "| engine | fits | seconds | fits/s | max rel. diff. vs lme4 (pairs / variances, the latter relative to the total variance) |",
        "|---|---|---|---|---|",
        *[f"| {e} | {c} | {s:.3f} | {c / s:,.1f} | {note} |" for e, c, s, note in rows],
    ]
    meta = [
        "# Batched crossover engine: fits per second, side by side",
        "",
        (f"Command: `python benchmarks/bench_batch.py --trials {n} --single {args.single} --sm {args.sm}"
        f"{' --no-r' if args.no_r else ''}`"),
        (
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other "
            f"jobs), Python {platform.python_version()}, numpy {np.__version__}"
            + (f", {r['versions']['R']}, lme4 {r['versions']['lme4']}, nlme {r['versions']['nlme']}" if r else "")
            + "."
        ),
        f"Measured numpy matmul throughput (1000x1000 float64, all threads): {gflops:.1f} GFLOP/s.",
        (f"Load average (1/5/15 min) at start {load_start[0]:.1f}/{load_start[1]:.1f}/{load_start[2]:.1f}, "
         f"at end {load_end[0]:.1f}/{load_end[1]:.1f}/{load_end[2]:.1f} (2 cores shared with other jobs)."),
        "",
        (f"{n} simulated 20-patient 3x3 Williams trials (seed 2024), model `y ~ treatment + period + sequence + "
        "(1 | subject)`, REML; our engines compute the KR omnibus F and 3 KR pairwise tests with Sidak "
        "adjustment; statsmodels and R fit the model only."),
        "",
        *table,
        "",
        *([("Against lme4 refitted with tight optimiser tolerances (nloptwrap xtol_abs 1e-14, ftol_abs 1e-16, "
            "xtol_rel 1e-14, ftol_rel 1e-16; not timed), largest relative difference (pairs / variances): "
            + ", ".join(f"{name} {'{:.1e} / {:.1e}'.format(*max_rel(est, r['lmer_tight'][: len(est)]))}"
                        for name, est in (("array path", est_a), ("frame path", est_b), ("raw single engine", est_raw),
                                          ("statsmodels", est_sm), ("nlme", r["lme"]), ("lme4 at its defaults", r["lmer"])))
            + ".")] if r is not None else []),
        "",
        (f"Batched vs raw single engine (complete data): largest relative difference {diff_raw[0]:.1e} "
        f"(pairwise estimates) / {diff_raw[1]:.1e} (variance components)."),
        (f"Array path vs raw single engine (complete data): largest relative difference "
         f"{max_rel(est_a, est_raw)[0]:.1e} / {max_rel(est_a, est_raw)[1]:.1e}."),
        (f"Batched engine vs the fastest reference engine: {n / t_a / fastest_ref:,.0f}x (array path), "
         f"{10 * n / t_abig / fastest_ref:,.0f}x (array path, {10 * n} trials per call), "
         f"{n / t_b / fastest_ref:,.0f}x (text labels), "
        f"{n / t_bc / fastest_ref:,.0f}x (codes). Raw single engine vs lme4: {n / t_raw / lme4_rate:,.1f}x."),
    ]
    if sm_detail:
        meta += [
            "",
            (
                f"statsmodels vs lme4 on the variance components (difference / total variance): {n_sm_1e4} of {len(est_sm)} "
                f"trials differ by more than "
                f"1e-4 relative, {n_sm_1e2} by more than 1e-2; worst: {sm_detail}."
            ),
        ]
    text = "\n".join(meta) + "\n"
    marker = "<!-- analysis -->"
    old = args.out.read_text() if args.out.exists() else ""
    if marker in old:
        text += "\n" + old[old.index(marker) :]
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

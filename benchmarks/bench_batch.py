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
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--single", type=int, default=100, help="trials for the full fit_crossover")
    ap.add_argument("--sm", type=int, default=1000, help="trials for statsmodels")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS_batch.md")
    args = ap.parse_args()
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

"""Speed benchmarks of the statistics core; writes BENCHMARKS.md.

Run: ``python benchmarks/run_benchmarks.py`` (from the repository root; ~1 minute).

Measures (median of repeated wall-clock runs, ``time.perf_counter``):
1. one 20-patient, 3-period, 3-treatment crossover fit:
   - the engine alone (REML from sufficient statistics: ``fit_random_intercept``),
   - the engine plus Kenward-Roger matrices and the omnibus KR test,
   - the full ``fit_crossover`` (KR df, 3 contrasts with Sidak, 9 effect sizes, Shapiro-Wilk,
     plus the two extra fits for the carry-over and sequence x treatment tests),
   - the binary analysis (logistic GLMM, nAGQ = 5) of "pain above the median" on the same trial,
   - statsmodels ``MixedLM`` (REML) on the same data, for comparison;
2. diary AUCs for 1,000,000 diary rows (28,572 patient-periods x 35 days, 5 windows, LOCF);
3. SF-36 scoring of 100,000 respondents (``bench_instruments.py`` has the detailed split).
"""

from __future__ import annotations

import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_instruments import timeit  # same folder (run as a script)

from ketapain.stats import diary_auc, fit_crossover, fit_random_intercept
from ketapain.stats._ddf import f_test, variance_derivatives
from ketapain.stats._design import crossover_design

ROOT = Path(__file__).resolve().parents[1]


def trial(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seqs = ["P-K-KM", "P-KM-K", "K-P-KM", "K-KM-P", "KM-P-K", "KM-K-P"]
    rows = []
    for i in range(20):
        seq = seqs[i % 6]
        b = rng.normal(0, 88)
        for k, t in enumerate(seq.split("-")):
            rows.append((f"S{i:02d}", k + 1, seq, t, 187 + {"P": 0, "K": -5, "KM": 9}[t] + b + rng.normal(0, 31)))
    return pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])


def main() -> None:
    data = trial()
    design = crossover_design(data)
    L = np.zeros((2, design.X.shape[1]))
    L[0, 1] = L[1, 2] = 1.0

    def engine_kr():
        fit = fit_random_intercept(design.X, design.y, design.group_codes)
        return f_test(fit, L, df_method="kenward-roger", deriv=variance_derivatives(fit))

    rows = [
        ("engine: REML fit (fit_random_intercept)", timeit(lambda: fit_random_intercept(design.X, design.y, design.group_codes), 300)),
        ("engine + Kenward-Roger omnibus test", timeit(engine_kr, 300)),
        ("full fit_crossover (KR, contrasts, effect sizes, 2 extra fits)", timeit(lambda: fit_crossover(data), 50)),
    ]
    # Binary outcome: "pain above the trial's median" (keeps the between-patient correlation).
    binary = data.assign(y=(data["y"] > data["y"].median()).astype(float))

    def fit_binary():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fit_crossover(binary, binary=True, nagq=5)

    rows.append(("binary fit_crossover, logistic GLMM nAGQ=5 (+2 extra fits)", timeit(fit_binary, 10)))
    try:
        import statsmodels.formula.api as smf

        def sm():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return smf.mixedlm("y ~ C(treatment) + C(period) + C(sequence)", data, groups=data["subject"]).fit(reml=True)

        rows.append(("statsmodels MixedLM REML fit (same model)", timeit(sm, 30)))
    except ImportError:
        pass

    rng = np.random.default_rng(7)
    n_pp = 28_572
    diary = pd.DataFrame({
        "patient_id": np.repeat(np.arange(n_pp) // 3, 35).astype(str),
        "period": np.repeat(np.arange(n_pp) % 3 + 1, 35),
        "day": np.tile(np.arange(1, 36), n_pp),
        "avg_pain": np.where(rng.random(n_pp * 35) < 0.05, np.nan, rng.integers(0, 11, n_pp * 35).astype(float)),
    })
    anchor = diary[["patient_id", "period"]].drop_duplicates().assign(pre_infusion_pain=6.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auc_t = timeit(lambda: diary_auc(diary, impute="locf", anchor=anchor), 5)
    rows.append((f"diary_auc, {len(diary):,} rows, 5 windows, LOCF", auc_t))

    from bench_instruments import N_RESPONDENTS, sf36_answers

    from ketapain.instruments import score_frame

    answers = sf36_answers()
    rows.append((f"score_frame('sf36'), {N_RESPONDENTS:,} respondents x 36 items (validation + scoring)",
                 timeit(lambda: score_frame("sf36", answers, incomplete="missing"), 3)))  # 2% blanks: ~200 incomplete

    cmd = "python benchmarks/run_benchmarks.py"
    lines = [
        "# Benchmarks",
        "",
        f"Command: `{cmd}` (median wall-clock of repeated runs after a warm-up).",
        "",
        f"Machine: {platform.machine()}, {platform.system()}, Python {sys.version.split()[0]}, "
        f"numpy {np.__version__}, pandas {pd.__version__}; 2 cores shared with other work.",
        "",
        "| what | median time |",
        "|---|---|",
    ]
    for name, t in rows:
        lines.append(f"| {name} | {t * 1e3:.2f} ms |" if t < 1 else f"| {name} | {t:.2f} s |")
    lines += [
        "",
        "Targets: a single 20-patient, 3-period fit well under 10 ms and 1,000,000 diary rows in",
        "seconds (issue 2); 100,000 respondents x 36 SF-36 items in seconds (issue 3).",
        "`python benchmarks/bench_instruments.py` splits the SF-36 time into validation and scoring.",
        "",
        "The sections below are written by the other benchmark scripts (each names its command);",
        "this script copies them in from benchmarks/RESULTS_*.md.",
        "",
    ]
    for extra in sorted((ROOT / "benchmarks").glob("RESULTS_*.md")):
        body = extra.read_text().strip()
        if not body.startswith("#"):
            body = f"# {extra.stem.removeprefix('RESULTS_')}\n\n{body}"
        # one heading level down, so each file is a section of BENCHMARKS.md
        lines += ["\n".join("#" + line if line.startswith("#") else line for line in body.splitlines()), ""]
    text = "\n".join(lines)
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Make the crossover datasets whose R fits are stored in ``expected/``.

Run from this folder: ``python make_datasets.py`` (writes ``data/*.csv`` and ``cases.csv``),
then ``Rscript lmm_reference.R cases.csv expected`` (writes one JSON per case).

Each dataset is long: subject, period, sequence, treatment, y, and ``carry`` = the subject's
treatment in the previous period ("none" in period 1), computed here with a plain loop,
independently of ketapain's own carry-over derivation. Random numbers come from fixed seeds,
so the files are reproducible.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

WILLIAMS3 = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
WILLIAMS4 = ["ABDC", "BCAD", "CDBA", "DACB"]


def simulate(
    name: str,
    sequences: list[list[str]],
    counts: list[int],
    *,
    seed: int,
    effects: dict[str, float],
    sd_subject: float,
    sd_resid: float,
    period_effect: float = 0.3,
    carry_effects: dict[str, float] | None = None,
    missing: int = 0,
    lognormal: bool = False,
    sep: str = "",
    baseline_slope: float | None = None,
) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    subject = 0
    for seq, count in zip(sequences, counts, strict=True):
        for _ in range(count):
            subject += 1
            b = rng.normal(0.0, sd_subject)
            baseline = None
            if baseline_slope is not None:  # a per-period baseline score, partly predictive
                baseline = rng.normal(6.0, 1.5, len(seq))
            prev = "none"
            for k, trt in enumerate(seq):
                mu = effects[trt] + period_effect * k
                if baseline is not None:
                    mu += baseline_slope * (baseline[k] - 6.0)
                if carry_effects and prev != "none":
                    mu += carry_effects[prev]
                y = mu + b + rng.normal(0.0, sd_resid)
                if lognormal:
                    y = float(np.exp(y))
                rows.append([f"S{subject:03d}", k + 1, sep.join(seq), trt, y, prev]
                            + ([round(float(baseline[k]), 3)] if baseline is not None else []))
                prev = trt
    if missing:
        for i in rng.choice(len(rows), size=missing, replace=False):
            rows[i][4] = ""
    (HERE / "data").mkdir(exist_ok=True)
    with open(HERE / "data" / f"{name}.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subject", "period", "sequence", "treatment", "y", "carry"]
                   + (["baseline"] if baseline_slope is not None else []))
        for r in rows:
            w.writerow([r[0], r[1], r[2], r[3], r[4] if r[4] == "" else repr(float(r[4])), r[5], *r[6:]])


def main() -> None:
    three = {"A": 5.0, "B": 4.2, "C": 4.6}
    w3 = [list(s) for s in WILLIAMS3]
    simulate("w3_balanced", w3, [3] * 6, seed=11, effects=three, sd_subject=2.0, sd_resid=1.0)
    simulate("w3_unbalanced_missing", w3, [4, 4, 3, 3, 3, 3], seed=12, effects=three,
             sd_subject=1.5, sd_resid=1.0, missing=5)
    simulate("ab_ba", [list("AB"), list("BA")], [12, 12], seed=13, effects={"A": 3.0, "B": 2.4},
             sd_subject=1.0, sd_resid=0.8)
    simulate("aba_bab", [list("ABA"), list("BAB")], [8, 8], seed=14, effects={"A": 3.0, "B": 2.5},
             sd_subject=1.0, sd_resid=0.7, carry_effects={"A": 0.2, "B": -0.1})
    simulate("abab_baba", [list("ABAB"), list("BABA")], [6, 6], seed=15, effects={"A": 1.0, "B": 1.6},
             sd_subject=0.8, sd_resid=0.6, missing=3)
    simulate("w4", [list(s) for s in WILLIAMS4], [4] * 4, seed=16,
             effects={"A": 2.0, "B": 2.5, "C": 1.7, "D": 2.2}, sd_subject=1.2, sd_resid=0.9)
    simulate("icc_low", w3, [4] * 6, seed=17, effects=three, sd_subject=0.02, sd_resid=1.0)
    simulate("icc_high", w3, [3] * 6, seed=18, effects=three, sd_subject=10.0, sd_resid=0.5)
    simulate("lognormal", w3, [4] * 6, seed=19, effects={"A": 1.5, "B": 1.2, "C": 1.4},
             sd_subject=0.5, sd_resid=0.3, lognormal=True)
    simulate("w3_carryover", w3, [5] * 6, seed=20, effects=three, sd_subject=1.5, sd_resid=0.8,
             carry_effects={"A": 0.0, "B": 0.6, "C": -0.4})
    ketapain_seqs = [["P", "K", "KM"], ["P", "KM", "K"], ["K", "P", "KM"],
                     ["K", "KM", "P"], ["KM", "P", "K"], ["KM", "K", "P"]]
    simulate("ketapain_like", ketapain_seqs, [4, 4, 3, 3, 3, 3], seed=21,
             effects={"P": 187.0, "K": 180.0, "KM": 196.0}, sd_subject=88.0, sd_resid=31.0,
             period_effect=-4.0, missing=2, sep="-")
    simulate("w3_baseline", w3, [4] * 6, seed=22, effects=three, sd_subject=1.2, sd_resid=0.9,
             baseline_slope=0.5, missing=2)
    cases = [
        # case, dataset, model, carryover, log, method, covariates
        ("w3_balanced", "w3_balanced", "standard", 0, 0, "REML"),
        ("w3_balanced_paper", "w3_balanced", "paper", 0, 0, "REML"),
        ("w3_balanced_paper_carry", "w3_balanced", "paper", 1, 0, "REML"),
        ("w3_balanced_ml", "w3_balanced", "standard", 0, 0, "ML"),
        ("w3_unbalanced_missing", "w3_unbalanced_missing", "standard", 0, 0, "REML"),
        ("w3_unbalanced_missing_carry", "w3_unbalanced_missing", "standard", 1, 0, "REML"),
        ("ab_ba", "ab_ba", "standard", 0, 0, "REML"),
        ("aba_bab_carry", "aba_bab", "standard", 1, 0, "REML"),
        ("abab_baba", "abab_baba", "standard", 0, 0, "REML"),
        ("w4", "w4", "standard", 0, 0, "REML"),
        ("w4_carry", "w4", "standard", 1, 0, "REML"),
        ("icc_low", "icc_low", "standard", 0, 0, "REML"),
        ("icc_high", "icc_high", "standard", 0, 0, "REML"),
        ("lognormal_log", "lognormal", "standard", 0, 1, "REML"),
        ("w3_carryover", "w3_carryover", "standard", 1, 0, "REML"),
        ("ketapain_like_paper_carry", "ketapain_like", "paper", 1, 0, "REML"),
        ("ketapain_like_paper", "ketapain_like", "paper", 0, 0, "REML"),
        ("ketapain_like", "ketapain_like", "standard", 0, 0, "REML"),
        ("w3_baseline_covariate", "w3_baseline", "standard", 0, 0, "REML", "baseline"),
        ("w3_baseline_covariate_paper_carry", "w3_baseline", "paper", 1, 0, "REML", "baseline"),
    ]
    cases = [c if len(c) == 7 else (*c, "") for c in cases]
    with open(HERE / "cases.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "dataset", "model", "carryover", "log", "method", "covariates"])
        w.writerows(cases)


if __name__ == "__main__":
    main()

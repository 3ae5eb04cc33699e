"""Write the small synthetic example trial bundled with ketapain (``src/ketapain/examples``).

The example is *synthetic*: 20 patients in a 3-treatment (P, K, KM), 3-period Williams
crossover with 35-day daily pain diaries, drawn from a seeded random model loosely shaped like
the KETAPAIN report (baseline pain ~6/10, high between-patient correlation, a small early
ketamine effect). It exists so that ``ketapain demo`` and the docs have data to run on before
the calibrated simulator exists; it is not the study's data and claims nothing about it.

Run: ``python tools/make_examples.py`` (deterministic: seed 20200701).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "src" / "ketapain" / "examples"
SEED = 20200701
SEQUENCES = ["P-K-KM", "P-KM-K", "K-P-KM", "K-KM-P", "KM-P-K", "KM-K-P"]
DAYS = 35


def main() -> None:
    rng = np.random.default_rng(SEED)
    n = 20
    seq = np.array([SEQUENCES[i % 6] for i in rng.permutation(n)])
    patient = np.array([f"P{i + 1:02d}" for i in range(n)])
    level = np.clip(rng.normal(6.0, 1.6, n), 2.5, 9.5)  # each patient's usual pain
    # Early relief (points of pain at day 1, decaying with a 5-day half-life) per treatment.
    relief = {"P": 0.3, "K": 1.2, "KM": 0.8}
    alloc_rows, diary_rows = [], []
    for i in range(n):
        for k, trt in enumerate(seq[i].split("-")):
            pre = float(np.clip(np.round(level[i] + rng.normal(0, 0.8)), 0, 10))
            alloc_rows.append((patient[i], k + 1, seq[i], trt, pre))
            day = np.arange(1, DAYS + 1)
            effect = relief[trt] * 0.5 ** ((day - 1) / 5.0)
            noise = np.zeros(DAYS)
            for d in range(DAYS):  # AR(1) day-to-day noise (generator only, not library code)
                noise[d] = (0.6 * noise[d - 1] if d else 0.0) + rng.normal(0, 0.7)
            avg = np.clip(np.round(level[i] - effect + noise), 0, 10)
            mx = np.clip(avg + rng.integers(0, 3, DAYS), 0, 10)
            night = np.clip(avg + rng.integers(-2, 2, DAYS), 0, 10)
            miss = rng.random(DAYS) < 0.03
            for d in range(DAYS):
                a = np.nan if miss[d] else avg[d]
                diary_rows.append((patient[i], k + 1, d + 1, a, np.nan if miss[d] else mx[d],
                                   np.nan if miss[d] else night[d]))
    alloc = pd.DataFrame(alloc_rows, columns=["patient_id", "period", "sequence", "treatment", "pre_infusion_pain"])
    diary = pd.DataFrame(diary_rows, columns=["patient_id", "period", "day", "avg_pain", "max_pain", "night_pain"])
    OUT.mkdir(parents=True, exist_ok=True)
    alloc.to_csv(OUT / "allocation.csv", index=False)
    diary.to_csv(OUT / "diary.csv", index=False)


if __name__ == "__main__":
    main()

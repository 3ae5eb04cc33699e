"""Make the daily-diary datasets whose R fits are stored in ``expected/``.

Run from this folder: ``python make_datasets.py`` (writes ``data/<name>_diary.csv``,
``data/<name>_allocation.csv`` and ``cases.csv``), then
``Rscript daily_lmm_reference.R cases.csv expected`` (one JSON per case).

Each dataset is simulated with plain loops (independently of ketapain) from
``y = mu_treatment(day) + period effect + b_patient + c_patient_period + e``, rounded to one
decimal and clipped to 0..10, with the pre-infusion score as day 0. Missing days: MCAR
deletion, and (``dropout``) monotone dropout: from a random day on, the rest of the period is
missing. Fixed seeds make the files reproducible.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
WILLIAMS3 = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]


def simulate(name: str, sequences: list[str], per_sequence: int, *, window: int, seed: int,
             p_mcar: float, p_dropout: float = 0.0) -> None:
    rng = np.random.default_rng(seed)
    effect = {"A": 0.0, "B": -0.8, "C": -1.4}
    diary, allocation = [], []
    pid = 0
    for seq in sequences:
        for _ in range(per_sequence):
            pid += 1
            patient = f"P{pid:02d}"
            b = rng.normal(0.0, 1.2)
            for k, trt in enumerate(seq):
                period = k + 1
                c = rng.normal(0.0, 0.5)
                pre = float(np.clip(np.round(6.0 + b + rng.normal(0.0, 0.8), 1), 0, 10))
                allocation.append({"patient_id": patient, "period": period, "sequence": seq,
                                   "treatment": trt, "pre_infusion_pain": pre})
                drop_day = window + 1
                if rng.random() < p_dropout:
                    drop_day = int(rng.integers(3, window + 1))
                for day in range(1, window + 1):
                    wane = effect[trt] * np.exp(-day / 12.0)
                    mu = 5.8 + wane + 0.25 * k + b + c
                    y = float(np.clip(np.round(mu + rng.normal(0.0, 0.9), 1), 0, 10))
                    missing = day >= drop_day or rng.random() < p_mcar
                    diary.append({"patient_id": patient, "period": period, "day": day,
                                  "avg_pain": "" if missing else y})
    (HERE / "data").mkdir(exist_ok=True)
    for suffix, rows in (("diary", diary), ("allocation", allocation)):
        with open(HERE / "data" / f"{name}_{suffix}.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


CASES = [
    # case, dataset, model, anchor, window, ref
    ("w3_mcar_standard", "w3_mcar", "standard", 1, 14, "A"),
    ("w3_mcar_paper", "w3_mcar", "paper", 1, 14, "A"),
    ("w3_mcar_noanchor", "w3_mcar", "standard", 0, 14, "A"),
    ("w3_dropout_standard", "w3_dropout", "standard", 1, 21, "B"),
    ("ab_ba_standard", "ab_ba", "standard", 1, 10, "A"),
    ("ab_ba_paper", "ab_ba", "paper", 1, 10, "A"),
]

if __name__ == "__main__":
    simulate("w3_mcar", WILLIAMS3, 3, window=14, seed=101, p_mcar=0.10)
    simulate("w3_dropout", WILLIAMS3, 3, window=21, seed=202, p_mcar=0.03, p_dropout=0.4)
    simulate("ab_ba", ["AB", "BA"], 6, window=10, seed=303, p_mcar=0.12)
    with open(HERE / "cases.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", "dataset", "model", "anchor", "window", "ref"])
        writer.writerows(CASES)

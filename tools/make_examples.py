"""Write the small synthetic example trial bundled with ketapain (``src/ketapain/examples``).

The example is *synthetic*: 20 patients in a 3-treatment (P, K, KM), 3-period Williams
crossover with 35-day daily pain diaries, drawn from a seeded random model loosely shaped like
the KETAPAIN report (baseline pain ~6/10, high between-patient correlation, a small early
ketamine effect). It exists so that ``ketapain demo`` and the docs have data to run on before
the calibrated simulator exists; it is not the study's data and claims nothing about it.

It also writes the example input files of ``ketapain examples`` (the files a user brings to
the commands of the README), derived from that trial with the library itself:

- ``pain_auc.csv``: one row per patient x period: subject, period, sequence, treatment and
  ``y`` = AUC of ``avg_pain`` to day 35 (score-days; day 0 = infusion day, anchored at
  ``pre_infusion_pain``; missing days by LOCF), the reference study's primary endpoint;
- ``auc_by_window.csv``: the same with a ``window`` column, one AUC per window 7, 15, 21, 28, 35;
- ``responders.csv``: ``y`` = 1 when the patient improved in the first week (AUC to day 7 below
  7 x the pre-infusion pain: the curve stays, on average, under the pre-infusion level), else 0;
- ``hads_answers.json`` and ``screening_answers.json``: one patient's HADS answers and one
  person's screening answers (written by hand below).

Run: ``python tools/make_examples.py`` (deterministic: seed 20200701). ``--derived-only``
rewrites only the derived files from the shipped trial.
"""

from __future__ import annotations

import json
import sys
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
    write_derived(OUT)


HADS_ANSWERS = {"1": 2, "2": 1, "3": 2, "4": 1, "5": 2, "6": 1, "7": 1, "8": 2, "9": 1, "10": 2, "11": 2, "12": 1,
                "13": 1, "14": 0}
"""One patient's HADS answers (items 1-14, each 0..3): anxiety 11, depression 8 with the default coding."""

SCREENING_ANSWERS = {
    "age": 54, "pain_duration_months": 30, "pain_origin": "central", "iv_ketamine_indicated": True,
    "previous_ketamine": False, "history_compatible_with_lesion": True, "pain_in_neuroanatomical_territory": True,
    "sensory_signs_on_examination": True, "previous_iv_ketamine": False, "ketamine_contraindication": False,
    "magnesium_contraindication": False, "saline_contraindication": False, "incompatible_history_or_drugs": False,
    "childbearing_without_contraception": False, "pregnant_or_lactating": False, "in_other_trial": False,
    "unable_to_comply": False,
    "dn4_items": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 0, "7": 0, "8": 0, "9": 0, "10": 0},
}
"""One person's screening answers for the reference protocol (eligible; DN4 total 5)."""


def derived_files(alloc: pd.DataFrame, diary: pd.DataFrame) -> dict[str, str]:
    """The derived example files' contents, by file name."""
    from ketapain.stats import diary_auc

    windows = (7, 15, 21, 28, 35)
    auc = diary_auc(diary, value="avg_pain", windows=windows, time_axis="infusion", impute="locf",
                    anchor=alloc[["patient_id", "period", "pre_infusion_pain"]])
    long = auc.merge(alloc, on=["patient_id", "period"], validate="many_to_one").rename(
        columns={"patient_id": "subject", "window_day": "window", "auc": "y"})
    cols = ["subject", "period", "sequence", "treatment"]
    by_window = long[[*cols, "window", "y"]].sort_values(["window", "subject", "period"], kind="stable")
    day35 = by_window[by_window["window"] == 35].drop(columns="window")
    day7 = long[long["window"] == 7].sort_values(["subject", "period"], kind="stable")
    responders = day7[cols].assign(y=(day7["y"] < 7 * day7["pre_infusion_pain"]).astype(int))
    return {
        "pain_auc.csv": day35.round(4).to_csv(index=False),
        "auc_by_window.csv": by_window.round(4).to_csv(index=False),
        "responders.csv": responders.to_csv(index=False),
        "hads_answers.json": json.dumps(HADS_ANSWERS, indent=1) + "\n",
        "screening_answers.json": json.dumps(SCREENING_ANSWERS, indent=1) + "\n",
    }


def write_derived(folder: Path) -> None:
    alloc = pd.read_csv(folder / "allocation.csv", dtype={"patient_id": str, "sequence": str, "treatment": str})
    diary = pd.read_csv(folder / "diary.csv", dtype={"patient_id": str})
    for name, text in derived_files(alloc, diary).items():
        (folder / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if "--derived-only" in sys.argv[1:]:
        write_derived(OUT)
    else:
        main()

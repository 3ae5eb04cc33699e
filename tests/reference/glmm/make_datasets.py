"""Generate the seeded crossover datasets used by the glmer reference tests.

Run from anywhere: ``python tests/reference/glmm/make_datasets.py``; the CSV files are
written next to this script (long format: subject, period, sequence, treatment, y).
Then run ``Rscript tests/reference/glmm/glmer_reference.R`` to refresh the JSON outputs.

Model simulated: logit P(y = 1) = base + treatment + period + b_subject, b ~ N(0, sd^2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WILLIAMS3 = ("ABC", "BCA", "CAB", "ACB", "BAC", "CBA")  # both Latin squares: Williams, t = 3


def simulate(
    rng: np.random.Generator,
    sequences: dict[str, int],
    *,
    base: float,
    treatment: dict[str, float],
    period: list[float],
    sd: float,
    prefix: str,
) -> pd.DataFrame:
    """One row per subject and period; ``sequences`` maps sequence -> number of subjects."""
    rows = []
    k = 0
    for seq, n in sequences.items():
        for _ in range(n):
            k += 1
            b = rng.normal(0.0, sd) if sd > 0 else 0.0
            for j, trt in enumerate(seq):
                eta = base + treatment[trt] + period[j] + b
                y = int(rng.random() < 1.0 / (1.0 + np.exp(-eta)))
                rows.append((f"{prefix}{k:02d}", j + 1, seq, trt, y))
    return pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])


def main() -> None:
    effects3 = {"A": 0.0, "B": 0.9, "C": -0.4}
    # 1. Williams 3x3, 6 sequences x 5 subjects, random-intercept SD 1.2.
    williams = simulate(
        np.random.default_rng(20240612),
        dict.fromkeys(WILLIAMS3, 5),
        base=0.2, treatment=effects3, period=[0.0, 0.3, -0.2], sd=1.2, prefix="W",
    )
    # 2. AB/BA, 20 subjects per sequence, SD 1.5.
    abba = simulate(
        np.random.default_rng(314159),
        {"AB": 20, "BA": 20},
        base=-0.3, treatment={"A": 0.0, "B": 1.0}, period=[0.0, 0.2], sd=1.5, prefix="P",
    )
    # 3. Unbalanced Williams 3x3: unequal sequence sizes and ~12% of rows missing.
    rng = np.random.default_rng(271828)
    unbal = simulate(
        rng,
        dict(zip(WILLIAMS3, (7, 5, 4, 6, 3, 5), strict=True)),
        base=0.0, treatment=effects3, period=[0.0, 0.2, 0.1], sd=1.2, prefix="U",
    )
    unbal = unbal[rng.random(len(unbal)) > 0.12].reset_index(drop=True)
    # 4. Near-zero subject variance (simulated SD 0): the ML estimate of theta is 0.
    boundary = simulate(
        np.random.default_rng(7),
        dict.fromkeys(WILLIAMS3, 4),
        base=0.1, treatment=effects3, period=[0.0, 0.1, 0.0], sd=0.0, prefix="Z",
    )
    for name, df in {
        "williams3x3": williams, "ab_ba": abba, "unbalanced": unbal, "boundary": boundary,
    }.items():
        df.to_csv(HERE / f"{name}.csv", index=False)


if __name__ == "__main__":
    main()

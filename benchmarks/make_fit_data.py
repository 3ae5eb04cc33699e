"""Write a large long crossover CSV for ``ketapain fit`` (issue 14: 5 M rows, time and memory).

Run from the repository root::

    python benchmarks/make_fit_data.py OUT.csv --rows 5000000 [--trials 50] [--missing 0.05] [--seed 14]

The file has the columns of ``ketapain fit``'s input (``subject, period, sequence, treatment,
y``) and a ``trial`` column for ``ketapain fit OUT.csv --by trial``: a 3x3 Williams design
(sequences ``ABC ACB BAC BCA CAB CBA``, subject ``i`` of a trial gets sequence ``i mod 6``),
one row per subject x period, ``--rows`` rows in all (rounded down to whole subjects),
``--trials`` trials of equal size. Subject labels are ``T0001-S0000001`` (unique over the
file, so the single fit sees every subject as its own); outcome ``y`` = 50 + treatment effect
(B +0.5, C +1.0) + period effect (+0.2, +0.4) + subject intercept (SD 1) + residual (SD 1),
rounded to 3 decimals, and a fraction ``--missing`` of the cells left empty (MCAR). Numpy
only, seeded; written in chunks so the generator itself stays small.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SEQS = ("ABC", "ACB", "BAC", "BCA", "CAB", "CBA")
EFFECT = {"A": 0.0, "B": 0.5, "C": 1.0}
PERIOD_EFFECT = (0.0, 0.2, 0.4)
CHUNK = 200_000  # subjects per write


def _chunk_lines(rng: np.random.Generator, first: int, count: int, per_trial: int, missing: float) -> str:
    """CSV lines of subjects ``first .. first + count - 1`` (global numbering)."""
    subj = np.arange(first, first + count)
    trial = subj // per_trial + 1
    within = subj % per_trial
    seq = within % len(SEQS)
    b = rng.normal(0.0, 1.0, count)
    out = []
    for k in range(3):
        letters = np.array([s[k] for s in SEQS])[seq]
        mean = 50.0 + np.vectorize(EFFECT.get)(letters) + PERIOD_EFFECT[k] + b
        y = mean + rng.normal(0.0, 1.0, count)
        cells = np.char.mod("%.3f", y).astype(object)
        cells[rng.random(count) < missing] = ""
        out.append((letters, cells))
    lines = []
    seq_labels = np.array(SEQS)[seq]
    for i in range(count):
        label = f"T{trial[i]:04d}-S{subj[i]:07d}"
        for k in range(3):
            lines.append(f"{trial[i]},{label},{k + 1},{seq_labels[i]},{out[k][0][i]},{out[k][1][i]}\n")
    return "".join(lines)


def write(path: Path, rows: int, trials: int, missing: float, seed: int) -> int:
    """Write the file; return the number of data rows."""
    subjects = rows // 3
    per_trial = -(-subjects // trials)
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("trial,subject,period,sequence,treatment,y\n")
        for first in range(0, subjects, CHUNK):
            fh.write(_chunk_lines(rng, first, min(CHUNK, subjects - first), per_trial, missing))
    return subjects * 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--missing", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    n = write(args.out, args.rows, args.trials, args.missing, args.seed)
    print(f"{args.out}: {n:,} rows, {n // 3:,} subjects, {args.trials} trials")


if __name__ == "__main__":
    main()

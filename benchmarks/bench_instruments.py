"""Speed benchmark of questionnaire scoring (``ketapain.instruments``).

Run: ``python benchmarks/bench_instruments.py`` (from the repository root; ~30 s).

Measures (median of repeated wall-clock runs, ``time.perf_counter``, after one warm-up):

1. ``score_frame("sf36", df)`` for 100,000 respondents x 36 items (wide frame, float columns,
   random answers valid for SF-36 v1, each answer blank with probability 2%), for the default
   options (v1, Ware, 1998 norms) and for RAND-36 scoring. The time includes the framework's
   validation of every answer (type, range) and the conversion to a float matrix. The blanks
   leave about 200 respondents with a scale below the half-scale rule, so the frame is scored
   with ``incomplete="missing"`` (the default, ``"error"``, would refuse it; its vectorised check
   takes about 6 ms on 100,000 complete respondents).
2. The SF-36 scorer alone on the already validated float matrix (recodes, missing-item rules,
   scales, T-scores, PCS/MCS), to show how the time splits.

The answers are drawn with a fixed seed, so every run scores the same data.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ketapain.instruments import get_instrument, score_frame

N_RESPONDENTS = 100_000
P_MISSING = 0.02
SEED = 20261127

# SF-36 v1 response ranges, items 1..36 (docs/instruments/scoring-notes.md section 6).
SF36_V1_MAX = [5, 5, *([3] * 10), *([2] * 7), 5, 6, 5, *([6] * 9), *([5] * 5)]


def sf36_answers(n: int = N_RESPONDENTS, *, seed: int = SEED, p_missing: float = P_MISSING) -> pd.DataFrame:
    """Random valid SF-36 v1 answers (float columns "1".."36", NaN = blank)."""
    rng = np.random.default_rng(seed)
    hi = np.asarray(SF36_V1_MAX)
    values = rng.integers(1, hi + 1, size=(n, hi.size)).astype(float)
    values[rng.random(values.shape) < p_missing] = np.nan
    return pd.DataFrame(values, columns=[str(i) for i in range(1, 37)])


def timeit(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    df = sf36_answers()
    inst = get_instrument("sf36")
    opts = inst.resolve_options({})
    numeric = inst.numeric_items(df, where="row")
    rows = [
        ("score_frame('sf36', df), v1/Ware/1998 norms (defaults)",
         timeit(lambda: score_frame("sf36", df, incomplete="missing"), 5)),
        ("score_frame('sf36', df, method='rand')",
         timeit(lambda: score_frame("sf36", df, method="rand", incomplete="missing"), 5)),
        ("SF-36 scorer alone on the validated float matrix (defaults)", timeit(lambda: inst.scorer(numeric, opts), 20)),
    ]
    print(f"SF-36 scoring, {N_RESPONDENTS:,} respondents x 36 items, {P_MISSING:.0%} blank answers (seed {SEED})")
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, {platform.machine()}")
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"  {name:<{width}}  {seconds:8.3f} s")


if __name__ == "__main__":
    main()

"""The small synthetic example trial shipped with ketapain (see ``tools/make_examples.py``).

20 patients, treatments P/K/KM in a 3-period Williams crossover, 35-day daily diaries with
~3% missing days. Synthetic, seeded data: not the KETAPAIN study's data.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_example"]


def load_example() -> dict[str, pd.DataFrame]:
    """Return ``{"allocation": ..., "diary": ...}`` as tidy frames (docs/data-model.md columns).

    Examples
    --------
    >>> tables = load_example()
    >>> tables["diary"].shape, sorted(tables["allocation"]["treatment"].unique())
    ((2100, 6), ['K', 'KM', 'P'])
    """
    root = resources.files(__package__)
    out = {}
    for name in ("allocation", "diary"):
        with root.joinpath(f"{name}.csv").open("r", encoding="utf-8") as fh:
            out[name] = pd.read_csv(fh, dtype={"patient_id": str, "sequence": str, "treatment": str})
    return out

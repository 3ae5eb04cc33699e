"""JSON-safe values, defined once for every ``to_dict()``, results file and JSON output.

At the bottom of the layers with :mod:`ketapain.errors`: every package may import it.

>>> json_number(float("nan")), json_number(np.float64(2.5)), json_number(np.int64(3)), json_number(None)
(None, 2.5, 3.0, None)
>>> json_safe({"a": (1, np.nan), "b": np.array([1.5, np.inf]), "c": pd.Timestamp("2020-01-02")})
{'a': [1, None], 'b': [1.5, None], 'c': '2020-01-02'}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_number", "json_safe"]


def json_number(x: Any) -> float | None:
    """``x`` as a finite float, or None (None, NaN, NA, infinite, not a number)."""
    if x is None or x is pd.NA or isinstance(x, bool | np.bool_):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def json_safe(value: Any) -> Any:
    """Recursively convert to JSON-safe Python: NaN/inf/NA -> None, numpy -> Python, frames ->
    lists of records, tuples and arrays -> lists, timestamps -> ISO dates."""
    if isinstance(value, pd.DataFrame):
        return [json_safe(r) for r in value.to_dict(orient="records")]
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        x = float(value)
        return x if math.isfinite(x) else None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)

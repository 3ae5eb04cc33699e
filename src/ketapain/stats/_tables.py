"""Tidy frames shared by the fitted-model classes (one implementation for every model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special as sc

__all__ = ["fixed_effects_frame", "t_quantile"]


def t_quantile(conf_level: float, df: float | np.ndarray) -> np.ndarray:
    """Two-sided quantile ``t_{df}(0.5 + conf_level / 2)``, the standard normal's where ``df`` is
    infinite (elementwise)."""
    upper = 0.5 + conf_level / 2.0
    df = np.asarray(df, dtype=float)
    q: np.ndarray = np.where(np.isinf(df), sc.ndtri(upper), sc.stdtrit(np.where(np.isinf(df), 1.0, df), upper))
    return q


def fixed_effects_frame(terms: Sequence[str], estimate: np.ndarray, se: np.ndarray, df: np.ndarray,
                        statistic: np.ndarray, p_value: np.ndarray, conf_level: float) -> pd.DataFrame:
    """Fixed effects, one row per term: ``term, estimate, se, df, ci_low, ci_high, statistic,
    p_value``; the interval is ``estimate -+ t_quantile(conf_level, df) * se`` (the tests' df)."""
    q = t_quantile(conf_level, df)
    return pd.DataFrame({
        "term": list(terms), "estimate": estimate, "se": se, "df": df,
        "ci_low": estimate - q * se, "ci_high": estimate + q * se, "statistic": statistic, "p_value": p_value,
    })

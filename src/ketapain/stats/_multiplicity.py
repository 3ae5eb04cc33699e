"""Sidak adjustment of p-values and confidence levels for a family of ``k`` comparisons."""

from __future__ import annotations

import numpy as np
from scipy import special as sc

from ketapain._options import CONF_LEVEL, Number, check_option

__all__ = ["sidak_critical_value", "sidak_p"]


def sidak_p(p: np.ndarray | float, k: int) -> np.ndarray:
    """Sidak-adjusted p-values ``1 - (1 - p)^k`` for ``k`` comparisons (computed stably).

    The result is clipped to ``[p, 1]``: ``1 - (1 - p)^k >= p`` for ``k >= 1``, and the clip keeps
    rounding from breaking it; ``k = 1`` returns ``p`` itself (the formula can round above it).

    Examples
    --------
    >>> float(sidak_p(0.05, 3).round(6))
    0.142625
    """
    p = np.asarray(p, dtype=float)
    if k == 1:  # exactly p: expm1(log1p(-p)) can round either side of p
        return p.copy()
    with np.errstate(divide="ignore"):  # p = 1 gives log1p(-1) = -inf, hence exactly 1
        adjusted = -np.expm1(k * np.log1p(-np.minimum(p, 1.0)))
    out: np.ndarray = np.maximum(p, np.minimum(1.0, adjusted))
    return out


def sidak_critical_value(conf_level: float, k: int, df: float) -> float:
    """Two-sided critical value for simultaneous Sidak intervals.

    Each of the ``k`` intervals has level ``conf_level ** (1/k)``; the quantile is Student's t
    with ``df`` degrees of freedom, or the standard normal when ``df`` is infinite (as emmeans
    does with ``adjust = "sidak"``).

    Examples
    --------
    >>> round(sidak_critical_value(0.95, 1, float("inf")), 6)
    1.959964
    """
    check_option("conf_level", conf_level, CONF_LEVEL)
    check_option("k", k, Number(low=1, integer=True))
    level = conf_level ** (1.0 / k)
    upper = (1.0 + level) / 2.0
    # scipy.special's inverses (what scipy.stats' ppf computes, without its overhead)
    return float(sc.ndtri(upper) if np.isinf(df) else sc.stdtrit(df, upper))

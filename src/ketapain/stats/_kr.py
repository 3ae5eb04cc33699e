"""Kenward-Roger denominator df and F scaling from the A1/A2 sums: one implementation for the
single engine (:mod:`ketapain.stats._ddf`) and the batched engines."""

from __future__ import annotations

import numpy as np

__all__ = ["kr_df"]


def kr_df(a1: np.ndarray | np.float64, a2: np.ndarray | np.float64, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Kenward-Roger denominator df and F scaling from ``A1``, ``A2`` and the number of
    hypotheses ``q`` (pbkrtest's ``.KR_adjust`` arithmetic, elementwise, with R's IEEE
    semantics: x/0 = Inf on degenerate data).

    For one contrast (``q = 1``) every ``U_k`` has rank one, so ``A1 = A2 = A`` exactly and the
    formulas reduce to ``ddf = 2 / A`` and scaling 1 (``g = -1``, ``rho = (1 - A/2) / (1 - 2A)``);
    that form is used, because the general expression divides two rounding-level numbers near
    ``A = 1`` (df ~ 2) and scatters there (pbkrtest gives 2.0, 2.0295 and 2.0 for three
    equivalent terms of one fit)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        b = (a1 + 6.0 * a2) / (2.0 * q)
        g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
        denom = 3.0 * q + 2.0 * (1.0 - g)
        c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
        v0 = 1.0 + c1 * b
        v1 = 1.0 - c2 * b
        v2 = 1.0 - c3 * b
        v0 = np.where(np.abs(v0) < 1e-10, 0.0, v0)
        x = 1.0 - a2 / q
        ratio = np.where((np.abs(x) < 1e-14) & (np.abs(v1) < 1e-14), 1.0, x / v1)
        rho = ratio**2 * v0 / v2 / q
        ddf = 4.0 + (q + 2.0) / (q * rho - 1.0)
        scaling = np.where(np.abs(ddf - 2.0) < 0.01, 1.0, ddf * (1.0 - a2 / q) / (ddf - 2.0))
        if q == 1:  # one contrast: ddf = 2 / A exactly
            exact = a1 > 0
            ddf = np.where(exact, 2.0 / np.where(exact, a1, 1.0), ddf)
            scaling = np.where(exact, 1.0, scaling)
    return ddf, scaling

"""Rubin's rules: pooling scalar estimates (Barnard-Rubin df) and Wald tests (D1).

Scalar (Rubin 1987; Barnard & Rubin 1999), ``m`` imputations with estimates ``Q_k`` and
squared standard errors ``U_k``, complete-data df ``nu_com``:

    Qbar = mean Q_k,  Ubar = mean U_k,  B = var(Q_k) (divisor m - 1),
    T = Ubar + (1 + 1/m) B,  r = (1 + 1/m) B / Ubar,  lambda = (1 + 1/m) B / T,
    nu_old = (m - 1) / lambda^2,  nu_obs = (nu_com + 1)/(nu_com + 3) nu_com (1 - lambda),
    nu = 1 / (1/nu_old + 1/nu_obs),   fmi = (r + 2/(nu_old + 3)) / (1 + r).

The fraction of missing information is Rubin's (1987, eq. 3.1.10) with the large-sample
``nu_old``; it tends to ``lambda`` as ``B -> 0`` and equals 0 at ``B = 0``. R's ``mice::pool()``
puts the Barnard-Rubin ``nu`` in its place, which bounds its fmi below by ``2/(nu + 3)``
(about 0.05 when ``nu_com`` is about 36, however little is missing) and jumps to 0 at ``B = 0``;
ketapain does not (issue 19: its fmi read 0.05 where ``lambda`` was 0.0004).

When ``B = 0`` (nothing was imputed), ``nu = nu_com`` and ``fmi = 0``, so that the pooled result is exactly
the complete-data result; with ``nu_com = inf`` the large-sample ``nu_old`` is used.

Multivariate (Li, Raghunathan & Rubin 1991, "D1"): ``k`` parameters,
``r1 = (1 + 1/m) tr(B Ubar^-1) / k``, ``D1 = Qbar' Ubar^-1 Qbar / (k (1 + r1))`` referred to
``F(k, nu1)`` with ``t = k (m - 1)``: ``nu1 = 4 + (t - 4)(1 + (1 - 2/t)/r1)^2`` if ``t > 4``
else ``t (1 + 1/k)(1 + 1/r1)^2 / 2``. When the complete-data test has a finite denominator df
``nu_com``, ketapain combines it as Barnard & Rubin do for a scalar:
``1/nu = 1/nu1 + 1/nu_obs``, ``nu_obs = (nu_com + 1)/(nu_com + 3) nu_com / (1 + r1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

__all__ = ["PooledScalar", "pool_d1", "pool_scalar"]


@dataclass(frozen=True, slots=True)
class PooledScalar:
    """Rubin's rules for one scalar; see the module docstring."""

    estimate: float
    within: float
    between: float
    total: float
    df: float
    riv: float
    fmi: float
    df_complete: float

    @property
    def se(self) -> float:
        return math.sqrt(self.total)


def pool_scalar(q: np.ndarray, u: np.ndarray, df_complete: float) -> PooledScalar:
    """Pool estimates ``q`` (m,) with squared SEs ``u`` (m,) and complete-data df.

    Examples
    --------
    >>> p = pool_scalar(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]), math.inf)
    >>> p.estimate, p.between, round(p.total, 4)
    (2.0, 1.0, 2.3333)
    """
    q = np.asarray(q, dtype=float)
    u = np.asarray(u, dtype=float)
    m = q.size
    qbar = float(q.mean())
    ubar = float(u.mean())
    # identical estimates (nothing imputed) have no between-imputation variance; q.var() of
    # identical values can be ~1e-30 instead of 0 because the mean is rounded
    b = float(q.var(ddof=1)) if m > 1 and np.ptp(q) > 0 else 0.0
    total = ubar + (1.0 + 1.0 / m) * b
    riv = (1.0 + 1.0 / m) * b / ubar
    lam = (1.0 + 1.0 / m) * b / total
    if b == 0.0:
        df = float(df_complete)
    else:
        nu_old = (m - 1) / lam**2
        if math.isinf(df_complete):
            df = nu_old
        else:
            nu_obs = (df_complete + 1.0) / (df_complete + 3.0) * df_complete * (1.0 - lam)
            df = 1.0 / (1.0 / nu_old + 1.0 / nu_obs)
    fmi = 0.0 if b == 0.0 else (riv + 2.0 / ((m - 1) / lam**2 + 3.0)) / (1.0 + riv)
    return PooledScalar(estimate=qbar, within=ubar, between=b, total=total, df=df, riv=riv, fmi=fmi,
                        df_complete=float(df_complete))


@dataclass(frozen=True, slots=True)
class PooledWald:
    """D1 pooled Wald test: ``statistic`` ~ F(df_num, df_den) (chi2/k scale when df_den = inf)."""

    statistic: float
    df_num: int
    df_den: float
    p_value: float
    riv: float


def pool_d1(q: np.ndarray, u: np.ndarray, df_complete: float) -> PooledWald:
    """D1 test of ``Q = 0`` from ``q`` (m, k) estimates and ``u`` (m, k, k) covariances."""
    q = np.asarray(q, dtype=float)
    u = np.asarray(u, dtype=float)
    m, k = q.shape
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    dev = q - qbar
    b = dev.T @ dev / (m - 1) if m > 1 else np.zeros((k, k))
    uinv = np.linalg.inv(ubar)
    r1 = (1.0 + 1.0 / m) * float(np.trace(b @ uinv)) / k
    d1 = float(qbar @ uinv @ qbar) / (k * (1.0 + r1))
    if r1 == 0.0:
        nu = float(df_complete)
    else:
        t = k * (m - 1)
        nu1 = 4.0 + (t - 4.0) * (1.0 + (1.0 - 2.0 / t) / r1) ** 2 if t > 4 else t * (1 + 1 / k) * (1 + 1 / r1) ** 2 / 2
        if math.isinf(df_complete):
            nu = nu1
        else:
            nu_obs = (df_complete + 1.0) / (df_complete + 3.0) * df_complete / (1.0 + r1)
            nu = 1.0 / (1.0 / nu1 + 1.0 / nu_obs)
    p = float(sps.chi2.sf(d1 * k, k)) if math.isinf(nu) else float(sps.f.sf(d1, k, nu))
    return PooledWald(statistic=d1, df_num=k, df_den=nu, p_value=p, riv=r1)

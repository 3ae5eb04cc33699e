"""Vectorised numerics of the batched random-intercept engine (many groups at once).

Every group ``b`` (one trial or one endpoint) is reduced to its sufficient statistics
*pooled by subject size*: for ``m = 1..M`` (the number of observed periods of a subject),

    cnt_m = #{i : n_i = m},  SS_m = sum_{n_i = m} s_i s_i',  ST_m = sum_{n_i = m} s_i t_i,
    TT_m = sum_{n_i = m} t_i^2,

plus ``X'X``, ``X'y``, ``y'y`` and ``N``. Because the weights of the single-trial engine
(:mod:`ketapain.stats._lmm`), ``w_i = theta^2 / (1 + n_i theta^2)`` and
``a_i = 1 / (sigma^2 + n_i sigma_b^2)``, depend on a subject only through ``n_i``, every sum
over subjects there (``sum_i c(n_i) s_i s_i'`` ...) is ``sum_m c(m) SS_m`` here: the cost of
a fit no longer depends on the number of subjects. Arrays carry a leading batch axis ``B``.

Groups whose subjects all have the same size ``m0`` (complete data) share one more
reduction: with ``X'X = R R'`` and the eigendecomposition ``R^-1 SS R^-T = Q diag(d) Q'``,
``T = R^-T Q`` gives ``T' X'X T = I`` and ``T' SS T = diag(d)``, so
``A(gamma) = X'X - w SS`` is diagonal in that basis and the profiled deviance and its
derivative cost ``O(p)`` per group and per ``gamma = theta^2`` (:class:`EigenStats`). ``T``
and ``d`` depend on the design only, so groups with the same design pattern share them.

The optimum is the same as the single engine's: the same theta grid and bracket choice,
then a root of the analytic derivative of the profiled deviance in ``gamma``

    D(gamma) = sum_m cnt_m m / (1 + m gamma) - sum_m w'_m tr(A^-1 SS_m) [REML only]
               - dof * sum_m w'_m E2_m / r,     w'_m = 1 / (1 + m gamma)^2,

with ``E2_m = sum_{n_i = m} (t_i - s_i' beta)^2`` (envelope theorem for ``r``), found by a
vectorised Illinois regula falsi to machine precision, and the same boundary rules
(``theta = 0`` when its deviance is within ``1e-10`` of the interior optimum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EigenStats",
    "ReducedStats",
    "THETA_GRID",
    "criterion",
    "direct_derivative",
    "direct_deviance",
    "direct_parts",
    "eigen_derivative",
    "eigen_deviance",
    "eigen_stats",
    "optimise",
    "reduced_stats",
    "take_eig",
]

#: A function of ``gamma = theta^2`` (B,) for the groups at positions ``idx`` (B,).
GammaFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]

THETA_GRID = np.concatenate([[0.0], np.logspace(-4, 3, 36)])  # as ketapain.stats._lmm


@dataclass(frozen=True, slots=True)
class ReducedStats:
    """Sufficient statistics of ``B`` groups pooled by subject size ``m = 1..M``."""

    cnt: np.ndarray  # (B, M)
    ss: np.ndarray  # (B, M, p, p)
    st: np.ndarray  # (B, M, p)
    tt: np.ndarray  # (B, M)
    xtx: np.ndarray  # (B, p, p)
    xty: np.ndarray  # (B, p)
    yty: np.ndarray  # (B,)
    n_obs: np.ndarray  # (B,) float
    m: np.ndarray  # (M,) = 1..M

    @property
    def p(self) -> int:
        return int(self.xtx.shape[-1])

    def take(self, idx: np.ndarray) -> ReducedStats:
        """The groups at ``idx``."""
        return ReducedStats(
            self.cnt[idx], self.ss[idx], self.st[idx], self.tt[idx], self.xtx[idx], self.xty[idx],
            self.yty[idx], self.n_obs[idx], self.m,
        )

    def wsum(self, c: np.ndarray) -> np.ndarray:
        """``sum_m c_m SS_m`` for (B, M) ``c`` -> (B, p, p)."""
        B, M, p, _ = self.ss.shape
        out: np.ndarray = (c[:, None, :] @ self.ss.reshape(B, M, p * p))[:, 0].reshape(B, p, p)
        return out


def reduced_stats(xpad: np.ndarray, ypad: np.ndarray, mask: np.ndarray) -> ReducedStats:
    """Reduce padded rows ``(B, G, P, p)`` (group x subject slot x period slot x column) with
    outcome ``ypad`` (B, G, P) and observed ``mask`` (B, G, P) (padding rows are all zero)."""
    B, G, P, p = xpad.shape
    s = xpad.sum(axis=2)  # (B, G, p)
    t = ypad.sum(axis=2)  # (B, G)
    n = mask.sum(axis=2)  # (B, G)
    m = np.arange(1, P + 1, dtype=float)
    onehot = (n[..., None] == np.arange(1, P + 1)).astype(float)  # (B, G, M)
    oh_t = onehot.transpose(0, 2, 1)  # (B, M, G)
    st_s = s.transpose(0, 2, 1)
    ss = np.stack([(st_s * onehot[:, None, :, k]) @ s for k in range(P)], axis=1)  # (B, M, p, p)
    st = oh_t @ (s * t[..., None])
    tt = (oh_t @ (t * t)[..., None])[..., 0]
    xr = xpad.reshape(B, G * P, p)
    yr = ypad.reshape(B, G * P)
    xtx = xr.transpose(0, 2, 1) @ xr
    xty = (xr.transpose(0, 2, 1) @ yr[..., None])[..., 0]
    return ReducedStats(
        cnt=onehot.sum(axis=1), ss=ss, st=st, tt=tt, xtx=xtx, xty=xty,
        yty=np.einsum("bk,bk->b", yr, yr), n_obs=mask.sum(axis=(1, 2)).astype(float), m=m,
    )


# ---------------------------------------------------------------------------- direct path
def _weights(rs: ReducedStats, gam: np.ndarray) -> np.ndarray:
    w: np.ndarray = gam[:, None] / (1.0 + rs.m[None, :] * gam[:, None])
    return w


def direct_parts(rs: ReducedStats, gam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``A, beta, r, sum log(1 + n_i gamma)`` at per-group ``gam`` (B,)."""
    w = _weights(rs, gam)
    A = rs.xtx - rs.wsum(w)
    bv = rs.xty - (w[:, None, :] @ rs.st)[:, 0]
    c = rs.yty - (w * rs.tt).sum(axis=1)
    beta = np.linalg.solve(A, bv[..., None])[..., 0]
    r = np.maximum(c - np.einsum("bi,bi->b", bv, beta), 0.0)
    logdet_v = (rs.cnt * np.log1p(rs.m[None, :] * gam[:, None])).sum(axis=1)
    return A, beta, r, logdet_v


def criterion(logdet_v: np.ndarray, logdet_a: np.ndarray | float, r: np.ndarray, n_obs: np.ndarray | float, p: int,
              reml: bool) -> np.ndarray:
    """The profiled criterion ``d`` (REML or -2 log L) from its parts (``_lmm`` module docstring)."""
    out: np.ndarray
    with np.errstate(divide="ignore", invalid="ignore"):
        if reml:
            dof = n_obs - p
            out = logdet_v + logdet_a + dof * (1.0 + np.log(2.0 * np.pi * r / dof))
        else:
            out = logdet_v + n_obs * (1.0 + np.log(2.0 * np.pi * r / n_obs))
    return out


def direct_deviance(rs: ReducedStats, gam: np.ndarray, reml: bool) -> np.ndarray:
    """Profiled deviance of every group at its ``gam`` (B,)."""
    A, _beta, r, logdet_v = direct_parts(rs, gam)
    logdet_a = np.linalg.slogdet(A)[1] if reml else 0.0
    return criterion(logdet_v, logdet_a, r, rs.n_obs, rs.p, reml)


def _e2(rs: ReducedStats, beta: np.ndarray) -> np.ndarray:
    """``E2_m = TT_m - 2 beta'ST_m + beta'SS_m beta`` (B, M)."""
    sb = (rs.ss @ beta[:, None, :, None])[..., 0]  # (B, M, p)
    out: np.ndarray = rs.tt - 2.0 * np.einsum("bmi,bi->bm", rs.st, beta) + np.einsum("bmi,bi->bm", sb, beta)
    return out


def direct_derivative(rs: ReducedStats, gam: np.ndarray, reml: bool) -> np.ndarray:
    """Derivative ``D(gamma)`` of the profiled deviance (module docstring) at ``gam`` (B,)."""
    A, beta, r, _ = direct_parts(rs, gam)
    mg = 1.0 + rs.m[None, :] * gam[:, None]
    wp = 1.0 / mg**2
    d = (rs.cnt * rs.m[None, :] / mg).sum(axis=1)
    if reml:
        ainv = np.linalg.inv(A)
        tr = np.einsum("bij,bmji->bm", ainv, rs.ss)
        d = d - (wp * tr).sum(axis=1)
    dof = rs.n_obs - rs.p if reml else rs.n_obs
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = d - dof * (wp * _e2(rs, beta)).sum(axis=1) / r
    return out


# ----------------------------------------------------------------------------- eigen path
@dataclass(frozen=True, slots=True)
class EigenStats:
    """Groups whose subjects all have ``m0`` observations, in the basis that diagonalises
    ``X'X`` and ``SS`` together (see module docstring)."""

    d: np.ndarray  # (B, p) eigenvalues of R^-1 SS R^-T
    u: np.ndarray  # (B, p) T' X'y
    v: np.ndarray  # (B, p) T' ST
    tt: np.ndarray  # (B,)
    yty: np.ndarray  # (B,)
    cnt: np.ndarray  # (B,)
    m0: np.ndarray  # (B,)
    logdet_xtx: np.ndarray  # (B,)
    n_obs: np.ndarray  # (B,)
    p: int


def eigen_stats(rs: ReducedStats, m0_index: np.ndarray) -> EigenStats:
    """Build :class:`EigenStats` for groups whose only subject size is ``m0_index + 1``;
    the decomposition is computed once per distinct design pattern."""
    B, _M, p, _ = rs.ss.shape
    ar = np.arange(B)
    ss0 = rs.ss[ar, m0_index]
    key = np.concatenate([rs.xtx.reshape(B, -1), ss0.reshape(B, -1)], axis=1)
    _uniq, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    R = np.linalg.cholesky(rs.xtx[first])  # xtx = R R'
    rinv = np.linalg.inv(R)
    c = rinv @ ss0[first] @ rinv.transpose(0, 2, 1)
    d, Q = np.linalg.eigh((c + c.transpose(0, 2, 1)) / 2.0)
    T = rinv.transpose(0, 2, 1) @ Q  # (U, p, p)
    logdet = 2.0 * np.log(np.diagonal(R, axis1=1, axis2=2)).sum(axis=1)
    Tg = T[inverse]
    st0 = rs.st[ar, m0_index]
    return EigenStats(
        d=d[inverse], u=np.einsum("bij,bi->bj", Tg, rs.xty), v=np.einsum("bij,bi->bj", Tg, st0),
        tt=rs.tt[ar, m0_index], yty=rs.yty, cnt=rs.cnt[ar, m0_index], m0=m0_index + 1.0,
        logdet_xtx=logdet[inverse], n_obs=rs.n_obs, p=p,
    )


def eigen_deviance(es: EigenStats, gam: np.ndarray, reml: bool) -> np.ndarray:
    """Profiled deviance at ``gam`` of shape (B,) or (K, B)."""
    w = gam / (1.0 + es.m0 * gam)
    den = 1.0 - w[..., None] * es.d
    num = es.u - w[..., None] * es.v
    r = np.maximum(es.yty - w * es.tt - (num * num / den).sum(axis=-1), 0.0)
    logdet_v = es.cnt * np.log1p(es.m0 * gam)
    logdet_a = es.logdet_xtx + np.log(den).sum(axis=-1) if reml else 0.0
    return criterion(logdet_v, logdet_a, r, es.n_obs, es.p, reml)


def eigen_derivative(es: EigenStats, gam: np.ndarray, reml: bool) -> np.ndarray:
    """Derivative ``D(gamma)`` of :func:`eigen_deviance` at ``gam`` (B,)."""
    mg = 1.0 + es.m0 * gam
    w = gam / mg
    wp = 1.0 / mg**2
    den = 1.0 - w[:, None] * es.d
    num = es.u - w[:, None] * es.v
    z = num / den
    r = np.maximum(es.yty - w * es.tt - (num * z).sum(axis=1), 0.0)
    e2 = es.tt - 2.0 * (z * es.v).sum(axis=1) + (es.d * z * z).sum(axis=1)
    out = es.cnt * es.m0 / mg
    if reml:
        out = out - wp * (es.d / den).sum(axis=1)
    dof = es.n_obs - es.p if reml else es.n_obs
    with np.errstate(divide="ignore", invalid="ignore"):
        deriv: np.ndarray = out - dof * wp * e2 / r
    return deriv


# ------------------------------------------------------------------------------ optimiser
def _illinois(fun: GammaFunction, lo: np.ndarray, hi: np.ndarray, flo: np.ndarray, fhi: np.ndarray,
              maxiter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Roots of ``fun`` (vectorised over groups) in brackets with ``flo < 0 < fhi``; ``fun(x, j)``
    is evaluated at the positions ``j`` of the brackets. Returns the roots and a converged flag."""
    lo, hi, flo, fhi = lo.copy(), hi.copy(), flo.copy(), fhi.copy()
    side = np.zeros(lo.shape, dtype=np.int8)
    active = np.ones(lo.shape, dtype=bool)
    x = (lo + hi) / 2.0
    for _ in range(maxiter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        a, b, fa, fb = lo[idx], hi[idx], flo[idx], fhi[idx]
        xi = (a * fb - b * fa) / (fb - fa)
        bad = ~((xi > a) & (xi < b))
        xi = np.where(bad, (a + b) / 2.0, xi)
        fx = fun(xi, idx)
        x[idx] = xi
        neg = fx < 0
        # Illinois: halve the retained end's value when the same end is kept twice.
        keep_hi = neg
        lo[idx[neg]], flo[idx[neg]] = xi[neg], fx[neg]
        hi[idx[~neg]], fhi[idx[~neg]] = xi[~neg], fx[~neg]
        s_old = side[idx]
        s_new = np.where(keep_hi, 1, -1).astype(np.int8)
        twice = s_old == s_new
        fhi[idx[twice & keep_hi]] *= 0.5
        flo[idx[twice & ~keep_hi]] *= 0.5
        side[idx] = s_new
        width = hi[idx] - lo[idx]
        done = (fx == 0) | (width <= 4e-16 * hi[idx]) | ~np.isfinite(fx)
        active[idx[done]] = False
    return x, ~active


@dataclass(frozen=True, slots=True)
class _Profile:
    """The profiled deviance of ``B`` groups and its derivative in ``gamma``: from the eigen
    statistics when given, else from the pooled statistics."""

    rs: ReducedStats | None
    eig: EigenStats | None
    reml: bool

    def deviance(self, gam: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """At ``gam`` of the groups ``idx`` (all groups when None)."""
        if self.eig is not None:
            return eigen_deviance(self.eig if idx is None else take_eig(self.eig, idx), gam, self.reml)
        rs = self.pooled()
        return direct_deviance(rs if idx is None else rs.take(idx), gam, self.reml)

    def derivative(self, gam: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``D(gamma)`` at ``gam`` of the groups ``idx``."""
        if self.eig is not None:
            return eigen_derivative(take_eig(self.eig, idx), gam, self.reml)
        return direct_derivative(self.pooled().take(idx), gam, self.reml)

    def pooled(self) -> ReducedStats:
        if self.rs is None:
            raise ValueError("optimise needs the pooled or the eigen statistics")
        return self.rs

    def grid(self) -> np.ndarray:
        """Deviance (K, B) at ``THETA_GRID``."""
        g2 = THETA_GRID**2
        if self.eig is not None:
            return self.deviance(np.broadcast_to(g2[:, None], (g2.size, self.eig.u.shape[0])))
        B = self.pooled().xtx.shape[0]
        return np.stack([self.deviance(np.full(B, g)) for g in g2])


def optimise(
    rs: ReducedStats | None, reml: bool, eig: EigenStats | None, grid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``theta`` (B,) and a ``status`` (B,): 0 ok, 1 unbounded (grid top), 2 failed.

    Mirrors ``_lmm._optimise_theta``: grid argmin, a bracket of its neighbours (or
    ``[0, grid[1]]`` after the slope test at ``theta = 1e-7``), the interior optimum, and
    ``theta = 0`` when its deviance is within ``1e-10`` of that optimum. The eigen statistics
    ``eig`` are used when given, else the pooled ``rs``. ``grid`` (K, B): the deviance at
    ``THETA_GRID`` if already computed (``_batch_eigen.shared_grid``).
    """
    prof = _Profile(rs, eig, reml)
    if grid is None:
        grid = prof.grid()
    B = grid.shape[1]
    g2 = THETA_GRID**2
    k = np.argmin(grid, axis=0)
    status = np.zeros(B, dtype=np.int8)
    status[k == g2.size - 1] = 1
    gam = np.zeros(B)
    at0 = k == 0
    dev0 = grid[0]
    zero = np.zeros(B, dtype=bool)
    if at0.any():
        d_h = prof.deviance(np.full(B, 1e-14))
        zero = at0 & (d_h >= dev0)
    interior = (status == 0) & ~zero
    idx = np.flatnonzero(interior)
    if idx.size:
        _interior_optimum(prof, idx, k[idx], gam, status)
        fit_dev = prof.deviance(gam)
        back = interior & (dev0 <= fit_dev + 1e-10)
        gam[back] = 0.0
    return np.sqrt(gam), status


def _interior_optimum(prof: _Profile, idx: np.ndarray, kk: np.ndarray, gam: np.ndarray, status: np.ndarray) -> None:
    """Root of ``D(gamma)`` of the groups ``idx`` (grid argmin ``kk``) in the bracket of the grid
    neighbours, written into ``gam``; ``status`` 2 where no bracket or no convergence."""
    g2 = THETA_GRID**2
    lo = np.where(kk == 0, 0.0, g2[np.maximum(kk - 1, 0)])
    hi = g2[np.minimum(kk + 1, g2.size - 1)]
    mid = g2[kk]
    f_lo = prof.derivative(lo, idx)
    f_hi = prof.derivative(hi, idx)
    f_mid = np.where(kk == 0, f_lo, prof.derivative(mid, idx))
    use_right = (kk > 0) & (f_mid < 0)
    a = np.where(use_right, mid, lo)
    fa = np.where(use_right, f_mid, f_lo)
    b = np.where(use_right | (kk == 0), hi, mid)
    fb = np.where(use_right | (kk == 0), f_hi, f_mid)
    ok = (fa < 0) & (fb > 0)
    # Slope test at theta = 1e-7 fooled by rounding: the derivative at 0 is >= 0, so the
    # minimum is the boundary (the single engine's Brent then falls back to 0 too).
    flat0 = (kk == 0) & (fa >= 0)
    ok &= ~flat0
    status[idx[~ok & ~flat0]] = 2
    sub = idx[ok]
    if sub.size:
        root, conv = _illinois(lambda x, j: prof.derivative(x, sub[j]), a[ok], b[ok], fa[ok], fb[ok])
        gam[sub] = root
        status[sub[~conv]] = 2


def take_eig(es: EigenStats, idx: np.ndarray) -> EigenStats:
    """The groups at ``idx``."""
    return EigenStats(
        d=es.d[idx], u=es.u[idx], v=es.v[idx], tt=es.tt[idx], yty=es.yty[idx], cnt=es.cnt[idx],
        m0=es.m0[idx], logdet_xtx=es.logdet_xtx[idx], n_obs=es.n_obs[idx], p=es.p,
    )

"""Complete-data groups that share one design: fit and tests in the shared eigenbasis.

When many groups (simulated trials) have the same design matrix ``X`` and every subject has
the same number ``m0`` of observations, everything that depends on the design only is
computed once per design (*pattern*): ``X'X = R R'``, the eigendecomposition
``R^-1 SS R^-T = Q diag(d) Q'`` (``SS = sum_i s_i s_i'``) and ``T = R^-T Q``, with
``T' X'X T = I`` and ``T' SS T = diag(d)``. Per group only ``u = T'X'y``, ``v = T' sum_i s_i t_i``,
``sum_i t_i^2`` and ``y'y`` are needed: one matrix product of the stacked outcomes with the
design. Every matrix of the fit and of Kenward-Roger (:mod:`ketapain.stats._ddf`) is then
``T diag(.) T'`` (``Phi``, ``Phi_A``, ``Q_kl``) or ``T^-T diag(.) T^-1`` (``M_b``, ``M_e``),
so with ``K = L T`` for a hypothesis ``L``:

    L Phi L' = K diag(phi) K',   tr(Theta Phi M_k Phi) = tr(G^-1 H_k),
    tr(Theta Phi M_k Phi Theta Phi M_l Phi) = tr(G^-1 H_k G^-1 H_l),

``G = K diag(phi) K'``, ``H_k = K diag(phi^2 m_k) K'`` (``q x q`` matrices, ``q`` = rows of
``L``): the cost per group is ``O(p q^2)``, not ``O(p^3)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special as sc

from ketapain.stats._batch_infer import (
    PairTests,
    TermTest,
    containment_needed,
    inv2,
    pinv_sym2,
    t_tests,
)
from ketapain.stats._batch_math import (
    THETA_GRID,
    EigenStats,
    criterion,
    eigen_deviance,
    take_eig,
)
from ketapain.stats._kr import kr_df

__all__ = [
    "EigenDerivatives", "EigenFit", "Pattern", "closed_form_rows", "closed_form_theta", "eigen_fit", "eigen_pair_tests", "eigen_term_test",
    "group_stats", "pattern_stats", "shared_grid",
]


@dataclass(frozen=True, slots=True)
class Pattern:
    """Design-only quantities of one complete-data design shared by several groups."""

    T: np.ndarray  # (p, p)
    d: np.ndarray  # (p,)
    logdet_xtx: float
    m0: int
    cnt: int  # subjects
    n_obs: int
    x_flat: np.ndarray  # (G*P, p) design rows (zero rows for empty cells)
    s: np.ndarray  # (G, p) subject column sums


def pattern_stats(xpad: np.ndarray, mask: np.ndarray) -> Pattern | None:
    """Decompose one design (``xpad`` (G, P, p), ``mask`` (G, P)); None unless every subject
    has the same number of observations and ``X'X`` is positive definite."""
    n = mask.sum(axis=1)
    n = n[n > 0]
    if n.size == 0 or (n != n[0]).any():
        return None
    G, P, p = xpad.shape
    x_flat = xpad.reshape(G * P, p)
    s = xpad.sum(axis=1)
    xtx = x_flat.T @ x_flat
    try:
        R = np.linalg.cholesky(xtx)
    except np.linalg.LinAlgError:
        return None
    rinv = np.linalg.inv(R)
    c = rinv @ (s.T @ s) @ rinv.T
    d, Q = np.linalg.eigh((c + c.T) / 2.0)
    return Pattern(
        T=rinv.T @ Q, d=d, logdet_xtx=float(2.0 * np.log(np.diagonal(R)).sum()), m0=int(n[0]),
        cnt=int(n.size), n_obs=int(mask.sum()), x_flat=x_flat, s=s,
    )


def group_stats(pat: Pattern, ypad: np.ndarray) -> EigenStats:
    """:class:`EigenStats` of the groups with outcomes ``ypad`` (B, G, P) (0 where missing)."""
    B = ypad.shape[0]
    yflat = ypad.reshape(B, -1)
    t = ypad.sum(axis=2)
    u = yflat @ (pat.x_flat @ pat.T)
    v = t @ (pat.s @ pat.T)
    ones = np.ones(B)
    return EigenStats(
        d=np.broadcast_to(pat.d, (B, pat.d.size)), u=u, v=v, tt=np.einsum("bg,bg->b", t, t),
        yty=np.einsum("bk,bk->b", yflat, yflat), cnt=pat.cnt * ones, m0=pat.m0 * ones,
        logdet_xtx=pat.logdet_xtx * ones, n_obs=pat.n_obs * ones, p=pat.d.size,
    )


def shared_grid(pat: Pattern, es: EigenStats, reml: bool) -> np.ndarray:
    """Profiled deviance (K, B) at ``THETA_GRID`` for groups sharing ``pat``: ``d`` and ``m0``
    are common, so ``sum_j (u_j - w v_j)^2 / (1 - w d_j)`` is three (B, p) x (p, K) products."""
    gam = THETA_GRID**2
    w = gam / (1.0 + pat.m0 * gam)  # (K,)
    inv_den = 1.0 / (1.0 - w[:, None] * pat.d[None, :])  # (K, p)
    quad = (es.u * es.u) @ inv_den.T - 2.0 * w * ((es.u * es.v) @ inv_den.T) + w * w * ((es.v * es.v) @ inv_den.T)
    r = np.maximum(es.yty[:, None] - w * es.tt[:, None] - quad, 0.0).T  # (K, B)
    logdet_v = (pat.cnt * np.log1p(pat.m0 * gam))[:, None]
    logdet_a = (pat.logdet_xtx - np.log(inv_den).sum(axis=1))[:, None] if reml else 0.0
    return criterion(logdet_v, logdet_a, r, float(pat.n_obs), pat.d.size, reml)


def closed_form_theta(es: EigenStats, reml: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact optimum of the profiled criterion for an *orthogonal-block* complete design.

    ``es`` holds groups that share one design (``d``, ``m0``, ``cnt``, ``n_obs`` equal across
    groups, as :func:`group_stats` builds them); the single engine
    (:func:`ketapain.stats._lmm.fit_random_intercept`) calls it with one group.

    When every eigenvalue ``d_j`` of the pattern is 0 (a within-subject direction: its column
    sums to 0 within every subject) or ``m0`` (a between-subject direction: constant within
    subjects) -- e.g. a complete Williams or Latin-square crossover, where every subject gets
    every treatment and period once -- the fixed effects split into ``k`` between and
    ``p - k`` within directions and, with ``c = 1 + m0 gamma``,

        r(c) = SSE_w + SSE_b / c,   SSE_w = y'y - sum_i t_i^2 / m0 - sum_within u_j^2,
                                    SSE_b = sum_i t_i^2 / m0 - sum_between u_j^2,
        d(c) = a log c + e log r(c) + const,  a = G - k, e = N - p (REML);  a = G, e = N (ML),

    (``u = T'X'y``; ``SSE_w``, ``SSE_b`` are the within- and between-subject residual sums of
    squares). ``d`` is unimodal in ``c`` with its minimum at ``c* = (e - a) SSE_b / (a SSE_w)``:
    for REML ``c* = MS_between / MS_within`` (``e - a`` = within df, ``a`` = between df), i.e.
    the ANOVA estimator ``sigma_b^2 = (MS_b - MS_w) / m0``; ``c* <= 1`` is the boundary
    ``theta = 0``. The rules of the single engine are kept: ``theta = 0`` when
    ``d(0) - d(c*) <= 1e-10`` (computed with ``log1p``, no cancellation) or when the optimum is
    below the first grid point and the slope test at ``theta = 1e-7`` finds no descent;
    ``theta`` beyond the third-largest grid point or ``SSE_w <= 0`` gives status 2 (the caller
    refits those groups with the single engine).

    Returns ``(theta, status)`` arrays (B,), or None when the pattern is not orthogonal-block.
    """
    theta, status, applies = closed_form_rows(es, reml)
    if not applies.all():
        return None
    return theta, status


def closed_form_rows(es: EigenStats, reml: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`closed_form_theta` for groups that may each have their own design (``d``, ``m0``,
    ``cnt``, ``n_obs`` per row, as the canonical layouts of ``_batch_layout`` give them).

    Returns ``(theta, status, applies)`` (B,): ``applies`` is False where the design is not
    orthogonal-block (or has no between or within residual df); ``theta`` and ``status`` are
    meaningful only where it is True.
    """
    m0, d, cnt, n_obs = es.m0, es.d, es.cnt, es.n_obs
    tol = 1e-9 * m0[:, None]
    between = np.abs(d - m0[:, None]) <= tol
    within = np.abs(d) <= tol
    k = between.sum(axis=1)
    p = d.shape[1]
    a = cnt - k if reml else cnt
    e = n_obs - p if reml else n_obs
    applies = (between | within).all(axis=1) & (a > 0) & (e - a > 0)
    a = np.where(applies, a, 1.0)
    e = np.where(applies, e, 2.0)
    u2 = es.u * es.u
    tb = es.tt / m0
    sse_b = np.maximum(tb - (u2 * between).sum(axis=1), 0.0)
    sse_w = es.yty - tb - (u2 * within).sum(axis=1)
    ok = sse_w > 0
    c = (e - a) * sse_b / (a * np.where(ok, sse_w, 1.0))
    gam = np.where(ok & (c > 1.0), (c - 1.0) / m0, 0.0)
    mg = m0 * gam
    gain = e * np.log1p(sse_b * (mg / (1.0 + mg)) / np.where(ok, sse_w + sse_b / (1.0 + mg), 1.0)) - a * np.log1p(mg)
    gam = np.where(gain <= 1e-10, 0.0, gam)
    small = np.flatnonzero(applies & (gam > 0) & (gam < THETA_GRID[1] ** 2))
    if small.size:  # the single engine's grid argmin at theta = 0, then its slope test
        sub = take_eig(es, small)
        dev0 = eigen_deviance(sub, np.zeros(small.size), reml)
        at0 = dev0 <= eigen_deviance(sub, np.full(small.size, THETA_GRID[1] ** 2), reml)
        flat = at0 & (eigen_deviance(sub, np.full(small.size, 1e-14), reml) >= dev0)
        gam[small[flat]] = 0.0
    status = np.where(ok & (gam <= THETA_GRID[-3] ** 2), 0, 2).astype(np.int8)
    return np.sqrt(gam), status, applies


@dataclass(frozen=True, slots=True)
class EigenDerivatives:
    """The Kenward-Roger matrices in the eigenbasis (diagonals (B, p))."""

    phi_adj: np.ndarray
    m_b: np.ndarray  # diag of T' M_b T
    m_e: np.ndarray
    w_kr: np.ndarray  # (B, 2, 2)


@dataclass(frozen=True, slots=True)
class EigenFit:
    """Fitted quantities in the eigenbasis (diagonals (B, p); ``beta`` in the original basis)."""

    beta: np.ndarray
    phi: np.ndarray  # diag of T^-1 Phi T^-T
    sigma2: np.ndarray
    sigma2_subject: np.ndarray
    deviance: np.ndarray
    singular: np.ndarray
    bad: np.ndarray
    T: np.ndarray
    deriv: EigenDerivatives | None = None  # with ``kr=True``

    def derivatives(self) -> EigenDerivatives:
        """The Kenward-Roger matrices (the fit must have been computed with them)."""
        if self.deriv is None:
            raise ValueError("Kenward-Roger needs eigen_fit(..., kr=True)")
        return self.deriv


def eigen_fit(es: EigenStats, T: np.ndarray, theta: np.ndarray, *, reml: bool, kr: bool) -> EigenFit:
    """Estimates at ``theta`` and (``kr``) the Kenward-Roger matrices, as ``fit_quantities``."""
    gam = theta * theta
    w = gam / (1.0 + es.m0 * gam)
    den = 1.0 - w[:, None] * es.d
    z = (es.u - w[:, None] * es.v) / den
    r = np.maximum(es.yty - w * es.tt - (z * (es.u - w[:, None] * es.v)).sum(axis=1), 0.0)
    dof = es.n_obs - es.p if reml else es.n_obs
    sigma2 = r / dof
    deviance = eigen_deviance(es, gam, reml)
    phi = sigma2[:, None] / den
    sb2 = gam * sigma2
    bad = ~(sigma2 > 0) | ~np.isfinite(deviance)
    beta = z @ T.T if T.ndim == 2 else np.einsum("bij,bj->bi", T, z)
    deriv = _kr_matrices(es, theta, phi, sigma2, sb2) if kr else None
    return EigenFit(beta, phi, sigma2, sb2, deviance, theta == 0.0, bad, T, deriv)


def _kr_matrices(es: EigenStats, theta: np.ndarray, phi: np.ndarray, sigma2: np.ndarray,
                 sb2: np.ndarray) -> EigenDerivatives:
    """``M_b``, ``M_e``, ``W = 2 I_E^-1`` and ``Phi_A`` of ``_batch_infer.fit_quantities``, diagonal in
    the eigenbasis."""
    m0, d, cnt = es.m0[:, None], es.d, es.cnt
    s2 = sigma2[:, None]
    a = 1.0 / (s2 + m0 * sb2[:, None])
    within = 1.0 - d / m0
    m_b = a**2 * d
    m_e = within / s2**2 + a**2 * d / m0
    q = {(0, 0): m0 * a**3 * d, (0, 1): a**3 * d, (1, 1): within / s2**3 + a**3 * d / m0}
    a1 = a[:, 0]
    m01 = es.m0
    k = {
        (0, 0): cnt * (m01 * a1) ** 2,
        (0, 1): cnt * m01 * a1**2,
        (1, 1): cnt * ((m01 - 1.0) / sigma2**2 + a1**2),
    }
    ms = (m_b, m_e)
    B = theta.size
    info = np.empty((B, 2, 2))
    for i in range(2):
        for j in range(i, 2):
            val = k[(i, j)] - 2.0 * (phi * q[(i, j)]).sum(axis=1) + (phi * phi * ms[i] * ms[j]).sum(axis=1)
            info[:, i, j] = info[:, j, i] = val
    half_tr = (info[:, 0, 0] + info[:, 1, 1]) / 2.0
    rad = np.hypot((info[:, 0, 0] - info[:, 1, 1]) / 2.0, info[:, 0, 1])
    near = np.minimum(np.abs(half_tr - rad), np.abs(half_tr + rad)) <= 1e-10  # |eigenvalues| of the 2 x 2
    w_kr = 2.0 * inv2(np.where(near[:, None, None], np.eye(2), info))
    if near.any():
        w_kr[near] = 2.0 * pinv_sym2(info[near])
    u = np.zeros_like(phi)
    for i in range(2):
        for j in range(2):
            u += w_kr[:, i, j, None] * (q[(min(i, j), max(i, j))] - ms[i] * phi * ms[j])
    phi_adj = phi + 2.0 * phi * u * phi
    return EigenDerivatives(phi_adj, m_b, m_e, w_kr)


def _quad(K: np.ndarray, diag: np.ndarray) -> np.ndarray:
    """``K diag K'`` for (q, p) or per-group (B, q, p) ``K`` and (B, p) ``diag`` -> (B, q, q)."""
    out: np.ndarray = (diag[:, None, :] * K) @ K.swapaxes(-1, -2)
    return out


def _basis(fit: EigenFit, L: np.ndarray) -> np.ndarray:
    """``K = L T``: (q, p) for a basis shared by all groups, (B, q, p) for one basis per group."""
    out: np.ndarray = L @ fit.T
    return out


def _kr_terms(fit: EigenFit, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``_batch_infer._kr_terms`` for ``L`` with ``K = L T``."""
    q = K.shape[-2]
    deriv = fit.derivatives()
    ginv = np.linalg.inv(_quad(K, fit.phi))
    gh = [ginv @ _quad(K, fit.phi**2 * mk) for mk in (deriv.m_b, deriv.m_e)]  # G^-1 H_k
    tr = [-np.trace(x, axis1=1, axis2=2) for x in gh]
    w = deriv.w_kr
    a1 = np.zeros(fit.phi.shape[0])
    a2 = np.zeros_like(a1)
    for k in range(2):
        for l in range(k, 2):
            e = 1.0 if k == l else 2.0
            a1 += e * w[:, k, l] * tr[k] * tr[l]
            a2 += e * w[:, k, l] * np.sum(gh[k] * gh[l].swapaxes(1, 2), axis=(1, 2))
    ddf, scaling = kr_df(a1, a2, q)
    return ddf, scaling, q


def _kr_df_1d(fit: EigenFit, K: np.ndarray) -> np.ndarray:
    """Kenward-Roger df of every single contrast (rows of ``K`` (k, p)) at once: for ``q = 1``
    ``G^-1 H_k`` is the scalar ``h_k = sum_p K^2 phi^2 m_k / sum_p K^2 phi``, so
    ``A1 = A2 = A = sum_kl e_kl W_kl h_k h_l`` and the Kenward-Roger formulas reduce exactly
    to ``ddf = 2 / A`` (``g = -1``, ``rho = (1 - A/2) / (1 - 2A)``). Written that way: the
    general expression divides two rounding-level numbers (``1 - A`` by ``1 - c2 b``) when
    ``A = 1`` (df = 2, e.g. 4 subjects in 2 periods)."""
    deriv = fit.derivatives()
    k2 = K * K  # (k, p) or (B, k, p)
    sub = "bp,kp->bk" if K.ndim == 2 else "bp,bkp->bk"
    g = np.einsum(sub, fit.phi, k2)  # (B, k)
    h = [-np.einsum(sub, fit.phi * fit.phi * mk, k2) / g for mk in (deriv.m_b, deriv.m_e)]
    w = deriv.w_kr
    a = w[:, 0, 0, None] * h[0] * h[0] + 2.0 * w[:, 0, 1, None] * h[0] * h[1] + w[:, 1, 1, None] * h[1] * h[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        df: np.ndarray = 2.0 / a
    return df


def eigen_term_test(fit: EigenFit, L: np.ndarray, df_method: str, cont_df: np.ndarray | None) -> TermTest:
    """As ``_batch_infer.term_test`` (not Satterthwaite)."""
    B = fit.beta.shape[0]
    K = _basis(fit, L)
    lb = fit.beta @ L.T
    if df_method == "kenward-roger":
        ddf, scaling, q = _kr_terms(fit, K)
        wald = np.einsum("bi,bi->b", lb, np.linalg.solve(_quad(K, fit.derivatives().phi_adj), lb[..., None])[..., 0])
        stat = scaling * wald / q
        with np.errstate(invalid="ignore"):
            p = sc.fdtrc(q, ddf, stat)
        return TermTest(stat, q, ddf, p, ~np.isfinite(p))
    vals, vecs = np.linalg.eigh(_quad(K, fit.phi))
    vals, vecs = vals[:, ::-1], vecs[:, :, ::-1]
    pos = vals > np.maximum(np.sqrt(np.finfo(float).eps) * vals[:, :1], 0.0)
    q = L.shape[0]
    bad = ~pos.all(axis=1)
    t2 = np.einsum("bkq,bk->bq", vecs, lb) ** 2 / np.where(pos, vals, 1.0)
    wald = t2.sum(axis=1)
    if df_method == "normal":
        return TermTest(wald, q, np.full(B, np.inf), sc.chdtrc(q, wald), bad)
    ddf = containment_needed(cont_df)
    with np.errstate(invalid="ignore"):
        p = sc.fdtrc(q, ddf, wald / q)
    return TermTest(wald / q, q, ddf, p, bad | ~np.isfinite(p))


def eigen_pair_tests(fit: EigenFit, lvecs: np.ndarray, df_method: str, cont_df: np.ndarray | None) -> PairTests:
    """As ``_batch_infer.pair_tests`` (not Satterthwaite)."""
    est = fit.beta @ lvecs.T
    K = _basis(fit, lvecs)  # (k, p) or (B, k, p)
    diag = fit.derivatives().phi_adj if df_method == "kenward-roger" else fit.phi
    var = (K**2 * diag[:, None, :]).sum(axis=2)
    B, k = est.shape
    if df_method == "kenward-roger":
        df = _kr_df_1d(fit, K)
    elif df_method == "containment":
        df = containment_needed(cont_df)
    else:
        df = np.full((B, k), np.inf)
    return t_tests(est, var, df)


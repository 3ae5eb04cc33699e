"""Vectorised inference of the batched engine: estimates, omnibus test and pairwise contrasts.

The same formulas as :mod:`ketapain.stats._ddf` (Kenward-Roger as pbkrtest, Satterthwaite as
lmerTest, containment as nlme, normal as Stata), written over a leading batch axis with the
subject sums pooled by subject size (see :mod:`ketapain.stats._batch_math`): every
``sum_i c(n_i) s_i s_i'`` of ``_ddf`` is ``sum_m c(m) SS_m`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special as sc

from ketapain.stats._batch_math import ReducedStats, direct_parts
from ketapain.stats._kr import kr_df

__all__ = [
    "BatchDerivatives",
    "BatchFit",
    "PairTests",
    "TermTest",
    "containment_needed",
    "fit_quantities",
    "inv2",
    "pair_tests",
    "pinv_sym2",
    "t_tests",
    "term_test",
]


@dataclass(frozen=True, slots=True)
class BatchDerivatives:
    """The matrices of Kenward-Roger and Satterthwaite for ``B`` groups (``_ddf.VarianceDerivatives``)."""

    m_b: np.ndarray  # (B, p, p)
    m_e: np.ndarray  # (B, p, p)
    hessian: np.ndarray  # (B, 2, 2) observed Hessian of the deviance
    w_kr: np.ndarray  # (B, 2, 2)
    phi_adj: np.ndarray  # (B, p, p) Kenward-Roger Phi_A


@dataclass(frozen=True, slots=True)
class BatchFit:
    """Fitted quantities of ``B`` groups (arrays with a leading batch axis)."""

    beta: np.ndarray  # (B, p)
    phi: np.ndarray  # (B, p, p) sigma^2 A^-1
    sigma2: np.ndarray
    sigma2_subject: np.ndarray
    deviance: np.ndarray
    singular: np.ndarray
    bad: np.ndarray  # (B,) groups the vectorised path cannot handle
    deriv: BatchDerivatives | None = None  # when fitted with ``derivs=True``

    def derivatives(self) -> BatchDerivatives:
        """The derivatives (the fit must have been computed with them)."""
        if self.deriv is None:
            raise ValueError("Kenward-Roger and Satterthwaite need fit_quantities(..., derivs=True)")
        return self.deriv


class TermTest(NamedTuple):
    """Joint test of ``L beta = 0`` per group: statistic (F, or chi-square for normal), its
    numerator df ``q``, denominator df (``inf`` for normal), p-value, and ``bad`` (B,): groups
    the vectorised path cannot handle."""

    statistic: np.ndarray
    q: int
    ddf: np.ndarray
    p_value: np.ndarray
    bad: np.ndarray


class PairTests(NamedTuple):
    """Tests of single contrasts (B, k): estimate, se, df, t (or z), p-value, ``bad``."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    bad: np.ndarray


def _sym(a: np.ndarray) -> np.ndarray:
    out: np.ndarray = (a + a.swapaxes(-1, -2)) / 2.0
    return out


def inv2(h: np.ndarray) -> np.ndarray:
    """Inverses of a batch of 2 x 2 matrices (B, 2, 2), by the adjugate."""
    det = h[:, 0, 0] * h[:, 1, 1] - h[:, 0, 1] * h[:, 1, 0]
    out = np.empty_like(h)
    out[:, 0, 0], out[:, 1, 1] = h[:, 1, 1], h[:, 0, 0]
    out[:, 0, 1], out[:, 1, 0] = -h[:, 0, 1], -h[:, 1, 0]
    inv: np.ndarray = out / det[:, None, None]
    return inv


def pinv_sym2(h: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """``_ddf._pinv_sym`` for a batch of 2 x 2 symmetric matrices."""
    vals, vecs = np.linalg.eigh(h)
    scale = np.maximum(np.abs(vals).max(axis=1), 1e-300)
    keep = np.abs(vals) > tol * scale[:, None]
    inv = np.where(keep, 1.0 / np.where(keep, vals, 1.0), 0.0)
    out: np.ndarray = (vecs * inv[:, None, :]) @ vecs.swapaxes(1, 2)
    return out


def fit_quantities(rs: ReducedStats, theta: np.ndarray, *, reml: bool, derivs: bool) -> BatchFit:
    """Estimates at ``theta`` and (``derivs``) the variance derivatives of ``_ddf``."""
    gam = theta * theta
    A, beta, r, logdet_v = direct_parts(rs, gam)
    p = beta.shape[1]
    dof = rs.n_obs - p if reml else rs.n_obs
    sigma2 = r / dof
    ainv = np.linalg.inv(A)
    phi = _sym(sigma2[:, None, None] * ainv)
    logdet_a = np.linalg.slogdet(A)[1] if reml else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        deviance = logdet_v + logdet_a + dof * (1.0 + np.log(2.0 * np.pi * r / dof))
    sb2 = gam * sigma2
    bad = ~(sigma2 > 0) | ~np.isfinite(deviance)
    deriv = _derivatives(rs, beta, phi, sigma2, sb2, reml) if derivs else None
    return BatchFit(beta, phi, sigma2, sb2, deviance, theta == 0.0, bad, deriv)


def _derivatives(rs: ReducedStats, beta: np.ndarray, phi: np.ndarray, sigma2: np.ndarray, sb2: np.ndarray,
                 reml: bool) -> BatchDerivatives:
    """``_ddf.variance_derivatives`` with the subject sums pooled by subject size."""
    B = beta.shape[0]
    m = rs.m[None, :]
    a = 1.0 / (sigma2[:, None] + m * sb2[:, None])  # (B, M)
    s2 = sigma2[:, None, None]
    within = rs.xtx - rs.wsum(np.broadcast_to(1.0 / m, a.shape))
    m_b = rs.wsum(a**2)
    m_e = within / s2**2 + rs.wsum(a**2 / m)
    q00 = rs.wsum(m * a**3)
    q01 = rs.wsum(a**3)
    q11 = within / s2**3 + rs.wsum(a**3 / m)
    cnt = rs.cnt
    k00 = (cnt * (m * a) ** 2).sum(1)
    k01 = (cnt * m * a**2).sum(1)
    k11 = (cnt * ((m - 1.0) / sigma2[:, None] ** 2 + a**2)).sum(1)
    ktrace = np.stack([np.stack([k00, k01], 1), np.stack([k01, k11], 1)], 1)
    pm = (phi @ m_b, phi @ m_e)
    qs = {(0, 0): q00, (0, 1): q01, (1, 1): q11}
    info = np.empty((B, 2, 2))
    for k in range(2):
        for l in range(k, 2):
            val = ktrace[:, k, l] - 2.0 * np.sum(phi * qs[(k, l)], axis=(1, 2)) + np.sum(
                pm[k] * pm[l].swapaxes(1, 2), axis=(1, 2)
            )
            info[:, k, l] = info[:, l, k] = val
    hessian = (-info if reml else -ktrace) + 2.0 * _ypgpgpy(rs, beta, phi, sigma2, a)
    ev = np.linalg.eigvalsh(info)
    near = np.min(np.abs(ev), axis=1) <= 1e-10
    w_kr = 2.0 * np.where(near[:, None, None], pinv_sym2(info), inv2(np.where(near[:, None, None], np.eye(2), info)))
    ms = (m_b, m_e)
    u = np.zeros_like(phi)
    for k in range(2):
        for l in range(2):
            qkl = qs[(min(k, l), max(k, l))]
            u += w_kr[:, k, l, None, None] * (qkl - ms[k] @ phi @ ms[l])
    phi_a = _sym(phi + 2.0 * phi @ u @ phi)
    return BatchDerivatives(m_b, m_e, hessian, w_kr, phi_a)


def _ypgpgpy(rs: ReducedStats, beta: np.ndarray, phi: np.ndarray, sigma2: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Residual quadratic forms ``y'P G_k P G_l P y`` (B, 2, 2) of the observed Hessian (as
    ``_ddf.variance_derivatives``)."""
    B = beta.shape[0]
    m = rs.m[None, :]
    e2 = rs.tt - 2.0 * np.einsum("bmi,bi->bm", rs.st, beta) + np.einsum(
        "bmi,bi->bm", (rs.ss @ beta[:, None, :, None])[..., 0], beta
    )  # sum over subjects of size m of E_i^2
    es = rs.st - (rs.ss @ beta[:, None, :, None])[..., 0]  # (B, M, p) sum s_i E_i
    xte = rs.xty - (rs.xtx @ beta[..., None])[..., 0]
    ete = rs.yty - 2.0 * np.einsum("bi,bi->b", beta, rs.xty) + np.einsum("bi,bi->b", beta, (rs.xtx @ beta[..., None])[..., 0])
    uvu = np.empty((B, 2, 2))
    uvu[:, 0, 0] = (m * a**3 * e2).sum(1)
    uvu[:, 0, 1] = uvu[:, 1, 0] = (a**3 * e2).sum(1)
    uvu[:, 1, 1] = (ete - (e2 / m).sum(1)) / sigma2**3 + (a**3 * e2 / m).sum(1)
    x0 = np.einsum("bm,bmi->bi", a**2, es)
    x1 = (xte - np.einsum("bm,bmi->bi", np.broadcast_to(1.0 / m, a.shape), es)) / sigma2[:, None] ** 2 + np.einsum(
        "bm,bmi->bi", a**2 / m, es
    )
    xvu = np.stack([x0, x1], axis=1)  # (B, 2, p)
    out: np.ndarray = uvu - xvu @ phi @ xvu.swapaxes(1, 2)
    return out


def _satt_1d(fit: BatchFit, lvec: np.ndarray) -> np.ndarray:
    """``_ddf._satterthwaite_1d`` for (B, p) vectors."""
    deriv = fit.derivatives()
    pl = (fit.phi @ lvec[..., None])[..., 0]
    var = np.einsum("bi,bi->b", lvec, pl)
    g0 = np.einsum("bi,bij,bj->b", pl, deriv.m_b, pl)
    g1 = np.einsum("bi,bij,bj->b", pl, deriv.m_e, pl)
    h11 = deriv.hessian[:, 1, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        den_sing = np.where(h11 > 0, g1**2 * 2.0 / h11, 0.0)
        cov = 2.0 * pinv_sym2(deriv.hessian)
        den_reg = cov[:, 0, 0] * g0**2 + 2.0 * cov[:, 0, 1] * g0 * g1 + cov[:, 1, 1] * g1**2
        den = np.where(fit.singular, den_sing, den_reg)
        df: np.ndarray = np.where(den <= 0, np.inf, 2.0 * var * var / den)
    return df


def _kr_terms(fit: BatchFit, L: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``_ddf._kr_terms`` for a hypothesis ``L`` (q, p) shared by all groups."""
    deriv = fit.derivatives()
    phi = fit.phi
    q = int(np.linalg.matrix_rank(L))
    lpl = L @ phi @ L.T  # (B, q, q)
    theta = L.T @ np.linalg.solve(lpl, np.broadcast_to(L, (phi.shape[0], *L.shape)))
    tphi = theta @ phi
    us = [tphi @ (-mk) @ phi for mk in (deriv.m_b, deriv.m_e)]
    tr = [np.trace(x, axis1=1, axis2=2) for x in us]
    w = deriv.w_kr
    a1 = np.zeros(phi.shape[0])
    a2 = np.zeros(phi.shape[0])
    for k in range(2):
        for l in range(k, 2):
            e = 1.0 if k == l else 2.0
            a1 += e * w[:, k, l] * tr[k] * tr[l]
            a2 += e * w[:, k, l] * np.sum(us[k] * us[l].swapaxes(1, 2), axis=(1, 2))
    ddf, scaling = kr_df(a1, a2, q)
    return ddf, scaling, q


def _fstat_ddf(nu: np.ndarray) -> np.ndarray:
    """``_ddf.fstat_ddf`` over rows of ``nu`` (B, q)."""
    if nu.shape[1] == 1:
        first: np.ndarray = nu[:, 0]
        return first
    equal = np.all(np.abs(np.diff(nu, axis=1)) < 1e-8, axis=1)
    low = np.any(nu <= 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.sum(nu / (nu - 2.0), axis=1)
        comb = 2.0 * e / (e - nu.shape[1])
    out: np.ndarray = np.where(equal, nu.mean(axis=1), np.where(low, 2.0, comb))
    return out


def containment_needed(cont_df: np.ndarray | None) -> np.ndarray:
    """The containment df given by the caller (the ``df_method="containment"`` paths)."""
    if cont_df is None:
        raise ValueError("df_method='containment' needs the containment df of the groups")
    return cont_df


def term_test(fit: BatchFit, L: np.ndarray, df_method: str, cont_df: np.ndarray | None) -> TermTest:
    """Joint test of ``L beta = 0`` per group (``_ddf.f_test``)."""
    B = fit.beta.shape[0]
    lb = fit.beta @ L.T  # (B, q)
    if df_method == "kenward-roger":
        ddf, scaling, q = _kr_terms(fit, L)
        wald = np.einsum("bi,bi->b", lb, np.linalg.solve(L @ fit.derivatives().phi_adj @ L.T, lb[..., None])[..., 0])
        stat = scaling * wald / q
        with np.errstate(invalid="ignore"):
            p = sc.fdtrc(q, ddf, stat)
        return TermTest(stat, q, ddf, p, ~np.isfinite(p))
    vl = L @ fit.phi @ L.T
    vals, vecs = np.linalg.eigh(vl)
    vals, vecs = vals[:, ::-1], vecs[:, :, ::-1]
    pos = vals > np.maximum(np.sqrt(np.finfo(float).eps) * vals[:, :1], 0.0)
    q = L.shape[0]
    bad = ~pos.all(axis=1)  # rank-deficient hypotheses go to the single engine
    safe = np.where(pos, vals, 1.0)
    ptl = vecs.swapaxes(1, 2) @ L  # (B, q, p)
    t2 = np.einsum("bkp,bp->bk", ptl, fit.beta) ** 2 / safe
    wald = t2.sum(axis=1)
    if df_method == "normal":
        return TermTest(wald, q, np.full(B, np.inf), sc.chdtrc(q, wald), bad)
    stat = wald / q
    if df_method == "satterthwaite":
        nu = np.stack([_satt_1d(fit, ptl[:, j]) for j in range(q)], axis=1)
        ddf = _fstat_ddf(nu)
    else:
        ddf = containment_needed(cont_df)
    with np.errstate(invalid="ignore"):
        p = sc.fdtrc(q, ddf, stat)
    return TermTest(stat, q, ddf, p, bad | ~np.isfinite(p))


def t_tests(est: np.ndarray, var: np.ndarray, df: np.ndarray) -> PairTests:
    """Two-sided t (z where ``df`` is infinite) tests of estimates with variances ``var``
    (``bad``: variance not positive or p not finite)."""
    bad = ~(var > 0)
    se = np.sqrt(np.where(bad, np.nan, var))
    stat = est / se
    inf = np.isinf(df)
    with np.errstate(invalid="ignore"):
        p = 2.0 * np.where(inf, sc.ndtr(-np.abs(stat)), sc.stdtr(np.where(inf, 1.0, df), -np.abs(stat)))
    return PairTests(est, se, df, stat, p, bad | ~np.isfinite(p))


def pair_tests(fit: BatchFit, lvecs: np.ndarray, df_method: str, cont_df: np.ndarray | None) -> PairTests:
    """``_ddf.t_test`` for each row of ``lvecs`` (k, p): estimate, se, df, stat, p (B, k)."""
    est = fit.beta @ lvecs.T
    k = lvecs.shape[0]
    B = est.shape[0]
    cov = fit.derivatives().phi_adj if df_method == "kenward-roger" else fit.phi
    var = np.einsum("kp,bpq,kq->bk", lvecs, cov, lvecs)
    if df_method == "kenward-roger":
        df = np.stack([_kr_terms(fit, lvecs[j : j + 1])[0] for j in range(k)], axis=1)
    elif df_method == "satterthwaite":
        df = np.stack([_satt_1d(fit, np.broadcast_to(lvecs[j], (B, lvecs.shape[1]))) for j in range(k)], axis=1)
    elif df_method == "containment":
        df = containment_needed(cont_df)
    else:
        df = np.full((B, k), np.inf)
    return t_tests(est, var, df)

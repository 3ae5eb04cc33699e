"""Denominator degrees of freedom and linear-hypothesis tests for the random-intercept LMM.

Variance parameters are ``sigma = (sigma_b^2, sigma^2)`` with ``V = sigma_b^2 ZZ' + sigma^2 I``,
so ``G_b = ZZ'`` (block of ones per subject) and ``G_e = I``. Everything below is written with
the per-subject quantities ``a_i = 1/(sigma^2 + n_i sigma_b^2)`` (the eigenvalue of
``V_i^-1`` along the ones vector) and the column sums ``s_i = X_i'1``, so no N x N matrix is
ever formed. With ``Phi = (X'V^-1X)^-1``:

* ``M_k = X'V^-1 G_k V^-1 X`` (pbkrtest's ``-P_k``),
* ``Q_kl = X'V^-1 G_k V^-1 G_l V^-1 X``,
* ``tr(P G_k P G_l) = tr(V^-1G_kV^-1G_l) - 2 tr(Phi Q_kl) + tr(Phi M_k Phi M_l)``, the
  expected REML information (times 2), ``P = V^-1 - V^-1 X Phi X' V^-1``,
* the observed Hessian of the REML deviance ``-2 l_R``:
  ``H_kl = -tr(P G_k P G_l) + 2 y'P G_k P G_l P y`` (for ML fits, of the beta-profiled
  ``-2 l``: ``-tr(V^-1 G_k V^-1 G_l) + 2 y'P G_k P G_l P y``).

Methods
-------
satterthwaite
    ``df = 2 (L'Phi L)^2 / (g' C g)`` with ``g_k = L' Phi M_k Phi L`` (the gradient of the
    contrast variance) and ``C = 2 H^-1`` the asymptotic covariance of the variance
    parameters from the observed Hessian (as lmerTest, which differentiates numerically;
    the value does not depend on the parameterisation at the optimum). Multi-row hypotheses
    follow lmerTest's ``contestMD``: eigen-decompose ``L Phi L'``, one df per direction,
    combined by ``2E / (E - q)``, ``E = sum nu_m / (nu_m - 2)``.
kenward-roger
    Kenward & Roger (1997) as implemented by pbkrtest (``vcovAdj``, ``KRmodcomp``, ``Lb_ddf``):
    ``Phi_A = Phi + 2 Phi {sum_kl W_kl (Q_kl - M_k Phi M_l)} Phi`` with ``W = 2 I_E^-1`` from the
    expected information; the F statistic is scaled and its df computed from ``A1``, ``A2``.
containment
    nlme's between/within rule (SAS ``DDFM=CONTAIN`` for this model): a column that varies
    within any subject gets ``N - G - p_within``; a column constant within every subject gets
    ``G - p_between - 1`` (the intercept counted between). A term takes the innermost
    stratum of its columns.
normal
    Wald chi-square (Stata ``mixed``): z tests for contrasts, ``chi2_q`` for the omnibus
    test, no denominator df.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special as sc

from ketapain._options import DF_METHOD, check_option
from ketapain.errors import ModelError
from ketapain.stats._kr import kr_df
from ketapain.stats._lmm import LMMFit
from ketapain.stats._results import FTest, TTest

__all__ = [
    "ContainmentDf",
    "DfMethod",
    "VarianceDerivatives",
    "containment_df",
    "f_test",
    "fstat_ddf",
    "t_test",
    "variance_derivatives",
]

DfMethod = Literal["kenward-roger", "satterthwaite", "containment", "normal"]
DF_METHODS: tuple[str, ...] = DF_METHOD.choices


@dataclass(frozen=True, slots=True)
class VarianceDerivatives:
    """Matrices that drive Satterthwaite and Kenward–Roger (see module docstring)."""

    phi: np.ndarray  # (p, p) unadjusted covariance of beta
    m: tuple[np.ndarray, np.ndarray]  # M_b, M_e
    q: dict[tuple[int, int], np.ndarray]  # Q_kl for k <= l
    info_expected: np.ndarray  # (2, 2) tr(P G_k P G_l)
    hessian_observed: np.ndarray  # (2, 2) Hessian of -2 l_R in (sigma_b^2, sigma^2)
    phi_adjusted: np.ndarray  # Kenward-Roger Phi_A
    w_kr: np.ndarray  # (2, 2) 2 I_E^-1
    singular: bool  # sigma_b^2 on the boundary 0


def _wsum(s: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``sum_i c_i s_i s_i'`` for (G, p) ``s`` and (G,) ``c``."""
    out: np.ndarray = (s * c[:, None]).T @ s
    return out


def _pinv_sym(h: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """Pseudo-inverse of a symmetric matrix (eigenvalues below ``tol`` times the largest dropped)."""
    vals, vecs = np.linalg.eigh(h)
    keep = np.abs(vals) > tol * max(np.abs(vals).max(), 1e-300)
    out: np.ndarray = (vecs[:, keep] / vals[keep]) @ vecs[:, keep].T
    return out


def variance_derivatives(fit: LMMFit) -> VarianceDerivatives:
    """Compute ``M_k``, ``Q_kl``, the REML information and Hessian, and ``Phi_A`` for ``fit``."""
    ss = fit.stats
    n, s = ss.n, ss.s
    s2, sb2 = fit.sigma2, fit.sigma2_subject
    a = 1.0 / (s2 + n * sb2)
    phi = fit.vcov
    xtx_within = ss.xtx - _wsum(s, 1.0 / n)  # sum_i X_i'(I - J/n_i)X_i
    m_b = _wsum(s, a**2)
    m_e = xtx_within / s2**2 + _wsum(s, a**2 / n)
    q = {
        (0, 0): _wsum(s, n * a**3),
        (0, 1): _wsum(s, a**3),
        (1, 1): xtx_within / s2**3 + _wsum(s, a**3 / n),
    }
    ktrace = np.array(
        [
            [float(np.sum((n * a) ** 2)), float(np.sum(n * a**2))],
            [float(np.sum(n * a**2)), float(np.sum((n - 1.0) / s2**2 + a**2))],
        ]
    )
    ms = (m_b, m_e)
    info = np.empty((2, 2))
    for k in range(2):
        for l in range(k, 2):
            val = ktrace[k, l] - 2.0 * np.sum(phi * q[(k, l)]) + np.sum((phi @ ms[k]) * (phi @ ms[l]).T)
            info[k, l] = info[l, k] = val
    # Observed Hessian: needs residual-based quadratic forms y'P G_k P G_l P y = u_k' P u_l.
    e_sum = ss.t - ss.s @ fit.beta  # E_i = 1'e_i
    xte = ss.xty - ss.xtx @ fit.beta  # X'e
    ete = ss.yty - 2.0 * fit.beta @ ss.xty + fit.beta @ ss.xtx @ fit.beta
    uvu = np.empty((2, 2))
    uvu[0, 0] = np.sum(n * a**3 * e_sum**2)
    uvu[0, 1] = uvu[1, 0] = np.sum(a**3 * e_sum**2)
    uvu[1, 1] = (ete - np.sum(e_sum**2 / n)) / s2**3 + np.sum(a**3 * e_sum**2 / n)
    xvu = np.stack(
        [
            (s * (a**2 * e_sum)[:, None]).sum(axis=0),
            (xte - (s * (e_sum / n)[:, None]).sum(axis=0)) / s2**2
            + (s * (a**2 * e_sum / n)[:, None]).sum(axis=0),
        ]
    )
    ypgpgpy = uvu - xvu @ phi @ xvu.T
    # REML: H = -tr(PG_kPG_l) + 2 y'PG_kPG_lPy. ML, with beta profiled out as lme4's deviance
    # function does: H = -tr(V^-1G_kV^-1G_l) + 2 y'PG_kPG_lPy (the Schur complement of the
    # beta block, 2 X'V^-1X, absorbs the cross terms 2 X'V^-1 G_k V^-1 e).
    hessian = (-info if fit.method == "REML" else -ktrace) + 2.0 * ypgpgpy
    # Kenward-Roger adjusted covariance (pbkrtest vcovAdj).
    w_kr = 2.0 * _pinv_sym(info) if np.min(np.abs(np.linalg.eigvalsh(info))) <= 1e-10 else 2.0 * np.linalg.inv(info)
    u = np.zeros_like(phi)
    for k in range(2):
        for l in range(2):
            qkl = q[(min(k, l), max(k, l))]
            u += w_kr[k, l] * (qkl - ms[k] @ phi @ ms[l])
    phi_a = phi + 2.0 * phi @ u @ phi
    return VarianceDerivatives(
        phi=phi,
        m=ms,
        q=q,
        info_expected=info,
        hessian_observed=hessian,
        phi_adjusted=(phi_a + phi_a.T) / 2.0,
        w_kr=w_kr,
        singular=fit.singular,
    )


def _satterthwaite_1d(deriv: VarianceDerivatives, lvec: np.ndarray) -> float:
    phi = deriv.phi
    var = float(lvec @ phi @ lvec)
    pl = phi @ lvec
    grad = np.array([pl @ m @ pl for m in deriv.m])
    if deriv.singular:
        # On the boundary sigma_b^2 = 0 is not a free parameter: lmerTest's numerical
        # derivatives in theta = sigma_b / sigma are then exactly 0 (the deviance is even in
        # theta), so only the residual variance contributes.
        h = deriv.hessian_observed[1, 1]
        denom = float(grad[1] ** 2 * 2.0 / h) if h > 0 else 0.0
    else:
        cov = 2.0 * _pinv_sym(deriv.hessian_observed)
        denom = float(grad @ cov @ grad)
    if denom <= 0:
        return float("inf")
    return 2.0 * var * var / denom


def fstat_ddf(nu: np.ndarray) -> float:
    """lmerTest's ``get_Fstat_ddf``: combine per-direction df into one F denominator df."""
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < 1e-8):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - nu.size)


def _kr_terms(deriv: VarianceDerivatives, L: np.ndarray) -> tuple[float, float, int]:
    """Return KR ``(ddf, F.scaling, q)`` for hypothesis matrix ``L`` (pbkrtest ``.KR_adjust``)."""
    phi = deriv.phi
    q = int(np.any(L != 0.0)) if L.shape[0] == 1 else int(np.linalg.matrix_rank(L))
    theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
    tphi = theta @ phi
    us = [tphi @ (-m) @ phi for m in deriv.m]
    a1 = a2 = 0.0
    w = deriv.w_kr
    for k in range(2):
        for l in range(k, 2):
            e = 1.0 if k == l else 2.0
            a1 += e * w[k, l] * np.trace(us[k]) * np.trace(us[l])
            a2 += e * w[k, l] * np.sum(us[k] * us[l].T)
    ddf, scaling = kr_df(np.float64(a1), np.float64(a2), q)
    return float(ddf), float(scaling), q


@dataclass(frozen=True, slots=True)
class ContainmentDf:
    """nlme's containment df: ``within`` flags columns that vary inside a subject."""

    within: np.ndarray  # (p,) bool
    constant: np.ndarray  # (p,) bool: the intercept
    df_within: float
    df_between: float

    def for_columns(self, used: np.ndarray) -> float:
        """df of a term or contrast using columns ``used``: its innermost stratum's df.

        The intercept alone gets the largest df, as in nlme.
        """
        if bool(np.all(self.constant[used])):
            return max(self.df_within, self.df_between)
        return self.df_within if bool(np.any(self.within[used])) else self.df_between


def containment_df(X: np.ndarray, group_codes: np.ndarray, n_groups: int) -> ContainmentDf:
    """nlme's between/within (containment) df for the columns of ``X`` (intercept assumed).

    A column is *within* if it is not constant inside at least one subject; then
    ``df_within = N - G - p_within`` and ``df_between = G - p_between - 1`` where
    ``p_between`` counts the non-constant between-subject columns and 1 is the intercept.
    """
    N, p = X.shape
    order = np.argsort(group_codes, kind="stable")
    xs = X[order]
    g = group_codes[order]
    same_group = g[1:] == g[:-1]
    varies = np.zeros(p, dtype=bool)
    if same_group.any():
        diff = np.abs(xs[1:] - xs[:-1]) > 1e-12 * (1.0 + np.abs(xs[:-1]))
        varies = (diff & same_group[:, None]).any(axis=0)
    const = np.all(np.abs(X - X[0]) <= 1e-12 * (1.0 + np.abs(X[0])), axis=0)
    p_within = int(varies.sum())
    p_between = int((~varies & ~const).sum())
    return ContainmentDf(
        within=varies,
        constant=const,
        df_within=float(N - n_groups - p_within),
        df_between=float(n_groups - p_between - 1),
    )


def t_test(
    fit: LMMFit,
    lvec: np.ndarray,
    *,
    df_method: DfMethod,
    deriv: VarianceDerivatives | None = None,
    containment: ContainmentDf | None = None,
) -> TTest:
    """Test ``l'beta = 0`` with the chosen df method (KR uses the adjusted covariance)."""
    lvec = np.asarray(lvec, dtype=float)
    est = float(lvec @ fit.beta)
    if df_method == "kenward-roger":
        if fit.method != "REML":
            raise ModelError("Kenward-Roger needs a REML fit (method='REML')")
        deriv = deriv or variance_derivatives(fit)
        var = float(lvec @ deriv.phi_adjusted @ lvec)
        df, _scale, _q = _kr_terms(deriv, lvec[None, :])
    else:
        var = float(lvec @ fit.vcov @ lvec)
        if df_method == "satterthwaite":
            deriv = deriv or variance_derivatives(fit)
            df = _satterthwaite_1d(deriv, lvec)
        elif df_method == "containment":
            if containment is None:
                raise ModelError("containment df need the per-column df (containment_df)")
            df = containment.for_columns(np.abs(lvec) > 0)
        elif df_method == "normal":
            df = float("inf")
        else:
            check_option("df_method", df_method, DF_METHOD)
    if not var > 0:
        raise ModelError("the contrast has zero variance: it is not estimable from these data")
    se = float(np.sqrt(var))
    stat = est / se
    # scipy.special's distribution functions: the same as scipy.stats' sf without its
    # argument-checking overhead (~50 us per call).
    p = float(2.0 * (sc.ndtr(-abs(stat)) if np.isinf(df) else sc.stdtr(df, -abs(stat))))
    return TTest(estimate=est, se=se, df=float(df), statistic=float(stat), p_value=p)


def f_test(
    fit: LMMFit,
    L: np.ndarray,
    *,
    df_method: DfMethod,
    deriv: VarianceDerivatives | None = None,
    containment: ContainmentDf | None = None,
) -> FTest:
    """Joint Wald test of ``L beta = 0`` (rows of L = hypotheses) with the chosen df method.

    Kenward–Roger returns pbkrtest's scaled F (``F.scaling * Wald_A / q`` with the adjusted
    covariance), as ``lmerTest::anova(ddf = "Kenward-Roger")``. Satterthwaite follows
    lmerTest's ``contestMD``. Containment uses the df of the innermost stratum of the
    columns involved (nlme's term df). Normal returns the chi-square statistic and ``df_den = inf``.
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    beta = fit.beta
    if df_method == "kenward-roger":
        if fit.method != "REML":
            raise ModelError("Kenward-Roger needs a REML fit (method='REML')")
        deriv = deriv or variance_derivatives(fit)
        ddf, scaling, q = _kr_terms(deriv, L)
        lb = L @ beta
        wald = float(lb @ np.linalg.solve(L @ deriv.phi_adjusted @ L.T, lb))
        stat = scaling * wald / q
        return FTest(statistic=stat, df_num=q, df_den=ddf, p_value=float(sc.fdtrc(q, ddf, stat)))
    vl = L @ fit.vcov @ L.T
    vals, vecs = np.linalg.eigh(vl)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    pos = vals > max(np.sqrt(np.finfo(float).eps) * vals[0], 0.0)
    q = int(pos.sum())
    if q == 0:
        raise ModelError("the hypothesis is not estimable (zero variance)")
    ptl = vecs[:, pos].T @ L
    t2 = (ptl @ beta) ** 2 / vals[pos]
    wald = float(t2.sum())
    if df_method == "normal":
        return FTest(statistic=wald, df_num=q, df_den=float("inf"), p_value=float(sc.chdtrc(q, wald)))
    stat = wald / q
    if df_method == "satterthwaite":
        deriv = deriv or variance_derivatives(fit)
        nu = np.array([_satterthwaite_1d(deriv, row) for row in ptl])
        ddf = fstat_ddf(nu)
    elif df_method == "containment":
        if containment is None:
            raise ModelError("containment df need the per-column df (containment_df)")
        ddf = containment.for_columns(np.any(np.abs(L) > 0, axis=0))
    else:
        check_option("df_method", df_method, DF_METHOD)
    return FTest(statistic=stat, df_num=q, df_den=float(ddf), p_value=float(sc.fdtrc(q, ddf, stat)))

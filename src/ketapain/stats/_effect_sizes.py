"""Standardised effect sizes for a pair of treatments in a crossover trial.

Four definitions, each named by its ``kind`` in every output. For treatments ``a`` and ``b``
the sign is always that of ``mean(a) - mean(b)``.

``d_model``
    Model-based, consistent with the model's test: the mixed-model contrast (the same
    estimate, adjusted for period/sequence as the model is) divided by the model's total SD,
    ``d = (mu_a - mu_b) / S``, ``S = sqrt(sigma_b^2 + sigma^2)``. Its CI is the model's CI of
    the contrast (Kenward-Roger t, or the fit's df method) divided by the same ``S``, **S
    treated as fixed** (its sampling variance is ignored). So the CI excludes 0 exactly when
    the model's CI excludes 0, i.e. when the contrast's P < 1 - conf_level; the cost is an
    interval a little too narrow on the standardised scale (``total_sd`` carries the
    uncertainty of ``S``, by the delta method, and can disagree with the test).
``total_sd``
    Model-based: the mixed-model contrast divided by the total SD of one observation,
    ``delta = (mu_a - mu_b) / sqrt(sigma_b^2 + sigma^2)``, i.e. in units of the
    between-patient spread of single measurements (comparable with a parallel-group d).
    95% CI by the delta method with both variance components' sampling variance
    (covariance ``2 H^-1`` from the REML Hessian), normal quantile:
    ``var(delta) = var(diff)/S^2 + diff^2 var(S^2) / (4 S^6)``, ``S^2 = sigma_b^2 + sigma^2``.
``d_z``
    Cohen's d_z on within-patient differences ``D = y_a - y_b`` of the patients observed on
    both: ``mean(D) / sd(D)``. Exact CI by inverting the noncentral t distribution of
    ``t = d_z sqrt(n)`` with ``n - 1`` df (Steiger & Fouladi 1997).
``g_av``
    Hedges' g with the average-variance standardiser (Algina & Keselman 2003; Bonett 2015):
    ``d_av = mean(D) / sqrt((s_a^2 + s_b^2) / 2)``, bias-corrected by
    ``J = 1 - 3 / (4 (n - 1) - 1)``. CI: ``J (d_av +- z sqrt(v))`` with Bonett's (2015)
    variance ``v = d^2 (s_a^4 + s_b^4 + 2 r^2 s_a^2 s_b^2) / (8 (n-1) s^4)
    + (s_a^2 + s_b^2 - 2 r s_a s_b) / ((n - 1) s^2)``, ``s^2 = (s_a^2 + s_b^2)/2``.

References
----------
Lakens D (2013) Front Psychol 4:863. Algina J, Keselman HJ (2003) Educ Psychol Meas 63:537.
Bonett DG (2015) Psychol Methods 20:244. Steiger JH, Fouladi RT (1997) in *What if there were
no significance tests?*, 221-257.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy import special as sc
from scipy import stats as sps

from ketapain._options import CONF_LEVEL, check_option
from ketapain.errors import ModelError
from ketapain.stats._results import EffectSize

__all__ = ["cohens_dz", "hedges_g_av", "model_d_effect", "total_sd_effect"]


def model_d_effect(
    a: str,
    b: str,
    *,
    difference: float,
    ci_low: float,
    ci_high: float,
    sigma2_subject: float,
    sigma2: float,
    n_subjects: int,
    conf_level: float = 0.95,
) -> EffectSize:
    """``d_model = (mu_a - mu_b) / S`` and the model's CI ``[ci_low, ci_high] / S``, with
    ``S = sqrt(sigma_b^2 + sigma^2)`` the model's total SD, treated as fixed (module doc).

    Examples
    --------
    >>> es = model_d_effect("K", "KM", difference=-20.0, ci_low=-39.0, ci_high=-1.0,
    ...                     sigma2_subject=6000.0, sigma2=1600.0, n_subjects=20)
    >>> round(es.estimate, 4), round(es.ci_low, 4), round(es.ci_high, 4)   # S = sqrt(7600) = 87.178
    (-0.2294, -0.4474, -0.0115)
    """
    check_option("conf_level", conf_level, CONF_LEVEL)
    s2 = sigma2_subject + sigma2
    if not s2 > 0:
        raise ModelError("total variance is 0: the model-based standardised difference is undefined")
    sd = math.sqrt(s2)
    return EffectSize(a, b, "d_model", difference / sd, ci_low / sd, ci_high / sd, conf_level, n_subjects)


def total_sd_effect(
    a: str,
    b: str,
    *,
    difference: float,
    difference_var: float,
    sigma2_subject: float,
    sigma2: float,
    varcomp_cov: np.ndarray,
    n_subjects: int,
    conf_level: float = 0.95,
) -> EffectSize:
    """``(mu_a - mu_b) / sqrt(sigma_b^2 + sigma^2)`` with a delta-method CI (module doc)."""
    check_option("conf_level", conf_level, CONF_LEVEL)
    s2 = sigma2_subject + sigma2
    if not s2 > 0:
        raise ModelError("total variance is 0: the total-SD effect size is undefined")
    d = difference / math.sqrt(s2)
    var_s2 = float(np.ones(2) @ varcomp_cov @ np.ones(2))
    # = difference_var / s2 + difference^2 var_s2 / (4 s2^3), written in scale-free ratios so
    # that an outcome of any size (1e-150..1e150) neither overflows nor underflows
    var_d = difference_var / s2 + d**2 * (max(var_s2, 0.0) / s2) / (4.0 * s2)
    z = sps.norm.ppf(0.5 + conf_level / 2.0)
    half = z * math.sqrt(var_d)
    return EffectSize(a, b, "total_sd", d, d - half, d + half, conf_level, n_subjects)


def _paired(ya: np.ndarray, yb: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    ok = np.isfinite(ya) & np.isfinite(yb)
    n = int(ok.sum())
    if n < 3:
        raise ModelError(f"{n} patients have both treatments observed; a paired effect size needs at least 3")
    return ya[ok], yb[ok], n


def cohens_dz(a: str, b: str, ya: np.ndarray, yb: np.ndarray, *, conf_level: float = 0.95) -> EffectSize:
    """Cohen's d_z of paired values ``ya``, ``yb`` (one per patient) with a noncentral-t CI.

    Examples
    --------
    >>> es = cohens_dz("A", "B", np.array([5., 6, 7, 8]), np.array([4., 6, 5, 7]))
    >>> round(es.estimate, 4)   # D = 1, 0, 2, 1: mean 1, sd 0.8165
    1.2247
    """
    check_option("conf_level", conf_level, CONF_LEVEL)
    ya, yb, n = _paired(np.asarray(ya, float), np.asarray(yb, float))
    diff = ya - yb
    sd = float(diff.std(ddof=1))
    if not sd > 0:
        raise ModelError(f"the {a} - {b} differences are all equal: d_z is undefined (sd = 0)")
    dz = float(diff.mean()) / sd
    t_obs = dz * math.sqrt(n)
    df = n - 1
    alpha = 1.0 - conf_level

    def cdf(ncp: float) -> float:
        # scipy returns NaN deep in the tails; the cdf is decreasing in ncp, so NaN means ~0
        # (ncp far above t) or ~1 (far below).
        v = float(sc.nctdtr(df, ncp, t_obs))  # = scipy.stats.nct.cdf, without its overhead
        return v if math.isfinite(v) else (0.0 if ncp > t_obs else 1.0)

    def ncp_for(prob: float) -> float:
        spread = 10.0 * math.sqrt(1.0 + t_obs * t_obs / (2.0 * df))
        return float(optimize.brentq(lambda ncp: cdf(ncp) - prob, t_obs - spread, t_obs + spread, xtol=1e-12))

    low = ncp_for(1.0 - alpha / 2.0) / math.sqrt(n)
    high = ncp_for(alpha / 2.0) / math.sqrt(n)
    return EffectSize(a, b, "d_z", dz, low, high, conf_level, n)


def hedges_g_av(a: str, b: str, ya: np.ndarray, yb: np.ndarray, *, conf_level: float = 0.95) -> EffectSize:
    """Hedges' g_av (average-variance standardiser, bias-corrected) with Bonett's CI.

    Examples
    --------
    >>> es = hedges_g_av("A", "B", np.array([5., 6, 7, 8]), np.array([4., 6, 5, 7]))
    >>> round(es.estimate, 4)   # d_av = 1 / sqrt((1.6667 + 1.6667) / 2) = 0.7746; J = 1 - 3/11
    0.5633
    """
    check_option("conf_level", conf_level, CONF_LEVEL)
    ya, yb, n = _paired(np.asarray(ya, float), np.asarray(yb, float))
    sa2, sb2 = float(ya.var(ddof=1)), float(yb.var(ddof=1))
    s2 = (sa2 + sb2) / 2.0
    if not s2 > 0:
        raise ModelError(f"{a} and {b} values are constant: g_av is undefined (sd = 0)")
    sa, sb = math.sqrt(sa2), math.sqrt(sb2)
    r = float(np.corrcoef(ya, yb)[0, 1]) if sa > 0 and sb > 0 else 0.0
    d = float((ya - yb).mean()) / math.sqrt(s2)
    v = d**2 * (sa2**2 + sb2**2 + 2 * r**2 * sa2 * sb2) / (8 * (n - 1) * s2**2) + (
        sa2 + sb2 - 2 * r * sa * sb
    ) / ((n - 1) * s2)
    j = 1.0 - 3.0 / (4.0 * (n - 1) - 1.0)
    z = sps.norm.ppf(0.5 + conf_level / 2.0)
    half = z * math.sqrt(max(v, 0.0))
    return EffectSize(a, b, "g_av", j * d, j * (d - half), j * (d + half), conf_level, n)

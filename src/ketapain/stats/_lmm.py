"""Linear mixed model with one random intercept per subject, fitted from sufficient statistics.

Model
-----
For subject ``i`` with ``n_i`` observations,

    y_i = X_i beta + 1 b_i + e_i,   b_i ~ N(0, sigma_b^2),   e_i ~ N(0, sigma^2 I),

so ``V_i = sigma^2 (I + theta^2 J)`` with ``theta = sigma_b / sigma`` (lme4's ``theta``) and
``J`` the all-ones matrix. Because ``V_i^-1 = sigma^-2 (I - w_i J)`` with
``w_i = theta^2 / (1 + n_i theta^2)``, every quantity of the fit is a function of the
per-subject sufficient statistics

    n_i,  s_i = X_i' 1,  t_i = 1' y_i        and the totals  X'X, X'y, y'y.

The profiled deviance is therefore evaluated in ``O(G p^2)`` for ``G`` subjects, whatever the
number of rows, and the same formulas can later be stacked to fit thousands of trials at once.

Profiled criteria (lme4's conventions, Bates et al. 2015, J Stat Softw 67(1), eqs. 34 and 41)
with ``A(theta) = X'X - sum_i w_i s_i s_i'`` (= X' V*^-1 X, V* = V / sigma^2),
``r(theta) = y'V*^-1 y - b' A^-1 b`` the penalised residual sum of squares, ``N`` rows and
``p`` fixed effects:

    ML:    d(theta) = sum_i log(1 + n_i theta^2) + N (1 + log(2 pi r / N))
    REML:  d(theta) = sum_i log(1 + n_i theta^2) + log|A| + (N - p)(1 + log(2 pi r / (N - p)))

When every subject has the same number of observations and the design is orthogonal-block
(the generalised eigenvalues of ``sum_i s_i s_i'`` against ``X'X`` are all 0 or ``n_i``: e.g. a
complete crossover with a sequence term), the optimum has a closed form, the ANOVA estimator
(:func:`ketapain.stats._batch_eigen.closed_form_theta`, shared with the batched engine), used
with the same boundary rules as below. Otherwise
the one-dimensional profile is minimised over ``theta >= 0`` by Brent's method after a
bracketing grid; a minimum at ``theta = 0`` is a singular (boundary) fit. The deviance is flat
to rounding within ~1e-7 relative of its minimum, so Brent's answer is then polished to the
root of the analytic derivative in ``gamma = theta^2`` (envelope theorem for ``beta``):

    D(gamma) = sum_i n_i / (1 + n_i gamma) + [REML] tr(A^-1 dA/dgamma)
               - dof * sum_i (t_i - s_i' beta)^2 / (1 + n_i gamma)^2 / r,
    dA/dgamma = -sum_i s_i s_i' / (1 + n_i gamma)^2,   dof = N - p (REML) or N (ML),

by Brent's root finder (``scipy.optimize.brentq``) in the smallest of the brackets
``gamma (1 -+ h)``, ``h = 1e-6, 1e-4, 1e-2``, where ``D`` changes sign; the optimum is then
exact to machine precision, as lme4's after its own convergence.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize

from ketapain._options import FIT_METHOD, check_option
from ketapain.errors import ModelError, SingularFitWarning
from ketapain.stats._batch_eigen import closed_form_theta
from ketapain.stats._batch_math import EigenStats

__all__ = [
    "LMMFit",
    "SufficientStats",
    "dense_design",
    "deviance_derivative",
    "fit_random_intercept",
    "profiled_deviance",
    "fit_random_intercept_stats",
    "profiled_deviance_grid",
    "sufficient_stats",
    "sufficient_stats_cells",
]

Method = Literal["REML", "ML"]

_THETA_GRID = np.concatenate([[0.0], np.logspace(-4, 3, 36)])


@dataclass(frozen=True, slots=True)
class SufficientStats:
    """Per-subject sufficient statistics of a random-intercept linear model.

    Attributes
    ----------
    n : (G,) number of observations of each subject.
    s : (G, p) column sums of X within each subject (``X_i' 1``).
    t : (G,) sum of y within each subject.
    xtx, xty, yty : totals ``X'X`` (p, p), ``X'y`` (p,), ``y'y``.
    """

    n: np.ndarray
    s: np.ndarray
    t: np.ndarray
    xtx: np.ndarray
    xty: np.ndarray
    yty: float

    @property
    def n_obs(self) -> int:
        """Total number of observations N."""
        return int(self.n.sum())

    @property
    def n_params(self) -> int:
        """Number of fixed-effect columns p."""
        return int(self.xtx.shape[0])


def sufficient_stats(X: np.ndarray, y: np.ndarray, group_codes: np.ndarray) -> SufficientStats:
    """Reduce rows to per-subject sufficient statistics (vectorised, no loop over subjects).

    Parameters
    ----------
    X : (N, p) fixed-effects design.
    y : (N,) outcome, finite.
    group_codes : (N,) integer subject codes ``0..G-1`` (every code present).
    """
    n_groups = int(group_codes.max()) + 1
    n = np.bincount(group_codes, minlength=n_groups).astype(float)
    order = np.argsort(group_codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.intp)
    s = np.add.reduceat(X[order], starts, axis=0)
    t = np.add.reduceat(y[order], starts)
    return SufficientStats(n=n, s=s, t=t, xtx=X.T @ X, xty=X.T @ y, yty=float(y @ y))


def _profile_parts(
    ss: SufficientStats, theta: float
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float]:
    """Return ``A``, ``beta``, ``r``, the weights ``w`` and ``sum log(1 + n theta^2)``."""
    th2 = theta * theta
    w = th2 / (1.0 + ss.n * th2)
    ws = ss.s * w[:, None]
    A = ss.xtx - ws.T @ ss.s
    b = ss.xty - ws.T @ ss.t
    c = ss.yty - float(w @ (ss.t * ss.t))
    beta = np.linalg.solve(A, b)
    r = max(c - float(b @ beta), 0.0)
    logdet_v = float(np.log1p(ss.n * th2).sum())
    return A, beta, r, w, logdet_v


def profiled_deviance(ss: SufficientStats, theta: float, *, method: Method = "REML") -> float:
    """Profiled deviance ``d(theta)`` (REML criterion or -2 log-likelihood); see module doc."""
    A, _beta, r, _w, logdet_v = _profile_parts(ss, theta)
    N, p = ss.n_obs, ss.n_params
    if r <= 0.0:  # an exact fit: log(0) = -inf, as profiled_deviance_grid has it (_fit then refuses it)
        return -math.inf
    if method == "ML":
        return logdet_v + N * (1.0 + math.log(2.0 * math.pi * r / N))
    _sign, logdet_a = np.linalg.slogdet(A)
    dof = N - p
    return logdet_v + float(logdet_a) + dof * (1.0 + math.log(2.0 * math.pi * r / dof))


DENSE_LIMIT = 1 << 25
"""Designs of up to this many cells (rows x columns, 256 MB) are reduced by
:func:`sufficient_stats` on the dense design, larger ones by their cells."""


def dense_design(cell_x: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``cell_x[cell]`` in Fortran order, the layout a design built column by column and then
    subset (``X[:, keep]``) has: the BLAS sums ``X'X`` and ``X'y`` in an order that depends on
    the layout, so one layout gives the same numbers to the last bit."""
    X = np.empty((cell.size, cell_x.shape[1]), order="F")
    for j in range(cell_x.shape[1]):
        X[:, j] = cell_x[cell, j]
    return X


def sufficient_stats_cells(cell_x: np.ndarray, cell: np.ndarray, y: np.ndarray, group_codes: np.ndarray, *,
                           dense_limit: int | None = None) -> SufficientStats:
    """:func:`sufficient_stats` of the design ``X = cell_x[cell]`` (its distinct rows and the
    cell of every row).

    Up to ``dense_limit`` entries of ``X`` (default :data:`DENSE_LIMIT`), or when ``cell_x`` has other than whole numbers (a
    covariate), ``X`` is built and :func:`sufficient_stats` reduces it: the same numbers to the
    last bit. Beyond, ``X`` is never built: ``n``, ``s`` and ``X'X`` are sums of whole numbers
    (dummy columns), exact in any order, so equal; ``t`` and ``y'y`` are computed as there; only
    ``X'y`` is summed in another order (``cell_x' sum_cell y`` against the BLAS's ``X'y``), equal
    up to rounding (~1e-15 relative).
    """
    whole = np.array_equal(cell_x, np.round(cell_x)) and np.abs(cell_x).max() <= 2**20
    if cell.size * cell_x.shape[1] <= (DENSE_LIMIT if dense_limit is None else dense_limit) or not whole:
        return sufficient_stats(dense_design(cell_x, cell), y, group_codes)
    n_groups = int(group_codes.max()) + 1
    n = np.bincount(group_codes, minlength=n_groups).astype(float)
    order = np.argsort(group_codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.intp)
    t = np.add.reduceat(y[order], starts)
    del order
    s = np.empty((n_groups, cell_x.shape[1]))
    for j in range(cell_x.shape[1]):  # one column at a time: no (N, p) array
        s[:, j] = np.bincount(group_codes, weights=cell_x[cell, j], minlength=n_groups)
    counts = np.bincount(cell, minlength=cell_x.shape[0]).astype(float)
    sums = np.bincount(cell, weights=y, minlength=cell_x.shape[0])
    return SufficientStats(n=n, s=s, t=t, xtx=(cell_x * counts[:, None]).T @ cell_x, xty=cell_x.T @ sums,
                           yty=float(y @ y))


GRID_BLOCK = 1 << 22
"""Thetas x subjects entries of the weights :func:`profiled_deviance_grid` holds at a time (32 MB)."""


def profiled_deviance_grid(ss: SufficientStats, thetas: np.ndarray, *, method: Method = "REML") -> np.ndarray:
    """``d(theta)`` at many thetas at once (batched linear algebra, no Python loop over subjects).

    The sums over subjects stay per subject (``einsum``). The (thetas x subjects) weights are
    made for a block of thetas at a time, at most :data:`GRID_BLOCK` entries: one block for any
    trial-sized data (so the numbers are those of one batched call, to the last bit), several for
    millions of subjects (a 5 M-row file: 1.7 M subjects). Pooling the sums by subject size
    instead was tried and moved the bracket of the optimum by rounding, which flipped the
    convergence of a pinned power simulation (tests/simulate/test_pinned_outputs.py)."""
    th2 = np.asarray(thetas, dtype=float) ** 2
    step = max(1, min(th2.size, GRID_BLOCK // max(ss.n.size, 1)))
    if step >= th2.size:
        return _grid_block(ss, th2, method)
    return np.concatenate([_grid_block(ss, th2[i:i + step], method) for i in range(0, th2.size, step)])


def _grid_block(ss: SufficientStats, th2: np.ndarray, method: Method) -> np.ndarray:
    """:func:`profiled_deviance_grid` at ``theta^2 = th2`` (one block)."""
    w = th2[:, None] / (1.0 + ss.n[None, :] * th2[:, None])  # (K, G)
    A = ss.xtx[None] - np.einsum("kg,gi,gj->kij", w, ss.s, ss.s)
    b = ss.xty[None] - np.einsum("kg,gi,g->ki", w, ss.s, ss.t)
    c = ss.yty - w @ (ss.t * ss.t)
    del w
    beta = np.linalg.solve(A, b[..., None])[..., 0]
    r = np.maximum(c - np.einsum("ki,ki->k", b, beta), 0.0)
    logdet_v = np.log1p(ss.n[None, :] * th2[:, None]).sum(axis=1)
    N, p = ss.n_obs, ss.n_params
    out: np.ndarray
    with np.errstate(divide="ignore"):
        if method == "ML":
            out = logdet_v + N * (1.0 + np.log(2.0 * np.pi * r / N))
        else:
            dof = N - p
            out = logdet_v + np.linalg.slogdet(A)[1] + dof * (1.0 + np.log(2.0 * np.pi * r / dof))
    return out


def deviance_derivative(ss: SufficientStats, gam: float, *, method: Method = "REML") -> float:
    """``d d(theta) / d(theta^2)`` at ``gam = theta^2``: the analytic derivative of the
    profiled deviance (formula in the module docstring)."""
    n = ss.n
    mg = 1.0 + n * gam
    w = gam / mg
    wp = 1.0 / (mg * mg)
    ws = ss.s * w[:, None]
    A = ss.xtx - ws.T @ ss.s
    b = ss.xty - ws.T @ ss.t
    del ws  # (G, p): one at a time
    beta = np.linalg.solve(A, b)
    r = ss.yty - float(w @ (ss.t * ss.t)) - float(b @ beta)
    e = ss.t - ss.s @ beta
    out = float(np.sum(n / mg))
    if method == "REML":
        dA = -(ss.s * wp[:, None]).T @ ss.s
        out += float(np.trace(np.linalg.solve(A, dA)))
        dof = ss.n_obs - ss.n_params
    else:
        dof = ss.n_obs
    return out - dof * float(wp @ (e * e)) / r


def _polish(ss: SufficientStats, theta: float, method: Method) -> float:
    """Root of :func:`deviance_derivative` next to Brent's ``theta > 0`` (unchanged if no
    sign change is found within 1e-2 relative in ``theta^2``)."""
    g0 = theta * theta
    held = [ss]  # emptied after: scipy's wrappers form a reference cycle with the callable
    for h in (1e-6, 1e-4, 1e-2):
        lo, hi = g0 * (1.0 - h), g0 * (1.0 + h)
        f_lo = deviance_derivative(ss, lo, method=method)
        f_hi = deviance_derivative(ss, hi, method=method)
        if not (math.isfinite(f_lo) and math.isfinite(f_hi)):
            return theta
        if f_lo < 0.0 < f_hi:
            root = optimize.brentq(
                lambda g: deviance_derivative(held[0], g, method=method), lo, hi,
                xtol=1e-300, rtol=4.0 * np.finfo(float).eps, maxiter=200,
            )
            held.clear()
            return math.sqrt(root)
    return theta


def _closed_form_theta(ss: SufficientStats, method: Method) -> float | None:
    """The exact optimum when every subject has the same number of observations and the
    design is orthogonal-block (e.g. a complete crossover: every subject gets every treatment
    and period once), by the ANOVA closed form of
    :func:`ketapain.stats._batch_eigen.closed_form_theta` (one implementation for both engines);
    None when it does not apply (the caller optimises iteratively)."""
    n = ss.n
    if (n != n[0]).any():
        return None
    try:
        R = np.linalg.cholesky(ss.xtx)  # X'X = R R'
    except np.linalg.LinAlgError:
        return None
    rinv = np.linalg.inv(R)
    c = rinv @ (ss.s.T @ ss.s) @ rinv.T
    d, Q = np.linalg.eigh((c + c.T) / 2.0)
    T = rinv.T @ Q  # T' X'X T = I, T' SS T = diag(d)
    one = np.ones(1)
    es = EigenStats(
        d=d[None], u=(ss.xty @ T)[None], v=((ss.t @ ss.s) @ T)[None], tt=one * float(ss.t @ ss.t),
        yty=one * ss.yty, cnt=one * n.size, m0=one * n[0],
        logdet_xtx=one * float(2.0 * np.log(np.diagonal(R)).sum()), n_obs=one * ss.n_obs, p=d.size,
    )
    res = closed_form_theta(es, method == "REML")
    if res is None or res[1][0] != 0:
        return None
    return float(res[0][0])


def _optimise_theta(ss: SufficientStats, method: Method, xatol: float) -> float:
    closed = _closed_form_theta(ss, method)
    if closed is not None:
        return closed
    return _iterate_theta(ss, method, xatol)


def _iterate_theta(ss: SufficientStats, method: Method, xatol: float) -> float:
    """Grid, Brent and the derivative polish (any design)."""
    dev = profiled_deviance_grid(ss, _THETA_GRID, method=method)
    k = int(np.argmin(dev))
    if k == 0:
        # Minimum on the grid at theta = 0: is the slope at 0 (in theta^2) non-negative?
        h = 1e-7
        if profiled_deviance(ss, h, method=method) >= dev[0]:
            return 0.0
        lo, hi = 0.0, float(_THETA_GRID[1])
    elif k == len(_THETA_GRID) - 1:
        raise ModelError(
            "the between-subject variance is unbounded (theta > 1000): the residual variance is "
            "effectively 0; check that the outcome varies within subjects"
        )
    else:
        lo, hi = float(_THETA_GRID[k - 1]), float(_THETA_GRID[k + 1])
    # The statistics are held through a list emptied after the search: scipy's wrappers keep
    # the callable in a reference cycle, which would keep the (G, p) sums until a garbage
    # collection.
    held = [ss]
    res = optimize.minimize_scalar(
        lambda th: profiled_deviance(held[0], th, method=method),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": xatol * max(1.0, hi), "maxiter": 500},
    )
    held.clear()
    theta = float(res.x)
    # Brent may stop a hair away from 0 on a boundary optimum, with a deviance lower than at 0
    # only by rounding: compare with theta = 0 exactly, up to that rounding.
    if profiled_deviance(ss, 0.0, method=method) <= float(res.fun) + 1e-10:
        return 0.0
    return _polish(ss, theta, method)


@dataclass(frozen=True, slots=True)
class LMMFit:
    """A fitted random-intercept linear mixed model (pure numbers; no labels).

    Attributes
    ----------
    beta : (p,) fixed effects.
    vcov : (p, p) covariance of ``beta``: ``sigma^2 A^-1`` (model-based, unadjusted).
    sigma2 : residual variance.
    sigma2_subject : between-subject variance ``theta^2 sigma^2``.
    theta : ``sigma_subject / sigma`` (lme4's theta).
    deviance : profiled criterion at the optimum (REML criterion or -2 log L).
    loglik : ``-deviance / 2`` (lme4's ``logLik``; for REML the restricted log-likelihood).
    method : "REML" or "ML".
    singular : True when ``theta`` is on the boundary 0.
    stats : the sufficient statistics the fit was computed from.
    """

    beta: np.ndarray
    vcov: np.ndarray
    sigma2: float
    sigma2_subject: float
    theta: float
    deviance: float
    loglik: float
    method: str
    singular: bool
    stats: SufficientStats

    @property
    def n_obs(self) -> int:
        """Number of observations used."""
        return self.stats.n_obs

    @property
    def n_subjects(self) -> int:
        """Number of subjects with at least one observation."""
        return int(self.stats.n.shape[0])

    @property
    def icc(self) -> float:
        """Intraclass correlation ``sigma_b^2 / (sigma_b^2 + sigma^2)``."""
        return self.sigma2_subject / (self.sigma2_subject + self.sigma2)

    @property
    def n_cov_params(self) -> int:
        """Number of parameters counted by AIC/BIC: p fixed effects + 2 variance components."""
        return self.stats.n_params + 2

    @property
    def aic(self) -> float:
        """Akaike criterion ``-2 logL + 2 k`` (lme4 convention, also for REML fits)."""
        return -2.0 * self.loglik + 2.0 * self.n_cov_params

    @property
    def bic(self) -> float:
        """Bayesian criterion ``-2 logL + k log N`` (lme4 convention: N = rows, also for REML)."""
        return -2.0 * self.loglik + self.n_cov_params * math.log(self.n_obs)

    def subject_weights(self) -> np.ndarray:
        """``a_i = 1 / (sigma^2 + n_i sigma_b^2)``: the eigenvalue of ``V_i^-1`` along 1."""
        return 1.0 / (self.sigma2 + self.stats.n * self.sigma2_subject)


def _check_identified(ss: SufficientStats) -> None:
    """Refuse data that cannot separate the residual and between-subject variances."""
    N, p = ss.n_obs, ss.n_params
    if N - p < 1:
        raise ModelError(f"{N} observations cannot estimate {p} fixed effects and a residual variance")
    # The between-subject variance is identified only if the fixed effects leave the subject
    # means some residual degrees of freedom (e.g. not when every sequence has one subject).
    # rank(means) <= p, so only G <= p subjects can be explained exactly (no (G, p) copy else).
    if ss.s.shape[0] <= ss.s.shape[1] and np.linalg.matrix_rank(ss.s / ss.n[:, None]) >= ss.s.shape[0]:
        raise ModelError(
            f"the fixed effects explain every subject mean exactly ({ss.s.shape[0]} subjects, no "
            "between-subject degrees of freedom left), so the between-subject variance cannot be "
            "estimated; typically each sequence has a single subject: add subjects or drop a "
            "between-subject term"
        )


def fit_random_intercept(
    X: np.ndarray,
    y: np.ndarray,
    group_codes: np.ndarray,
    *,
    method: Method = "REML",
    xatol: float = 1e-12,
) -> LMMFit:
    """Fit ``y = X beta + b_subject + e`` by profiled REML or ML.

    Parameters
    ----------
    X : (N, p) full-column-rank fixed-effects design.
    y : (N,) finite outcomes.
    group_codes : (N,) integer subject codes ``0..G-1`` (each used at least once).
    method : "REML" (default) or "ML".
    xatol : absolute tolerance of Brent's method on ``theta`` (relative to the bracket).

    Returns
    -------
    LMMFit

    Raises
    ------
    ModelError
        Too few observations for the model, or an unbounded between-subject variance.

    Warns
    -----
    SingularFitWarning
        The between-subject variance is estimated as exactly 0 (as lme4's "boundary (singular)
        fit"); the fit is then the ordinary least-squares fit.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((6, 1)); y = np.array([1., 2., 3., 5., 6., 8.])
    >>> fit = fit_random_intercept(X, y, np.array([0, 0, 0, 1, 1, 1]))
    >>> round(float(fit.beta[0]), 4)
    4.1667
    """
    check_option("method", method, FIT_METHOD)
    return _fit(sufficient_stats(X, y, group_codes), method, xatol)


def fit_random_intercept_stats(ss: SufficientStats, *, method: Method = "REML", xatol: float = 1e-12) -> LMMFit:
    """:func:`fit_random_intercept` from the sufficient statistics of the data (e.g. those of
    :func:`sufficient_stats_cells`, which needs no dense design)."""
    check_option("method", method, FIT_METHOD)
    return _fit(ss, method, xatol)


def _fit(ss: SufficientStats, method: Method, xatol: float) -> LMMFit:
    """The fit of both entry points (warnings are attributed to their caller)."""
    _check_identified(ss)
    N, p = ss.n_obs, ss.n_params
    theta = _optimise_theta(ss, method, xatol)
    A, beta, r, _w, _ = _profile_parts(ss, theta)
    sigma2 = r / (N - p if method == "REML" else N)
    if not sigma2 > 0:
        raise ModelError("the residual variance is 0: the outcome is fitted exactly by the fixed effects")
    deviance = profiled_deviance(ss, theta, method=method)
    singular = theta == 0.0
    if singular:
        warnings.warn(
            "boundary (singular) fit: the between-subject variance is estimated as 0",
            SingularFitWarning,
            stacklevel=3,
        )
    vcov = sigma2 * np.linalg.inv(A)
    return LMMFit(
        beta=beta,
        vcov=(vcov + vcov.T) / 2.0,
        sigma2=float(sigma2),
        sigma2_subject=float(theta * theta * sigma2),
        theta=theta,
        deviance=deviance,
        loglik=-deviance / 2.0,
        method=method,
        singular=singular,
        stats=ss,
    )

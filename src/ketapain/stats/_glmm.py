"""Logistic mixed model with a random intercept per subject, fitted by maximum likelihood.

The marginal likelihood is approximated by adaptive Gauss-Hermite quadrature (AGQ);
``nagq=1`` is the Laplace approximation.  Estimates, standard errors and the
log-likelihood reproduce ``lme4::glmer(y ~ X + (1 | subject), family = binomial,
nAGQ = k)``; see ``docs/glmm.md`` and ``tests/reference/glmm/``. The result records
(``LogisticGLMMFit``, ``WaldTest``, ``ContrastEstimate``) are in ``_results``.

Function length: ``fit_logistic_glmm`` is over 80 lines only by its numpydoc docstring (67
lines: the AGQ formula, references, example); its body is 30 lines.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
from numpy.polynomial.hermite import hermgauss
from scipy import linalg, optimize, special, stats

from ketapain._options import CONF_LEVEL, Number, check_option
from ketapain.errors import ConvergenceWarning, ModelError, SingularFitWarning
from ketapain.stats._degenerate import fixed_effect_separation
from ketapain.stats._results import ContrastEstimate, LogisticGLMMFit, WaldTest

__all__ = [
    "contrast",
    "fit_logistic_glmm",
    "logistic_glmm_loglik",
    "wald_test",
]

MAX_NAGQ = 25  # lme4's limit for a scalar random effect
NAGQ = Number(low=1, high=MAX_NAGQ, integer=True,
              note="adaptive Gauss-Hermite points; 1 is the Laplace approximation, 25 lme4's limit")
SINGULAR_TOL = 1e-4  # lme4::isSingular(tol = 1e-4): theta below this is "on the boundary"
_LOG_2PI = math.log(2.0 * math.pi)
_MODE_TOL = 1e-13
_GRAD_TOL = 1e-6  # max |d deviance / d parameter| accepted as converged


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True)
class _Data:
    """Validated data, rows sorted by subject (``starts`` indexes each subject's block)."""

    X: np.ndarray
    y: np.ndarray
    codes: np.ndarray
    starts: np.ndarray
    n_subjects: int


def _check_nagq(nagq: Any) -> int:
    check_option("nagq", nagq, NAGQ)
    return int(nagq)


def _check_conf_level(conf_level: float) -> float:
    check_option("conf_level", conf_level, CONF_LEVEL)
    return float(conf_level)


def _prepare(
    X: Any, y: Any, groups: Any, term_names: Sequence[str] | None, *, fitting: bool = True
) -> _Data:
    """Validate; with ``fitting`` also check what a fit needs (rank, separation, sizes)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ModelError(f"X must be a 2-D n x p design matrix, got shape {X.shape}")
    n, p = X.shape
    if n == 0 or p == 0:
        raise ModelError(f"X must have at least one row and one column, got shape {X.shape}")
    if term_names is not None:
        if isinstance(term_names, str) or len(term_names) != p:
            raise ModelError(f"term_names must be a sequence of {p} names (one per X column)")
        if len(set(term_names)) != p:
            raise ModelError(f"term_names must be unique, got {list(term_names)}")
    names = list(term_names) if term_names is not None else [f"x{j}" for j in range(p)]
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ModelError(f"X row {i}, column {names[j]!r}: value {X[i, j]} is not finite")
    y = np.asarray(y)
    if y.shape != (n,):
        raise ModelError(f"y must be 1-D with {n} values (rows of X), got shape {y.shape}")
    try:
        yf = y.astype(float)
    except (TypeError, ValueError):
        raise ModelError("y must be numeric 0/1 (or boolean)") from None
    bad_y = ~np.isin(yf, (0.0, 1.0))
    if bad_y.any():
        i = int(np.flatnonzero(bad_y)[0])
        raise ModelError(
            f"y row {i}: value {y.tolist()[i]!r} is not 0 or 1 (missing values not allowed)"
        )
    if fitting and yf.min() == yf.max():
        raise ModelError(f"y is constant (all {int(yf[0])}); a logistic model cannot be fitted")
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ModelError(f"groups must be 1-D with {n} values (rows of X), got shape {g.shape}")
    codes, uniques = pd.factorize(g, use_na_sentinel=True)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise ModelError(f"groups row {i}: subject code is missing")
    m = len(uniques)
    if fitting and m < 2:
        raise ModelError(f"groups must contain at least 2 subjects, got {m}")
    if fitting and n <= m:
        raise ModelError(
            f"{n} observations for {m} subjects: a random intercept needs more observations "
            "than subjects (as lme4 requires)"
        )
    if fitting:
        _check_rank(X, names)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    data = _Data(X[order], yf[order], codes, starts, m)
    if fitting:
        _check_separation(data, names)
    return data


def _check_rank(X: np.ndarray, names: Sequence[str]) -> None:
    n, p = X.shape
    if n < p:
        raise ModelError(f"X has {p} columns but only {n} rows; the design cannot be full rank")
    norms = np.linalg.norm(X, axis=0)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ModelError(f"X column {names[int(zero[0])]!r} is all zero (term not estimable)")
    r = np.linalg.qr(X / norms, mode="r")
    aliased = np.flatnonzero(np.abs(np.diag(r)) < 1e-7)
    if aliased.size:
        terms = ", ".join(repr(names[int(j)]) for j in aliased)
        raise ModelError(
            f"X is not of full column rank: {terms} is a linear combination of the "
            "preceding columns (aliased); drop it or recode the factor"
        )


def _check_separation(data: _Data, names: Sequence[str]) -> None:
    """Raise if some direction d has (2y - 1) x'd >= 0 for every row (Konis 2007 LP)."""
    sep = fixed_effect_separation(data.X, data.y, term_names=names)
    if sep is None:
        return
    n_pred = int(sep.rows.sum())
    terms = ", ".join(sep.terms)
    raise ModelError(
        f"perfect separation: y is perfectly predicted for {n_pred} of {len(data.y)} observations "
        f"by the fixed effects (terms in the separating direction: {terms}); the maximum-"
        "likelihood estimates do not exist (they diverge to +/-infinity). Merge sparse "
        "levels, drop the term, or use a penalised model"
    )


# --------------------------------------------------------------------------- objective


class _Deviance:
    """-2 log L (AGQ) and its gradient over params = (theta, beta), vectorised over subjects.

    The conditional modes from the previous call warm-start the next Newton solve.
    """

    def __init__(self, data: _Data, nagq: int) -> None:
        self.d = data
        x, w = hermgauss(nagq)
        self.z = math.sqrt(2.0) * x  # standard-normal nodes
        self.logw = np.log(math.sqrt(2.0) * w) + x**2  # weights for integral of exp(g)
        self.u = np.zeros(data.n_subjects)
        self.n_i = np.diff(np.r_[data.starts, len(data.y)]).astype(float)

    def _sum(self, a: np.ndarray) -> np.ndarray:
        return np.add.reduceat(a, self.d.starts, axis=0)

    def _mode(self, theta: float, eta0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Conditional modes u_i of g_i (safeguarded Newton, all subjects at once)."""
        d = self.d
        bound = abs(theta) * self.n_i  # u = theta * sum(y - mu) lies in [-bound, bound]
        lo, hi = -bound, bound.copy()
        u = np.clip(self.u, lo, hi)
        last = np.full_like(u, np.inf)
        for it in range(300):
            mu = special.expit(eta0 + theta * u[d.codes])
            score = theta * self._sum(d.y - mu) - u
            h = theta**2 * self._sum(mu * (1.0 - mu)) + 1.0
            step = score / h
            active = np.abs(step) > _MODE_TOL * (1.0 + np.abs(u))
            if not active.any():
                self.u = u
                return u, mu, h
            lo = np.where(score > 0, u, lo)
            hi = np.where(score < 0, u, hi)
            new = u + step
            # bisect when Newton leaves the bracket (or, late on, does not halve the step)
            bisect = (new <= lo) | (new >= hi)
            if it >= 10:
                bisect |= np.abs(step) > 0.5 * np.abs(last)
            new = np.where(bisect, 0.5 * (lo + hi), new)
            new = np.where(active, new, u)
            last = new - u
            u = new
        self.u = u  # not reached in practice (bisection converges within 300 steps)
        mu = special.expit(eta0 + theta * u[d.codes])
        h = theta**2 * self._sum(mu * (1.0 - mu)) + 1.0
        return u, mu, h

    @overload
    def __call__(self, params: np.ndarray, grad: Literal[True] = True) -> tuple[float, np.ndarray]: ...

    @overload
    def __call__(self, params: np.ndarray, grad: Literal[False]) -> tuple[float, None]: ...

    def __call__(self, params: np.ndarray, grad: bool = True) -> tuple[float, np.ndarray | None]:
        """-2 log L at ``params`` and (``grad``) its gradient."""
        d = self.d
        theta, beta = float(params[0]), np.asarray(params[1:])
        eta0 = d.X @ beta
        u, mu0, h = self._mode(theta, eta0)
        sigma = 1.0 / np.sqrt(h)
        uk = u[:, None] + sigma[:, None] * self.z  # m x K nodes
        eta = eta0[:, None] + theta * uk[d.codes]  # n x K
        ll = d.y[:, None] * eta - np.logaddexp(0.0, eta)
        a = self.logw + self._sum(ll) - 0.5 * uk**2 - 0.5 * _LOG_2PI
        amax = a.max(axis=1)
        lse = amax + np.log(np.exp(a - amax[:, None]).sum(axis=1))
        dev = -2.0 * float(np.sum(np.log(sigma) + lse))
        if not grad:
            return dev, None
        # d log L_i = sum_k pi_k dg(u_k) + A du + B dsigma - dh/(2h); du, dh from the mode.
        pi = np.exp(a - lse[:, None])
        resid = d.y[:, None] - special.expit(eta)
        rsum = self._sum(resid)
        score_k = theta * rsum - uk
        A = np.sum(pi * score_k, axis=1)
        B = np.sum(pi * score_k * self.z, axis=1)
        C = -0.5 * (1.0 + B * sigma) / h
        v = mu0 * (1.0 - mu0)
        v1 = v * (1.0 - 2.0 * mu0)
        sv, sv1, sr = self._sum(v), self._sum(v1), self._sum(d.y - mu0)
        D = (A + C * theta**3 * sv1) / h
        w_obs = np.sum(pi[d.codes] * resid, axis=1) + theta**2 * C[d.codes] * v1
        w_obs -= theta * D[d.codes] * v
        g_theta = np.sum(
            np.sum(pi * uk * rsum, axis=1)
            + C * (2.0 * theta * sv + theta**2 * u * sv1)
            + D * (sr - theta * u * sv)
        )
        return dev, -2.0 * np.r_[g_theta, d.X.T @ w_obs]

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Central differences of the analytic gradient (symmetrised)."""
        k = len(params)
        H = np.empty((k, k))
        for j in range(k):
            step = 1e-4 * max(1.0, abs(params[j]))
            e = np.zeros(k)
            e[j] = step
            H[:, j] = (self(params + e)[1] - self(params - e)[1]) / (2.0 * step)
        return 0.5 * (H + H.T)

    def rx_cov(self, params: np.ndarray) -> np.ndarray:
        """lme4's fallback ``unsc()``: Schur complement of the penalised PIRLS system."""
        d = self.d
        theta = float(params[0])
        _, mu, h = self._mode(theta, d.X @ params[1:])
        v = mu * (1.0 - mu)
        a = self._sum(v[:, None] * d.X)
        info = d.X.T @ (v[:, None] * d.X) - (a.T * (theta**2 / h)) @ a
        return np.linalg.inv(info)


# --------------------------------------------------------------------------- optimisation


def _glm(data: _Data) -> np.ndarray:
    """Ordinary logistic regression by IRLS (the theta = 0 fit)."""
    X, y = data.X, data.y
    beta = np.zeros(X.shape[1])
    eta = special.logit((y + 0.5) / 2.0)
    for _ in range(100):
        mu = special.expit(eta)
        w = mu * (1.0 - mu)
        new = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * eta + y - mu))
        done = np.max(np.abs(new - beta)) < 1e-12 * (1.0 + np.max(np.abs(new)))
        beta, eta = new, X @ new
        if done:
            break
    return beta


def _newton(fun: _Deviance, x: np.ndarray) -> np.ndarray:
    """Polish a minimum with (step-halved) Newton steps on the finite-difference Hessian."""
    dev, g = fun(x)
    for _ in range(25):
        if np.max(np.abs(g)) < 1e-10:
            break
        try:
            step = linalg.cho_solve(linalg.cho_factor(fun.hessian(x)), g)
        except linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-6:
            new = x - t * step
            dev_new, g_new = fun(new)
            if dev_new < dev or np.max(np.abs(g_new)) < np.max(np.abs(g)):
                break
            t /= 2.0
        else:
            break
        x, dev, g = new, dev_new, g_new
        if np.max(np.abs(t * step)) < 1e-12:
            break
    return x


def _optimise(fun: _Deviance) -> tuple[np.ndarray, bool]:
    beta0 = _glm(fun.d)
    res = optimize.minimize(
        fun,
        np.r_[1.0, beta0],
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-9},
    )
    x = _newton(fun, np.asarray(res.x, dtype=float))
    x[0] = abs(x[0])  # the deviance is even in theta
    # Boundary candidate theta = 0 (the GLM fit), kept when at least as good (lme4's
    # check.boundary does the same for theta within 1e-5 of 0).
    x0 = np.r_[0.0, beta0]
    dev0 = fun(x0, grad=False)[0]
    dev = fun(x, grad=False)[0]
    if not np.isfinite(dev) or dev0 <= dev + 1e-10:
        x = x0
    g = fun(x)[1]
    gcheck = g[1:] if x[0] == 0.0 else g
    converged = bool(np.all(np.isfinite(x)) and np.max(np.abs(gcheck)) < _GRAD_TOL)
    return x, converged


def _vcov(fun: _Deviance, x: np.ndarray) -> np.ndarray:
    """vcov(beta) as lme4 (use.hessian = TRUE): 2 * [H^-1]_beta,beta of the deviance Hessian."""
    H = fun.hessian(x)
    if x[0] == 0.0:  # cross terms vanish (deviance even in theta): beta block alone
        with np.errstate(all="ignore"):
            V = 2.0 * np.linalg.inv(H[1:, 1:])
    else:
        try:
            V = 2.0 * np.linalg.inv(H)[1:, 1:]
        except np.linalg.LinAlgError:
            V = np.full((len(x) - 1,) * 2, np.nan)
    V = 0.5 * (V + V.T)
    if not np.all(np.isfinite(V)) or np.linalg.eigvalsh(V).min() <= 0:
        warnings.warn(
            "the finite-difference Hessian of the deviance is not positive definite; "
            "falling back to the PIRLS (RX) covariance of beta, as lme4 does",
            ConvergenceWarning,
            stacklevel=3,
        )
        V = fun.rx_cov(x)
    return V


def _frozen(a: Any) -> np.ndarray:
    arr = np.array(a, dtype=float)
    arr.setflags(write=False)
    return arr


def _zcrit(conf_level: float) -> float:
    return float(stats.norm.ppf(0.5 + conf_level / 2.0))


# --------------------------------------------------------------------------- public API


def logistic_glmm_loglik(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, *, theta: float, beta: Sequence[float],
    nagq: int = 1,
) -> float:
    """AGQ log-likelihood at given parameters (``-dd(c(theta, beta)) / 2`` in lme4).

    Parameters
    ----------
    X, y, groups
        As for :func:`fit_logistic_glmm`.
    theta : float
        Random-intercept SD on the logit scale.
    beta : sequence of float
        Fixed effects, one per column of ``X``.
    nagq : int, default 1
        Quadrature points per subject (1 = Laplace).

    Returns
    -------
    float
        The approximate marginal log-likelihood.
    """
    nagq = _check_nagq(nagq)
    data = _prepare(X, y, groups, None, fitting=False)
    b = np.asarray(beta, dtype=float)
    if b.shape != (data.X.shape[1],):
        raise ModelError(f"beta must have one value per column of X, got shape {b.shape}")
    if not (np.isfinite(theta) and np.all(np.isfinite(b))):
        raise ModelError("theta and beta must be finite")
    return -0.5 * _Deviance(data, nagq)(np.r_[float(theta), b], grad=False)[0]


def fit_logistic_glmm(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    term_names: Sequence[str],
    nagq: int = 1,
    conf_level: float = 0.95,
) -> LogisticGLMMFit:
    """Fit a logistic mixed model with a random intercept per subject by maximum likelihood.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Full-column-rank fixed-effects design, including the intercept column.
    y : ndarray, shape (n,)
        Binary outcome, 0/1 (or boolean).
    groups : ndarray, shape (n,)
        Subject code of each row (any hashable values).
    term_names : sequence of str
        Names of the ``p`` columns of ``X``.
    nagq : int, default 1
        Gauss-Hermite points per subject, 1..25; 1 is the Laplace approximation.
    conf_level : float, default 0.95
        Level of the Wald confidence intervals.

    Returns
    -------
    LogisticGLMMFit

    Raises
    ------
    ModelError
        Bad shapes, y not 0/1, non-finite X, missing subject, fewer than 2 subjects, nagq
        outside 1..25, an aliased column of X, or perfect separation (no finite MLE).

    Warns
    -----
    SingularFitWarning
        theta is estimated on (or within 1e-4 of) its boundary 0.
    ConvergenceWarning
        The optimiser did not reach its tolerance, or the Hessian is not positive definite.

    Notes
    -----
    ``logit P(y_ij = 1 | u_i) = x_ij' beta + theta u_i`` with ``u_i ~ N(0, 1)``.  For each
    subject ``g_i(u) = sum_j log p(y_ij | u) + log phi(u)`` is maximised at ``u_i*``
    (curvature ``h_i``) and ``L_i = sqrt(2 / h_i) sum_k w_k exp(x_k^2)
    exp(g_i(u_i* + sqrt(2 / h_i) x_k))`` with Gauss-Hermite nodes ``x_k`` and weights
    ``w_k``.  ``-2 sum_i log L_i`` is minimised over ``(theta >= 0, beta)`` (L-BFGS-B
    with the analytic gradient, then Newton).  ``cov`` is ``2 [H^-1]_beta`` with ``H``
    the Hessian of the deviance in ``(theta, beta)``, as ``vcov()`` of a glmer fit.  With
    perfect separation the MLE does not exist, so a ModelError is raised instead of
    returning diverging estimates.

    References
    ----------
    Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models
    using lme4. J Stat Softw 67(1). Pinheiro JC, Bates DM (1995). Approximations to the
    log-likelihood function in the nonlinear mixed-effects model. J Comput Graph Stat 4.
    Konis K (2007). Linear programming algorithms for detecting separated data in binary
    logistic regression models. DPhil thesis, Oxford.

    Examples
    --------
    >>> import numpy as np
    >>> subject = np.repeat(np.arange(8), 2)
    >>> treated = np.tile([0.0, 1.0], 8)
    >>> y = np.array([0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0])
    >>> X = np.column_stack([np.ones(16), treated])
    >>> fit = fit_logistic_glmm(X, y, subject, term_names=["(Intercept)", "treated"])
    >>> fit.n_subjects, fit.nagq
    (8, 1)
    >>> print(f"{fit.estimates[1]:.3f} {fit.se[1]:.3f} {fit.theta:.3f}")
    1.066 1.111 0.416
    """
    nagq = _check_nagq(nagq)
    conf_level = _check_conf_level(conf_level)
    data = _prepare(X, y, groups, term_names)
    fun = _Deviance(data, nagq)
    x, converged = _optimise(fun)
    if not converged:
        msg = f"optimiser stopped before |gradient| < {_GRAD_TOL:g}; estimates may be inaccurate"
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    theta, beta = float(x[0]), x[1:]
    singular = theta < SINGULAR_TOL
    if singular:
        msg = (f"boundary (singular) fit: the random-intercept SD theta = {theta:.3g} is on "
               "its boundary 0 (subjects look alike); the model is ordinary logistic regression")
        warnings.warn(msg, SingularFitWarning, stacklevel=2)
    cov = _vcov(fun, x)
    loglik = -0.5 * fun(x, grad=False)[0]
    se = np.sqrt(np.diag(cov))
    lo, hi = beta - _zcrit(conf_level) * se, beta + _zcrit(conf_level) * se
    n, k = len(data.y), len(beta) + 1
    with np.errstate(over="ignore"):
        return LogisticGLMMFit(
            term_names=tuple(term_names), estimates=_frozen(beta), se=_frozen(se),
            statistic=_frozen(beta / se), p_values=_frozen(2 * stats.norm.sf(np.abs(beta / se))),
            ci_low=_frozen(lo), ci_high=_frozen(hi), odds_ratios=_frozen(np.exp(beta)),
            or_ci_low=_frozen(np.exp(lo)), or_ci_high=_frozen(np.exp(hi)), cov=_frozen(cov),
            theta=theta, variance=theta**2, loglik=loglik, aic=-2.0 * loglik + 2.0 * k,
            bic=-2.0 * loglik + math.log(n) * k, nagq=nagq, n_obs=n,
            n_subjects=data.n_subjects, singular=bool(singular), converged=converged,
            conf_level=conf_level,
        )


def _as_rows(fit: LogisticGLMMFit, L: Any, what: str) -> np.ndarray:
    p = len(fit.term_names)
    if isinstance(L, Mapping):
        L = [L]
    if isinstance(L, Sequence) and not isinstance(L, str) and L and all(
        isinstance(r, str | Mapping) for r in L
    ):
        rows = np.zeros((len(L), p))
        for i, r in enumerate(L):
            items = {r: 1.0} if isinstance(r, str) else r
            for term, coef in items.items():
                if term not in fit.term_names:
                    raise ModelError(f"{what}: unknown term {term!r}; terms are {fit.term_names}")
                rows[i, fit.term_names.index(term)] = float(coef)
        return rows
    arr = np.atleast_2d(np.asarray(L, dtype=float))
    if arr.ndim != 2 or arr.shape[1] != p:
        raise ModelError(f"{what} must have {p} columns (one per term), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{what} contains non-finite values")
    return arr


def wald_test(fit: LogisticGLMMFit, L: Any) -> WaldTest:
    """Wald chi-square test of the linear hypothesis ``L beta = 0``.

    Parameters
    ----------
    fit : LogisticGLMMFit
    L : array_like, shape (q, p), or sequence of term names / {term: coefficient} rows
        Hypothesis matrix of full row rank; ``["treatment[B]", "treatment[C]"]`` tests
        that both treatment coefficients are 0 (the omnibus treatment test).

    Returns
    -------
    WaldTest
        ``(L b)' (L V L')^-1 (L b)``, df = q, p-value from the chi-square(q) distribution.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0])
    >>> X = np.column_stack([np.ones(16), np.tile([0.0, 1.0], 8)])
    >>> fit = fit_logistic_glmm(X, y, np.repeat(np.arange(8), 2), term_names=["(Intercept)", "t"])
    >>> wald_test(fit, ["t"]).df
    1
    """
    Lm = _as_rows(fit, L, "L")
    if np.linalg.matrix_rank(Lm) < Lm.shape[0]:
        raise ModelError(f"L ({Lm.shape[0]} rows) is not of full row rank")
    est = Lm @ fit.estimates
    stat = float(est @ np.linalg.solve(Lm @ fit.cov @ Lm.T, est))
    q = Lm.shape[0]
    return WaldTest(statistic=stat, df=q, p_value=float(stats.chi2.sf(stat, q)))


def contrast(fit: LogisticGLMMFit, c: Any, *, conf_level: float | None = None) -> ContrastEstimate:
    """Estimate, SE, Wald z test and confidence interval of the contrast ``c' beta``.

    Parameters
    ----------
    fit : LogisticGLMMFit
    c : array_like of length p, or mapping {term: coefficient}
        E.g. ``{"treatment[C]": 1, "treatment[B]": -1}`` for C versus B.
    conf_level : float, optional
        Defaults to ``fit.conf_level``.

    Returns
    -------
    ContrastEstimate
        Two-sided normal (z) p-value; ``odds_ratio`` = exp(estimate).
    """
    level = fit.conf_level if conf_level is None else _check_conf_level(conf_level)
    row = _as_rows(fit, c, "c")
    if row.shape[0] != 1:
        raise ModelError(f"c must be a single contrast vector, got {row.shape[0]} rows")
    cv = row[0]
    est = float(cv @ fit.estimates)
    se = float(math.sqrt(cv @ fit.cov @ cv))
    z = est / se if se > 0 else math.nan
    zc = _zcrit(level)
    return ContrastEstimate(
        estimate=est,
        se=se,
        statistic=z,
        p_value=float(2.0 * stats.norm.sf(abs(z))),
        ci_low=est - zc * se,
        ci_high=est + zc * se,
        conf_level=level,
    )

"""Profiled REML for a nested random-intercept model (patient, patient x period), vectorised.

Model
-----
For patient ``i``, period ``j`` and modelled day ``d``

    y_ijd = x_ijd' beta + b_i + c_ij + e_ijd,
    b_i ~ N(0, sigma_b^2),  c_ij ~ N(0, sigma_c^2),  e_ijd ~ N(0, sigma^2).

With ``theta_b = sigma_b / sigma`` and ``theta_c = sigma_c / sigma`` (lme4's thetas),
``V_i / sigma^2 = D_i + theta_b^2 1 1'`` with ``D_i = blockdiag_j (I + theta_c^2 J)``. Per
patient-period ``g`` with ``n_g`` observations, ``(I + theta_c^2 J)^-1 = I - w_g J`` with
``a_g = 1/(1 + n_g theta_c^2)`` and ``w_g = theta_c^2 a_g`` (so ``D^-1 1 = a_g 1``), and by
Sherman-Morrison ``V_i^-1 sigma^2 = D_i^-1 - kappa_i q_i q_i'`` with ``q_i = D_i^-1 1``,
``m_i = sum_j n_ij a_ij`` and ``kappa_i = theta_b^2 / (1 + theta_b^2 m_i)``. Hence, with the
per-patient-period sufficient statistics ``n_g``, ``s_g = X_g'1``, ``t_g = 1'y_g`` and
``u_i = sum_j a_ij s_ij``, ``v_i = sum_j a_ij t_ij``:

    A = X'V*^-1 X = X'X - sum_g w_g s_g s_g' - sum_i kappa_i u_i u_i'
    b = X'V*^-1 y = X'y - sum_g w_g s_g t_g - sum_i kappa_i u_i v_i
    c = y'V*^-1 y = y'y - sum_g w_g t_g^2  - sum_i kappa_i v_i^2
    log|V*| = sum_g log(1 + n_g theta_c^2) + sum_i log(1 + theta_b^2 m_i)

and the profiled REML criterion (lme4's, Bates et al. 2015) is
``log|V*| + log|A| + (N - p)(1 + log(2 pi r / (N - p)))`` with ``r = c - b'A^-1 b``. Its
minimiser over ``(theta_b, theta_c) >= 0`` gives ``sigma^2 = r / (N - p)`` and
``Var(beta) = sigma^2 A^-1``. The criterion is even in each theta, so it is minimised over the
plane (BFGS, then Newton steps) and the absolute values are reported; a theta equal to 0 is a
boundary (singular) fit.

The Satterthwaite machinery follows lmerTest: the variance parameters are
``varpar = (theta_b, theta_c, sigma)``; ``H`` is the Hessian of the unprofiled REML deviance
``-2 l_R = log|V*| + (N - p) log sigma^2 + log|A| + r / sigma^2 + (N - p) log 2 pi`` and
``J_k = d(sigma^2 A^-1)/d varpar_k``, both by central differences with one Richardson
extrapolation step (lmerTest uses numDeriv's Richardson extrapolation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from ketapain.errors import ModelError
from ketapain.stats._daily_grid import DailyGrid

__all__ = ["NestedFit", "NestedStats", "fit_nested", "nested_stats"]

_THETA_MAX = 1e3


@dataclass(frozen=True, slots=True)
class NestedStats:
    """Per patient-period sufficient statistics (rows sorted by patient)."""

    n: np.ndarray  # (G,)
    s: np.ndarray  # (G, p)
    t: np.ndarray  # (G,)
    patient_starts: np.ndarray  # (I,) first row of each patient
    xtx: np.ndarray
    xty: np.ndarray
    yty: float

    @property
    def n_obs(self) -> int:
        return int(self.n.sum())

    @property
    def n_params(self) -> int:
        return int(self.xtx.shape[0])


def nested_stats(grid: DailyGrid, y: np.ndarray | None = None) -> NestedStats:
    """Sufficient statistics of the daily model for the observed points of ``y`` (default grid.y)."""
    y = grid.y if y is None else y
    obs = ~np.isnan(y)
    G, D = y.shape
    T = len(grid.treatment_levels)
    yz = np.where(obs, y, 0.0)
    n = obs.sum(axis=1).astype(float)
    s_cells = np.zeros((G, T, D))
    s_cells[np.arange(G), grid.treatment] = obs
    s_flat = s_cells.reshape(G, T * D)
    y_cells = np.zeros((G, T, D))
    y_cells[np.arange(G), grid.treatment] = yz
    Z = grid.nuisance
    s = np.concatenate([s_flat, n[:, None] * Z], axis=1)
    t = yz.sum(axis=1)
    cc = np.diag(s_flat.sum(axis=0))
    cz = s_flat.T @ Z
    zz = Z.T @ (n[:, None] * Z)
    xtx = np.block([[cc, cz], [cz.T, zz]])
    xty = np.concatenate([y_cells.reshape(G, T * D).sum(axis=0), Z.T @ t])
    starts = np.flatnonzero(np.r_[True, grid.patient[1:] != grid.patient[:-1]])
    return NestedStats(n=n, s=s, t=t, patient_starts=starts, xtx=xtx, xty=xty, yty=float((yz * yz).sum()))


@dataclass(frozen=True, slots=True)
class _Parts:
    A: np.ndarray
    chol: tuple[np.ndarray, bool]
    beta: np.ndarray
    r: float
    logdet_v: float
    logdet_a: float


def _parts(st: NestedStats, tb: float, tc: float) -> _Parts:
    tb2, tc2 = tb * tb, tc * tc
    a = 1.0 / (1.0 + st.n * tc2)
    w = tc2 * a
    ws = st.s * w[:, None]
    A = st.xtx - ws.T @ st.s
    b = st.xty - st.s.T @ (w * st.t)
    c = st.yty - float(w @ (st.t * st.t))
    logdet_v = float(np.log1p(st.n * tc2).sum())
    if tb2 > 0.0:
        m = np.add.reduceat(st.n * a, st.patient_starts)
        u = np.add.reduceat(st.s * a[:, None], st.patient_starts, axis=0)
        v = np.add.reduceat(st.t * a, st.patient_starts)
        kappa = tb2 / (1.0 + tb2 * m)
        A = A - (u * kappa[:, None]).T @ u
        b = b - u.T @ (kappa * v)
        c = c - float(kappa @ (v * v))
        logdet_v += float(np.log1p(tb2 * m).sum())
    try:
        chol = linalg.cho_factor(A, lower=True, check_finite=False)
    except linalg.LinAlgError as exc:  # pragma: no cover - rank is checked before fitting
        raise ModelError("the fixed effects are not estimable (X'V^-1X is singular)") from exc
    beta = linalg.cho_solve(chol, b, check_finite=False)
    r = max(c - float(b @ beta), 0.0)
    logdet_a = 2.0 * float(np.log(np.diag(chol[0])).sum())
    return _Parts(A=A, chol=chol, beta=beta, r=r, logdet_v=logdet_v, logdet_a=logdet_a)


def reml_criterion(st: NestedStats, tb: float, tc: float) -> float:
    """Profiled REML criterion (lme4's ``REMLcrit``) at ``(theta_b, theta_c)``."""
    pt = _parts(st, abs(tb), abs(tc))
    dof = st.n_obs - st.n_params
    if pt.r <= 0.0:
        return math.inf
    return pt.logdet_v + pt.logdet_a + dof * (1.0 + math.log(2.0 * math.pi * pt.r / dof))


def _unprofiled(st: NestedStats, x: np.ndarray) -> float:
    """``-2 l_R`` at ``varpar = (theta_b, theta_c, sigma)``."""
    pt = _parts(st, float(x[0]), float(x[1]))
    s2 = float(x[2]) ** 2
    dof = st.n_obs - st.n_params
    return pt.logdet_v + dof * math.log(s2) + pt.logdet_a + pt.r / s2 + dof * math.log(2.0 * math.pi)


def _phi(st: NestedStats, x: np.ndarray) -> np.ndarray:
    pt = _parts(st, float(x[0]), float(x[1]))
    inv = linalg.cho_solve(pt.chol, np.eye(st.n_params), check_finite=False)
    phi: np.ndarray = float(x[2]) ** 2 * (inv + inv.T) / 2.0
    return phi


def _steps(x: np.ndarray) -> np.ndarray:
    steps: np.ndarray = 1e-3 * np.maximum(np.abs(x), 0.05)
    return steps


def _num_grad(f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central-difference gradient of ``f`` at ``x`` with steps ``h``."""
    g = np.empty(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h[k]
        g[k] = (f(x + e) - f(x - e)) / (2.0 * h[k])
    return g


def _num_hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central second differences at steps h and h/2, one Richardson step (error O(h^4))."""
    k = x.size
    f0 = f(x)

    def at(hh: np.ndarray) -> np.ndarray:
        H = np.empty((k, k))
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = hh[i]
            H[i, i] = (f(x + ei) - 2.0 * f0 + f(x - ei)) / hh[i] ** 2
            for j in range(i):
                ej = np.zeros(k)
                ej[j] = hh[j]
                H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                    4.0 * hh[i] * hh[j]
                )
        return H

    hess: np.ndarray = (4.0 * at(h / 2.0) - at(h)) / 3.0
    return hess


def _num_jacobian_phi(st: NestedStats, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``dPhi/dvarpar_k`` (k, p, p), central differences with one Richardson step."""
    out = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1.0

        def d(step: float, e: np.ndarray = e) -> np.ndarray:
            diff: np.ndarray = (_phi(st, x + step * e) - _phi(st, x - step * e)) / (2.0 * step)
            return diff

        out.append((4.0 * d(h[k] / 2.0) - d(h[k])) / 3.0)
    return np.stack(out)


def _optimise(st: NestedStats) -> tuple[float, float]:
    def f(z: np.ndarray) -> float:
        return reml_criterion(st, float(z[0]), float(z[1]))

    starts = [np.array([1.0, 1.0]), np.array([0.3, 0.3]), np.array([3.0, 0.3]), np.array([0.3, 3.0])]
    vals = [f(z) for z in starts]
    z = starts[int(np.argmin(vals))]
    def grad(zz: np.ndarray) -> np.ndarray:
        return _num_grad(f, zz, 1e-6 * np.maximum(np.abs(zz), 1.0))

    res = optimize.minimize(f, z, method="BFGS", jac=grad, options={"gtol": 1e-9, "maxiter": 500})
    z = np.abs(res.x)
    if np.any(z > _THETA_MAX):
        raise ModelError(
            "a variance ratio is unbounded (theta > 1000): the residual variance is effectively 0; "
            "check that the score varies within patient-periods"
        )
    # Boundary: snap a theta to 0 when the criterion at 0 is no worse (up to rounding).
    best = f(z)
    for k in range(2):
        trial = z.copy()
        trial[k] = 0.0
        if f(trial) <= best + 1e-10:
            z, best = trial, f(trial)
    # Newton polish on the free coordinates.
    free = z > 0
    for _ in range(8):
        if not free.any():
            break
        zf = z[free]

        def fr(v: np.ndarray) -> float:
            zz = z.copy()  # noqa: B023 - fr is used within this iteration only
            zz[free] = v
            return f(zz)

        h = 1e-4 * np.maximum(np.abs(zf), 0.05)
        g = _num_grad(fr, zf, h)
        H = _num_hessian(fr, zf, h)
        try:
            if np.min(np.linalg.eigvalsh(H)) <= 0:
                break
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:  # pragma: no cover
            break
        cand = z.copy()
        cand[free] = np.abs(zf - step)
        fc = f(cand)
        if not fc <= best:
            break
        z, best = cand, fc
        if np.max(np.abs(step)) < 1e-11 * max(1.0, float(np.max(np.abs(zf)))):
            break
    return float(z[0]), float(z[1])


@dataclass(frozen=True, slots=True)
class NestedFit:
    """Numbers of a fitted nested model (no labels); see the module docstring."""

    beta: np.ndarray
    vcov: np.ndarray
    sigma2: float
    theta_b: float
    theta_c: float
    reml_criterion: float
    hessian: np.ndarray  # (3, 3) Hessian of -2 l_R in (theta_b, theta_c, sigma)
    jacobian: np.ndarray  # (3, p, p) dPhi / dvarpar
    stats: NestedStats

    @property
    def sigma2_patient(self) -> float:
        return self.theta_b**2 * self.sigma2

    @property
    def sigma2_patient_period(self) -> float:
        return self.theta_c**2 * self.sigma2

    @property
    def varpar(self) -> np.ndarray:
        return np.array([self.theta_b, self.theta_c, math.sqrt(self.sigma2)])

    @property
    def varpar_cov(self) -> np.ndarray:
        """Asymptotic covariance ``2 H^-1`` of ``varpar`` (pseudo-inverse, as lmerTest's ginv)."""
        return 2.0 * np.linalg.pinv(self.hessian)

    def satterthwaite_df(self, lvec: np.ndarray) -> float:
        """lmerTest's ``contest1D`` df for ``l'beta``: ``2 (l'Phi l)^2 / (g' 2H^-1 g)``."""
        var = float(lvec @ self.vcov @ lvec)
        grad = np.einsum("i,kij,j->k", lvec, self.jacobian, lvec)
        denom = float(grad @ self.varpar_cov @ grad)
        return 2.0 * var * var / denom if denom > 0 else math.inf

    def satterthwaite_df_diag(self) -> np.ndarray:
        """Satterthwaite df of every coefficient at once."""
        var = np.diag(self.vcov)
        grad = np.stack([np.diag(j) for j in self.jacobian], axis=1)  # (p, 3)
        denom = np.einsum("pk,kl,pl->p", grad, self.varpar_cov, grad)
        with np.errstate(divide="ignore"):
            return np.where(denom > 0, 2.0 * var * var / np.where(denom > 0, denom, 1.0), np.inf)


def _check_identified(st: NestedStats, grid: DailyGrid) -> None:
    N, p = st.n_obs, st.n_params
    counts = np.diag(st.xtx)[: grid.n_cells].reshape(len(grid.treatment_levels), grid.days.size)
    if (counts == 0).any():
        k, d = np.argwhere(counts == 0)[0]
        raise ModelError(
            f"treatment {grid.treatment_levels[k]!r} has no observed {('score' if d or not grid.anchor else 'pre-infusion score')} "
            f"on day {int(grid.days[d])}: its cell mean cannot be estimated"
        )
    if N - p < 1:
        raise ModelError(f"{N} observed points cannot estimate {p} fixed effects and the variances")
    ev = np.linalg.eigvalsh(st.xtx / max(float(np.max(np.diag(st.xtx))), 1.0))
    if ev[0] <= 1e-10 * ev[-1]:
        raise ModelError(
            f"the fixed effects are aliased ({', '.join(grid.nuisance_names) or 'no nuisance columns'} "
            "with the treatment x day cells): the model is not identified"
        )
    if not (st.n >= 2).any():
        raise ModelError("no patient-period has two observed days: the patient x period variance is not identified")
    per_patient = np.add.reduceat((st.n > 0).astype(int), st.patient_starts)
    if not (per_patient >= 2).any():
        raise ModelError(
            "no patient has two observed periods: patient and patient x period variances cannot be separated"
        )


def fit_nested(grid: DailyGrid, *, stats: NestedStats | None = None) -> NestedFit:
    """REML fit of the daily model on ``grid`` (raises ModelError when not identified)."""
    st = stats or nested_stats(grid)
    _check_identified(st, grid)
    tb, tc = _optimise(st)
    pt = _parts(st, tb, tc)
    N, p = st.n_obs, st.n_params
    sigma2 = pt.r / (N - p)
    if not sigma2 > 0:
        raise ModelError("the residual variance is 0: the scores are fitted exactly by the fixed effects")
    crit = pt.logdet_v + pt.logdet_a + (N - p) * (1.0 + math.log(2.0 * math.pi * sigma2))
    x = np.array([tb, tc, math.sqrt(sigma2)])
    h = _steps(x)
    hess = _num_hessian(lambda v: _unprofiled(st, v), x, h)
    jac = _num_jacobian_phi(st, x, h)
    inv = linalg.cho_solve(pt.chol, np.eye(p), check_finite=False)
    vcov = sigma2 * (inv + inv.T) / 2.0
    return NestedFit(
        beta=pt.beta, vcov=vcov, sigma2=float(sigma2), theta_b=tb, theta_c=tc,
        reml_criterion=float(crit), hessian=(hess + hess.T) / 2.0, jacobian=jac, stats=st,
    )


def gls_at(st: NestedStats, tb: float, tc: float) -> tuple[np.ndarray, np.ndarray]:
    """GLS ``beta`` and ``A^-1`` at fixed thetas (used to draw beta given drawn variances)."""
    pt = _parts(st, tb, tc)
    inv = linalg.cho_solve(pt.chol, np.eye(st.n_params), check_finite=False)
    return pt.beta, (inv + inv.T) / 2.0

"""Multiple imputation of missing diary days under the daily mixed model, and pooled AUC contrasts.

``impute_diary`` draws each missing day (and missing pre-infusion score) from its predictive
distribution under the daily model of :mod:`ketapain.stats._daily_lmm` (MAR), with the model
parameters drawn from their approximate sampling distribution (proper imputation).
``multiple_imputation_auc`` computes the per-period AUCs of every completed data set, fits the
crossover model to each and pools the contrasts with Rubin's rules. See
``docs/missing-data.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain._json import json_number
from ketapain._options import CONF_LEVEL, DF_METHOD, MODEL_KIND, check_option, check_scale
from ketapain.errors import DataError, ModelError, SingularFitWarning
from ketapain.stats._daily_engine import NestedFit, fit_nested, gls_at
from ketapain.stats._daily_grid import (
    DAY,
    PERIOD,
    DailyGrid,
    DailyModelKind,
    build_grid,
)
from ketapain.stats._ddf import (
    DfMethod,
    f_test,
    t_test,
    variance_derivatives,
)
from ketapain.stats._degenerate import ModelCheck, check_linear_numbers, combine_checks
from ketapain.stats._design import ModelKind, build_design, parse_crossover
from ketapain.stats._lmm import fit_random_intercept
from ketapain.stats._mi_pool import pool_d1, pool_scalar
from ketapain.stats._multiplicity import sidak_p
from ketapain.stats._results import FTest

__all__ = [
    "AucAnalyser",
    "AucAnalysis",
    "ImputedDiaries",
    "MIResult",
    "PooledContrast",
    "completed_auc",
    "impute_diary",
    "multiple_imputation_auc",
    "pool_analysis",
    "prepare_imputations",
]

Seed = int | np.random.Generator | None
Clip = tuple[float, float] | None | Literal["scale"]
"""``clip`` of the imputation functions: a range, None (no clipping) or ``"scale"`` (the ``scale``)."""
Delta = float | Mapping[str, float]


def _rng(seed: Seed) -> tuple[np.random.Generator, int | None]:
    """Generator and the recorded seed (a fresh entropy when ``seed`` is None)."""
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None:
        entropy = int(cast(int, np.random.SeedSequence().entropy))
        return np.random.default_rng(entropy), entropy
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ModelError(f"seed={seed!r} is not a non-negative integer, a numpy Generator or None")
    return np.random.default_rng(int(seed)), int(seed)


def _delta_per_pp(grid: DailyGrid, delta: Delta) -> np.ndarray:
    levels = grid.treatment_levels
    if isinstance(delta, Mapping):
        bad = [k for k in delta if k not in levels]
        if bad:
            raise ModelError(f"delta names treatment(s) {bad} not in the allocation ({', '.join(levels)})")
        per_level = np.array([float(delta.get(t, 0.0)) for t in levels])
    else:
        per_level = np.full(len(levels), float(delta))
    if not np.all(np.isfinite(per_level)):
        raise ModelError(f"delta={delta!r} must be finite")
    out: np.ndarray = per_level[grid.treatment]
    return out


def _check_clip(clip: tuple[float, float] | None) -> None:
    if clip is not None and not (len(clip) == 2 and clip[0] < clip[1]):
        raise ModelError(f"clip={clip!r} must be None or (low, high) with low < high")


def resolve_clip(clip: Clip, scale: tuple[float, float]) -> tuple[float, float] | None:
    """The clipping range of imputed values: ``scale`` for ``"scale"`` (the default of the public
    functions, so a diary on another scale than 0..10 is never clipped to 0..10), else ``clip``."""
    if isinstance(clip, str) and clip == "scale":
        return scale
    if isinstance(clip, str):
        raise ModelError(f"clip={clip!r} must be 'scale', None or (low, high) with low < high")
    _check_clip(clip)
    return clip


def draw_mar(grid: DailyGrid, nf: NestedFit, n_imputations: int, rng: np.random.Generator) -> np.ndarray:
    """(m, G, D) completed curves under MAR (observed points kept, no delta, no clipping).

    For each imputation: varpar = (theta_b, theta_c, sigma) ~ N(estimate, 2 H^-1) (absolute
    values: the likelihood is even in each); beta ~ N(beta_hat(theta*), sigma*^2 A(theta*)^-1);
    then the patient and patient x period effects from their posterior given the patient's
    observed residuals, and each missing point = mean + b + c + e, e ~ N(0, sigma*^2).
    """
    m = n_imputations
    st = nf.stats
    vals, vecs = np.linalg.eigh(nf.varpar_cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    varpar = np.abs(nf.varpar[None, :] + rng.standard_normal((m, 3)) @ root.T)
    p = st.n_params
    betas = np.empty((m, p))
    z = rng.standard_normal((m, p))
    for k in range(m):  # one GLS solve per imputation (p x p), vectorised over patients
        bhat, ainv = gls_at(st, varpar[k, 0], varpar[k, 1])
        chol = np.linalg.cholesky(ainv + 1e-14 * np.trace(ainv) / p * np.eye(p))
        betas[k] = bhat + varpar[k, 2] * (chol @ z[k])
    G, D = grid.y.shape
    T = len(grid.treatment_levels)
    cells = betas[:, : grid.n_cells].reshape(m, T, D)
    mu = cells[:, grid.treatment, :] + (betas[:, grid.n_cells:] @ grid.nuisance.T)[:, :, None]  # (m, G, D)
    obs = grid.observed
    y0 = np.where(obs, grid.y, 0.0)
    resid = np.where(obs[None], y0[None] - mu, 0.0)
    n = obs.sum(axis=1).astype(float)  # (G,)
    r_sum = resid.sum(axis=2)  # (m, G)
    s2 = varpar[:, 2:3] ** 2  # (m, 1)
    sb2 = (varpar[:, 0:1] ** 2) * s2
    sc2 = (varpar[:, 1:2] ** 2) * s2
    denom = s2 + n[None, :] * sc2  # (m, G)
    pat = grid.patient
    n_pat = int(pat.max()) + 1
    starts = np.flatnonzero(np.r_[True, pat[1:] != pat[:-1]])
    prec = np.add.reduceat(n[None, :] / denom, starts, axis=1)  # (m, I)
    score = np.add.reduceat(r_sum / denom, starts, axis=1)
    v_b = sb2 / (1.0 + sb2 * prec)
    m_b = sb2 * score / (1.0 + sb2 * prec)
    b = m_b + np.sqrt(v_b) * rng.standard_normal((m, n_pat))
    b_pp = b[:, pat]  # (m, G)
    m_c = sc2 * (r_sum - n[None, :] * b_pp) / denom
    v_c = sc2 * s2 / denom
    c = m_c + np.sqrt(v_c) * rng.standard_normal((m, G))
    e = np.sqrt(s2)[:, :, None] * rng.standard_normal((m, G, D))
    draws = mu + (b_pp + c)[:, :, None] + e
    return np.where(obs[None], grid.y[None], draws)


def finish(grid: DailyGrid, raw: np.ndarray, delta_pp: np.ndarray, clip: tuple[float, float] | None) -> np.ndarray:
    """Add delta to imputed diary days (day >= 1, not the pre-infusion day 0), then clip imputed values."""
    imputed = ~grid.observed
    shift = np.where(imputed & (grid.days >= 1)[None, :], delta_pp[:, None], 0.0)
    out = raw + shift[None]
    if clip is not None:
        out = np.where(imputed[None], np.clip(out, clip[0], clip[1]), out)
    return out


@dataclass(frozen=True, slots=True)
class ImputedDiaries:
    """Completed diaries: ``values[k]`` is imputation ``k`` on the patient-period x day grid.

    ``days`` are 0..W (day 0 = the pre-infusion score); ``imputed`` marks the filled points.
    """

    subject: str
    value: str
    window: int
    n_imputations: int
    seed: int | None
    model: str
    delta: dict[str, float]
    clip: tuple[float, float] | None
    patient_labels: np.ndarray
    period_labels: np.ndarray
    treatment: tuple[str, ...]
    days: np.ndarray
    values: np.ndarray
    imputed: np.ndarray

    def diary(self, k: int) -> pd.DataFrame:
        """Imputation ``k`` (0-based) as a diary: subject, period, day (1..W), value."""
        v = self.values[k][:, 1:]
        G, W = v.shape
        return pd.DataFrame({
            self.subject: np.repeat(self.patient_labels, W), PERIOD: np.repeat(self.period_labels, W),
            DAY: np.tile(self.days[1:], G), self.value: v.ravel(),
        })

    def anchor(self, k: int) -> pd.DataFrame:
        """Imputation ``k``'s pre-infusion scores: subject, period, pre_infusion_pain."""
        return pd.DataFrame({self.subject: self.patient_labels, PERIOD: self.period_labels,
                             "pre_infusion_pain": self.values[k][:, 0]})

    def to_frame(self) -> pd.DataFrame:
        """Long frame: imputation (1..m), subject, period, treatment, day (0..W), value, imputed."""
        m, G, D = self.values.shape
        return pd.DataFrame({
            "imputation": np.repeat(np.arange(1, m + 1), G * D),
            self.subject: np.tile(np.repeat(self.patient_labels, D), m),
            PERIOD: np.tile(np.repeat(self.period_labels, D), m),
            "treatment": np.tile(np.repeat(np.asarray(self.treatment, dtype=object), D), m),
            DAY: np.tile(self.days, m * G),
            self.value: self.values.ravel(),
            "imputed": np.tile(self.imputed.ravel(), m),
        })


def completed_auc(values: np.ndarray) -> np.ndarray:
    """AUC of each completed curve, summed as :func:`diary_auc` does (cumulative trapezoids)."""
    return np.cumsum(0.5 * (values[..., :-1] + values[..., 1:]), axis=-1)[..., -1]


def _validate_m(n_imputations: int) -> None:
    if isinstance(n_imputations, bool) or not isinstance(n_imputations, int | np.integer) or n_imputations < 2:
        raise ModelError(f"n_imputations={n_imputations!r} must be an integer >= 2")


def prepare_imputations(diary: pd.DataFrame, allocation: pd.DataFrame, *, value: str, window: int, ref: str,
                        model: DailyModelKind, subject: str, n_imputations: int, seed: Seed,
                        clip: tuple[float, float] | None,
                        scale: tuple[float, float] = (0.0, 10.0)) -> tuple[DailyGrid, np.ndarray, int | None]:
    """Check the options, build the daily grid, fit the imputation model and draw ``n_imputations``
    raw MAR completions (before delta and clipping); returns the grid, the draws and the seed
    recorded. Shared by :func:`impute_diary`, :func:`multiple_imputation_auc` and
    ``tipping_point_auc``; warns at their caller's line."""
    _validate_m(n_imputations)
    _check_clip(clip)
    grid = build_grid(diary, allocation, value=value, window=window, ref=ref, model=model, anchor=True,
                      subject=subject, scale=scale)
    nf = fit_nested(grid)
    if nf.theta_b == 0.0 or nf.theta_c == 0.0:
        warnings.warn("boundary (singular) fit of the imputation model: a variance component is 0",
                      SingularFitWarning, stacklevel=3)
    rng, recorded = _rng(seed)
    raw = draw_mar(grid, nf, int(n_imputations), rng)
    return grid, raw, recorded


def impute_diary(
    diary: pd.DataFrame,
    allocation: pd.DataFrame,
    *,
    value: str = "avg_pain",
    window: int = 35,
    n_imputations: int = 50,
    seed: Seed,
    model: DailyModelKind = "standard",
    delta: Delta = 0.0,
    clip: Clip = "scale",
    subject: str = "patient_id",
    scale: tuple[float, float] = (0.0, 10.0),
) -> ImputedDiaries:
    """Multiply impute missing diary days (and pre-infusion scores) under the daily model (MAR).

    Parameters
    ----------
    diary, allocation : as :func:`fit_daily_model` (the allocation needs ``pre_infusion_pain``).
    value, window, model, subject : as :func:`fit_daily_model` (always on the infusion axis).
    n_imputations : number of completed data sets (>= 2).
    seed : int, numpy Generator or None (None draws fresh entropy, recorded in ``seed``).
    delta : pain points added to every imputed diary day (day >= 1) of all arms (a float) or of
        the named arms (a mapping treatment -> delta), before clipping: a delta-adjusted MNAR
        scenario. The pre-infusion score is never shifted.
    clip : imputed values are clipped to this range (None: no clipping; ``"scale"``, the
        default: to ``scale``). Observed values are never changed.
    scale : the pain scale (the protocol's ``[diary] scale_min``, ``scale_max``; default the
        NRS 0..10): every observed score must lie in it, and imputed values are clipped to it
        unless ``clip`` says otherwise.

    Returns
    -------
    ImputedDiaries

    Notes
    -----
    Proper imputation: for each completed data set the variance parameters
    ``(theta_b, theta_c, sigma)`` are drawn from their large-sample normal distribution
    ``N(estimate, 2 H^-1)`` (H the observed REML Hessian), beta from
    ``N(beta_hat(theta*), sigma*^2 A(theta*)^-1)``, then the patient and patient x period random
    effects from their posterior given the patient's observed residuals, and each missing point
    from ``mean + b + c + e``. Given the random effects the missing points are independent of
    the observed ones, so this is an exact draw from the conditional normal distribution of the
    missing given the observed days.

    Examples
    --------
    >>> from ketapain.examples import load_example
    >>> t = load_example()
    >>> imp = impute_diary(t["diary"], t["allocation"], n_imputations=3, seed=1)
    >>> imp.values.shape
    (3, 60, 36)
    """
    scale = check_scale("scale", scale, error=DataError)
    clip = resolve_clip(clip, scale)
    grid, raw, recorded = prepare_imputations(diary, allocation, value=value, window=window, ref=_any_ref(allocation),
                                   model=model, subject=subject, n_imputations=n_imputations, seed=seed,
                                   clip=clip, scale=scale)
    values = finish(grid, raw, _delta_per_pp(grid, delta), clip)
    dmap = dict(delta) if isinstance(delta, Mapping) else {t: float(delta) for t in grid.treatment_levels}
    return ImputedDiaries(
        subject=subject, value=value, window=grid.window, n_imputations=int(n_imputations), seed=recorded,
        model=model, delta={k: float(v) for k, v in dmap.items()}, clip=None if clip is None else (clip[0], clip[1]),
        patient_labels=grid.patient_labels, period_labels=grid.period_labels,
        treatment=tuple(grid.treatment_levels[i] for i in grid.treatment), days=grid.days, values=values,
        imputed=~grid.observed,
    )


def _any_ref(allocation: pd.DataFrame) -> str:
    if "treatment" not in allocation.columns or len(allocation) == 0:
        return ""
    return str(sorted({str(v).strip() for v in allocation["treatment"].dropna()})[0])


# ---------------------------------------------------------------------------------------------
# Analysis of the completed data sets


@dataclass(frozen=True, slots=True)
class PooledContrast:
    """Rubin-pooled AUC contrast ``a - b`` (score-days) with Barnard-Rubin df."""

    a: str
    b: str
    estimate: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    p_sidak: float
    within_var: float
    between_var: float
    riv: float
    fmi: float
    df_complete: float

    @property
    def label(self) -> str:
        return f"{self.a} - {self.b}"


@dataclass(frozen=True, slots=True)
class AucAnalysis:
    """Per-imputation contrast estimates, variances, df; omnibus per imputation."""

    pairs: list[tuple[str, str]]
    q: np.ndarray  # (m, npairs)
    u: np.ndarray  # (m, npairs)
    df: np.ndarray  # (m, npairs)
    q_ref: np.ndarray  # (m, T-1) contrasts vs ref
    u_ref: np.ndarray  # (m, T-1, T-1)
    f_first: Any  # complete-data F test of the first imputation
    df_den: float  # mean complete-data omnibus denominator df
    checks: tuple[ModelCheck, ...]  # the degenerate-fit verdict of each imputation's fit

    @property
    def check(self) -> ModelCheck:
        """One verdict for the pooled result: not estimable if any imputation's fit is."""
        return combine_checks(self.checks, "imputation")


class AucAnalyser:
    """Builds the crossover design once; analyses one vector of AUCs at a time (fast path of
    :func:`fit_crossover`: same design, same REML fit, same t/F tests)."""

    def __init__(self, grid: DailyGrid, *, subject: str, model: ModelKind,
                 df_method: DfMethod, ref: str) -> None:
        check_option("df_method", df_method, DF_METHOD)
        if df_method == "containment":
            raise ModelError(template="{@df_method='containment'} is not supported for multiple imputation")
        self.frame = pd.DataFrame({subject: grid.patient_labels, PERIOD: grid.period_labels, "sequence": grid.sequence_labels,
                                   "treatment": [grid.treatment_levels[i] for i in grid.treatment],
                                   "auc": 0.0})
        self.subject, self.model, self.df_method, self.ref = subject, model, df_method, ref
        parsed = parse_crossover(self.frame, outcome="auc", subject=subject, period=PERIOD,
                                 sequence="sequence", treatment="treatment", ref=ref)
        self.design = build_design(parsed, model=model)
        d = self.design
        self.pairs = d.treatment_pairs()
        self.lvecs = np.stack([d.pair_vector(a, b) for a, b in self.pairs])
        self.lref = np.stack([d.pair_vector(t, d.treatment_levels[0]) for t in d.treatment_levels[1:]])

    def run(self, auc: np.ndarray) -> AucAnalysis:
        """Fit every completed data set (rows of ``auc``: imputations x periods of the grid);
        a fit that fails or trips a degenerate-fit rule is recorded in ``checks``, its
        numbers set to NaN."""
        m = auc.shape[0]
        q = np.empty((m, len(self.pairs)))
        u = np.empty_like(q)
        dfs = np.empty_like(q)
        k = self.lref.shape[0]
        q_ref = np.empty((m, k))
        u_ref = np.empty((m, k, k))
        f_first = None
        dens = np.empty(m)
        checks = []
        for i in range(m):
            try:
                f_i, checks_i = self._one(np.ascontiguousarray(auc[i]))
            except ModelError as exc:  # e.g. a completed data set the fixed effects fit exactly
                q[i], u[i], dfs[i], q_ref[i], u_ref[i], dens[i] = (np.nan,) * 6
                checks.append(ModelCheck("not_estimable", (str(exc),)))
                continue
            q[i], u[i], dfs[i], q_ref[i], u_ref[i], ft = f_i
            dens[i] = ft.df_den
            if f_first is None:
                f_first = ft
            checks.append(checks_i)
        return AucAnalysis(pairs=self.pairs, q=q, u=u, df=dfs, q_ref=q_ref, u_ref=u_ref, f_first=f_first,
                         df_den=float(dens.mean()), checks=tuple(checks))

    def _one(self, auc: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any],
                                              ModelCheck]:
        """One completed data set: pair estimates, squared SEs and df, contrasts vs the
        reference with their covariance, the F test, and the degenerate-fit verdict."""
        d = self.design
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            fit = fit_random_intercept(d.X, auc, d.group_codes, method="REML")
        deriv = variance_derivatives(fit) if self.df_method in ("kenward-roger", "satterthwaite") else None
        cov = deriv.phi_adjusted if deriv is not None and self.df_method == "kenward-roger" else fit.vcov
        tts = [t_test(fit, lv, df_method=self.df_method, deriv=deriv) for lv in self.lvecs]
        q = np.array([tt.estimate for tt in tts])
        se = np.array([tt.se for tt in tts])
        dfs = np.array([tt.df for tt in tts])
        ft = f_test(fit, self.lref, df_method=self.df_method, deriv=deriv)
        check = check_linear_numbers(
            contrasts=[f"{a} - {b}" for a, b in self.pairs], estimate=q, se=se, df=dfs, df_den=float(ft.df_den),
            var_subject=fit.sigma2_subject, var_residual=fit.sigma2, singular=fit.singular)
        return (q, se**2, dfs, self.lref @ fit.beta, self.lref @ cov @ self.lref.T, ft), check


def pool_analysis(an: AucAnalysis, *, conf_level: float, complete: bool) -> tuple[tuple[PooledContrast, ...], Any]:
    """Rubin's rules per contrast (Sidak over the pairs) and the D1 omnibus test.

    When any imputation's fit is not estimable (``an.check``), Rubin's rules have no valid
    input: every pooled number is NaN (the reason is ``an.check``), never a pool of the rest.
    """
    if not an.check.estimable:
        nan = math.nan
        return tuple(PooledContrast(a=a, b=b, estimate=nan, se=nan, df=nan, ci_low=nan, ci_high=nan, statistic=nan,
                                    p_value=nan, p_sidak=nan, within_var=nan, between_var=nan, riv=nan, fmi=nan,
                                    df_complete=nan) for a, b in an.pairs), \
            FTest(statistic=nan, df_num=an.q_ref.shape[1], df_den=nan, p_value=nan)
    npairs = len(an.pairs)
    out = []
    for j, (a, b) in enumerate(an.pairs):
        ps = pool_scalar(an.q[:, j], an.u[:, j], float(an.df[:, j].mean()))
        se = ps.se
        stat = ps.estimate / se
        if math.isinf(ps.df):
            qc, p = sps.norm.ppf(0.5 + conf_level / 2), 2 * sps.norm.sf(abs(stat))
        else:
            qc, p = sps.t.ppf(0.5 + conf_level / 2, ps.df), 2 * sps.t.sf(abs(stat), ps.df)
        out.append(PooledContrast(
            a=a, b=b, estimate=ps.estimate, se=se, df=ps.df, ci_low=ps.estimate - qc * se,
            ci_high=ps.estimate + qc * se, statistic=stat, p_value=float(p),
            p_sidak=float(sidak_p(float(p), npairs)), within_var=ps.within, between_var=ps.between,
            riv=ps.riv, fmi=ps.fmi, df_complete=ps.df_complete,
        ))
    if complete:
        om = an.f_first
    else:
        pw = pool_d1(an.q_ref, an.u_ref, an.df_den)
        om = FTest(statistic=pw.statistic, df_num=pw.df_num, df_den=pw.df_den, p_value=pw.p_value)
    return tuple(out), om


@dataclass(frozen=True, slots=True)
class MIResult:
    """Multiple-imputation AUC analysis (:func:`multiple_imputation_auc`); AUCs in score-days.

    ``omnibus`` is the D1 pooled Wald test (Li, Raghunathan & Rubin 1991) of equal AUCs, or the
    complete-data F test when nothing was imputed.
    """

    value: str
    window: int
    ref: str
    n_imputations: int
    seed: int | None
    imputation_model: str
    analysis_model: str
    df_method: str
    conf_level: float
    delta: dict[str, float]
    n_missing_days: int
    contrasts: tuple[PooledContrast, ...]
    omnibus: Any
    notes: tuple[str, ...] = field(default=())
    check: ModelCheck = field(default=ModelCheck("ok"))

    def to_frame(self) -> pd.DataFrame:
        """``contrast, estimate, se, df, ci_low, ci_high, statistic, p_value, p_sidak, fmi``."""
        cols = ["estimate", "se", "df", "ci_low", "ci_high", "statistic", "p_value", "p_sidak", "fmi"]
        return pd.DataFrame([{"contrast": c.label, **{k: getattr(c, k) for k in cols}} for c in self.contrasts],
                            columns=["contrast", *cols])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "value": self.value, "window": self.window, "ref": self.ref, "n_imputations": self.n_imputations,
            "seed": self.seed, "imputation_model": self.imputation_model, "analysis_model": self.analysis_model,
            "df_method": self.df_method, "conf_level": self.conf_level, "delta": dict(self.delta),
            "n_missing_days": self.n_missing_days,
            "contrasts": [
                {"a": c.a, "b": c.b, "estimate": c.estimate, "se": c.se, "df": json_number(c.df), "ci": [c.ci_low, c.ci_high],
                 "stat": c.statistic, "p": c.p_value, "p_sidak": c.p_sidak, "within_var": c.within_var,
                 "between_var": c.between_var, "riv": c.riv, "fmi": c.fmi, "df_complete": json_number(c.df_complete)}
                for c in self.contrasts
            ],
            "omnibus": {"stat": self.omnibus.statistic, "df_num": self.omnibus.df_num,
                        "df_den": json_number(self.omnibus.df_den), "p": self.omnibus.p_value},
            "notes": list(self.notes),
            "model_check": self.check.to_dict(),
        }

    def summary(self) -> str:
        """Readable text."""
        om = self.omnibus
        lines = [
            f"Multiple imputation ({self.n_imputations} imputations, seed {self.seed}): {self.value} AUC day "
            f"{self.window}; imputation model {self.imputation_model} (daily, MAR"
            + ("" if not any(self.delta.values()) else f", delta {self.delta}") + f"), analysis model "
            f"{self.analysis_model} ({self.df_method}); {self.n_missing_days} missing points",
            f"Equal AUCs (D1): F({om.df_num}, {om.df_den:.1f}) = {om.statistic:.3f}, P = {om.p_value:.4g}",
        ]
        for c in self.contrasts:
            lines.append(f"  {c.label}: {c.estimate:.2f} [{c.ci_low:.2f}; {c.ci_high:.2f}] (df {c.df:.1f}) "
                         f"P = {c.p_value:.4g}, Sidak P = {c.p_sidak:.4g}, FMI {c.fmi:.2f}")
        lines.extend(f"Note: {n}" for n in self.notes)
        if self.check.status != "ok":
            lines.append(f"Model check: {self.check.status.replace('_', ' ')}: {self.check.reason}")
        return "\n".join(lines)


def multiple_imputation_auc(
    diary: pd.DataFrame,
    allocation: pd.DataFrame,
    *,
    value: str = "avg_pain",
    window: int = 35,
    ref: str,
    n_imputations: int = 50,
    seed: Seed,
    model: DailyModelKind = "standard",
    analysis_model: ModelKind = "paper",
    delta: Delta = 0.0,
    conf_level: float = 0.95,
    df_method: DfMethod = "kenward-roger",
    clip: Clip = "scale",
    subject: str = "patient_id",
    scale: tuple[float, float] = (0.0, 10.0),
) -> MIResult:
    """AUC contrasts by multiple imputation of missing diary days, pooled by Rubin's rules.

    Parameters
    ----------
    diary, allocation, value, window, ref, subject : as :func:`fit_daily_model`.
    n_imputations, seed, model, delta, clip, scale : as :func:`impute_diary` (``model`` is the
        imputation model).
    analysis_model : crossover model fitted to the AUCs of each completed data set
        (:func:`fit_crossover`'s ``model``).
    conf_level : level of the pooled intervals.
    df_method : complete-data df of :func:`fit_crossover` (its default, Kenward-Roger).

    Returns
    -------
    MIResult

    Notes
    -----
    Each completed data set gives per-period AUCs on the infusion axis (trapezoids from the
    pre-infusion score, exactly :func:`diary_auc` with ``anchor``), and the crossover mixed
    model gives each contrast ``Q_k`` with its squared SE ``U_k`` and complete-data df. Pooling:
    Rubin (1987) with the Barnard & Rubin (1999) df (complete-data df = the mean over the
    imputations); the omnibus test is D1 (Li, Raghunathan & Rubin 1991); see
    ``docs/missing-data.md``. With no missing point the result equals the complete-data fit.
    Every imputation's fit is checked by the linear degenerate-fit rules
    (:func:`check_linear_numbers`); if any is not estimable, every pooled number is NaN and
    ``check`` says which imputations and why (``docs/glmm.md``, "Degenerate fits").

    Examples
    --------
    >>> from ketapain.examples import load_example
    >>> t = load_example()
    >>> mi = multiple_imputation_auc(t["diary"], t["allocation"], ref="P", n_imputations=5, seed=3)
    >>> mi.to_frame()["contrast"].tolist()
    ['P - K', 'P - KM', 'K - KM']
    """
    check_option("conf_level", conf_level, CONF_LEVEL)
    check_option("analysis_model", analysis_model, MODEL_KIND)
    scale = check_scale("scale", scale, error=DataError)
    clip = resolve_clip(clip, scale)
    grid, raw, recorded = prepare_imputations(diary, allocation, value=value, window=window, ref=ref, model=model,
                                   subject=subject, n_imputations=n_imputations, seed=seed, clip=clip, scale=scale)
    values = finish(grid, raw, _delta_per_pp(grid, delta), clip)
    analyser = AucAnalyser(grid, subject=subject, model=analysis_model, df_method=df_method, ref=ref)
    an = analyser.run(completed_auc(values))
    n_missing = int((~grid.observed).sum())
    contrasts, om = pool_analysis(an, conf_level=conf_level, complete=n_missing == 0)
    dmap = dict(delta) if isinstance(delta, Mapping) else {t: float(delta) for t in grid.treatment_levels}
    return MIResult(
        value=value, window=grid.window, ref=ref, n_imputations=int(n_imputations), seed=recorded,
        imputation_model=model, analysis_model=analysis_model, df_method=df_method, conf_level=conf_level,
        delta={k: float(v) for k, v in dmap.items()}, n_missing_days=n_missing, contrasts=contrasts, omnibus=om,
        check=an.check,
    )

"""Pieces shared by the two entry points of the batched crossover engine.

:func:`ketapain.stats.fit_crossover_batch` (long frame, ``_batch``) and
:func:`ketapain.stats.fit_crossover_arrays` (outcome cube, ``_batch_array``) code their
inputs differently but fit the same way: groups (trials) whose padded designs are known are
fitted by :func:`fit_pattern` (groups sharing one complete design, in its eigenbasis) or
:func:`fit_general` (each group its own design, pooled by subject size), giving a
:class:`FitPart`; intervals and Sidak adjustment follow (:func:`intervals`), and
:class:`GroupResults` is laid out as the rows of the frame (:func:`results_frame`). A group
the vectorised paths cannot handle is listed in ``FitPart.slow`` and refitted by the single
engine by the caller.

Shapes: ``B`` groups, ``G`` subject slots, ``P`` period slots, ``p`` design columns, ``q``
treatment columns and ``k`` pairs of treatment levels.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import special as sc

from ketapain._options import (
    CONF_LEVEL,
    DF_METHOD,
    FIT_METHOD,
    MODEL_KIND,
    OneOf,
    check_option,
)
from ketapain.errors import ModelError
from ketapain.stats._batch_eigen import (
    EigenFit,
    Pattern,
    closed_form_theta,
    eigen_fit,
    eigen_pair_tests,
    eigen_term_test,
    group_stats,
    shared_grid,
)
from ketapain.stats._batch_infer import (
    BatchFit,
    PairTests,
    TermTest,
    fit_quantities,
    pair_tests,
    term_test,
)
from ketapain.stats._batch_math import ReducedStats, eigen_stats, optimise, reduced_stats, take_eig
from ketapain.stats._ddf import DfMethod
from ketapain.stats._design import ModelKind
from ketapain.stats._lmm import Method

__all__ = [
    "BATCH_COLUMNS",
    "BatchOptions",
    "FitPart",
    "GroupResults",
    "TreatmentTests",
    "VAR_TERMS",
    "check_options",
    "containment_df",
    "design_ok",
    "error_rows",
    "fit_general",
    "fit_pattern",
    "fit_reduced",
    "intervals",
    "pack",
    "results_frame",
    "subject_means",
]

#: Columns of :func:`ketapain.stats.fit_crossover_batch` after the ``by`` columns, in order.
BATCH_COLUMNS: tuple[str, ...] = (
    "term", "estimate", "se", "df", "df_num", "statistic", "p_value", "p_sidak", "ci_low", "ci_high",
    "ci_sidak_low", "ci_sidak_high", "n_obs", "n_subjects", "sigma2_subject", "sigma2_residual", "icc",
    "loglik", "singular", "converged", "error",
)
#: The rows of a group after its contrasts: variance components and ICC in ``estimate``.
VAR_TERMS: tuple[str, ...] = ("sigma2_subject", "sigma2_residual", "icc")


def check_options(model: str, df_method: str, method: str, conf_level: float, on_error: str) -> None:
    """Refuse an unknown model, df method, fitting method, confidence level or error policy
    (shared by :func:`fit_crossover_batch` and ``fit_crossover_arrays``)."""
    check_option("df_method", df_method, DF_METHOD)
    check_option("method", method, FIT_METHOD)
    if df_method == "kenward-roger" and method != "REML":
        raise ModelError(template="{@df_method='kenward-roger'} needs {@method='REML'} (as pbkrtest)")
    check_option("model", model, MODEL_KIND)
    check_option("conf_level", conf_level, CONF_LEVEL)
    check_option("on_error", on_error, OneOf("raise", "flag"))


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """The model options of one call (already checked)."""

    model: ModelKind
    method: Method
    df_method: DfMethod
    conf_level: float


@dataclass(frozen=True, slots=True)
class TreatmentTests:
    """The hypotheses tested in every group: the omnibus ``L beta = 0`` (q, p) on the treatment
    columns and the vectors ``l`` (k, p) of every pair ``mean(a) - mean(b)``, reference first."""

    L: np.ndarray
    lvecs: np.ndarray

    @classmethod
    def for_levels(cls, n_levels: int, p: int) -> TreatmentTests:
        """Treatment level ``j > 0`` is column ``j`` (the reference, level 0, has none)."""
        n_trt = n_levels - 1
        L = np.zeros((n_trt, p))
        L[np.arange(n_trt), 1 + np.arange(n_trt)] = 1.0
        pairs = [(i, j) for i in range(n_levels) for j in range(i + 1, n_levels)]
        lvecs = np.zeros((len(pairs), p))
        for m, (i, j) in enumerate(pairs):
            if i > 0:
                lvecs[m, i] += 1.0
            if j > 0:
                lvecs[m, j] -= 1.0
        return cls(L, lvecs)


@dataclass(frozen=True, slots=True)
class FitPart:
    """Groups fitted by one vectorised path, one entry per group kept (axis 0).

    ``positions`` index the caller's list of groups; ``slow`` are the positions it could not
    fit (optimiser status, degenerate test), left for the single engine.
    """

    positions: np.ndarray  # (B,)
    f_statistic: np.ndarray  # (B,) omnibus treatment test
    f_df_den: np.ndarray
    f_p_value: np.ndarray
    estimate: np.ndarray  # (B, k) pairwise contrasts
    se: np.ndarray
    df: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    sigma2_subject: np.ndarray  # (B,)
    sigma2_residual: np.ndarray
    deviance: np.ndarray
    singular: np.ndarray
    slow: np.ndarray

    @classmethod
    def concat(cls, parts: list[FitPart], k: int) -> FitPart:
        """All ``parts`` in order (empty arrays, ``k`` pairs, when there are none)."""
        if not parts:
            empty = np.zeros(0)
            pair = np.zeros((0, k))
            return cls(empty, empty, empty, empty, pair, pair, pair, pair, pair, empty, empty, empty, empty, empty)
        return cls(*(np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(cls)))


@dataclass(frozen=True, slots=True)
class GroupResults:
    """Fitted groups, one entry per group (axis 0), as laid out by :func:`results_frame`.

    ``groups`` index the rows of the ``keys`` frame; ``pairs`` are the labels ``"a - b"``.
    """

    groups: np.ndarray
    pairs: tuple[str, ...]
    f_statistic: np.ndarray  # (B,)
    f_df_num: np.ndarray
    f_df_den: np.ndarray
    f_p_value: np.ndarray
    estimate: np.ndarray  # (B, k)
    se: np.ndarray
    df: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    p_sidak: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ci_sidak_low: np.ndarray
    ci_sidak_high: np.ndarray
    sigma2_subject: np.ndarray  # (B,)
    sigma2_residual: np.ndarray
    icc: np.ndarray
    loglik: np.ndarray
    singular: np.ndarray
    n_obs: np.ndarray
    n_subjects: np.ndarray


def intervals(est: np.ndarray, se: np.ndarray, df: np.ndarray, k: int,
              conf_level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise and Sidak-simultaneous intervals ``est -+ q se`` (t quantile with ``df``, the
    normal one where ``df`` is infinite): ``ci_low, ci_high, ci_sidak_low, ci_sidak_high``."""
    inf = np.isinf(df)
    upper = (1.0 + conf_level ** (1.0 / k)) / 2.0
    # The t quantile (an iterative inverse, ~1 us each) is computed once per distinct df,
    # df rounded to 12 significant digits (a relative change of the quantile below ~1e-12):
    # simulated trials of one design share their df up to rounding.
    dfs = np.where(inf | ~np.isfinite(df), 1.0, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = 10.0 ** (11 - np.floor(np.log10(np.abs(dfs))))
    key = np.round(dfs * mag) / mag
    uniq, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(df.shape)
    tq = sc.stdtrit(uniq[:, None], np.array([0.5 + conf_level / 2, upper]))[inv]
    qcrit = np.where(inf, sc.ndtri(0.5 + conf_level / 2), np.where(np.isnan(df), np.nan, tq[..., 0]))
    qsid = np.where(inf, sc.ndtri(upper), np.where(np.isnan(df), np.nan, tq[..., 1]))
    return est - qcrit * se, est + qcrit * se, est - qsid * se, est + qsid * se


def design_ok(xpad: np.ndarray, mask: np.ndarray, p: int) -> np.ndarray:
    """Cheap guards on designs (B, G, P, p); a group failing them goes to the single engine:
    enough rows, no empty or aliased column (correlation eigenvalue > 1e-8), and a
    between-subject variance that is identified (subject means of rank < subjects)."""
    B = xpad.shape[0]
    xr = xpad.reshape(B, -1, p)
    xtx = xr.transpose(0, 2, 1) @ xr
    n_obs = mask.sum(axis=(1, 2))
    n_sub = (mask.sum(axis=2) > 0).sum(axis=1)
    ok: np.ndarray = n_obs - p >= 1
    d = np.sqrt(np.diagonal(xtx, axis1=1, axis2=2))
    ok &= (d > 0).all(axis=1)
    dd = np.where(d > 0, d, 1.0)
    corr = xtx / dd[:, :, None] / dd[:, None, :]
    flat = corr.reshape(B, -1)
    _u, ufirst, uinv = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    ok &= (np.linalg.eigvalsh(corr[ufirst]).min(axis=1) > 1e-8)[uinv.reshape(-1)]
    small = ok & (n_sub <= p)
    if small.any():
        s = np.flatnonzero(small)
        ok[s] &= np.linalg.matrix_rank(subject_means(xpad[s], mask[s])) < n_sub[s]
    return ok


def subject_means(xpad: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Subject means of the design columns (B, G, p), zero rows for padding subjects."""
    n = mask.sum(axis=2)
    out: np.ndarray = xpad.sum(axis=2) / np.where(n > 0, n, 1.0)[..., None]
    return out


def fit_pattern(pat: Pattern, xpad1: np.ndarray, mask1: np.ndarray, ypad: np.ndarray, members: np.ndarray, *,
                reml: bool, df_method: str, tests: TreatmentTests) -> FitPart:
    """Groups at ``members`` sharing the complete design ``pat`` (``xpad1`` (1, G, P, p),
    ``mask1`` (1, G, P)), outcomes ``ypad`` (B, G, P): eigenbasis fit and tests."""
    es = group_stats(pat, ypad)
    closed = closed_form_theta(es, reml)
    theta, status = closed if closed is not None else optimise(None, reml, es, shared_grid(pat, es, reml))
    good = np.flatnonzero(status == 0)
    es_g = take_eig(es, good)
    fit = eigen_fit(es_g, pat.T, theta[good], reml=reml, kr=df_method == "kenward-roger")
    cont_term = cont_pairs = None
    if df_method == "containment":
        xtx1 = pat.x_flat.T @ pat.x_flat
        ct, cp = containment_df(xpad1, mask1, xtx1[None], np.array([float(pat.n_obs)]), np.array([float(pat.cnt)]),
                              tests)
        cont_term = np.broadcast_to(ct, good.size)
        cont_pairs = np.broadcast_to(cp, (good.size, tests.lvecs.shape[0]))
    term = eigen_term_test(fit, tests.L, df_method, cont_term)
    pairs = eigen_pair_tests(fit, tests.lvecs, df_method, cont_pairs)
    return pack(members, status, good, fit, term, pairs, term.bad)


def fit_general(xpad: np.ndarray, ypad: np.ndarray, mask: np.ndarray, positions: np.ndarray, *, reml: bool,
                df_method: str, tests: TreatmentTests) -> FitPart:
    """Groups at ``positions`` with their own designs ``xpad`` (B, G, P, p): pooled-by-subject-size
    statistics."""
    rs = reduced_stats(xpad, ypad, mask)
    ok = design_ok(xpad, mask, xpad.shape[-1])
    G_b = (mask.sum(axis=2) > 0).sum(axis=1).astype(float)
    cont = containment_df(xpad, mask, rs.xtx, rs.n_obs, G_b, tests) if df_method == "containment" else None
    return fit_reduced(rs, ok, cont, positions, reml=reml, df_method=df_method, tests=tests)


def fit_reduced(rs: ReducedStats, ok: np.ndarray, cont: tuple[np.ndarray, np.ndarray] | None, positions: np.ndarray,
                *, reml: bool, df_method: str, tests: TreatmentTests) -> FitPart:
    """Groups at ``positions`` from their pooled statistics ``rs``; ``ok`` (B,): the design guards
    of :func:`design_ok`; ``cont``: containment df of the term (B,) and of the pairs (B, k) (only
    for ``df_method="containment"``)."""
    Bs = positions.size
    theta = np.zeros(Bs)
    status = np.full(Bs, 2, dtype=np.int8)
    single = (rs.cnt > 0).sum(axis=1) == 1
    for part in (ok & single, ok & ~single):
        idx = np.flatnonzero(part)
        if idx.size == 0:
            continue
        sub = rs.take(idx)
        eig = eigen_stats(sub, np.argmax(sub.cnt > 0, axis=1)) if single[idx].all() else None
        th, st = optimise(sub, reml, eig)
        theta[idx], status[idx] = th, st
    good = np.flatnonzero(status == 0)
    rs_g = rs.take(good)
    fit = fit_quantities(rs_g, theta[good], reml=reml, derivs=df_method in ("kenward-roger", "satterthwaite"))
    cont_term = cont_pairs = None
    if cont is not None:
        cont_term, cont_pairs = cont[0][good], cont[1][good]
    term = term_test(fit, tests.L, df_method, cont_term)
    pairs = pair_tests(fit, tests.lvecs, df_method, cont_pairs)
    return pack(positions, status, good, fit, term, pairs, term.bad | fit.bad)


def pack(positions: np.ndarray, status: np.ndarray, good: np.ndarray, fit: EigenFit | BatchFit, term: TermTest,
          pairs: PairTests, bad_f: np.ndarray) -> FitPart:
    """The groups of a path that passed every check; the others (optimiser status, degenerate
    omnibus ``bad_f`` or pair test) in ``slow``."""
    bad = bad_f | pairs.bad.any(axis=1) | fit.bad
    keep = ~bad
    return FitPart(
        positions=positions[good][keep], f_statistic=term.statistic[keep], f_df_den=term.ddf[keep],
        f_p_value=term.p_value[keep], estimate=pairs.estimate[keep], se=pairs.se[keep], df=pairs.df[keep],
        statistic=pairs.statistic[keep], p_value=pairs.p_value[keep], sigma2_subject=fit.sigma2_subject[keep],
        sigma2_residual=fit.sigma2[keep], deviance=fit.deviance[keep], singular=fit.singular[keep],
        slow=np.concatenate([positions[status != 0], positions[good[bad]]]),
    )


def containment_df(xpad: np.ndarray, mask: np.ndarray, xtx: np.ndarray, n_obs: np.ndarray, G_b: np.ndarray,
                 tests: TreatmentTests) -> tuple[np.ndarray, np.ndarray]:
    """nlme containment df (``_ddf.containment_df``) of the treatment term and each pair, from
    the designs (B, G, P, p), ``X'X`` (B, p, p), observations and subjects (B,)."""
    s = xpad.sum(axis=2)
    n = mask.sum(axis=2)[..., None]
    within = ((s > 0) & (s < n)).any(axis=1)  # (B, p)
    colsum = np.diagonal(xtx, axis1=1, axis2=2)  # 0/1 columns: sum x^2 = sum x
    const = (colsum == 0) | (colsum == n_obs[:, None])
    df_w = n_obs - G_b - within.sum(axis=1)
    df_b = G_b - (~within & ~const).sum(axis=1) - 1.0

    def for_columns(used: np.ndarray) -> np.ndarray:
        all_const = (const | ~used).all(axis=1)
        any_within = (within & used).any(axis=1)
        out: np.ndarray = np.where(all_const, np.maximum(df_w, df_b), np.where(any_within, df_w, df_b))
        return out

    term = for_columns(np.broadcast_to((np.abs(tests.L) > 0).any(axis=0), within.shape))
    pairs = np.stack([for_columns(np.broadcast_to(np.abs(lv) > 0, within.shape)) for lv in tests.lvecs], axis=1)
    return term, pairs


def results_frame(res: GroupResults, keys: pd.DataFrame, by_cols: list[str]) -> pd.DataFrame:
    """Rows of the fitted groups: ``treatment``, the pairs, :data:`VAR_TERMS` per group, with
    the internal sort columns ``_g`` (group) and ``_r`` (row within the group)."""
    g = res.groups
    nb = g.size
    k = len(res.pairs)
    nrow = 1 + k + len(VAR_TERMS)
    nan = np.full(nb, np.nan)
    nanv = np.full((nb, len(VAR_TERMS)), np.nan)
    nanp = np.full((nb, k), np.nan)

    def grid(omni: np.ndarray, pair: np.ndarray, var: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.column_stack([omni[:, None], pair, var]).reshape(-1)
        return out

    var_est = np.column_stack([res.sigma2_subject, res.sigma2_residual, res.icc])
    out = {
        "_g": np.repeat(g, nrow),
        "_r": np.tile(np.arange(nrow), nb),
        "term": np.tile(np.array(["treatment", *res.pairs, *VAR_TERMS], dtype=object), nb),
        "estimate": grid(nan, res.estimate, var_est),
        "se": grid(nan, res.se, nanv),
        "df": grid(res.f_df_den, res.df, nanv),
        "df_num": grid(res.f_df_num, nanp, nanv),
        "statistic": grid(res.f_statistic, res.statistic, nanv),
        "p_value": grid(res.f_p_value, res.p_value, nanv),
        "p_sidak": grid(nan, res.p_sidak, nanv),
        "ci_low": grid(nan, res.ci_low, nanv),
        "ci_high": grid(nan, res.ci_high, nanv),
        "ci_sidak_low": grid(nan, res.ci_sidak_low, nanv),
        "ci_sidak_high": grid(nan, res.ci_sidak_high, nanv),
    }
    for name, arr in (
        ("n_obs", res.n_obs), ("n_subjects", res.n_subjects), ("sigma2_subject", res.sigma2_subject),
        ("sigma2_residual", res.sigma2_residual), ("icc", res.icc), ("loglik", res.loglik), ("singular", res.singular),
    ):
        out[name] = np.repeat(arr, nrow)
    out["converged"] = np.ones(nb * nrow, dtype=bool)
    out["error"] = np.full(nb * nrow, None, dtype=object)
    frame = pd.DataFrame(out)
    for c in by_cols:
        frame[c] = keys[c].to_numpy()[frame["_g"].to_numpy()]
    return frame


def error_rows(keys: pd.DataFrame, g: int, message: str, n_obs: int, n_subjects: int) -> list[dict[str, object]]:
    """The one row of a group that could not be fitted (``on_error="flag"``): NaN numbers,
    ``converged = False`` and the single engine's message in ``error``."""
    nan = float("nan")
    row: dict[str, object] = {c: keys[c].iloc[g] for c in keys.columns}
    row.update({"_g": g, "_r": 0, "term": "treatment"})
    row.update({c: nan for c in BATCH_COLUMNS if c not in ("term", "n_obs", "n_subjects", "singular", "converged", "error")})
    row.update({"n_obs": n_obs, "n_subjects": n_subjects, "singular": False, "converged": False, "error": message})
    return [row]

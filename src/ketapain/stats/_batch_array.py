"""Array-level entry point of the batched crossover engine: no DataFrame in or out.

``fit_crossover_arrays`` takes the outcomes of ``G`` trials as a cube ``y`` (G, N, P)
(trial x subject slot x period, NaN = missing) with integer treatment and sequence codes, and
returns :class:`BatchArrays` (numpy arrays with a leading trial axis). It is the path of
simulations (:mod:`ketapain.design`), which produce exactly such cubes.

How it is fast: the subjects of every trial are sorted by (sequence, treatments), which does
not change the model (subjects are exchangeable), so complete trials with the same sequence
counts share one design *pattern*. Per pattern, everything that depends on the design only
(``X'X``, the eigenbasis ``T``, ``d``) is computed once (:mod:`._batch_eigen`); per trial only
``T'X'y`` and three sums of squares are needed (one matrix product for all trials); the
variance ratio has a closed form for orthogonal-block designs such as complete Williams
crossovers (``_batch_eigen.closed_form_theta``: the ANOVA estimator) and is found by the
vectorised root-finder otherwise; Kenward-Roger and the contrasts are O(p q^2) per trial.
Trials the pattern path does not take (missing periods, a treatment level absent,
Satterthwaite df, a pattern seen once among many, a degenerate fit) go through
:func:`ketapain.stats.fit_crossover_batch`, whose own fallback is the single engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ketapain.errors import DataError, ModelError, SingularFitWarning
from ketapain.stats._batch import (
    _VAR_TERMS,
    BATCH_COLUMNS,
    _design_ok,
    _error_rows,
    _fit_pattern,
    _frame_from_batch,
    check_options,
    fit_crossover_batch,
    intervals,
)
from ketapain.stats._batch_eigen import pattern_stats
from ketapain.stats._ddf import DfMethod
from ketapain.stats._design import ModelKind
from ketapain.stats._lmm import Method
from ketapain.stats._multiplicity import sidak_p

__all__ = ["BatchArrays", "fit_crossover_arrays"]

#: A design pattern shared by fewer trials than this goes through the frame engine when
#: there are many patterns (its general path batches them all at once).
_MANY_PATTERNS = 16


@dataclass(frozen=True, slots=True)
class BatchArrays:
    """Results of :func:`fit_crossover_arrays`: one entry per trial (axis 0).

    Attributes
    ----------
    levels : treatment levels, reference first, then code-point order.
    pairs : labels ``"a - b"`` of the ``k`` pairwise contrasts (mean(a) - mean(b)).
    conf_level, df_method : as passed.
    estimate, se, df, statistic, p_value, p_sidak : (G, k) contrasts; ``statistic`` is t
        (z for ``"normal"``), ``p_sidak = 1 - (1 - p)^k``.
    ci_low, ci_high, ci_sidak_low, ci_sidak_high : (G, k) pointwise and Sidak-simultaneous
        intervals at ``conf_level``.
    f_statistic, f_df_num, f_df_den, f_p_value : (G,) omnibus treatment test (F; Wald
        chi-square with ``f_df_den = inf`` for ``"normal"``).
    sigma2_subject, sigma2_residual, icc, loglik : (G,) variance components, ICC, REML
        criterion or log-likelihood divided by -2 (as ``CrossoverFit.loglik``).
    n_obs, n_subjects : (G,) observed cells and subjects with at least one.
    singular : (G,) between-subject variance on the boundary 0.
    converged : (G,) False when the trial could not be fitted (numbers NaN, message in
        ``error``).
    error : (G,) object array, None or the single engine's message.
    """

    levels: tuple[str, ...]
    pairs: tuple[str, ...]
    conf_level: float
    df_method: str
    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    p_sidak: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ci_sidak_low: np.ndarray
    ci_sidak_high: np.ndarray
    f_statistic: np.ndarray
    f_df_num: np.ndarray
    f_df_den: np.ndarray
    f_p_value: np.ndarray
    sigma2_subject: np.ndarray
    sigma2_residual: np.ndarray
    icc: np.ndarray
    loglik: np.ndarray
    n_obs: np.ndarray
    n_subjects: np.ndarray
    singular: np.ndarray
    converged: np.ndarray
    error: np.ndarray

    @property
    def n_trials(self) -> int:
        """Number of trials G."""
        return int(self.f_statistic.shape[0])

    def to_frame(self, *, by: str = "group") -> pd.DataFrame:
        """The layout of :func:`ketapain.stats.fit_crossover_batch`: a ``by`` column (trial
        index 0..G-1) then :data:`~ketapain.stats._batch.BATCH_COLUMNS`; one row per trial x
        term for fitted trials (all ``pairs``, NaN for a pair whose levels a trial lacks), one
        ``treatment`` row with the message in ``error`` for the others."""
        ok = np.flatnonzero(self.converged)
        res = {
            "groups": ok, "labels": list(self.pairs), "q": 0,
            "stat": self.f_statistic[ok], "ddf": self.f_df_den[ok], "p_f": self.f_p_value[ok],
            "est": self.estimate[ok], "se": self.se[ok], "df": self.df[ok], "tstat": self.statistic[ok],
            "p_t": self.p_value[ok], "p_sidak": self.p_sidak[ok], "ci": self.ci_low[ok], "ci_hi": self.ci_high[ok],
            "cis": self.ci_sidak_low[ok], "cis_hi": self.ci_sidak_high[ok], "sb2": self.sigma2_subject[ok],
            "s2": self.sigma2_residual[ok], "icc": self.icc[ok], "loglik": self.loglik[ok],
            "singular": self.singular[ok], "n_obs": self.n_obs[ok], "n_subjects": self.n_subjects[ok],
        }
        keys = pd.DataFrame({by: np.arange(self.n_trials)})
        frame = _frame_from_batch(res, keys, [by])
        nrow = 1 + len(self.pairs) + len(_VAR_TERMS)
        frame["df_num"] = np.where(frame["_r"].to_numpy() == 0, np.repeat(self.f_df_num[ok], nrow), np.nan)
        frames = [frame]
        bad = np.flatnonzero(~self.converged)
        if bad.size:
            rows = [r for g in bad for r in _error_rows(keys, int(g), str(self.error[g]), int(self.n_obs[g]),
                                                          int(self.n_subjects[g]))]
            frames.append(pd.DataFrame(rows))
        out = pd.concat(frames, ignore_index=True).sort_values(["_g", "_r"], kind="stable")
        return out[[by, *BATCH_COLUMNS]].reset_index(drop=True)

    def to_dict(self) -> dict:
        """JSON-safe dict: scalars and nested lists (NaN as None)."""
        out: dict = {"levels": list(self.levels), "pairs": list(self.pairs), "conf_level": self.conf_level,
                     "df_method": self.df_method}
        for name in self.__slots__:
            val = getattr(self, name)
            if isinstance(val, np.ndarray):
                finite = val.dtype.kind != "f" or np.isfinite(val).all()
                out[name] = val.tolist() if finite else np.where(np.isfinite(val), val, None).tolist()
        return out

    def summary(self) -> str:
        """A few lines: trials fitted, singular fits, mean estimate and rejection rate (5%)."""
        ok = self.converged
        head = f"{self.n_trials} trials, {int(ok.sum())} fitted, {int(self.singular[ok].sum())} singular"
        lines = [f"{head} (df: {self.df_method})"]
        lines.append(f"  omnibus treatment test: p < 0.05 in {float(np.mean(self.f_p_value[ok] < 0.05)):.3f}")
        for j, lab in enumerate(self.pairs):
            e = self.estimate[ok, j]
            lines.append(f"  {lab}: mean estimate {float(np.nanmean(e)) if e.size else float('nan'):.4g}, "
                         f"Sidak p < 0.05 in {float(np.mean(self.p_sidak[ok, j] < 0.05)):.3f}")
        return "\n".join(lines)


def fit_crossover_arrays(
    y: np.ndarray,
    treatment_codes: np.ndarray,
    sequence_codes: np.ndarray,
    *,
    levels: Sequence[str],
    model: ModelKind = "standard",
    df_method: DfMethod = "kenward-roger",
    ref: str | None = None,
    conf_level: float = 0.95,
    method: Method = "REML",
    on_error: Literal["raise", "flag"] = "raise",
) -> BatchArrays:
    """Fit the crossover random-intercept model to ``G`` trials given as arrays.

    Parameters
    ----------
    y : (G, N, P) float outcomes: trial x subject slot x period (period ``j`` is the
        ``j``-th period, ``j = 0`` the reference); NaN = missing. A subject slot that is NaN
        in every period is absent (trials may have different sizes).
    treatment_codes : (N, P) or (G, N, P) integers indexing ``levels``; only the codes of
        observed cells are used.
    sequence_codes : (N,) or (G, N) non-negative integers (any coding; the smallest
        observed code is the reference sequence).
    levels : treatment names (distinct); the order of codes, not of the output.
    model, df_method, ref, conf_level, method, on_error : as
        :func:`ketapain.stats.fit_crossover_batch` (``ref`` defaults to the first level in
        code-point order).

    Returns
    -------
    BatchArrays
        The numbers of ``fit_crossover_batch`` as (G,) and (G, k) arrays, ``k`` pairs of
        ``levels`` (reference first, then code-point order).

    Raises
    ------
    DataError
        Wrong shapes, an infinite outcome, a treatment code outside ``0..len(levels)-1`` or a
        negative sequence code on an observed subject.
    ModelError
        Invalid option; with ``on_error="raise"``, a trial that cannot be fitted.

    Warns
    -----
    SingularFitWarning
        Once per call when any trial has a boundary (singular) fit, with their count.

    Notes
    -----
    Equal to ``fit_crossover_batch`` on the long frame of the same trials (and so to
    ``fit_crossover``) to about 1e-8 relative; see the module docstring and ``docs/batch.md``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> table = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    >>> seq = np.arange(12) % 6
    >>> trt = table[seq]                                   # (12 subjects, 3 periods)
    >>> y = rng.normal(size=(4, 12, 1)) + rng.normal(size=(4, 12, 3)) + (trt == 1)
    >>> res = fit_crossover_arrays(y, trt, seq, levels=["A", "B", "C"])
    >>> res.pairs
    ('A - B', 'A - C', 'B - C')
    >>> res.estimate.shape, res.f_p_value.shape
    ((4, 3), (4,))
    """
    check_options(model, df_method, method, conf_level, on_error)
    y = np.asarray(y, dtype=float)
    if y.ndim != 3:
        raise DataError(f"y must have shape (trials, subjects, periods); got shape {y.shape}")
    G, N, P = y.shape
    trt = np.asarray(treatment_codes)
    seq = np.asarray(sequence_codes)
    if trt.shape not in ((N, P), (G, N, P)) or not np.issubdtype(trt.dtype, np.integer):
        raise DataError(f"treatment_codes must be integers of shape {(N, P)} or {(G, N, P)}; got {trt.dtype} {trt.shape}")
    if seq.shape not in ((N,), (G, N)) or not np.issubdtype(seq.dtype, np.integer):
        raise DataError(f"sequence_codes must be integers of shape {(N,)} or {(G, N)}; got {seq.dtype} {seq.shape}")
    names = [str(v) for v in levels]
    if len(set(names)) != len(names) or len(names) < 2:
        raise ModelError(f"levels must be at least 2 distinct names; got {names}")
    if ref is not None and str(ref) not in names:
        raise ModelError(f"ref={ref!r} is not one of the levels {names}")
    shared = trt.ndim == 2 and seq.ndim == 1  # one allocation for all trials (the common case)
    obs = ~np.isnan(y)
    if not np.isfinite(y[obs]).all():
        g, i, j = np.argwhere(np.isinf(y))[0]
        raise DataError(f"y[{g}, {i}, {j}] = {y[g, i, j]} is infinite; allowed: finite numbers or NaN")
    n_lv = len(names)
    obs_any = obs.any(axis=0) if shared else obs
    bad = obs_any & ((trt < 0) | (trt >= n_lv))
    if bad.any():
        where = tuple(int(v) for v in np.argwhere(bad)[0])
        raise DataError(f"treatment_codes[{', '.join(map(str, where))}] = {trt[where]} is outside 0..{n_lv - 1} "
                        f"(levels {names})")
    present = obs.any(axis=2)
    neg = (present.any(axis=0) if shared else present) & (seq < 0)
    if neg.any():
        where = tuple(int(v) for v in np.argwhere(neg)[0])
        raise DataError(f"sequence_codes[{', '.join(map(str, where))}] = {seq[where]} is negative for an observed subject")

    # Levels in code-point order, reference first (as fit_crossover_batch).
    sorted_names = sorted(names)
    ref_name = sorted_names[0] if ref is None else str(ref)
    out_names = [ref_name, *[v for v in sorted_names if v != ref_name]]
    remap = np.array([out_names.index(v) for v in names])  # old code -> output position
    pairs = tuple(f"{out_names[i]} - {out_names[j]}" for i in range(n_lv) for j in range(i + 1, n_lv))
    k = len(pairs)
    valid = (trt >= 0) & (trt < n_lv)
    tcode = np.where(valid, remap[np.where(valid, trt, 0)], -1)  # -1: an unused code on an unobserved cell

    out = _empty(G, k)
    out["n_obs"] = obs.sum(axis=(1, 2))
    out["n_subjects"] = present.sum(axis=1)
    if shared:  # levels observed per trial: (G, N P) x (N P, levels) counts
        onehot = (tcode.reshape(-1)[:, None] == np.arange(n_lv)).astype(float)
        seen = obs.reshape(G, -1).astype(float) @ onehot > 0
    else:
        seen = np.zeros((G, n_lv), dtype=bool)
        gi = np.broadcast_to(np.arange(G)[:, None, None], obs.shape)
        seen[gi[obs], tcode[obs]] = True
    complete = (obs.all(axis=2) == present).all(axis=1) & (out["n_subjects"] >= 2) & (P >= 2)
    fast = complete & seen.all(axis=1) & (df_method != "satterthwaite")
    rest: list[np.ndarray] = [np.flatnonzero(~fast)]
    fast_idx = np.flatnonzero(fast)
    if fast_idx.size:
        rest.append(_fit_patterns(fast_idx, y, tcode, seq, present, n_lv, model, method, df_method, conf_level, out))
    slow = np.sort(np.concatenate(rest)).astype(np.intp)
    singular = int(out["singular"][out["converged"]].sum())
    if slow.size:
        singular += _fallback(slow, y, tcode, seq, out_names, pairs, ref, model, method, df_method, conf_level, on_error,
                              out)
    if singular:
        warnings.warn(
            f"boundary (singular) fit in {singular} of {G} trials: the between-subject variance is estimated as 0 "
            "(see the 'singular' array)",
            SingularFitWarning,
            stacklevel=2,
        )
    return BatchArrays(levels=tuple(out_names), pairs=pairs, conf_level=conf_level, df_method=df_method, **out)


def _empty(G: int, k: int) -> dict[str, np.ndarray]:
    nan2 = lambda: np.full((G, k), np.nan)
    nan1 = lambda: np.full(G, np.nan)
    out = {name: nan2() for name in ("estimate", "se", "df", "statistic", "p_value", "p_sidak", "ci_low", "ci_high",
                                     "ci_sidak_low", "ci_sidak_high")}
    out.update({name: nan1() for name in ("f_statistic", "f_df_num", "f_df_den", "f_p_value", "sigma2_subject",
                                          "sigma2_residual", "icc", "loglik")})
    out["singular"] = np.zeros(G, dtype=bool)
    out["converged"] = np.zeros(G, dtype=bool)
    out["error"] = np.full(G, None, dtype=object)
    return out


def _fit_patterns(fast_idx, y, tcode, seq, present, n_lv, model, method, df_method, conf_level, out) -> np.ndarray:
    """Complete trials with every level observed: canonical subject order, one design pattern
    per distinct sorted (sequence, treatments) list, the eigen/closed-form fit per pattern.
    Returns the trials left for the frame engine."""
    _G, N, P = y.shape
    shared = tcode.ndim == 2 and seq.ndim == 1
    pres = present[fast_idx]
    if shared:
        tcode = np.broadcast_to(tcode, (_G, N, P))
        seq = np.broadcast_to(seq, (_G, N))
    S = int(seq[fast_idx][pres].max()) + 1
    radix = float(n_lv) ** P * S
    if shared and pres.all():  # one pattern: every trial has every subject
        key = seq[0].astype(np.int64) * n_lv**P + (tcode[0] * (n_lv ** np.arange(P - 1, -1, -1))).sum(axis=1)
        order = np.broadcast_to(np.argsort(key, kind="stable"), (fast_idx.size, N))
        first, inv, counts = np.zeros(1, dtype=np.intp), np.zeros(fast_idx.size, dtype=np.intp), np.array([fast_idx.size])
    else:
        if radix < 2.0**62:
            key = seq[fast_idx].astype(np.int64) * n_lv**P + (tcode[fast_idx] * (n_lv ** np.arange(P - 1, -1, -1))).sum(axis=2)
            key = np.where(pres, key, np.iinfo(np.int64).max)
            order = np.argsort(key, axis=1, kind="stable")
            skey = np.take_along_axis(key, order, axis=1)
        else:  # too many levels for one integer key: keep the given order
            order = np.broadcast_to(np.arange(N), (fast_idx.size, N))
            skey = np.concatenate([np.where(pres, seq[fast_idx], -1), tcode[fast_idx].reshape(fast_idx.size, -1)], axis=1)
        _u, first, inv, counts = np.unique(skey, axis=0, return_index=True, return_inverse=True, return_counts=True)
        inv = inv.reshape(-1)
    many = counts.size > _MANY_PATTERNS
    reml = method == "REML"
    leftover: list[np.ndarray] = []
    for u in range(counts.size):
        loc = np.flatnonzero(inv == u)
        members = fast_idx[loc]
        if many and counts[u] < 2:
            leftover.append(members)
            continue
        r = fast_idx[first[u]]
        o = order[first[u]]
        design = _pattern_design(tcode[r][o], seq[r][o], present[r][o], n_lv, model)
        xpad, mask, L, lvecs = design
        p = xpad.shape[-1]
        pat = pattern_stats(xpad, mask) if _design_ok(xpad[None], mask[None], p)[0] else None
        if pat is None:
            leftover.append(members)
            continue
        if counts.size == 1 and shared and pres.all():
            ys = y[members][:, order[0]] if members.size < y.shape[0] else y[:, order[0]]
        else:
            ys = np.take_along_axis(y[members], order[loc][..., None], axis=1)
            ys = np.where(np.isnan(ys), 0.0, ys)
        part = _fit_pattern(pat, xpad[None], mask[None], ys, members, reml, df_method, L, lvecs)
        leftover.append(part["slow"].astype(np.intp))
        _store(part, L.shape[0], conf_level, out)
    return np.concatenate(leftover) if leftover else np.zeros(0, dtype=np.intp)


def _pattern_design(tc: np.ndarray, sq: np.ndarray, pres: np.ndarray, n_lv: int, model: str):
    """Design (N, P, p), mask (N, P), omnibus ``L`` and pair vectors of one sorted trial (as
    ``_batch._fit_signature``: intercept, treatments but the reference, periods but the first
    (standard model), sequences but the first observed)."""
    N, P = tc.shape
    seqs = np.unique(sq[pres])
    n_trt = n_lv - 1
    n_per = P - 1 if model == "standard" else 0
    p = 1 + n_trt + n_per + seqs.size - 1
    x = np.zeros((N, P, p))
    x[..., 0] = 1.0
    rows, cols = np.nonzero(tc > 0)
    x[rows, cols, tc[rows, cols]] = 1.0
    if n_per:
        x[:, np.arange(1, P), 1 + n_trt + np.arange(n_per)] = 1.0
    seq_col = np.full(int(seqs.max()) + 1, -1)
    seq_col[seqs[1:]] = 1 + n_trt + n_per + np.arange(seqs.size - 1)
    sc_ = np.where(pres, seq_col[np.where(pres, sq, 0)], -1)
    hit = np.flatnonzero(sc_ >= 0)
    x[hit, :, sc_[hit]] = 1.0
    mask = np.broadcast_to(pres[:, None], (N, P)).astype(float)
    x *= mask[..., None]
    L = np.zeros((n_trt, p))
    L[np.arange(n_trt), 1 + np.arange(n_trt)] = 1.0
    pairs = [(i, j) for i in range(n_lv) for j in range(i + 1, n_lv)]
    lvecs = np.zeros((len(pairs), p))
    for m, (i, j) in enumerate(pairs):
        if i > 0:
            lvecs[m, i] += 1.0
        if j > 0:
            lvecs[m, j] -= 1.0
    return x, mask, L, lvecs


def _store(part: dict, q: int, conf_level: float, out: dict) -> None:
    pos = part["pos"].astype(np.intp)
    if pos.size == 0:
        return
    k = part["est"].shape[1]
    ci, ci_hi, cis, cis_hi = intervals(part["est"], part["se"], part["df"], k, conf_level)
    for name, val in (
        ("estimate", part["est"]), ("se", part["se"]), ("df", part["df"]), ("statistic", part["tstat"]),
        ("p_value", part["p_t"]), ("p_sidak", sidak_p(part["p_t"], k)), ("ci_low", ci), ("ci_high", ci_hi),
        ("ci_sidak_low", cis), ("ci_sidak_high", cis_hi), ("f_statistic", part["stat"]), ("f_df_den", part["ddf"]),
        ("f_p_value", part["p_f"]), ("sigma2_subject", part["sb2"]), ("sigma2_residual", part["s2"]),
        ("loglik", -part["dev"] / 2.0), ("singular", part["singular"]),
    ):
        out[name][pos] = val
    out["f_df_num"][pos] = float(q)
    out["icc"][pos] = part["sb2"] / (part["sb2"] + part["s2"])
    out["converged"][pos] = True


def _fallback(groups, y, tcode, seq, out_names, pairs, ref, model, method, df_method, conf_level, on_error, out) -> int:
    """Fit ``groups`` with ``fit_crossover_batch`` on their long frame; returns the number of
    singular fits among them."""
    G, N, P = y.shape
    seq = np.broadcast_to(seq, (G, N))
    tcode = np.broadcast_to(tcode, (G, N, P))
    sub = y[groups]
    present = (~np.isnan(sub)).any(axis=2)
    b, i = np.nonzero(present)
    names = np.array([*out_names, ""], dtype=object)  # code -1 (unused cell) -> row dropped below
    codes = tcode[groups[b], i].reshape(-1)
    frame = pd.DataFrame({
        "group": np.repeat(groups[b], P),
        "subject": np.repeat(i, P),
        "period": np.tile(np.arange(1, P + 1), b.size),
        "sequence": np.repeat(seq[groups[b], i], P),
        "treatment": names[codes],
        "y": sub[b, i].reshape(-1),
    })[codes >= 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        try:
            res = fit_crossover_batch(frame, outcome="y", by="group", model=model, df_method=df_method,
                                      ref=None if ref is None else str(ref), conf_level=conf_level, method=method,
                                      on_error=on_error)
        except ModelError as exc:
            raise ModelError(str(exc).replace("group group=", "trial ", 1)) from exc
    g = res["group"].to_numpy(dtype=np.intp)
    term = res["term"].to_numpy(dtype=object)
    omni = term == "treatment"
    go = g[omni]
    for name, col in (("f_statistic", "statistic"), ("f_df_num", "df_num"), ("f_df_den", "df"),
                      ("f_p_value", "p_value"), ("sigma2_subject", "sigma2_subject"),
                      ("sigma2_residual", "sigma2_residual"), ("icc", "icc"), ("loglik", "loglik")):
        out[name][go] = res[col].to_numpy(dtype=float)[omni]
    out["singular"][go] = res["singular"].to_numpy(dtype=bool)[omni]
    out["converged"][go] = res["converged"].to_numpy(dtype=bool)[omni]
    out["error"][go] = res["error"].to_numpy(dtype=object)[omni]
    pair_index = {lab: j for j, lab in enumerate(pairs)}
    j = np.array([pair_index.get(t, -1) for t in term])
    hit = j >= 0
    for name, col in (("estimate", "estimate"), ("se", "se"), ("df", "df"), ("statistic", "statistic"),
                      ("p_value", "p_value"), ("p_sidak", "p_sidak"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                      ("ci_sidak_low", "ci_sidak_low"), ("ci_sidak_high", "ci_sidak_high")):
        out[name][g[hit], j[hit]] = res[col].to_numpy(dtype=float)[hit]
    return int(out["singular"][go][out["converged"][go]].sum())

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

The checked inputs travel as :class:`CodedTrials`; the fitting pieces are shared with
``fit_crossover_batch`` (``_batch_parts``).

Function length: ``fit_crossover_arrays`` is over 80 lines only by its numpydoc docstring (54
lines); its body is 28 lines.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ketapain.errors import DataError, ModelError, SingularFitWarning
from ketapain.stats._batch import fit_crossover_batch
from ketapain.stats._batch_eigen import pattern_stats
from ketapain.stats._batch_parts import (
    BATCH_COLUMNS,
    BatchOptions,
    FitPart,
    GroupResults,
    TreatmentTests,
    check_options,
    design_ok,
    error_rows,
    fit_pattern,
    intervals,
    results_frame,
)
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
        res = GroupResults(
            groups=ok, pairs=self.pairs, f_statistic=self.f_statistic[ok], f_df_num=self.f_df_num[ok],
            f_df_den=self.f_df_den[ok], f_p_value=self.f_p_value[ok], estimate=self.estimate[ok], se=self.se[ok],
            df=self.df[ok], statistic=self.statistic[ok], p_value=self.p_value[ok], p_sidak=self.p_sidak[ok],
            ci_low=self.ci_low[ok], ci_high=self.ci_high[ok], ci_sidak_low=self.ci_sidak_low[ok],
            ci_sidak_high=self.ci_sidak_high[ok], sigma2_subject=self.sigma2_subject[ok],
            sigma2_residual=self.sigma2_residual[ok], icc=self.icc[ok], loglik=self.loglik[ok],
            singular=self.singular[ok], n_obs=self.n_obs[ok], n_subjects=self.n_subjects[ok],
        )
        keys = pd.DataFrame({by: np.arange(self.n_trials)})
        frames = [results_frame(res, keys, [by])]
        bad = np.flatnonzero(~self.converged)
        if bad.size:
            rows = [r for g in bad for r in error_rows(keys, int(g), str(self.error[g]), int(self.n_obs[g]),
                                                         int(self.n_subjects[g]))]
            frames.append(pd.DataFrame(rows))
        out = pd.concat(frames, ignore_index=True).sort_values(["_g", "_r"], kind="stable")
        return out[[by, *BATCH_COLUMNS]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: scalars and nested lists (NaN as None)."""
        out: dict[str, Any] = {"levels": list(self.levels), "pairs": list(self.pairs), "conf_level": self.conf_level,
                               "df_method": self.df_method}
        for name in self.__slots__:
            val = getattr(self, name)
            if isinstance(val, np.ndarray):
                finite = val.dtype.kind != "f" or np.isfinite(val).all()
                if finite:
                    out[name] = val.tolist()
                else:
                    safe = val.astype(object)
                    safe[~np.isfinite(val)] = None
                    out[name] = safe.tolist()
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

    @classmethod
    def unfitted(cls, levels: tuple[str, ...], pairs: tuple[str, ...], conf_level: float, df_method: str,
                 G: int) -> BatchArrays:
        """``G`` trials not fitted yet: NaN numbers, ``converged`` False (filled in place by the fits)."""
        k = len(pairs)

        def nan(*shape: int) -> np.ndarray:
            return np.full(shape, np.nan)

        return cls(
            levels=levels, pairs=pairs, conf_level=conf_level, df_method=df_method, estimate=nan(G, k), se=nan(G, k),
            df=nan(G, k), statistic=nan(G, k), p_value=nan(G, k), p_sidak=nan(G, k), ci_low=nan(G, k),
            ci_high=nan(G, k), ci_sidak_low=nan(G, k), ci_sidak_high=nan(G, k), f_statistic=nan(G),
            f_df_num=nan(G), f_df_den=nan(G), f_p_value=nan(G), sigma2_subject=nan(G), sigma2_residual=nan(G),
            icc=nan(G), loglik=nan(G), n_obs=np.zeros(G, dtype=np.int64), n_subjects=np.zeros(G, dtype=np.int64),
            singular=np.zeros(G, dtype=bool), converged=np.zeros(G, dtype=bool), error=np.full(G, None, dtype=object),
        )


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
    trials = code_trials(y, treatment_codes, sequence_codes, levels=levels, ref=ref)
    G, _N, P = trials.y.shape
    n_lv = len(trials.names)
    pairs = tuple(f"{trials.names[i]} - {trials.names[j]}" for i in range(n_lv) for j in range(i + 1, n_lv))
    res = BatchArrays.unfitted(trials.names, pairs, conf_level, df_method, G)
    obs = ~np.isnan(trials.y)
    res.n_obs[:] = obs.sum(axis=(1, 2))
    res.n_subjects[:] = trials.present.sum(axis=1)
    complete = (obs.all(axis=2) == trials.present).all(axis=1) & (res.n_subjects >= 2) & (P >= 2)
    fast = complete & trials.seen_levels().all(axis=1) & (df_method != "satterthwaite")
    opts = BatchOptions(model=model, method=method, df_method=df_method, conf_level=conf_level)
    rest: list[np.ndarray] = [np.flatnonzero(~fast)]
    fast_idx = np.flatnonzero(fast)
    if fast_idx.size:
        rest.append(_fit_patterns(fast_idx, trials, opts, res))
    slow = np.sort(np.concatenate(rest)).astype(np.intp)
    singular = int(res.singular[res.converged].sum())
    if slow.size:
        singular += _fallback(slow, trials, opts, ref=ref, on_error=on_error, out=res)
    if singular:
        warnings.warn(
            f"boundary (singular) fit in {singular} of {G} trials: the between-subject variance is estimated as 0 "
            "(see the 'singular' array)",
            SingularFitWarning,
            stacklevel=2,
        )
    return res


@dataclass(frozen=True, slots=True)
class CodedTrials:
    """Checked input of :func:`fit_crossover_arrays`.

    ``y`` (G, N, P) outcomes; ``tcode`` (N, P) or (G, N, P): the position of each cell's
    treatment in ``names`` (reference first, then code-point order), -1 for an invalid code on
    an unobserved cell; ``seq`` (N,) or (G, N) sequence codes; ``present`` (G, N): subjects
    with at least one observation.
    """

    y: np.ndarray
    tcode: np.ndarray
    seq: np.ndarray
    present: np.ndarray
    names: tuple[str, ...]

    @property
    def shared(self) -> bool:
        """One allocation (treatment and sequence codes) for all trials: the common case."""
        return self.tcode.ndim == 2 and self.seq.ndim == 1

    def seen_levels(self) -> np.ndarray:
        """(G, levels): the treatment levels observed in each trial."""
        G = self.y.shape[0]
        n_lv = len(self.names)
        obs = ~np.isnan(self.y)
        if self.shared:  # (G, N P) x (N P, levels) counts
            onehot = (self.tcode.reshape(-1)[:, None] == np.arange(n_lv)).astype(float)
            seen: np.ndarray = obs.reshape(G, -1).astype(float) @ onehot > 0
            return seen
        seen = np.zeros((G, n_lv), dtype=bool)
        gi = np.broadcast_to(np.arange(G)[:, None, None], obs.shape)
        seen[gi[obs], self.tcode[obs]] = True
        return seen


def code_trials(y: np.ndarray, treatment_codes: np.ndarray, sequence_codes: np.ndarray, *, levels: Sequence[str],
                ref: str | None) -> CodedTrials:
    """Check shapes, codes and values (``DataError``/``ModelError`` naming the array and the cell)
    and recode the treatments in output order (see :class:`CodedTrials`)."""
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
    present = _check_cells(y, trt, seq, names)
    # Levels in code-point order, reference first (as fit_crossover_batch).
    sorted_names = sorted(names)
    ref_name = sorted_names[0] if ref is None else str(ref)
    out_names = [ref_name, *[v for v in sorted_names if v != ref_name]]
    remap = np.array([out_names.index(v) for v in names])  # old code -> output position
    valid = (trt >= 0) & (trt < len(names))
    tcode = np.where(valid, remap[np.where(valid, trt, 0)], -1)  # -1: an unused code on an unobserved cell
    if not (tcode.ndim == 2 and seq.ndim == 1):  # per-trial codes for one of the two: both per trial
        tcode = np.broadcast_to(tcode, (G, N, P))
        seq = np.broadcast_to(seq, (G, N))
    return CodedTrials(y, tcode, seq, present, tuple(out_names))


def _check_cells(y: np.ndarray, trt: np.ndarray, seq: np.ndarray, names: list[str]) -> np.ndarray:
    """Observed outcomes are finite, with a valid treatment code and a non-negative sequence
    code (cells named in the shape of each array); returns ``present`` (G, N): subjects with at
    least one observation."""
    obs = ~np.isnan(y)
    if not np.isfinite(y[obs]).all():
        g, i, j = np.argwhere(np.isinf(y))[0]
        raise DataError(f"y[{g}, {i}, {j}] = {y[g, i, j]} is infinite; allowed: finite numbers or NaN")
    n_lv = len(names)
    obs_any = obs.any(axis=0) if trt.ndim == 2 else obs
    bad = obs_any & ((trt < 0) | (trt >= n_lv))
    if bad.any():
        where = tuple(int(v) for v in np.argwhere(bad)[0])
        raise DataError(f"treatment_codes[{', '.join(map(str, where))}] = {trt[where]} is outside 0..{n_lv - 1} "
                        f"(levels {names})")
    present: np.ndarray = obs.any(axis=2)
    neg = (present.any(axis=0) if seq.ndim == 1 else present) & (seq < 0)
    if neg.any():
        where = tuple(int(v) for v in np.argwhere(neg)[0])
        raise DataError(f"sequence_codes[{', '.join(map(str, where))}] = {seq[where]} is negative for an observed subject")
    return present


@dataclass(frozen=True, slots=True)
class _Patterns:
    """The fast trials grouped by design pattern: ``order`` (trials, N) sorts each trial's
    subjects canonically; trial ``fast_idx[first[u]]`` represents pattern ``u``, ``inv`` gives
    every trial its pattern and ``counts`` the trials per pattern. ``one`` is True when all
    trials share one allocation and every subject (a single pattern, the subjects unsorted
    per trial)."""

    order: np.ndarray
    first: np.ndarray
    inv: np.ndarray
    counts: np.ndarray
    one: bool


def _patterns(fast_idx: np.ndarray, trials: CodedTrials, tcode: np.ndarray, seq: np.ndarray) -> _Patterns:
    """Canonical subject order and one pattern per distinct sorted (sequence, treatments) list."""
    _G, N, P = trials.y.shape
    n_lv = len(trials.names)
    pres = trials.present[fast_idx]
    S = int(seq[fast_idx][pres].max()) + 1
    radix = float(n_lv) ** P * S
    if trials.shared and pres.all():  # one pattern: every trial has every subject
        key = seq[0].astype(np.int64) * n_lv**P + (tcode[0] * (n_lv ** np.arange(P - 1, -1, -1))).sum(axis=1)
        order = np.broadcast_to(np.argsort(key, kind="stable"), (fast_idx.size, N))
        one = np.zeros(1, dtype=np.intp)
        return _Patterns(order, one, np.zeros(fast_idx.size, dtype=np.intp), np.array([fast_idx.size]), True)
    if radix < 2.0**62:
        key = seq[fast_idx].astype(np.int64) * n_lv**P + (tcode[fast_idx] * (n_lv ** np.arange(P - 1, -1, -1))).sum(axis=2)
        key = np.where(pres, key, np.iinfo(np.int64).max)
        order = np.argsort(key, axis=1, kind="stable")
        skey = np.take_along_axis(key, order, axis=1)
    else:  # too many levels for one integer key: keep the given order
        order = np.broadcast_to(np.arange(N), (fast_idx.size, N))
        skey = np.concatenate([np.where(pres, seq[fast_idx], -1), tcode[fast_idx].reshape(fast_idx.size, -1)], axis=1)
    _u, first, inv, counts = np.unique(skey, axis=0, return_index=True, return_inverse=True, return_counts=True)
    return _Patterns(order, first, inv.reshape(-1), counts, False)


def _fit_patterns(fast_idx: np.ndarray, trials: CodedTrials, opts: BatchOptions, out: BatchArrays) -> np.ndarray:
    """Complete trials with every level observed: canonical subject order, one design pattern
    per distinct sorted (sequence, treatments) list, the eigen/closed-form fit per pattern,
    stored in ``out``. Returns the trials left for the frame engine."""
    G, N, P = trials.y.shape
    tcode, seq = trials.tcode, trials.seq
    if trials.shared:
        tcode = np.broadcast_to(tcode, (G, N, P))
        seq = np.broadcast_to(seq, (G, N))
    pats = _patterns(fast_idx, trials, tcode, seq)
    many = pats.counts.size > _MANY_PATTERNS
    leftover: list[np.ndarray] = []
    for u in range(pats.counts.size):
        loc = np.flatnonzero(pats.inv == u)
        members = fast_idx[loc]
        if many and pats.counts[u] < 2:
            leftover.append(members)
            continue
        r = fast_idx[pats.first[u]]
        o = pats.order[pats.first[u]]
        xpad, mask, tests = pattern_design(tcode[r][o], seq[r][o], trials.present[r][o], len(trials.names),
                                           opts.model)
        pat = pattern_stats(xpad, mask) if design_ok(xpad[None], mask[None], xpad.shape[-1])[0] else None
        if pat is None:
            leftover.append(members)
            continue
        if pats.one:
            ys = trials.y[members][:, pats.order[0]] if members.size < G else trials.y[:, pats.order[0]]
        else:
            ys = np.take_along_axis(trials.y[members], pats.order[loc][..., None], axis=1)
            ys = np.where(np.isnan(ys), 0.0, ys)
        part = fit_pattern(pat, xpad[None], mask[None], ys, members, reml=opts.method == "REML",
                           df_method=opts.df_method, tests=tests)
        leftover.append(part.slow.astype(np.intp))
        _store(part, tests.L.shape[0], opts.conf_level, out)
    return np.concatenate(leftover) if leftover else np.zeros(0, dtype=np.intp)


def pattern_design(tc: np.ndarray, sq: np.ndarray, pres: np.ndarray, n_lv: int,
                   model: str) -> tuple[np.ndarray, np.ndarray, TreatmentTests]:
    """Design (N, P, p), mask (N, P) and hypotheses of one sorted trial (as the frame engine's
    ``SignatureDesign``: intercept, treatments but the reference, periods but the first
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
    return x, mask, TreatmentTests.for_levels(n_lv, p)


def _store(part: FitPart, q: int, conf_level: float, out: BatchArrays) -> None:
    """Write the trials of ``part`` (``q`` treatment columns) into ``out``, with their intervals."""
    pos = part.positions.astype(np.intp)
    if pos.size == 0:
        return
    k = part.estimate.shape[1]
    ci, ci_hi, cis, cis_hi = intervals(part.estimate, part.se, part.df, k, conf_level)
    out.estimate[pos], out.se[pos], out.df[pos] = part.estimate, part.se, part.df
    out.statistic[pos], out.p_value[pos], out.p_sidak[pos] = part.statistic, part.p_value, sidak_p(part.p_value, k)
    out.ci_low[pos], out.ci_high[pos], out.ci_sidak_low[pos], out.ci_sidak_high[pos] = ci, ci_hi, cis, cis_hi
    out.f_statistic[pos], out.f_df_den[pos], out.f_p_value[pos] = part.f_statistic, part.f_df_den, part.f_p_value
    out.sigma2_subject[pos], out.sigma2_residual[pos] = part.sigma2_subject, part.sigma2_residual
    out.loglik[pos], out.singular[pos] = -part.deviance / 2.0, part.singular
    out.f_df_num[pos] = float(q)
    out.icc[pos] = part.sigma2_subject / (part.sigma2_subject + part.sigma2_residual)
    out.converged[pos] = True


#: ``BatchArrays`` attribute <- ``fit_crossover_batch`` column, for the omnibus row and the pair rows.
_OMNIBUS_COLUMNS = (("f_statistic", "statistic"), ("f_df_num", "df_num"), ("f_df_den", "df"), ("f_p_value", "p_value"),
                    ("sigma2_subject", "sigma2_subject"), ("sigma2_residual", "sigma2_residual"), ("icc", "icc"),
                    ("loglik", "loglik"))
_PAIR_COLUMNS = ("estimate", "se", "df", "statistic", "p_value", "p_sidak", "ci_low", "ci_high", "ci_sidak_low",
                 "ci_sidak_high")


def _fallback(groups: np.ndarray, trials: CodedTrials, opts: BatchOptions, *, ref: str | None,
              on_error: Literal["raise", "flag"], out: BatchArrays) -> int:
    """Fit ``groups`` with ``fit_crossover_batch`` on their long frame, into ``out``; returns the
    number of singular fits among them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        try:
            res = fit_crossover_batch(_long_frame(groups, trials), outcome="y", by="group", model=opts.model,
                                      df_method=opts.df_method, ref=None if ref is None else str(ref),
                                      conf_level=opts.conf_level, method=opts.method,
                                      on_error=on_error)
        except ModelError as exc:
            raise ModelError(str(exc).replace("group group=", "trial ", 1)) from exc
    g = res["group"].to_numpy(dtype=np.intp)
    term = res["term"].to_numpy(dtype=object)
    omni = term == "treatment"
    go = g[omni]
    for name, col in _OMNIBUS_COLUMNS:
        getattr(out, name)[go] = res[col].to_numpy(dtype=float)[omni]
    out.singular[go] = res["singular"].to_numpy(dtype=bool)[omni]
    out.converged[go] = res["converged"].to_numpy(dtype=bool)[omni]
    out.error[go] = res["error"].to_numpy(dtype=object)[omni]
    pair_index = {lab: j for j, lab in enumerate(out.pairs)}
    j = np.array([pair_index.get(t, -1) for t in term])
    hit = j >= 0
    for name in _PAIR_COLUMNS:
        getattr(out, name)[g[hit], j[hit]] = res[name].to_numpy(dtype=float)[hit]
    return int(out.singular[go][out.converged[go]].sum())


def _long_frame(groups: np.ndarray, trials: CodedTrials) -> pd.DataFrame:
    """The long frame of the trials ``groups`` (``group, subject, period, sequence, treatment, y``)."""
    G, N, P = trials.y.shape
    seq = np.broadcast_to(trials.seq, (G, N))
    tcode = np.broadcast_to(trials.tcode, (G, N, P))
    sub = trials.y[groups]
    present = (~np.isnan(sub)).any(axis=2)
    b, i = np.nonzero(present)
    names = np.array([*trials.names, ""], dtype=object)  # code -1 (unused cell) -> row dropped below
    codes = tcode[groups[b], i].reshape(-1)
    frame = pd.DataFrame({
        "group": np.repeat(groups[b], P),
        "subject": np.repeat(i, P),
        "period": np.tile(np.arange(1, P + 1), b.size),
        "sequence": np.repeat(seq[groups[b], i], P),
        "treatment": names[codes],
        "y": sub[b, i].reshape(-1),
    })
    observed: pd.DataFrame = frame[codes >= 0]
    return observed

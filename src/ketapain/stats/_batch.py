"""The crossover mixed model fitted to many groups (trials or endpoints) at once.

``fit_crossover_batch`` gives, for every group of a long frame, the numbers of
:func:`ketapain.stats.fit_crossover` that a power simulation needs (omnibus treatment test,
Sidak pairwise contrasts, variance components, ICC, log-likelihood), equal to the single
engine's to about 1e-8 relative. How: the rows of every group are reduced to sufficient
statistics pooled by subject size (``_batch_math``), the profile likelihood in the variance
ratio is optimised for all groups simultaneously, and the tests are computed with the
formulas of ``_ddf`` over a batch axis (``_batch_infer``). Groups that share their factor
levels (hence the columns of the design) are processed together; groups with a design the
vectorised path does not handle (aliased columns, unidentified between-subject variance,
constant outcome, a degenerate test...) are fitted by the single engine, so errors and edge
cases are exactly its own. The fitting pieces shared with ``fit_crossover_arrays`` are in
``_batch_parts``.

The frame is coded once (:class:`FrameLayout`: factor codes per row; :class:`GroupLevels`:
levels and sizes per group), then every *signature* (the set of factor levels, hence the
design columns) is fitted by :func:`_fit_signature` through a :class:`SignatureDesign`
(column of every level, hypotheses), in chunks of at most ``_CHUNK`` groups: the groups are
reduced to canonical layouts (``_batch_layout``: subject types and their counts, so trials
that differ only in the order or labels of their subjects share one layout) and fitted from
them, without per-group Python work.

Function length: ``fit_crossover_batch`` is over 80 lines only by its numpydoc docstring (75
lines: the layout of the returned frame); its body is 22 lines.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ketapain.data import check_long
from ketapain.errors import FIRST_DATA_ROW, DataError, ModelError, SingularFitWarning
from ketapain.stats._batch_layout import build_layouts, fit_layouts
from ketapain.stats._batch_parts import (
    BATCH_COLUMNS,
    VAR_TERMS,
    BatchOptions,
    FitPart,
    GroupResults,
    TreatmentTests,
    check_options,
    error_rows,
    intervals,
    results_frame,
)
from ketapain.stats._crossover import fit_crossover
from ketapain.stats._ddf import DfMethod
from ketapain.stats._design import ModelKind, as_labels
from ketapain.stats._lmm import Method
from ketapain.stats._multiplicity import sidak_p
from ketapain.stats._results import CrossoverFit

__all__ = ["BATCH_COLUMNS", "fit_crossover_batch"]

#: Groups fitted per vectorised call: the per-group (p, p) bases and pooled statistics of a
#: chunk stay within a few tens of MB whatever the number of groups.
_CHUNK = 8192


def fit_crossover_batch(
    data: pd.DataFrame,
    *,
    outcome: str,
    by: str | Sequence[str],
    subject: str = "subject",
    period: str = "period",
    sequence: str = "sequence",
    treatment: str = "treatment",
    model: ModelKind = "standard",
    df_method: DfMethod = "kenward-roger",
    ref: str | None = None,
    conf_level: float = 0.95,
    method: Method = "REML",
    on_error: Literal["raise", "flag"] = "raise",
) -> pd.DataFrame:
    """Fit the crossover random-intercept model to every group of ``data`` at once.

    Parameters
    ----------
    data : long frame, one row per group x subject x period; an empty/NaN outcome is a
        missing period. Subjects are identified within their group.
    outcome : outcome column.
    by : grouping column(s); one group = one trial or one endpoint.
    subject, period, sequence, treatment : factor columns.
    model : ``"standard"`` (treatment + period + sequence) or ``"paper"`` (treatment +
        sequence).
    df_method : ``"kenward-roger"`` (REML only), ``"satterthwaite"``, ``"containment"`` or
        ``"normal"``, as :func:`ketapain.stats.fit_crossover`.
    ref : reference treatment (default: first level in code-point order, per group).
    conf_level : level of every interval.
    method : ``"REML"`` or ``"ML"``.
    on_error : ``"raise"`` (default): a group the single engine would refuse raises its
        :class:`~ketapain.errors.ModelError`, prefixed by the group's key. ``"flag"``: that
        group gets one row (``term = "treatment"``) with NaN numbers, ``converged = False``
        and the message in ``error``; no group is ever dropped.

    Returns
    -------
    pandas.DataFrame
        One row per group x term, groups in sorted key order, columns: the ``by`` columns,
        then :data:`BATCH_COLUMNS`:

        * ``term = "treatment"``: the omnibus test; ``statistic`` is F (the Wald chi-square
          for ``"normal"``), ``df_num`` its numerator df, ``df`` the denominator df
          (``inf`` for ``"normal"``);
        * ``term = "a - b"`` for every pair of treatment levels (reference first, as
          ``CrossoverFit.contrasts``): ``estimate`` = mean(a) - mean(b), ``se``, ``df``,
          ``statistic`` (t or z), ``p_value``, ``p_sidak`` = 1 - (1 - p)^k over the k pairs,
          ``ci_*`` at ``conf_level`` and Sidak-simultaneous ``ci_sidak_*``;
        * ``term = "sigma2_subject"``, ``"sigma2_residual"``, ``"icc"``: the variance
          components and the intraclass correlation in ``estimate``.

        Every row repeats the group's fit: ``n_obs`` (observed rows), ``n_subjects``,
        ``sigma2_subject``, ``sigma2_residual``, ``icc``, ``loglik`` (REML criterion or
        log-likelihood / -2, as ``CrossoverFit.loglik``), ``singular`` (between-subject
        variance on the boundary 0), ``converged`` and ``error`` (None when fitted).

    Raises
    ------
    DataError
        A column is missing, a factor or ``by`` value is missing, the outcome is not numeric
        or infinite, or a subject has two rows for one period within a group.
    ModelError
        Invalid option; with ``on_error="raise"``, a group that cannot be fitted.

    Warns
    -----
    SingularFitWarning
        Once per call when any group has a boundary (singular) fit, with their count.

    Notes
    -----
    The estimates equal ``fit_crossover(group, ..., carryover=False)`` (same options) to
    about 1e-8 relative: same design coding, same criterion, same theta grid and bracket
    rules; the optimum is the root of the analytic derivative of the profiled deviance
    (vectorised regula falsi) where the single engine uses Brent's method. See
    ``docs/batch.md``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> seqs = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
    >>> rows = [(tr, f"S{i}", k + 1, seqs[i % 6], t, 2 * i % 5 + rng.normal() + (t == "B"))
    ...         for tr in (1, 2) for i in range(12) for k, t in enumerate(seqs[i % 6])]
    >>> df = pd.DataFrame(rows, columns=["trial", "subject", "period", "sequence", "treatment", "y"])
    >>> res = fit_crossover_batch(df, outcome="y", by="trial", df_method="satterthwaite")
    >>> res.loc[res.trial == 1, "term"].tolist()
    ['treatment', 'A - B', 'A - C', 'B - C', 'sigma2_subject', 'sigma2_residual', 'icc']
    """
    check_options(model, df_method, method, conf_level, on_error)
    names = ColumnNames(outcome=outcome, subject=subject, period=period, sequence=sequence, treatment=treatment)
    layout = code_frame(data, by=by, names=names)
    levels = GroupLevels.of(layout, ref=ref, model=model)
    opts = BatchOptions(model=model, method=method, df_method=df_method, conf_level=conf_level)
    fitted, slow = _fit_vectorised(layout, levels, opts)
    frames = [results_frame(res, layout.keys, layout.by) for res in fitted]
    singular = sum(int(res.singular.sum()) for res in fitted)
    rows, singular_slow = _fit_single(layout, levels, sorted(slow), opts, ref=ref, on_error=on_error)
    if rows:
        frames.append(pd.DataFrame(rows))
    singular += singular_slow
    if singular:
        warnings.warn(
            f"boundary (singular) fit in {singular} of {len(layout.keys)} groups: the between-subject "
            "variance is estimated as 0 (see the 'singular' column)",
            SingularFitWarning,
            stacklevel=2,
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["_g", "_r", *BATCH_COLUMNS])
    out = out.sort_values(["_g", "_r"], kind="stable").reset_index(drop=True)
    return out[[*layout.by, *BATCH_COLUMNS]]


@dataclass(frozen=True, slots=True)
class ColumnNames:
    """The columns of the long frame."""

    outcome: str
    subject: str
    period: str
    sequence: str
    treatment: str


@dataclass(frozen=True, slots=True)
class Factor:
    """A factor column: its levels (sorted labels, as ``_design.as_labels``) and the code of every row."""

    levels: np.ndarray
    codes: np.ndarray

    @classmethod
    def of(cls, values: pd.Series, column: str) -> Factor:
        """Code ``values``, converting only the distinct values to text."""
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0]) + FIRST_DATA_ROW
            raise DataError(f"{column} is missing; every row needs a {column}", located=True, source="data", row=int(row))
        labels = as_labels(pd.Series(uniques), column)
        levels, inv = np.unique(labels, return_inverse=True)
        return cls(levels, inv.reshape(-1)[codes])


@dataclass(frozen=True, slots=True)
class FrameLayout:
    """The long frame coded for the batched fit: rows in their order, groups in sorted key order.

    ``frame`` is the data (index reset), ``names`` its columns; ``keys`` has one row per group
    (the ``by`` columns); ``group`` (N,) is the group of every row; ``y`` (N,) the outcome, NaN
    when missing.
    """

    frame: pd.DataFrame
    names: ColumnNames
    by: list[str]
    keys: pd.DataFrame
    group: np.ndarray
    subject: Factor
    period: Factor
    sequence: Factor
    treatment: Factor
    y: np.ndarray

    def key_text(self, g: int) -> str:
        """``col=value, ...`` of group ``g`` for messages."""
        keys = self.keys
        vals = (keys[c].iloc[g] for c in keys.columns)
        return ", ".join(f"{c}={(v.item() if isinstance(v, np.generic) else v)!r}"
                         for c, v in zip(keys.columns, vals, strict=True))


def code_frame(data: pd.DataFrame, *, by: str | Sequence[str], names: ColumnNames) -> FrameLayout:
    """Check the columns and values of ``data`` and code its factors (see :class:`FrameLayout`)."""
    outcome, subject, period, sequence, treatment = (names.outcome, names.subject, names.period, names.sequence,
                                                     names.treatment)
    by_cols = [by] if isinstance(by, str) else list(by)
    if not by_cols:
        raise ModelError("by must name at least one column")
    needed = [*by_cols, outcome, subject, period, sequence, treatment]
    missing_cols = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if missing_cols:
        raise DataError(
            f"required column(s) {', '.join(map(repr, missing_cols))} missing; "
            f"columns present: {', '.join(map(str, data.columns))}", located=True, source="data"
        )
    check_long(data, outcome=outcome, subject=subject, period=period, sequence=sequence, treatment=treatment, by=by_cols)
    frame = data.reset_index(drop=True)
    grouped = frame.groupby(by_cols, sort=True)
    layout = FrameLayout(
        frame=frame, names=names, by=by_cols, keys=grouped.size().index.to_frame(index=False),
        group=grouped.ngroup().to_numpy(),
        subject=Factor.of(frame[subject], subject), period=Factor.of(frame[period], period),
        sequence=Factor.of(frame[sequence], sequence), treatment=Factor.of(frame[treatment], treatment),
        y=_outcome(frame, outcome),
    )
    _check_unique_periods(layout)
    return layout


def _outcome(frame: pd.DataFrame, outcome: str) -> np.ndarray:
    """The outcome as floats (NaN = missing); text that is not a number or an infinite value is an error."""
    y_all = pd.to_numeric(frame[outcome], errors="coerce")
    cand = y_all.isna() & frame[outcome].notna()
    bad_text = cand.copy()
    if cand.any():
        bad_text[cand] = frame.loc[cand, outcome].astype(str).str.strip() != ""
    if bad_text.any():
        row = int(np.flatnonzero(bad_text.to_numpy())[0])
        raise DataError(f"{outcome}={frame[outcome].iloc[row]!r} is not a number",
                        located=True, source="data", row=int(row + FIRST_DATA_ROW))
    y: np.ndarray = y_all.to_numpy(dtype=float)
    if np.isinf(y).any():
        row = int(np.flatnonzero(np.isinf(y))[0])
        raise DataError(f"{outcome}={y[row]} is infinite; allowed: finite numbers or empty",
                        located=True, source="data", row=int(row + FIRST_DATA_ROW))
    return y


def _check_unique_periods(layout: FrameLayout) -> None:
    """A subject has at most one row per period within its group."""
    subj, per = layout.subject, layout.period
    key = (layout.group.astype(np.int64) * len(subj.levels) + subj.codes) * len(per.levels) + per.codes
    uniq, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        dup = np.flatnonzero(key == uniq[np.flatnonzero(counts > 1)[0]])
        row = int(dup[1])
        raise DataError(
            f"subject {subj.levels[subj.codes[row]]!r} has two rows for period "
            f"{per.levels[per.codes[row]]!r} "
            f"in group {layout.key_text(int(layout.group[row]))}", located=True, source="data", row=int(row + FIRST_DATA_ROW)
        )


@dataclass(frozen=True, slots=True)
class GroupLevels:
    """Levels and sizes per group (axis 0: group), and which groups the vectorised paths take.

    ``trt_all`` (B, levels): treatment levels present in a group's rows; ``trt_obs``,
    ``per_obs``, ``seq_obs``: levels with an observed outcome. ``slot`` gives every observed
    row its subject's position within its group, ``obs_index`` every row its index among the
    observed rows. ``fast`` (B,): every treatment observed (the reference included), at least
    two subjects, two treatments, a subject observed twice and a varying outcome; ``signature``
    (B, columns): the levels that define a group's design columns.
    """

    trt_all: np.ndarray
    trt_obs: np.ndarray
    per_obs: np.ndarray
    seq_obs: np.ndarray
    n_obs: np.ndarray
    n_subjects: np.ndarray
    slot: np.ndarray
    obs_index: np.ndarray
    ref_code: int | None
    fast: np.ndarray
    signature: np.ndarray

    @classmethod
    def of(cls, layout: FrameLayout, *, ref: str | None, model: ModelKind) -> GroupLevels:
        gidx, y = layout.group, layout.y
        obs = ~np.isnan(y)
        B = len(layout.keys)
        trt_all = np.zeros((B, len(layout.treatment.levels)), dtype=bool)
        trt_all[gidx, layout.treatment.codes] = True
        trt_obs, per_obs, seq_obs = (_observed_levels(gidx, obs, f, B)
                                     for f in (layout.treatment, layout.period, layout.sequence))
        n_obs = np.bincount(gidx[obs], minlength=B)
        n_subj_lv = len(layout.subject.levels)
        sub_uniq, sub_id = np.unique(gidx[obs].astype(np.int64) * n_subj_lv + layout.subject.codes[obs],
                                     return_inverse=True)
        sub_group = sub_uniq // n_subj_lv
        n_subjects = np.bincount(sub_group, minlength=B)
        sub_start = np.concatenate([[0], np.cumsum(n_subjects)[:-1]])
        slot = sub_id - sub_start[gidx[obs]]
        ymin = np.full(B, np.inf)
        ymax = np.full(B, -np.inf)
        np.minimum.at(ymin, gidx[obs], y[obs])
        np.maximum.at(ymax, gidx[obs], y[obs])
        max_n = np.zeros(B, dtype=np.int64)
        np.maximum.at(max_n, sub_group, np.bincount(sub_id, minlength=sub_uniq.size))
        ref_code = None
        if ref is not None:
            hit = np.flatnonzero(layout.treatment.levels == ref)
            ref_code = int(hit[0]) if hit.size else -1
        fast = (trt_all == trt_obs).all(axis=1) & (n_subjects >= 2) & (ymax > ymin) & (max_n >= 2)
        fast &= trt_all.sum(axis=1) >= 2  # one treatment: no contrast; the single engine's error
        if ref_code is not None:
            fast &= trt_all[:, ref_code] if ref_code >= 0 else False
        signature = np.concatenate([trt_all, per_obs if model == "standard" else per_obs[:, :0], seq_obs], axis=1)
        return cls(trt_all, trt_obs, per_obs, seq_obs, n_obs, n_subjects, slot, np.cumsum(obs) - 1, ref_code, fast,
                   signature)


def _observed_levels(gidx: np.ndarray, obs: np.ndarray, factor: Factor, n_groups: int) -> np.ndarray:
    """(B, levels): the levels of ``factor`` with an observed outcome in each group."""
    out = np.zeros((n_groups, len(factor.levels)), dtype=bool)
    out[gidx[obs], factor.codes[obs]] = True
    return out


def _fit_vectorised(layout: FrameLayout, levels: GroupLevels, opts: BatchOptions) -> tuple[list[GroupResults], list[int]]:
    """The fast groups, one signature at a time; returns their results and the groups left for
    the single engine (the slow ones first, then those the vectorised paths gave up)."""
    slow: list[int] = np.flatnonzero(~levels.fast).tolist()
    fitted: list[GroupResults] = []
    fast_idx = np.flatnonzero(levels.fast)
    if fast_idx.size:
        sigs, sig_inv = np.unique(levels.signature[fast_idx], axis=0, return_inverse=True)
        sig_inv = sig_inv.reshape(-1)
        # Groups ordered by signature, the observed rows of the fast groups by their group's
        # rank in that order (one stable sort): every chunk's rows are one slice.
        order = fast_idx[np.argsort(sig_inv, kind="stable")]
        rank = np.full(len(layout.keys), -1)
        rank[order] = np.arange(order.size)
        rows = np.flatnonzero(~np.isnan(layout.y) & levels.fast[layout.group])
        rows = rows[np.argsort(rank[layout.group[rows]], kind="stable")]
        row_rank = rank[layout.group[rows]]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(sig_inv, minlength=len(sigs)))])
        for si in range(len(sigs)):
            for start in range(int(bounds[si]), int(bounds[si + 1]), _CHUNK):  # bounded memory per chunk
                stop = min(start + _CHUNK, int(bounds[si + 1]))
                lo, hi = np.searchsorted(row_rank, [start, stop])
                res, left = _fit_signature(order[start:stop], layout, levels, rows[lo:hi], opts)
                slow.extend(left.tolist())
                fitted.append(res)
    return fitted, slow


@dataclass(frozen=True, slots=True)
class SignatureDesign:
    """The design columns of groups sharing their factor levels: intercept, treatments but the
    reference, periods but the first (standard model), sequences but the first observed.

    ``trt_col``, ``per_col``, ``seq_col`` map a level code to its column (-1: none);
    ``levels`` are the treatment names, reference first.
    """

    levels: list[str]
    trt_col: np.ndarray
    per_col: np.ndarray
    seq_col: np.ndarray
    p: int
    tests: TreatmentTests

    @classmethod
    def of(cls, g0: int, layout: FrameLayout, levels: GroupLevels, model: ModelKind) -> SignatureDesign:
        """The design of group ``g0`` (and of every group with its signature)."""
        t_present = np.flatnonzero(levels.trt_all[g0])
        if levels.ref_code is not None:
            t_present = np.concatenate([[levels.ref_code], t_present[t_present != levels.ref_code]])
        trt_lv = layout.treatment.levels
        col = 1
        trt_col = np.full(len(trt_lv), -1)
        trt_col[t_present[1:]] = np.arange(col, col + len(t_present) - 1)
        col += len(t_present) - 1
        per_col = np.full(len(layout.period.levels), -1)
        if model == "standard":
            pp = np.flatnonzero(levels.per_obs[g0])
            per_col[pp[1:]] = np.arange(col, col + len(pp) - 1)
            col += len(pp) - 1
        sq = np.flatnonzero(levels.seq_obs[g0])
        seq_col = np.full(len(layout.sequence.levels), -1)
        seq_col[sq[1:]] = np.arange(col, col + len(sq) - 1)
        p = col + len(sq) - 1
        return cls([str(trt_lv[i]) for i in t_present], trt_col, per_col, seq_col, p,
                   TreatmentTests.for_levels(len(t_present), p))


def _fit_signature(groups: np.ndarray, layout: FrameLayout, levels: GroupLevels, rows: np.ndarray,
                   opts: BatchOptions) -> tuple[GroupResults, np.ndarray]:
    """Vectorised fit of groups sharing their factor levels (hence their design columns).

    The groups are reduced to canonical layouts (``_batch_layout``: subject types and their
    counts, no per-group work): groups whose subjects all have the same number of observations
    are fitted in the eigenbasis of their layout (not for Satterthwaite), the others from their
    statistics pooled by subject size. ``rows``: the observed rows of ``groups``. Returns the
    results and the groups left for the single engine."""
    sd = SignatureDesign.of(int(groups[0]), layout, levels, opts.model)
    gidx = layout.group
    pos = np.full(gidx.max() + 1, -1)
    pos[groups] = np.arange(groups.size)
    pc = layout.period.codes[rows]
    cols = (sd.trt_col[layout.treatment.codes[rows]], sd.per_col[pc], sd.seq_col[layout.sequence.codes[rows]])
    lay = build_layouts(pos[gidx[rows]], levels.slot[levels.obs_index[rows]], levels.n_subjects[groups], pc, cols,
                        layout.y[rows], len(layout.period.levels), sd.p)
    parts = fit_layouts(lay, reml=opts.method == "REML", df_method=opts.df_method, tests=sd.tests)
    slow = [part.slow for part in parts]
    res = FitPart.concat(parts, sd.tests.lvecs.shape[0])
    left = groups[np.concatenate(slow).astype(np.intp)] if slow else np.zeros(0, dtype=np.intp)
    return _signature_results(groups, res, sd, lay.n_obs, levels, opts.conf_level), left


def _signature_results(groups: np.ndarray, res: FitPart, sd: SignatureDesign, n_obs: np.ndarray,
                       levels: GroupLevels, conf_level: float) -> GroupResults:
    """Intervals and Sidak adjustment of the fitted groups, in :class:`GroupResults`."""
    k = sd.tests.lvecs.shape[0]
    ci, ci_hi, cis, cis_hi = intervals(res.estimate, res.se, res.df, k, conf_level)
    kept = res.positions.astype(np.intp)
    sb2, s2 = res.sigma2_subject, res.sigma2_residual
    n_lv = len(sd.levels)
    return GroupResults(
        groups=groups[kept],
        pairs=tuple(f"{sd.levels[i]} - {sd.levels[j]}" for i in range(n_lv) for j in range(i + 1, n_lv)),
        f_statistic=res.f_statistic, f_df_num=np.full(kept.size, float(sd.tests.L.shape[0])),
        f_df_den=res.f_df_den, f_p_value=res.f_p_value, estimate=res.estimate, se=res.se, df=res.df,
        statistic=res.statistic, p_value=res.p_value, p_sidak=sidak_p(res.p_value, k), ci_low=ci, ci_high=ci_hi,
        ci_sidak_low=cis, ci_sidak_high=cis_hi, sigma2_subject=sb2, sigma2_residual=s2, icc=sb2 / (sb2 + s2),
        loglik=-res.deviance / 2.0, singular=res.singular.astype(bool),
        n_obs=n_obs[kept].astype(np.int64),
        n_subjects=levels.n_subjects[groups][kept].astype(np.int64),
    )


def _fit_single(layout: FrameLayout, levels: GroupLevels, slow: list[int], opts: BatchOptions, *, ref: str | None,
                on_error: str) -> tuple[list[dict[str, object]], int]:
    """The groups ``slow`` fitted one by one by ``fit_crossover`` (its warnings silenced): their
    rows, or their error row with ``on_error="flag"``, and the number of singular fits."""
    rows: list[dict[str, object]] = []
    singular = 0
    for g in slow:
        try:
            fit = _fit_one(layout, levels, g, opts, ref)
        except ModelError as exc:
            if on_error == "raise":
                raise ModelError(f"group {layout.key_text(g)}: {exc}") from exc
            rows.extend(error_rows(layout.keys, g, str(exc), int(levels.n_obs[g]), int(levels.n_subjects[g])))
            continue
        singular += int(fit.singular)
        rows.extend(_rows_from_fit(layout.keys, g, fit))
    return rows, singular


def _fit_one(layout: FrameLayout, levels: GroupLevels, g: int, opts: BatchOptions, ref: str | None) -> CrossoverFit:
    """``fit_crossover`` of group ``g`` with the options of the batch (no carry-over)."""
    sub = layout.frame.loc[layout.group == g]
    n_trt = int(levels.trt_obs[g].sum())
    if n_trt < 2:  # (fit_crossover itself fails with ZeroDivisionError here)
        raise ModelError(f"{n_trt} treatment level observed; a crossover comparison needs at least 2")
    names = layout.names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_crossover(
            sub, outcome=names.outcome, subject=names.subject, period=names.period, sequence=names.sequence,
            treatment=names.treatment, model=opts.model, method=opts.method, df_method=opts.df_method, ref=ref,
            conf_level=opts.conf_level,
        )


def _rows_from_fit(keys: pd.DataFrame, g: int, fit: CrossoverFit) -> list[dict[str, object]]:
    """The rows of group ``g`` from its single-engine fit (the layout of :func:`results_frame`)."""
    base = {c: keys[c].iloc[g] for c in keys.columns}
    info = {
        "n_obs": fit.n_obs, "n_subjects": fit.n_subjects, "sigma2_subject": fit.variance_subject,
        "sigma2_residual": fit.variance_residual, "icc": fit.icc, "loglik": fit.loglik,
        "singular": fit.singular, "converged": True, "error": None,
    }
    nan = float("nan")
    tt = fit.treatment_test
    rows: list[dict[str, object]] = [
        {**base, "_g": g, "_r": 0, "term": "treatment", "estimate": nan, "se": nan, "df": tt.df_den,
         "df_num": float(tt.df_num), "statistic": tt.statistic, "p_value": tt.p_value, "p_sidak": nan,
         "ci_low": nan, "ci_high": nan, "ci_sidak_low": nan, "ci_sidak_high": nan, **info}]
    for r, c in enumerate(fit.contrasts, start=1):
        rows.append({**base, "_g": g, "_r": r, "term": f"{c.a} - {c.b}", "estimate": c.estimate, "se": c.se,
                     "df": c.df, "df_num": nan, "statistic": c.statistic, "p_value": c.p_value,
                     "p_sidak": c.p_sidak, "ci_low": c.ci_low, "ci_high": c.ci_high,
                     "ci_sidak_low": c.ci_sidak_low, "ci_sidak_high": c.ci_sidak_high, **info})
    for r, (term, val) in enumerate(zip(VAR_TERMS, (fit.variance_subject, fit.variance_residual, fit.icc), strict=True),
                                    start=1 + len(fit.contrasts)):
        rows.append({**base, "_g": g, "_r": r, "term": term, "estimate": val, "se": nan, "df": nan, "df_num": nan,
                     "statistic": nan, "p_value": nan, "p_sidak": nan, "ci_low": nan, "ci_high": nan,
                     "ci_sidak_low": nan, "ci_sidak_high": nan, **info})
    return rows

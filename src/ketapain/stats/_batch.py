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
cases are exactly its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Literal

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
from ketapain.errors import FIRST_DATA_ROW, DataError, ModelError, SingularFitWarning
from ketapain.stats._batch_eigen import (
    closed_form_theta,
    eigen_fit,
    eigen_pair_tests,
    eigen_term_test,
    group_stats,
    pattern_stats,
    shared_grid,
)
from ketapain.stats._batch_infer import fit_quantities, pair_tests, term_test
from ketapain.stats._batch_math import eigen_stats, optimise, reduced_stats, take_eig
from ketapain.stats._crossover import CrossoverFit, fit_crossover
from ketapain.stats._ddf import DfMethod
from ketapain.stats._design import ModelKind, _as_labels
from ketapain.stats._lmm import Method
from ketapain.stats._multiplicity import sidak_p

__all__ = ["BATCH_COLUMNS", "fit_crossover_batch"]

#: Columns of :func:`fit_crossover_batch` after the ``by`` columns, in order.
BATCH_COLUMNS: tuple[str, ...] = (
    "term", "estimate", "se", "df", "df_num", "statistic", "p_value", "p_sidak", "ci_low", "ci_high",
    "ci_sidak_low", "ci_sidak_high", "n_obs", "n_subjects", "sigma2_subject", "sigma2_residual", "icc",
    "loglik", "singular", "converged", "error",
)
_VAR_TERMS = ("sigma2_subject", "sigma2_residual", "icc")


def _factor(values: pd.Series, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels (sorted, as ``_design._as_labels``) and the code of every row, converting only
    the distinct values to text."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0]) + FIRST_DATA_ROW
        raise DataError(f"data row {row}: {column} is missing; every row needs a {column}")
    labels = _as_labels(pd.Series(uniques), column)
    levels, inv = np.unique(labels, return_inverse=True)
    return levels, inv.reshape(-1)[codes]


def _group_frame(keys: pd.DataFrame, g: np.ndarray) -> dict[str, np.ndarray]:
    return {c: keys[c].to_numpy()[g] for c in keys.columns}


def _key_text(keys: pd.DataFrame, g: int) -> str:
    vals = (keys[c].iloc[g] for c in keys.columns)
    return ", ".join(f"{c}={(v.item() if isinstance(v, np.generic) else v)!r}" for c, v in zip(keys.columns, vals, strict=True))


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
    by_cols = [by] if isinstance(by, str) else list(by)
    if not by_cols:
        raise ModelError("by must name at least one column")
    needed = [*by_cols, outcome, subject, period, sequence, treatment]
    missing_cols = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if missing_cols:
        raise DataError(
            f"data: required column(s) {', '.join(map(repr, missing_cols))} missing; "
            f"columns present: {', '.join(map(str, data.columns))}"
        )
    frame = data.reset_index(drop=True)
    for c in by_cols:
        na = frame[c].isna().to_numpy()
        if na.any():
            raise DataError(f"data row {int(np.flatnonzero(na)[0]) + FIRST_DATA_ROW}: {c} is missing; every row needs a {c}")
    grouped = frame.groupby(by_cols, sort=True)
    gidx = grouped.ngroup().to_numpy()
    keys = grouped.size().index.to_frame(index=False)
    n_groups = len(keys)

    subj_lv, s_code = _factor(frame[subject], subject)
    per_lv, p_code = _factor(frame[period], period)
    seq_lv, q_code = _factor(frame[sequence], sequence)
    trt_lv, t_code = _factor(frame[treatment], treatment)
    y_all = pd.to_numeric(frame[outcome], errors="coerce")
    cand = y_all.isna() & frame[outcome].notna()
    bad_text = cand.copy()
    if cand.any():
        bad_text[cand] = frame.loc[cand, outcome].astype(str).str.strip() != ""
    if bad_text.any():
        row = int(np.flatnonzero(bad_text.to_numpy())[0])
        raise DataError(f"data row {row + FIRST_DATA_ROW}: {outcome}={frame[outcome].iloc[row]!r} is not a number")
    y = y_all.to_numpy(dtype=float)
    if np.isinf(y).any():
        row = int(np.flatnonzero(np.isinf(y))[0])
        raise DataError(f"data row {row + FIRST_DATA_ROW}: {outcome}={y[row]} is infinite; allowed: finite numbers or empty")
    key = (gidx.astype(np.int64) * len(subj_lv) + s_code) * len(per_lv) + p_code
    uniq, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        dup = np.flatnonzero(key == uniq[np.flatnonzero(counts > 1)[0]])
        row = int(dup[1])
        raise DataError(
            f"data row {row + FIRST_DATA_ROW}: subject {subj_lv[s_code[row]]!r} has two rows for period "
            f"{per_lv[p_code[row]]!r} "
            f"in group {_key_text(keys, int(gidx[row]))}"
        )

    obs = ~np.isnan(y)
    B = n_groups
    trt_all = np.zeros((B, len(trt_lv)), dtype=bool)
    trt_all[gidx, t_code] = True
    trt_obs = np.zeros_like(trt_all)
    trt_obs[gidx[obs], t_code[obs]] = True
    per_obs = np.zeros((B, len(per_lv)), dtype=bool)
    per_obs[gidx[obs], p_code[obs]] = True
    seq_obs = np.zeros((B, len(seq_lv)), dtype=bool)
    seq_obs[gidx[obs], q_code[obs]] = True
    n_obs = np.bincount(gidx[obs], minlength=B)
    sk = gidx[obs].astype(np.int64) * len(subj_lv) + s_code[obs]
    sub_uniq, sub_id = np.unique(sk, return_inverse=True)
    sub_group = sub_uniq // len(subj_lv)
    n_subjects = np.bincount(sub_group, minlength=B)
    sub_start = np.concatenate([[0], np.cumsum(n_subjects)[:-1]])
    slot = sub_id - sub_start[gidx[obs]]
    ymin = np.full(B, np.inf)
    ymax = np.full(B, -np.inf)
    np.minimum.at(ymin, gidx[obs], y[obs])
    np.maximum.at(ymax, gidx[obs], y[obs])
    subj_n = np.bincount(sub_id, minlength=sub_uniq.size)
    max_n = np.zeros(B, dtype=np.int64)
    np.maximum.at(max_n, sub_group, subj_n)

    ref_code = None
    if ref is not None:
        hit = np.flatnonzero(trt_lv == ref)
        ref_code = int(hit[0]) if hit.size else -1
    fast = (trt_all == trt_obs).all(axis=1) & (n_subjects >= 2) & (ymax > ymin) & (max_n >= 2)
    fast &= trt_all.sum(axis=1) >= 2  # one treatment: no contrast; the single engine's error
    if ref_code is not None:
        fast &= trt_all[:, ref_code] if ref_code >= 0 else False
    sig_mat = np.concatenate([trt_all, per_obs if model == "standard" else per_obs[:, :0], seq_obs], axis=1)

    results: dict[int, dict] = {}
    slow_groups: list[int] = []
    slow_groups.extend(np.flatnonzero(~fast).tolist())
    fast_idx = np.flatnonzero(fast)
    if fast_idx.size:
        sigs, sig_inv = np.unique(sig_mat[fast_idx], axis=0, return_inverse=True)
        sig_inv = sig_inv.reshape(-1)
        row_sel = obs & fast[gidx]
        for si in range(len(sigs)):
            groups = fast_idx[sig_inv == si]
            out = _fit_signature(
                groups, gidx, row_sel, slot, t_code, p_code, q_code, y, trt_all, per_obs, seq_obs,
                trt_lv, per_lv, seq_lv, n_subjects, ref_code, model, method, df_method, conf_level,
            )
            slow_groups.extend(out.pop("slow").tolist())
            results[si] = out
    singular_count = 0
    frames = [_frame_from_batch(res, keys, by_cols) for res in results.values()]
    singular_count += sum(int(res["singular"].sum()) for res in results.values())
    slow_rows = []
    for g in sorted(slow_groups):
        sub = frame.loc[gidx == g]
        try:
            if trt_obs[g].sum() < 2:  # (fit_crossover itself fails with ZeroDivisionError here)
                raise ModelError(
                    f"{int(trt_obs[g].sum())} treatment level observed; a crossover comparison needs at least 2"
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_crossover(
                    sub, outcome=outcome, subject=subject, period=period, sequence=sequence,
                    treatment=treatment, model=model, method=method, df_method=df_method, ref=ref,
                    conf_level=conf_level,
                )
        except ModelError as exc:
            if on_error == "raise":
                raise ModelError(f"group {_key_text(keys, g)}: {exc}") from exc
            slow_rows.extend(_error_rows(keys, g, str(exc), int(n_obs[g]), int(n_subjects[g])))
            continue
        singular_count += int(fit.singular)
        slow_rows.extend(_rows_from_fit(keys, g, fit))
    if slow_rows:
        frames.append(pd.DataFrame(slow_rows))
    if singular_count:
        warnings.warn(
            f"boundary (singular) fit in {singular_count} of {n_groups} groups: the between-subject "
            "variance is estimated as 0 (see the 'singular' column)",
            SingularFitWarning,
            stacklevel=2,
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["_g", "_r", *BATCH_COLUMNS])
    out = out.sort_values(["_g", "_r"], kind="stable").reset_index(drop=True)
    return out[[*by_cols, *BATCH_COLUMNS]]


def _fit_signature(
    groups, gidx, row_sel, slot, t_code, p_code, q_code, y, trt_all, per_obs, seq_obs,
    trt_lv, per_lv, seq_lv, n_subjects, ref_code, model, method, df_method, conf_level,
) -> dict:
    """Vectorised fit of groups sharing their factor levels (hence their design columns).

    Complete-data groups whose design matrix is shared by at least one other group are fitted
    in the design's eigenbasis (``_batch_eigen``; not for Satterthwaite); the others by the
    general batched path (``_batch_math.direct_*``, ``_batch_infer``)."""
    g0 = groups[0]
    t_present = np.flatnonzero(trt_all[g0])
    if ref_code is not None:
        t_present = np.concatenate([[ref_code], t_present[t_present != ref_code]])
    levels = [str(trt_lv[i]) for i in t_present]
    col = 1
    trt_col = np.full(len(trt_lv), -1)
    trt_col[t_present[1:]] = np.arange(col, col + len(t_present) - 1)
    col += len(t_present) - 1
    per_col = np.full(len(per_lv), -1)
    if model == "standard":
        pp = np.flatnonzero(per_obs[g0])
        per_col[pp[1:]] = np.arange(col, col + len(pp) - 1)
        col += len(pp) - 1
    sq = np.flatnonzero(seq_obs[g0])
    seq_col = np.full(len(seq_lv), -1)
    seq_col[sq[1:]] = np.arange(col, col + len(sq) - 1)
    p = col + len(sq) - 1
    n_trt_cols = len(t_present) - 1
    L = np.zeros((n_trt_cols, p))
    L[np.arange(n_trt_cols), np.arange(1, 1 + n_trt_cols)] = 1.0
    pairs = [(i, j) for i in range(len(levels)) for j in range(i + 1, len(levels))]
    lvecs = np.zeros((len(pairs), p))
    for k, (i, j) in enumerate(pairs):
        if i > 0:
            lvecs[k, i] += 1.0
        if j > 0:
            lvecs[k, j] -= 1.0

    pos = np.full(gidx.max() + 1, -1)
    pos[groups] = np.arange(groups.size)
    rows = np.flatnonzero(row_sel & (pos[gidx] >= 0))
    bpos = pos[gidx[rows]]
    # slot is indexed over observed rows: map rows -> index among observed rows
    obs_index = np.cumsum(~np.isnan(y)) - 1
    sl = slot[obs_index[rows]]
    Bs = groups.size
    G = int(n_subjects[groups].max())
    P = len(per_lv)
    pc = p_code[rows]
    ypad = np.zeros((Bs, G, P))
    mask = np.zeros((Bs, G, P))
    ypad[bpos, sl, pc] = y[rows]
    mask[bpos, sl, pc] = 1.0
    cols = [cmap[codes[rows]] for codes, cmap in ((t_code, trt_col), (p_code, per_col), (q_code, seq_col))]

    def design_pad(positions: np.ndarray) -> np.ndarray:
        """(len(positions), G, P, p) design of the groups at ``positions`` (zero padding)."""
        where = np.full(Bs, -1)
        where[positions] = np.arange(positions.size)
        hit_rows = where[bpos] >= 0
        bp, s_, pc_ = where[bpos[hit_rows]], sl[hit_rows], pc[hit_rows]
        xpad = np.zeros((positions.size, G, P, p))
        xpad[bp, s_, pc_, 0] = 1.0
        for c_all in cols:
            c = c_all[hit_rows]
            hit = c >= 0
            xpad[bp[hit], s_[hit], pc_[hit], c[hit]] = 1.0
        return xpad

    reml = method == "REML"
    parts: list[dict] = []
    slow: list[np.ndarray] = []
    rest = np.ones(Bs, dtype=bool)
    if df_method != "satterthwaite" and Bs >= 2:
        cell = np.zeros((Bs, G * P), dtype=np.int64)
        cell[bpos, sl * P + pc] = 1 + (cols[0] + 1) + (p + 1) * ((cols[1] + 1) + (p + 1) * (cols[2] + 1))
        _u, first, inv, counts = np.unique(cell, axis=0, return_index=True, return_inverse=True, return_counts=True)
        inv = inv.reshape(-1)
        for u in np.flatnonzero(counts >= 2):
            members = np.flatnonzero(inv == u)
            xp = design_pad(first[u : u + 1])
            if not _design_ok(xp, mask[first[u] : first[u] + 1], p):
                continue
            pat = pattern_stats(xp[0], mask[first[u]])
            if pat is None:
                continue
            rest[members] = False
            part = _fit_pattern(pat, xp, mask[first[u] : first[u] + 1], ypad[members], members, reml, df_method, L, lvecs)
            slow.append(part.pop("slow"))
            parts.append(part)
    rest_pos = np.flatnonzero(rest)
    if rest_pos.size:
        xpad = design_pad(rest_pos)
        part = _fit_general(xpad, ypad[rest_pos], mask[rest_pos], rest_pos, p, reml, df_method, L, lvecs)
        slow.append(part.pop("slow"))
        parts.append(part)
    res = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]} if parts else {}
    if not parts:
        res = {k: np.zeros(0) for k in ("pos", "stat", "ddf", "p_f", "sb2", "s2", "dev", "singular")}
        res.update({k: np.zeros((0, len(pairs))) for k in ("est", "se", "df", "tstat", "p_t")})
    k = len(pairs)
    est, se = res["est"], res["se"]
    ci, ci_hi, cis, cis_hi = intervals(est, se, res["df"], k, conf_level)
    kept = res["pos"].astype(np.intp)
    sb2, s2 = res["sb2"], res["s2"]
    return {
        "groups": groups[kept],
        "labels": [f"{levels[i]} - {levels[j]}" for i, j in pairs],
        "n_obs": mask[kept].sum(axis=(1, 2)).astype(np.int64),
        "n_subjects": n_subjects[groups][kept].astype(np.int64),
        "stat": res["stat"], "q": n_trt_cols, "ddf": res["ddf"], "p_f": res["p_f"],
        "est": est, "se": se, "df": res["df"], "tstat": res["tstat"], "p_t": res["p_t"],
        "p_sidak": sidak_p(res["p_t"], k),
        "ci": ci, "ci_hi": ci_hi, "cis": cis, "cis_hi": cis_hi,
        "sb2": sb2, "s2": s2, "icc": sb2 / (sb2 + s2),
        "loglik": -res["dev"] / 2.0, "singular": res["singular"].astype(bool),
        "slow": groups[np.concatenate(slow).astype(np.intp)] if slow else np.zeros(0, dtype=np.intp),
    }


def intervals(est: np.ndarray, se: np.ndarray, df: np.ndarray, k: int, conf_level: float) -> tuple[np.ndarray, ...]:
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


def _design_ok(xpad: np.ndarray, mask: np.ndarray, p: int) -> np.ndarray:
    """Cheap guards on designs (B, G, P, p); a group failing them goes to the single engine:
    enough rows, no empty or aliased column (correlation eigenvalue > 1e-8), and a
    between-subject variance that is identified (subject means of rank < subjects)."""
    B = xpad.shape[0]
    xr = xpad.reshape(B, -1, p)
    xtx = xr.transpose(0, 2, 1) @ xr
    n_obs = mask.sum(axis=(1, 2))
    n_sub = (mask.sum(axis=2) > 0).sum(axis=1)
    ok = n_obs - p >= 1
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
        ok[s] &= np.linalg.matrix_rank(rs_means(xpad[s], mask[s])) < n_sub[s]
    return ok


def _fit_pattern(pat, xpad1, mask1, ypad, members, reml, df_method, L, lvecs) -> dict:
    """Groups at ``members`` sharing the complete design ``pat``: eigenbasis fit and tests."""
    es = group_stats(pat, ypad)
    closed = closed_form_theta(es, reml)
    theta, status = closed if closed is not None else optimise(None, reml, es, shared_grid(pat, es, reml))
    good = np.flatnonzero(status == 0)
    es_g = take_eig(es, good)
    fit = eigen_fit(es_g, pat.T, theta[good], reml=reml, kr=df_method == "kenward-roger")
    cont_term = cont_pairs = None
    if df_method == "containment":
        xtx1 = pat.x_flat.T @ pat.x_flat
        ns = SimpleNamespace(xtx=xtx1[None], n_obs=np.array([float(pat.n_obs)]))
        ct, cp = _containment(xpad1, mask1, ns, np.array([float(pat.cnt)]), L, lvecs)
        cont_term = np.broadcast_to(ct, good.size)
        cont_pairs = np.broadcast_to(cp, (good.size, lvecs.shape[0]))
    stat, _q, ddf, p_f, bad_f = eigen_term_test(fit, L, df_method, cont_term)
    est, se, df, tstat, p_t, bad_t = eigen_pair_tests(fit, lvecs, df_method, cont_pairs)
    return _pack(members, status, good, fit, stat, ddf, p_f, bad_f, est, se, df, tstat, p_t, bad_t)


def _fit_general(xpad, ypad, mask, positions, p, reml, df_method, L, lvecs) -> dict:
    """Groups at ``positions`` with their own designs: pooled-by-subject-size statistics."""
    rs = reduced_stats(xpad, ypad, mask)
    Bs = positions.size
    ok = _design_ok(xpad, mask, p)
    G_b = (mask.sum(axis=2) > 0).sum(axis=1).astype(float)
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
    if df_method == "containment":
        cont_term, cont_pairs = _containment(xpad[good], mask[good], rs_g, G_b[good], L, lvecs)
    stat, _q, ddf, p_f, bad_f = term_test(fit, L, df_method, cont_term)
    est, se, df, tstat, p_t, bad_t = pair_tests(fit, lvecs, df_method, cont_pairs)
    return _pack(positions, status, good, fit, stat, ddf, p_f, bad_f | fit.bad, est, se, df, tstat, p_t, bad_t)


def _pack(positions, status, good, fit, stat, ddf, p_f, bad_f, est, se, df, tstat, p_t, bad_t) -> dict:
    bad = bad_f | bad_t.any(axis=1) | fit.bad
    keep = ~bad
    return {
        "pos": positions[good][keep], "stat": stat[keep], "ddf": ddf[keep], "p_f": p_f[keep],
        "est": est[keep], "se": se[keep], "df": df[keep], "tstat": tstat[keep], "p_t": p_t[keep],
        "sb2": fit.sigma2_subject[keep], "s2": fit.sigma2[keep], "dev": fit.deviance[keep],
        "singular": fit.singular[keep],
        "slow": np.concatenate([positions[status != 0], positions[good[bad]]]),
    }


def rs_means(xpad: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Subject means of the design columns (B, G, p), zero rows for padding subjects."""
    n = mask.sum(axis=2)
    return xpad.sum(axis=2) / np.where(n > 0, n, 1.0)[..., None]


def _containment(xpad, mask, rs, G_b, L, lvecs) -> tuple[np.ndarray, np.ndarray]:
    """nlme containment df (``_ddf.containment_df``) of the treatment term and each pair."""
    s = xpad.sum(axis=2)
    n = mask.sum(axis=2)[..., None]
    within = ((s > 0) & (s < n)).any(axis=1)  # (B, p)
    colsum = np.diagonal(rs.xtx, axis1=1, axis2=2)  # 0/1 columns: sum x^2 = sum x
    const = (colsum == 0) | (colsum == rs.n_obs[:, None])
    df_w = rs.n_obs - G_b - within.sum(axis=1)
    df_b = G_b - (~within & ~const).sum(axis=1) - 1.0

    def for_columns(used: np.ndarray) -> np.ndarray:
        all_const = (const | ~used).all(axis=1)
        any_within = (within & used).any(axis=1)
        return np.where(all_const, np.maximum(df_w, df_b), np.where(any_within, df_w, df_b))

    term = for_columns(np.broadcast_to((np.abs(L) > 0).any(axis=0), within.shape))
    pairs = np.stack([for_columns(np.broadcast_to(np.abs(lv) > 0, within.shape)) for lv in lvecs], axis=1)
    return term, pairs


def _frame_from_batch(res: dict, keys: pd.DataFrame, by_cols: list[str]) -> pd.DataFrame:
    g = res["groups"]
    nb = g.size
    k = len(res["labels"])
    nrow = 1 + k + len(_VAR_TERMS)
    nan = np.full(nb, np.nan)

    def grid(omni, pair, var):
        return np.column_stack([omni[:, None], pair, var]).reshape(-1)

    var_est = np.column_stack([res["sb2"], res["s2"], res["icc"]])
    nanv = np.full((nb, len(_VAR_TERMS)), np.nan)
    nanp = np.full((nb, k), np.nan)
    out = {
        "_g": np.repeat(g, nrow),
        "_r": np.tile(np.arange(nrow), nb),
        "term": np.tile(np.array(["treatment", *res["labels"], *_VAR_TERMS], dtype=object), nb),
        "estimate": grid(nan, res["est"], var_est),
        "se": grid(nan, res["se"], nanv),
        "df": grid(res["ddf"], res["df"], nanv),
        "df_num": grid(np.full(nb, float(res["q"])), nanp, nanv),
        "statistic": grid(res["stat"], res["tstat"], nanv),
        "p_value": grid(res["p_f"], res["p_t"], nanv),
        "p_sidak": grid(nan, res["p_sidak"], nanv),
        "ci_low": grid(nan, res["ci"], nanv),
        "ci_high": grid(nan, res["ci_hi"], nanv),
        "ci_sidak_low": grid(nan, res["cis"], nanv),
        "ci_sidak_high": grid(nan, res["cis_hi"], nanv),
    }
    for name, arr in (
        ("n_obs", res["n_obs"]), ("n_subjects", res["n_subjects"]), ("sigma2_subject", res["sb2"]),
        ("sigma2_residual", res["s2"]), ("icc", res["icc"]), ("loglik", res["loglik"]), ("singular", res["singular"]),
    ):
        out[name] = np.repeat(arr, nrow)
    out["converged"] = np.ones(nb * nrow, dtype=bool)
    out["error"] = np.full(nb * nrow, None, dtype=object)
    frame = pd.DataFrame(out)
    for c in by_cols:
        frame[c] = keys[c].to_numpy()[frame["_g"].to_numpy()]
    return frame


def _rows_from_fit(keys: pd.DataFrame, g: int, fit: CrossoverFit) -> list[dict]:
    base = {c: keys[c].iloc[g] for c in keys.columns}
    info = {
        "n_obs": fit.n_obs, "n_subjects": fit.n_subjects, "sigma2_subject": fit.variance_subject,
        "sigma2_residual": fit.variance_residual, "icc": fit.icc, "loglik": fit.loglik,
        "singular": fit.singular, "converged": True, "error": None,
    }
    nan = float("nan")
    tt = fit.treatment_test
    rows = [{**base, "_g": g, "_r": 0, "term": "treatment", "estimate": nan, "se": nan, "df": tt.df_den,
             "df_num": float(tt.df_num), "statistic": tt.statistic, "p_value": tt.p_value, "p_sidak": nan,
             "ci_low": nan, "ci_high": nan, "ci_sidak_low": nan, "ci_sidak_high": nan, **info}]
    for r, c in enumerate(fit.contrasts, start=1):
        rows.append({**base, "_g": g, "_r": r, "term": f"{c.a} - {c.b}", "estimate": c.estimate, "se": c.se,
                     "df": c.df, "df_num": nan, "statistic": c.statistic, "p_value": c.p_value,
                     "p_sidak": c.p_sidak, "ci_low": c.ci_low, "ci_high": c.ci_high,
                     "ci_sidak_low": c.ci_sidak_low, "ci_sidak_high": c.ci_sidak_high, **info})
    for r, (term, val) in enumerate(zip(_VAR_TERMS, (fit.variance_subject, fit.variance_residual, fit.icc), strict=True),
                                    start=1 + len(fit.contrasts)):
        rows.append({**base, "_g": g, "_r": r, "term": term, "estimate": val, "se": nan, "df": nan, "df_num": nan,
                     "statistic": nan, "p_value": nan, "p_sidak": nan, "ci_low": nan, "ci_high": nan,
                     "ci_sidak_low": nan, "ci_sidak_high": nan, **info})
    return rows


def _error_rows(keys: pd.DataFrame, g: int, message: str, n_obs: int, n_subjects: int) -> list[dict]:
    nan = float("nan")
    row = {c: keys[c].iloc[g] for c in keys.columns}
    row.update({"_g": g, "_r": 0, "term": "treatment"})
    row.update({c: nan for c in BATCH_COLUMNS if c not in ("term", "n_obs", "n_subjects", "singular", "converged", "error")})
    row.update({"n_obs": n_obs, "n_subjects": n_subjects, "singular": False, "converged": False, "error": message})
    return [row]

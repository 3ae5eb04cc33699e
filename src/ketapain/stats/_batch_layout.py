"""Canonical layouts: the groups of a batch reduced to subject types, without padded cubes.

The random-intercept likelihood does not depend on the order of the subjects within a group,
nor on the order of the rows, so a group's design is fully described by its *layout*: how
many subjects it has of each *subject type*, a type being one subject's design (the design
row of each of its observed periods: treatment, period and sequence columns; empty where the
period is missing). Subjects are typed with one ``np.unique`` over a packed integer key (one
digit per period, the digit being the subject's cell code in that period), and groups with
equal type counts share their layout (one ``np.unique`` over the ``(groups, types)`` count
matrix): no per-group Python work, and no (group x subject x period x column) cube.

Everything that depends on the design only is linear in the type counts and is computed
once per layout: ``X'X = sum_k n_k X_k'X_k``, the pooled ``SS_m = sum_{k: m_k = m} n_k s_k s_k'``
and the number of subjects of each size ``m`` (``ReducedStats``, :mod:`._batch_math`).
The outcome enters through per-group sums computed with ``np.bincount`` over all rows at once:
``X'y`` (by cell code), the subject totals ``t_i`` (by subject), ``sum_i s_i t_i`` (by subject
type), ``sum_i t_i^2`` (by subject size) and ``y'y``.

Fits (:func:`fit_layouts`): groups whose subjects all have the same number of observations
``m0`` (complete data, or the same periods missing everywhere) are fitted in the eigenbasis of
their layout (:mod:`._batch_eigen`: ``T`` and ``d`` from one batched Cholesky and one batched
``eigh`` over the distinct layouts, the closed-form variance ratio per group when the layout
is orthogonal-block, the root-finder otherwise); groups with subjects of different sizes
(missing periods) by the pooled statistics (:func:`._batch_parts.fit_reduced`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketapain.stats._batch_eigen import (
    closed_form_rows,
    eigen_fit,
    eigen_pair_tests,
    eigen_term_test,
)
from ketapain.stats._batch_math import EigenStats, ReducedStats, optimise, take_eig
from ketapain.stats._batch_parts import FitPart, TreatmentTests, containment_df, fit_reduced, pack

__all__ = ["Layouts", "build_layouts", "fit_layouts"]


@dataclass(frozen=True, slots=True)
class Layouts:
    """``Bs`` groups as subject types and layouts (``K`` types, ``U`` layouts, ``P`` period slots,
    ``M = P`` subject sizes, ``p`` design columns).

    Types: ``tx`` (K, P, p) design of each type (zero rows for missing periods), ``tm`` (K,)
    observed periods. Layouts: ``counts`` (U, K) subjects of each type, ``xtx`` (U, p, p),
    ``ss`` (U, M, p, p), ``cnt`` (U, M) subjects of each size; ``inv`` (Bs,) the layout of
    every group. Per group: ``xty`` (Bs, p), ``st`` (Bs, M, p), ``tt`` (Bs, M), ``yty``,
    ``n_obs``, ``n_sub`` (Bs,).
    """

    tx: np.ndarray
    tm: np.ndarray
    counts: np.ndarray
    xtx: np.ndarray
    ss: np.ndarray
    cnt: np.ndarray
    inv: np.ndarray
    xty: np.ndarray
    st: np.ndarray
    tt: np.ndarray
    yty: np.ndarray
    n_obs: np.ndarray
    n_sub: np.ndarray

    @property
    def p(self) -> int:
        return int(self.tx.shape[-1])

    def reduced(self, idx: np.ndarray) -> ReducedStats:
        """:class:`ReducedStats` of the groups at ``idx``."""
        u = self.inv[idx]
        M = self.cnt.shape[1]
        return ReducedStats(
            cnt=self.cnt[u], ss=self.ss[u], st=self.st[idx], tt=self.tt[idx], xtx=self.xtx[u], xty=self.xty[idx],
            yty=self.yty[idx], n_obs=self.n_obs[idx].astype(float), m=np.arange(1, M + 1, dtype=float),
        )


def build_layouts(bpos: np.ndarray, slot: np.ndarray, n_sub: np.ndarray, pc: np.ndarray,
                  cols: tuple[np.ndarray, np.ndarray, np.ndarray], y: np.ndarray, n_periods: int, p: int) -> Layouts:
    """Type the subjects and group the layouts of ``Bs = n_sub.size`` groups from their observed
    rows: group position ``bpos``, subject slot ``slot`` (``0..n_sub[b]-1``), period code ``pc``
    (``0..n_periods-1``), design column of the row's treatment, period and sequence ``cols``
    (-1: none) and outcome ``y``; ``p`` design columns."""
    Bs, P = n_sub.size, n_periods
    cell = (cols[0] + 1) + (p + 1) * ((cols[1] + 1) + (p + 1) * (cols[2] + 1))
    cell_id, cell_first = _dense(cell, (p + 1) ** 3)
    C = cell_first.size
    xcell = np.zeros((C + 1, p))  # row 0: an empty cell
    xcell[1:, 0] = 1.0
    for c in cols:
        cf = c[cell_first]
        hit = np.flatnonzero(cf >= 0)
        xcell[1 + hit, cf[hit]] = 1.0
    sub_start = np.concatenate([[0], np.cumsum(n_sub)[:-1]])
    sid = sub_start[bpos] + slot
    S = int(n_sub.sum())
    grid = np.zeros((S, P), dtype=np.int64)
    grid[sid, pc] = cell_id + 1
    if P * np.log2(C + 1.0) < 62:
        t_of, t_first = _dense(grid @ ((C + 1) ** np.arange(P, dtype=np.int64)), (C + 1) ** P)
    else:  # too many cell codes for one integer key
        _ku, t_first, t_of = np.unique(grid, axis=0, return_index=True, return_inverse=True)
        t_of = t_of.reshape(-1)
    K = t_first.size
    tx = xcell[grid[t_first]]  # (K, P, p)
    tm = (grid[t_first] > 0).sum(axis=1)
    sub_b = np.repeat(np.arange(Bs), n_sub)
    counts_b = np.bincount(sub_b * K + t_of, minlength=Bs * K).reshape(Bs, K)
    counts, inv = np.unique(counts_b, axis=0, return_inverse=True)
    onehot = (tm[:, None] == np.arange(1, P + 1)).astype(float)  # (K, M)
    s = tx.sum(axis=1)  # (K, p) subject column sums
    cf = counts.astype(float)
    xtx = (cf @ np.einsum("kti,ktj->kij", tx, tx).reshape(K, p * p)).reshape(-1, p, p)
    sso = onehot[:, :, None, None] * (s[:, :, None] * s[:, None, :])[:, None]  # (K, M, p, p)
    ss = (cf @ sso.reshape(K, -1)).reshape(-1, P, p, p)
    # per-group outcome sums, over all rows at once
    t = np.bincount(sid, weights=y, minlength=S)
    tsum = np.bincount(sub_b * K + t_of, weights=t, minlength=Bs * K).reshape(Bs, K)
    st = (tsum @ (onehot[:, :, None] * s[:, None, :]).reshape(K, -1)).reshape(Bs, P, p)
    tt = np.bincount(sub_b * P + tm[t_of] - 1, weights=t * t, minlength=Bs * P).reshape(Bs, P)
    xty = np.bincount(bpos * C + cell_id, weights=y, minlength=Bs * C).reshape(Bs, C) @ xcell[1:]
    return Layouts(
        tx=tx, tm=tm, counts=counts, xtx=xtx, ss=ss, cnt=cf @ onehot, inv=inv.reshape(-1), xty=xty, st=st, tt=tt,
        yty=np.bincount(bpos, weights=y * y, minlength=Bs), n_obs=np.bincount(bpos, minlength=Bs),
        n_sub=n_sub.astype(np.int64),
    )


def _dense(key: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes ``0..n-1`` of the non-negative integers ``key`` (< ``bound``) in increasing key
    order, and one position of each (a representative: equal keys are equal contents). A lookup
    table when ``bound`` is small (no sort), ``np.unique`` otherwise."""
    if bound <= max(4 * key.size, 1 << 16):
        where = np.full(bound, -1, dtype=np.int64)
        where[key] = np.arange(key.size)  # any of the equal keys' positions
        seen = where >= 0
        code = np.cumsum(seen) - 1
        return code[key], where[seen]
    _u, first_u, inv = np.unique(key, return_index=True, return_inverse=True)
    return inv.reshape(-1), first_u


def layout_ok(lay: Layouts) -> np.ndarray:
    """``_batch_parts.design_ok`` per layout (U,): enough rows, no empty or aliased column
    (correlation eigenvalue > 1e-8) and an identified between-subject variance (subject means
    of rank < subjects; the means of a type enter ``sqrt(n_k)`` times, as the subjects' do)."""
    p = lay.p
    n_obs = lay.counts @ lay.tm
    n_sub = lay.counts.sum(axis=1)
    ok: np.ndarray = n_obs - p >= 1
    d = np.sqrt(np.diagonal(lay.xtx, axis1=1, axis2=2))
    ok &= (d > 0).all(axis=1)
    dd = np.where(d > 0, d, 1.0)
    corr = lay.xtx / dd[:, :, None] / dd[:, None, :]
    try:  # all correlation eigenvalues > 1e-8 <=> corr - 1e-8 I is positive definite (one batched Cholesky)
        np.linalg.cholesky(corr - 1e-8 * np.eye(p))
    except np.linalg.LinAlgError:
        ok &= np.linalg.eigvalsh(corr).min(axis=1) > 1e-8
    small = np.flatnonzero(ok & (n_sub <= p))
    if small.size:
        means = lay.tx.sum(axis=1) / np.maximum(lay.tm, 1)[:, None]  # (K, p)
        rows = np.sqrt(lay.counts[small].astype(float))[:, :, None] * means[None]
        sv = np.linalg.svd(rows, compute_uv=False)
        tol = sv.max(axis=1) * np.maximum(n_sub[small], p) * np.finfo(float).eps
        ok[small] &= (sv > tol[:, None]).sum(axis=1) < n_sub[small]
    return ok


def layout_containment(lay: Layouts, tests: TreatmentTests) -> tuple[np.ndarray, np.ndarray]:
    """Containment df per layout (``_batch_parts.containment_df`` on the types present)."""
    present = (lay.counts > 0).astype(float)  # (U, K)
    xt = lay.tx[None] * present[:, :, None, None]
    mask = (np.abs(lay.tx).sum(axis=2) > 0)[None] * present[:, :, None]
    n_obs = (lay.counts @ lay.tm).astype(float)
    return containment_df(xt, mask, lay.xtx, n_obs, lay.counts.sum(axis=1).astype(float), tests)


def fit_layouts(lay: Layouts, *, reml: bool, df_method: str, tests: TreatmentTests) -> list[FitPart]:
    """Fit the ``Bs`` groups of ``lay``: one subject size -> eigenbasis of the layout (not for
    Satterthwaite, which needs the observed Hessian); otherwise pooled statistics. Groups
    whose layout fails :func:`layout_ok` are returned in ``slow`` for the single engine."""
    ok_u = layout_ok(lay)
    cont_u = layout_containment(lay, tests) if df_method == "containment" else None
    one_size_u = (lay.cnt > 0).sum(axis=1) == 1
    eig_g = (ok_u & one_size_u)[lay.inv] & (df_method != "satterthwaite")
    parts: list[FitPart] = []
    idx = np.flatnonzero(eig_g)
    if idx.size:
        parts.append(_fit_eigen(lay, idx, cont_u, reml=reml, df_method=df_method, tests=tests))
    rest = np.flatnonzero(~eig_g)
    if rest.size:
        u = lay.inv[rest]
        cont = None if cont_u is None else (cont_u[0][u], cont_u[1][u])
        parts.append(fit_reduced(lay.reduced(rest), ok_u[u], cont, rest, reml=reml, df_method=df_method, tests=tests))
    return parts


def _fit_eigen(lay: Layouts, idx: np.ndarray, cont_u: tuple[np.ndarray, np.ndarray] | None, *, reml: bool,
               df_method: str, tests: TreatmentTests) -> FitPart:
    """Groups ``idx`` with one subject size: each layout decomposed once (``X'X = R R'``,
    ``R^-1 SS R^-T = Q diag(d) Q'``, ``T = R^-T Q``), the groups fitted in their layout's basis."""
    used, u_of = np.unique(lay.inv[idx], return_inverse=True)
    u_of = u_of.reshape(-1)
    m0_u = np.argmax(lay.cnt[used] > 0, axis=1)  # size index m0 - 1
    ss0 = lay.ss[used, m0_u]
    R = np.linalg.cholesky(lay.xtx[used])
    rinv = np.linalg.inv(R)
    c = rinv @ ss0 @ rinv.swapaxes(1, 2)
    d, Q = np.linalg.eigh((c + c.swapaxes(1, 2)) / 2.0)
    T = rinv.swapaxes(1, 2) @ Q  # (U', p, p)
    logdet = 2.0 * np.log(np.diagonal(R, axis1=1, axis2=2)).sum(axis=1)
    Tg = T[u_of]
    m0 = m0_u[u_of]
    es = EigenStats(
        d=d[u_of], u=np.einsum("bij,bi->bj", Tg, lay.xty[idx]),
        v=np.einsum("bij,bi->bj", Tg, lay.st[idx, m0]), tt=lay.tt[idx, m0], yty=lay.yty[idx],
        cnt=lay.cnt[used, m0_u][u_of], m0=m0 + 1.0, logdet_xtx=logdet[u_of], n_obs=lay.n_obs[idx].astype(float),
        p=lay.p,
    )
    theta, status, applies = closed_form_rows(es, reml)
    other = np.flatnonzero(~applies)
    if other.size:
        theta[other], status[other] = optimise(None, reml, take_eig(es, other))
    good = np.flatnonzero(status == 0)
    fit = eigen_fit(take_eig(es, good), Tg[good], theta[good], reml=reml, kr=df_method == "kenward-roger")
    cont_term = cont_pairs = None
    if cont_u is not None:
        lg = lay.inv[idx[good]]
        cont_term, cont_pairs = cont_u[0][lg], cont_u[1][lg]
    term = eigen_term_test(fit, tests.L, df_method, cont_term)
    pairs = eigen_pair_tests(fit, tests.lvecs, df_method, cont_pairs)
    return pack(idx, status, good, fit, term, pairs, term.bad)

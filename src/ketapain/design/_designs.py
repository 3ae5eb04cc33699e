"""Crossover designs (Williams, cyclic Latin square, all orders) and their properties.

A design is a set of treatment *sequences*; every patient follows one sequence, one
treatment per period. :func:`check_design` reports the combinatorial properties and the
efficiency of the treatment contrasts, with and without first-order carry-over.

Efficiency (Jones & Kenward 2014, section 4.2; Patterson & Lucas 1962)
----------------------------------------------------------------------
One replicate of the design (one patient per sequence, ``s`` sequences, ``p`` periods, ``t``
treatments) is analysed by the within-patient linear model

    y = subject + period + treatment (+ first-order carry-over) + error,  var(error) = sigma^2

(subjects as fixed effects, equivalently random subjects with ``sigma_b^2 -> inf``). The
carry-over of a period is the treatment of the previous period (none in period 1). With
``r = s p / t`` the number of times each treatment is given, the *ideal* variance of a
pairwise difference is ``2 sigma^2 / r`` (no subject or period effects to remove), and

    efficiency = (2 / r) / mean_{i<j} var(tau_i - tau_j) / sigma^2,

the average being over all ``t (t - 1) / 2`` pairs, each variance ``c' C^+ c`` from the
reduced information matrix ``C = X_t' (I - P_Z) X_t`` of the treatment columns ``X_t``
after projecting out ``Z`` (subject, period and, for the carry-over efficiency, carry-over
columns). Known values: Williams designs are 100% efficient without carry-over and
80.00% (t = 3), 90.91% (t = 4) with carry-over (Jones & Kenward 2014, section 4.2).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ketapain.errors import ModelError

__all__ = [
    "CrossoverDesign",
    "DesignProperties",
    "all_orders",
    "check_design",
    "latin_square",
    "williams",
]

MAX_ALL_ORDERS = 8
"""``all_orders`` refuses more treatments than this (8! = 40,320 sequences)."""


@dataclass(frozen=True, slots=True)
class CrossoverDesign:
    """Treatment sequences of a crossover design.

    Attributes
    ----------
    kind : str
        ``"williams"``, ``"latin"``, ``"all-orders"`` or ``"custom"``.
    treatments : tuple of str
        Treatment labels, in the order given.
    sequences : tuple of tuple of str
        One tuple of treatment labels per sequence, one label per period.
    """

    kind: str
    treatments: tuple[str, ...]
    sequences: tuple[tuple[str, ...], ...]

    @property
    def n_treatments(self) -> int:
        """Number of treatments ``t``."""
        return len(self.treatments)

    @property
    def n_sequences(self) -> int:
        """Number of sequences ``s``."""
        return len(self.sequences)

    @property
    def n_periods(self) -> int:
        """Number of periods ``p`` (the length of every sequence)."""
        return len(self.sequences[0])

    @property
    def labels(self) -> tuple[str, ...]:
        """Sequence labels, the treatments joined by ``-``, e.g. ``"P-K-KM"``."""
        return tuple("-".join(seq) for seq in self.sequences)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict: ``kind, treatments, n_sequences, n_periods, sequences, labels``."""
        return {
            "kind": self.kind,
            "treatments": list(self.treatments),
            "n_sequences": self.n_sequences,
            "n_periods": self.n_periods,
            "sequences": [list(seq) for seq in self.sequences],
            "labels": list(self.labels),
        }


@dataclass(frozen=True, slots=True)
class DesignProperties:
    """What :func:`check_design` found (module docstring for the efficiency definition).

    Attributes
    ----------
    uniform_on_sequences : bool
        Every treatment appears equally often (once when ``p = t``) in every sequence.
    uniform_on_periods : bool
        Every treatment appears equally often in every period.
    latin : bool
        Both of the above with ``p = t``: each treatment once per sequence and equally often
        per period (once per period for a single square).
    carryover_balanced : bool
        Every ordered pair of *distinct* treatments occurs equally often as (previous, current).
    strongly_balanced : bool
        Every ordered pair, *including* a treatment followed by itself, occurs equally often.
    replications : float
        ``r = s p / t``, times each treatment is given in one replicate of the design.
    efficiency : float or None
        Efficiency of pairwise treatment contrasts adjusted for subject and period (None if
        the contrasts are not estimable).
    efficiency_carryover : float or None
        The same, additionally adjusted for first-order carry-over (None if the treatment
        contrasts are not estimable then, e.g. the AB/BA design).
    """

    uniform_on_sequences: bool
    uniform_on_periods: bool
    latin: bool
    carryover_balanced: bool
    strongly_balanced: bool
    replications: float
    efficiency: float | None
    efficiency_carryover: float | None

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict of every attribute."""
        return {name: getattr(self, name) for name in self.__slots__}

    def summary(self) -> str:
        """Plain-text lines, one property per line; efficiencies as percentages."""

        def pct(v: float | None) -> str:
            return "not estimable" if v is None else f"{100 * v:.2f}%"

        return "\n".join(
            [
                f"each treatment equally often per sequence: {self.uniform_on_sequences}",
                f"each treatment equally often per period:   {self.uniform_on_periods}",
                f"Latin (once per sequence and per period):  {self.latin}",
                f"first-order carry-over balanced:           {self.carryover_balanced}",
                f"strongly balanced for carry-over:          {self.strongly_balanced}",
                f"replications per treatment (one replicate): {self.replications:g}",
                f"efficiency, no carry-over in model:        {pct(self.efficiency)}",
                f"efficiency, adjusted for carry-over:       {pct(self.efficiency_carryover)}",
            ]
        )


def _check_treatments(treatments: Sequence[str]) -> tuple[str, ...]:
    if isinstance(treatments, str):
        raise ModelError(template="{@treatments} must be a sequence of labels, not the string {text}", params={"text": repr(treatments)})
    trts = tuple(str(t) for t in treatments)
    if len(trts) < 2:
        raise ModelError(template="{@treatments}: a crossover design needs at least 2 treatments, got {n}: {got}",
                         params={"n": len(trts), "got": list(trts)})
    if any(t.strip() == "" for t in trts):
        raise ModelError(template="{@treatments}: labels must not be empty, got {got}", params={"got": list(trts)})
    dups = sorted({t for t in trts if trts.count(t) > 1})
    if dups:
        raise ModelError(template="{@treatments}: labels must be distinct, {dups} repeated in {got}",
                         params={"dups": dups, "got": list(trts)})
    return trts


def williams(treatments: Sequence[str]) -> CrossoverDesign:
    """Williams design: Latin square(s) balanced for first-order carry-over (Williams 1949).

    The first sequence is ``0, 1, t-1, 2, t-2, ...`` (indices into ``treatments``) and the
    others add ``1, 2, ..., t-1`` modulo ``t``. For even ``t`` this one square is balanced;
    for odd ``t`` the mirror image (each sequence reversed) is appended, giving ``2 t``
    sequences.

    Parameters
    ----------
    treatments : sequence of str
        At least 2 distinct labels.

    Returns
    -------
    CrossoverDesign
        ``t`` (even ``t``) or ``2 t`` (odd ``t``) sequences of ``t`` periods.

    Raises
    ------
    ModelError
        Fewer than 2 treatments, empty or repeated labels.

    References
    ----------
    Williams EJ (1949) Aust J Sci Res A 2:149-168. Jones B, Kenward MG (2014) *Design and
    Analysis of Cross-Over Trials*, 3rd ed., section 4.2.

    Examples
    --------
    >>> williams(["P", "K", "KM"]).labels
    ('P-K-KM', 'K-KM-P', 'KM-P-K', 'KM-K-P', 'P-KM-K', 'K-P-KM')
    >>> williams(["A", "B", "C", "D"]).labels
    ('A-B-D-C', 'B-C-A-D', 'C-D-B-A', 'D-A-C-B')
    """
    trts = _check_treatments(treatments)
    t = len(trts)
    first = [0]
    lo, hi = 1, t - 1
    while len(first) < t:
        first.append(lo)
        lo += 1
        if len(first) < t:
            first.append(hi)
            hi -= 1
    square = [tuple(trts[(j + i) % t] for j in first) for i in range(t)]
    if t % 2 == 1:
        square += [seq[::-1] for seq in square]
    return CrossoverDesign("williams", trts, tuple(square))


def latin_square(treatments: Sequence[str]) -> CrossoverDesign:
    """Cyclic Latin square: sequence ``i`` is ``i, i+1, ..., i+t-1`` (mod ``t``).

    Each treatment once per sequence and per period, but (for ``t >= 3``) not balanced for
    carry-over: each treatment is always followed by the same one.

    Raises
    ------
    ModelError
        Fewer than 2 treatments, empty or repeated labels.

    Examples
    --------
    >>> latin_square(["A", "B", "C"]).labels
    ('A-B-C', 'B-C-A', 'C-A-B')
    """
    trts = _check_treatments(treatments)
    t = len(trts)
    return CrossoverDesign("latin", trts, tuple(tuple(trts[(i + j) % t] for j in range(t)) for i in range(t)))


def all_orders(treatments: Sequence[str]) -> CrossoverDesign:
    """All ``t!`` orders of the treatments, in lexicographic order of their positions.

    Raises
    ------
    ModelError
        Fewer than 2 or more than 8 treatments, empty or repeated labels.

    Examples
    --------
    >>> all_orders(["P", "K", "KM"]).labels
    ('P-K-KM', 'P-KM-K', 'K-P-KM', 'K-KM-P', 'KM-P-K', 'KM-K-P')
    """
    trts = _check_treatments(treatments)
    if len(trts) > MAX_ALL_ORDERS:
        raise ModelError(template="{@treatments}: all orders of {n} treatments is too many; at most {most}",
                         params={"n": len(trts), "most": MAX_ALL_ORDERS})
    return CrossoverDesign("all-orders", trts, tuple(itertools.permutations(trts)))


def _codes(design: CrossoverDesign) -> np.ndarray:
    if design.n_sequences == 0:
        raise ModelError("design: it has no sequences")
    p = len(design.sequences[0])
    index = {t: i for i, t in enumerate(design.treatments)}
    if p < 2 or any(len(seq) != p for seq in design.sequences):
        raise ModelError(f"design: every sequence needs the same number (>= 2) of periods, got lengths "
                         f"{sorted({len(s) for s in design.sequences})}")
    unknown = sorted({x for seq in design.sequences for x in seq} - set(index))
    if unknown:
        raise ModelError(f"design: treatments {unknown} are not among {list(design.treatments)}")
    return np.array([[index[x] for x in seq] for seq in design.sequences], dtype=np.intp)


def _efficiency(codes: np.ndarray, t: int, *, carryover: bool) -> float | None:
    """Average-variance efficiency of pairwise treatment contrasts (module docstring)."""
    s, p = codes.shape
    rows = s * p
    eye_t = np.eye(t)
    x_trt = eye_t[codes.ravel()]                                   # (s p, t)
    z_cols = [np.tile(np.eye(p), (s, 1))]                          # periods
    if carryover:
        carry = np.zeros((s, p, t))
        carry[:, 1:, :] = eye_t[codes[:, :-1]]
        z_cols.append(carry.reshape(rows, t))
    # subjects as fixed effects: centre every column within subject (absorbs the subject
    # dummies exactly), then project out the remaining nuisance columns.
    def within(m: np.ndarray) -> np.ndarray:
        m3 = m.reshape(s, p, -1)
        return (m3 - m3.mean(axis=1, keepdims=True)).reshape(rows, -1)

    xt = within(x_trt)
    z = within(np.hstack(z_cols))
    coef, *_ = np.linalg.lstsq(z, xt, rcond=None)
    resid = xt - z @ coef
    info = resid.T @ resid                                          # C = Xt' (I - P_Z) Xt
    if np.linalg.matrix_rank(info, tol=1e-8 * max(1.0, float(np.abs(info).max()))) < t - 1:
        return None
    cinv = np.linalg.pinv(info, rcond=1e-10)
    i, j = np.triu_indices(t, k=1)
    var = cinv[i, i] + cinv[j, j] - 2.0 * cinv[i, j]
    r = s * p / t
    return float(min((2.0 / r) / var.mean(), 1.0))


def check_design(design: CrossoverDesign) -> DesignProperties:
    """Combinatorial properties and efficiencies of a crossover design.

    Parameters
    ----------
    design : CrossoverDesign
        One replicate: one patient per sequence.

    Returns
    -------
    DesignProperties
        Uniformity on sequences and periods, carry-over balance (distinct pairs; strong
        balance including self-pairs), and the efficiencies with and without carry-over.

    Raises
    ------
    ModelError
        Sequences of unequal length, fewer than 2 periods, or unknown treatments.

    Notes
    -----
    ``efficiency = (2 / r) / mean_{i<j} [C^+_{ii} + C^+_{jj} - 2 C^+_{ij}]`` with ``r = s p / t``
    and ``C`` the treatment information matrix adjusted for subjects and periods (and carry-over
    for ``efficiency_carryover``); see the module docstring. Rounded down to at most 1 against
    floating-point noise.

    References
    ----------
    Jones B, Kenward MG (2014) *Design and Analysis of Cross-Over Trials*, 3rd ed., ch. 4.

    Examples
    --------
    >>> props = check_design(williams(["P", "K", "KM"]))
    >>> props.latin, props.carryover_balanced, props.strongly_balanced
    (True, True, False)
    >>> round(props.efficiency, 4), round(props.efficiency_carryover, 4)
    (1.0, 0.8)
    """
    codes = _codes(design)
    t = design.n_treatments
    s, p = codes.shape
    per_seq = np.zeros((s, t), dtype=int)
    np.add.at(per_seq, (np.repeat(np.arange(s), p), codes.ravel()), 1)
    per_period = np.zeros((p, t), dtype=int)
    np.add.at(per_period, (np.tile(np.arange(p), s), codes.ravel()), 1)
    uniform_seq = bool((per_seq == per_seq[0, 0]).all())
    uniform_per = bool((per_period == per_period[0, 0]).all())
    pairs = np.zeros((t, t), dtype=int)
    np.add.at(pairs, (codes[:, :-1].ravel(), codes[:, 1:].ravel()), 1)
    off = pairs[~np.eye(t, dtype=bool)]
    carry_bal = bool((off == off[0]).all() and off[0] > 0)
    strong = bool((pairs == pairs[0, 0]).all() and pairs[0, 0] > 0)
    return DesignProperties(
        uniform_on_sequences=uniform_seq,
        uniform_on_periods=uniform_per,
        latin=uniform_seq and uniform_per and p == t,
        carryover_balanced=carry_bal,
        strongly_balanced=strong,
        replications=s * p / t,
        efficiency=_efficiency(codes, t, carryover=False),
        efficiency_carryover=_efficiency(codes, t, carryover=True),
    )

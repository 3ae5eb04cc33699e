"""Checked daily diary data on a patient-period x day grid, for the daily mixed model and MI.

One idea: turn a long diary plus the allocation into arrays (vectorised, one row per
patient x period of the allocation, one column per modelled day), with the fixed-effects
layout of the daily model: treatment x day cell means, then period (standard model) or
sequence (paper model) dummies with R's treatment contrasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ketapain._options import MODEL_KIND, check_option, check_scale
from ketapain.errors import FIRST_DATA_ROW, DataError, ModelError
from ketapain.stats._auc import (
    ANCHOR_VALUE,
    SCORE_MAX,
    SCORE_MIN,
    _integer_days,
    _require_columns,
    _scores,
    trapezoid_weights,
)
from ketapain.stats._design import as_labels

__all__ = ["DailyGrid", "DailyModelKind", "build_grid"]

DailyModelKind = Literal["standard", "paper"]
PERIOD, DAY, SEQUENCE, TREATMENT = "period", "day", "sequence", "treatment"


@dataclass(frozen=True, slots=True)
class DailyGrid:
    """Daily data of every patient x period of the allocation (rows sorted by patient, period).

    Attributes
    ----------
    y : (G, D) scores, NaN = missing; column ``k`` is day ``days[k]``.
    days : (D,) modelled days (0..W with the anchor, else 1..W).
    patient : (G,) patient code 0..I-1 (rows of one patient are contiguous).
    patient_labels, period_labels, sequence_labels : (G,) labels as strings.
    treatment : (G,) treatment code into ``treatment_levels`` (reference first).
    nuisance : (G, q) period or sequence dummies (constant within a patient x period).
    nuisance_names : names of the nuisance columns, e.g. ``period[2]``.
    nuisance_levels : number of levels of the nuisance factor (for marginal averaging).
    weights : (D,) trapezoid weights (:func:`ketapain.stats._auc.trapezoid_weights`): ``AUC = weights @ y``.
    """

    y: npt.NDArray[np.float64]
    days: np.ndarray
    patient: np.ndarray
    patient_labels: np.ndarray
    period_labels: np.ndarray
    sequence_labels: np.ndarray
    treatment: np.ndarray
    treatment_levels: tuple[str, ...]
    nuisance: np.ndarray
    nuisance_names: tuple[str, ...]
    nuisance_levels: int
    weights: np.ndarray
    anchor: bool
    window: int
    model: str

    @property
    def n_cells(self) -> int:
        """Number of treatment x day cell-mean columns."""
        return len(self.treatment_levels) * self.days.size

    @property
    def columns(self) -> tuple[str, ...]:
        """Fixed-effect column names: cells ``treatment[K]:day[3]``, then the nuisance columns."""
        cells = [f"treatment[{t}]:day[{int(d)}]" for t in self.treatment_levels for d in self.days]
        return tuple(cells) + self.nuisance_names

    @property
    def observed(self) -> npt.NDArray[np.bool_]:
        """(G, D) True where the score is observed."""
        return ~np.isnan(self.y)

    def contrast_vector(self, coef: dict[str, float]) -> np.ndarray:
        """``l`` with ``l'beta = sum_t coef[t] * AUC-cell-part of t`` (weights on the cells)."""
        lvec = np.zeros(len(self.columns))
        D = self.days.size
        for t, c in coef.items():
            k = self.treatment_levels.index(t)
            lvec[k * D:(k + 1) * D] += c * self.weights
        return lvec

    def mean_vector(self, t: str) -> np.ndarray:
        """``l`` of the model-based AUC of ``t``, averaged over the nuisance levels (emmeans)."""
        lvec = self.contrast_vector({t: 1.0})
        lvec[self.n_cells:] = self.weights.sum() / self.nuisance_levels
        return lvec


def _check_columns(frame: object, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    _require_columns(frame, name, columns)
    if len(frame) == 0:
        raise DataError(f"{name} has no rows")
    return frame


def _fill_diary(
    y: np.ndarray, diary: pd.DataFrame, *, value: str, subject: str, keys: pd.MultiIndex, window: int, anchor: bool,
    scale: tuple[float, float],
) -> None:
    """Write the diary's ``value`` of days 1..window into ``y`` (rows: the patient-periods of
    ``keys``; columns: day 0 (anchor) or 1 first). Refuses a diary row whose patient-period has
    no allocation row, and a patient-period-day given twice."""
    days = _integer_days(diary[DAY], DAY)
    scores = _scores(diary[value], "diary", value, scale)
    d_keys = pd.MultiIndex.from_arrays([as_labels(diary[subject], subject), as_labels(diary[PERIOD], PERIOD)])
    pos = keys.get_indexer(d_keys)
    if (pos < 0).any():
        row = int(np.flatnonzero(pos < 0)[0])
        raise DataError(
            f"({subject}={d_keys[row][0]!r}, period={d_keys[row][1]!r}) "
            "has no row in the allocation", located=True, source="diary", row=int(row + FIRST_DATA_ROW)
        )
    flat = pos.astype(np.int64) * (int(days.max()) + 1) + days
    dup = pd.Series(flat).duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"({subject}={d_keys[row][0]!r}, period={d_keys[row][1]!r}, "
            f"day={days[row]}) appears more than once", located=True, source="diary", row=int(row + FIRST_DATA_ROW)
        )
    use = (days <= window) & ~np.isnan(scores)
    y[pos[use], days[use] - (0 if anchor else 1)] = scores[use]


def build_grid(
    diary: pd.DataFrame,
    allocation: pd.DataFrame,
    *,
    value: str,
    window: int,
    ref: str,
    model: DailyModelKind,
    anchor: bool,
    subject: str,
    scale: tuple[float, float] = (SCORE_MIN, SCORE_MAX),
) -> DailyGrid:
    """Check the inputs and lay the diary on the patient-period x day grid (see DailyGrid);
    the scores, diary and pre-infusion, must lie on ``scale`` (checked)."""
    check_option("model", model, MODEL_KIND)
    scale = check_scale("scale", scale, error=DataError)
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise DataError(f"window={window!r} is not an integer >= 2 (the last diary day of the AUC)")
    window = int(window)
    _check_columns(diary, "diary", (subject, PERIOD, DAY, value))
    cols = (subject, PERIOD, SEQUENCE, TREATMENT) + ((ANCHOR_VALUE,) if anchor else ())
    _check_columns(allocation, "allocation", cols)

    a_subj = as_labels(allocation[subject], subject)
    a_per = as_labels(allocation[PERIOD], PERIOD)
    a_seq = as_labels(allocation[SEQUENCE], SEQUENCE)
    a_trt = as_labels(allocation[TREATMENT], TREATMENT)
    keys = pd.MultiIndex.from_arrays([a_subj, a_per])
    dup = keys.duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"({subject}={a_subj[row]!r}, period={a_per[row]!r}) "
            "appears more than once; each patient x period needs exactly one row",
            located=True, source="allocation", row=int(row + FIRST_DATA_ROW)
        )
    levels_sorted = sorted(set(a_trt.tolist()))
    if ref not in levels_sorted:
        raise ModelError(f"ref={ref!r} is not a treatment of the allocation ({', '.join(levels_sorted)})")
    if len(levels_sorted) < 2:
        raise ModelError(f"the allocation has a single treatment ({levels_sorted[0]!r}): nothing to compare")
    levels = (ref, *[t for t in levels_sorted if t != ref])

    order = np.lexsort((a_per, a_subj))
    a_subj, a_per, a_seq, a_trt = a_subj[order], a_per[order], a_seq[order], a_trt[order]
    G = a_subj.size
    _, patient = np.unique(a_subj, return_inverse=True)
    seq_per_patient = pd.Series(a_seq).groupby(patient).nunique().to_numpy()
    if model == "paper" and (seq_per_patient > 1).any():
        i = int(np.flatnonzero(seq_per_patient > 1)[0])
        raise DataError(f"patient {a_subj[patient == i][0]!r} has more than one sequence", located=True, source="allocation")

    n_days = window + 1 if anchor else window
    y = np.full((G, n_days), np.nan)
    if anchor:
        pre = _scores(allocation[ANCHOR_VALUE], "allocation", ANCHOR_VALUE, scale)
        y[:, 0] = pre[order]

    _fill_diary(y, diary, value=value, subject=subject, keys=pd.MultiIndex.from_arrays([a_subj, a_per]), window=window, anchor=anchor,
                scale=scale)

    nuis_labels = a_per if model == "standard" else a_seq
    nuis_levels = sorted(set(nuis_labels.tolist()))
    prefix = PERIOD if model == "standard" else SEQUENCE
    nuisance = (nuis_labels[:, None] == np.asarray(nuis_levels[1:], dtype=object)[None, :]).astype(float)
    trt_code = np.searchsorted(np.asarray(levels_sorted, dtype=object), a_trt)
    remap = np.array([levels.index(t) for t in levels_sorted])
    return DailyGrid(
        y=y,
        days=np.arange(0 if anchor else 1, window + 1),
        patient=patient,
        patient_labels=a_subj,
        period_labels=a_per,
        sequence_labels=a_seq,
        treatment=remap[trt_code],
        treatment_levels=levels,
        nuisance=nuisance,
        nuisance_names=tuple(f"{prefix}[{lev}]" for lev in nuis_levels[1:]),
        nuisance_levels=len(nuis_levels),
        weights=trapezoid_weights(window + 1 if anchor else window),  # the AUC's points: day 0 (anchor) or 1..W
        anchor=anchor,
        window=window,
        model=model,
    )

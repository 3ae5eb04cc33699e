"""Fixed-effects design matrices for crossover trials, from long data.

Coding rules (the same as R's default treatment contrasts, so that results can be compared
term by term with ``lme4``/``nlme``):

* factor levels are the distinct values as strings, ordered by code point (Python's
  ``sorted``); the first is the reference and gets no column, except that the treatment
  reference may be chosen (``ref``);
* periods whose labels are all integers are ordered numerically for carry-over (which
  period came before which), but their columns still follow the code-point order;
* carry-over is the subject's treatment in the previous period (rows with a missing outcome
  still count), or the ``carryover`` column when the data have one; the first period's
  "none" is coded together with the reference treatment (it is aliased with period 1), so
  each carry-over column is that treatment's carry-over minus the reference's;
* columns are named ``(Intercept)``, ``treatment[K]``, ``period[2]``, ``sequence[BCA]``,
  ``carryover[K]``, a numeric covariate by its name, a categorical one ``name[level]``, and
  an interaction ``sequence[BCA]:treatment[K]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ketapain._options import MODEL_KIND, check_option
from ketapain.data import check_long
from ketapain.errors import FIRST_DATA_ROW, DataError, ModelError

__all__ = [
    "CrossoverData",
    "CrossoverDesign",
    "ModelKind",
    "as_labels",
    "build_design",
    "crossover_design",
    "parse_crossover",
]

ModelKind = Literal["standard", "paper"]
MODEL_KINDS: tuple[str, ...] = MODEL_KIND.choices
_NONE_LABELS = {"", "none", "nan", "na", "0"}


@dataclass(frozen=True, slots=True)
class CrossoverDesign:
    """A design matrix with its labels, for the rows whose outcome is observed.

    Attributes
    ----------
    X : (N, p) design; y : (N,) outcome; group_codes : (N,) subject codes 0..G-1.
    subjects : subject labels, indexed by code.
    columns : column names; terms : the term each column belongs to.
    treatment_levels : all treatment levels, reference first.
    formula : the model as text, e.g. ``y ~ treatment + period + sequence + (1 | subject)``.
    dropped : aliased nuisance columns that were removed (only interaction columns can be).
    """

    X: np.ndarray
    y: np.ndarray
    group_codes: np.ndarray
    subjects: tuple[str, ...]
    columns: tuple[str, ...]
    terms: tuple[str, ...]
    treatment_levels: tuple[str, ...]
    formula: str
    dropped: tuple[str, ...]

    def term_columns(self, term: str) -> np.ndarray:
        """Indices of the columns of ``term``."""
        return np.flatnonzero(np.asarray(self.terms) == term)

    def column_index(self, name: str) -> int:
        """Index of the column called ``name``."""
        return self.columns.index(name)

    def term_hypothesis(self, term: str) -> np.ndarray:
        """Rows of ``L`` selecting every column of ``term`` (the joint test ``L beta = 0``)."""
        cols = self.term_columns(term)
        L = np.zeros((cols.size, len(self.columns)))
        L[np.arange(cols.size), cols] = 1.0
        return L

    def treatment_pairs(self) -> list[tuple[str, str]]:
        """All pairs (a, b) of treatment levels, in level order (reference first)."""
        lv = self.treatment_levels
        return [(lv[i], lv[j]) for i in range(len(lv)) for j in range(i + 1, len(lv))]

    def pair_vector(self, a: str, b: str) -> np.ndarray:
        """``l`` with ``l'beta = mean(a) - mean(b)`` (the reference treatment is coded 0)."""
        lvec = np.zeros(len(self.columns))
        for level, sign in ((a, 1.0), (b, -1.0)):
            if level != self.treatment_levels[0]:
                lvec[self.column_index(f"treatment[{level}]")] += sign
        return lvec


def as_labels(values: pd.Series, column: str) -> np.ndarray:
    """Factor column -> stripped string labels (numpy object array); integer-valued floats
    lose their ``.0`` so that period 1 read as 1.0 is still "1"."""
    missing = values.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0]) + FIRST_DATA_ROW
        raise DataError(f"{column} is missing; every row needs a {column}", located=True, source="data", row=int(row))
    if pd.api.types.is_float_dtype(values) and np.all(np.mod(values.to_numpy(), 1) == 0):
        values = values.astype(np.int64)
    return np.array([str(v).strip() for v in values.to_numpy()], dtype=object)


def _codes(labels: np.ndarray, levels: Sequence[str]) -> np.ndarray:
    """Integer code of each label in ``levels`` (all labels must be levels)."""
    order = np.argsort(np.asarray(levels, dtype=object))
    sorted_levels = np.asarray(levels, dtype=object)[order]
    return order[np.searchsorted(sorted_levels, labels)]


def _period_rank(labels: np.ndarray) -> np.ndarray:
    """Chronological rank of each period label: numeric order when all are integers."""
    levels = sorted(set(labels.tolist()))
    try:
        chrono = sorted(levels, key=int)
    except ValueError:
        chrono = levels
    return _codes(labels, chrono)


def _carryover_labels(
    frame: pd.DataFrame, subj: np.ndarray, per: np.ndarray, trt: np.ndarray, *, period: str,
    ref: str, levels: list[str], rows: np.ndarray,
) -> np.ndarray:
    """Treatment of the previous period for each row ("none" -> reference), vectorised."""
    if "carryover" in frame.columns:
        raw = frame["carryover"]
        lab = np.array([str(v).strip() for v in raw.to_numpy()], dtype=object)
        none = raw.isna().to_numpy() | np.isin(np.char.lower(lab.astype(str)), list(_NONE_LABELS))
        lab[none] = ref
        bad = ~np.isin(lab, levels)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"carryover={raw.iloc[i]!r} is not a treatment level "
                f"({', '.join(levels)}) nor empty/'none'", located=True, source="data", row=int(rows[i])
            )
        return lab
    rank = _period_rank(per)
    n_rank = int(rank.max()) + 1
    _, s_code = np.unique(subj, return_inverse=True)
    t_code = _codes(trt, levels)
    table = np.full((int(s_code.max()) + 1) * n_rank, -1, dtype=np.intp)
    table[s_code * n_rank + rank] = t_code
    first = rank == 0
    prev = np.where(first, 0, table[s_code * n_rank + np.maximum(rank - 1, 0)])
    missing = (prev < 0) & ~first
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise ModelError(
            f"subject {subj[i]!r} has no row for the period before "
            f"period {per[i]!r}, so its carry-over is unknown; keep that period's "
            "row with an empty outcome, or give a 'carryover' column", located=True, source="data", row=int(rows[i])
        )
    return np.asarray(levels, dtype=object)[prev]


def _dummies(labels: np.ndarray, levels: list[str], prefix: str) -> tuple[np.ndarray, list[str]]:
    codes = _codes(labels, levels)
    mat = (codes[:, None] == np.arange(1, len(levels))[None, :]).astype(float)
    return mat, [f"{prefix}[{lev}]" for lev in levels[1:]]


def _alias_mask(X: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """True for each column that is a linear combination of the columns before it."""
    n, p = X.shape
    aliased = np.zeros(p, dtype=bool)
    basis = np.zeros((n, 0))
    for j in range(p):
        col = X[:, j]
        norm = np.linalg.norm(col)
        if norm == 0:
            aliased[j] = True
            continue
        resid = col - basis @ (basis.T @ col) if basis.shape[1] else col
        resid = resid - basis @ (basis.T @ resid) if basis.shape[1] else resid
        rn = np.linalg.norm(resid)
        if rn <= tol * norm * max(1.0, np.sqrt(n)):
            aliased[j] = True
        else:
            basis = np.column_stack([basis, resid / rn])
    return aliased


@dataclass(frozen=True, slots=True)
class CrossoverData:
    """Checked, label-coded crossover data (all rows, observed or not); see :func:`parse_crossover`."""

    frame: pd.DataFrame
    outcome: str
    period_column: str
    subject: np.ndarray
    period: np.ndarray
    sequence: np.ndarray
    treatment: np.ndarray
    y: np.ndarray
    treatment_levels: tuple[str, ...]
    subject_column: str
    rows: np.ndarray  # spreadsheet row of every row (header = 1)

    def carryover(self) -> np.ndarray:
        """Previous-period treatment of every row (reference for the first period)."""
        return _carryover_labels(
            self.frame, self.subject, self.period, self.treatment, period=self.period_column,
            ref=self.treatment_levels[0], levels=list(self.treatment_levels), rows=self.rows,
        )


def parse_crossover(
    data: pd.DataFrame,
    *,
    outcome: str = "y",
    subject: str = "subject",
    period: str = "period",
    sequence: str = "sequence",
    treatment: str = "treatment",
    covariates: Sequence[str] = (),
    ref: str | None = None,
) -> CrossoverData:
    """Check the columns and values of long crossover data and code the factors as labels.

    The values and the design are checked by :func:`ketapain.data.check_long` (one sequence
    per subject, the treatment the sequence gives at each period, periods 1..P, near-duplicate
    labels, ...).

    Raises
    ------
    DataError
        A column is missing, a factor value is missing, the outcome is not numeric or infinite,
        a subject has two rows for one period, or the design is inconsistent (every problem,
        grouped by kind).
    ModelError
        A single treatment; ``ref`` is not a treatment level.
    """
    missing_cov = [c for c in dict.fromkeys(covariates) if c not in data.columns]
    if missing_cov:
        raise DataError(
            f"covariate column(s) {', '.join(map(repr, missing_cov))} missing; "
            f"columns present: {', '.join(map(str, data.columns))}", located=True, source="data"
        )
    checked = check_long(data, outcome=outcome, subject=subject, period=period, sequence=sequence, treatment=treatment)
    rows = _spreadsheet_rows(data)
    frame = checked.reset_index(drop=True)
    subj = as_labels(frame[subject], subject)
    per = as_labels(frame[period], period)
    seq = as_labels(frame[sequence], sequence)
    trt = as_labels(frame[treatment], treatment)
    yv = frame[outcome].to_numpy(dtype=float)
    trt_levels = sorted(set(trt.tolist()))
    if len(trt_levels) < 2:
        raise ModelError(
            f"{treatment}: the data have a single treatment ({trt_levels[0]!r}): nothing to compare; "
            "a crossover model needs at least 2 treatments", column=treatment, value=trt_levels[0], allowed="2 or more treatments",
        )
    if ref is not None:
        if ref not in trt_levels:
            raise ModelError(f"ref={ref!r} is not a treatment level; levels: {', '.join(trt_levels)}")
        trt_levels = [ref] + [lev for lev in trt_levels if lev != ref]
    return CrossoverData(
        frame=frame, outcome=outcome, period_column=period, subject=subj, period=per, sequence=seq,
        treatment=trt, y=yv, treatment_levels=tuple(trt_levels), subject_column=subject, rows=rows,
    )


def _spreadsheet_rows(data: pd.DataFrame) -> np.ndarray:
    """Row number of every row as its file numbers it: the index of a frame read by
    :func:`ketapain.data.read_long_csv`, else position + 2 (header = row 1)."""
    if data.index.name == "row" and pd.api.types.is_integer_dtype(data.index):
        return data.index.to_numpy(dtype=np.int64)
    return np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(data), dtype=np.int64)


def build_design(
    parsed: CrossoverData,
    *,
    model: ModelKind = "standard",
    carryover: bool = False,
    covariates: Sequence[str] = (),
    sequence_by_treatment: bool = False,
    carry_labels: np.ndarray | None = None,
) -> CrossoverDesign:
    """Design matrix of one crossover model from parsed data (see :func:`crossover_design`)."""
    check_option("model", model, MODEL_KIND)
    trt_levels = list(parsed.treatment_levels)
    carry = None
    if carryover:
        carry = parsed.carryover() if carry_labels is None else carry_labels
    rows = _ObservedRows.of(parsed)
    cols = _Columns(len(rows.y))
    tmat, tcols = _dummies(rows.trt, trt_levels, "treatment")
    cols.add(tmat, tcols, "treatment")
    if model == "standard":
        cols.add(*_dummies(rows.per, sorted(set(rows.per.tolist())), "period"), "period")
    smat, scols = _dummies(rows.seq, sorted(set(rows.seq.tolist())), "sequence")
    cols.add(smat, scols, "sequence")
    if carry is not None:
        cols.add(*_dummies(carry[rows.observed], trt_levels, "carryover"), "carryover")
    for cov in covariates:
        cols.add(*_covariate_columns(parsed, cov, np.flatnonzero(rows.observed)), cov)
    if sequence_by_treatment:
        inter = (smat[:, :, None] * tmat[:, None, :]).reshape(len(rows.y), -1)
        cols.add(inter, [f"{s}:{t}" for s in scols for t in tcols], "sequence:treatment")
    X = np.column_stack(cols.blocks)
    keep = ~_checked_alias_mask(X, cols)
    return CrossoverDesign(
        X=X[:, keep],
        y=rows.y,
        group_codes=rows.codes.astype(np.intp),
        subjects=tuple(str(s) for s in rows.subjects),
        columns=tuple(n for n, k in zip(cols.names, keep, strict=True) if k),
        terms=tuple(t for t, k in zip(cols.terms, keep, strict=True) if k),
        treatment_levels=tuple(trt_levels),
        formula=f"{parsed.outcome} ~ {' + '.join(cols.formula_terms)} + (1 | {parsed.subject_column})",
        dropped=tuple(cols.names[j] for j in np.flatnonzero(~keep)),
    )


@dataclass(frozen=True, slots=True)
class _ObservedRows:
    """The rows of parsed data with an observed outcome: outcome, factor labels, subject codes."""

    observed: np.ndarray
    y: np.ndarray
    per: np.ndarray
    seq: np.ndarray
    trt: np.ndarray
    subjects: np.ndarray
    codes: np.ndarray

    @classmethod
    def of(cls, parsed: CrossoverData) -> _ObservedRows:
        """Refuse data without 2 observed subjects or with a treatment never observed."""
        observed = ~np.isnan(parsed.y)
        if not observed.any():
            raise ModelError(f"the outcome {parsed.outcome!r} is missing on every row")
        subj, per, seq, trt = (a[observed] for a in (parsed.subject, parsed.period, parsed.sequence, parsed.treatment))
        subjects, codes = np.unique(subj, return_inverse=True)
        if subjects.size < 2:
            raise ModelError(f"{subjects.size} subject has an observed outcome; a mixed model needs at least 2")
        # Only levels seen in the analysed rows get columns (an unobserved level cannot be estimated).
        seen_trt = set(trt.tolist())
        unseen = [lev for lev in parsed.treatment_levels if lev not in seen_trt]
        if unseen:
            raise ModelError(
                f"treatment level(s) {', '.join(map(repr, unseen))} have no observed {parsed.outcome}; "
                "their effects cannot be estimated"
            )
        return cls(observed, parsed.y[observed], per, seq, trt, subjects, codes)


class _Columns:
    """The blocks of a design matrix being built, with their column names and terms."""

    def __init__(self, n_rows: int) -> None:
        self.blocks: list[np.ndarray] = [np.ones((n_rows, 1))]
        self.names: list[str] = ["(Intercept)"]
        self.terms: list[str] = ["(Intercept)"]
        self.formula_terms: list[str] = []

    def add(self, mat: np.ndarray, cols: list[str], term: str) -> None:
        """Columns ``cols`` (``mat``) of ``term``; the term joins the formula."""
        self.blocks.append(mat)
        self.names.extend(cols)
        self.terms.extend([term] * len(cols))
        self.formula_terms.append(term)


def _covariate_columns(parsed: CrossoverData, cov: str, obs_rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A numeric covariate as one column (finite values required), any other as dummies."""
    col = parsed.frame[cov].iloc[obs_rows].reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        vals = col.to_numpy(dtype=float)
        bad = ~np.isfinite(vals)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"covariate {cov}={vals[i]} is missing or not finite",
                            located=True, source="data", row=int(int(obs_rows[i]) + FIRST_DATA_ROW))
        return vals[:, None], [cov]
    lab = as_labels(col, cov)
    return _dummies(lab, sorted(set(lab.tolist())), cov)


def _checked_alias_mask(X: np.ndarray, cols: _Columns) -> np.ndarray:
    """Aliased columns (:func:`_alias_mask`); only sequence x treatment columns may be (they are
    dropped), any other is an error naming the columns and the model."""
    aliased = _alias_mask(X)
    nuisance = np.asarray(cols.terms) == "sequence:treatment"
    bad = aliased & ~nuisance
    if bad.any():
        names = [cols.names[j] for j in np.flatnonzero(bad)]
        raise ModelError(
            f"column(s) {', '.join(names)} are aliased with the other terms of "
            f"'{' + '.join(cols.formula_terms)}' in these data (not estimable); drop the term "
            "(e.g. carry-over is aliased in a 2x2 AB/BA design) or check the design"
        )
    return aliased


def crossover_design(
    data: pd.DataFrame,
    *,
    outcome: str = "y",
    subject: str = "subject",
    period: str = "period",
    sequence: str = "sequence",
    treatment: str = "treatment",
    model: ModelKind = "standard",
    carryover: bool = False,
    covariates: Sequence[str] = (),
    ref: str | None = None,
    sequence_by_treatment: bool = False,
) -> CrossoverDesign:
    """Build the fixed-effects design of a crossover model (see module docstring for coding).

    Parameters
    ----------
    data : long frame, one row per subject x period.
    outcome, subject, period, sequence, treatment : column names.
    model : ``"standard"`` = treatment + period + sequence; ``"paper"`` = treatment + sequence
        (the reference study's model, without period).
    carryover : add first-order carry-over terms.
    covariates : extra columns (numeric as is, text as dummy-coded factors).
    ref : treatment reference level (default: first in code-point order).
    sequence_by_treatment : add the sequence x treatment interaction; its columns aliased with
        the main effects are dropped (reported in ``dropped``).

    Raises
    ------
    DataError
        A column is missing, a factor value is missing, the outcome is not numeric or infinite.
    ModelError
        Unknown model or reference, fewer than 2 subjects, or a main-effect column aliased
        with the others (e.g. carry-over in a 2x2 AB/BA design).
    """
    check_option("model", model, MODEL_KIND)
    parsed = parse_crossover(
        data, outcome=outcome, subject=subject, period=period, sequence=sequence,
        treatment=treatment, covariates=covariates, ref=ref,
    )
    return build_design(
        parsed, model=model, carryover=carryover, covariates=covariates,
        sequence_by_treatment=sequence_by_treatment,
    )

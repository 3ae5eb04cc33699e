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
from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np
import pandas as pd

from ketapain._options import MODEL_KIND, check_option
from ketapain.data import check_long, is_checked_long
from ketapain.errors import FIRST_DATA_ROW, DataError, ModelError
from ketapain.stats._lmm import dense_design

__all__ = [
    "CrossoverData",
    "CrossoverDesign",
    "Factor",
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

    The design is held as its distinct rows: row ``i`` of ``X`` is ``cell_x[cell[i]]`` (a
    crossover design has a few dozen distinct rows whatever the number of subjects; with a
    covariate every row is its own cell). ``X`` builds the dense matrix when it is asked for.

    Attributes
    ----------
    cell_x : (C, p) the distinct rows of the design; cell : (N,) the cell of every row.
    y : (N,) outcome; group_codes : (N,) subject codes 0..G-1.
    subjects : subject labels, indexed by code.
    columns : column names; terms : the term each column belongs to.
    treatment_levels : all treatment levels, reference first.
    formula : the model as text, e.g. ``y ~ treatment + period + sequence + (1 | subject)``.
    dropped : aliased nuisance columns that were removed (only interaction columns can be).
    """

    cell_x: np.ndarray
    cell: np.ndarray
    y: np.ndarray
    group_codes: np.ndarray
    subjects: pd.Index
    columns: tuple[str, ...]
    terms: tuple[str, ...]
    treatment_levels: tuple[str, ...]
    formula: str
    dropped: tuple[str, ...]
    _dense: list[np.ndarray] = field(default_factory=list, compare=False, repr=False)

    @property
    def X(self) -> np.ndarray:  # noqa: N802 - the design matrix's usual name
        """(N, p) dense design (built on first use and kept)."""
        if not self._dense:
            self._dense.append(dense_design(self.cell_x, self.cell))
        return self._dense[0]

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


@dataclass(frozen=True, slots=True)
class Factor:
    """A checked factor column as integer codes (int32): ``levels[codes[i]]`` is row ``i``'s label
    (the label of :func:`as_labels`); the levels are in code-point order, except treatments
    (reference first)."""

    codes: np.ndarray
    levels: pd.Index

    def label(self, i: int) -> str:
        """The label of row ``i``."""
        return str(self.levels[int(self.codes[i])])


def _factor(values: pd.Series, column: str) -> Factor:
    """:class:`Factor` of a column normalised by :func:`ketapain.data.check_long` (stripped
    text, or whole numbers): coded without a Python string per row."""
    if isinstance(values.dtype, pd.StringDtype) and not values.hasnans:
        codes, uniques = pd.factorize(values.array, sort=True)  # text: code-point (UTF-8 byte) order
        return Factor(codes.astype(np.int32), pd.Index(uniques))
    codes, uniques = pd.factorize(values.array)
    labels = as_labels(pd.Series(uniques), column)
    levels, inverse = np.unique(labels, return_inverse=True)
    return Factor(inverse.reshape(-1)[codes].astype(np.int32), pd.Index(levels, dtype=object))


def _present(codes: np.ndarray, n_levels: int) -> np.ndarray:
    """The level indices that occur in ``codes``, ascending."""
    return np.flatnonzero(np.bincount(codes, minlength=n_levels) > 0)


def _period_rank(levels: pd.Index) -> np.ndarray:
    """Chronological rank of each period level: numeric order when all are integers."""
    labels = [str(v) for v in levels]
    try:
        chrono = sorted(labels, key=int)
    except ValueError:
        chrono = sorted(labels)
    rank = {label: k for k, label in enumerate(chrono)}
    return np.array([rank[label] for label in labels], dtype=np.intp)


def _carryover_codes(parsed: CrossoverData) -> np.ndarray:
    """Treatment of the previous period for each row ("none" -> reference), as codes into
    ``parsed.treatment_levels``; vectorised."""
    levels = list(parsed.treatment_levels)
    if "carryover" in parsed.frame.columns:
        raw = parsed.frame["carryover"]
        lab = np.array([str(v).strip() for v in raw.to_numpy()], dtype=object)
        none = raw.isna().to_numpy() | np.isin(np.char.lower(lab.astype(str)), list(_NONE_LABELS))
        lab[none] = levels[0]
        bad = ~np.isin(lab, levels)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"carryover={raw.iloc[i]!r} is not a treatment level "
                f"({', '.join(levels)}) nor empty/'none'", located=True, source="data", row=int(parsed.rows[i])
            )
        return pd.Index(levels).get_indexer(pd.Index(lab)).astype(np.intp)
    per, subj = parsed.period, parsed.subject
    rank = _period_rank(per.levels)[per.codes]
    n_rank = len(per.levels)
    s_code, t_code = subj.codes.astype(np.intp), parsed.treatment.codes
    table = np.full((int(s_code.max()) + 1) * n_rank, -1, dtype=np.intp)
    table[s_code * n_rank + rank] = t_code
    first = rank == 0
    prev = np.where(first, 0, table[s_code * n_rank + np.maximum(rank - 1, 0)])
    missing = (prev < 0) & ~first
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise ModelError(
            f"subject {subj.label(i)!r} has no row for the period before "
            f"period {per.label(i)!r}, so its carry-over is unknown; keep that period's "
            "row with an empty outcome, or give a 'carryover' column", located=True, source="data", row=int(parsed.rows[i])
        )
    return prev


def _indicators(codes: np.ndarray, levels: np.ndarray, names: pd.Index, prefix: str) -> tuple[np.ndarray, list[str]]:
    """Treatment-coded dummies of ``codes``: one column per level of ``levels`` (level indices,
    the first being the reference) but the first."""
    mat = (codes[:, None] == levels[None, 1:]).astype(float)
    return mat, [f"{prefix}[{names[int(k)]}]" for k in levels[1:]]


def _alias_mask(X: np.ndarray, tol: float = 1e-9, *, n_rows: int | None = None) -> np.ndarray:
    """True for each column that is a linear combination of the columns before it.

    ``X`` may be the distinct rows of a design, each scaled by the square root of its count:
    it has the design's ``X'X``, hence its aliasing; ``n_rows`` is then the design's rows."""
    n, p = X.shape
    n_rows = n if n_rows is None else n_rows
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
        if rn <= tol * norm * max(1.0, np.sqrt(n_rows)):
            aliased[j] = True
        else:
            basis = np.column_stack([basis, resid / rn])
    return aliased


@dataclass(frozen=True, slots=True)
class CrossoverData:
    """Checked, integer-coded crossover data (all rows, observed or not); see :func:`parse_crossover`."""

    frame: pd.DataFrame
    outcome: str
    period_column: str
    subject: Factor
    period: Factor
    sequence: Factor
    treatment: Factor  # coded in the order of treatment_levels
    y: np.ndarray
    treatment_levels: tuple[str, ...]
    subject_column: str
    rows: np.ndarray  # spreadsheet row of every row (header = 1)
    _shared: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def carryover(self) -> np.ndarray:
        """Previous-period treatment of every row (reference for the first period), as codes
        into ``treatment_levels``."""
        return _carryover_codes(self)


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
    """Check the columns and values of long crossover data and code the factors.

    The values and the design are checked by :func:`ketapain.data.check_long` (one sequence
    per subject, the treatment the sequence gives at each period, periods 1..P, near-duplicate
    labels, ...), unless ``data`` is a frame :func:`~ketapain.data.check_long` returned for the
    same columns (the CLI's reader), which is not checked twice.

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
    checked = data if is_checked_long(data, outcome=outcome, subject=subject, period=period, sequence=sequence,
                                      treatment=treatment) else check_long(data, outcome=outcome, subject=subject,
                                                                           period=period, sequence=sequence, treatment=treatment)
    rows = _spreadsheet_rows(data)
    frame = checked.reset_index(drop=True)
    trt = _factor(frame[treatment], treatment)
    trt_levels = [str(v) for v in trt.levels]
    if len(trt_levels) < 2:
        raise ModelError(
            f"{treatment}: the data have a single treatment ({trt_levels[0]!r}): nothing to compare; "
            "a crossover model needs at least 2 treatments", column=treatment, value=trt_levels[0], allowed="2 or more treatments",
        )
    if ref is not None:
        if ref not in trt_levels:
            raise ModelError(f"ref={ref!r} is not a treatment level; levels: {', '.join(trt_levels)}")
        trt_levels = [ref] + [lev for lev in trt_levels if lev != ref]
    new_of_old = pd.Index(trt_levels).get_indexer(trt.levels).astype(np.intp)
    return CrossoverData(
        frame=frame, outcome=outcome, period_column=period, subject=_factor(frame[subject], subject),
        period=_factor(frame[period], period), sequence=_factor(frame[sequence], sequence),
        treatment=Factor(new_of_old[trt.codes].astype(np.int32), pd.Index(trt_levels, dtype=object)),
        y=frame[outcome].to_numpy(dtype=float), treatment_levels=tuple(trt_levels), subject_column=subject, rows=rows,
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
    carry_codes: np.ndarray | None = None,
) -> CrossoverDesign:
    """Design matrix of one crossover model from parsed data (see :func:`crossover_design`),
    built on one row per distinct combination of the factors (its cells)."""
    check_option("model", model, MODEL_KIND)
    carry = None
    if carryover:
        carry = parsed.carryover() if carry_codes is None else carry_codes
    rows = _ObservedRows.of(parsed, carry, cells=not covariates)
    rep = rows.representatives
    n_trt = len(parsed.treatment_levels)
    trt_all = np.arange(n_trt)
    cols = _Columns(rep.size)
    tmat, tcols = _indicators(rows.trt[rep], trt_all, parsed.treatment.levels, "treatment")
    cols.add(tmat, tcols, "treatment")
    if model == "standard":
        per = _present(rows.per, len(parsed.period.levels))
        cols.add(*_indicators(rows.per[rep], per, parsed.period.levels, "period"), "period")
    seq_levels = _present(rows.seq, len(parsed.sequence.levels))
    smat, scols = _indicators(rows.seq[rep], seq_levels, parsed.sequence.levels, "sequence")
    cols.add(smat, scols, "sequence")
    if carry is not None:
        cols.add(*_indicators(carry[rows.observed][rep], trt_all, parsed.treatment.levels, "carryover"), "carryover")
    for cov in covariates:
        cols.add(*_covariate_columns(parsed, cov, np.flatnonzero(rows.observed)), cov)
    if sequence_by_treatment:
        inter = (smat[:, :, None] * tmat[:, None, :]).reshape(rep.size, -1)
        cols.add(inter, [f"{s}:{t}" for s in scols for t in tcols], "sequence:treatment")
    X = np.column_stack(cols.blocks)
    keep = ~_checked_alias_mask(X * np.sqrt(rows.cell_counts)[:, None], cols, n_rows=rows.y.size)
    return CrossoverDesign(
        cell_x=X[:, keep],
        cell=rows.cell,
        y=rows.y,
        group_codes=rows.codes,
        subjects=rows.subjects,
        columns=tuple(n for n, k in zip(cols.names, keep, strict=True) if k),
        terms=tuple(t for t, k in zip(cols.terms, keep, strict=True) if k),
        treatment_levels=parsed.treatment_levels,
        formula=f"{parsed.outcome} ~ {' + '.join(cols.formula_terms)} + (1 | {parsed.subject_column})",
        dropped=tuple(cols.names[j] for j in np.flatnonzero(~keep)),
    )


@dataclass(frozen=True, slots=True)
class _ObservedRows:
    """The rows of parsed data with an observed outcome: outcome, factor codes, subject codes,
    and their cells (one per distinct treatment, period, sequence and carry-over; or one per
    row) with a representative row and the count of each."""

    observed: np.ndarray
    y: np.ndarray
    per: np.ndarray
    seq: np.ndarray
    trt: np.ndarray
    subjects: pd.Index
    codes: np.ndarray
    cell: np.ndarray
    representatives: np.ndarray
    cell_counts: np.ndarray

    @classmethod
    def of(cls, parsed: CrossoverData, carry: np.ndarray | None, *, cells: bool) -> _ObservedRows:
        """Refuse data without 2 observed subjects or with a treatment never observed."""
        observed = ~np.isnan(parsed.y)
        if not observed.any():
            raise ModelError(f"the outcome {parsed.outcome!r} is missing on every row")
        per, seq, trt = (f.codes[observed] for f in (parsed.period, parsed.sequence, parsed.treatment))
        if "codes" not in parsed._shared:  # the designs of one analysis share these (N,) arrays
            subj = parsed.subject.codes[observed]
            present = np.bincount(subj, minlength=len(parsed.subject.levels)) > 0
            parsed._shared.update(y=parsed.y[observed], subjects=parsed.subject.levels[present],
                                  codes=(np.cumsum(present) - 1)[subj].astype(np.intp))
            del subj
        y, subjects, codes = (cast(np.ndarray, parsed._shared["y"]), cast(pd.Index, parsed._shared["subjects"]),
                              cast(np.ndarray, parsed._shared["codes"]))
        if subjects.size < 2:
            raise ModelError(f"{subjects.size} subject has an observed outcome; a mixed model needs at least 2")
        # Only levels seen in the analysed rows get columns (an unobserved level cannot be estimated).
        seen = np.bincount(trt, minlength=len(parsed.treatment_levels)) > 0
        unseen = [lev for lev, s in zip(parsed.treatment_levels, seen, strict=True) if not s]
        if unseen:
            raise ModelError(
                f"treatment level(s) {', '.join(map(repr, unseen))} have no observed {parsed.outcome}; "
                "their effects cannot be estimated"
            )
        cell, rep = _cells(trt, per, seq, None if carry is None else carry[observed], parsed) if cells else (
            np.arange(trt.size, dtype=np.intp), np.arange(trt.size, dtype=np.intp))
        return cls(observed, y, per, seq, trt, subjects, codes, cell, rep, np.bincount(cell, minlength=rep.size).astype(float))


def _cells(trt: np.ndarray, per: np.ndarray, seq: np.ndarray, carry: np.ndarray | None,
           parsed: CrossoverData) -> tuple[np.ndarray, np.ndarray]:
    """Cell of every row (its combination of treatment, period, sequence and carry-over, in
    key order) and one row of each cell."""
    n_trt = len(parsed.treatment_levels)
    key = (trt.astype(np.int64) * len(parsed.period.levels) + per) * len(parsed.sequence.levels) + seq
    if carry is not None:
        key = key * n_trt + carry
    uniq, cell = np.unique(key, return_inverse=True)
    cell = cell.reshape(-1).astype(np.int16 if uniq.size < 2**15 else np.intp)  # a few dozen cells: 2 bytes a row
    rep = np.empty(uniq.size, dtype=np.intp)
    rep[cell] = np.arange(cell.size, dtype=np.intp)  # any row of a cell: they share their design row
    return cell, rep


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
    levels = pd.Index(sorted(set(lab.tolist())), dtype=object)
    return _indicators(levels.get_indexer(lab), np.arange(len(levels)), levels, cov)


def _checked_alias_mask(X: np.ndarray, cols: _Columns, *, n_rows: int) -> np.ndarray:
    """Aliased columns (:func:`_alias_mask`); only sequence x treatment columns may be (they are
    dropped), any other is an error naming the columns and the model."""
    aliased = _alias_mask(X, n_rows=n_rows)
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

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

from ketapain.errors import DataError, ModelError

__all__ = ["CrossoverDesign", "ModelKind", "crossover_design"]

ModelKind = Literal["standard", "paper"]
MODEL_KINDS: tuple[str, ...] = ("standard", "paper")
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


def _as_labels(values: pd.Series, column: str) -> pd.Series:
    missing = values.isna()
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0]) + 1
        raise DataError(f"data row {row}: {column} is missing; every row needs a {column}")
    if pd.api.types.is_float_dtype(values) and np.all(np.mod(values.to_numpy(), 1) == 0):
        values = values.astype(np.int64)
    return values.astype(str).str.strip()


def _period_order(labels: pd.Series) -> dict[str, int]:
    levels = sorted(labels.unique())
    try:
        numeric = sorted(levels, key=lambda v: int(v))
    except ValueError:
        numeric = levels
    return {lev: i for i, lev in enumerate(numeric)}


def _carryover(
    frame: pd.DataFrame, *, subject: str, period: str, treatment: str, ref: str, levels: list[str]
) -> pd.Series:
    """Treatment of the previous period for each row ("none" -> reference)."""
    if "carryover" in frame.columns:
        raw = frame["carryover"]
        lab = raw.astype(str).str.strip()
        lab = lab.where(~(raw.isna() | lab.str.lower().isin(_NONE_LABELS)), ref)
        bad = ~lab.isin(levels)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise DataError(
                f"data row {row}: carryover={raw.iloc[row - 1]!r} is not a treatment level "
                f"({', '.join(levels)}) nor empty/'none'"
            )
        return lab
    rank = frame[period].map(_period_order(frame[period]))
    key = pd.DataFrame({"s": frame[subject], "r": rank, "t": frame[treatment]})
    prev = key.assign(r=key["r"] + 1).rename(columns={"t": "prev"})
    merged = key.merge(prev, on=["s", "r"], how="left", validate="many_to_one")
    first = merged["r"].to_numpy() == 0
    missing = merged["prev"].isna().to_numpy() & ~first
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise ModelError(
            f"data row {i + 1}: subject {key['s'].iloc[i]!r} has no row for the period before "
            f"period {frame[period].iloc[i]!r}, so its carry-over is unknown; keep that period's "
            "row with an empty outcome, or give a 'carryover' column"
        )
    out = merged["prev"].where(~first, ref)
    return pd.Series(out.to_numpy(), index=frame.index)


def _dummies(labels: pd.Series, levels: list[str], prefix: str) -> tuple[np.ndarray, list[str]]:
    codes = labels.map({lev: i for i, lev in enumerate(levels)}).to_numpy()
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
    if model not in MODEL_KINDS:
        raise ModelError(f"model={model!r} is not one of {', '.join(MODEL_KINDS)}")
    needed = [outcome, subject, period, treatment, *covariates]
    if model == "standard" or model == "paper":
        needed.append(sequence)
    missing_cols = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if missing_cols:
        raise DataError(
            f"data: required column(s) {', '.join(map(repr, missing_cols))} missing; "
            f"columns present: {', '.join(map(str, data.columns))}"
        )
    frame = data.reset_index(drop=True)
    subj = _as_labels(frame[subject], subject)
    per = _as_labels(frame[period], period)
    seq = _as_labels(frame[sequence], sequence)
    trt = _as_labels(frame[treatment], treatment)
    y_all = pd.to_numeric(frame[outcome], errors="coerce")
    bad_text = y_all.isna() & frame[outcome].notna() & (frame[outcome].astype(str).str.strip() != "")
    if bad_text.any():
        row = int(np.flatnonzero(bad_text.to_numpy())[0]) + 1
        raise DataError(f"data row {row}: {outcome}={frame[outcome].iloc[row - 1]!r} is not a number")
    yv = y_all.to_numpy(dtype=float)
    if np.isinf(yv).any():
        row = int(np.flatnonzero(np.isinf(yv))[0]) + 1
        raise DataError(f"data row {row}: {outcome}={yv[row - 1]} is infinite; allowed: finite numbers or empty")
    dup = pd.DataFrame({"s": subj, "p": per}).duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0]) + 1
        raise DataError(f"data row {row}: subject {subj.iloc[row - 1]!r} has two rows for period {per.iloc[row - 1]!r}")

    trt_levels = sorted(trt.unique())
    if ref is not None:
        if ref not in trt_levels:
            raise ModelError(f"ref={ref!r} is not a treatment level; levels: {', '.join(trt_levels)}")
        trt_levels = [ref] + [lev for lev in trt_levels if lev != ref]
    ref_level = trt_levels[0]
    work = pd.DataFrame({"s": subj, "p": per, "q": seq, "t": trt})
    carry = None
    if carryover:
        carry = _carryover(
            frame.assign(**{subject: subj, period: per, treatment: trt}),
            subject=subject, period=period, treatment=treatment, ref=ref_level, levels=trt_levels,
        )

    observed = ~np.isnan(yv)
    if not observed.any():
        raise ModelError(f"the outcome {outcome!r} is missing on every row")
    work = work[observed].reset_index(drop=True)
    y = yv[observed]
    subjects, codes = np.unique(work["s"].to_numpy(), return_inverse=True)
    if subjects.size < 2:
        raise ModelError(f"{subjects.size} subject has an observed outcome; a mixed model needs at least 2")
    # Only levels seen in the analysed rows get columns (an unobserved level cannot be estimated).
    seen_trt = set(work["t"])
    unseen = [lev for lev in trt_levels if lev not in seen_trt]
    if unseen:
        raise ModelError(
            f"treatment level(s) {', '.join(map(repr, unseen))} have no observed {outcome}; "
            "their effects cannot be estimated"
        )

    blocks: list[np.ndarray] = [np.ones((len(y), 1))]
    names: list[str] = ["(Intercept)"]
    terms: list[str] = ["(Intercept)"]

    def add(mat: np.ndarray, cols: list[str], term: str) -> None:
        blocks.append(mat)
        names.extend(cols)
        terms.extend([term] * len(cols))

    tmat, tcols = _dummies(work["t"], trt_levels, "treatment")
    add(tmat, tcols, "treatment")
    formula_terms = ["treatment"]
    if model == "standard":
        add(*_dummies(work["p"], sorted(work["p"].unique()), "period"), "period")
        formula_terms.append("period")
    seq_levels = sorted(work["q"].unique())
    smat, scols = _dummies(work["q"], seq_levels, "sequence")
    add(smat, scols, "sequence")
    formula_terms.append("sequence")
    if carry is not None:
        add(*_dummies(carry[observed].reset_index(drop=True), trt_levels, "carryover"), "carryover")
        formula_terms.append("carryover")
    for cov in covariates:
        col = frame[cov][observed].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            vals = col.to_numpy(dtype=float)
            if not np.isfinite(vals).all():
                row = int(np.flatnonzero(observed)[np.flatnonzero(~np.isfinite(vals))[0]]) + 1
                raise DataError(f"data row {row}: covariate {cov}={vals[np.flatnonzero(~np.isfinite(vals))[0]]} is missing or not finite")
            add(vals[:, None], [cov], cov)
        else:
            lab = _as_labels(col, cov)
            add(*_dummies(lab, sorted(lab.unique()), cov), cov)
        formula_terms.append(cov)
    if sequence_by_treatment:
        inter = (smat[:, :, None] * tmat[:, None, :]).reshape(len(y), -1)
        icols = [f"{s}:{t}" for s in scols for t in tcols]
        add(inter, icols, "sequence:treatment")
        formula_terms.append("sequence:treatment")

    X = np.column_stack(blocks)
    aliased = _alias_mask(X)
    nuisance = np.asarray(terms) == "sequence:treatment"
    bad = aliased & ~nuisance
    if bad.any():
        cols = [names[j] for j in np.flatnonzero(bad)]
        raise ModelError(
            f"column(s) {', '.join(cols)} are aliased with the other terms of "
            f"'{' + '.join(formula_terms)}' in these data (not estimable); drop the term "
            "(e.g. carry-over is aliased in a 2x2 AB/BA design) or check the design"
        )
    keep = ~aliased
    dropped = tuple(names[j] for j in np.flatnonzero(aliased))
    formula = f"{outcome} ~ {' + '.join(formula_terms)} + (1 | {subject})"
    return CrossoverDesign(
        X=X[:, keep],
        y=y,
        group_codes=codes.astype(np.intp),
        subjects=tuple(str(s) for s in subjects),
        columns=tuple(n for n, k in zip(names, keep, strict=True) if k),
        terms=tuple(t for t, k in zip(terms, keep, strict=True) if k),
        treatment_levels=tuple(trt_levels),
        formula=formula,
        dropped=dropped,
    )

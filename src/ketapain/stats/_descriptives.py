"""Descriptive statistics with the protocol's rule: mean ± SD, or median [IQR] if not normal.

One idea: describe a continuous variable the way the KETAPAIN report does, choosing the
summary with a Shapiro-Wilk test, for one sample (:func:`describe`) or per group
(:func:`describe_by`), with both paths sharing one vectorised core.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from scipy import stats

from ketapain.errors import DataError

__all__ = ["Description", "describe", "describe_by"]

QuantileMethod = Literal[
    "inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf", "hazen", "weibull",
    "linear", "median_unbiased", "normal_unbiased",
]
#: numpy quantile methods and their Hyndman & Fan (1996) / R ``quantile(type=)`` numbers.
QUANTILE_METHODS: dict[str, int] = {
    "inverted_cdf": 1,
    "averaged_inverted_cdf": 2,
    "closest_observation": 3,
    "interpolated_inverted_cdf": 4,
    "hazen": 5,
    "weibull": 6,
    "linear": 7,
    "median_unbiased": 8,
    "normal_unbiased": 9,
}
STAT_COLUMNS = (
    "n",
    "n_missing",
    "mean",
    "sd",
    "median",
    "q1",
    "q3",
    "shapiro_w",
    "shapiro_p",
    "normal",
    "kind",
)
_SHAPIRO_LARGE_N = r"scipy\.stats\.shapiro: For N > 5000"


@dataclass(frozen=True, slots=True)
class Description:
    """Summary of one continuous sample, with the summary the protocol's rule picks.

    Attributes
    ----------
    n, n_missing : int
        Non-missing values used, and missing (NaN/None) values left out.
    mean, sd : float or None
        Mean and standard deviation (``ddof=1``). None when undefined: no value (mean,
        sd) or a single value (sd).
    median, q1, q3 : float or None
        Median and quartiles by ``quantile_method``. None when ``n == 0``.
    shapiro_w, shapiro_p : float or None
        Shapiro-Wilk statistic and p-value. None when the sample cannot be tested:
        ``n < 3`` or all values equal.
    normal : bool or None
        ``shapiro_p >= alpha``; None when not tested.
    kind : {"mean_sd", "median_iqr"}
        ``"median_iqr"`` when Shapiro-Wilk rejects normality (``shapiro_p < alpha``),
        otherwise ``"mean_sd"`` (including when the sample cannot be tested).
    alpha : float
        Level of the Shapiro-Wilk test.
    quantile_method : str
        numpy quantile method used for median and quartiles.
    """

    n: int
    n_missing: int
    mean: float | None
    sd: float | None
    median: float | None
    q1: float | None
    q3: float | None
    shapiro_w: float | None
    shapiro_p: float | None
    normal: bool | None
    kind: Literal["mean_sd", "median_iqr"]
    alpha: float
    quantile_method: str

    def format(self, digits: int = 0) -> str:
        """Format the summary as printed in a table: ``"187 ± 90"`` or ``"5 [3; 12]"``.

        Undefined numbers print as ``NA`` (``"NA"`` alone when ``n == 0``).

        Examples
        --------
        >>> describe([1, 2, 3, 4, 100]).format()
        '3 [2; 4]'
        >>> describe([4.0, 5.0, 6.5]).format(digits=1)
        '5.2 ± 1.3'
        """
        if self.n == 0:
            return "NA"
        if self.kind == "median_iqr":
            return f"{_fmt(self.median, digits)} [{_fmt(self.q1, digits)}; {_fmt(self.q3, digits)}]"
        return f"{_fmt(self.mean, digits)} ± {_fmt(self.sd, digits)}"

    def summary(self, digits: int = 0) -> str:
        """One line: the formatted summary, counts and the Shapiro-Wilk test."""
        if self.shapiro_p is None:
            test = "Shapiro-Wilk not run: needs >= 3 values, not all equal"
        else:
            test = f"Shapiro-Wilk W = {self.shapiro_w:.3f}, p = {self.shapiro_p:.3g}"
        return f"{self.format(digits)} (n = {self.n}, missing = {self.n_missing}; {test})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field (None where undefined)."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """One-row frame with the columns of :func:`describe_by` (NaN where None)."""
        row = {name: getattr(self, name) for name in STAT_COLUMNS}
        frame = pd.DataFrame([row]).astype({"n": "int64", "n_missing": "int64", "normal": "boolean"})
        numeric = ["mean", "sd", "median", "q1", "q3", "shapiro_w", "shapiro_p"]
        frame[numeric] = frame[numeric].astype("float64")
        return frame


def describe(values: Any, *, alpha: float = 0.05, quantile_method: str = "linear") -> Description:
    r"""Describe a sample: mean ± SD, or median [IQR] when Shapiro-Wilk rejects normality.

    Parameters
    ----------
    values : array-like of float
        One-dimensional numbers; NaN, None and ``pd.NA`` are missing and counted apart.
    alpha : float, default 0.05
        Level of the Shapiro-Wilk test, in (0, 1).
    quantile_method : str, default "linear"
        numpy ``quantile`` method for median, q1 and q3; see Notes.

    Returns
    -------
    Description

    Raises
    ------
    DataError
        ``values`` is not one-dimensional, holds a non-number or an infinite value;
        ``alpha`` is not in (0, 1); ``quantile_method`` is not one of the nine sample
        quantile definitions (listed in the message).

    Notes
    -----
    With the :math:`n` non-missing values :math:`x_i`: mean
    :math:`\bar x = \sum x_i / n`, SD :math:`s = \sqrt{\sum (x_i - \bar x)^2/(n-1)}`,
    Shapiro-Wilk by :func:`scipy.stats.shapiro` (Royston's algorithm, as R's
    ``shapiro.test``). The rule of the protocol: if :math:`p < \alpha` the sample is
    described as median [q1; q3], otherwise as mean ± SD.

    Undefined results are None, never NaN: ``n == 0`` gives None for every statistic;
    ``n == 1`` has no SD; ``n < 3`` or a sample whose values are all equal cannot be
    tested, so ``shapiro_w``, ``shapiro_p`` and ``normal`` are None and the kind is
    ``"mean_sd"``. Above 5000 values scipy's p-value uses Royston's approximation
    beyond the range it was checked on (R refuses such samples); it is used as is.

    Quantiles: ``"linear"`` is Hyndman & Fan type 7, R's default
    ``quantile(x, type = 7)``; the position of the p-quantile is :math:`1 + (n-1)p`.
    Stata differs: ``centile`` (and ``_pctile, altdef``) use type 6, position
    :math:`(n+1)p`, here ``"weibull"``; ``summarize, detail``, ``tabstat`` and
    ``_pctile`` use type 2, here ``"averaged_inverted_cdf"``. All nine types are
    accepted by their numpy names (type 1 ``"inverted_cdf"`` ... type 9
    ``"normal_unbiased"``); the median uses the same method as the quartiles.

    References
    ----------
    Hyndman RJ, Fan Y. Sample quantiles in statistical packages. *Am Stat*
    1996;50:361-5.

    Examples
    --------
    >>> d = describe([2, 4, 4, 5, 7, 9])
    >>> d.kind, d.format()
    ('mean_sd', '5 ± 2')
    >>> skewed = describe([1, 1, 2, 2, 3, 3, 4, 5, 30, 60], quantile_method="weibull")
    >>> skewed.kind, skewed.normal, skewed.format()
    ('median_iqr', False, '3 [2; 11]')
    >>> describe([3.0, None]).shapiro_p is None
    True
    """
    array = _to_float_array(values)
    _check_options(alpha, quantile_method)
    missing = np.isnan(array)
    core = _describe_matrix(array[None, :], alpha=alpha, quantile_method=quantile_method)
    return Description(
        n=int(core["n"][0]),
        n_missing=int(missing.sum()),
        mean=_none_if_nan(core["mean"][0]),
        sd=_none_if_nan(core["sd"][0]),
        median=_none_if_nan(core["median"][0]),
        q1=_none_if_nan(core["q1"][0]),
        q3=_none_if_nan(core["q3"][0]),
        shapiro_w=_none_if_nan(core["shapiro_w"][0]),
        shapiro_p=_none_if_nan(core["shapiro_p"][0]),
        normal=None if core["normal"][0] is pd.NA else bool(core["normal"][0]),
        kind=core["kind"][0],
        alpha=float(alpha),
        quantile_method=quantile_method,
    )


def describe_by(
    frame: pd.DataFrame,
    *,
    value: str,
    by: str | Sequence[str],
    alpha: float = 0.05,
    quantile_method: str = "linear",
) -> pd.DataFrame:
    """:func:`describe` per group of a long frame, as one tidy frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long data, one row per observation.
    value : str
        Column to describe (numbers; NaN is missing).
    by : str or sequence of str
        Grouping column(s), e.g. ``"treatment"`` or ``["treatment", "window_day"]``.
    alpha, quantile_method
        As in :func:`describe`.

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by the group keys: the ``by`` columns, then ``n``,
        ``n_missing`` (int), ``mean``, ``sd``, ``median``, ``q1``, ``q3``,
        ``shapiro_w``, ``shapiro_p`` (float; NaN exactly where :class:`Description`
        has None, which ``n`` explains), ``normal`` (nullable boolean, ``<NA>`` when not
        tested) and ``kind`` (``"mean_sd"`` or ``"median_iqr"``). ``attrs`` records
        ``value``, ``alpha`` and ``quantile_method``. Formatting is left to
        :meth:`Description.format` and the report.

    Raises
    ------
    DataError
        A column is missing, a group key is missing, a value is not a number or is
        infinite (the message gives the row, numbered from 1 in positional order), or an
        option is invalid as in :func:`describe`.

    Notes
    -----
    Same definitions as :func:`describe`, which gives identical numbers for each group.
    Values are laid out as a groups x largest-group array padded with NaN; counts,
    means, SDs and quantiles are computed over it at once, and Shapiro-Wilk is run on
    the testable rows in one :func:`scipy.stats.shapiro` call.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"arm": ["P"] * 5 + ["K"] * 5,
    ...                    "auc": [180, 190, 200, 170, 210, 1, 2, 3, 4, 90]})
    >>> out = describe_by(df, value="auc", by="arm")
    >>> out[["arm", "n", "mean", "median", "kind"]]
      arm  n   mean  median        kind
    0   K  5   20.0     3.0  median_iqr
    1   P  5  190.0   190.0     mean_sd
    """
    keys = _checked_keys(frame, value=value, by=by, alpha=alpha, quantile_method=quantile_method)
    values = _to_float_array(frame[value], column=value)

    grouped = frame.groupby(keys, sort=True, observed=True, dropna=False)
    group = grouped.ngroup().to_numpy()
    sizes = grouped.size()
    counts = np.bincount(group, minlength=len(sizes))
    matrix = _group_matrix(group, counts, values)
    core = _describe_matrix(matrix, alpha=alpha, quantile_method=quantile_method)
    result = sizes.index.to_frame(index=False)
    result["n"] = core["n"]
    result["n_missing"] = counts - core["n"]
    for name in ("mean", "sd", "median", "q1", "q3", "shapiro_w", "shapiro_p", "normal", "kind"):
        result[name] = core[name]
    result.attrs.update({"value": value, "alpha": float(alpha), "quantile_method": quantile_method})
    return result


def _checked_keys(frame: pd.DataFrame, *, value: str, by: str | Sequence[str], alpha: float,
                  quantile_method: str) -> list[str]:
    """The grouping columns of :func:`describe_by`, after checking the frame, its columns, the
    options and that no group key is missing."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise DataError("by is empty; give at least one grouping column")
    missing_columns = [c for c in dict.fromkeys([*keys, value]) if c not in frame.columns]
    if missing_columns:
        raise DataError(
            f"frame has no column {', '.join(map(repr, missing_columns))}; "
            f"its columns are {list(frame.columns)}"
        )
    _check_options(alpha, quantile_method)
    for key in keys:
        absent = frame[key].isna().to_numpy()
        if absent.any():
            raise DataError(f"frame row {int(np.flatnonzero(absent)[0]) + 1}: group key {key} is missing")
    return keys


def _group_matrix(group: np.ndarray, counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The values laid out as groups x largest group, NaN-padded, by integer arithmetic."""
    order = np.argsort(group, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    column = np.arange(len(order)) - starts[group[order]]
    matrix = np.full((len(counts), int(counts.max()) if len(counts) else 0), np.nan)
    matrix[group[order], column] = values[order]
    return matrix


def _to_float_array(values: Any, *, column: str | None = None) -> np.ndarray:
    """Float array of ``values``; errors name ``values[i]``, or the frame row and column."""
    if isinstance(values, pd.Series):
        series = values
    elif isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "biuf":
        series = pd.Series(values)
    else:
        series = pd.Series(_one_dimensional(values), dtype=object)

    def where(at: int) -> str:
        # Frames number rows from 1 like a CSV file; plain sequences use Python's index.
        return f"values[{at}]" if column is None else f"frame row {at + 1}: {column}"

    numbers = pd.to_numeric(series, errors="coerce")
    bad = (numbers.isna() & series.notna()).to_numpy()
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where(at)}={series.iloc[at]!r} is not a number")
    array: np.ndarray = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.isinf(array)
    if infinite.any():
        at = int(np.flatnonzero(infinite)[0])
        raise DataError(f"{where(at)}={array[at]:g} is infinite; use NaN for a missing value")
    return array


def _one_dimensional(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise DataError(f"values must be one-dimensional, got {array.ndim} dimensions")
    return array


def _check_options(alpha: float, quantile_method: str) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise DataError(f"alpha={alpha!r} must be a number strictly between 0 and 1")
    if quantile_method not in QUANTILE_METHODS:
        allowed = ", ".join(f"{name!r} (type {t})" for name, t in QUANTILE_METHODS.items())
        raise DataError(f"quantile_method={quantile_method!r} is not allowed; use one of {allowed}")


def _describe_matrix(matrix: np.ndarray, *, alpha: float, quantile_method: str) -> dict[str, Any]:
    """Statistics of each row of a NaN-padded matrix, without warnings for empty rows."""
    n_rows = matrix.shape[0]
    present = ~np.isnan(matrix)
    n = present.sum(axis=1)
    nan = np.full(n_rows, np.nan)

    total = np.where(present, matrix, 0.0).sum(axis=1)
    mean = np.divide(total, n, out=nan.copy(), where=n > 0)
    deviation = np.where(present, matrix - np.where(n > 0, mean, 0.0)[:, None], 0.0)
    variance = np.divide((deviation**2).sum(axis=1), n - 1, out=nan.copy(), where=n > 1)
    sd = np.sqrt(variance)

    q1, median, q3 = nan.copy(), nan.copy(), nan.copy()
    some = n > 0
    if some.any():
        method = cast(QuantileMethod, quantile_method)  # one of QUANTILE_METHODS (_check_options)
        quartiles = np.nanquantile(matrix[some], [0.25, 0.5, 0.75], axis=1, method=method)
        q1[some], median[some], q3[some] = quartiles

    low = np.where(present, matrix, np.inf).min(axis=1, initial=np.inf)
    high = np.where(present, matrix, -np.inf).max(axis=1, initial=-np.inf)
    testable = (n >= 3) & (high > low)
    shapiro_w, shapiro_p = nan.copy(), nan.copy()
    if testable.any():
        rows = matrix[testable]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_SHAPIRO_LARGE_N, category=UserWarning)
            result = stats.shapiro(rows, axis=1, nan_policy="omit" if np.isnan(rows).any() else "propagate")
        shapiro_w[testable] = result.statistic
        shapiro_p[testable] = result.pvalue

    normal = pd.array(np.where(testable, shapiro_p >= alpha, False), dtype="boolean")
    normal[~testable] = pd.NA
    kind = np.where(testable & (shapiro_p < alpha), "median_iqr", "mean_sd").astype(object)
    return {
        "n": n.astype(np.int64),
        "mean": mean,
        "sd": sd,
        "median": median,
        "q1": q1,
        "q3": q3,
        "shapiro_w": shapiro_w,
        "shapiro_p": shapiro_p,
        "normal": normal,
        "kind": kind,
    }


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _fmt(x: float | None, digits: int) -> str:
    if x is None:
        return "NA"
    text = f"{x:.{digits}f}"
    # "-0" (a value rounding to zero from below) reads as a sign error in a table.
    return text[1:] if text.startswith("-") and float(text) == 0 else text

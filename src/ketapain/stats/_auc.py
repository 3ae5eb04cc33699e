"""Area under the daily pain curve (trapezoidal rule), with optional imputation.

One idea: turn a long pain diary (patient x period x day) into AUCs at several windows
(by default days 7, 15, 21, 28 and 35), vectorised over all patient-periods at once.

The AUC is defined once, here, by an array kernel: :func:`curve_points` (the time axis),
:func:`fill_curve` (LOCF / linear / no imputation), :func:`trapezoid_auc` (the trapezoid sum)
and :func:`trapezoid_weights` (the same rule as weights, for model-based AUCs).
:func:`diary_auc` (long tables), :func:`auc_arrays` (arrays of many trials: simulation-based
power) and the daily mixed model (:mod:`ketapain.stats._daily_grid`) all use it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ketapain._options import OneOf, check_option, check_scale
from ketapain.errors import FIRST_DATA_ROW, DataError, ImputationWarning

__all__ = ["FilledCurve", "auc_arrays", "auc_day_major", "curve_points", "diary_auc", "fill_curve", "trapezoid_auc",
           "trapezoid_weights", "window_ends"]

TIME_AXES = ("infusion", "first_diary_day")
IMPUTATIONS = ("none", "locf", "linear")
SCORE_MIN, SCORE_MAX = 0.0, 10.0
"""The default ``scale`` of :func:`diary_auc`: the reference study's NRS 0..10."""
ANCHOR_VALUE = "pre_infusion_pain"
MAX_DIARY_DAY = 365
"""The latest diary day of a period (as the protocol's ``diary.days_per_period`` <= 365): checked
before the day grid is allocated, so ``day=1e18`` is an error, not a 10^18-column array."""
OUTPUT_COLUMNS = (
    "window_day",
    "auc",
    "n_points",
    "n_observed",
    "n_imputed",
    "n_missing",
)


def diary_auc(
    diary: pd.DataFrame,
    *,
    value: str = "avg_pain",
    windows: Sequence[int] = (7, 15, 21, 28, 35),
    time_axis: Literal["infusion", "first_diary_day"] = "infusion",
    impute: Literal["none", "locf", "linear"] = "none",
    anchor: pd.DataFrame | None = None,
    subject: str = "patient_id",
    period: str = "period",
    day: str = "day",
    scale: tuple[float, float] = (SCORE_MIN, SCORE_MAX),
) -> pd.DataFrame:
    r"""AUC of a daily diary score by the trapezoidal rule, per subject x period x window.

    Parameters
    ----------
    diary : pandas.DataFrame
        Long diary, one row per subject x period x diary day. ``day`` is an integer >= 1
        counting days after the infusion (day 0 is the infusion day itself). ``value``
        holds a score on ``scale`` (0..10 by default) or NaN for a missing day. Days absent from the frame are
        missing too: the grid of each subject x period is days ``1..max(windows)``. Rows
        after ``max(windows)`` are validated but not used. A subject x period appears in
        the output only if it has at least one diary row (its values may all be NaN).
    value : str, default "avg_pain"
        Column with the score (e.g. ``avg_pain``, ``max_pain``, ``night_pain``).
    windows : sequence of int, default (7, 15, 21, 28, 35)
        Diary days at which each AUC ends. Positive, distinct integers, each at most the
        largest ``day`` present in ``diary`` (a row with a NaN value counts: it shows the
        diary had room for that day). On the ``"first_diary_day"`` axis each window must
        be >= 2 (a window of one day has no interval).
    time_axis : {"infusion", "first_diary_day"}, default "infusion"
        Where the curve starts; see Notes. State it in every output.
    impute : {"none", "locf", "linear"}, default "none"
        How missing points are filled before integration; see Notes.
    anchor : pandas.DataFrame, optional
        Required with ``time_axis="infusion"`` and refused with ``"first_diary_day"``.
        One row per subject x period with columns ``subject``, ``period`` and
        ``pre_infusion_pain`` (on ``scale``, or NaN if not measured). Every subject x period of
        the diary needs a row; extra rows are ignored.
    subject, period, day : str
        Column names of the subject identifier, period and diary day, in ``diary`` (and
        ``anchor`` for the first two).
    scale : (float, float), default (0.0, 10.0)
        The inclusive range of the scores, diary and anchor (the protocol's ``[diary]
        scale_min``, ``scale_max``: e.g. ``(0, 100)`` for a VAS). Only checked: the AUC is in
        the scale's units x days whatever the scale.

    Returns
    -------
    pandas.DataFrame
        One row per subject x period x window, sorted by subject, period, window_day,
        with columns ``subject``, ``period``, ``value`` (the name of the score column,
        e.g. ``"avg_pain"``), ``window_day`` (int), ``auc`` (float, in score-days, i.e.
        pain-score x days; NaN when a point of the window is still missing after
        imputation), ``n_points`` (points on the curve of that window), ``n_observed``
        (observed points, the anchor included), ``n_imputed`` (diary days filled by
        imputation) and ``n_missing`` (points still missing), with
        ``n_points = n_observed + n_imputed + n_missing``. ``attrs`` records ``value``,
        ``time_axis``, ``impute`` and ``units`` (``"score-days"``).

    Raises
    ------
    DataError
        A column is missing; a subject or period is missing; a day is not an integer or
        is below 1; a (subject, period, day) appears twice; a score is not a number or
        lies outside ``scale``; ``scale`` is not two finite numbers low < high; a window is not a positive integer, is repeated, or lies
        beyond the last diary day; ``time_axis`` or ``impute`` is not an allowed name; the
        anchor is absent on the infusion axis, given on the first-diary-day axis, lacks
        a subject x period, repeats one, or has a score outside ``scale``. Rows are numbered
        as in a spreadsheet: the header is row 1, so positional row ``i`` is row ``i + 2``
        (the same line number as in the CSV file), whatever the index labels are.

    Warns
    -----
    ImputationWarning
        When some AUCs are NaN because a point in their window is still missing after
        imputation; the message counts them, says why (missing before the first or after
        the last observation, or between observations with ``impute="none"``), by
        window, and names the first one. NaN is never returned silently.

    Notes
    -----
    Let :math:`y_d` be the score on diary day :math:`d` and :math:`y_0` the
    pre-infusion score of ``anchor``.

    *Infusion axis* (``time_axis="infusion"``): time is :math:`t = d` days since the
    infusion, and the curve starts at :math:`t = 0` with :math:`y_0`. The AUC of window
    :math:`W` covers :math:`W` unit intervals and :math:`W + 1` points:

    .. math:: \mathrm{AUC}_W = \sum_{t=0}^{W-1} \frac{y_t + y_{t+1}}{2}
              = \frac{y_0}{2} + \sum_{t=1}^{W-1} y_t + \frac{y_W}{2}.

    *First-diary-day axis* (``time_axis="first_diary_day"``): no anchor; the curve
    starts at diary day 1 (:math:`t = d - 1`) and window :math:`W` ends at diary day
    :math:`W`, so it covers :math:`W - 1` unit intervals and :math:`W` points:

    .. math:: \mathrm{AUC}_W = \sum_{d=1}^{W-1} \frac{y_d + y_{d+1}}{2}.

    A constant score of 5 gives :math:`5W` score-days on the infusion axis and
    :math:`5(W - 1)` on the first-diary-day axis.

    Imputation works on the whole curve (points ``0..max(windows)`` on the infusion axis,
    days ``1..max(windows)`` otherwise), then every window is read from one cumulative
    sum of the trapezoids:

    * ``"none"``: nothing is filled; an AUC is NaN if any point of its window is missing.
    * ``"locf"``: a missing point takes the last observed value before it (the anchor
      counts as an observation on the infusion axis). Missing points before the first
      observation stay missing.
    * ``"linear"``: a missing point between two observed points :math:`(a, y_a)` and
      :math:`(b, y_b)` gets :math:`y_a + (y_b - y_a)(t - a)/(b - a)`. The observation
      after the gap may lie beyond the window (it is read from the grid up to
      ``max(windows)``). Points before the first or after the last observation cannot
      be interpolated and stay missing (use ``"locf"`` to carry the last value to the
      end).

    The reference protocol (KETAPAIN) uses ``impute="locf"`` for the day-35 AUC and
    ``impute="none"`` for the exploratory AUCs at days 7 to 28.

    Examples
    --------
    Pre-infusion score 5, then 6 and 4 on days 1 and 2, day 3 missing:

    >>> import pandas as pd
    >>> diary = pd.DataFrame({"patient_id": [1, 1, 1], "period": [1, 1, 1],
    ...                       "day": [1, 2, 3], "avg_pain": [6, 4, None]})
    >>> anchor = pd.DataFrame({"patient_id": [1], "period": [1],
    ...                        "pre_infusion_pain": [5]})
    >>> out = diary_auc(diary, windows=(2, 3), anchor=anchor, impute="locf")
    >>> out[["window_day", "auc", "n_points", "n_observed", "n_imputed"]]
       window_day   auc  n_points  n_observed  n_imputed
    0           2  10.5         3           3          0
    1           3  14.5         4           3          1

    By hand: (5 + 6)/2 + (6 + 4)/2 = 10.5 score-days at day 2, then day 3 takes the last
    value 4: 10.5 + (4 + 4)/2 = 14.5. On the first-diary-day axis the day-3 window has
    two intervals, (6 + 4)/2 + (4 + 4)/2 = 9:

    >>> diary_auc(diary, windows=(3,), time_axis="first_diary_day",
    ...           impute="locf")["auc"].tolist()
    [9.0]

    On another scale, say so (here a VAS 0..100: the AUC is in VAS points x days):

    >>> vas = diary.assign(avg_pain=[60, 40, None])
    >>> diary_auc(vas, windows=(2,), anchor=anchor.assign(pre_infusion_pain=[50]),
    ...           scale=(0, 100))["auc"].tolist()
    [105.0]
    """
    check_option("time_axis", time_axis, OneOf(*TIME_AXES), error=DataError)
    check_option("impute", impute, OneOf(*IMPUTATIONS), error=DataError)
    bounds = check_scale("scale", scale, error=DataError)
    if not isinstance(diary, pd.DataFrame):
        raise DataError(f"diary must be a pandas DataFrame, got {type(diary).__name__}")
    _require_columns(diary, "diary", (subject, period, day, value))
    if len(diary) == 0:
        raise DataError("diary has no rows")
    for column in (subject, period):
        _require_present(diary[column], "diary", column)

    days = _integer_days(diary[day], day)
    scores = _scores(diary[value], "diary", value, bounds)
    win = _windows(windows, time_axis=time_axis, last_day=int(days.max()))
    out_subject, out_period, group = _subject_periods(diary, subject, period)
    _no_duplicate_days(group, days, diary, subject, period, day)
    grid = _day_grid(group, days, scores, n_rows=len(out_subject), n_days=int(win.max()))
    start = _axis_anchor(anchor, pd.MultiIndex.from_arrays([out_subject, out_period]), time_axis=time_axis,
                         subject=subject, period=period, scale=bounds)

    curve = fill_curve(curve_points(grid, start, time_axis=time_axis), impute=impute)
    ends = window_ends(win, time_axis=time_axis)
    auc = trapezoid_auc(curve.values, ends=ends)
    result = _auc_frame(auc, curve, out_subject, out_period, win, ends, value=value, subject=subject, period=period)
    result.attrs.update({"value": value, "time_axis": time_axis, "impute": impute, "units": "score-days"})
    if np.isnan(auc).any():
        _warn_missing(auc, curve, ends, win, out_subject, out_period, value=value, impute=impute, subject=subject,
                      period=period)
    return result


# --------------------------------------------------------------------------- the array kernel


def trapezoid_weights(n_points: int) -> np.ndarray:
    """Trapezoid weights of ``n_points`` unit-spaced points: ``1/2, 1, ..., 1, 1/2``.

    ``weights @ y`` is the AUC of the points ``y`` (:func:`trapezoid_auc` of their last point,
    summed in another order): the same rule as a linear functional, for model-based AUCs
    (:func:`ketapain.stats.fit_daily_model`). ``n_points = W + 1`` on the infusion axis
    (sum ``W``), ``W`` on the first-diary-day axis (sum ``W - 1``).

    Examples
    --------
    >>> trapezoid_weights(4).tolist()
    [0.5, 1.0, 1.0, 0.5]
    """
    w = np.ones(n_points)
    w[0] = w[-1] = 0.5
    return w


@dataclass(frozen=True, slots=True)
class FilledCurve:
    """Points of many curves after imputation; every array is ``(..., m)`` (last axis = time).

    Attributes
    ----------
    values : ndarray of float
        The points after imputation; NaN where a point is still missing.
    observed : ndarray of bool
        The point was observed (not NaN before imputation).
    prev_obs, next_obs : ndarray of int
        Index of the last observed point at or before each point (-1 when none) and of the
        first one at or after it (``m`` when none).
    """

    values: npt.NDArray[np.float64]
    observed: npt.NDArray[np.bool_]
    prev_obs: np.ndarray
    next_obs: np.ndarray

    @property
    def imputed(self) -> npt.NDArray[np.bool_]:
        """Points filled by imputation (missing before, a value now)."""
        return ~self.observed & ~np.isnan(self.values)


def curve_points(days: np.ndarray, anchor: np.ndarray | None, *, time_axis: str) -> np.ndarray:
    """The points of the AUC curve: ``(anchor, day 1, ..., day D)`` on the infusion axis (time
    ``t = 0..D``), ``(day 1, ..., day D)`` on the first-diary-day axis (``t = d - 1``).

    ``days`` is ``(..., D)`` with NaN for a missing day; ``anchor`` is ``(...)`` (the
    pre-infusion score, NaN if not measured), only on the infusion axis.
    """
    values = np.asarray(days, dtype=float)
    if time_axis != "infusion":
        return values
    return np.concatenate([np.asarray(anchor, dtype=float)[..., None], values], axis=-1)


def fill_curve(points: np.ndarray, *, impute: str) -> FilledCurve:
    """Impute the missing points of every curve (vectorised over the leading axes).

    ``"none"`` fills nothing; ``"locf"`` gives a missing point the last observed value before
    it (none before the first observation); ``"linear"`` gives a missing point between the
    observed points ``(a, y_a)`` and ``(b, y_b)`` the value ``y_a + (y_b - y_a)(t - a)/(b - a)``
    (none before the first or after the last observation). See :func:`diary_auc`, Notes.

    Examples
    --------
    >>> fill_curve(np.array([4.0, 2.0, np.nan, 6.0]), impute="linear").values.tolist()
    [4.0, 2.0, 4.0, 6.0]
    """
    values = np.asarray(points, dtype=float)
    observed = ~np.isnan(values)
    m = values.shape[-1]
    t = np.arange(m)
    prev_obs = np.maximum.accumulate(np.where(observed, t, -1), axis=-1)
    next_obs = np.flip(np.minimum.accumulate(np.flip(np.where(observed, t, m), axis=-1), axis=-1), axis=-1)
    if impute == "none":
        return FilledCurve(values, observed, prev_obs, next_obs)
    carried = np.take_along_axis(values, np.maximum(prev_obs, 0), axis=-1)
    has_prev = prev_obs >= 0
    if impute == "locf":
        return FilledCurve(np.where(has_prev, carried, np.nan), observed, prev_obs, next_obs)
    inside = has_prev & (next_obs < m)  # linear: only points with an observation on both sides
    following = np.take_along_axis(values, np.minimum(next_obs, m - 1), axis=-1)
    span = np.maximum(next_obs - prev_obs, 1)  # 0 at observed points: avoid 0/0
    interpolated = carried + (following - carried) * ((t - prev_obs) / span)
    filled = np.where(observed, values, np.where(inside, interpolated, np.nan))
    return FilledCurve(filled, observed, prev_obs, next_obs)


def _filled_values(points: np.ndarray, *, impute: str) -> np.ndarray:
    """``fill_curve(points, impute=impute).values``, with :func:`fill_curve` run on the curves
    that miss a point only (a curve without a gap is its own filled curve)."""
    if impute == "none":
        return np.asarray(points, dtype=float)
    gaps = np.isnan(points).any(axis=-1)
    if not gaps.any():
        return points
    out = np.array(points, dtype=float)
    out[gaps] = fill_curve(out[gaps], impute=impute).values
    return out


def window_ends(windows: np.ndarray, *, time_axis: str) -> np.ndarray:
    """Index of the last point of each window: ``W`` on the infusion axis, ``W - 1`` otherwise."""
    win = np.asarray(windows, dtype=np.int64)
    return win if time_axis == "infusion" else win - 1


def trapezoid_auc(values: np.ndarray, *, ends: np.ndarray) -> np.ndarray:
    """AUC from point 0 to each point of ``ends`` (>= 1) by the trapezoidal rule on unit steps.

    One cumulative sum of the trapezoids ``(y_t + y_{t+1}) / 2`` over the last axis, read at
    every end: ``(..., m)`` -> ``(..., len(ends))``. A missing point makes its window and
    every later one NaN.

    Examples
    --------
    >>> trapezoid_auc(np.array([5.0, 6.0, 4.0]), ends=np.array([1, 2])).tolist()
    [5.5, 10.5]
    """
    v = np.asarray(values, dtype=float)
    trapezoids: np.ndarray = v[..., :-1] + v[..., 1:]
    trapezoids *= 0.5
    np.cumsum(trapezoids, axis=-1, out=trapezoids)
    return trapezoids[..., np.asarray(ends, dtype=np.int64) - 1]


def auc_arrays(
    days: np.ndarray,
    anchor: np.ndarray | None = None,
    *,
    windows: Sequence[int],
    time_axis: Literal["infusion", "first_diary_day"] = "infusion",
    impute: Literal["none", "locf", "linear"] = "none",
) -> np.ndarray:
    """The AUC of :func:`diary_auc` on arrays: many patient-periods (and trials) at once.

    Parameters
    ----------
    days : ndarray, shape (..., D)
        Scores of diary days ``1..D`` (any leading axes: trials, patients, periods); NaN
        for a missing day.
    anchor : ndarray, shape (...), optional
        Pre-infusion score (day 0), NaN if not measured. Required on the infusion axis,
        refused on the first-diary-day axis.
    windows : sequence of int
        Last diary day of each AUC: distinct, at most ``D``, at least 1 (2 on the
        first-diary-day axis).
    time_axis : {"infusion", "first_diary_day"}, default "infusion"
    impute : {"none", "locf", "linear"}, default "none"
        As :func:`diary_auc` (Notes): the imputation sees the points up to the last window.

    Returns
    -------
    ndarray, shape (..., len(windows))
        AUCs in score-days, windows in ascending order; NaN when a point of the window is
        still missing after imputation.

    Raises
    ------
    DataError
        A bad option, window or anchor (as :func:`diary_auc`).

    Examples
    --------
    The example of :func:`diary_auc`: anchor 5, days 6, 4, then missing; LOCF.

    >>> auc_arrays(np.array([6.0, 4.0, np.nan]), np.array(5.0), windows=[2, 3], impute="locf").tolist()
    [10.5, 14.5]
    """
    check_option("time_axis", time_axis, OneOf(*TIME_AXES), error=DataError)
    check_option("impute", impute, OneOf(*IMPUTATIONS), error=DataError)
    values = np.asarray(days, dtype=float)
    if values.ndim < 1 or values.shape[-1] < 1:
        raise DataError(f"days must have diary days on its last axis, got shape {values.shape}")
    win = _windows(windows, time_axis=time_axis, last_day=values.shape[-1])
    if (anchor is None) != (time_axis == "first_diary_day"):
        raise DataError(template="{@anchor} is required with {@time_axis='infusion'} and refused with "
                        "{@time_axis='first_diary_day'}")
    if anchor is not None and np.shape(anchor) != values.shape[:-1]:
        raise DataError(template="{@anchor} has shape {got}; the days need {want}",
                        params={"got": np.shape(anchor), "want": values.shape[:-1]})
    points = curve_points(values[..., : int(win.max())], anchor, time_axis=time_axis)
    return trapezoid_auc(_filled_values(points, impute=impute), ends=window_ends(win, time_axis=time_axis))


def auc_day_major(
    days: np.ndarray,
    anchor: np.ndarray | None = None,
    *,
    window: int,
    time_axis: Literal["infusion", "first_diary_day"] = "infusion",
    impute: Literal["none", "locf", "linear"] = "none",
) -> np.ndarray:
    """The AUC of :func:`auc_arrays` for one window, from diaries stored day-major.

    ``days`` is ``(D, ...)``: day 1's scores of every curve, then day 2's... (the layout of
    the power sweep's generator, ``simulate_item_block(..., layout="day")``); ``anchor`` is
    ``(...)``. Returns ``(...)``, equal to the last bit to ``auc_arrays(np.moveaxis(days, 0,
    -1), anchor, windows=[window], ...)[..., 0]``: with ``"none"`` and ``"locf"`` the curve is
    walked one day at a time over all curves at once, each step one contiguous pass (the carried
    value, the trapezoid ``(y_{t-1} + y_t) / 2``, the running sum, in the order of the cumulative
    sum of :func:`trapezoid_auc`); ``"linear"`` needs the next observation and goes through
    :func:`auc_arrays`. Units: score-days, as :func:`diary_auc`.

    Examples
    --------
    >>> auc_day_major(np.array([[6.0], [4.0], [np.nan]]), np.array([5.0]), window=3, impute="locf").tolist()
    [14.5]
    """
    check_option("time_axis", time_axis, OneOf(*TIME_AXES), error=DataError)
    check_option("impute", impute, OneOf(*IMPUTATIONS), error=DataError)
    values = np.asarray(days, dtype=float)
    if values.ndim < 1 or values.shape[0] < 1:
        raise DataError(f"days must have diary days on its first axis, got shape {values.shape}")
    if impute == "linear":
        return auc_arrays(np.moveaxis(values, 0, -1), anchor, windows=[window], time_axis=time_axis, impute=impute)[..., 0]
    w = int(_windows([window], time_axis=time_axis, last_day=values.shape[0])[0])
    if (anchor is None) != (time_axis == "first_diary_day"):
        raise DataError(template="{@anchor} is required with {@time_axis='infusion'} and refused with "
                        "{@time_axis='first_diary_day'}")
    if anchor is not None and np.shape(anchor) != values.shape[1:]:
        raise DataError(template="{@anchor} has shape {got}; the days need {want}",
                        params={"got": np.shape(anchor), "want": values.shape[1:]})
    first = 0 if anchor is None else -1  # the day before the walk's first step (-1: the anchor)
    prev = np.array(values[0] if anchor is None else anchor, dtype=float)
    cur = np.empty_like(prev)
    total = np.zeros_like(prev)
    step = np.empty_like(prev)
    for d in range(first + 1, w):  # a loop over days (the curve's order), vectorised over every curve
        np.copyto(cur, values[d])
        if impute == "locf":
            np.copyto(cur, prev, where=np.isnan(cur))  # no observation before: prev is NaN, stays NaN
        np.add(prev, cur, out=step)
        step *= 0.5
        if d == first + 1:
            np.copyto(total, step)
        else:
            total += step
        prev, cur = cur, prev
    return total


# --------------------------------------------------------------------------- diary_auc's parts


def _subject_periods(diary: pd.DataFrame, subject: str, period: str) -> tuple[pd.Index, pd.Index, np.ndarray]:
    """Subject and period of each row of the grid (sorted by subject, then period), and the
    grid row of each diary row."""
    s_codes, s_keys = pd.factorize(diary[subject], sort=True)
    p_codes, p_keys = pd.factorize(diary[period], sort=True)
    pair = s_codes.astype(np.int64) * len(p_keys) + p_codes
    pairs, group = np.unique(pair, return_inverse=True)
    return s_keys.take(pairs // len(p_keys)), p_keys.take(pairs % len(p_keys)), group


def _day_grid(group: np.ndarray, days: np.ndarray, scores: np.ndarray, *, n_rows: int, n_days: int) -> np.ndarray:
    """(subject x period, day 1..n_days) scores; NaN for a missing or absent day."""
    grid = np.full((n_rows, n_days), np.nan)
    used = days <= n_days
    grid[group[used], days[used] - 1] = scores[used]
    return grid


def _axis_anchor(anchor: pd.DataFrame | None, keys: pd.MultiIndex, *, time_axis: str, subject: str,
                 period: str, scale: tuple[float, float]) -> np.ndarray | None:
    """The pre-infusion score of each subject x period on the infusion axis; None otherwise."""
    if time_axis == "infusion":
        if anchor is None:
            raise DataError(
                "time_axis='infusion' starts the curve at day 0 with the pre-infusion score: "
                f"pass anchor= (a frame with columns {subject}, {period}, {ANCHOR_VALUE}), "
                "or use time_axis='first_diary_day'"
            )
        return _anchor_scores(anchor, keys, subject, period, scale)
    if anchor is not None:
        raise DataError(
            "anchor is only used with time_axis='infusion'; "
            "time_axis='first_diary_day' starts the curve at diary day 1"
        )
    return None


def _auc_frame(auc: np.ndarray, curve: FilledCurve, out_subject: pd.Index, out_period: pd.Index, win: np.ndarray,
               ends: np.ndarray, *, value: str, subject: str, period: str) -> pd.DataFrame:
    """The output of :func:`diary_auc`: one row per subject x period x window, with counts."""
    n_observed = np.cumsum(curve.observed, axis=1)[:, ends]
    n_imputed = np.cumsum(curve.imputed, axis=1)[:, ends]
    n_points = np.broadcast_to(ends + 1, auc.shape)
    n_groups, n_windows = auc.shape
    result = pd.DataFrame(
        {
            subject: out_subject.repeat(n_windows),
            period: out_period.repeat(n_windows),
            "value": value,
            "window_day": np.tile(win, n_groups),
            "auc": auc.ravel(),
            "n_points": n_points.ravel(),
            "n_observed": n_observed.ravel(),
            "n_imputed": n_imputed.ravel(),
        }
    )
    result["n_missing"] = result["n_points"] - result["n_observed"] - result["n_imputed"]
    return result


def _show(x: object) -> str:
    """Show a cell as repr, with numpy scalars shown as plain Python values (1, not np.int64(1))."""
    return repr(x.item() if isinstance(x, np.generic) else x)


def _require_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name} has no column {', '.join(map(repr, missing))}; its columns are {list(frame.columns)}"
        )


def _require_present(column: pd.Series, name: str, label: str) -> None:
    absent = column.isna().to_numpy()
    if absent.any():
        rows = np.flatnonzero(absent)
        more = f" ({len(rows)} rows in all)" if len(rows) > 1 else ""
        raise DataError(f"{label} is missing{more}", located=True, source=name, row=int(rows[0] + FIRST_DATA_ROW))
    if pd.api.types.is_float_dtype(column.dtype):  # a key read as numbers: inf is no patient or period
        infinite = np.isinf(column.to_numpy(dtype=np.float64))
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise DataError(f"{label}={_show(column.iloc[row])} is not a finite number",
                            located=True, source=name, row=int(row + FIRST_DATA_ROW))


def _numeric(column: pd.Series, name: str, label: str) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (numbers.isna() & column.notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{label}={_show(column.iloc[row])} is not a number", located=True, source=name, row=int(row + FIRST_DATA_ROW))
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _integer_days(column: pd.Series, label: str) -> np.ndarray:
    days = _numeric(column, "diary", label)
    bad = ~np.isfinite(days) | (days != np.floor(days))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{label}={_show(column.iloc[row])} is not an integer", located=True, source="diary", row=int(row + FIRST_DATA_ROW))
    high = days > MAX_DIARY_DAY  # before the (patient x period, day) grid is allocated
    if high.any():
        row = int(np.flatnonzero(high)[0])
        raise DataError(f"{label}={days[row]:g} is above {MAX_DIARY_DAY} "
                        "(a period's diary has at most a year of days)", located=True, source="diary", row=int(row + FIRST_DATA_ROW))
    low = days < 1
    if low.any():
        row = int(np.flatnonzero(low)[0])
        raise DataError(
            f"{label}={days[row]:g} is below 1 "
            f"(day 0 is the infusion day: its score goes in anchor's {ANCHOR_VALUE})",
            located=True, source="diary", row=int(row + FIRST_DATA_ROW)
        )
    return days.astype(np.int64)


def _scores(column: pd.Series, name: str, label: str, scale: tuple[float, float]) -> np.ndarray:
    scores = _numeric(column, name, label)
    low, high = scale
    with np.errstate(invalid="ignore"):
        outside = (scores < low) | (scores > high)
    if outside.any():
        rows = np.flatnonzero(outside)
        more = f" ({len(rows)} rows in all)" if len(rows) > 1 else ""
        raise DataError(
            f"{label}={scores[rows[0]]:g} is outside "
            f"{low:g}..{high:g}{more}", located=True, source=name, row=int(rows[0] + FIRST_DATA_ROW)
        )
    return scores


def _windows(windows: Sequence[int], *, time_axis: str, last_day: int) -> np.ndarray:
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence | np.ndarray):
        raise DataError(template="{@windows} must be a sequence of positive integers, got {got}",
                        params={"got": repr(windows)})
    if len(windows) == 0:
        raise DataError(template="{@windows} is empty; give at least one window day, e.g. 7, 15, 21, 28, 35")
    lowest = 2 if time_axis == "first_diary_day" else 1
    for w in windows:
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or w < lowest:
            why = " (on the first_diary_day axis a window needs at least 2 days)" if lowest == 2 else ""
            raise DataError(template="{@windows}: {w} is not an integer >= {lowest}{why}",
                            params={"w": _show(w), "lowest": lowest, "why": why})
        if w > last_day:
            raise DataError(template="{@windows}: {w} is beyond the last diary day in diary ({last_day})",
                            params={"w": w, "last_day": last_day})
    win = np.asarray(windows, dtype=np.int64)
    if len(np.unique(win)) != len(win):
        raise DataError(template="{@windows}: {win} repeats a window day", params={"win": list(map(int, win))})
    return np.sort(win)


def _no_duplicate_days(
    group: np.ndarray, days: np.ndarray, diary: pd.DataFrame, subject: str, period: str, day: str
) -> None:
    key = pd.DataFrame({"g": group, "d": days})
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = rows[0]
        twin = rows[(group[rows] == group[first]) & (days[rows] == days[first])]
        raise DataError(
            f"duplicate ({subject}={_show(diary[subject].iloc[first])}, "
            f"{period}={_show(diary[period].iloc[first])}, {day}={days[first]}); "
            "each subject x period x day must appear once",
            located=True, source="diary", row=tuple(int(r + FIRST_DATA_ROW) for r in twin[:2]),
        )


def _anchor_scores(anchor: pd.DataFrame, keys: pd.MultiIndex, subject: str, period: str,
                   scale: tuple[float, float]) -> np.ndarray:
    if not isinstance(anchor, pd.DataFrame):
        raise DataError(f"anchor must be a pandas DataFrame, got {type(anchor).__name__}")
    _require_columns(anchor, "anchor", (subject, period, ANCHOR_VALUE))
    for column in (subject, period):
        _require_present(anchor[column], "anchor", column)
    scores = _scores(anchor[ANCHOR_VALUE], "anchor", ANCHOR_VALUE, scale)
    anchor_keys = pd.MultiIndex.from_arrays([anchor[subject], anchor[period]])
    dup = anchor_keys.duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"({subject}={_show(anchor[subject].iloc[row])}, "
            f"{period}={_show(anchor[period].iloc[row])}) appears more than once",
            located=True, source="anchor", row=int(row + FIRST_DATA_ROW)
        )
    position = pd.Index(anchor_keys).get_indexer(keys)
    absent = position < 0
    if absent.any():
        first = int(np.flatnonzero(absent)[0])
        raise DataError(
            f"anchor has no row for {int(absent.sum())} subject x period of the diary, first "
            f"({subject}={_show(keys[first][0])}, {period}={_show(keys[first][1])}); "
            f"give a row with {ANCHOR_VALUE}=NaN if the score was not measured"
        )
    return scores[position]


def _warn_missing(
    auc: np.ndarray,
    curve: FilledCurve,
    ends: np.ndarray,
    win: np.ndarray,
    out_subject: pd.Index,
    out_period: pd.Index,
    *,
    value: str,
    impute: str,
    subject: str,
    period: str,
) -> None:
    still_missing = np.isnan(curve.values)
    n_points = still_missing.shape[1]
    leading = still_missing & (curve.prev_obs < 0)
    trailing = still_missing & (curve.next_obs == n_points)
    between = still_missing & ~leading & ~trailing

    def in_window(mask: np.ndarray) -> np.ndarray:
        return np.cumsum(mask, axis=1)[:, ends] > 0

    nan = np.isnan(auc)
    reasons = []
    for mask, text in (
        (leading, "a missing point before the first observation"),
        (trailing, "a missing point after the last observation"),
        (between, "a missing point between observations"),
    ):
        count = int((in_window(mask) & nan).sum())
        if count:
            reasons.append(f"{count} with {text}")
    cannot = {
        "none": "impute='none' fills nothing",
        "locf": "LOCF has nothing to carry forward before the first observation",
        "linear": "linear interpolation needs an observation on both sides",
    }[impute]
    per_window = ", ".join(f"day {w}: {n}" for w, n in zip(win, nan.sum(axis=0), strict=True) if n)
    g, k = np.argwhere(nan)[0]
    warnings.warn(
        f"{int(nan.sum())} of {nan.size} {value} AUCs ({subject} x {period} x window) are NaN "
        f"because a point of their window is still missing after impute={impute!r} "
        f"({cannot}): {'; '.join(reasons)}. By window: {per_window}. First: "
        f"{subject}={_show(out_subject[g])}, {period}={_show(out_period[g])}, window_day={int(win[k])}.",
        ImputationWarning,
        stacklevel=3,
    )

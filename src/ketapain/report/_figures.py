"""The report's figures, drawn with matplotlib's object API (no pyplot, no global state).

Every function takes ``ax=None`` (a new :class:`~matplotlib.figure.Figure` is made) and
returns the Axes it drew on. Arms are drawn in the order given, each with a fixed colour of
the Okabe-Ito colour-blind-safe palette (:data:`ARM_COLOURS`, by position in ``order``),
so an arm has the same colour in every figure that uses the same order. Missing values
(NaN) are not drawn; the AUC figures state the number of patients per arm (n).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ketapain.errors import DataError
from ketapain.operations import ConsortFlow

__all__ = [
    "ARM_COLOURS",
    "arm_colours",
    "figure_of",
    "plot_consort",
    "plot_daily_means",
    "plot_forest",
    "plot_patient_bars",
    "plot_patient_lines",
    "plot_tipping_point",
]

ARM_COLOURS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
"""Okabe-Ito colours (blue, vermillion, bluish green, reddish purple, orange, sky blue, yellow)."""

_GREY = "#9a9a9a"


def figure_of(ax: Axes) -> Figure:
    """The top-level figure an Axes is drawn on (every figure of ours has one)."""
    figure = ax.get_figure(root=True)
    if figure is None:
        raise DataError("the axes are not on a figure")
    return figure


def arm_colours(order: Sequence[str]) -> dict[str, str]:
    """Colour of each arm: the ``i``-th arm of ``order`` gets ``ARM_COLOURS[i]`` (cycled).

    Examples
    --------
    >>> arm_colours(["P", "K", "KM"])
    {'P': '#0072B2', 'K': '#D55E00', 'KM': '#009E73'}
    """
    return {arm: ARM_COLOURS[i % len(ARM_COLOURS)] for i, arm in enumerate(order)}


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 4.2)) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return ax
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _need(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: required column(s) {', '.join(map(repr, missing))} missing; "
                        f"columns present: {', '.join(map(str, frame.columns)) or '(none)'}")


def _numeric(frame: pd.DataFrame, columns: Sequence[str], what: str) -> dict[str, np.ndarray]:
    out = {}
    for c in columns:
        values = pd.to_numeric(frame[c], errors="coerce")
        bad = values.isna() & frame[c].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{what}: column {c!r} row {i}: {frame[c].iloc[i]!r} is not a number")
        out[c] = values.to_numpy(dtype=float, na_value=np.nan)
    return out


def _auc_wide(auc: pd.DataFrame, order: Sequence[str], what: str) -> pd.DataFrame:
    """Patients (sorted) x arms (in ``order``) table of AUC values."""
    _need(auc, ("patient_id", "treatment", "auc"), what)
    if isinstance(order, str) or len(order) == 0:
        raise DataError(f"{what}: order must be a non-empty sequence of treatment codes, got {order!r}")
    if len(set(order)) != len(order):
        raise DataError(f"{what}: order {list(order)!r} lists a treatment twice")
    frame = pd.DataFrame({"patient_id": auc["patient_id"].astype(str),
                          "treatment": auc["treatment"].astype(str),
                          "auc": _numeric(auc, ("auc",), what)["auc"]})
    unknown = sorted(set(frame["treatment"]) - set(order))
    if unknown:
        raise DataError(f"{what}: treatment(s) {unknown} not in order {list(order)!r}")
    dup = frame.duplicated(["patient_id", "treatment"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"{what}: patient {frame['patient_id'].iloc[i]!r} has more than one row for treatment {frame['treatment'].iloc[i]!r}"
        )
    wide = frame.pivot(index="patient_id", columns="treatment", values="auc")
    wide = wide.reindex(index=sorted(wide.index), columns=list(order))
    return wide.dropna(how="all")


def _label(arm: str, labels: Mapping[str, str] | None) -> str:
    return str(labels.get(arm, arm)) if labels else arm


def plot_patient_lines(
    auc: pd.DataFrame,
    *,
    order: Sequence[str],
    labels: Mapping[str, str] | None = None,
    ylabel: str,
    ax: Axes | None = None,
) -> Axes:
    """One grey line per patient joining its values across the arms; the median per arm marked.

    The paper's Figures 2 and 3. Each patient's values are points coloured by arm, joined by a
    grey line (broken where a value is missing); a thick black bar marks each arm's median.
    The x tick labels give each arm's n (patients with a value).

    Parameters
    ----------
    auc : DataFrame
        Columns ``patient_id``, ``treatment``, ``auc`` (one row per patient x treatment;
        NaN = missing, not drawn).
    order : sequence of str
        The arms, in x order.
    labels : mapping, optional
        Display name per arm code.
    ylabel : str
        The y axis label (with units).
    ax : Axes, optional
        Where to draw; default a new Figure.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    DataError
        A required column is missing, a value is not numeric, a treatment is not in
        ``order`` or a patient x treatment pair appears twice.

    Examples
    --------
    >>> import pandas as pd
    >>> auc = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2"],
    ...                     "treatment": ["P", "K", "P", "K"], "auc": [30.0, 20.0, 25.0, None]})
    >>> ax = plot_patient_lines(auc, order=["P", "K"], ylabel="AUC")
    >>> len(ax.lines), [t.get_text() for t in ax.get_xticklabels()]
    (2, ['P\\n(n = 2)', 'K\\n(n = 1)'])
    """
    wide = _auc_wide(auc, order, "plot_patient_lines")
    ax = _axes(ax)
    x = np.arange(len(order), dtype=float)
    values = wide.to_numpy(dtype=float)
    if len(values):
        ax.plot(x, values.T, color=_GREY, linewidth=0.9, alpha=0.8, zorder=1)
    colours = arm_colours(order)
    n = np.sum(~np.isnan(values), axis=0) if len(values) else np.zeros(len(order), dtype=int)
    for j, arm in enumerate(order):
        col = values[:, j] if len(values) else np.array([])
        keep = ~np.isnan(col)
        ax.scatter(np.full(int(keep.sum()), x[j]), col[keep], s=18, color=colours[arm], zorder=2, edgecolor="white", linewidth=0.4)
    with np.errstate(all="ignore"):
        medians = np.array([np.nanmedian(values[:, j]) if n[j] else np.nan for j in range(len(order))])
    ok = ~np.isnan(medians)
    ax.hlines(medians[ok], x[ok] - 0.22, x[ok] + 0.22, colors="black", linewidth=3.5, zorder=3, label="median")
    ax.set_xticks(x, [f"{_label(a, labels)}\n(n = {int(n[j])})" for j, a in enumerate(order)])
    ax.set_xlim(-0.5, len(order) - 0.5)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="best", frameon=False)
    return ax


def plot_patient_bars(
    auc: pd.DataFrame,
    *,
    order: Sequence[str],
    labels: Mapping[str, str] | None = None,
    ylabel: str,
    ax: Axes | None = None,
) -> Axes:
    """Grouped bars per patient (patients sorted by id), one bar per arm — the paper's Figure 4.

    Parameters and errors as :func:`plot_patient_lines`; a missing value draws no bar and the
    legend gives each arm's n.

    Examples
    --------
    >>> import pandas as pd
    >>> auc = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2"],
    ...                     "treatment": ["P", "K", "P", "K"], "auc": [30.0, 20.0, 25.0, None]})
    >>> ax = plot_patient_bars(auc, order=["P", "K"], ylabel="AUC")
    >>> len(ax.patches)
    3
    """
    wide = _auc_wide(auc, order, "plot_patient_bars")
    ax = _axes(ax, size=(max(6.4, 0.45 * len(wide) + 1.5), 4.2))
    values = wide.to_numpy(dtype=float)
    k = len(order)
    width = 0.8 / k
    x = np.arange(len(wide), dtype=float)
    colours = arm_colours(order)
    for j, arm in enumerate(order):
        col = values[:, j] if len(values) else np.array([])
        keep = ~np.isnan(col)
        ax.bar(
            x[keep] + (j - (k - 1) / 2) * width,
            col[keep],
            width=width,
            color=colours[arm],
            label=f"{_label(arm, labels)} (n = {int(keep.sum())})",
        )
    ax.set_xticks(x, list(wide.index), rotation=90 if len(wide) > 12 else 0)
    ax.set_xlabel("Patient")
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, ncols=min(k, 4), loc="upper left", bbox_to_anchor=(0, 1.12))
    return ax


def _check_level(conf_level: float, what: str) -> None:
    if isinstance(conf_level, bool) or not isinstance(conf_level, float | int) or not 0 < conf_level < 1:
        raise DataError(f"{what}: conf_level={conf_level!r} must be a number in (0, 1)")


def plot_daily_means(
    daily: pd.DataFrame,
    *,
    order: Sequence[str],
    labels: Mapping[str, str] | None = None,
    ylabel: str,
    conf_level: float = 0.95,
    ax: Axes | None = None,
) -> Axes:
    """Mean per arm over the days after infusion, with a shaded confidence band.

    Parameters
    ----------
    daily : DataFrame
        Columns ``treatment``, ``day``, ``mean``, ``ci_low``, ``ci_high`` (one row per arm x
        day; NaN leaves a gap).
    order, labels, ylabel, ax
        As :func:`plot_patient_lines`.
    conf_level : float, default 0.95
        The level of the bands (``ci_low``/``ci_high``), named in the legend's title.

    Returns
    -------
    matplotlib.axes.Axes
        One line and one band per arm of ``order`` (arms without rows are skipped).

    Examples
    --------
    >>> import pandas as pd
    >>> daily = pd.DataFrame({"treatment": ["P", "P", "K", "K"], "day": [0, 1, 0, 1],
    ...     "mean": [6.0, 5.8, 6.1, 4.0], "ci_low": [5.0, 4.9, 5.2, 3.1],
    ...     "ci_high": [7.0, 6.7, 7.0, 4.9]})
    >>> ax = plot_daily_means(daily, order=["P", "K"], ylabel="Average pain (0-10)")
    >>> len(ax.lines), len(ax.collections)
    (2, 2)
    """
    what = "plot_daily_means"
    _check_level(conf_level, what)
    _need(daily, ("treatment", "day", "mean", "ci_low", "ci_high"), what)
    num = _numeric(daily, ("day", "mean", "ci_low", "ci_high"), what)
    treatment = daily["treatment"].astype(str).to_numpy()
    unknown = sorted(set(treatment) - set(order))
    if unknown:
        raise DataError(f"{what}: treatment(s) {unknown} not in order {list(order)!r}")
    ax = _axes(ax)
    colours = arm_colours(order)
    for arm in order:
        rows = np.flatnonzero(treatment == arm)
        if not len(rows):
            continue
        rows = rows[np.argsort(num["day"][rows], kind="stable")]
        day = num["day"][rows]
        ax.plot(day, num["mean"][rows], color=colours[arm], linewidth=1.8, label=_label(arm, labels))
        ax.fill_between(day, num["ci_low"][rows], num["ci_high"][rows], color=colours[arm], alpha=0.18, linewidth=0)
    ax.set_xlabel("Day after infusion")
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, title=f"Mean and {100 * conf_level:g}% CI")
    return ax


def plot_forest(frame: pd.DataFrame, *, xlabel: str, ax: Axes | None = None) -> Axes:
    """Estimates with confidence intervals, one row per label (top to bottom), reference at 0.

    Parameters
    ----------
    frame : DataFrame
        Columns ``label``, ``estimate``, ``ci_low``, ``ci_high``. A row with a missing
        estimate keeps its label but draws nothing ("not estimable").
    xlabel : str
        The x axis label (the effect measure and its units).
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Points as one line (markers), intervals as one line collection, the reference line.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"label": ["K vs P", "KM vs P"], "estimate": [-0.5, -0.2],
    ...                   "ci_low": [-1.0, -0.7], "ci_high": [0.0, 0.3]})
    >>> ax = plot_forest(f, xlabel="Hedges' g")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['K vs P', 'KM vs P']
    """
    what = "plot_forest"
    _need(frame, ("label", "estimate", "ci_low", "ci_high"), what)
    num = _numeric(frame, ("estimate", "ci_low", "ci_high"), what)
    labels = frame["label"].astype(str).tolist()
    ax = _axes(ax, size=(6.4, max(2.0, 0.45 * len(labels) + 1.2)))
    y = -np.arange(len(labels), dtype=float)
    est = num["estimate"]
    ok = ~np.isnan(est)
    ci = ok & ~np.isnan(num["ci_low"]) & ~np.isnan(num["ci_high"])
    ax.axvline(0.0, color="black", linewidth=0.8, linestyle="--", zorder=1)
    ax.hlines(y[ci], num["ci_low"][ci], num["ci_high"][ci], colors=ARM_COLOURS[0], linewidth=2, zorder=2)
    ax.plot(est[ok], y[ok], "D", color="black", markersize=6, zorder=3)
    shown = [lab if o else f"{lab} (not estimable)" for lab, o in zip(labels, ok, strict=True)]
    ax.set_yticks(y, shown)
    ax.set_ylim(y.min(initial=0.0) - 0.7, 0.7)
    ax.set_xlabel(xlabel)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return ax


def plot_tipping_point(frame: pd.DataFrame, *, alpha: float, conf_level: float = 0.95, ax: Axes | None = None) -> Axes:
    """Estimate and CI against the shift delta, per contrast, with the tipping points marked.

    A tipping point is where ``p_value`` crosses ``alpha`` between two consecutive deltas;
    its delta is found by linear interpolation of the p-value between them, and it is
    marked by a black cross on the estimate curve and labelled with its delta.

    Parameters
    ----------
    frame : DataFrame
        Columns ``delta``, ``contrast``, ``estimate``, ``ci_low``, ``ci_high``, ``p_value``
        (one row per contrast x delta); contrasts are drawn in order of appearance.
    alpha : float
        Significance level in (0, 1).
    conf_level : float, default 0.95
        The level of the bands (``ci_low``/``ci_high``), named on the y axis.
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Per contrast one estimate line and one CI band; one marker line per contrast that
        has tipping points; a reference line at 0.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"delta": [0.0, 1.0, 2.0], "contrast": ["K - P"] * 3,
    ...     "estimate": [-10.0, -6.0, -2.0], "ci_low": [-15.0, -11.0, -7.0],
    ...     "ci_high": [-5.0, -1.0, 3.0], "p_value": [0.001, 0.03, 0.4]})
    >>> ax = plot_tipping_point(f, alpha=0.05)
    >>> [t.get_text() for t in ax.texts]
    ['δ = 1.05']
    """
    what = "plot_tipping_point"
    _need(frame, ("delta", "contrast", "estimate", "ci_low", "ci_high", "p_value"), what)
    if not isinstance(alpha, float | int) or not 0 < alpha < 1:
        raise DataError(f"{what}: alpha={alpha!r} must be a number in (0, 1)")
    _check_level(conf_level, what)
    num = _numeric(frame, ("delta", "estimate", "ci_low", "ci_high", "p_value"), what)
    contrast = frame["contrast"].astype(str).to_numpy()
    ax = _axes(ax)
    ax.axhline(0.0, color="black", linewidth=0.8, linestyle="--")
    for i, name in enumerate(pd.unique(contrast)):
        colour = ARM_COLOURS[i % len(ARM_COLOURS)]
        rows = np.flatnonzero(contrast == name)
        rows = rows[np.argsort(num["delta"][rows], kind="stable")]
        d, e, p = num["delta"][rows], num["estimate"][rows], num["p_value"][rows]
        ax.plot(d, e, color=colour, linewidth=1.8, marker="o", markersize=3, label=name)
        ax.fill_between(d, num["ci_low"][rows], num["ci_high"][rows], color=colour, alpha=0.15, linewidth=0)
        valid = ~np.isnan(p) & ~np.isnan(e)
        d, e, p = d[valid], e[valid], p[valid]
        sig = p < alpha
        cross = np.flatnonzero(sig[1:] != sig[:-1])
        if len(cross):
            p0, p1 = p[cross], p[cross + 1]
            frac = np.where(p1 != p0, (alpha - p0) / np.where(p1 != p0, p1 - p0, 1.0), 0.5)
            dt = d[cross] + frac * (d[cross + 1] - d[cross])
            et = e[cross] + frac * (e[cross + 1] - e[cross])
            ax.plot(dt, et, "X", color="black", markersize=9, linestyle="none")
            for xd, ye in zip(dt, et, strict=True):
                ax.annotate(f"δ = {xd:.3g}", (xd, ye), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xlabel("Shift δ added to imputed missing values")
    ax.set_ylabel(f"Estimate ({100 * conf_level:g}% CI)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, title=f"Tipping point: P crosses {alpha:g} (×)")
    return ax


# --------------------------------------------------------------------------- CONSORT

_FONT = 8.0  # points
_PAD = 6.0  # points between text and box edge
_GAP_X = 18.0  # points between boxes side by side
_GAP_Y = 22.0  # points between rows
_MAX_REASONS = 6


def _reason_lines(items: tuple[tuple[str, int], ...]) -> list[str]:
    lines = []
    shown = items[:_MAX_REASONS]
    for reason, count in shown:
        wrapped = textwrap.wrap(f"{reason} (n = {count})", 38) or [""]
        lines.append("    • " + wrapped[0])
        lines += ["       " + w for w in wrapped[1:]]
    rest = sum(c for _, c in items[_MAX_REASONS:])
    if rest:
        lines.append(f"    • other reasons (n = {rest})")
    return lines


def _na(x: int | None) -> str:
    return "n/a" if x is None else str(x)


def _text_size(texts: Sequence[tuple[str, str]]) -> list[tuple[float, float]]:
    """(width, height) in points of each (text, multialignment) at the CONSORT font size."""
    fig = Figure(dpi=72)
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    out = []
    for s, align in texts:
        t = fig.text(0, 0, s, fontsize=_FONT, multialignment=align)
        bb = t.get_window_extent(renderer)
        out.append((bb.width, bb.height))
    return out


def _consort_boxes(flow: ConsortFlow) -> dict[str, tuple[str, str]]:
    """The boxes of the diagram: name -> (text, multialignment), top to bottom."""
    if flow.n_screened is None or flow.n_not_eligible is None or flow.n_refused is None:
        screened, excl = "Assessed for eligibility\n(not recorded)", ["Excluded (not recorded)"]
    else:
        n_excluded = flow.n_not_eligible + flow.n_refused + (flow.n_other or 0)
        screened = f"Assessed for eligibility\n(n = {flow.n_screened})"
        excl = [
            f"Excluded (n = {n_excluded})",
            f"  Not eligible (n = {flow.n_not_eligible})",
            *_reason_lines(flow.not_eligible_reasons),
            f"  Declined to participate (n = {flow.n_refused})",
            *_reason_lines(flow.refused_reasons),
        ]
        if flow.n_other:
            excl += [f"  Other reasons (n = {flow.n_other})", *_reason_lines(flow.other_reasons)]
    boxes: dict[str, tuple[str, str]] = {
        "screened": (screened, "center"),
        "excluded": ("\n".join(excl), "left"),
        "randomised": (
            "\n".join([f"Randomised (n = {flow.n_randomised})", *(f"sequence {seq}: n = {n}" for seq, n in flow.sequences)]),
            "center",
        ),
    }
    for p in flow.periods:
        boxes[f"alloc{p.period}"] = (f"Period {p.period}\nAllocated (n = {p.allocated})\nReceived infusion (n = {p.received})", "center")
        boxes[f"follow{p.period}"] = (
            f"Period {p.period}\nCompleted diary (n = {_na(p.completed)})\nAnalysed (n = {_na(p.analysed)})",
            "center",
        )
    boxes["overall"] = (
        f"Completed every period (n = {_na(flow.n_completed)})\nAnalysed in ≥ 1 period (n = {_na(flow.n_analysed)})",
        "center",
    )
    return boxes


@dataclass(frozen=True)
class _ConsortLayout:
    """Where each box goes (points): ``top`` (y growing downwards) and ``centre`` (x around a
    centre line at 0), the rows below the randomisation box, and the drawing's size."""

    sizes: dict[str, tuple[float, float]]
    top: dict[str, float]
    centre: dict[str, float]
    rows: list[list[str]]
    x_shift: float
    width: float
    height: float
    margin: float

    def rect(self, b: str) -> tuple[float, float, float, float]:
        """``(x0, y0, w, h)`` of box ``b`` in drawing coordinates (y upwards)."""
        w, h = self.sizes[b]
        cx = self.centre[b] + self.x_shift
        ytop = self.height - self.margin - self.top[b]
        return cx - w / 2, ytop - h, w, h


def _consort_layout(boxes: dict[str, tuple[str, str]], flow: ConsortFlow) -> _ConsortLayout:
    """Boxes sized to their text; rows stacked with gaps; period boxes in equal columns."""
    sizes = dict(zip(boxes, ((w + 2 * _PAD, h + 2 * _PAD) for w, h in _text_size(list(boxes.values()))), strict=True))
    top: dict[str, float] = {}
    y = 0.0
    for b, gap in (("screened", _GAP_Y), ("excluded", _GAP_Y), ("randomised", 1.5 * _GAP_Y)):
        top[b] = y
        y += sizes[b][1] + gap
    rows = [[f"alloc{p.period}" for p in flow.periods], [f"follow{p.period}" for p in flow.periods], ["overall"]]
    rows = [r for r in rows if r]
    for row in rows:
        height = max(sizes[b][1] for b in row)
        for b in row:
            top[b] = y + (height - sizes[b][1]) / 2
        y += height + 1.5 * _GAP_Y
    total_h = y - 1.5 * _GAP_Y
    centre: dict[str, float] = {}
    half = max(sizes["screened"][0], sizes["randomised"][0]) / 2
    centre["screened"] = centre["randomised"] = 0.0
    centre["excluded"] = half + 2 * _GAP_X + sizes["excluded"][0] / 2
    left, right = -half, centre["excluded"] + sizes["excluded"][0] / 2
    period_w = max((sizes[b][0] for row in rows[:-1] for b in row), default=0.0)
    for row in rows:
        colw = max(sizes[b][0] for b in row) if row == ["overall"] else period_w
        width = colw * len(row) + _GAP_X * (len(row) - 1)  # equal columns, so periods line up
        x0 = -width / 2
        for i, b in enumerate(row):
            centre[b] = x0 + colw / 2 + i * (colw + _GAP_X)
        left, right = min(left, x0), max(right, x0 + width)
    margin = 4.0
    return _ConsortLayout(
        sizes=sizes,
        top=top,
        centre=centre,
        rows=rows,
        x_shift=-left + margin,
        width=right - left + 2 * margin,
        height=total_h + 2 * margin,
        margin=margin,
    )


def _consort_arrows(ax: Axes, layout: _ConsortLayout, scale: float) -> None:
    """Arrows from each row of boxes to the next (fanning out and in through a bar)."""
    rect = layout.rect

    def arrow(a: tuple[float, float], b: tuple[float, float], head: bool = True) -> None:
        ax.add_patch(
            FancyArrowPatch(
                a, b, arrowstyle="-|>" if head else "-", mutation_scale=8 * scale, color="#34495e", linewidth=0.9, shrinkA=0, shrinkB=0
            )
        )

    sx, sy, sw, _sh = rect("screened")
    _rx, ry, _rw, rh = rect("randomised")
    ex, ey, _ew, eh = rect("excluded")
    cx = sx + sw / 2
    arrow((cx, sy), (cx, ry + rh))
    arrow((cx, ey + eh / 2), (ex, ey + eh / 2))
    previous = ["randomised"]
    for row in layout.rows:
        for b in row:
            bx, by, bw, bh = rect(b)
            src = previous[0] if len(previous) == 1 else previous[row.index(b)] if len(previous) == len(row) else None
            if src is None:
                # many boxes into one: short lines from each down to a bar, then one arrow
                ybar = by + bh + 0.75 * _GAP_Y
                for p in previous:
                    px, py, pw, _ = rect(p)
                    arrow((px + pw / 2, py), (px + pw / 2, ybar), head=False)
                arrow((bx + bw / 2, ybar), (bx + bw / 2, by + bh))
                xs = [rect(p)[0] + rect(p)[2] / 2 for p in previous]
                arrow((min(xs), ybar), (max(xs), ybar), head=False)
                continue
            px, py, pw, _ = rect(src)
            if len(previous) == 1 and len(row) > 1:
                ybar = by + bh + 0.75 * _GAP_Y
                arrow((px + pw / 2, py), (px + pw / 2, ybar), head=False)
                arrow((px + pw / 2, ybar), (bx + bw / 2, ybar), head=False)
                arrow((bx + bw / 2, ybar), (bx + bw / 2, by + bh))
            else:
                arrow((px + pw / 2, py), (bx + bw / 2, by + bh))
        previous = row


def plot_consort(flow: ConsortFlow, ax: Axes | None = None) -> Axes:
    """Draw the CONSORT flow diagram of a crossover trial from a :class:`ConsortFlow`.

    Rows, top to bottom: assessed for eligibility; excluded (with reasons, to the side);
    randomised; per period the allocation (allocated, received the infusion); per period the
    follow-up and analysis (completed, analysed); the overall completion and analysis.
    Boxes are sized to their text and laid out so that none overlaps another; when drawn on
    a given (small) Axes the whole diagram, text included, is scaled down to fit.

    Parameters
    ----------
    flow : ConsortFlow
        From :func:`ketapain.operations.consort_flow`.
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Boxes are :class:`~matplotlib.patches.FancyBboxPatch` patches (``ax.patches``, gid
        ``"consort-box"``), each with its text, joined by arrows.

    Examples
    --------
    >>> from ketapain.operations import ConsortFlow, PeriodFlow
    >>> flow = ConsortFlow(n_screened=30, n_not_eligible=6, not_eligible_reasons=(("DN4 < 4", 6),),
    ...     n_refused=4, refused_reasons=(("travel", 4),), n_other=0, other_reasons=(),
    ...     n_randomised=20, periods=(PeriodFlow(1, 20, 20, 19, 19), PeriodFlow(2, 20, 19, 18, 18)),
    ...     n_completed=18, n_analysed=20)
    >>> ax = plot_consort(flow)
    >>> sum(p.get_gid() == "consort-box" for p in ax.patches)
    8
    """
    if not isinstance(flow, ConsortFlow):
        raise TypeError(f"flow must be a ketapain.operations.ConsortFlow, got {type(flow).__name__}")
    boxes = _consort_boxes(flow)
    layout = _consort_layout(boxes, flow)
    if ax is None:
        fig = Figure(figsize=(layout.width / 72, layout.height / 72), layout=None)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        scale = 1.0
    else:
        _axes(ax)
        bbox = ax.get_window_extent()
        dpi = ax.figure.dpi
        scale = min(1.0, bbox.width / dpi * 72 / layout.width, bbox.height / dpi * 72 / layout.height)
    ax.set_xlim(0, layout.width)
    ax.set_ylim(0, layout.height)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_axis_off()
    for b, (s, align) in boxes.items():
        x0, y0, w, h = layout.rect(b)
        box = FancyBboxPatch(
            (x0, y0),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=4",
            facecolor="#f4f7fb" if b != "excluded" else "#fbf6f0",
            edgecolor="#34495e",
            linewidth=0.9,
            gid="consort-box",
        )
        ax.add_patch(box)
        ax.text(x0 + w / 2, y0 + h / 2, s, ha="center", va="center", multialignment=align, fontsize=_FONT * scale, gid=f"consort-text-{b}")
    _consort_arrows(ax, layout, scale)
    return ax

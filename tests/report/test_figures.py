"""Figures: artist counts for known inputs, missing values, n shown, errors, CONSORT layout."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from report_samples import ORDER, sample_auc

from ketapain.errors import DataError
from ketapain.operations import ConsortFlow, PeriodFlow, consort_flow
from ketapain.report import (
    ARM_COLOURS,
    arm_colours,
    plot_consort,
    plot_daily_means,
    plot_forest,
    plot_patient_bars,
    plot_patient_lines,
    plot_tipping_point,
)


def test_patient_lines_counts_and_median() -> None:
    auc = sample_auc()          # 6 patients, P03 has no KM value
    ax = plot_patient_lines(auc, order=ORDER, ylabel="AUC")
    assert len(ax.lines) == 6                                   # one grey line per patient
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in scatters] == [6, 6, 5]   # the missing KM point not drawn
    assert [to_hex(c.get_facecolor()[0]) for c in scatters] == [c.lower() for c in ARM_COLOURS[:3]]
    (medians,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    # medians by hand: P {210,180,200,150,230,170} -> 190; K {150.5,120,140,149,120.5,165} -> 144.5;
    # KM {170.25,160,151,110,180} -> 160
    assert [seg[0][1] for seg in medians.get_segments()] == [190.0, 144.5, 160.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["P\n(n = 6)", "K\n(n = 6)", "KM\n(n = 5)"]
    # the P03 line is broken at the missing value: its y data holds a NaN
    p03 = ax.lines[2].get_ydata()
    assert np.isnan(p03[2]) and list(p03[:2]) == [200.0, 140.0]


def test_patient_lines_labels_and_given_axes() -> None:
    fig = Figure()
    FigureCanvasAgg(fig)
    ax0 = fig.add_subplot()
    ax = plot_patient_lines(sample_auc(), order=["KM", "P", "K"], labels={"P": "Placebo"}, ylabel="y", ax=ax0)
    assert ax is ax0
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["KM", "Placebo", "K"]


def test_patient_bars_counts() -> None:
    ax = plot_patient_bars(sample_auc(), order=ORDER, ylabel="AUC")
    assert len(ax.patches) == 17                                 # 18 values, one missing
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"P{i:02d}" for i in range(1, 7)]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["P (n = 6)", "K (n = 6)", "KM (n = 5)"]
    heights = sorted(round(p.get_height(), 2) for p in ax.patches)
    assert heights[:2] == [110.0, 120.0] and not any(np.isnan(heights))


def test_patients_sorted_by_id_whatever_the_row_order() -> None:
    auc = sample_auc().sample(frac=1.0, random_state=np.random.default_rng(3).integers(1 << 31))
    ax = plot_patient_bars(auc, order=ORDER, ylabel="AUC")
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"P{i:02d}" for i in range(1, 7)]


def test_daily_means_counts() -> None:
    days = np.arange(36)
    daily = pd.DataFrame({"treatment": np.repeat(list(ORDER), 36), "day": np.tile(days, 3),
                          "mean": np.tile(6 - days / 10, 3), "ci_low": np.tile(5 - days / 10, 3),
                          "ci_high": np.tile(7 - days / 10, 3)})
    daily.loc[40, "mean"] = np.nan
    ax = plot_daily_means(daily.iloc[::-1], order=ORDER, ylabel="Pain")
    assert len(ax.lines) == 3 and len(ax.collections) == 3
    assert list(ax.lines[0].get_xdata()) == list(days)           # sorted by day
    assert np.isnan(ax.lines[1].get_ydata()[4])                   # K day 4 missing: a gap
    assert [to_hex(line.get_color()) for line in ax.lines] == [c.lower() for c in ARM_COLOURS[:3]]
    assert ax.get_legend().get_title().get_text() == "Mean and 95% CI"


def test_figures_name_the_level_of_their_bands() -> None:
    # the bands are drawn at the analysis's conf_level; the legend / axis say which (was always "95% CI")
    daily = pd.DataFrame({"treatment": ["P", "P"], "day": [0, 1], "mean": [6.0, 5.0], "ci_low": [5.5, 4.5],
                          "ci_high": [6.5, 5.5]})
    ax = plot_daily_means(daily, order=ORDER, ylabel="Pain", conf_level=0.9)
    assert ax.get_legend().get_title().get_text() == "Mean and 90% CI"
    f = pd.DataFrame({"delta": [0.0, 1.0], "contrast": ["K - P"] * 2, "estimate": [-1.0, 0.0], "ci_low": [-2.0, -1.0],
                      "ci_high": [0.0, 1.0], "p_value": [0.04, 0.5]})
    assert plot_tipping_point(f, alpha=0.05, conf_level=0.99).get_ylabel() == "Estimate (99% CI)"
    assert plot_tipping_point(f, alpha=0.05).get_ylabel() == "Estimate (95% CI)"
    for bad in (0.0, 1.0, 95, True):
        with pytest.raises(DataError, match=rf"plot_daily_means: conf_level={bad!r} must be a number in \(0, 1\)"):
            plot_daily_means(daily, order=ORDER, ylabel="Pain", conf_level=bad)


def test_forest() -> None:
    f = pd.DataFrame({"label": ["K vs P", "KM vs P", "KM vs K"], "estimate": [-0.5, np.nan, 0.1],
                      "ci_low": [-1.0, np.nan, -0.3], "ci_high": [0.0, np.nan, 0.5]})
    ax = plot_forest(f, xlabel="Hedges' g")
    (ci,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(ci.get_segments()) == 2
    points = [line for line in ax.lines if line.get_marker() == "D"]
    assert len(points) == 1 and list(points[0].get_xdata()) == [-0.5, 0.1]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["K vs P", "KM vs P (not estimable)", "KM vs K"]
    refs = [line for line in ax.lines if list(line.get_xdata()) == [0, 0]]
    assert len(refs) == 1


def test_tipping_point_crossing_interpolated() -> None:
    # K - P: p crosses 0.05 between delta 1 (0.03) and 2 (0.4): 1 + (0.05-0.03)/(0.4-0.03) = 1.054
    # KM - P: never significant: no marker
    f = pd.DataFrame({"delta": [0.0, 1.0, 2.0] * 2, "contrast": ["K - P"] * 3 + ["KM - P"] * 3,
                      "estimate": [-10.0, -6.0, -2.0, -1.0, 0.0, 1.0], "ci_low": [-15.0, -11, -7, -6, -5, -4],
                      "ci_high": [-5.0, -1, 3, 4, 5, 6], "p_value": [0.001, 0.03, 0.4, 0.6, 0.9, 0.7]})
    ax = plot_tipping_point(f, alpha=0.05)
    marks = [line for line in ax.lines if line.get_marker() == "X"]
    assert len(marks) == 1
    x = 1 + 0.02 / 0.37
    np.testing.assert_allclose(marks[0].get_xdata(), [x], rtol=1e-12)
    np.testing.assert_allclose(marks[0].get_ydata(), [-6 + 4 * 0.02 / 0.37], rtol=1e-12)
    assert [t.get_text() for t in ax.texts] == ["δ = 1.05"]
    curves = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(curves) == 2 and len(ax.collections) == 2


@pytest.mark.parametrize(
    ("call", "missing"),
    [(lambda f: plot_patient_lines(f, order=ORDER, ylabel="y"), "'auc'"),
     (lambda f: plot_patient_bars(f, order=ORDER, ylabel="y"), "'auc'"),
     (lambda f: plot_daily_means(f, order=ORDER, ylabel="y"), "'day', 'mean', 'ci_low', 'ci_high'"),
     (lambda f: plot_forest(f, xlabel="x"), "'label', 'estimate', 'ci_low', 'ci_high'"),
     (lambda f: plot_tipping_point(f, alpha=0.05), "'delta', 'contrast', 'estimate'")],
)
def test_missing_columns(call, missing: str) -> None:
    frame = pd.DataFrame({"patient_id": ["P1"], "treatment": ["P"], "value": [1.0]})
    with pytest.raises(DataError, match=f"required column\\(s\\) {missing}"):
        call(frame)


def test_bad_auc_input() -> None:
    auc = sample_auc()
    with pytest.raises(DataError, match=r"treatment\(s\) \['KM'\] not in order \['P', 'K'\]"):
        plot_patient_lines(auc, order=["P", "K"], ylabel="y")
    with pytest.raises(DataError, match="patient 'P01' has more than one row for treatment 'P'"):
        plot_patient_bars(pd.concat([auc, auc.iloc[:1]]), order=ORDER, ylabel="y")
    bad = auc.assign(auc=auc["auc"].astype(object))
    bad.loc[3, "auc"] = "high"
    with pytest.raises(DataError, match="column 'auc' row 3: 'high' is not a number"):
        plot_patient_lines(bad, order=ORDER, ylabel="y")
    with pytest.raises(DataError, match=re.escape("alpha=1.5")):
        plot_tipping_point(pd.DataFrame(columns=["delta", "contrast", "estimate", "ci_low", "ci_high", "p_value"]), alpha=1.5)


def test_arm_colours_follow_order() -> None:
    assert arm_colours(["K", "P"]) == {"K": ARM_COLOURS[0], "P": ARM_COLOURS[1]}
    assert len(set(ARM_COLOURS)) == len(ARM_COLOURS)


def _flow() -> ConsortFlow:
    reasons = tuple((f"reason number {i} with a rather long explanation of why", 8 - i) for i in range(8))
    return ConsortFlow(n_screened=60, n_not_eligible=28, not_eligible_reasons=reasons, n_refused=6,
                       refused_reasons=(("travel", 4), ("not stated", 2)), n_other=2, other_reasons=(("moved", 2),),
                       n_randomised=24, periods=tuple(PeriodFlow(p, 24, 24 - p, 23 - p, 23 - p) for p in (1, 2, 3)),
                       n_completed=20, n_analysed=24)


def _boxes_and_texts(ax):
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    boxes = [p for p in ax.patches if p.get_gid() == "consort-box"]
    texts = [t for t in ax.texts if (t.get_gid() or "").startswith("consort-text-")]
    return boxes, texts, renderer


@pytest.mark.parametrize("given_axes", [False, True])
def test_consort_boxes_do_not_overlap_and_text_fits(given_axes: bool) -> None:
    ax = None
    if given_axes:
        fig = Figure(figsize=(5, 4))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    ax = plot_consort(_flow(), ax=ax)
    boxes, texts, renderer = _boxes_and_texts(ax)
    assert len(boxes) == len(texts) == 1 + 1 + 1 + 3 + 3 + 1
    extents = [b.get_window_extent(renderer) for b in boxes]
    for a, b in itertools.combinations(extents, 2):
        assert not a.overlaps(b), (a, b)
    for box, text in zip(extents, (t.get_window_extent(renderer) for t in texts), strict=True):
        assert box.x0 <= text.x0 and text.x1 <= box.x1 and box.y0 <= text.y0 and text.y1 <= box.y1
    fig_box = ax.figure.bbox
    assert all(fig_box.x0 - 1 <= e.x0 and e.x1 <= fig_box.x1 + 1 and fig_box.y0 - 1 <= e.y0 and e.y1 <= fig_box.y1 + 1
               for e in extents)
    text = "\n".join(t.get_text() for t in texts)
    assert "Assessed for eligibility\n(n = 60)" in text and "Excluded (n = 36)" in text
    assert "other reasons (n = 3)" in text    # reasons beyond the sixth are pooled: 2 + 1
    assert "Period 3\nAllocated (n = 24)\nReceived infusion (n = 21)" in text


def test_consort_from_counts_without_diary() -> None:
    log = pd.DataFrame({"screening_id": ["S1", "S2", "S3"], "outcome": ["randomised", "refused", "not_eligible"],
                        "reason": [None, "travel", "DN4 < 4"], "patient_id": ["P01", None, None]})
    alloc = pd.DataFrame({"patient_id": ["P01", "P01"], "period": [1, 2]})
    ax = plot_consort(consort_flow(log, alloc))
    boxes, texts, _ = _boxes_and_texts(ax)
    assert len(boxes) == 8
    assert "Completed diary (n = n/a)" in "\n".join(t.get_text() for t in texts)


def test_consort_rejects_other_input() -> None:
    with pytest.raises(TypeError, match="ConsortFlow"):
        plot_consort({"n_screened": 3})


def test_consort_without_screening_says_not_recorded() -> None:
    alloc = pd.DataFrame({"patient_id": ["P01", "P01", "P02", "P02"], "period": [1, 2, 1, 2]})
    ax = plot_consort(consort_flow(None, alloc))
    boxes, texts, _ = _boxes_and_texts(ax)
    text = "\n".join(t.get_text() for t in texts)
    assert len(boxes) == 8
    assert "Assessed for eligibility\n(not recorded)" in text and "Excluded (not recorded)" in text
    assert "Randomised (n = 2)" in text and "n = None" not in text

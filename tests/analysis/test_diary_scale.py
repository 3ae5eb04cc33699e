"""The analysis on the protocol's diary scale (``[diary] scale_min``, ``scale_max``).

A VAS 0..100 trial runs to completion; data that do not fit the protocol's scale are refused by
``check_inputs`` whatever scale their TrialData was built with; on a 0..5 scale the imputations of
the sensitivity section stay in 0..5 (they were clipped to 0..10: a silent wrong answer).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scales
from ketapain.analysis import run_analysis
from ketapain.analysis._sensitivity import TIPPING_DELTAS, sensitivity_settings, tipping_deltas
from ketapain.data import TrialData
from ketapain.errors import DataError, KetapainWarning
from ketapain.simulate import simulate_trial
from ketapain.stats import _imputation


def _quiet_run(data: TrialData, protocol: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetapainWarning)
        return run_analysis(data, protocol, seed=1, **kw)


def test_a_vas_0_100_trial_is_analysed_to_the_end(tmp_path: Path) -> None:
    protocol = scales.on_scale(tmp_path, 0, 100)
    data = simulate_trial(protocol, n_patients=12, seed=3)
    results = _quiet_run(data, protocol)
    assert results.study["diary_scale"] == [0.0, 100.0]
    assert set(results.table2["endpoint"]) == {e.name for e in protocol.endpoints}
    assert {"multiple_imputation", "tipping_point"} <= set(results.sensitivity)
    deltas = sorted(results.sensitivity["tipping_point"]["delta"].unique())
    assert deltas == [10.0 * d for d in TIPPING_DELTAS] == list(tipping_deltas(protocol))
    assert results.settings.sensitivity.tipping_deltas == tipping_deltas(protocol)


def test_the_reference_scale_keeps_its_deltas_and_study(tmp_path: Path) -> None:
    protocol = scales.on_scale(tmp_path, 0, 10)
    assert tipping_deltas(protocol) == TIPPING_DELTAS  # times exactly 1.0
    assert sensitivity_settings(protocol).tipping_deltas == TIPPING_DELTAS
    five = scales.on_scale(tmp_path / "five", 0, 5)
    assert tipping_deltas(five) == tuple(d / 2 for d in TIPPING_DELTAS)
    results = _quiet_run(simulate_trial(protocol, n_patients=8, seed=1), protocol, sensitivity=False)
    assert "diary_scale" not in results.study


def test_data_off_the_protocol_s_scale_are_refused_whatever_they_were_built_with(tmp_path: Path) -> None:
    vas = scales.on_scale(tmp_path / "vas", 0, 100)
    nrs = scales.on_scale(tmp_path / "nrs", 0, 10)
    data = simulate_trial(vas, n_patients=4, seed=1)  # built with diary_scale=(0, 100)
    row = int(np.flatnonzero(data.diary["avg_pain"].to_numpy() > 10)[0])
    value = data.diary["avg_pain"].iloc[row]
    with pytest.raises(DataError) as err:
        run_analysis(data, nrs, seed=1, sensitivity=False)
    assert str(err.value).startswith(f"diary row {row + 2}: avg_pain={value:g} is outside 0..10, the diary scale "
                                     "of protocol 'my_trial'")
    assert (err.value.source, err.value.column, err.value.allowed) == ("diary", "avg_pain", "0..10")
    # the pre-infusion pain too: a diary that fits, an anchor that does not
    low = data.diary.assign(avg_pain=data.diary["avg_pain"].clip(upper=10),
                            max_pain=data.diary["max_pain"].clip(upper=10))
    alloc = data.allocation.assign(pre_infusion_pain=data.allocation["pre_infusion_pain"].clip(upper=10))
    alloc.loc[1, "pre_infusion_pain"] = 55.0
    fits = TrialData.from_tables(**{**data.to_tables(), "diary": low, "allocation": alloc}, diary_scale=(0, 100))
    with pytest.raises(DataError, match=r"^allocation row 3: pre_infusion_pain=55 is outside 0\.\.10"):
        run_analysis(fits, nrs, seed=1, sensitivity=False)


def test_the_imputations_of_a_0_5_trial_stay_in_0_5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    protocol = scales.on_scale(tmp_path, 0, 5)
    data = simulate_trial(protocol, n_patients=12, seed=4, missing="mcar")
    assert data.diary["avg_pain"].max() <= 5 and data.diary["avg_pain"].isna().any()
    clips, tops, unclipped = [], [], []
    real = _imputation.finish

    def spy(grid: Any, raw: np.ndarray, delta: np.ndarray, clip: Any) -> np.ndarray:
        clips.append(clip)
        out = real(grid, raw, delta, clip)
        tops.append(float(out.max()))
        unclipped.append(float(real(grid, raw, delta, None).max()))
        return out

    monkeypatch.setattr(_imputation, "finish", spy)
    from ketapain.stats import _mi_tipping
    monkeypatch.setattr(_mi_tipping, "finish", spy)
    results = _quiet_run(data, protocol)
    assert "multiple_imputation" in results.sensitivity and "tipping_point" in results.sensitivity
    assert clips and set(clips) == {(0.0, 5.0)}
    assert max(tops) <= 5.0
    assert max(unclipped) > 5.0  # without the protocol's clip, imputed days went above 5 (up to 10 before)


def test_immpact_reduction_is_a_share_of_the_pain_above_the_scales_floor(tmp_path: Path) -> None:
    """On a 1..10 scale, pre-infusion pain 3 and a mean of 2 over the window is half the pain
    above the floor (1): (3 - 2) / (3 - 1) = 50%, an IMMPACT substantial improvement; the raw
    (3 - 2) / 3 = 33% would miss it. On the NRS 0..10 the same numbers give 33% (floor 0).
    Hand-made diary: one patient, two periods of 21 days at 2 (treatment A) and 3 (B)."""
    import numpy as np
    import pandas as pd

    from ketapain.analysis._responders import responder_rows
    from ketapain.analysis._warnings import WarningLog

    for lo, want_pct in ((1, 50.0), (0, 100.0 / 3.0)):
        protocol = scales.on_scale(tmp_path / f"s{lo}", lo, 10)
        diary = pd.DataFrame({"patient_id": "P1", "period": np.repeat([1, 2], 21), "day": np.tile(np.arange(1, 22), 2),
                              "avg_pain": np.repeat([2.0, 3.0], 21)})
        alloc = pd.DataFrame({"patient_id": ["P1", "P1"], "period": [1, 2], "treatment": ["A", "B"],
                              "pre_infusion_pain": [3.0, 3.0]})
        aucs = pd.DataFrame({"patient_id": ["P1", "P1"], "period": [1, 2], "treatment": ["A", "B"],
                             "endpoint": "auc_avg_pain_d21", "auc": [np.nan, np.nan]})
        per = responder_rows(aucs, alloc, diary, protocol, WarningLog()).sort_values("period")
        assert per["mean_pain"].tolist() == [2.0, 3.0]
        np.testing.assert_allclose(per["reduction_pct"].tolist(), [want_pct, 0.0], rtol=1e-15)
        assert per["immpact30"].tolist() == [True, False]
        assert per["immpact50"].tolist() == [lo == 1, False]

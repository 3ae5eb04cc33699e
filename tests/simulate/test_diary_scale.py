"""The simulator on a protocol's own diary scale: scores are clipped to ``[diary] scale_min..
scale_max`` and the trial is validated on it (a VAS 0..100 protocol failed: "diary row 129:
avg_pain=11 is outside 0..10"). The default parameters are in scale units, calibrated on the NRS
0..10: on a VAS they give a trial of low VAS scores, not a rescaled reference study."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scales
from ketapain.errors import KetapainWarning
from ketapain.simulate import calibrate, simulate_power, simulate_trial


def _scores(data) -> pd.Series:  # type: ignore[no-untyped-def]
    return pd.concat([data.diary[i] for i in ("avg_pain", "max_pain")] + [data.allocation["pre_infusion_pain"]]).dropna()


@pytest.mark.parametrize(("lo", "hi"), [(0, 100), (0, 5)])
def test_simulate_trial_stays_on_the_scale(tmp_path: Path, lo: int, hi: int) -> None:
    protocol = scales.on_scale(tmp_path, lo, hi)
    scores = _scores(simulate_trial(protocol, n_patients=8, seed=1))
    assert scores.between(lo, hi).all()
    if hi == 100:
        assert scores.max() > 10  # the old 0..10 bound refused this trial
    else:
        assert scores.max() == 5  # clipped at the top of the 0..5 scale


def test_simulate_power_and_calibrate_run_on_a_vas(tmp_path: Path) -> None:
    protocol = scales.on_scale(tmp_path, 0, 100)
    power = simulate_power(protocol, n=[8], sims=20, seed=1).to_frame()
    assert list(power["contrast"]) == ["omnibus", "A - B"]
    assert power["power"].between(0, 1).all() and (power["sims"] == 20).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetapainWarning)
        figures = calibrate(protocol, seed=1, trials=3)
    assert figures and all(np.isfinite(f.sim_median) for f in figures if f.figure.startswith("table1_baseline."))

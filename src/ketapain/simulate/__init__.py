"""The in-silico trial: simulate a crossover trial of a protocol, calibrated to KETAPAIN, and
the power of its primary analysis by simulation.

:func:`simulate_trial` writes a complete :class:`~ketapain.data.TrialData` (screening log,
patients, allocation from the real randomisation code, daily diaries, item-level
questionnaires, adverse events, concomitant analgesics); :func:`calibrate` simulates many
trials of the published size and reports where each published figure of Pickering et al.
(Anesthesiology 2020) falls in the simulated distribution; :func:`simulate_power` simulates
and analyses many trials per sample size. All use the public diary kernel
:func:`simulate_diary` with typed parameters (:func:`load_parameters`, :class:`ArmEffect`).
See ``docs/simulate.md`` and ``docs/power.md``.
"""

from __future__ import annotations

from ketapain.simulate._calibrate import (
    KNOWN_OUTSIDE,
    CalibrationFigure,
    calibrate,
    published_figures,
)
from ketapain.simulate._core import MAX_CALIBRATION_TRIALS, MAX_PATIENT_DAYS, MAX_POWER_SIMS, MAX_TRIAL_DIARY_DAYS, MAX_TRIAL_PATIENTS
from ketapain.simulate._diary import DIARY_ITEMS, SimulatedDiary, simulate_diary
from ketapain.simulate._params import (
    ArmEffect,
    Parameters,
    arm_effects,
    load_parameters,
    load_published,
)
from ketapain.simulate._power import (
    SWEEP_MALLOC_ENV,
    PowerEstimate,
    PowerResult,
    load_effects,
    local_cluster,
    simulate_power,
)
from ketapain.simulate._trial import simulate_trial

__all__ = [
    "ArmEffect",
    "CalibrationFigure",
    "DIARY_ITEMS",
    "KNOWN_OUTSIDE",
    "MAX_CALIBRATION_TRIALS",
    "MAX_PATIENT_DAYS",
    "MAX_POWER_SIMS",
    "MAX_TRIAL_DIARY_DAYS",
    "MAX_TRIAL_PATIENTS",
    "Parameters",
    "PowerEstimate",
    "PowerResult",
    "SWEEP_MALLOC_ENV",
    "SimulatedDiary",
    "arm_effects",
    "calibrate",
    "load_effects",
    "load_parameters",
    "load_published",
    "local_cluster",
    "published_figures",
    "simulate_diary",
    "simulate_power",
    "simulate_trial",
]

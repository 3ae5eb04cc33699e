"""The in-silico trial: simulate a crossover trial of a protocol, calibrated to KETAPAIN.

:func:`simulate_trial` writes a complete :class:`~ketapain.data.TrialData` (screening log,
patients, allocation from the real randomisation code, daily diaries, item-level
questionnaires, adverse events, concomitant analgesics); :func:`calibrate` simulates many
trials of the published size and reports where each published figure of Pickering et al.
(Anesthesiology 2020) falls in the simulated distribution. See ``docs/simulate.md``.
"""

from __future__ import annotations


from ketapain.simulate._calibrate import KNOWN_OUTSIDE, CalibrationFigure, calibrate, published_figures
from ketapain.simulate._params import Parameters, load_parameters, load_published
from ketapain.simulate._trial import simulate_trial

__all__ = [
    "CalibrationFigure",
    "KNOWN_OUTSIDE",
    "Parameters",
    "calibrate",
    "load_parameters",
    "load_published",
    "published_figures",
    "simulate_trial",
]

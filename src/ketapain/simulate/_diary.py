"""The diary kernel of the in-silico trial: daily pain of many patients at once (public).

:func:`simulate_diary` draws the three diary items, the extra analgesics, the missing days and
the pre-infusion pain of ``N`` patients (of any number of trials) whose arm per period is
given. :func:`ketapain.simulate.simulate_trial` and :func:`ketapain.simulate.simulate_power`
both use it; the model is in ``docs/simulate.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ketapain._options import MISSING_MODE, check_option
from ketapain.errors import ProtocolError
from ketapain.simulate._params import (
    ArmEffect,
    DiaryParameters,
    MissingParameters,
    Parameters,
)

if TYPE_CHECKING:
    from ketapain.protocol import Protocol

__all__ = ["DIARY_ITEMS", "SimulatedDiary", "simulate_diary"]

DIARY_ITEMS = ("avg_pain", "max_pain", "night_pain")
"""The diary items the simulator writes (a protocol may record fewer)."""


@dataclass(frozen=True, slots=True)
class SimulatedDiary:
    """Output of :func:`simulate_diary` for ``N`` patients, ``P`` periods, ``D`` diary days.

    Attributes
    ----------
    items : dict of str to ndarray
        ``avg_pain``, ``max_pain``, ``night_pain`` -> (N, P, D) scores on the protocol's
        scale, NaN on a missing day (all three items are missing together).
    extra_analgesics : ndarray
        (N, P, D): 1.0 when extra analgesics were taken that day, 0.0 when not, NaN when missing.
    pre_infusion : ndarray
        (N, P) pain before each infusion (the AUC's anchor at day 0), never missing.
    pain_z : ndarray
        (N,) each patient's standardised pain level ``b_i / patient_sd`` (questionnaires
        load on it).
    """

    items: dict[str, np.ndarray]
    extra_analgesics: np.ndarray
    pre_infusion: np.ndarray
    pain_z: np.ndarray


def simulate_diary(
    protocol: Protocol,
    *,
    parameters: Parameters,
    arms: Sequence[ArmEffect],
    treatment: np.ndarray,
    rng: np.random.Generator,
    missing: str = "mcar",
) -> SimulatedDiary:
    r"""Daily diaries of ``N`` patients, vectorised over patients, periods and days.

    Parameters
    ----------
    protocol : Protocol
        Gives the periods ``P``, the diary days per period ``D`` and the scale (0..10).
    parameters : Parameters
        Simulator parameters; ``diary``, ``pre_infusion`` and ``missing`` are used.
    arms : sequence of ArmEffect
        Effect curve of each arm; ``treatment`` indexes into it (e.g.
        ``list(arm_effects(protocol, parameters).values())`` in the protocol's order).
    treatment : ndarray of int, shape (N, P)
        Arm index of each patient in each period.
    rng : numpy.random.Generator
        The stream drawn from (in a fixed order, so the same stream gives the same diaries).
    missing : {"mcar", "mar", "mnar", "none"}, default "mcar"
        Missing days, as :func:`ketapain.simulate.simulate_trial`.

    Returns
    -------
    SimulatedDiary

    Raises
    ------
    ProtocolError
        ``missing`` is not allowed, or ``treatment`` is not an (N, P) array of arm indices.

    Notes
    -----
    Latent average pain of patient i in period p on day d:

    .. math:: y^*_{ipd} = m + b_i + c_{ip} + (e + h_i) e^{-d/\tau_e} + A_{a} e^{-d/\tau_{a}}
              + \pi_p + u_{ipd},

    ``b ~ N(0, patient_sd)``, ``h ~ N(0, early_patient_sd)``, ``c ~ N(0, patient_period_sd)``,
    ``u`` an AR(1) with SD ``ar_sd`` and correlation ``ar_phi``, ``a`` the arm of the period.
    Maximal and night pain add a patient offset and daily noise; every item is rounded and
    clipped to the scale (maximal pain at least average pain). See ``docs/simulate.md``.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> from ketapain.simulate import arm_effects, load_parameters
    >>> proto, params = load_protocol("ab_ba_example"), load_parameters()
    >>> out = simulate_diary(proto, parameters=params, arms=list(arm_effects(proto, params).values()),
    ...                      treatment=np.array([[0, 1], [1, 0]]), rng=np.random.default_rng(1))
    >>> out.items["avg_pain"].shape, out.pre_infusion.shape
    ((2, 2, 28), (2, 2))
    """
    check_option("missing", missing, MISSING_MODE, error=ProtocolError)
    P, D = protocol.design.periods, protocol.diary.days_per_period
    treat = np.asarray(treatment)
    if treat.ndim != 2 or treat.shape[1] != P or not np.issubdtype(treat.dtype, np.integer) \
            or (treat.size and (treat.min() < 0 or treat.max() >= len(arms))):
        raise ProtocolError(template="{@treatment} must be an (N, {P}) integer array of arm indices 0..{last}",
                            params={"P": P, "last": len(arms) - 1})
    N = int(treat.shape[0])
    dp = parameters.diary
    lo, hi = protocol.diary.scale_min, protocol.diary.scale_max
    b: np.ndarray = rng.normal(0.0, dp.patient_sd, N)
    h: np.ndarray = rng.normal(0.0, dp.early_patient_sd, N)
    c: np.ndarray = rng.normal(0.0, dp.patient_period_sd, (N, P))
    avg_lat = _latent_average(dp, arms, treat, b, h, c, rng, P=P, D=D)
    mx = (avg_lat + dp.max_offset_mean
          + rng.normal(0.0, dp.max_offset_patient_sd, N)[:, None, None]
          + rng.normal(0.0, dp.max_noise_sd, (N, P, D)))
    nt = avg_lat + dp.night_offset_mean + rng.normal(0.0, dp.night_offset_patient_sd, N)[
        :, None, None] + rng.normal(0.0, dp.night_noise_sd, (N, P, D))
    avg = np.clip(np.rint(avg_lat), lo, hi)
    mx = np.maximum(np.clip(np.rint(mx), lo, hi), avg)
    nt = np.clip(np.rint(nt), lo, hi)
    pi = parameters.pre_infusion
    pre = np.clip(np.rint(pi.mean + pi.patient_loading * b[:, None] + c + rng.normal(0.0, pi.sd, (N, P))), lo, hi)
    # extra analgesics: more likely on painful days
    logit = np.log(dp.extra_analgesics_rate / (1 - dp.extra_analgesics_rate)) + dp.extra_analgesics_slope * (avg - 5)
    extra = (rng.random((N, P, D)) < 1 / (1 + np.exp(-logit))).astype(float)
    miss = _missing(parameters.missing, avg, rng, missing)
    items = {"avg_pain": avg, "max_pain": mx, "night_pain": nt}
    for k in items:
        items[k] = np.where(miss, np.nan, items[k])
    return SimulatedDiary(items=items, extra_analgesics=np.where(miss, np.nan, extra), pre_infusion=pre,
                          pain_z=b / dp.patient_sd)


def _latent_average(dp: DiaryParameters, arms: Sequence[ArmEffect], treat: np.ndarray, b: np.ndarray,
                    h: np.ndarray, c: np.ndarray, rng: np.random.Generator, *, P: int, D: int) -> np.ndarray:
    """Latent average pain (N, P, D): level, early excess, arm effect and AR(1) noise."""
    N = int(treat.shape[0])
    days = np.arange(1, D + 1, dtype=float)
    pe = np.zeros(P)
    given = list(dp.period_effects)[:P]
    pe[: len(given)] = given
    amp = np.array([e.effect_amplitude for e in arms])[treat]  # (N, P)
    tau = np.array([e.effect_tau_days for e in arms])[treat]
    early = (dp.early_excess + h)[:, None, None] * np.exp(-days / dp.early_tau_days)[None, None, :]
    effect = amp[:, :, None] * np.exp(-days[None, None, :] / tau[:, :, None])
    phi, sd = dp.ar_phi, dp.ar_sd
    eps = rng.standard_normal((N, P, D)) * sd * np.sqrt(1 - phi**2)
    ar = np.empty((N, P, D))
    ar[:, :, 0] = rng.standard_normal((N, P)) * sd
    for d in range(1, D):  # a loop over days (the AR recursion), vectorised over patients
        ar[:, :, d] = phi * ar[:, :, d - 1] + eps[:, :, d]
    level = dp.mean_late + b[:, None, None] + c[:, :, None] + pe[None, :, None]
    return level + early + effect + ar


def _missing(mp: MissingParameters, avg: np.ndarray, rng: np.random.Generator, mode: str) -> np.ndarray:
    """Missing days (N, P, D): MCAR, plus a dropout on yesterday's (MAR) or today's (MNAR) pain."""
    shape = avg.shape
    if mode == "none":
        return np.zeros(shape, dtype=bool)
    miss = rng.random(shape) < mp.mcar_rate
    if mode == "mcar":
        return miss
    base = np.log(mp.base_hazard / (1 - mp.base_hazard))
    driver = np.empty(shape)
    if mode == "mar":  # yesterday's observed pain (day 1 has no yesterday in the diary: no dropout)
        driver[..., 1:] = avg[..., :-1]
        driver[..., 0] = -np.inf
    else:  # mnar: the day's own pain, which goes unobserved
        driver[:] = avg
    hazard = 1 / (1 + np.exp(-(base + mp.slope * (driver - mp.reference_pain))))
    event = rng.random(shape) < hazard
    if mode == "mar":
        # yesterday must itself be observed for a MAR dropout to depend on observed data only
        event[..., 1:] &= ~miss[..., :-1]
        event[..., 0] = False
    dropped = np.cumsum(event, axis=-1) > 0
    return miss | dropped

"""The diary kernel of the in-silico trial: daily pain of many patients at once (public).

:func:`simulate_diary` draws the three diary items, the extra analgesics, the missing days and
the pre-infusion pain of ``N`` patients (of any number of trials) whose arm per period is
given, from one stream in a fixed order: :func:`ketapain.simulate.simulate_trial` and
:func:`ketapain.simulate.calibrate` use it. :func:`simulate_item_block` draws the same model for
one diary item only, each part from its own child stream: the power sweep's generator
(:func:`ketapain.simulate.simulate_power`). The model is in ``docs/simulate.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ketapain._options import MISSING_MODE, check_option
from ketapain._seeds import spawn_generators
from ketapain.errors import ProtocolError
from ketapain.simulate._params import (
    ArmEffect,
    DiaryParameters,
    MissingParameters,
    Parameters,
    PreInfusionParameters,
)

if TYPE_CHECKING:
    from ketapain.protocol import Protocol

__all__ = ["BLOCK_STREAMS", "DIARY_ITEMS", "SimulatedDiary", "simulate_diary", "simulate_item_block"]

DIARY_ITEMS = ("avg_pain", "max_pain", "night_pain")
"""The diary items the simulator writes (a protocol may record fewer)."""
BLOCK_STREAMS = ("levels", "ar", "item", "pre", "missing")
"""The child streams of :func:`simulate_item_block`, spawned from its seed in this order."""


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
        Gives the periods ``P``, the diary days per period ``D`` and the scale (``[diary]
        scale_min..scale_max``: every score is rounded and clipped to it).
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
    treat = _check_treatment(treatment, P, len(arms))
    N = int(treat.shape[0])
    dp = parameters.diary
    lo, hi = protocol.diary.scale_min, protocol.diary.scale_max
    b: np.ndarray = rng.normal(0.0, dp.patient_sd, N)
    h: np.ndarray = rng.normal(0.0, dp.early_patient_sd, N)
    c: np.ndarray = rng.normal(0.0, dp.patient_period_sd, (N, P))
    innovations = rng.standard_normal((N, P, D)) * dp.ar_sd * np.sqrt(1 - dp.ar_phi**2)
    ar = np.ascontiguousarray(np.moveaxis(innovations, -1, 0))  # day-major (D, N, P); day 1's innovation unused
    ar[0] = rng.standard_normal((N, P)) * dp.ar_sd  # the stationary start
    _ar1_filter(ar, dp.ar_phi)
    avg_lat = np.ascontiguousarray(np.moveaxis(_latent_average(dp, arms, treat, b, h, c, ar), 0, -1))  # (N, P, D)
    mx = _offset_item(avg_lat, dp.max_offset_mean, rng.normal(0.0, dp.max_offset_patient_sd, N),
                      rng.normal(0.0, dp.max_noise_sd, (N, P, D)))
    nt = _offset_item(avg_lat, dp.night_offset_mean, rng.normal(0.0, dp.night_offset_patient_sd, N),
                      rng.normal(0.0, dp.night_noise_sd, (N, P, D)))
    avg = np.clip(np.rint(avg_lat), lo, hi)
    mx = np.maximum(np.clip(np.rint(mx), lo, hi), avg)
    nt = np.clip(np.rint(nt), lo, hi)
    pre = _pre_infusion(parameters.pre_infusion, b, c, rng.normal(0.0, parameters.pre_infusion.sd, (N, P)), lo, hi)
    # extra analgesics: more likely on painful days
    logit = np.log(dp.extra_analgesics_rate / (1 - dp.extra_analgesics_rate)) + dp.extra_analgesics_slope * (avg - 5)
    extra = (rng.random((N, P, D)) < 1 / (1 + np.exp(-logit))).astype(float)
    miss = _missing(parameters.missing, avg, rng, missing)
    items = {"avg_pain": avg, "max_pain": mx, "night_pain": nt}
    for k in items:
        items[k] = np.where(miss, np.nan, items[k])
    return SimulatedDiary(items=items, extra_analgesics=np.where(miss, np.nan, extra), pre_infusion=pre,
                          pain_z=b / dp.patient_sd)


def simulate_item_block(
    protocol: Protocol,
    *,
    parameters: Parameters,
    arms: Sequence[ArmEffect],
    treatment: np.ndarray,
    seed: np.random.SeedSequence,
    item: str,
    missing: str = "mcar",
    pre_infusion: bool = True,
    layout: Literal["patient", "day"] = "patient",
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""One diary item and the pre-infusion pain of ``N`` patients: the power sweep's generator.

    The model of :func:`simulate_diary` (its Notes), drawn so that only what one endpoint
    needs is drawn, each part from its own child stream of ``seed`` (:data:`BLOCK_STREAMS`,
    spawned in that order), so that skipping a part never moves another:

    * ``levels``: ``b`` (N), ``h`` (N), ``c`` (N, P), as :func:`simulate_diary`;
    * ``ar``: one (D, N, P) array of standard normals (day-major: all of day 1, then day 2...);
      day 1 starts the AR(1) at its stationary SD (``ar_sd``), days 2..D are its innovations
      (SD ``ar_sd sqrt(1 - ar_phi^2)``); the recursion ``u_d = ar_phi u_{d-1} + e_d`` runs as
      one linear filter over all patients of all trials at once, a vector step per day;
    * ``item``: maximal or night pain only (``item`` other than ``avg_pain``): the patient
      offset (N), then the daily noise (N, P, D);
    * ``pre``: the pre-infusion noise (N, P), only with ``pre_infusion=True``;
    * ``missing``: MCAR days as the geometric gaps between missing cells of the (N, P, D)
      array in C order (independent Bernoulli(``mcar_rate``) days, ~``mcar_rate`` N P D
      draws instead of N P D uniforms); then for ``mar``/``mnar`` one standard exponential
      ``E`` per patient-period: the diary stops from the first day ``d`` whose cumulative
      hazard ``sum_{k <= d} -log(1 - h_k)`` exceeds ``E``, which has the distribution of the
      first of independent daily Bernoulli(``h_d``) events (``P(no event by d) =
      prod_k (1 - h_k)``).

    Parameters
    ----------
    protocol, parameters, arms, treatment, missing
        As :func:`simulate_diary`.
    seed : numpy.random.SeedSequence
        The block's seed; the same seed and the same ``treatment`` give the same output.
    item : {"avg_pain", "max_pain", "night_pain"}
        The diary item returned.
    pre_infusion : bool, default True
        Also return the pre-infusion pain (the AUC anchor on the infusion axis).
    layout : {"patient", "day"}, default "patient"
        ``"day"`` returns the scores day-major, shape (D, N, P) (the layout they are computed
        in; :func:`ketapain.stats.auc_day_major` reads it without a transposed copy); the same
        numbers as ``"patient"``, bit for bit.

    Returns
    -------
    scores : ndarray, shape (N, P, D), or (D, N, P) with ``layout="day"``
        The item's scores, NaN on a missing day.
    pre : ndarray, shape (N, P), or None
        The pre-infusion pain (never missing); None with ``pre_infusion=False``.

    Raises
    ------
    ProtocolError
        As :func:`simulate_diary`, or an unknown ``item``.

    Notes
    -----
    Equal in distribution to the same item of :func:`simulate_diary` (tested against a plain
    loop implementation: moments per arm x period x day window, lag-1..3 autocorrelation,
    missing days), not equal draw by draw: the streams differ. Every array is computed
    day-major (D, N, P), so the AR(1) noise is added without a transposed pass; the draws keep
    their order (the item noise is drawn (N, P, D) and read transposed; the MCAR cells are
    positions in the (N, P, D) array in C order, mapped to day-major), so the scores are those
    of the (N, P, D) computation bit for bit.
    """
    check_option("missing", missing, MISSING_MODE, error=ProtocolError)
    if item not in DIARY_ITEMS:
        raise ProtocolError(template="{@item}={item} is not a diary item of the simulator ({items})",
                            params={"item": repr(item), "items": ", ".join(DIARY_ITEMS)})
    P, D = protocol.design.periods, protocol.diary.days_per_period
    treat = _check_treatment(treatment, P, len(arms))
    N = int(treat.shape[0])
    dp = parameters.diary
    lo, hi = protocol.diary.scale_min, protocol.diary.scale_max
    streams = dict(zip(BLOCK_STREAMS, spawn_generators(seed, len(BLOCK_STREAMS)), strict=True))
    r = streams["levels"]
    b: np.ndarray = r.normal(0.0, dp.patient_sd, N)
    h: np.ndarray = r.normal(0.0, dp.early_patient_sd, N)
    c: np.ndarray = r.normal(0.0, dp.patient_period_sd, (N, P))
    ar = streams["ar"].standard_normal((D, N, P))  # day-major: day 1's values, then day 2's...
    ar[0] *= dp.ar_sd
    ar[1:] *= dp.ar_sd * np.sqrt(1 - dp.ar_phi**2)
    _ar1_filter(ar, dp.ar_phi)
    avg = _latent_average(dp, arms, treat, b, h, c, ar)  # (D, N, P)
    if item == "avg_pain":
        np.rint(avg, out=avg)
        np.clip(avg, lo, hi, out=avg)
        scores = avg
    else:
        ri = streams["item"]
        mean, off_sd, noise_sd = ((dp.max_offset_mean, dp.max_offset_patient_sd, dp.max_noise_sd) if item == "max_pain"
                                  else (dp.night_offset_mean, dp.night_offset_patient_sd, dp.night_noise_sd))
        offset = ri.normal(0.0, off_sd, N)
        noise = np.moveaxis(ri.normal(0.0, noise_sd, (N, P, D)), -1, 0)  # drawn patient-major, read day-major
        scores = np.clip(np.rint(avg + mean + offset[None, :, None] + noise), lo, hi)
        avg = np.clip(np.rint(avg), lo, hi)
        if item == "max_pain":
            np.maximum(scores, avg, out=scores)
    pre = (_pre_infusion(parameters.pre_infusion, b, c, streams["pre"].normal(0.0, parameters.pre_infusion.sd, (N, P)),
                         lo, hi) if pre_infusion else None)
    if missing != "none":
        _block_missing(parameters.missing, scores, avg, streams["missing"], missing)
    return (scores if layout == "day" else np.ascontiguousarray(np.moveaxis(scores, 0, -1))), pre


def _block_missing(mp: MissingParameters, scores: np.ndarray, avg: np.ndarray, rng: np.random.Generator,
                   missing: str) -> None:
    """Blank the missing days of the day-major (D, N, P) ``scores`` in place: the MCAR cells
    (positions in the (N, P, D) array in C order, mapped to day-major), then for ``mar``/
    ``mnar`` the dropout driven by the rounded latent average ``avg`` (D, N, P)."""
    D = scores.shape[0]
    NP = scores.size // max(D, 1)
    mcar = _bernoulli_cells(rng, mp.mcar_rate, scores.size)
    if missing == "mcar":
        scores.reshape(-1)[(mcar % D) * NP + mcar // D] = np.nan
        return
    miss = np.zeros(np.moveaxis(scores, 0, -1).shape, dtype=bool)  # (N, P, D)
    miss.reshape(-1)[mcar] = True
    miss |= _dropout_block(mp, np.moveaxis(avg, 0, -1), miss, rng, missing)
    np.moveaxis(scores, 0, -1)[miss] = np.nan


def _check_treatment(treatment: np.ndarray, P: int, n_arms: int) -> np.ndarray:
    treat = np.asarray(treatment)
    if treat.ndim != 2 or treat.shape[1] != P or not np.issubdtype(treat.dtype, np.integer) \
            or (treat.size and (treat.min() < 0 or treat.max() >= n_arms)):
        raise ProtocolError(template="{@treatment} must be an (N, {P}) integer array of arm indices 0..{last}",
                            params={"P": P, "last": n_arms - 1})
    return treat


def _ar1_filter(x: np.ndarray, phi: float) -> None:
    """The AR(1) filter ``u_1 = x_1``, ``u_d = phi u_{d-1} + x_d`` in place along the leading (day)
    axis: one vector step per day over all patients, periods and trials at once.

    The day-major layout makes each step one contiguous pass; measured ~3x faster than
    :func:`scipy.signal.lfilter` along the last axis of the (N, P, D) array (which filters
    each patient-period's 35 days as a separate 1-D signal), with the same bits.
    """
    step = np.empty(x.shape[1:])
    for d in range(1, x.shape[0]):  # a loop over days (the recursion), vectorised over everything else
        np.multiply(x[d - 1], phi, out=step)
        x[d] += step


def _latent_average(dp: DiaryParameters, arms: Sequence[ArmEffect], treat: np.ndarray, b: np.ndarray,
                    h: np.ndarray, c: np.ndarray, ar: np.ndarray) -> np.ndarray:
    """Latent average pain, day-major (D, N, P): level, early excess, arm effect and the AR(1)
    noise ``ar`` ((D, N, P), see :func:`_ar1_filter`), summed in this order; returned in
    ``ar``'s memory (``ar + x`` is ``x + ar`` to the bit)."""
    D, P = ar.shape[0], ar.shape[2]
    days = np.arange(1, D + 1, dtype=float)
    pe = np.zeros(P)
    given = list(dp.period_effects)[:P]
    pe[: len(given)] = given
    amp = np.array([e.effect_amplitude for e in arms])
    tau = np.array([e.effect_tau_days for e in arms])
    curves = amp[:, None] * np.exp(-days[None, :] / tau[:, None])  # (arms, D): the effect of each arm by day
    # (D, N P) arrays, patient-periods on the long inner axis (a broadcast over P = 3 is slow)
    level = dp.mean_late + np.repeat(b, P) + c.reshape(-1) + np.tile(pe, b.size)  # (N P,)
    latent = level[None, :] + np.repeat(dp.early_excess + h, P)[None, :] * np.exp(-days / dp.early_tau_days)[:, None]
    latent += curves.T[:, treat.reshape(-1)]
    flat = ar.reshape(D, -1)
    flat += latent
    return ar


def _offset_item(avg_lat: np.ndarray, mean: float, offset: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Latent maximal or night pain: the latent average plus a mean and a patient offset and daily noise."""
    return avg_lat + mean + offset[:, None, None] + noise


def _pre_infusion(pi: PreInfusionParameters, b: np.ndarray, c: np.ndarray, noise: np.ndarray, lo: float,
                  hi: float) -> np.ndarray:
    """Pain before each infusion (N, P): ``mean + loading b_i + c_ip + noise``, rounded and clipped."""
    return np.clip(np.rint(pi.mean + pi.patient_loading * b[:, None] + c + noise), lo, hi)


def _dropout_logit(mp: MissingParameters, avg: np.ndarray, mode: str) -> np.ndarray:
    """Log-odds of the daily dropout hazard (N, P, D): yesterday's pain (MAR; -inf on day 1, which
    has no yesterday in the diary) or the day's own pain (MNAR)."""
    if mode == "mar":
        driver = np.empty(avg.shape)
        driver[..., 1:] = avg[..., :-1]
        driver[..., 0] = -np.inf
    else:
        driver = avg
    base = np.log(mp.base_hazard / (1 - mp.base_hazard))
    return base + mp.slope * (driver - mp.reference_pain)


def _missing(mp: MissingParameters, avg: np.ndarray, rng: np.random.Generator, mode: str) -> np.ndarray:
    """Missing days (N, P, D): MCAR, plus a dropout on yesterday's (MAR) or today's (MNAR) pain.

    Daily uniforms: one per day for MCAR, then one per day for the dropout events.
    """
    shape = avg.shape
    if mode == "none":
        return np.zeros(shape, dtype=bool)
    miss = rng.random(shape) < mp.mcar_rate
    if mode == "mcar":
        return miss
    hazard = 1 / (1 + np.exp(-_dropout_logit(mp, avg, mode)))
    event = rng.random(shape) < hazard
    if mode == "mar":
        # yesterday must itself be observed for a MAR dropout to depend on observed data only
        event[..., 1:] &= ~miss[..., :-1]
        event[..., 0] = False
    dropped = np.cumsum(event, axis=-1) > 0
    return miss | dropped


def _dropout_block(mp: MissingParameters, avg: np.ndarray, mcar: np.ndarray, rng: np.random.Generator,
                   mode: str) -> np.ndarray:
    """The MAR/MNAR dropout of :func:`_missing` drawn by one standard exponential per
    patient-period against the cumulative hazard (:func:`simulate_item_block`, ``missing``)."""
    logit = _dropout_logit(mp, avg, mode)
    if mode == "mar":  # a dropout needs yesterday observed (and there is no yesterday on day 1)
        logit[..., 0] = -np.inf
        logit[..., 1:][mcar[..., :-1]] = -np.inf
    cumulative = np.cumsum(np.logaddexp(0.0, logit), axis=-1)  # sum of -log(1 - h_k): softplus of the log-odds
    return cumulative > rng.standard_exponential(avg.shape[:-1])[..., None]


def _bernoulli_cells(rng: np.random.Generator, p: float, size: int) -> np.ndarray:
    """Flat indices (ascending) of the hits among ``size`` independent Bernoulli(``p``) cells,
    drawn as the geometric gaps between successive hits (exact; about ``p * size`` draws)."""
    if p <= 0 or size == 0:
        return np.zeros(0, dtype=np.int64)
    batch = int(size * p + 4 * math.sqrt(size * p) + 16)  # covers ``size`` cells in one pass but rarely
    parts, last = [], -1
    while last < size:  # a loop over batches of gaps (usually one)
        pos = last + np.cumsum(rng.geometric(p, batch))
        parts.append(pos[pos < size])
        last = int(pos[-1])
    return np.concatenate(parts)

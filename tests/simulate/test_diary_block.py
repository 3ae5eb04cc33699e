"""The power sweep's block generator (``simulate_item_block``) against the diary generator as it
was before issue 21 (``old_diary.old_simulate_diary``, a plain reference with the day loop).

The streams differ, so the comparison is in distribution, over many simulated patients: per
arm x period x day window the mean and SD of the daily scores, the lag-1..3 autocorrelation
of the within-patient-period deviations, the missing-day fraction, and the pre-infusion pain.

Tolerances (derivation). Every statistic is a function of per-patient quantities, which are
independent across patients (the days and periods of one patient are not, so each patient is
one unit):

* mean of a cell: ``m = mean_i x_i`` with ``x_i`` the patient's mean score over the cell's
  observed days; ``SE = sd(x_i) / sqrt(n)``;
* SD of a cell: ``s = sqrt(mean_i v_i)`` with ``v_i`` the patient's mean of ``(x - m)^2`` over
  the cell's observed days; delta method ``SE(s) = SE(mean v) / (2 s)``;
* lag-k autocorrelation: ``r = sum_i a_i / sum_i b_i`` (``a_i`` the patient's sum of lag-k
  products of deviations from their period mean, both days observed; ``b_i`` their sum of
  squared deviations); ratio estimator ``SE(r) = sd(a_i - r b_i) / (sqrt(n) mean b)``;
* a fraction (missing days): ``SE = sd(f_i) / sqrt(n)`` over the patients' fractions.

The two generators are independent samples, so a difference ``d`` has
``SE(d) = sqrt(SE_new^2 + SE_old^2)``, and ``|d| / SE(d)`` is ~N(0, 1) if the distributions
are equal. With K statistics compared in one test, the bound is the two-sided Bonferroni
quantile ``z = Phi^-1(1 - 0.001 / (2 K))``: a correct generator fails a test with probability
< 0.001 (for a fixed seed the outcome is deterministic). With 24,000 patients the test fails
(checked by changing the block generator's parameters) for a shift of 0.15 pain points in the
mean of all days (z ~ 4.7, the bound is 4.3; one cell alone needs ~0.25), a lag-1 correlation of 0.55 instead of
0.6 (z ~ 30) or a dropout hazard 1.3 times the model's (z ~ 17).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats as sps

from ketapain.protocol import load_protocol
from ketapain.simulate import arm_effects, load_parameters, simulate_diary
from ketapain.simulate._diary import simulate_item_block

from tests.simulate.old_diary import old_simulate_diary

N = 24_000
WINDOWS = ((0, 7), (7, 14), (14, 35))  # day indices [lo, hi): days 1-7, 8-14, 15-35
WILLIAMS = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    proto, params = load_protocol("ketapain"), load_parameters()
    arms = list(arm_effects(proto, params).values())
    treat = WILLIAMS[np.arange(N) % 6]
    return proto, params, arms, treat


def _cell_stats(x: np.ndarray, treat: np.ndarray) -> list[tuple[str, float, float]]:
    """(name, estimate, SE) of the mean and SD per arm x period x window."""
    out = []
    for a in range(3):
        for p in range(3):
            rows = x[treat[:, p] == a, p]  # (n, D) this cell's patients
            for lo, hi in WINDOWS:
                w = rows[:, lo:hi]
                keep = ~np.all(np.isnan(w), axis=1)
                w = w[keep]
                xi = np.nanmean(w, axis=1)
                n = xi.size
                m = xi.mean()
                out.append((f"mean arm {a} period {p + 1} days {lo + 1}-{hi}", m, xi.std(ddof=1) / np.sqrt(n)))
                vi = np.nanmean((w - m) ** 2, axis=1)
                s = np.sqrt(vi.mean())
                out.append((f"sd arm {a} period {p + 1} days {lo + 1}-{hi}", s, vi.std(ddof=1) / np.sqrt(n) / (2 * s)))
    return out


def _autocorrelation(x: np.ndarray, lag: int) -> tuple[float, float]:
    seen = np.maximum((~np.isnan(x)).sum(axis=-1, keepdims=True), 1)  # a period may be all missing (MNAR)
    dev = x - np.nansum(x, axis=-1, keepdims=True) / seen  # within patient-period
    prod = dev[..., lag:] * dev[..., :-lag]
    a = np.nansum(prod, axis=(1, 2))  # per patient; NaN pairs (a day missing) left out
    b = np.nansum(dev**2, axis=(1, 2))
    r = a.sum() / b.sum()
    return r, np.std(a - r * b, ddof=1) / (np.sqrt(a.size) * b.mean())


def _all_stats(x: np.ndarray, pre: np.ndarray, treat: np.ndarray) -> list[tuple[str, float, float]]:
    out = _cell_stats(x, treat)
    flat = x.reshape(x.shape[0], -1)
    flat = flat[~np.all(np.isnan(flat), axis=1)]  # MNAR may leave a patient without any day
    xi = np.nanmean(flat, axis=1)
    out.append(("mean of all days", xi.mean(), xi.std(ddof=1) / np.sqrt(xi.size)))
    for lag in (1, 2, 3):
        out.append((f"lag-{lag} autocorrelation", *_autocorrelation(x, lag)))
    f = np.isnan(x).mean(axis=(1, 2))
    out.append(("missing-day fraction", f.mean(), f.std(ddof=1) / np.sqrt(f.size)))
    for p in range(3):
        v = pre[:, p]
        out.append((f"pre-infusion mean period {p + 1}", v.mean(), v.std(ddof=1) / np.sqrt(v.size)))
    return out


def _compare(new: list[tuple[str, float, float]], old: list[tuple[str, float, float]]) -> None:
    z = sps.norm.ppf(1 - 0.001 / (2 * len(new)))
    bad = []
    for (name, e1, s1), (_, e0, s0) in zip(new, old, strict=True):
        if abs(e1 - e0) > z * np.hypot(s1, s0):
            bad.append(f"{name}: new {e1:.4f} old {e0:.4f} (z = {(e1 - e0) / np.hypot(s1, s0):.1f}, bound {z:.2f})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(("item", "missing"), [
    ("avg_pain", "mcar"), ("max_pain", "mcar"), ("night_pain", "mcar"), ("avg_pain", "mar"), ("avg_pain", "mnar"),
])
def test_block_generator_equals_old_in_distribution(setup, item: str, missing: str) -> None:  # type: ignore[no-untyped-def]
    proto, params, arms, treat = setup
    if missing == "mcar":  # the shipped MCAR rate (0.4%) is too rare to compare missingness well: 5%
        params = dataclasses.replace(params, missing=dataclasses.replace(params.missing, mcar_rate=0.05))
    items, pre_old = old_simulate_diary(params, arms, treat, np.random.default_rng(101), P=3, D=35, missing=missing)
    x_new, pre_new = simulate_item_block(proto, parameters=params, arms=arms, treatment=treat,
                                         seed=np.random.SeedSequence(202), item=item, missing=missing)
    assert pre_new is not None
    new, old = _all_stats(x_new, pre_new, treat), _all_stats(items[item], pre_old, treat)
    assert 0.0 < old[-4][1] < 0.5  # some days are missing, the comparison of missingness is informative
    _compare(new, old)


def test_reference_is_the_old_stream_of_simulate_diary(setup) -> None:  # type: ignore[no-untyped-def]
    """The reference is the generator it claims to be: simulate_diary (one stream, its draw
    order unchanged by issue 21) gives the same bits from the same generator."""
    proto, params, arms, treat = setup
    for missing in ("mcar", "mar", "mnar"):
        items, pre = old_simulate_diary(params, arms, treat[:600], np.random.default_rng(5), P=3, D=35, missing=missing)
        cur = simulate_diary(proto, parameters=params, arms=arms, treatment=treat[:600], rng=np.random.default_rng(5),
                             missing=missing)
        for k, v in items.items():
            np.testing.assert_array_equal(cur.items[k], v)
        np.testing.assert_array_equal(cur.pre_infusion, pre)


def test_block_is_seed_stable_and_draws_only_what_it_returns(setup) -> None:  # type: ignore[no-untyped-def]
    proto, params, arms, treat = setup
    kw = {"parameters": params, "arms": arms, "treatment": treat[:1200], "missing": "mar"}
    a, pa = simulate_item_block(proto, seed=np.random.SeedSequence(7, spawn_key=(18, 3)), item="avg_pain", **kw)
    b, pb = simulate_item_block(proto, seed=np.random.SeedSequence(7, spawn_key=(18, 3)), item="avg_pain", **kw)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pa, pb)
    # each part has its own stream: without the anchor, or for another item, average pain's
    # missing days and the latent levels are unchanged
    c, pc = simulate_item_block(proto, seed=np.random.SeedSequence(7, spawn_key=(18, 3)), item="avg_pain",
                                pre_infusion=False, **kw)
    assert pc is None
    np.testing.assert_array_equal(a, c)
    m, _ = simulate_item_block(proto, seed=np.random.SeedSequence(7, spawn_key=(18, 3)), item="max_pain", **kw)
    np.testing.assert_array_equal(np.isnan(m), np.isnan(a))
    assert (m[~np.isnan(m)] >= a[~np.isnan(a)]).all()  # maximal pain is at least average pain, day by day
    d, _ = simulate_item_block(proto, seed=np.random.SeedSequence(8, spawn_key=(18, 3)), item="avg_pain", **kw)
    assert not np.array_equal(np.nan_to_num(a), np.nan_to_num(d))


def _patient_major_block(proto, parameters, arms, treat, seed, item, missing):  # type: ignore[no-untyped-def]
    """The block generator as computed before the day-major layout (main at 27bbd34): the latent
    average built (N, P, D) with the AR(1) noise added transposed, the MCAR cells blanked in
    (N, P, D) C order; same streams, same order of operations per value."""
    from ketapain._seeds import spawn_generators
    from ketapain.simulate._diary import BLOCK_STREAMS, _ar1_filter, _bernoulli_cells, _dropout_block, _pre_infusion

    P, D, N = 3, 35, treat.shape[0]
    dp, lo, hi = parameters.diary, 0.0, 10.0
    streams = dict(zip(BLOCK_STREAMS, spawn_generators(seed, len(BLOCK_STREAMS)), strict=True))
    r = streams["levels"]
    b, h, c = r.normal(0.0, dp.patient_sd, N), r.normal(0.0, dp.early_patient_sd, N), r.normal(0.0, dp.patient_period_sd, (N, P))
    ar = streams["ar"].standard_normal((D, N, P))
    ar[0] *= dp.ar_sd
    ar[1:] *= dp.ar_sd * np.sqrt(1 - dp.ar_phi**2)
    _ar1_filter(ar, dp.ar_phi)
    days = np.arange(1, D + 1, dtype=float)
    pe = np.array(list(dp.period_effects)[:P])
    curves = np.array([e.effect_amplitude for e in arms])[:, None] * np.exp(
        -days[None, :] / np.array([e.effect_tau_days for e in arms])[:, None])
    avg = (dp.mean_late + b[:, None, None] + c[:, :, None] + pe[None, :, None]) \
        + (dp.early_excess + h)[:, None, None] * np.exp(-days / dp.early_tau_days)[None, None, :]
    avg += curves[treat]
    avg += np.moveaxis(ar, 0, -1)
    if item == "avg_pain":
        scores = avg = np.clip(np.rint(avg), lo, hi)
    else:
        ri = streams["item"]
        mean, off_sd, noise_sd = ((dp.max_offset_mean, dp.max_offset_patient_sd, dp.max_noise_sd) if item == "max_pain"
                                  else (dp.night_offset_mean, dp.night_offset_patient_sd, dp.night_noise_sd))
        scores = np.clip(np.rint(avg + mean + ri.normal(0.0, off_sd, N)[:, None, None] + ri.normal(0.0, noise_sd, (N, P, D))),
                         lo, hi)
        avg = np.clip(np.rint(avg), lo, hi)
        if item == "max_pain":
            np.maximum(scores, avg, out=scores)
    pre = _pre_infusion(parameters.pre_infusion, b, c, streams["pre"].normal(0.0, parameters.pre_infusion.sd, (N, P)), lo, hi)
    rm = streams["missing"]
    miss = np.zeros(scores.shape, dtype=bool)
    miss.reshape(-1)[_bernoulli_cells(rm, parameters.missing.mcar_rate, scores.size)] = True
    if missing != "mcar":
        miss |= _dropout_block(parameters.missing, avg, miss, rm, missing)
    scores[miss] = np.nan
    return scores, pre


@pytest.mark.parametrize("item", ["avg_pain", "max_pain", "night_pain"])
@pytest.mark.parametrize("missing", ["mcar", "mar", "mnar"])
def test_day_major_block_is_the_patient_major_computation_bit_for_bit(setup, item: str, missing: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 21: the block generator computes day-major (D, N, P) and the power sweep reads it so;
    every score and pre-infusion value equals the patient-major computation to the last bit, in
    both layouts."""
    proto, params, arms, treat = setup
    treat = np.random.default_rng(11).permuted(treat[:600], axis=1)  # arms in any order per patient
    seed = lambda: np.random.SeedSequence(19, spawn_key=(18, 2))  # noqa: E731 (a fresh one per call: spawning counts)
    ref, ref_pre = _patient_major_block(proto, params, arms, treat, seed(), item, missing)
    kw = dict(parameters=params, arms=arms, treatment=treat, item=item, missing=missing)
    got, pre = simulate_item_block(proto, seed=seed(), **kw)
    day, day_pre = simulate_item_block(proto, seed=seed(), layout="day", **kw)
    assert got.shape == (600, 3, 35) and day.shape == (35, 600, 3) and got.flags.c_contiguous and day.flags.c_contiguous
    assert 0.001 < np.isnan(ref).mean() < 0.5  # the missing days are there to compare
    assert got.tobytes() == ref.tobytes() and np.moveaxis(day, 0, -1).tobytes() == ref.tobytes()
    assert pre is not None and day_pre is not None
    assert pre.tobytes() == ref_pre.tobytes() == day_pre.tobytes()

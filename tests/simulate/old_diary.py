"""The diary generator as it was before issue 21 (main at 1c738cc), kept as the reference of
``test_diary_block.py``: a plain implementation of the model of ``docs/simulate.md`` with the
AR(1) recursion as a loop over days, one stream, every item, MCAR and dropout by daily uniforms.
It shares no code with ``ketapain.simulate._diary``.
"""

from __future__ import annotations

import numpy as np


def old_simulate_diary(params, arms, treat: np.ndarray, rng: np.random.Generator, *, P: int, D: int,
                       missing: str, lo: float = 0.0, hi: float = 10.0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Items (N, P, D) with NaN on missing days, and the pre-infusion pain (N, P)."""
    dp, pi, mp = params.diary, params.pre_infusion, params.missing
    N = treat.shape[0]
    b = rng.normal(0.0, dp.patient_sd, N)
    h = rng.normal(0.0, dp.early_patient_sd, N)
    c = rng.normal(0.0, dp.patient_period_sd, (N, P))
    days = np.arange(1, D + 1, dtype=float)
    pe = np.zeros(P)
    pe[: len(dp.period_effects[:P])] = dp.period_effects[:P]
    amp = np.array([e.effect_amplitude for e in arms])[treat]
    tau = np.array([e.effect_tau_days for e in arms])[treat]
    early = (dp.early_excess + h)[:, None, None] * np.exp(-days / dp.early_tau_days)[None, None, :]
    effect = amp[:, :, None] * np.exp(-days[None, None, :] / tau[:, :, None])
    phi, sd = dp.ar_phi, dp.ar_sd
    eps = rng.standard_normal((N, P, D)) * sd * np.sqrt(1 - phi**2)
    ar = np.empty((N, P, D))
    ar[:, :, 0] = rng.standard_normal((N, P)) * sd
    for d in range(1, D):
        ar[:, :, d] = phi * ar[:, :, d - 1] + eps[:, :, d]
    avg_lat = dp.mean_late + b[:, None, None] + c[:, :, None] + pe[None, :, None] + early + effect + ar
    mx = avg_lat + dp.max_offset_mean + rng.normal(0.0, dp.max_offset_patient_sd, N)[:, None, None] \
        + rng.normal(0.0, dp.max_noise_sd, (N, P, D))
    nt = avg_lat + dp.night_offset_mean + rng.normal(0.0, dp.night_offset_patient_sd, N)[:, None, None] \
        + rng.normal(0.0, dp.night_noise_sd, (N, P, D))
    avg = np.clip(np.rint(avg_lat), lo, hi)
    mx = np.maximum(np.clip(np.rint(mx), lo, hi), avg)
    nt = np.clip(np.rint(nt), lo, hi)
    pre = np.clip(np.rint(pi.mean + pi.patient_loading * b[:, None] + c + rng.normal(0.0, pi.sd, (N, P))), lo, hi)
    rng.random((N, P, D))  # the extra analgesics' uniforms (not compared here; drawn to keep the stream)
    miss = np.zeros((N, P, D), dtype=bool)
    if missing != "none":
        miss = rng.random((N, P, D)) < mp.mcar_rate
        if missing in ("mar", "mnar"):
            driver = np.empty((N, P, D))
            if missing == "mar":
                driver[..., 1:] = avg[..., :-1]
                driver[..., 0] = -np.inf
            else:
                driver[:] = avg
            base = np.log(mp.base_hazard / (1 - mp.base_hazard))
            hazard = 1 / (1 + np.exp(-(base + mp.slope * (driver - mp.reference_pain))))
            event = rng.random((N, P, D)) < hazard
            if missing == "mar":
                event[..., 1:] &= ~miss[..., :-1]
                event[..., 0] = False
            miss |= np.cumsum(event, axis=-1) > 0
    items = {k: np.where(miss, np.nan, v) for k, v in {"avg_pain": avg, "max_pain": mx, "night_pain": nt}.items()}
    return items, pre

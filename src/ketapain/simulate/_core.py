"""The batch generator: many trials at once, as flat numpy arrays (no tables).

Patients of all trials are stacked (``trial = index // n_patients``); every draw is vectorised
over them. :func:`simulate_trial` turns one batch of one trial into TrialData tables;
:func:`calibrate` computes published summaries from large batches directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ketapain._options import MISSING_MODE, check_option
from ketapain._seeds import spawn_generators
from ketapain.errors import ProtocolError
from ketapain.operations import randomise_protocol
from ketapain.protocol import Protocol
from ketapain.simulate._params import Parameters, arm_parameters
from ketapain.simulate._questionnaires import (
    TARGET_SCORES,
    generate_instrument,
    latent_targets,
)

__all__ = ["Batch", "MISSING_MODES", "generate"]

MISSING_MODES = MISSING_MODE.choices
PAIN_TYPES5 = ("postsurgery", "radiculopathy", "posttraumatic", "postdiabetic", "postchemotherapy")
DIARY_ITEMS = ("avg_pain", "max_pain", "night_pain")


@dataclass(frozen=True)
class Batch:
    """Arrays of ``n_trials * n_patients`` patients (P periods, D diary days)."""

    n_trials: int
    n_patients: int
    arms: tuple[str, ...]          # protocol arm codes
    like: tuple[str, ...]          # parameter arm each protocol arm borrows tables from
    patient_ids: np.ndarray        # (N,) str, per trial (repeat across trials)
    sex: np.ndarray                # (N,) "M"/"F"
    age: np.ndarray
    weight: np.ndarray
    height: np.ndarray
    pain_type: np.ndarray          # (N,) str
    duration: np.ndarray           # years
    dn4: np.ndarray                # (N,) int
    sequence: np.ndarray           # (N,) str "P-K-KM"
    treatment: np.ndarray          # (N, P) arm index into arms
    kit_code: np.ndarray           # (N, P) str
    pre_pain: np.ndarray           # (N, P) float
    diary: dict[str, np.ndarray]   # item -> (N, P, D) float with NaN
    extra: np.ndarray              # (N, P, D) float 0/1/NaN
    pain_z: np.ndarray             # (N,) standardised patient pain level
    questionnaires: dict[str, dict[str, Any]]  # visit -> {"column": (N,) str, instrument -> {item: (N,)}}
    ae: dict[str, np.ndarray]      # flat event arrays: patient, period, term, related, severity, causality
    concomitant: dict[str, np.ndarray]  # flat: patient, period, drug_class
    blinding: dict[str, np.ndarray] | None  # item -> (N,)


def _arm_info(protocol: Protocol, params: Parameters) -> tuple[tuple[str, ...], tuple[str, ...], list[dict[str, Any]]]:
    arms = protocol.arm_codes
    likes, entries = [], []
    for code in arms:
        entry, like = arm_parameters(params, code, placebo=protocol.arm(code).is_placebo)
        likes.append(like)
        entries.append(entry)
    return tuple(arms), tuple(likes), entries


def _randomise(protocol: Protocol, sex: np.ndarray, n_trials: int, n: int, rng: np.random.Generator):
    """Sequences and kit codes from the real randomisation code, trial by trial."""
    strata = protocol.randomisation.strata
    if strata and tuple(strata) != ("sex",):
        raise ProtocolError(f"randomisation.strata = {list(strata)}: the simulator can stratify on sex only")
    P = protocol.design.periods
    seqs = np.empty(n_trials * n, dtype=object)
    treat = np.empty((n_trials * n, P), dtype=object)
    kits = np.empty((n_trials * n, P), dtype=object)
    ids = np.empty(n_trials * n, dtype=object)
    seeds = rng.integers(0, 2**63 - 1, n_trials)
    for t in range(n_trials):  # one list per trial (a loop over trials, not patients)
        sl = slice(t * n, (t + 1) * n)
        if strata:
            s = sex[sl]
            counts = {"M": int((s == "M").sum()), "F": int((s == "F").sum())}
            counts = {k: v for k, v in counts.items() if v}
            frame = randomise_protocol(protocol, n_patients=counts, seed=int(seeds[t])).to_frame()
            rows = []
            for value in ("M", "F"):
                part = frame[frame["stratum"] == value]
                first = part["patient_id"].drop_duplicates().to_numpy()[: counts.get(value, 0)]
                rows.append(part[part["patient_id"].isin(first)])
            order = np.concatenate([np.flatnonzero(s == "M"), np.flatnonzero(s == "F")])
            sub = _wide(rows, P)
            idx = np.empty(n, dtype=int)
            idx[order] = np.arange(n)
        else:
            frame = randomise_protocol(protocol, n_patients=n, seed=int(seeds[t])).to_frame()
            first = frame["patient_id"].drop_duplicates().to_numpy()[:n]
            sub = _wide([frame[frame["patient_id"].isin(first)]], P)
            idx = np.arange(n)
        pid, seq, tr, kit = sub
        ids[sl], seqs[sl], treat[sl], kits[sl] = pid[idx], seq[idx], tr[idx], kit[idx]
    return ids, seqs, treat, kits


def _wide(parts, P):
    import pandas as pd

    f = pd.concat(parts, ignore_index=True).sort_values(["patient_id", "period"], kind="stable")
    # keep the list's order of patients (P001, P002, ... / stratum blocks)
    order = pd.unique(pd.concat(parts)["patient_id"])
    f = f.set_index(["patient_id", "period"]).loc[[(p, k) for p in order for k in range(1, P + 1)]]
    tr = f["treatment"].to_numpy(dtype=object).reshape(-1, P)
    kit = f["kit_code"].to_numpy(dtype=object).reshape(-1, P)
    seq = f["sequence"].to_numpy(dtype=object).reshape(-1, P)[:, 0]
    return np.asarray(order, dtype=object), seq, tr, kit


def _lognormal(rng, mean, sd, size):
    s2 = np.log1p((sd / mean) ** 2)
    return rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), size)


def _patients(protocol, params, rng, N):
    pp = params["patients"]
    female = rng.random(N) < float(pp["female_fraction"])
    sex = np.where(female, "F", "M")

    def by_sex(key):
        d = pp[key]
        return np.where(female, float(d["F"]), float(d["M"]))

    age = np.clip(np.rint(rng.normal(by_sex("age_mean"), by_sex("age_sd"))), 18, 95).astype(np.int64)
    w = protocol.weights
    weight = np.clip(np.round(_lognormal(rng, by_sex("weight_mean"), by_sex("weight_sd"), N), 1),
                     max(w.min_kg, 20.0), min(w.max_kg, 300.0))
    height = np.clip(np.round(rng.normal(by_sex("height_mean"), by_sex("height_sd")), 2), 1.35, 2.10)
    dn4 = np.clip(np.rint(rng.normal(by_sex("dn4_mean"), by_sex("dn4_sd"))), 4, 10).astype(np.int64)
    dur = np.exp(np.log(by_sex("duration_median")) + by_sex("duration_log_sd") * rng.standard_normal(N))
    duration = np.maximum(np.round(dur, 1), 0.3)  # inclusion: pain for more than 3 months
    probs = np.where(female[:, None], np.asarray(pp["pain_type"]["F"], float), np.asarray(pp["pain_type"]["M"], float))
    probs = probs / probs.sum(axis=1, keepdims=True)
    k = (rng.random(N)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    pain_type = np.asarray(PAIN_TYPES5, dtype=object)[np.minimum(k, 4)]
    return sex, age, weight, height, dn4, duration, pain_type


def _diary(protocol, params, entries, treat_idx, rng, N, missing):
    dp = params["diary"]
    P, D = protocol.design.periods, protocol.diary.days_per_period
    lo, hi = protocol.diary.scale_min, protocol.diary.scale_max
    days = np.arange(1, D + 1, dtype=float)
    b = rng.normal(0.0, float(dp["patient_sd"]), N)
    h = rng.normal(0.0, float(dp["early_patient_sd"]), N)
    c = rng.normal(0.0, float(dp["patient_period_sd"]), (N, P))
    pe = np.zeros(P)
    given = list(dp["period_effects"])[:P]
    pe[: len(given)] = given
    amp = np.array([float(e["effect_amplitude"]) for e in entries])[treat_idx]  # (N, P)
    tau = np.array([float(e["effect_tau_days"]) for e in entries])[treat_idx]
    early = (float(dp["early_excess"]) + h)[:, None, None] * np.exp(-days / float(dp["early_tau_days"]))[None, None, :]
    effect = amp[:, :, None] * np.exp(-days[None, None, :] / tau[:, :, None])
    phi, sd = float(dp["ar_phi"]), float(dp["ar_sd"])
    eps = rng.standard_normal((N, P, D)) * sd * np.sqrt(1 - phi**2)
    ar = np.empty((N, P, D))
    ar[:, :, 0] = rng.standard_normal((N, P)) * sd
    for d in range(1, D):  # a loop over days (the AR recursion), vectorised over patients
        ar[:, :, d] = phi * ar[:, :, d - 1] + eps[:, :, d]
    level = float(dp["mean_late"]) + b[:, None, None] + c[:, :, None] + pe[None, :, None]
    avg_lat = level + early + effect + ar
    mx = (avg_lat + float(dp["max_offset_mean"])
          + rng.normal(0.0, float(dp["max_offset_patient_sd"]), N)[:, None, None]
          + rng.normal(0.0, float(dp["max_noise_sd"]), (N, P, D)))
    nt = avg_lat + float(dp["night_offset_mean"]) + rng.normal(0.0, float(dp["night_offset_patient_sd"]), N)[
        :, None, None] + rng.normal(0.0, float(dp["night_noise_sd"]), (N, P, D))
    avg = np.clip(np.rint(avg_lat), lo, hi)
    mx = np.maximum(np.clip(np.rint(mx), lo, hi), avg)
    nt = np.clip(np.rint(nt), lo, hi)
    pi = params["pre_infusion"]
    pre = np.clip(np.rint(float(pi["mean"]) + float(pi["patient_loading"]) * b[:, None] + c
                          + rng.normal(0.0, float(pi["sd"]), (N, P))), lo, hi)
    # extra analgesics: more likely on painful days
    ea = params["diary"]
    logit = np.log(ea["extra_analgesics_rate"] / (1 - ea["extra_analgesics_rate"])) + ea["extra_analgesics_slope"] * (avg - 5)
    extra = (rng.random((N, P, D)) < 1 / (1 + np.exp(-logit))).astype(float)
    miss = _missing(params, avg, avg_lat, rng, missing)
    out = {"avg_pain": avg, "max_pain": mx, "night_pain": nt}
    for k in out:
        out[k] = np.where(miss, np.nan, out[k])
    extra = np.where(miss, np.nan, extra)
    return out, extra, pre, b / float(dp["patient_sd"])


def _missing(params, avg, avg_lat, rng, mode):
    if mode not in MISSING_MODES:
        raise ValueError(f"missing={mode!r} is not one of {', '.join(MISSING_MODES)}")
    shape = avg.shape
    if mode == "none":
        return np.zeros(shape, dtype=bool)
    mp = params["missing"]
    miss = rng.random(shape) < float(mp["mcar_rate"])
    if mode == "mcar":
        return miss
    base = np.log(mp["base_hazard"] / (1 - mp["base_hazard"]))
    driver = np.empty(shape)
    if mode == "mar":  # yesterday's observed pain (day 1 has no yesterday in the diary: no dropout)
        driver[..., 1:] = avg[..., :-1]
        driver[..., 0] = -np.inf
    else:  # mnar: the day's own pain, which goes unobserved
        driver[:] = avg
    hazard = 1 / (1 + np.exp(-(base + float(mp["slope"]) * (driver - float(mp["reference_pain"])))))
    event = rng.random(shape) < hazard
    if mode == "mar":
        # yesterday must itself be observed for a MAR dropout to depend on observed data only
        event[..., 1:] &= ~miss[..., :-1]
        event[..., 0] = False
    dropped = np.cumsum(event, axis=-1) > 0
    return miss | dropped


def _visit_period(protocol):
    """visit name -> period just ended (0 = baseline), for visits with questionnaires."""
    P, L = protocol.design.periods, protocol.design.period_days
    gap = L + (protocol.design.washout_days or 0)
    starts = np.arange(P) * gap
    out = {}
    for v in protocol.visits:
        out[v.name] = 0 if v.day <= 0 else int((starts < v.day).sum())
    return out


def _questionnaires(protocol, params, likes, treat_idx, pain_z, dn4, rng, N):
    out: dict[str, dict[str, Any]] = {}
    vp = _visit_period(protocol)
    pid = np.arange(N)
    like = np.asarray(likes, dtype=object)
    for v in protocol.visits:
        if not v.questionnaires:
            continue
        k = vp[v.name]
        column = np.full(N, "baseline", dtype=object) if k == 0 else like[treat_idx[:, k - 1]]
        entry: dict[str, Any] = {"column": column}
        for name in v.questionnaires:
            if name == "blinding":  # end-of-study guesses: generated by _blinding, placed by _trial
                continue
            if name == "dn4":
                entry[name] = generate_instrument("dn4", {}, rng, dn4_total=dn4)
            elif name in TARGET_SCORES:
                t = latent_targets(params.values, name, column, pain_z, pid, N, rng)
                entry[name] = generate_instrument(name, t, rng)
            else:
                raise ProtocolError(
                    f"visit {v.name!r}: the simulator cannot generate instrument {name!r}; it generates "
                    f"dn4, {', '.join(TARGET_SCORES)}"
                )
        out[v.name] = entry
    return out


def _events(protocol, params, likes, treat_idx, sex, rng, N):
    P = protocol.design.periods
    ae = params["adverse_events"]
    prone = rng.random(N) < float(ae["prone"])
    pat, per, term, rel = [], [], [], []
    for p in range(P):  # loops over periods and terms; vectorised over patients
        arm_like = np.asarray(likes, dtype=object)[treat_idx[:, p]]
        for a in np.unique(arm_like):
            sel = arm_like == a
            for t, pct in ae["terms_pct"].get(a, {}).items():
                prob = min(1.0, float(pct) / 100.0 / float(ae["prone"]))
                hit = sel & prone & (rng.random(N) < prob)
                idx = np.flatnonzero(hit)
                pat.append(idx)
                per.append(np.full(idx.size, p + 1))
                term.append(np.full(idx.size, t, dtype=object))
                rel.append(rng.random(idx.size) < float(ae["related"][a]))
    pat_a = np.concatenate(pat) if pat else np.zeros(0, int)
    n = pat_a.size

    def pick(d):
        keys = list(d)
        pr = np.asarray([float(d[k]) for k in keys])
        k = (rng.random(n)[:, None] > np.cumsum(pr / pr.sum())[None, :]).sum(axis=1)
        return np.asarray(keys, dtype=object)[np.minimum(k, len(keys) - 1)]

    related = np.concatenate(rel) if rel else np.zeros(0, bool)
    caus = np.where(related, pick(ae["related_causality"]), pick(ae["unrelated_causality"]))
    events = {"patient": pat_a, "period": np.concatenate(per) if per else np.zeros(0, int),
              "term": np.concatenate(term) if term else np.zeros(0, object), "related": related,
              "severity": pick(ae["severity"]), "causality": caus}
    # concomitant: baseline by sex, added per period by arm
    cm = params["concomitant"]
    cp, cper, ccls = [], [], []
    for cls, d in cm["baseline_n_of_10"].items():
        prob = np.where(sex == "F", float(d["F"]), float(d["M"])) / 10.0
        idx = np.flatnonzero(rng.random(N) < prob)
        cp.append(idx), cper.append(np.zeros(idx.size, int)), ccls.append(np.full(idx.size, cls, dtype=object))
    for p in range(P):
        arm_like = np.asarray(likes, dtype=object)[treat_idx[:, p]]
        for a in np.unique(arm_like):
            for cls, cnt in cm["added_n_of_20"].get(a, {}).items():
                idx = np.flatnonzero((arm_like == a) & (rng.random(N) < float(cnt) / 20.0))
                cp.append(idx), cper.append(np.full(idx.size, p + 1)), ccls.append(np.full(idx.size, cls, dtype=object))
    conc = {"patient": np.concatenate(cp), "period": np.concatenate(cper), "drug_class": np.concatenate(ccls)}
    return events, conc


def _blinding(protocol, params, entries, treat_idx, rng, N):
    P = protocol.design.periods
    bp = params["blinding"]
    if P > 3:
        return None
    out = {}
    active = np.array([not e.get("placebo", False) for e in entries])
    for p in range(P):
        truth = np.where(active[treat_idx[:, p]], 2.0, 1.0)
        right = rng.random(N) < float(bp["correct"])
        guess = np.where(right, truth, 3.0 - truth)
        out[f"period_{p + 1}"] = np.where(rng.random(N) < float(bp["dont_know"]), 0.0, guess)
    return out


def generate(
    protocol: Protocol,
    params: Parameters,
    *,
    n_trials: int,
    n_patients: int,
    rng: np.random.Generator,
    missing: str = "mcar",
    questionnaires: bool = True,
) -> Batch:
    """Simulate ``n_trials`` trials of ``n_patients`` (vectorised over all patients)."""
    check_option("missing", missing, MISSING_MODE, error=ProtocolError)
    N = n_trials * n_patients
    # one stream per part, spawned from the caller's SeedSequence (children are fixed by index)
    streams = spawn_generators(rng, 6)
    arms, likes, entries = _arm_info(protocol, params)
    for code, e in zip(arms, entries, strict=True):
        e["placebo"] = protocol.arm(code).is_placebo
    sex, age, weight, height, dn4, duration, pain_type = _patients(protocol, params, streams[0], N)
    ids, seqs, treat, kits = _randomise(protocol, sex, n_trials, n_patients, streams[1])
    code_index = {c: i for i, c in enumerate(arms)}
    treat_idx = np.vectorize(code_index.__getitem__, otypes=[int])(treat)
    diary, extra, pre, pain_z = _diary(protocol, params, entries, treat_idx, streams[2], N, missing)
    q = _questionnaires(protocol, params, likes, treat_idx, pain_z, dn4, streams[3], N) if questionnaires else {}
    ae, conc = _events(protocol, params, likes, treat_idx, sex, streams[4], N)
    blind = _blinding(protocol, params, entries, treat_idx, streams[5], N)
    return Batch(n_trials, n_patients, arms, likes, ids, sex, age, weight, height, pain_type, duration, dn4,
                 seqs, treat_idx, kits, pre, diary, extra, pain_z, q, ae, conc, blind)

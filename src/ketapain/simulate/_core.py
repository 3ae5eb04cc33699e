"""The batch generator: many trials at once, as flat numpy arrays (no tables).

Patients of all trials are stacked (``trial = index // n_patients``); every draw is vectorised
over them. :func:`simulate_trial` turns one batch of one trial into TrialData tables;
:func:`calibrate` computes published summaries from large batches directly. The diaries come
from the public kernel :func:`ketapain.simulate.simulate_diary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ketapain._options import MISSING_MODE, check_option
from ketapain._seeds import spawn_generators
from ketapain.errors import KetapainError, ProtocolError
from ketapain.operations import randomise_protocol
from ketapain.protocol import Protocol
from ketapain.simulate._diary import DIARY_ITEMS, simulate_diary
from ketapain.simulate._params import (
    AdverseEventParameters,
    ArmEffect,
    BlindingParameters,
    BySex,
    ConcomitantParameters,
    Parameters,
    PatientParameters,
    arm_parameters,
)
from ketapain.simulate._questionnaires import (
    TARGET_SCORES,
    generate_instrument,
    latent_targets,
)

__all__ = [
    "Batch",
    "DIARY_ITEMS",
    "MAX_CALIBRATION_TRIALS",
    "MAX_PATIENT_DAYS",
    "MAX_POWER_SIMS",
    "MAX_TRIAL_DIARY_DAYS",
    "MAX_TRIAL_PATIENTS",
    "MISSING_MODES",
    "check_size",
    "generate",
    "protocol_arms",
]

MAX_TRIAL_PATIENTS = 10_000
"""Most patients in one simulated trial (``simulate_trial``, each ``n`` of ``simulate_power``)."""
MAX_PATIENT_DAYS = 10_000_000
"""Most diary days simulated at once as arrays (trials x patients x periods x diary days; about 1 GB)."""
MAX_TRIAL_DIARY_DAYS = 2_000_000
"""Most diary days of one trial made into tables by ``simulate_trial`` (about 0.7 GB, 15 s)."""
MAX_CALIBRATION_TRIALS = 100_000
"""Most trials of ``calibrate`` (simulated by chunks: a bound on time, not memory)."""
MAX_POWER_SIMS = 100_000
"""Most ``sims`` of ``simulate_power`` per sample size (Monte-Carlo SE <= 0.0016)."""


def check_size(protocol: Protocol, *, n_patients: int, n_trials: int, name: str,
               error: type[KetapainError] = ProtocolError, most_days: int = MAX_PATIENT_DAYS) -> None:
    """Refuse, before anything is drawn, a trial of more than :data:`MAX_TRIAL_PATIENTS`
    patients or a batch of more than ``most_days`` diary days; the error names the parameter
    ``name`` that sets ``n_patients``."""
    if n_patients > MAX_TRIAL_PATIENTS:
        raise error(template="{@" + name + "}: {n} patients; at most {most} in one simulated trial",
                    params={"n": n_patients, "most": MAX_TRIAL_PATIENTS}, column=name, value=n_patients,
                    allowed=f"at most {MAX_TRIAL_PATIENTS}")
    P, D = protocol.design.periods, protocol.diary.days_per_period
    days = n_trials * n_patients * P * D
    if days > most_days:
        together = f"{n_trials} trials x " if n_trials > 1 else ""
        raise error(template="{@" + name + "}: {together}{n} patients x {P} periods x {D} diary days = {days} diary days "
                    "simulated at once; at most {most}: fewer patients",
                    params={"together": together, "n": n_patients, "P": P, "D": D, "days": days, "most": most_days},
                    column=name, value=n_patients, allowed=f"at most {most_days // max(1, n_trials * P * D)}")

MISSING_MODES = MISSING_MODE.choices
PAIN_TYPES5 = ("postsurgery", "radiculopathy", "posttraumatic", "postdiabetic", "postchemotherapy")
_STREAMS = ("patients", "randomisation", "diary", "questionnaires", "events", "blinding")
"""The independent random streams of :func:`generate`, spawned in this order."""


@dataclass(frozen=True, slots=True, kw_only=True)
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


def protocol_arms(protocol: Protocol, params: Parameters) -> tuple[tuple[str, ...], tuple[str, ...], tuple[ArmEffect, ...]]:
    """Arm codes of the protocol, the parameter arm each borrows tables from, and their effect curves."""
    arms = tuple(protocol.arm_codes)
    found = [arm_parameters(params, code, placebo=protocol.arm(code).is_placebo) for code in arms]
    return arms, tuple(like for _, like in found), tuple(effect for effect, _ in found)


def _randomise(protocol: Protocol, sex: np.ndarray, n_trials: int, n: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def _wide(parts: list[pd.DataFrame], P: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    f = pd.concat(parts, ignore_index=True).sort_values(["patient_id", "period"], kind="stable")
    # keep the list's order of patients (P001, P002, ... / stratum blocks)
    order = pd.unique(pd.concat(parts)["patient_id"])
    f = f.set_index(["patient_id", "period"]).loc[[(p, k) for p in order for k in range(1, P + 1)]]
    tr = f["treatment"].to_numpy(dtype=object).reshape(-1, P)
    kit = f["kit_code"].to_numpy(dtype=object).reshape(-1, P)
    seq = f["sequence"].to_numpy(dtype=object).reshape(-1, P)[:, 0]
    return np.asarray(order, dtype=object), seq, tr, kit


def _lognormal(rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray, size: int) -> np.ndarray:
    s2 = np.log1p((sd / mean) ** 2)
    return rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), size)


def _patients(protocol: Protocol, pp: PatientParameters, rng: np.random.Generator, N: int) -> tuple[np.ndarray, ...]:
    female = rng.random(N) < pp.female_fraction
    sex = np.where(female, "F", "M")

    def by_sex(d: BySex) -> np.ndarray:
        return np.where(female, d.F, d.M)

    age = np.clip(np.rint(rng.normal(by_sex(pp.age_mean), by_sex(pp.age_sd))), 18, 95).astype(np.int64)
    w = protocol.weights
    weight = np.clip(np.round(_lognormal(rng, by_sex(pp.weight_mean), by_sex(pp.weight_sd), N), 1),
                     max(w.min_kg, 20.0), min(w.max_kg, 300.0))
    height = np.clip(np.round(rng.normal(by_sex(pp.height_mean), by_sex(pp.height_sd)), 2), 1.35, 2.10)
    dn4 = np.clip(np.rint(rng.normal(by_sex(pp.dn4_mean), by_sex(pp.dn4_sd))), 4, 10).astype(np.int64)
    dur = np.exp(np.log(by_sex(pp.duration_median)) + by_sex(pp.duration_log_sd) * rng.standard_normal(N))
    duration = np.maximum(np.round(dur, 1), 0.3)  # inclusion: pain for more than 3 months
    probs = np.where(female[:, None], np.asarray(pp.pain_type["F"], float), np.asarray(pp.pain_type["M"], float))
    probs = probs / probs.sum(axis=1, keepdims=True)
    k = (rng.random(N)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    pain_type = np.asarray(PAIN_TYPES5, dtype=object)[np.minimum(k, 4)]
    return sex, age, weight, height, dn4, duration, pain_type


def _visit_period(protocol: Protocol) -> dict[str, int]:
    """visit name -> period just ended (0 = baseline), for visits with questionnaires."""
    P, L = protocol.design.periods, protocol.design.period_days
    gap = L + (protocol.design.washout_days or 0)
    starts = np.arange(P) * gap
    out = {}
    for v in protocol.visits:
        out[v.name] = 0 if v.day <= 0 else int((starts < v.day).sum())
    return out


def _questionnaires(protocol: Protocol, params: Parameters, likes: tuple[str, ...], treat_idx: np.ndarray,
                    pain_z: np.ndarray, dn4: np.ndarray, rng: np.random.Generator, N: int) -> dict[str, dict[str, Any]]:
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
                t = latent_targets(params.questionnaires, name, column, pain_z, pid, N, rng)
                entry[name] = generate_instrument(name, t, rng)
            else:
                raise ProtocolError(
                    f"visit {v.name!r}: the simulator cannot generate instrument {name!r}; it generates "
                    f"dn4, {', '.join(TARGET_SCORES)}"
                )
        out[v.name] = entry
    return out


def _pick(d: dict[str, float], rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` draws of the keys of ``d`` with probabilities proportional to its values."""
    keys = list(d)
    pr = np.asarray([d[k] for k in keys])
    k = (rng.random(n)[:, None] > np.cumsum(pr / pr.sum())[None, :]).sum(axis=1)
    return np.asarray(keys, dtype=object)[np.minimum(k, len(keys) - 1)]


def _events(protocol: Protocol, ae: AdverseEventParameters, likes: tuple[str, ...], treat_idx: np.ndarray,
            rng: np.random.Generator, N: int) -> dict[str, np.ndarray]:
    """Adverse events: prone patients, terms by arm at the published rates, relatedness, grading."""
    P = protocol.design.periods
    prone = rng.random(N) < ae.prone
    pat, per, term, rel = [], [], [], []
    for p in range(P):  # loops over periods and terms; vectorised over patients
        arm_like = np.asarray(likes, dtype=object)[treat_idx[:, p]]
        for a in np.unique(arm_like):
            sel = arm_like == a
            for t, pct in ae.terms_pct.get(a, {}).items():
                prob = min(1.0, pct / 100.0 / ae.prone)
                hit = sel & prone & (rng.random(N) < prob)
                idx = np.flatnonzero(hit)
                pat.append(idx)
                per.append(np.full(idx.size, p + 1))
                term.append(np.full(idx.size, t, dtype=object))
                rel.append(rng.random(idx.size) < ae.related[a])
    pat_a = np.concatenate(pat) if pat else np.zeros(0, int)
    n = pat_a.size
    related = np.concatenate(rel) if rel else np.zeros(0, bool)
    caus = np.where(related, _pick(dict(ae.related_causality), rng, n), _pick(dict(ae.unrelated_causality), rng, n))
    severity = _pick(dict(ae.severity), rng, n)  # drawn after the causality (the streams' order is fixed)
    return {"patient": pat_a, "period": np.concatenate(per) if per else np.zeros(0, int),
            "term": np.concatenate(term) if term else np.zeros(0, object), "related": related,
            "severity": severity, "causality": caus}


def _concomitant(protocol: Protocol, cm: ConcomitantParameters, likes: tuple[str, ...], treat_idx: np.ndarray,
                 sex: np.ndarray, rng: np.random.Generator, N: int) -> dict[str, np.ndarray]:
    """Concomitant analgesics: baseline by sex, added per period by arm."""
    cp, cper, ccls = [], [], []
    for cls, d in cm.baseline_n_of_10.items():
        prob = np.where(sex == "F", d.F, d.M) / 10.0
        idx = np.flatnonzero(rng.random(N) < prob)
        cp.append(idx)
        cper.append(np.zeros(idx.size, int))
        ccls.append(np.full(idx.size, cls, dtype=object))
    for p in range(protocol.design.periods):
        arm_like = np.asarray(likes, dtype=object)[treat_idx[:, p]]
        for a in np.unique(arm_like):
            for cls, cnt in cm.added_n_of_20.get(a, {}).items():
                idx = np.flatnonzero((arm_like == a) & (rng.random(N) < cnt / 20.0))
                cp.append(idx)
                cper.append(np.full(idx.size, p + 1))
                ccls.append(np.full(idx.size, cls, dtype=object))
    return {"patient": np.concatenate(cp), "period": np.concatenate(cper), "drug_class": np.concatenate(ccls)}


def _blinding(protocol: Protocol, bp: BlindingParameters, placebo: np.ndarray, treat_idx: np.ndarray,
              rng: np.random.Generator, N: int) -> dict[str, np.ndarray] | None:
    P = protocol.design.periods
    if P > 3:
        return None
    out = {}
    active = ~placebo
    for p in range(P):
        truth = np.where(active[treat_idx[:, p]], 2.0, 1.0)
        right = rng.random(N) < bp.correct
        guess = np.where(right, truth, 3.0 - truth)
        out[f"period_{p + 1}"] = np.where(rng.random(N) < bp.dont_know, 0.0, guess)
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
    """Simulate ``n_trials`` trials of ``n_patients`` (vectorised over all patients).

    ``rng`` must come from a SeedSequence (``default_rng(seed)``): each part of the trial
    (:data:`_STREAMS`) draws from its own child stream, so that e.g. skipping the
    questionnaires leaves every other table unchanged.
    """
    check_option("missing", missing, MISSING_MODE, error=ProtocolError)
    check_size(protocol, n_patients=n_patients, n_trials=n_trials, name="n_patients")
    N = n_trials * n_patients
    streams = dict(zip(_STREAMS, spawn_generators(rng, len(_STREAMS)), strict=True))
    arms, likes, effects = protocol_arms(protocol, params)
    placebo = np.array([protocol.arm(code).is_placebo for code in arms])
    sex, age, weight, height, dn4, duration, pain_type = _patients(protocol, params.patients, streams["patients"], N)
    ids, seqs, treat, kits = _randomise(protocol, sex, n_trials, n_patients, streams["randomisation"])
    code_index = {c: i for i, c in enumerate(arms)}
    treat_idx = np.vectorize(code_index.__getitem__, otypes=[int])(treat)
    diary = simulate_diary(protocol, parameters=params, arms=effects, treatment=treat_idx, rng=streams["diary"],
                           missing=missing)
    q = _questionnaires(protocol, params, likes, treat_idx, diary.pain_z, dn4, streams["questionnaires"],
                        N) if questionnaires else {}
    ae = _events(protocol, params.adverse_events, likes, treat_idx, streams["events"], N)
    conc = _concomitant(protocol, params.concomitant, likes, treat_idx, sex, streams["events"], N)
    blind = _blinding(protocol, params.blinding, placebo, treat_idx, streams["blinding"], N)
    return Batch(n_trials=n_trials, n_patients=n_patients, arms=arms, like=likes, patient_ids=ids, sex=sex, age=age,
                 weight=weight, height=height, pain_type=pain_type, duration=duration, dn4=dn4, sequence=seqs,
                 treatment=treat_idx, kit_code=kits, pre_pain=diary.pre_infusion, diary=diary.items,
                 extra=diary.extra_analgesics, pain_z=diary.pain_z, questionnaires=q, ae=ae, concomitant=conc,
                 blinding=blind)

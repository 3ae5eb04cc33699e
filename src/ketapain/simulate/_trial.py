"""``simulate_trial``: one in-silico trial as a validated :class:`~ketapain.data.TrialData`."""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from ketapain import __version__
from ketapain._options import MISSING_MODE, check_option
from ketapain._seeds import seed_sequence
from ketapain.data import TrialData
from ketapain.errors import ProtocolError
from ketapain.protocol import Protocol, load_protocol
from ketapain.simulate._core import MAX_TRIAL_DIARY_DAYS, Batch, check_size, generate
from ketapain.simulate._diary import DIARY_ITEMS
from ketapain.simulate._params import Parameters, load_parameters

__all__ = ["RECRUITMENT", "simulate_trial"]

RECRUITMENT = ("2015-11-10", "2018-01-31")
"""Recruitment window of KETAPAIN (screening dates are drawn in it)."""


def simulate_trial(
    protocol: Protocol | str,
    *,
    seed: int | np.random.Generator | None,
    n_patients: int = 20,
    parameters: Parameters | str | PathLike[str] | Mapping[str, Any] | None = None,
    missing: str = "mcar",
) -> TrialData:
    """Simulate one crossover trial of ``protocol`` as a complete, validated TrialData.

    Parameters
    ----------
    protocol : Protocol or str
        The study (a :class:`~ketapain.protocol.Protocol` or a name/path for
        :func:`~ketapain.protocol.load_protocol`); arms, periods, period length, visits and
        their questionnaires, diary items and eligibility criteria all come from it.
    seed : int, numpy Generator or None
        Randomness; the same integer gives identical tables. Recorded in ``meta["seed"]``.
    n_patients : int, default 20
        Randomised patients. The screening log adds refused and not-eligible persons in the
        proportions of the parameter file (KETAPAIN: 2 and 1 per 20).
    parameters : Parameters, path, mapping or None
        Simulator parameters (default: the shipped ``ketapain_twin.toml``); its SHA-256 is
        recorded in ``meta["parameters_sha256"]``.
    missing : {"mcar", "mar", "mnar", "none"}, default "mcar"
        Missing diary days: completely at random; plus a dropout driven by yesterday's
        observed pain (MAR) or by the day's own unobserved pain (MNAR); or none. A missing
        day has average, maximum and night pain (and extra analgesics) all missing.

    Returns
    -------
    TrialData
        All seven tables; ``meta`` holds ``study``, ``protocol_id``, ``source``, ``seed``,
        ``missing``, ``parameters`` and ``parameters_sha256``.

    Raises
    ------
    ProtocolError
        An invalid option, an arm without parameters, an instrument the simulator cannot
        generate, or a stratification other than by sex; more than 10,000 patients or
        2,000,000 diary days (``docs/simulate.md``, "Limits"), checked before anything is drawn.

    Notes
    -----
    The model and every parameter are described in ``docs/simulate.md``. Sequences and kit
    codes come from :func:`ketapain.operations.randomise_protocol` (the first ``n_patients``
    rows of a list made with a seed drawn from ``seed``).

    Examples
    --------
    >>> data = simulate_trial("ketapain", n_patients=20, seed=1)
    >>> len(data.patients), len(data.diary), sorted(data.allocation["treatment"].unique())
    (20, 2100, ['K', 'KM', 'P'])
    """
    if isinstance(protocol, str):
        protocol = load_protocol(protocol)
    if isinstance(n_patients, bool) or not isinstance(n_patients, int | np.integer) or n_patients < 1:
        raise ProtocolError(template="{@n_patients=} must be a positive integer", params={"n_patients": n_patients})
    check_option("missing", missing, MISSING_MODE, error=ProtocolError)
    check_size(protocol, n_patients=int(n_patients), n_trials=1, name="n_patients", most_days=MAX_TRIAL_DIARY_DAYS)
    params = load_parameters(parameters)
    ss, resolved = seed_sequence(seed, generator_bits=63, error=ProtocolError)
    rng = np.random.default_rng(ss)
    seed_text = f"generator:{resolved.value}" if resolved.source == "generator" else str(resolved.value)
    batch = generate(protocol, params, n_trials=1, n_patients=int(n_patients), rng=rng, missing=missing)
    tables = build_tables(protocol, params, batch, rng)
    meta = {
        "study": protocol.study.title,
        "protocol_id": protocol.study.id,
        "source": f"ketapain.simulate {__version__}",
        "seed": seed_text,
        "missing": missing,
        "parameters": params.source,
        "parameters_sha256": params.sha256,
    }
    return TrialData.from_tables(**tables, meta=meta, treatments=protocol.arm_codes,
                                 diary_scale=protocol.diary.scale)


class Tables(TypedDict):
    """The seven tables of a trial, by name (the keyword arguments of :meth:`TrialData.from_tables`)."""

    patients: pd.DataFrame
    allocation: pd.DataFrame
    diary: pd.DataFrame
    questionnaires: pd.DataFrame
    adverse_events: pd.DataFrame
    concomitant: pd.DataFrame
    screening: pd.DataFrame


def build_tables(protocol: Protocol, params: Parameters, b: Batch, rng: np.random.Generator) -> Tables:
    """The seven tables of a one-trial batch."""
    N, P = b.n_patients, protocol.design.periods
    D = protocol.diary.days_per_period
    ids = b.patient_ids.astype(str)
    patients = pd.DataFrame({
        "patient_id": ids, "sex": b.sex, "age_years": b.age, "weight_kg": b.weight, "height_m": b.height,
        "pain_type": b.pain_type, "pain_duration_years": b.duration, "dn4_total": b.dn4,
    })
    # dates: screening in the recruitment window, first infusion 14 days later (inclusion visit day)
    start, end = (np.datetime64(d) for d in RECRUITMENT)
    span = int((end - start) / np.timedelta64(1, "D"))
    inclusion_day = min([v.day for v in protocol.visits] + [0])
    screen = start + rng.integers(0, span + 1, N).astype("timedelta64[D]")
    gap = protocol.design.period_days + (protocol.design.washout_days or 0)
    post = protocol.gate.max_postpone_days if protocol.gate is not None else 0
    delay = np.where(rng.random((N, P)) < 0.2, rng.integers(1, post + 1, (N, P)) if post else 0, 0)
    delay[:, 0] = 0
    offsets = np.arange(P) * gap + np.cumsum(delay, axis=1)
    first = screen + np.timedelta64(-inclusion_day, "D")
    inf_dates = first[:, None] + offsets.astype("timedelta64[D]")
    arms = np.asarray(b.arms, dtype=object)
    allocation = pd.DataFrame({
        "patient_id": np.repeat(ids, P), "period": np.tile(np.arange(1, P + 1), N),
        "sequence": np.repeat(b.sequence.astype(str), P), "treatment": arms[b.treatment].ravel().astype(str),
        "kit_code": b.kit_code.ravel().astype(str), "infusion_date": inf_dates.ravel(),
        "pre_infusion_pain": b.pre_pain.ravel(),
    })
    diary = pd.DataFrame({
        "patient_id": np.repeat(ids, P * D), "period": np.tile(np.repeat(np.arange(1, P + 1), D), N),
        "day": np.tile(np.arange(1, D + 1), N * P),
    })
    for item in DIARY_ITEMS:
        diary[item] = b.diary[item].ravel() if item in protocol.diary.items else np.nan
    extra = b.extra.ravel()
    extra_analgesics = pd.array(extra == 1.0, dtype="boolean")
    extra_analgesics[np.isnan(extra)] = pd.NA
    diary["extra_analgesics"] = extra_analgesics
    _sites_and_race(protocol, patients)
    questionnaires = _long_questionnaires(protocol, b, ids, inf_dates)
    ae = b.ae
    n_ae = ae["patient"].size
    onset = inf_dates[ae["patient"], ae["period"] - 1] + rng.integers(1, 3, n_ae).astype("timedelta64[D]")
    adverse = pd.DataFrame({
        "patient_id": ids[ae["patient"]], "period": ae["period"], "term": ae["term"].astype(str),
        "severity": ae["severity"].astype(str), "serious": np.zeros(n_ae, bool),
        "causality": ae["causality"].astype(str), "onset_date": onset,
    }).sort_values(["patient_id", "period", "term"], kind="stable").reset_index(drop=True)
    adverse.insert(0, "event_id", [f"AE{i + 1:04d}" for i in range(n_ae)])
    cm = b.concomitant
    conc = pd.DataFrame({
        "patient_id": ids[cm["patient"]], "period": cm["period"], "drug_class": cm["drug_class"].astype(str),
        "status": np.where(cm["period"] == 0, "baseline", "added"),
    }).sort_values(["patient_id", "period", "drug_class"], kind="stable").reset_index(drop=True)
    screening = _screening(protocol, params, b, ids, screen, rng)
    return {"patients": patients, "allocation": allocation, "diary": diary, "questionnaires": questionnaires,
            "adverse_events": adverse, "concomitant": conc, "screening": screening}


def _sites_and_race(protocol: Protocol, patients: pd.DataFrame) -> None:
    """Add ``site_id`` and ``country`` (patients dealt to the protocol's sites in turn, in
    patient order; no columns when the protocol has no sites) and ``race`` ('NOT REPORTED'
    when the protocol does not collect race; otherwise missing: the parameter files define no
    race distribution). Deterministic: nothing is drawn, so every other value is unchanged."""
    n = len(patients)
    if protocol.sites:
        site = np.arange(n) % len(protocol.sites)
        patients["site_id"] = np.asarray([s.id for s in protocol.sites], dtype=object)[site].astype(str)
        patients["country"] = np.asarray([s.country for s in protocol.sites], dtype=object)[site].astype(str)
    patients["race"] = pd.array([None if protocol.study.race_collected else "NOT REPORTED"] * n, dtype="string")


def _visit_dates(protocol: Protocol, visit: str, inf_dates: np.ndarray) -> np.ndarray:
    """Each patient's date of ``visit``: the infusion of the period the visit belongs to plus the
    visit's offset from it (:meth:`Protocol.visit_anchor`, the capture app's expected date)."""
    day = next(v.day for v in protocol.visits if v.name == visit)
    period, offset = protocol.visit_anchor(day)
    return inf_dates[:, period - 1] + np.timedelta64(offset, "D")


def _long_questionnaires(protocol: Protocol, b: Batch, ids: np.ndarray, inf_dates: np.ndarray) -> pd.DataFrame:
    parts = []
    for visit, entry in b.questionnaires.items():
        for name, items in entry.items():
            if name == "column":
                continue
            keys = list(items)
            vals = np.column_stack([items[k] for k in keys])  # (N, items)
            parts.append(pd.DataFrame({
                "patient_id": np.repeat(ids, len(keys)), "visit": visit, "instrument": name,
                "item": np.tile(np.asarray(keys, dtype=object), ids.size).astype(str), "value": vals.ravel(),
                "completed_date": np.repeat(_visit_dates(protocol, visit, inf_dates), len(keys)),
            }))
    listed = [v for v in protocol.visits if "blinding" in v.questionnaires]
    if b.blinding is not None and listed:
        # at the visit the protocol lists the guesses at; a protocol that lists none has none
        # (its own `ketapain check` would refuse them as an unknown instrument)
        last = listed[0].name
        keys = list(b.blinding)
        vals = np.column_stack([b.blinding[k] for k in keys])
        parts.append(pd.DataFrame({
            "patient_id": np.repeat(ids, len(keys)), "visit": last, "instrument": "blinding",
            "item": np.tile(np.asarray(keys, dtype=object), ids.size).astype(str), "value": vals.ravel(),
            "completed_date": np.repeat(_visit_dates(protocol, last, inf_dates), len(keys)),
        }))
    if not parts:
        return pd.DataFrame(columns=["patient_id", "visit", "instrument", "item", "value", "completed_date"])
    return pd.concat(parts, ignore_index=True)


def _answer(op: str, value: Any, hold: bool) -> Any:
    """A screening answer for which ``answer <op> value`` is ``hold``."""
    if op in ("in", "not_in"):
        inside = value[0]
        outside = "other" if not isinstance(inside, bool | int | float) else max(value) + 1
        return inside if (op == "in") == hold else outside
    if isinstance(value, bool):
        return value if (op == "==") == hold else (not value)
    v = float(value)
    table = {">=": (v + 1, v - 1), ">": (v + 1, v), "<=": (v - 1, v + 1), "<": (v - 1, v), "==": (v, v + 1),
             "!=": (v + 1, v)}
    return table[op][0 if hold else 1]


def _screening(protocol: Protocol, params: Parameters, b: Batch, ids: np.ndarray, screen: np.ndarray,
               rng: np.random.Generator) -> pd.DataFrame:
    sp = params.screening
    n = ids.size
    n_ref = int(np.floor(sp.refused_per_randomised * n + 0.5))
    n_ne = int(np.floor(sp.not_eligible_per_randomised * n + 0.5))
    total = n + n_ref + n_ne
    outcome = np.array(["randomised"] * n + ["refused"] * n_ref + ["not_eligible"] * n_ne, dtype=object)
    start = np.datetime64(RECRUITMENT[0])
    span = int((np.datetime64(RECRUITMENT[1]) - start) / np.timedelta64(1, "D"))
    dates = np.concatenate([screen, start + rng.integers(0, span + 1, n_ref + n_ne).astype("timedelta64[D]")])
    age = np.concatenate([b.age, rng.integers(25, 80, n_ref + n_ne)])
    months = np.concatenate([np.round(b.duration * 12.0, 1), np.round(rng.uniform(6, 120, n_ref + n_ne), 1)])
    dn4 = np.concatenate([b.dn4, rng.integers(4, 9, n_ref + n_ne)])
    eligible = outcome != "not_eligible"
    criteria = list(protocol.eligibility.criteria)
    frame: dict[str, Any] = {}
    fail = rng.integers(0, max(len(criteria), 1), total)  # which criterion a not-eligible person fails
    for j, c in enumerate(criteria):
        should_hold = c.kind == "inclusion"
        failing = ~eligible & (fail == j)
        hold = np.where(failing, not should_hold, should_hold)
        if c.instrument == "dn4":
            dn4 = np.where(failing, 2, dn4)
            continue
        if c.field is None:  # a score of another instrument: not part of the simulated screening answers
            continue
        if c.field == "age":
            col = np.where(failing, _answer(c.op, c.value, not should_hold), age).astype(float)
            frame[c.field] = col.astype(np.int64)
            continue
        if c.field == "pain_duration_months":
            frame[c.field] = np.where(failing, _answer(c.op, c.value, not should_hold), months)
            continue
        good, bad = _answer(c.op, c.value, True), _answer(c.op, c.value, False)
        frame[c.field] = np.where(hold, good, bad)
    reason = np.full(total, None, dtype=object)
    reason[outcome == "refused"] = "declined to take part"
    if criteria:
        texts = np.asarray([c.text for c in criteria], dtype=object)
        reason = np.where(outcome == "not_eligible", "fails: " + texts[fail].astype(str), reason)
    order = np.argsort(dates, kind="stable")
    out = pd.DataFrame({
        "screening_id": [f"S{i + 1:03d}" for i in range(total)],
        "screening_date": dates[order], "dn4_total": dn4[order], "eligible": eligible[order],
        "outcome": outcome[order], "reason": reason[order],
        "patient_id": np.concatenate([ids, np.full(n_ref + n_ne, None, dtype=object)])[order],
    })
    for k, v in frame.items():
        out[k] = np.asarray(v)[order]
    return out

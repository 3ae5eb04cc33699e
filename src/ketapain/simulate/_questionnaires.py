"""Item-level questionnaire answers generated from latent severities, vectorised.

For each respondent (patient x visit) and instrument, a latent ``g`` (standard normal) is drawn:
``g = sqrt(rho) * A_i + sqrt(1 - rho) * W_iv`` with ``rho`` the ``patient_correlation``, and
``A_i`` loading ``pain_loading`` on the patient's diary pain level (negatively for SF-36, where
higher is better). Each generated score ``s`` gets ``u_s = lam * g + sqrt(1 - lam^2) * e_s``
(``lam`` the instrument's ``general_loading``) and a target ``t_s = mean + sd * u_s`` with
(mean, sd) the latent target of the Table 3 column (baseline or the arm of the period just
ended). Items are then built around the target (rounded, clipped to their allowed values), so
the instrument's own scorer returns approximately ``t_s``: see :data:`TARGET_SCORES` for which
Table 3 row each target is.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ketapain.simulate._params import QuestionnaireParameters

__all__ = ["INSTRUMENT_ROWS", "TABLE3_SCORES", "TARGET_SCORES", "generate_instrument", "psqi_minutes"]

TARGET_SCORES: dict[str, tuple[str, ...]] = {
    "npsi": ("npsi_burning", "npsi_pressing", "npsi_paroxysmal", "npsi_evoked", "npsi_paresthesia_dysesthesia"),
    "qdsa": ("mcgill_sensory", "mcgill_affective"),
    "bpi": ("bpi_average_severity", "bpi_pain_experience", "bpi_interference_affect", "bpi_interference_activity",
            "bpi_improvement_pct"),
    "hads": ("hads_anxiety", "hads_depression"),
    "sf36": ("sf36_physical_function", "sf36_role_physical", "sf36_bodily_pain", "sf36_general_health",
             "sf36_vitality", "sf36_social_functioning", "sf36_role_emotional", "sf36_mental_health"),
    "psqi": ("psqi_subjective_quality", "psqi_latency", "psqi_duration", "psqi_efficiency", "psqi_disturbances",
             "psqi_medication", "psqi_daytime_dysfunction"),
    "pgic": ("pgic",),
}
"""Instrument -> the Table 3 rows whose latent targets drive its items (in the TOML)."""

TABLE3_SCORES: dict[str, tuple[str, str]] = {
    "mcgill_global": ("qdsa", "total"),
    "mcgill_sensory": ("qdsa", "sensory"),
    "mcgill_affective": ("qdsa", "affective"),
    "npsi_total": ("npsi", "total"),
    "npsi_burning": ("npsi", "burning_spontaneous"),
    "npsi_pressing": ("npsi", "pressing_spontaneous"),
    "npsi_paroxysmal": ("npsi", "paroxysmal"),
    "npsi_evoked": ("npsi", "evoked"),
    "npsi_paresthesia_dysesthesia": ("npsi", "paresthesia_dysesthesia"),
    "bpi_average_severity": ("bpi", "average"),
    "bpi_pain_experience": ("bpi", "severity_mean"),
    "bpi_improvement_pct": ("bpi", "relief_pct"),
    "bpi_interference_affect": ("bpi", "interference_affective"),
    "bpi_interference_activity": ("bpi", "interference_activity"),
    "hads_anxiety": ("hads", "anxiety"),
    "hads_depression": ("hads", "depression"),
    "sf36_pcs": ("sf36", "PCS"),
    "sf36_mcs": ("sf36", "MCS"),
    "sf36_physical_function": ("sf36", "PF"),
    "sf36_role_physical": ("sf36", "RP"),
    "sf36_bodily_pain": ("sf36", "BP"),
    "sf36_general_health": ("sf36", "GH"),
    "sf36_vitality": ("sf36", "VT"),
    "sf36_social_functioning": ("sf36", "SF"),
    "sf36_role_emotional": ("sf36", "RE"),
    "sf36_mental_health": ("sf36", "MH"),
    "pgic": ("pgic", "pgic"),
    "psqi_global": ("psqi", "global"),
    "psqi_subjective_quality": ("psqi", "c1_quality"),
    "psqi_latency": ("psqi", "c2_latency"),
    "psqi_duration": ("psqi", "c3_duration"),
    "psqi_efficiency": ("psqi", "c4_efficiency"),
    "psqi_disturbances": ("psqi", "c5_disturbances"),
    "psqi_medication": ("psqi", "c6_medication"),
    "psqi_daytime_dysfunction": ("psqi", "c7_daytime"),
}
"""Table 3 row of the paper -> (instrument, score) of ketapain.instruments (default options).

McGill = QDSA (the French McGill); ``bpi_average_severity`` = BPI item 5 (average pain),
``bpi_pain_experience`` = BPI severity mean (items 3-6), ``bpi_improvement_pct`` = item 8."""

INSTRUMENT_ROWS: dict[str, tuple[str, ...]] = {}
for _row, (_inst, _score) in TABLE3_SCORES.items():
    INSTRUMENT_ROWS.setdefault(_inst, ())
    INSTRUMENT_ROWS[_inst] = (*INSTRUMENT_ROWS[_inst], _row)

# SF-36 v1 items per scale: (item, number of levels, reversed = raw 1 is the best answer)
_SF36_ITEMS: dict[str, tuple[tuple[int, int, bool], ...]] = {
    "sf36_physical_function": tuple((i, 3, False) for i in range(3, 13)),
    "sf36_role_physical": tuple((i, 2, False) for i in range(13, 17)),
    "sf36_bodily_pain": ((21, 6, True), (22, 5, True)),
    "sf36_general_health": ((1, 5, True), (33, 5, False), (34, 5, True), (35, 5, False), (36, 5, True)),
    "sf36_vitality": ((23, 6, True), (27, 6, True), (29, 6, False), (31, 6, False)),
    "sf36_social_functioning": ((20, 5, True), (32, 5, False)),
    "sf36_role_emotional": tuple((i, 2, False) for i in range(17, 20)),
    "sf36_mental_health": ((24, 6, False), (25, 6, False), (26, 6, True), (28, 6, False), (30, 6, True)),
}
_QDSA_SENSORY = {"A": 6, "B": 2, "C": 5, "D": 6, "E": 6, "F": 2, "G": 2, "H": 3, "I": 3}
_QDSA_AFFECTIVE = {"J": 3, "K": 3, "L": 3, "M": 5, "N": 4, "O": 3, "P": 2}


def _rint(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.rint(x), lo, hi)


def _noisy(rng: np.random.Generator, centre: np.ndarray, k: int, sd: float, lo: float, hi: float) -> np.ndarray:
    """k items (columns) around ``centre`` (n,), rounded and clipped."""
    return _rint(centre[:, None] + rng.normal(0.0, sd, (centre.size, k)), lo, hi)


def psqi_minutes(hours: np.ndarray) -> np.ndarray:
    """Minutes after midnight (0..1439) of a clock time given in hours (wraps at 24)."""
    return np.mod(np.rint(hours * 60.0), 1440.0)


def generate_instrument(
    name: str,
    targets: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    *,
    dn4_total: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Item answers (item key -> (n,) float array) of instrument ``name`` around the targets.

    ``targets`` maps each row of :data:`TARGET_SCORES` [name] to the (n,) latent target on the
    score's own scale. ``dn4`` needs ``dn4_total`` instead (the patient's total, 0..10).
    """
    out: dict[str, np.ndarray] = {}
    if name == "dn4":
        assert dn4_total is not None  # internal: the caller always passes it for dn4
        n = dn4_total.size
        ranks = np.argsort(np.argsort(rng.random((n, 10)), axis=1), axis=1)
        items = (ranks < dn4_total[:, None]).astype(float)
        return {str(j + 1): items[:, j] for j in range(10)}
    if name == "npsi":
        t = targets
        out["1"] = _rint(t["npsi_burning"], 0, 10)
        for keys, row in ((("2", "3"), "npsi_pressing"), (("5", "6"), "npsi_paroxysmal"),
                          (("8", "9", "10"), "npsi_evoked"), (("11", "12"), "npsi_paresthesia_dysesthesia")):
            vals = _noisy(rng, t[row], len(keys), 0.8, 0, 10)
            out.update({k: vals[:, j] for j, k in enumerate(keys)})
        n = t["npsi_burning"].size
        out["4"] = rng.integers(1, 6, n).astype(float)
        out["7"] = rng.integers(1, 6, n).astype(float)
        return {k: out[k] for k in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")}
    if name == "qdsa":
        for groups, row in ((_QDSA_SENSORY, "mcgill_sensory"), (_QDSA_AFFECTIVE, "mcgill_affective")):
            names = [f"{g}{i}" for g, k in groups.items() for i in range(1, k + 1)]
            vals = _noisy(rng, targets[row] / len(names), len(names), 0.9, 0, 4)
            out.update({k: vals[:, j] for j, k in enumerate(names)})
        return out
    if name == "bpi":
        t_avg, t_exp = targets["bpi_average_severity"], targets["bpi_pain_experience"]
        centre = (4.0 * t_exp - t_avg) / 3.0
        out["3"] = _noisy(rng, centre + 1.5, 1, 0.7, 0, 10)[:, 0]
        out["4"] = _noisy(rng, centre - 1.5, 1, 0.7, 0, 10)[:, 0]
        out["5"] = _rint(t_avg, 0, 10)
        out["6"] = _noisy(rng, centre, 1, 0.7, 0, 10)[:, 0]
        out["8"] = _rint(targets["bpi_improvement_pct"] / 10.0, 0, 10) * 10.0
        aff = _noisy(rng, targets["bpi_interference_affect"], 3, 0.8, 0, 10)
        act = _noisy(rng, targets["bpi_interference_activity"], 3, 0.8, 0, 10)
        sleep = _noisy(rng, (targets["bpi_interference_affect"] + targets["bpi_interference_activity"]) / 2, 1,
                       1.0, 0, 10)
        out.update({"9a": act[:, 0], "9b": aff[:, 0], "9c": act[:, 1], "9d": act[:, 2], "9e": aff[:, 1],
                    "9f": sleep[:, 0], "9g": aff[:, 2]})
        return {k: out[k] for k in ("3", "4", "5", "6", "8", "9a", "9b", "9c", "9d", "9e", "9f", "9g")}
    if name == "hads":
        anx = _noisy(rng, targets["hads_anxiety"] / 7.0, 7, 0.6, 0, 3)
        dep = _noisy(rng, targets["hads_depression"] / 7.0, 7, 0.6, 0, 3)
        for j in range(7):
            out[str(2 * j + 1)] = anx[:, j]
            out[str(2 * j + 2)] = dep[:, j]
        return {str(k): out[str(k)] for k in range(1, 15)}
    if name == "sf36":
        n = next(iter(targets.values())).size
        for row, row_items in _SF36_ITEMS.items():
            frac = np.clip(targets[row] / 100.0, 0.0, 1.0)
            for item, levels, rev in row_items:
                level = _rint(frac * (levels - 1) + rng.normal(0.0, 0.45, n), 0, levels - 1)  # 0 = worst
                out[str(item)] = (levels - level) if rev else (level + 1.0)
        out["2"] = _rint(3.0 + rng.normal(0.0, 0.8, n), 1, 5)
        return {str(k): out[str(k)] for k in range(1, 37)}
    if name == "psqi":
        return _psqi(targets, rng)
    if name == "pgic":
        return {"1": _rint(targets["pgic"], 1, 7)}
    raise KeyError(name)


def _psqi(targets: Mapping[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """PSQI items whose components equal the rounded targets (0..3) by construction."""
    level = {row: _rint(v, 0, 3) for row, v in targets.items()}
    n = level["psqi_latency"].size
    out: dict[str, np.ndarray] = {"6": level["psqi_subjective_quality"], "7": level["psqi_medication"]}
    # C2 = ceil((score of item 2 + item 5a) / 2): both equal to the level gives the level.
    lat = level["psqi_latency"]
    out["2"] = np.choose(lat.astype(int), [10.0, 25.0, 45.0, 90.0])
    out["5a"] = lat.copy()
    # C3 from hours of sleep; C4 from the efficiency (sleep / time in bed).
    hours = np.choose(level["psqi_duration"].astype(int), [7.5, 6.5, 5.5, 4.5])
    eff = np.choose(level["psqi_efficiency"].astype(int), [0.92, 0.80, 0.70, 0.55])
    bed_minutes = np.ceil(hours * 60.0 / eff)
    bedtime = 22.0 + rng.integers(0, 4, n) * 0.5  # 22:00 .. 23:30
    out["1"] = psqi_minutes(bedtime)
    out["3"] = np.mod(out["1"] + bed_minutes, 1440.0)
    out["4"] = hours
    # C5 from the sum of 5b..5j (9 items 0..3): 0 -> 0, 1-9 -> 1, 10-18 -> 2, 19-27 -> 3.
    lo = np.choose(level["psqi_disturbances"].astype(int), [0, 1, 10, 19])
    hi = np.choose(level["psqi_disturbances"].astype(int), [0, 9, 18, 27])
    total = lo + np.floor(rng.random(n) * (hi - lo + 1))
    base, extra = np.divmod(total, 9)
    ranks = np.argsort(np.argsort(rng.random((n, 9)), axis=1), axis=1)
    dist = base[:, None] + (ranks < extra[:, None])
    for j, c in enumerate("bcdefghij"):
        out[f"5{c}"] = dist[:, j].astype(float)
    # C7 from item 8 + item 9: 0 -> 0, 1-2 -> 1, 3-4 -> 2, 5-6 -> 3.
    c7 = level["psqi_daytime_dysfunction"]
    s = np.where(c7 == 0, 0.0, 2.0 * c7 - (rng.random(n) < 0.5))
    first = np.minimum(3.0, np.ceil(s / 2.0))
    out["8"], out["9"] = first, s - first
    keys = ("1", "2", "3", "4", *(f"5{c}" for c in "abcdefghij"), "6", "7", "8", "9")
    return {k: out[k].astype(float) for k in keys}


def latent_targets(
    params: QuestionnaireParameters,
    name: str,
    columns: np.ndarray,
    pain_z: np.ndarray,
    patient: np.ndarray,
    n_patients: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Latent targets (row -> (n,) array) of instrument ``name`` for respondents with Table 3
    column labels ``columns``, patient indices ``patient`` (into ``pain_z``)."""
    rho = params.patient_correlation
    pl = params.pain_loading.get(name, 0.0)
    lam = params.general_loading.get(name, 0.0)
    a = pl * pain_z + np.sqrt(1.0 - pl * pl) * rng.standard_normal(n_patients)
    g = np.sqrt(rho) * a[patient] + np.sqrt(1.0 - rho) * rng.standard_normal(patient.size)
    out = {}
    targets = params.targets
    for row in TARGET_SCORES[name]:
        spec = targets[row]
        mean = np.empty(patient.size)
        sd = np.empty(patient.size)
        for col in np.unique(columns):
            m, s = spec[str(col)]
            sel = columns == col
            mean[sel], sd[sel] = m, s
        u = lam * g + np.sqrt(1.0 - lam * lam) * rng.standard_normal(patient.size)
        out[row] = mean + sd * u
    return out

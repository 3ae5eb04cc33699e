"""``calibrate``: where each published KETAPAIN figure falls among simulated trials."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from ketapain._options import Number, check_option
from ketapain._seeds import seed_sequence, spawn_generators
from ketapain.errors import ProtocolError
from ketapain.instruments import score_frame
from ketapain.protocol import Protocol, load_protocol
from ketapain.simulate._core import MAX_CALIBRATION_TRIALS, Batch, generate
from ketapain.simulate._params import Parameters, load_parameters, load_published
from ketapain.simulate._questionnaires import TABLE3_SCORES
from ketapain.stats import diary_auc, fit_random_intercept

__all__ = ["CalibrationFigure", "KNOWN_OUTSIDE", "calibrate", "published_figures"]

KNOWN_OUTSIDE: dict[str, str] = {
    "table1_baseline.height_m_mean_sd.all.sd": (
        "an SD of 0.4 m would put 5% of adults below 0.9 m or above 2.5 m; adult height SD is about "
        "0.07 m, so the simulator keeps a realistic SD (probably 0.04 or 0.1 misprinted)"),
    "table1_baseline.height_m_mean_sd.male.sd": "as for 'all': an SD of 0.4 m is impossible for adult height",
    "table1_baseline.height_m_mean_sd.female.sd": "as for 'all': an SD of 0.4 m is impossible for adult height",
    "table2_auc.average_pain.day7.K.sd": (
        "SD 25 pain-days over 7 days is 3.6 NRS points per day on a 0-10 scale: wider than a uniform "
        "spread over 0..10 (SD 2.9) and than the same patients' day-35 SD (100 / 35 = 2.9 per day); "
        "bounded daily scores with ICC 0.86 cannot reach it"),
    "table2_auc.average_pain.day7.KM.sd": "as for K: SD 25 over 7 days = 3.6 points per day on a 0-10 scale",
    "table3_questionnaires.psqi_medication.P.sd": (
        "a PSQI component is 0..3, so its SD is at most sqrt(mean (3 - mean)); a published mean of 1 "
        "(< 1.5 before rounding) allows at most 1.5, and only with every patient at 0 or 3; the "
        "simulator keeps realistic spreads (SD 2 as printed is impossible)"),
    "table3_questionnaires.psqi_medication.K.sd": "as for P: SD 2 with mean 1 on 0..3 exceeds the maximum sqrt(mean (3 - mean)) <= 1.5",
}
"""Published figures known to fall outside the simulated central 95%, with the reason.

The simulator keeps realistic generation rather than reproduce an implausible number;
``ketapain calibrate`` exits 1 only for figures outside that are not listed here."""

_ARMS = ("P", "K", "KM")
_COLUMNS = ("all", "male", "female")
_COUNT_PARTS = (".n", "_n.", "terms_pct", "improved_n_of_20", "n_consecutive", ".serious")


@dataclass(frozen=True, slots=True)
class CalibrationFigure:
    """One published figure and its simulated distribution over trials of the published size.

    Attributes
    ----------
    figure : str
        Dotted path into the reference JSON (``table2_auc.average_pain.day35.K.mean``).
    published : float
        The published value (for a published range, its midpoint).
    sim_q025, sim_median, sim_q975 : float
        2.5%, 50% and 97.5% quantiles of the figure over the simulated trials.
    inside : bool
        ``sim_q025 - h <= published <= sim_q975 + h``, where ``h`` is half a unit of the
        published rounding (0.5 for an integer mean, 0.05 for one decimal; 0 for counts and
        percentages of patients, which are exact).
    """

    figure: str
    published: float
    sim_q025: float
    sim_median: float
    sim_q975: float
    inside: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe mapping with the six fields."""
        return asdict(self)


def _half_unit(figure: str, value: float) -> float:
    if any(part in figure for part in _COUNT_PARTS):
        return 0.0
    text = repr(float(value))
    decimals = 0 if float(value).is_integer() else len(text.split(".")[1])
    return 0.5 * 10.0 ** (-decimals)


def published_figures(published: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Every calibrated figure of the reference JSON: dotted name -> published value.

    Naming rule: the JSON path, with ``[mean, sd]`` pairs split into ``.mean``/``.sd``,
    ``[n, pct]`` into ``.n``/``.pct``, ``[median, q1, q3]`` into ``.median``/``.q1``/``.q3``,
    Table 1 columns named ``all``/``male``/``female`` and Table 3 columns
    ``baseline``/``P``/``K``/``KM``. P-values, effect sizes and the design/sample-size inputs are
    analysis results or inputs, not calibrated.

    Examples
    --------
    >>> figs = published_figures()
    >>> figs["table2_auc.average_pain.day35.K.mean"], figs["table1_baseline.age_years_mean_sd.female.sd"]
    (185.0, 15.0)
    """
    pub = load_published() if published is None else published
    out: dict[str, float] = {}
    t1 = pub["table1_baseline"]
    for key, vals in t1.items():
        if key in ("columns", "n"):
            continue
        if key == "pain_type_n_pct":
            for pt, cols in vals.items():
                for col, (n, pct) in zip(_COLUMNS, cols, strict=True):
                    out[f"table1_baseline.pain_type_n_pct.{pt}.{col}.n"] = n
                    out[f"table1_baseline.pain_type_n_pct.{pt}.{col}.pct"] = pct
        elif key == "concomitant_n":
            for cls, cols in vals.items():
                for col, n in zip(_COLUMNS, cols, strict=True):
                    out[f"table1_baseline.concomitant_n.{cls}.{col}"] = n
        elif key.endswith("_median_iqr"):
            for col, (m, q1, q3) in zip(_COLUMNS, vals, strict=True):
                out.update({f"table1_baseline.{key}.{col}.median": m, f"table1_baseline.{key}.{col}.q1": q1,
                            f"table1_baseline.{key}.{col}.q3": q3})
        else:
            for col, (m, s) in zip(_COLUMNS, vals, strict=True):
                out[f"table1_baseline.{key}.{col}.mean"] = m
                out[f"table1_baseline.{key}.{col}.sd"] = s
    for arm in _ARMS:
        m, s = pub["pain_before_period_mean_sd"][arm]
        out[f"pain_before_period_mean_sd.{arm}.mean"], out[f"pain_before_period_mean_sd.{arm}.sd"] = m, s
    t2 = pub["table2_auc"]
    for day, arms in t2["average_pain"].items():
        for arm in _ARMS:
            out[f"table2_auc.average_pain.{day}.{arm}.mean"], out[f"table2_auc.average_pain.{day}.{arm}.sd"] = arms[arm]
    for key in ("maximal_pain_day35", "night_pain_day35"):
        for arm in _ARMS:
            out[f"table2_auc.{key}.{arm}.mean"], out[f"table2_auc.{key}.{arm}.sd"] = t2[key][arm]
    out["table2_auc.icc_day35"], out["table2_auc.icc_day7"] = t2["icc_day35"], t2["icc_day7"]
    cons = t2["consecutive_vs_nonconsecutive_ketamine"]
    for k in ("consecutive", "nonconsecutive"):
        out[f"table2_auc.consecutive_vs_nonconsecutive_ketamine.{k}.mean"] = cons[k][0]
        out[f"table2_auc.consecutive_vs_nonconsecutive_ketamine.{k}.sd"] = cons[k][1]
    out["table2_auc.consecutive_vs_nonconsecutive_ketamine.n_consecutive"] = cons["n_consecutive"]
    for day, d in t2["improved_n_of_20"].items():
        for k, v in d.items():
            out[f"table2_auc.improved_n_of_20.{day}.{k}"] = v
    for row, vals in pub["table3_questionnaires"].items():
        if row == "columns":
            continue
        for col, v in zip(("baseline", *_ARMS), vals[:4], strict=True):
            if v is not None:
                out[f"table3_questionnaires.{row}.{col}.mean"] = v[0]
                out[f"table3_questionnaires.{row}.{col}.sd"] = v[1]
    ae = pub["adverse_events"]
    for arm in _ARMS:
        n, pct = ae["patients_with_related_ae"][arm]
        out[f"adverse_events.patients_with_related_ae.{arm}.n"] = n
        out[f"adverse_events.patients_with_related_ae.{arm}.pct"] = pct
        for term, pct in ae["terms_pct"][arm].items():
            out[f"adverse_events.terms_pct.{arm}.{term}"] = pct
    out["adverse_events.patients_without_any_ae_whole_trial.n"] = ae["patients_without_any_ae_whole_trial"][0]
    out["adverse_events.patients_without_any_ae_whole_trial.pct"] = ae["patients_without_any_ae_whole_trial"][1]
    out["adverse_events.serious"] = ae["serious"]
    for arm, d in pub["table4_added_analgesics_n"].items():
        for cls, n in d.items():
            out[f"table4_added_analgesics_n.{arm}.{cls}"] = n
    lo, hi = pub["blinding"]["patients_unable_to_guess_order_pct"]
    out["blinding.patients_unable_to_guess_order_pct"] = (lo + hi) / 2
    return {k: float(v) for k, v in out.items()}


def _mean_sd(values: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (ddof 1) of ``values`` per group 0..n_groups-1, ignoring NaN."""
    ok = ~np.isnan(values)
    g, v = groups[ok], values[ok]
    n = np.bincount(g, minlength=n_groups).astype(float)
    s = np.bincount(g, weights=v, minlength=n_groups)
    ss = np.bincount(g, weights=v * v, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        sd = np.sqrt(np.maximum(ss - n * mean**2, 0.0) / (n - 1))
    return mean, sd


def _quantiles(values: np.ndarray, groups: np.ndarray, n_groups: int, qs: tuple[float, ...]) -> np.ndarray:
    frame = pd.DataFrame({"g": groups, "v": values})
    out = frame.groupby("g")["v"].quantile(np.asarray(qs)).unstack()
    return out.reindex(range(n_groups)).to_numpy()


def _trial_stats(protocol: Protocol, b: Batch) -> dict[str, np.ndarray]:
    """Every published figure computed in every trial of a batch: name -> (n_trials,)."""
    T, n = b.n_trials, b.n_patients
    trial = np.arange(T * n) // n
    out: dict[str, np.ndarray] = {}
    _table1(b, trial, T, out)
    _pain_before(protocol, b, trial, T, out)
    _table2(protocol, b, trial, T, n, out)
    _table3(b, trial, T, list(b.arms), out)
    _safety_and_blinding(b, trial, T, n, out)
    return out


def _table1(b: Batch, trial: np.ndarray, T: int, out: dict[str, np.ndarray]) -> None:
    """Table 1 (baseline by sex): means and SDs, pain duration quartiles, pain types, concomitants."""
    N = trial.size
    male = b.sex == "M"
    cols = {"all": np.ones(N, bool), "male": male, "female": ~male}
    bmi = b.weight / b.height**2
    baseline_bpi = b.questionnaires.get("inclusion", {}).get("bpi", {}).get("5")
    series = {"age_years_mean_sd": b.age.astype(float), "weight_kg_mean_sd": b.weight,
              "height_m_mean_sd": b.height, "bmi_mean_sd": bmi, "dn4_mean_sd": b.dn4.astype(float)}
    if baseline_bpi is not None:
        series["average_pain_mean_sd"] = baseline_bpi
    for col, sel in cols.items():
        for key, v in series.items():
            m, s = _mean_sd(np.where(sel, v, np.nan), trial, T)
            out[f"table1_baseline.{key}.{col}.mean"], out[f"table1_baseline.{key}.{col}.sd"] = m, s
        q = _quantiles(np.where(sel, b.duration, np.nan), trial, T, (0.5, 0.25, 0.75))
        for j, name in enumerate(("median", "q1", "q3")):
            out[f"table1_baseline.pain_duration_years_median_iqr.{col}.{name}"] = q[:, j]
        ncol = np.bincount(trial[sel], minlength=T).astype(float)
        for pt in ("postsurgery", "radiculopathy", "posttraumatic", "postdiabetic", "postchemotherapy"):
            k = np.bincount(trial[sel & (b.pain_type == pt)], minlength=T).astype(float)
            out[f"table1_baseline.pain_type_n_pct.{pt}.{col}.n"] = k
            out[f"table1_baseline.pain_type_n_pct.{pt}.{col}.pct"] = 100 * k / ncol
        cm = b.concomitant
        base = cm["period"] == 0
        for cls in np.unique(cm["drug_class"][base]) if base.any() else []:
            hit = np.zeros(N, bool)
            hit[cm["patient"][base & (cm["drug_class"] == cls)]] = True
            out[f"table1_baseline.concomitant_n.{cls}.{col}"] = np.bincount(trial[hit & sel], minlength=T).astype(float)


def _pain_before(protocol: Protocol, b: Batch, trial: np.ndarray, T: int, out: dict[str, np.ndarray]) -> None:
    """Pain before each period, by arm."""
    P = protocol.design.periods
    arms = list(b.arms)
    arm_of = b.treatment  # (N, P) arm index
    for a, code in enumerate(arms):
        m, s = _mean_sd(np.where(arm_of == a, b.pre_pain, np.nan).ravel(), np.repeat(trial, P), T)
        out[f"pain_before_period_mean_sd.{code}.mean"], out[f"pain_before_period_mean_sd.{code}.sd"] = m, s


def _table2(protocol: Protocol, b: Batch, trial: np.ndarray, T: int, n: int, out: dict[str, np.ndarray]) -> None:
    """Table 2: AUCs by arm, ICCs, consecutive ketamine periods, improved patients."""
    N, P = trial.size, protocol.design.periods
    arms = list(b.arms)
    arm_of = b.treatment  # (N, P) arm index
    D = protocol.diary.days_per_period
    ids = np.arange(N)
    long = pd.DataFrame({"patient_id": np.repeat(ids, P * D), "period": np.tile(np.repeat(np.arange(1, P + 1), D), N),
                         "day": np.tile(np.arange(1, D + 1), N * P)})
    anchor = pd.DataFrame({"patient_id": np.repeat(ids, P), "period": np.tile(np.arange(1, P + 1), N),
                           "pre_infusion_pain": b.pre_pain.ravel()})
    names = {"avg_pain": "average_pain", "max_pain": "maximal_pain", "night_pain": "night_pain"}
    auc: dict[tuple[str, int], np.ndarray] = {}
    for ep in protocol.endpoints:
        long[ep.value] = b.diary[ep.value].ravel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = diary_auc(long, value=ep.value, windows=(ep.window_day,), time_axis=protocol.auc.time_axis,
                            impute=ep.impute, anchor=anchor, scale=protocol.diary.scale)
        vals = res["auc"].to_numpy().reshape(N, P)
        auc[(ep.value, ep.window_day)] = vals
        for a, code in enumerate(arms):
            m, s = _mean_sd(np.where(arm_of == a, vals, np.nan).ravel(), np.repeat(trial, P), T)
            key = (f"table2_auc.average_pain.day{ep.window_day}" if ep.value == "avg_pain"
                   else f"table2_auc.{names[ep.value]}_day{ep.window_day}")
            out[f"{key}.{code}.mean"], out[f"{key}.{code}.sd"] = m, s
    for w in (35, 7):
        if ("avg_pain", w) in auc:
            out[f"table2_auc.icc_day{w}"] = _icc(auc[("avg_pain", w)], arm_of, b.sequence, T, n, len(arms))
    if {"P", "K", "KM"} <= set(arms) and ("avg_pain", 35) in auc:
        a35 = auc[("avg_pain", 35)]
        k, km = arms.index("K"), arms.index("KM")
        pk = np.argmax(arm_of == k, axis=1)
        pkm = np.argmax(arm_of == km, axis=1)
        total = a35[ids, pk] + a35[ids, pkm]
        consecutive = np.abs(pk - pkm) == 1
        key = "table2_auc.consecutive_vs_nonconsecutive_ketamine"
        for name, sel in (("consecutive", consecutive), ("nonconsecutive", ~consecutive)):
            m, s = _mean_sd(np.where(sel, total, np.nan), trial, T)
            out[f"{key}.{name}.mean"], out[f"{key}.{name}.sd"] = m, s
        out[f"{key}.n_consecutive"] = np.bincount(trial[consecutive], minlength=T).astype(float)
        for w in (7, 35):
            if ("avg_pain", w) in auc:
                better = auc[("avg_pain", w)] <= 0.7 * w * b.pre_pain  # improved: >= 30% below pre-infusion pain x W
                p_idx = arms.index("P")
                imp_p = (better & (arm_of == p_idx)).any(axis=1)
                imp_k = (better & (arm_of != p_idx)).any(axis=1)
                out[f"table2_auc.improved_n_of_20.day{w}.P"] = np.bincount(trial[imp_p], minlength=T).astype(float)
                out[f"table2_auc.improved_n_of_20.day{w}.K_or_KM"] = np.bincount(trial[imp_k], minlength=T).astype(float)


def _safety_and_blinding(b: Batch, trial: np.ndarray, T: int, n: int, out: dict[str, np.ndarray]) -> None:
    """Adverse events, Table 4 (added analgesics) and the blinding guesses."""
    N = trial.size
    arm_of = b.treatment
    ae = b.ae
    arm_like = np.asarray(b.like, dtype=object)
    ev_arm = arm_like[arm_of[ae["patient"], ae["period"] - 1]] if ae["patient"].size else np.zeros(0, object)
    any_ae = np.zeros(N, bool)
    any_ae[ae["patient"]] = True
    out["adverse_events.patients_without_any_ae_whole_trial.n"] = np.bincount(trial[~any_ae], minlength=T).astype(float)
    out["adverse_events.patients_without_any_ae_whole_trial.pct"] = 100 * out[
        "adverse_events.patients_without_any_ae_whole_trial.n"] / n
    out["adverse_events.serious"] = np.zeros(T)
    for code in set(b.like):
        sel = ae["related"] & (ev_arm == code)
        hit = np.zeros(N, bool)
        hit[ae["patient"][sel]] = True
        out[f"adverse_events.patients_with_related_ae.{code}.n"] = np.bincount(trial[hit], minlength=T).astype(float)
        out[f"adverse_events.patients_with_related_ae.{code}.pct"] = 100 * out[
            f"adverse_events.patients_with_related_ae.{code}.n"] / n
        for term in np.unique(ae["term"][ev_arm == code]):
            hit = np.zeros(N, bool)
            hit[ae["patient"][(ev_arm == code) & (ae["term"] == term)]] = True
            out[f"adverse_events.terms_pct.{code}.{term}"] = 100 * np.bincount(trial[hit], minlength=T) / n
    cm = b.concomitant
    added = cm["period"] > 0
    cm_arm = arm_like[arm_of[cm["patient"][added], cm["period"][added] - 1]]
    for code in set(b.like):
        for cls in np.unique(cm["drug_class"][added][cm_arm == code]):
            hit = np.zeros(N, bool)
            hit[cm["patient"][added][(cm_arm == code) & (cm["drug_class"][added] == cls)]] = True
            out[f"table4_added_analgesics_n.{code}.{cls}"] = np.bincount(trial[hit], minlength=T).astype(float)
    if b.blinding is not None:
        dk = np.column_stack(list(b.blinding.values())) == 0
        cannot = dk.any(axis=1)  # at least one period "don't know": cannot state the order
        out["blinding.patients_unable_to_guess_order_pct"] = 100 * np.bincount(trial[cannot], minlength=T) / n


def _icc(vals: np.ndarray, arm_of: np.ndarray, sequence: np.ndarray, T: int, n: int, n_arms: int) -> np.ndarray:
    """Between-patient share of variance of the paper's model (treatment + sequence, random patient)."""
    out = np.full(T, np.nan)
    P = vals.shape[1]
    seq_codes = pd.factorize(sequence)[0]
    for t in range(T):  # one REML fit per trial (the fast engine)
        sl = slice(t * n, (t + 1) * n)
        y = vals[sl].ravel()
        ok = ~np.isnan(y)
        tr = arm_of[sl].ravel()
        sq = np.repeat(seq_codes[sl], P)
        g = np.repeat(np.arange(n), P)
        X = np.column_stack([np.ones(y.size)] + [(tr == a).astype(float) for a in range(1, n_arms)]
                            + [(sq == s).astype(float) for s in np.unique(sq)[1:]])[ok]
        gc = pd.factorize(g[ok])[0]
        keep = np.linalg.matrix_rank(X) == X.shape[1]
        if not keep:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = fit_random_intercept(X, y[ok], gc)
            except Exception:
                continue
        out[t] = fit.sigma2_subject / (fit.sigma2_subject + fit.sigma2)
    return out


def _table3(b: Batch, trial: np.ndarray, T: int, arms: list[str], out: dict[str, np.ndarray]) -> None:
    acc: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}  # per row and column: (values, selected) per visit
    for _visit, entry in b.questionnaires.items():
        column = entry["column"]
        for inst, items in entry.items():
            if inst in ("column", "dn4"):
                continue
            wide = pd.DataFrame(items)
            scores = score_frame(inst, wide)
            for row, (i2, score) in TABLE3_SCORES.items():
                if i2 != inst:
                    continue
                v = pd.to_numeric(scores[score], errors="coerce").to_numpy(dtype=float)
                for col in np.unique(column):
                    acc.setdefault(f"{row}.{col}", []).append((v, column == col))
    # combine the end-of-period visits: each patient contributes one value per arm
    for key, parts in acc.items():
        row, col = key.split(".")
        vals = np.concatenate([np.where(sel, v, np.nan) for v, sel in parts])
        groups = np.tile(trial, len(parts))
        m, s = _mean_sd(vals, groups, T)
        out[f"table3_questionnaires.{row}.{col}.mean"], out[f"table3_questionnaires.{row}.{col}.sd"] = m, s


def calibrate(
    protocol: Protocol | str = "ketapain",
    *,
    seed: int | np.random.Generator | None,
    trials: int = 1000,
    parameters: Parameters | str | PathLike[str] | Mapping[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    chunk: int = 100,
) -> list[CalibrationFigure]:
    """Simulate ``trials`` trials of the published size and place every published figure.

    Parameters
    ----------
    protocol : Protocol or str, default "ketapain"
        The protocol simulated (its endpoints define the AUCs: windows, imputation, time axis).
    seed : int, numpy Generator or None
        Randomness; the same seed gives the same figures.
    trials : int, default 1000
        Simulated trials (each of the published 20 patients).
    parameters : Parameters, path, mapping or None
        Simulator parameters (default: the shipped file).
    on_progress : callable(done, total) or None
        Called after each chunk of trials.
    chunk : int, default 100
        Trials simulated together (memory vs speed).

    Returns
    -------
    list of CalibrationFigure
        One per figure of :func:`published_figures` that the simulation computes, in that order.

    Notes
    -----
    Statistics per trial follow the paper: mean and SD (ddof 1) over patients; AUCs by
    :func:`ketapain.stats.diary_auc` with the protocol's time axis and each endpoint's
    imputation; ICC = between-patient variance / total variance of a REML random-intercept
    model with treatment and sequence (the paper's model), fitted by
    :func:`ketapain.stats.fit_random_intercept`; a patient "improved" with an arm when the
    window's AUC is below ``W x pre-infusion pain`` (any decrease); "could not guess the
    order" = at least one period answered "don't know".

    Examples
    --------
    >>> figs = calibrate("ketapain", trials=20, seed=1)
    >>> f = next(f for f in figs if f.figure == "table2_auc.average_pain.day35.P.mean")
    >>> f.sim_q025 < f.sim_median < f.sim_q975
    True
    """
    if isinstance(protocol, str):
        protocol = load_protocol(protocol)
    check_option("trials", trials, Number(low=2, high=MAX_CALIBRATION_TRIALS, integer=True), error=ProtocolError)
    check_option("chunk", chunk, Number(low=1, high=MAX_CALIBRATION_TRIALS, integer=True), error=ProtocolError)
    params = load_parameters(parameters)
    published = load_published()
    n = int(published["design"]["n_randomized"])
    ss, _ = seed_sequence(seed, generator_bits=63, error=ProtocolError)
    sizes = [min(chunk, trials - s) for s in range(0, trials, chunk)]
    children = spawn_generators(ss, len(sizes))
    stats: dict[str, list[np.ndarray]] = {}
    done = 0
    for size, child in zip(sizes, children, strict=True):
        batch = generate(protocol, params, n_trials=size, n_patients=n, rng=child)
        for k, v in _trial_stats(protocol, batch).items():
            stats.setdefault(k, []).append(np.asarray(v, dtype=float))
        done += size
        if on_progress is not None:
            on_progress(done, trials)
    figures = []
    for name, value in published_figures(published).items():
        if name in stats:
            sim = np.concatenate(stats[name])
        elif ".terms_pct." in name or name.startswith("table4_") or ".concomitant_n." in name:
            sim = np.zeros(trials)  # never simulated: 0 in every trial
        else:
            continue
        sim = sim[~np.isnan(sim)]
        if sim.size == 0:
            continue
        q025, med, q975 = np.quantile(sim, [0.025, 0.5, 0.975])
        h = _half_unit(name, value)
        figures.append(CalibrationFigure(name, value, float(q025), float(med), float(q975),
                                         bool(q025 - h <= value <= q975 + h)))
    return figures

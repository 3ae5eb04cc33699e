"""The paper's layout: an :class:`~ketapain.analysis.AnalysisResults` laid out as a Document.

:func:`paper_document` arranges the results of the analysis plan like the published KETAPAIN
report (Pickering et al., Anesthesiology 2020): summary, methods generated from the settings,
CONSORT flow, Tables 1-4, pairwise comparisons, effect sizes, model checks, the per-patient
and daily-pain figures, responders, adverse events, blinding, missing-data sensitivity
analyses and the warnings. It only formats: every number shown is a field of
``results.to_dict()`` passed through one of the ``format_*`` functions below (a contrast shown
as "b vs a" is the negated estimate and the negated, swapped interval of the core's ``a - b``;
a ratio is inverted). The rules are in ``docs/report-layout.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from ketapain.analysis import WARNING_KINDS, AnalysisResults, AnalysisWarning

from ._document import DisplayTable, Document, FigureBlock, Paragraph, Section
from ._figures import (
    plot_consort,
    plot_daily_means,
    plot_forest,
    plot_patient_bars,
    plot_patient_lines,
    plot_tipping_point,
)
from ._format import (
    DIGITS,
    MISSING,
    _flip,
    _p_text,
    format_ci,
    format_describe,
    format_estimate_ci,
    format_n_of,
    format_n_pct,
    format_number,
    format_p,
    format_ratio,
)

__all__ = ["paper_document"]

_ITEM_LABELS = {"avg_pain": "average pain", "max_pain": "maximal pain", "night_pain": "night pain",
                "pre_infusion_pain": "pre-infusion pain"}
_IMPUTE_LABELS = {"none": "no imputation", "locf": "LOCF", "linear": "linear interpolation"}
_DF_LABELS = {"kenward-roger": "Kenward-Roger", "satterthwaite": "Satterthwaite", "residual": "residual",
              "containment": "containment", "between-within": "between-within"}
_TABLE1_LABELS = {"age_years": "Age, years", "weight_kg": "Weight, kg", "height_m": "Height, m",
                  "bmi": "BMI, kg/m²", "pain_duration_years": "Pain duration, years", "dn4_total": "DN4 score",
                  "baseline_avg_pain": "Average pain (NRS 0-10)", "pain_type": "Pain type, n (%)",
                  "concomitant_baseline": "Concomitant analgesics at baseline, n (%)"}
_INSTRUMENT_LABELS = {"qdsa": "QDSA (McGill)", "sfmpq": "SF-MPQ (McGill)", "bpi": "BPI", "npsi": "NPSI",
                      "hads": "HADS", "sf36": "SF-36", "psqi": "PSQI", "pgic": "PGIC", "dn4": "DN4", "nrs": "NRS"}
_SCORE_LABELS = {
    "total": "total", "sensory": "sensory", "affective": "affective", "global": "global",
    "worst": "worst pain", "least": "least pain", "average": "average pain", "now": "pain now",
    "severity_mean": "severity", "interference_mean": "interference", "interference_affective":
    "interference with affect", "interference_activity": "interference with activity", "relief_pct":
    "% relief with treatment", "burning_spontaneous": "burning spontaneous pain", "pressing_spontaneous":
    "pressing spontaneous pain", "paroxysmal": "paroxysmal pain", "evoked": "evoked pain",
    "paresthesia_dysesthesia": "paraesthesia/dysaesthesia", "anxiety": "anxiety", "depression": "depression",
    "PF": "physical functioning", "RP": "role physical", "BP": "bodily pain", "GH": "general health",
    "VT": "vitality", "SF": "social functioning", "RE": "role emotional", "MH": "mental health",
    "PCS": "physical component summary", "MCS": "mental component summary", "pgic": "PGIC (1-7)",
    "c1_quality": "subjective sleep quality", "c2_latency": "sleep latency", "c3_duration": "sleep duration",
    "c4_efficiency": "sleep efficiency", "c5_disturbances": "sleep disturbances", "c6_medication":
    "sleep medication", "c7_daytime": "daytime dysfunction", "ppi": "present pain intensity", "vas": "VAS",
}
_SENSITIVITY_TITLES = {
    "mar_daily_model": "Likelihood-based analysis of the daily pain (valid under missing at random)",
    "multiple_imputation": "Multiple imputation of the missing diary days (missing at random)",
    "tipping_point": "Delta-adjusted tipping-point analysis (missing not at random)",
}


# --------------------------------------------------------------------------- labels and lookups

def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records")


def _item_label(value: str) -> str:
    return _ITEM_LABELS.get(value, value.replace("_", " "))


def _endpoint_label(settings: Mapping[str, Any], endpoint: str, *, impute: bool = True) -> str:
    info = settings["imputation"].get(endpoint)
    if info is None:
        return endpoint
    text = f"AUC of {_item_label(info['value'])} at day {info['window_day']}"
    return f"{text} ({_IMPUTE_LABELS.get(info['impute'], info['impute'])})" if impute else text


def _score_label(outcome: str) -> str:
    instrument, _, score = outcome.partition(".")
    return f"{_INSTRUMENT_LABELS.get(instrument, instrument.upper())} {_SCORE_LABELS.get(score, score.replace('_', ' '))}"


def _model_name(model: str) -> str:
    return {"paper": "paper's model", "standard": "standard model"}.get(model, f"{model} model")


def _df_label(settings: Mapping[str, Any]) -> str:
    return _DF_LABELS.get(settings["df_method"], settings["df_method"])


def _arm_codes(results: AnalysisResults) -> list[str]:
    return [a["code"] for a in results.study["arms"]]


def _arm_labels(results: AnalysisResults) -> dict[str, str]:
    return {a["code"]: f"{a['code']} ({a['name']})" for a in results.study["arms"]}


def _used(models: pd.DataFrame, section: str) -> pd.DataFrame:
    """The used fit per outcome x model of ``section``, indexed by (outcome, model)."""
    m = models[(models["section"] == section) & models["used"].astype(bool)]
    return m.set_index(["outcome", "model"])


def _get(frame: pd.DataFrame, key: tuple[str, str], column: str) -> Any:
    return frame[column].get(key, None) if key in frame.index else None


def _endpoint_order(results: AnalysisResults) -> list[str]:
    """Table 2's endpoints: grouped by diary item (first appearance), by window within an item."""
    t2 = results.table2
    info = results.settings["imputation"]
    endpoints = list(pd.unique(t2["endpoint"]))
    items = list(dict.fromkeys(info[e]["value"] if e in info else e for e in endpoints))
    return sorted(endpoints, key=lambda e: (items.index(info[e]["value"] if e in info else e),
                                            info[e]["window_day"] if e in info else 0))


def _table(key: str, title: str, header: Sequence[str], rows: Sequence[Sequence[str]], data: pd.DataFrame,
           notes: Sequence[str] = (), groups: Sequence[int] = ()) -> DisplayTable:
    return DisplayTable(key=key, title=title, header=tuple(header), rows=tuple(tuple(r) for r in rows),
                        data=data.reset_index(drop=True), notes=tuple(notes), group_rows=frozenset(groups))


# --------------------------------------------------------------------------- summary and methods

def _primary_sentence(results: AnalysisResults) -> str:
    s = results.settings
    primary = s["primary_endpoint"]
    t2 = results.table2
    rows = t2[t2["endpoint"] == primary]
    arms = ", ".join(f"{r['treatment']} {format_describe(r, DIGITS['auc'])}" for r in _records(rows))
    p = _get(_used(results.models, "table2"), (primary, s["model"]), "treatment_p")
    return (f"{_endpoint_label(s, primary, impute=False)}: {arms} {s['auc_units']}; omnibus {_p_text(p)} "
            f"({_model_name(s['model'])}, {_df_label(s)} df).")


def _summary(results: AnalysisResults) -> Section:
    st, s = results.study, results.settings
    arms = ", ".join(f"{a['code']} = {a['name']}" for a in st["arms"])
    text = [f"{st['title']}. Randomised {st['periods']}-period crossover ({st['design'].replace('_', ' ')} design), "
            f"periods of {st['period_days']} days; arms {arms}; reference arm {st['reference_arm']}. "
            f"{st['n_patients']} patients were analysed.", _primary_sentence(results)]
    shown = results.contrasts[(results.contrasts["section"] == "table2") & (results.contrasts["outcome"] == s["primary_endpoint"])
                              & (results.contrasts["model"] == s["model"]) & results.contrasts["used"].astype(bool)]
    if len(shown) and bool(shown["shown"].any()):
        text.append(f"The omnibus test passed the gate (P < {s['alpha']}): pairwise comparisons are reported.")
    else:
        text.append(f"The omnibus test did not pass the gate (P < {s['alpha']}): pairwise comparisons are computed "
                    "but not interpreted.")
    if results.warnings:
        text.append(f"{len(results.warnings)} warnings or notes were raised during the analysis (see Warnings).")
    return Section("Summary", tuple(Paragraph(t) for t in text), key="summary")


def _methods(results: AnalysisResults, provenance: Mapping[str, str]) -> Section:
    st, s = results.study, results.settings
    conf = f"{100 * s['conf_level']:g}%"
    arms = "; ".join(f"{a['code']} ({a['name']}{', placebo' if a['placebo'] and 'placebo' not in a['name'].lower() else ''})"
                     for a in st["arms"])
    imput = "; ".join(f"{_endpoint_label(s, e, impute=False)} ({i['kind']}): {i['words']}"
                      for e, i in s["imputation"].items())
    multiplicity = s["multiplicity"]
    mult = ("Sidak adjustment over the m pairwise comparisons of an outcome: P_adj = 1 - (1 - P)^m, intervals at "
            "level conf_level^(1/m)" if multiplicity == "sidak" else f"multiplicity adjustment: {multiplicity}")
    effects = "; ".join(f"{k}: {v}" for k, v in s["effect_size_definitions"].items())
    responders = "; ".join(f"{k}: {v}" for k, v in s["responder_definitions"].items())
    version = provenance.get("ketapain") or _version()
    text = [
        f"Design. {st['design'].replace('_', ' ').capitalize()} crossover with {st['periods']} periods of "
        f"{st['period_days']} days; arms: {arms}. Reference arm {st['reference_arm']}; active arms: "
        f"{', '.join(st['active_arms']) or 'none'}. {st['n_patients']} patients were analysed.",
        f"Models. Treatments were compared with linear mixed models for crossover designs fitted by "
        f"{s['estimation']}. The protocol's model ({_model_name(s['model'])}): {s['models'][s['model']]}. "
        f"Also fitted, for comparison ({_model_name(s['other_model'])}): {s['models'][s['other_model']]}. "
        f"Degrees of freedom of every test and interval: {_df_label(s)} method. Carry-over: {s['carryover_words']}. "
        f"Two-sided tests at alpha {s['alpha']}; {conf} confidence intervals.",
        f"Pairwise comparisons. {s['pairwise_rule'][:1].upper()}{s['pairwise_rule'][1:]}; {mult}. Contrasts are "
        f"shown as 'x vs y' = x - y with the reference arm second.",
        f"Log rule: {s['log_rule']}.",
        "Intraclass correlation (ICC) = between-patient variance / (between-patient + residual variance) of the "
        "fitted model.",
        f"Descriptive statistics: {s['descriptives']}.",
        f"Area under the curve (AUC): {s['auc_method']}, in {s['auc_units']}. Time axis ({s['auc_time_axis']}): "
        f"{s['auc_time_axis_words']}. Primary endpoint: {_endpoint_label(s, s['primary_endpoint'])}.",
        f"Missing diary days, per endpoint: {imput}.",
        f"Effect sizes ({conf} CI; headline: {s['headline_effect_size']}): {effects}.",
        f"Responders at days {', '.join(map(str, s['responder_days']))}: {responders}. Model: {s['responder_model']}.",
        f"Consecutive versus separated active periods: {s['consecutive_test']}.",
        f"Baseline average pain: {s['baseline_avg_pain']}. Questionnaire scores (Table 3) were compared with the "
        f"{_model_name(s['table3_model'])}.",
        f"Adverse events counted as treatment-related: causality {', '.join(s['related_causalities'])}. "
        f"Blinding index: {s['blinding_index']}.",
        f"Software: ketapain {version} (Python); random seed {s['seed']}.",
    ]
    return Section("Methods", tuple(Paragraph(t) for t in text), key="methods")


def _version() -> str:
    try:
        return metadata.version("ketapain")
    except metadata.PackageNotFoundError:  # pragma: no cover - the package is installed in development
        return "unknown"


# --------------------------------------------------------------------------- participants

def _group_header(counts: pd.DataFrame, continuous: pd.DataFrame) -> tuple[list[str], dict[str, Any]]:
    groups = list(pd.unique(continuous["group"])) or list(pd.unique(counts["group"]))
    n_group: dict[str, Any] = {}
    for g in groups:
        c = counts.loc[counts["group"] == g, "n_group"]
        n_group[g] = int(c.iloc[0]) if len(c) else int(continuous.loc[continuous["group"] == g, "n"].max())
    return groups, n_group


def _table1(results: AnalysisResults) -> DisplayTable:
    cont, counts = results.table1_continuous, results.table1_counts
    groups, n_group = _group_header(counts, cont)
    header = ["Characteristic", *(f"{g.capitalize()} (n = {n_group[g]})" for g in groups)]
    rows: list[list[str]] = []
    group_rows: list[int] = []
    data: list[pd.DataFrame] = []
    count_vars = list(pd.unique(counts["variable"]))
    emitted: set[str] = set()

    def count_block(var: str) -> None:
        block = counts[counts["variable"] == var]
        group_rows.append(len(rows))
        rows.append([_TABLE1_LABELS.get(var, var.replace("_", " ")), *[""] * len(groups)])
        for level in pd.unique(block["level"]):
            lv = block[block["level"] == level].set_index("group")
            rows.append([f"  {str(level).replace('_', ' ')}",
                         *(format_n_pct(lv["n"].get(g), lv["pct"].get(g)) if g in lv.index else MISSING for g in groups)])
        data.append(block.assign(table="counts"))
        emitted.add(var)

    for var in pd.unique(cont["variable"]):
        block = cont[cont["variable"] == var].set_index("group")
        digits = 2 if var == "height_m" else 1
        rows.append([_TABLE1_LABELS.get(var, var.replace("_", " ")),
                     *(format_describe(block.loc[g], digits) if g in block.index else MISSING for g in groups)])
        data.append(cont[cont["variable"] == var].assign(table="continuous"))
        if var == "bmi" and "pain_type" in count_vars:
            count_block("pain_type")
    for var in count_vars:
        if var not in emitted:
            count_block(var)
    notes = (f"Descriptives: {results.settings['descriptives']}.",
             f"Average pain: {results.settings['baseline_avg_pain']}.")
    frame = pd.concat(data, ignore_index=True) if data else pd.DataFrame()
    return _table("table1", "Table 1. Characteristics of the patients at baseline", header, rows, frame, notes, group_rows)


def _pain_before(results: AnalysisResults) -> list[DisplayTable]:
    s, pb = results.settings, results.pain_before
    arms = _arm_codes(results)
    used = _used(results.models, "pain_before")
    by_arm = pb[pb["by"] == "treatment"].set_index("level")
    models = [s["model"], s["other_model"]]
    ps = [_get(used, ("pre_infusion_pain", m), "treatment_p") for m in models]
    header = ["", *_arm_labels(results).values(), *(f"P ({_model_name(m)})" for m in models)]
    row = ["Pre-infusion pain (NRS 0-10)",
           *(format_describe(by_arm.loc[a], DIGITS["pain"]) if a in by_arm.index else MISSING for a in arms),
           *(format_p(p) for p in ps)]
    data = pb[pb["by"] == "treatment"].assign(**{f"p_{m}": p for m, p in zip(models, ps, strict=True)})
    t1 = _table("pain_before", "Pain before each period, by arm", header, [row], data,
                (f"Omnibus treatment P of linear mixed models ({_df_label(s)} df).",))
    by_period = pb[pb["by"] == "period"]
    t2 = _table("pain_before_period", "Pain before each period, by period",
                ["", *(f"Period {lv}" for lv in by_period["level"])],
                [["Pre-infusion pain (NRS 0-10)", *(format_describe(r, DIGITS["pain"]) for r in _records(by_period))]],
                by_period)
    return [t1, t2] if len(by_period) else [t1]


# --------------------------------------------------------------------------- Table 2 and its models

def _table2(results: AnalysisResults) -> DisplayTable:
    s = results.settings
    arms = _arm_codes(results)
    t2 = results.table2
    used = _used(results.models, "table2")
    models = [s["model"], s["other_model"]]
    header = ["Endpoint", *_arm_labels(results).values(),
              f"P ({_model_name(models[0])})", f"P ({_model_name(models[1])})", f"ICC ({_model_name(models[0])})"]
    rows: list[list[str]] = []
    groups: list[int] = []
    data: list[pd.DataFrame] = []
    item = None
    logged: list[str] = []
    for endpoint in _endpoint_order(results):
        info = s["imputation"].get(endpoint, {"value": endpoint, "window_day": "", "impute": ""})
        if info["value"] != item:
            item = info["value"]
            groups.append(len(rows))
            rows.append([f"AUC of {_item_label(item)}", *[""] * (len(header) - 1)])
        block = t2[t2["endpoint"] == endpoint].set_index("treatment")
        p = [_get(used, (endpoint, m), "treatment_p") for m in models]
        icc = _get(used, (endpoint, models[0]), "icc")
        if _get(used, (endpoint, models[0]), "scale") == "log":
            logged.append(_endpoint_label(s, endpoint, impute=False))
        rows.append([f"  Day {info['window_day']} ({_IMPUTE_LABELS.get(info['impute'], info['impute'])})",
                     *(format_describe(block.loc[a], DIGITS["auc"]) if a in block.index else MISSING for a in arms),
                     *(format_p(x) for x in p), format_number(icc, DIGITS["icc"])])
        data.append(t2[t2["endpoint"] == endpoint].assign(**{f"p_{m}": x for m, x in zip(models, p, strict=True)},
                                                           **{f"icc_{models[0]}": icc}))
    notes = [f"AUC in {s['auc_units']} ({s['auc_method']}); time axis: {s['auc_time_axis_words']}.",
             "Missing diary days: " + "; ".join(f"day {i['window_day']} {_item_label(i['value'])}: {i['words']}"
                                                for i in s["imputation"].values()) + ".",
             f"{s['descriptives'][:1].upper()}{s['descriptives'][1:]}.",
             f"P: omnibus treatment test of linear mixed models, {_df_label(s)} df; {_model_name(s['model'])} = "
             f"{s['models'][s['model']]}; {_model_name(s['other_model'])} = {s['models'][s['other_model']]}; "
             f"carry-over: {s['carryover_words']}.",
             "ICC: between-patient share of the variance."]
    if logged:
        notes.append(f"Log rule applied (P and ICC of the log-scale fit): {', '.join(logged)}.")
    return _table("table2", "Table 2. Area under the curve of pain by treatment", header, rows,
                  pd.concat(data, ignore_index=True), notes, groups)


def _primary_rows(frame: pd.DataFrame, results: AnalysisResults, section: str = "table2") -> pd.DataFrame:
    s = results.settings
    return frame[(frame["section"] == section) & (frame["model"] == s["model"]) & frame["used"].astype(bool)]


def _pairwise(results: AnalysisResults) -> DisplayTable:
    s = results.settings
    arms = _arm_codes(results)
    c = _primary_rows(results.contrasts, results)
    c = _flip(c, list(zip(c["a"], c["b"], strict=True)), results.study["reference_arm"], arms,
              ratio=("ratio", "ratio_ci_low", "ratio_ci_high"))
    c = _flip_adjusted(c)
    conf = f"{100 * s['conf_level']:g}%"
    adj = {"sidak": "Sidak", "none": "unadjusted"}.get(s["multiplicity"], s["multiplicity"])
    header = ["Contrast", f"Estimate [{conf} CI]", "P", f"P ({adj})", f"{conf} CI ({adj})",
              f"Omnibus P < {s['alpha']}"]
    rows: list[list[str]] = []
    groups: list[int] = []
    order = _endpoint_order(results)
    c = c.assign(_o=c["outcome"].map({e: i for i, e in enumerate(order)})).sort_values("_o", kind="stable").drop(columns="_o")
    for endpoint, block in c.groupby("outcome", sort=False):
        groups.append(len(rows))
        rows.append([_endpoint_label(s, str(endpoint)), *[""] * (len(header) - 1)])
        for r in _records(block):
            if r["scale"] == "log":
                est = format_estimate_ci(r["shown_ratio"], r["shown_ratio_ci_low"], r["shown_ratio_ci_high"], 2) + " (ratio)"
            else:
                est = format_estimate_ci(r["shown_estimate"], r["shown_ci_low"], r["shown_ci_high"], DIGITS["estimate"])
            rows.append([f"  {r['shown_a']} vs {r['shown_b']}", est, format_p(r["p_value"]), format_p(r["p_sidak"]),
                         format_ci(r["shown_ci_sidak_low"], r["shown_ci_sidak_high"], DIGITS["estimate"]),
                         "yes" if r["shown"] else "no"])
    notes = (f"{_model_name(s['model']).capitalize()}, {_df_label(s)} df. 'x vs y' = x - y (AUC difference in "
             f"{s['auc_units']}; on the log scale the ratio of geometric means x/y).",
             f"{s['pairwise_rule'][:1].upper()}{s['pairwise_rule'][1:]}: the last column says whether the "
             "omnibus gate was passed (comparisons of rows marked 'no' are not interpreted).")
    return _table("pairwise", "Pairwise comparisons of the Table 2 endpoints", header, rows, c, notes, groups)


def _flip_adjusted(frame: pd.DataFrame) -> pd.DataFrame:
    lo, hi = (frame[k].to_numpy(dtype=float, na_value=np.nan) for k in ("ci_sidak_low", "ci_sidak_high"))
    flipped = frame["flipped"].to_numpy(dtype=bool)
    return frame.assign(shown_ci_sidak_low=np.where(flipped, -hi, lo), shown_ci_sidak_high=np.where(flipped, -lo, hi))


def _effect_sizes(results: AnalysisResults) -> tuple[DisplayTable, FigureBlock | None]:
    s = results.settings
    arms = _arm_codes(results)
    e = _primary_rows(results.effect_sizes, results)
    e = _flip(e, list(zip(e["a"], e["b"], strict=True)), results.study["reference_arm"], arms)
    headline = s["headline_effect_size"]
    kinds = [headline, *(k for k in pd.unique(e["kind"]) if k != headline)]
    conf = f"{100 * s['conf_level']:g}%"
    header = ["Contrast", *(f"{k} [{conf} CI]" + (" (headline)" if k == headline else "") for k in kinds)]
    order = _endpoint_order(results)
    rows: list[list[str]] = []
    groups: list[int] = []
    for endpoint in [o for o in order if o in set(e["outcome"])]:
        block = e[e["outcome"] == endpoint]
        groups.append(len(rows))
        rows.append([_endpoint_label(s, endpoint), *[""] * len(kinds)])
        for (xa, xb), pair in block.groupby(["shown_a", "shown_b"], sort=False):
            by_kind = pair.set_index("kind")
            rows.append([f"  {xa} vs {xb}", *(format_estimate_ci(by_kind.loc[k, "shown_estimate"], by_kind.loc[k, "shown_ci_low"],
                                                                by_kind.loc[k, "shown_ci_high"], DIGITS["effect_size"])
                                             if k in by_kind.index else MISSING for k in kinds)])
    notes = [f"{k}: {v}." for k, v in s["effect_size_definitions"].items()]
    notes.append(f"{_model_name(s['model']).capitalize()}; 'x vs y' = x - y.")
    table = _table("effect_sizes", "Effect sizes of the Table 2 endpoints", header, rows, e, notes, groups)
    prim = e[(e["outcome"] == s["primary_endpoint"]) & (e["kind"] == headline)]
    if prim.empty:
        return table, None
    frame = prim.assign(label=[f"{a} vs {b}" for a, b in zip(prim["shown_a"], prim["shown_b"], strict=True)])
    forest = frame[["label", "shown_estimate", "shown_ci_low", "shown_ci_high"]].rename(
        columns={"shown_estimate": "estimate", "shown_ci_low": "ci_low", "shown_ci_high": "ci_high"})
    ax = plot_forest(forest, xlabel=f"Effect size {headline} ({conf} CI)")
    fig = FigureBlock(key="forest_effect_sizes", title=f"Effect sizes ({headline}) at the primary endpoint",
                      caption=f"{_endpoint_label(s, s['primary_endpoint'])}; {s['effect_size_definitions'].get(headline, headline)}. "
                              "'x vs y' = x - y; the dashed line marks no difference.",
                      figure=ax.figure, data=frame.reset_index(drop=True))
    return table, fig


def _model_checks(results: AnalysisResults) -> DisplayTable:
    s = results.settings
    m = results.models[results.models["section"].isin(["pain_before", "table2"])]
    order = {e: i for i, e in enumerate(["pre_infusion_pain", *_endpoint_order(results)])}
    m = m.assign(_o=m["outcome"].map(order)).sort_values(["_o"], kind="stable").drop(columns="_o")
    header = ["Outcome", "Model", "Scale", "Used", "Treatment P", "ICC", "Residual Shapiro-Wilk P", "Log rule triggered",
              "Carry-over P", "Carry-over kept", "Sequence × treatment P"]
    yes = {True: "yes", False: "no"}
    rows = [[_endpoint_label(s, r["outcome"], impute=False) if r["outcome"] in s["imputation"] else _item_label(r["outcome"]),
             _model_name(r["model"]), r["scale"], yes[bool(r["used"])], format_p(r["treatment_p"]),
             format_number(r["icc"], DIGITS["icc"]), format_p(r["residual_shapiro_p"]), yes[bool(r["log_rule_triggered"])],
             format_p(r["carryover_p"]), yes[bool(r["carryover_kept"])], format_p(r["seq_by_treatment_p"])]
            for r in _records(m)]
    notes = (f"Fits by {s['estimation']} with {_df_label(s)} df. Carry-over: {s['carryover_words']}.",
             f"Log rule: {s['log_rule']}.", "A P of the carry-over or sequence × treatment test is '–' when the "
             "term was not estimable.")
    return _table("model_checks", "Model checks of pain before each period and the Table 2 endpoints", header, rows, m, notes)


# --------------------------------------------------------------------------- figures

def _patient_figures(results: AnalysisResults) -> list[FigureBlock]:
    s = results.settings
    arms, labels = _arm_codes(results), {a["code"]: a["code"] for a in results.study["arms"]}
    primary = s["primary_endpoint"]
    info = s["imputation"][primary]
    same = [e for e, i in s["imputation"].items() if i["value"] == info["value"] and e != primary]
    first = min(same, key=lambda e: s["imputation"][e]["window_day"]) if same else None
    auc = results.patient_auc
    out: list[FigureBlock] = []
    for number, endpoint in ((2, primary), (3, first)):
        if endpoint is None:
            continue
        rows = auc.loc[auc["endpoint"] == endpoint, ["patient_id", "treatment", "auc", "period"]]
        ylabel = f"AUC day {s['imputation'][endpoint]['window_day']} ({s['auc_units']})"
        ax = plot_patient_lines(rows, order=arms, labels=labels, ylabel=ylabel)
        out.append(FigureBlock(key=f"figure{number}_patients_{endpoint}", title=f"Figure {number}. {_endpoint_label(s, endpoint)} per patient",
                               caption="Each grey line joins one patient's values across the arms; black bars mark the "
                                       "median of each arm.", figure=ax.figure, data=rows.reset_index(drop=True)))
    rows = auc.loc[auc["endpoint"] == primary, ["patient_id", "treatment", "auc", "period"]]
    ax = plot_patient_bars(rows, order=arms, labels=labels, ylabel=f"AUC day {info['window_day']} ({s['auc_units']})")
    out.append(FigureBlock(key="figure4_patient_bars", title=f"Figure 4. {_endpoint_label(s, primary)}: bars per patient",
                           caption="One bar per patient and arm.", figure=ax.figure, data=rows.reset_index(drop=True)))
    curves = results.daily_curves
    for item in pd.unique(curves["item"]):
        rows = curves[curves["item"] == item]
        ax = plot_daily_means(rows, order=arms, labels=labels, ylabel=f"{_item_label(str(item)).capitalize()} (mean, NRS)")
        out.append(FigureBlock(key=f"daily_{item}", title=f"Daily {_item_label(str(item))} by arm",
                               caption=f"Mean and {100 * s['conf_level']:g}% CI (t-based) per day after the infusion; "
                                       "day 0 = pre-infusion pain.", figure=ax.figure, data=rows.reset_index(drop=True)))
    return out


# --------------------------------------------------------------------------- responders

def _odds_rows(frame: pd.DataFrame, lead: Sequence[str]) -> list[list[str]]:
    return [[*(str(r[k]) if k != "model" else _model_name(r[k]) for k in lead), f"{r['treatment']} vs {r['reference']}",
             f"{format_ratio(r['odds_ratio'])} [{format_ratio(r['or_ci_low'])}; {format_ratio(r['or_ci_high'])}]",
             format_p(r["p_value"]), str(r["note"]) if isinstance(r["note"], str) else ""] for r in _records(frame)]


def _responders(results: AnalysisResults) -> list[Paragraph | DisplayTable]:
    s = results.settings
    resp = results.responders
    if resp.empty:
        return [Paragraph("No responder analysis: no primary-item AUC windows were available.")]
    columns = [*_arm_codes(results), *(t for t in pd.unique(resp["treatment"]) if t not in _arm_codes(results))]
    header = ["Definition / day", *("Any active arm" if t == "any_active" else t for t in columns)]
    rows: list[list[str]] = []
    groups: list[int] = []
    for definition, block in resp.groupby("definition", sort=False):
        groups.append(len(rows))
        rows.append([f"{definition}: {s['responder_definitions'].get(definition, '')}", *[""] * len(columns)])
        for day, d in block.groupby("day", sort=False):
            by = d.set_index("treatment")
            rows.append([f"  Day {day}", *(format_n_of(by.loc[t, "n_responders"], by.loc[t, "n_evaluable"], by.loc[t, "pct"])
                                           if t in by.index else MISSING for t in columns)])
    t1 = _table("responders", "Responders per arm", header, rows, resp,
                ("n/N (%): responders / patients evaluable in that arm (AUC and pre-infusion pain known).",
                 "Any active arm: responder with at least one active arm."), groups)
    models = results.responder_models
    t2 = _table("responder_models", "Responders: logistic mixed models (odds ratio vs the reference arm)",
                ["Day", "Definition", "Model", "Comparison", f"Odds ratio [{100 * s['conf_level']:g}% CI]", "P", "Note"],
                _odds_rows(models, ("day", "definition", "model")), models, (s["responder_model"] + ".",))
    out: list[Paragraph | DisplayTable] = [t1, t2]
    summ, tests = results.consecutive_summary, results.consecutive_tests
    if summ.empty:
        out.append(Paragraph("Consecutive versus separated active periods: not analysed (it needs at least two active "
                             f"arms; this protocol has {len(results.study['active_arms'])})."))
    else:
        label = {"consecutive": "Consecutive active periods", "non_consecutive": "Active periods separated"}
        out.append(_table("consecutive_summary", "Consecutive versus separated active periods",
                          ["Group", "n", f"Sum of the active arms' {_endpoint_label(s, s['primary_endpoint'], impute=False)}"],
                          [[label.get(r["group"], r["group"]), str(r["n"]), format_describe(r, DIGITS["auc"])]
                           for r in _records(summ)], summ, (s["consecutive_test"] + ".",)))
        names = {"welch_t": "Welch t-test", "mann_whitney_u": "Mann-Whitney U test"}
        out.append(_table("consecutive_tests", "Consecutive versus separated active periods: tests",
                          ["Test", "Statistic", "df", "P"],
                          [[names.get(r["test"], r["test"]), format_number(r["statistic"], DIGITS["statistic"]),
                            format_number(r["df"], DIGITS["df"]), format_p(r["p_value"])] for r in _records(tests)], tests))
    return out


# --------------------------------------------------------------------------- Tables 3 and 4

def _table3(results: AnalysisResults) -> DisplayTable | Paragraph:
    s = results.settings
    t3 = results.table3
    if t3.empty:
        return Paragraph("No questionnaire scores were recorded (Table 3 is empty).")
    arms = _arm_codes(results)
    used = _used(results.models, "table3")
    timepoints = ["baseline", *arms]
    header = ["Score", "Baseline", *_arm_labels(results).values(), f"P ({_model_name(s['table3_model'])})"]
    rows: list[list[str]] = []
    groups: list[int] = []
    data: list[pd.DataFrame] = []
    for instrument, block in t3.groupby("instrument", sort=False):
        groups.append(len(rows))
        rows.append([_INSTRUMENT_LABELS.get(str(instrument), str(instrument).upper()), *[""] * (len(header) - 1)])
        for score, sb in block.groupby("score", sort=False):
            outcome = f"{instrument}.{score}"
            p = _get(used, (outcome, s["table3_model"]), "treatment_p")
            by = sb.set_index("timepoint")
            rows.append([f"  {_score_label(outcome)}",
                         *(format_describe(by.loc[t], DIGITS["score"]) if t in by.index else MISSING for t in timepoints),
                         format_p(p)])
            data.append(sb.assign(outcome=outcome, p_value=p))
    notes = (f"{s['descriptives'][:1].upper()}{s['descriptives'][1:]}.",
             f"P: omnibus treatment test of the {_model_name(s['table3_model'])} ({_df_label(s)} df).",
             "Baseline = last visit on or before day 0; an arm's value = the visit ending the period of that arm.")
    return _table("table3", "Table 3. Questionnaire scores at baseline and after each treatment", header, rows,
                  pd.concat(data, ignore_index=True), notes, groups)


def _pivot_rows(frame: pd.DataFrame, key: str, arms: Sequence[str], cell: Any) -> list[list[str]]:
    rows = []
    for level, block in frame.groupby(key, sort=False):
        by = block.set_index("treatment")
        rows.append([str(level).replace("_", " "), *(cell(by.loc[a]) if a in by.index else "0" for a in arms)])
    return rows


def _exposed_header(frame: pd.DataFrame, arms: Sequence[str], first: str) -> list[str]:
    n = frame.drop_duplicates("treatment").set_index("treatment")["n_exposed"]
    return [first, *(f"{a} (n = {int(n[a])})" if a in n.index else a for a in arms)]


def _table4(results: AnalysisResults) -> DisplayTable | Paragraph:
    t4 = results.added_analgesics
    if t4.empty:
        return Paragraph("No concomitant analgesic was added during the periods (Table 4 is empty).")
    arms = _arm_codes(results)
    return _table("table4", "Table 4. Analgesics added during each treatment period, patients per drug class",
                  _exposed_header(t4, arms, "Drug class"), _pivot_rows(t4, "drug_class", arms, lambda r: str(r["n_patients"])),
                  t4, ("Number of patients who added a drug of the class during the period of that arm.",))


# --------------------------------------------------------------------------- safety and blinding

def _adverse_events(results: AnalysisResults) -> list[Paragraph | DisplayTable]:
    s, arms = results.settings, _arm_codes(results)
    by_arm, terms, overall = results.ae_by_arm, results.ae_by_term, results.ae_overall
    out: list[Paragraph | DisplayTable] = []
    if not by_arm.empty:
        b = by_arm.set_index("treatment")
        rows = [[label, *(format_n_pct(b.loc[a, n], b.loc[a, pct]) if a in b.index else MISSING for a in arms)]
                for label, n, pct in (("Patients with any adverse event", "n_patients_any", "pct_any"),
                                      ("Patients with a treatment-related adverse event", "n_patients_related", "pct_related"),
                                      ("Patients with a serious adverse event", "n_patients_serious", "pct_serious"))]
        rows.append(["Adverse events (number)", *(str(b.loc[a, "n_events"]) if a in b.index else MISSING for a in arms)])
        out.append(_table("ae_by_arm", "Adverse events per arm", _exposed_header(by_arm, arms, ""), rows, by_arm,
                          (f"Treatment-related: causality {', '.join(s['related_causalities'])}.",)))
    if not terms.empty:
        out.append(_table("ae_by_term", "Adverse events per arm and term, patients n (%)",
                          _exposed_header(terms, arms, "Term"),
                          _pivot_rows(terms, "term", arms, lambda r: format_n_pct(r["n_patients"], r["pct"])), terms))
    if not results.ae_models.empty:
        out.append(_table("ae_models", "Treatment-related adverse events: logistic mixed models",
                          ["Model", "Comparison", f"Odds ratio [{100 * s['conf_level']:g}% CI]", "P", "Note"],
                          _odds_rows(results.ae_models, ("model",)), results.ae_models,
                          ("Outcome: any treatment-related adverse event in the patient x period.",)))
    if overall:
        out.append(Paragraph(f"Over the whole trial, {overall['n_patients_without_any_ae']} of {overall['n_patients']} "
                             f"patients had no adverse event; {overall['n_patients_with_related_ae']} had at least one "
                             f"treatment-related event; {overall['n_serious_events']} serious events "
                             f"({overall['n_patients_serious']} patients); {overall['n_events']} events in all, "
                             f"{overall['n_events_before_first_infusion']} before the first infusion."))
    return out or [Paragraph("No adverse events were recorded.")]


def _blinding(results: AnalysisResults) -> list[Paragraph | DisplayTable]:
    s, overall = results.settings, results.blinding_overall
    if not overall.get("recorded"):
        return [Paragraph(f"Blinding was not assessed: {overall.get('note', 'treatment guesses were not recorded')}.")]
    bl = results.blinding
    rows = [[r["treatment"], str(r["n"]), str(r["n_correct"]), str(r["n_incorrect"]), str(r["n_dont_know"]),
             format_estimate_ci(r["bi"], r["ci_low"], r["ci_high"], DIGITS["bi"])] for r in _records(bl)]
    table = _table("blinding", "Blinding: end-of-study guesses and Bang's index per arm",
                   ["Arm", "n", "Correct", "Incorrect", "Don't know", f"Bang's index [{100 * s['conf_level']:g}% CI]"],
                   rows, bl, (s["blinding_index"] + "; 0 = random guessing, 1 = complete unblinding, -1 = opposite guessing.",))
    pct = overall.get("pct_unable_to_guess")
    text = (f"{overall['n_unable_to_guess']} of {overall['n_patients']} patients "
            f"({format_number(pct, DIGITS['pct'])}%) answered 'don't know' for every period; "
            f"{overall['n_any_dont_know']} for at least one period.")
    return [table, Paragraph(text)]


# --------------------------------------------------------------------------- sensitivity and warnings

_CONTRAST = re.compile(r"^\s*(\S+)\s+-\s+(\S+)\s*$")


def _orient_contrasts(frame: pd.DataFrame, results: AnalysisResults) -> pd.DataFrame:
    """Relabel "a - b" contrasts as "x vs y" (reference second) with the numbers flipped as needed."""
    arms = _arm_codes(results)
    needed = {"contrast", "estimate", "ci_low", "ci_high"}
    parsed = [_CONTRAST.match(str(c)) for c in frame["contrast"]] if needed <= set(frame.columns) else []
    if not parsed or not all(m and m[1] in arms and m[2] in arms for m in parsed):
        return frame.assign(shown_contrast=frame["contrast"].astype(str) if "contrast" in frame.columns else "",
                            flipped=False)
    out = _flip(frame, [(m[1], m[2]) for m in parsed if m], results.study["reference_arm"], arms)
    return out.assign(shown_contrast=[f"{a} vs {b}" for a, b in zip(out["shown_a"], out["shown_b"], strict=True)])


def _sensitivity_cell(column: str, value: Any) -> str:
    if column in {"p_value", "p_sidak"} or column.startswith("p_"):
        return format_p(value)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) or value is None or value is pd.NA:
        digits = DIGITS["df"] if column == "df" else DIGITS["estimate"] if column in {"estimate", "se", "ci_low", "ci_high"} else 2
        return format_number(value, digits)
    return str(value)


def _sensitivity(results: AnalysisResults) -> list[Paragraph | DisplayTable | FigureBlock]:
    s = results.settings
    if not results.sensitivity:
        return [Paragraph("The missing-data sensitivity analyses were not run for this report.")]
    out: list[Paragraph | DisplayTable | FigureBlock] = []
    for name, frame in results.sensitivity.items():
        key = "sensitivity_" + re.sub(r"[^a-z0-9_]+", "_", name.lower())
        title = _SENSITIVITY_TITLES.get(name, f"Sensitivity analysis: {name.replace('_', ' ')}")
        oriented = _orient_contrasts(frame, results)
        flipped = bool(oriented["flipped"].any())
        shown = {"contrast": "shown_contrast", "estimate": "shown_estimate", "ci_low": "shown_ci_low",
                 "ci_high": "shown_ci_high"} if "shown_estimate" in oriented.columns else {"contrast": "shown_contrast"}
        columns = [c for c in frame.columns]
        rows = [[_sensitivity_cell(c, r[shown.get(c, c)]) for c in columns] for r in _records(oriented)]
        notes = ["Contrasts 'x vs y' = x - y (reference arm second)" + ("; estimates and intervals of the analysis' a - b "
                 "negated where the order differs." if flipped else ".")] if "contrast" in columns else []
        out.append(_table(key, title, [c.replace("_", " ") for c in columns], rows, oriented, notes))
        if name == "tipping_point" and {"delta", "p_value"} <= set(frame.columns) and "shown_estimate" in oriented.columns:
            fig_frame = oriented[["delta", "shown_contrast", "shown_estimate", "shown_ci_low", "shown_ci_high", "p_value"]].rename(
                columns={"shown_contrast": "contrast", "shown_estimate": "estimate", "shown_ci_low": "ci_low",
                         "shown_ci_high": "ci_high"})
            ax = plot_tipping_point(fig_frame, alpha=float(s["alpha"]))
            out.append(FigureBlock(key="tipping_point", title="Tipping-point analysis",
                                   caption=f"Estimate and {100 * s['conf_level']:g}% CI of each contrast as the shift "
                                           "delta added to the imputed values grows; crosses mark where P crosses alpha.",
                                   figure=ax.figure, data=fig_frame.reset_index(drop=True)))
    return out


_WARNING_SECTIONS = {"consort": "CONSORT", "pain_before": "pain before each period", "auc": "AUC",
                     "table2": "Table 2", "responders": "responders", "consecutive": "consecutive active periods",
                     "questionnaires": "questionnaires", "table3": "Table 3", "adverse_events": "adverse events"}
_WARNING_OUTCOMES = {"related_ae": "treatment-related adverse events"}


def _warning_outcome(w: AnalysisWarning, settings: Mapping[str, Any]) -> str:
    """The outcome of a warning in words (endpoint, item, score, instrument, definition)."""
    if w.section in ("table2", "consecutive") and w.outcome in settings["imputation"]:
        return _endpoint_label(settings, w.outcome, impute=False)
    if w.section in ("pain_before", "auc"):
        item = _item_label(w.outcome)
        return f"{item} ({_IMPUTE_LABELS.get(w.impute, w.impute)})" if w.impute else item
    if w.section == "table3":
        return _score_label(w.outcome)
    if w.section == "responders" and w.day is not None:
        return f"{w.outcome} day {w.day}"
    return _WARNING_OUTCOMES.get(w.outcome, w.outcome.replace("_", " "))


def _warning_places(items: Sequence[AnalysisWarning], settings: Mapping[str, Any]) -> str:
    """Where the warnings of one group arose: per section and fit, the outcomes concerned."""
    places: dict[tuple[str, str, str], list[str]] = {}
    for w in items:
        outcomes = places.setdefault((w.section, w.model, w.scale), [])
        label = _warning_outcome(w, settings)
        if label and label not in outcomes:
            outcomes.append(label)
    parts = []
    for (section, model, scale), outcomes in places.items():
        fit = ", ".join(x for x in (_model_name(model) if model else "", "log scale" if scale == "log" else "") if x)
        head = _WARNING_SECTIONS.get(section, section) + (f" ({fit})" if fit else "")
        parts.append(f"{head}: {', '.join(outcomes)}" if outcomes else head)
    return "; ".join(parts)


#: A kind with more distinct messages than this is summarised by what the kind means.
MAX_MESSAGES_SHOWN = 3


def _warnings(results: AnalysisResults) -> list[Paragraph]:
    """Warnings grouped by kind, with counts and where they arose: each message of the kind in
    full when it has at most :data:`MAX_MESSAGES_SHOWN` different ones, else what the kind means."""
    if not results.warnings:
        return [Paragraph("No warnings were raised.")]
    groups: dict[tuple[str, str], dict[str, list[AnalysisWarning]]] = {}
    for w in results.warnings:
        groups.setdefault((w.category, w.kind), {}).setdefault(w.message, []).append(w)
    out = [Paragraph(f"{len(results.warnings)} warnings and notes of {len(groups)} kinds.")]
    for (category, kind), by_message in groups.items():
        head = f"{category}: " if category else ""
        if len(by_message) > MAX_MESSAGES_SHOWN:
            items = [w for ws in by_message.values() for w in ws]
            text = f"{WARNING_KINDS[kind]} ({len(by_message)} different messages, each in results.json)"
            out.append(Paragraph(f"{len(items)} × {head}{text} [{_warning_places(items, results.settings)}]"))
            continue
        for message, items in by_message.items():
            out.append(Paragraph(f"{len(items)} × {head}{message} [{_warning_places(items, results.settings)}]"))
    return out


# --------------------------------------------------------------------------- the document

def paper_document(results: AnalysisResults, *, provenance: Mapping[str, str]) -> Document:
    """Lay out the results of the analysis plan like the published paper.

    Parameters
    ----------
    results : AnalysisResults
        From :func:`ketapain.analysis.run_analysis` (any protocol: arms, windows and models are
        read from ``results.study`` and ``results.settings``).
    provenance : Mapping[str, str]
        The provenance block (:func:`ketapain.report.provenance`); its ``ketapain`` entry, when
        present, is the version named in the methods.

    Returns
    -------
    Document
        Sections Summary, Methods, Participants (Figure 1 CONSORT when a screening log was
        analysed, Table 1, pain before each period), Pain outcomes (Table 2, pairwise
        comparisons, effect sizes with a forest plot, model checks, Figures 2-4 and daily
        curves), Responders, Questionnaires (Table 3), Concomitant analgesics (Table 4),
        Adverse events, Blinding, Missing-data sensitivity analyses and Warnings;
        ``results`` = ``results.to_dict()``. Every table's ``data`` holds the unrounded rows
        it shows (plus the oriented ``shown_*`` numbers of flipped contrasts).

    Notes
    -----
    Numbers are formatted by the ``format_*`` functions of this module (rules in
    ``docs/report-layout.md``): AUC and score means/SDs 1 decimal, P 3 decimals ("< 0.001"),
    ICC, effect sizes, odds ratios and Bang's index 2 decimals, percentages 1 decimal.
    Contrasts are shown "x vs y" = x - y with the reference arm second
    (:func:`oriented_pair`): the core's ``a - b`` is negated, its interval negated and
    swapped, when the order differs.
    """
    st = results.study
    participants: list[Any] = []
    if results.consort_flow is not None:
        ax = plot_consort(results.consort_flow)
        participants.append(FigureBlock(key="figure1_consort", title="Figure 1. CONSORT flow diagram",
                                        caption="Screening, randomisation and follow-up per period of the crossover.",
                                        figure=ax.figure, data=pd.DataFrame(results.consort.get("periods", []))))
    participants.append(_table1(results))
    participants.append(Section("Pain before each period", tuple(_pain_before(results)), key="pain-before"))
    table, forest = _effect_sizes(results)
    outcomes = (
        _table2(results),
        Section("Pairwise comparisons", (_pairwise(results),), key="pairwise"),
        Section("Effect sizes", (table, *((forest,) if forest is not None else ())), key="effect-sizes"),
        Section("Model checks", (_model_checks(results),), key="model-checks"),
        Section("Individual patients and daily pain", tuple(_patient_figures(results)), key="figures"),
    )
    sections = (
        _summary(results),
        _methods(results, provenance),
        Section("Participants", tuple(participants), key="participants"),
        Section("Pain outcomes", outcomes, key="pain-outcomes"),
        Section("Responders", tuple(_responders(results)), key="responders"),
        Section("Questionnaires", (_table3(results),), key="questionnaires"),
        Section("Concomitant analgesics", (_table4(results),), key="analgesics"),
        Section("Adverse events", tuple(_adverse_events(results)), key="adverse-events"),
        Section("Blinding", tuple(_blinding(results)), key="blinding"),
        Section("Missing-data sensitivity analyses", tuple(_sensitivity(results)), key="sensitivity"),
        Section("Warnings", tuple(_warnings(results)), key="warnings"),
    )
    registration = f" · {st['registration']}" if st.get("registration") else ""
    return Document(title=str(st["title"]), subtitle=f"Analysis report, protocol {st['protocol_id']}{registration}",
                    sections=sections, provenance=dict(provenance), results=results.to_dict())

"""The paper's Pain outcomes section: Table 2, pairwise comparisons, effect sizes (with the
forest plot), model checks, and the per-patient and daily-pain figures.

A contrast shown as "b vs a" is the negated estimate and the negated, swapped interval of the
core's ``a - b``; a ratio is inverted (:func:`~ketapain.report.oriented_pair`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ketapain.analysis import AnalysisResults, EndpointSetting

from ._document import DisplayTable, FigureBlock
from ._figures import (
    figure_of,
    plot_daily_means,
    plot_forest,
    plot_patient_bars,
    plot_patient_lines,
)
from ._format import (
    DIGITS,
    MISSING,
    _flip,
    format_ci,
    format_describe,
    format_estimate_ci,
    format_number,
    format_p,
    row_kind,
    row_of,
)
from ._paper_labels import (
    IMPUTE_LABELS,
    arm_codes,
    arm_labels,
    df_label,
    display_table,
    endpoint_label,
    endpoint_order,
    fit_value,
    item_label,
    model_name,
    primary_rows,
    records,
    scale_label,
    sentence,
    used_fits,
)
from ._paper_methods import (
    auc_method_words,
    carryover_words,
    descriptives_words,
    effect_size_words,
    imputation_words,
    log_rule_words,
    model_formula,
    pairwise_rule_words,
    seq_by_treatment_words,
    time_axis_words,
)

__all__ = ["effect_sizes", "model_checks", "oriented_contrasts", "pairwise_header", "pairwise_rows", "pairwise_table",
           "patient_figures", "table2"]


def _axis_scale(study: Mapping[str, Any]) -> str:
    """The unit of a daily-pain axis: ``NRS`` (0..10), else the scale (``0-100 scale``)."""
    label = scale_label(study)
    return "NRS" if label == "NRS 0-10" else label


def table2(results: AnalysisResults) -> DisplayTable:
    """Table 2: AUC per endpoint (grouped by diary item) and arm, both models' P, the ICC."""
    s = results.settings
    arms = arm_codes(results)
    t2 = results.table2
    used = used_fits(results.models, "table2")
    st = results.study
    models = [s.model, s.other_model]
    header = ["Endpoint", *arm_labels(results).values(),
              f"P ({model_name(models[0], st)})", f"P ({model_name(models[1], st)})", f"ICC ({model_name(models[0], st)})"]
    rows: list[list[str]] = []
    groups: list[int] = []
    data: list[pd.DataFrame] = []
    item = None
    logged: list[str] = []
    short = False
    for endpoint in endpoint_order(results):
        info = s.endpoint(endpoint) or EndpointSetting(endpoint, endpoint, 0, "", "")
        if info.value != item:
            item = info.value
            groups.append(len(rows))
            rows.append([f"AUC of {item_label(item)}", *[""] * (len(header) - 1)])
        block = t2[t2["endpoint"] == endpoint].set_index("treatment")
        p = [fit_value(used, (endpoint, m), "treatment_p") for m in models]
        icc = fit_value(used, (endpoint, models[0]), "icc")
        if fit_value(used, (endpoint, models[0]), "scale") == "log":
            logged.append(endpoint_label(s, endpoint, impute=False))
        rows.append([f"  Day {info.window_day} ({IMPUTE_LABELS.get(info.impute, info.impute)})",
                     *(_with_n(format_describe(row_of(block, a), DIGITS["auc"], kind=row_kind(block)), row_of(block, a))
                       if a in block.index else MISSING for a in arms),
                     *(format_p(x) for x in p), format_number(icc, DIGITS["icc"])])
        short = short or bool((block["n_missing"] > 0).any())
        data.append(t2[t2["endpoint"] == endpoint].assign(**{f"p_{m}": x for m, x in zip(models, p, strict=True)},
                                                           **{f"icc_{models[0]}": icc}))
    notes = [f"AUC in {s.auc_units} ({auc_method_words(s)}); time axis: {time_axis_words(s)}.",
             "Missing diary days: " + "; ".join(f"day {e.window_day} {item_label(e.value)}: {imputation_words(e.impute)}"
                                                for e in s.endpoints) + ".",
             f"{sentence(descriptives_words(s))}.",
             f"P: omnibus treatment test of linear mixed models, {df_label(s)} df; {model_name(s.model, st)} = "
             f"{model_formula(s, s.model, st)}; {model_name(s.other_model, st)} = {model_formula(s, s.other_model, st)}; "
             f"carry-over: {carryover_words(s)}.",
             "ICC: between-patient share of the variance."]
    if short:
        notes.insert(3, "(n = k): the AUC is known for only k of the patients who received the arm (without "
                        "imputation one missing diary day of the window leaves the AUC missing); other cells: all of them.")
    if logged:
        notes.append(f"Log rule applied (P and ICC of the log-scale fit): {', '.join(logged)}.")
    return display_table("table2", "Area under the curve of pain by treatment", header, rows,
                         pd.concat(data, ignore_index=True), notes, groups, numbered=True)


def _with_n(cell: str, row: pd.Series) -> str:
    """A Table 2 cell, with ``(n = k)`` when the AUC is missing for some patient of the arm."""
    missing = row.get("n_missing")
    return f"{cell} (n = {int(row['n'])})" if pd.notna(missing) and int(missing) > 0 else cell


def oriented_contrasts(results: AnalysisResults, section: str, model: str) -> pd.DataFrame:
    """The used-scale contrasts of ``section`` under ``model``, oriented 'x vs y' (reference second)."""
    arms = arm_codes(results)
    c = results.contrasts
    c = c[(c["section"] == section) & (c["model"] == model) & c["used"].astype(bool)]
    c = _flip(c, list(zip(c["a"], c["b"], strict=True)), results.study["reference_arm"], arms,
              ratio=("ratio", "ratio_ci_low", "ratio_ci_high"))
    return _flip_adjusted(c)


def pairwise_header(results: AnalysisResults) -> list[str]:
    """Columns of a pairwise table: contrast, estimate and CI, P, adjusted P and CI, the gate."""
    s = results.settings
    conf = f"{100 * s.conf_level:g}%"
    adj = {"sidak": "Sidak", "none": "unadjusted"}.get(s.multiplicity, s.multiplicity)
    return ["Contrast", f"Estimate [{conf} CI]", "P", f"P ({adj})", f"{conf} CI ({adj})", f"Omnibus P < {s.alpha}"]


def pairwise_rows(block: pd.DataFrame, digits: int) -> list[list[str]]:
    """One row per oriented contrast (:func:`oriented_contrasts`); log-scale fits as ratios."""
    rows = []
    for r in records(block):
        if r["scale"] == "log":
            est = format_estimate_ci(r["shown_ratio"], r["shown_ratio_ci_low"], r["shown_ratio_ci_high"], 2) + " (ratio)"
            adjusted = format_ci(r["shown_ratio_ci_sidak_low"], r["shown_ratio_ci_sidak_high"], 2)
        else:
            est = format_estimate_ci(r["shown_estimate"], r["shown_ci_low"], r["shown_ci_high"], digits)
            adjusted = format_ci(r["shown_ci_sidak_low"], r["shown_ci_sidak_high"], digits)
        rows.append([f"  {r['shown_a']} vs {r['shown_b']}", est, format_p(r["p_value"]), format_p(r["p_sidak"]),
                     adjusted, "yes" if r["shown"] else "no"])
    return rows


def pairwise_table(results: AnalysisResults) -> DisplayTable:
    """Pairwise contrasts of the Table 2 endpoints, oriented 'x vs y' with the reference second."""
    s = results.settings
    c = oriented_contrasts(results, "table2", s.model)
    header = pairwise_header(results)
    rows: list[list[str]] = []
    groups: list[int] = []
    order = endpoint_order(results)
    c = c.assign(_o=c["outcome"].map({e: i for i, e in enumerate(order)})).sort_values("_o", kind="stable").drop(columns="_o")
    for endpoint, block in c.groupby("outcome", sort=False):
        groups.append(len(rows))
        rows.append([endpoint_label(s, str(endpoint)), *[""] * (len(header) - 1)])
        rows.extend(pairwise_rows(block, DIGITS["estimate"]))
    notes = (f"{sentence(model_name(s.model, results.study))}, {df_label(s)} df. 'x vs y' = x - y (AUC difference in "
             f"{s.auc_units}; on the log scale the ratio of geometric means x/y).",
             f"{sentence(pairwise_rule_words(s))}: the last column says whether the "
             "omnibus gate was passed (comparisons of rows marked 'no' are not interpreted).")
    return display_table("pairwise", "Pairwise comparisons of the {table:table2} endpoints", header, rows, c, notes, groups)


def _flip_adjusted(frame: pd.DataFrame) -> pd.DataFrame:
    lo, hi = (frame[k].to_numpy(dtype=float, na_value=np.nan) for k in ("ci_sidak_low", "ci_sidak_high"))
    flipped = frame["flipped"].to_numpy(dtype=bool)
    low, high = np.where(flipped, -hi, lo), np.where(flipped, -lo, hi)
    # a log-scale fit's interval as a ratio of geometric means (exp of the oriented log interval)
    log = (frame["scale"] == "log").to_numpy(dtype=bool)
    with np.errstate(over="ignore"):
        ratio_low, ratio_high = np.where(log, np.exp(low), np.nan), np.where(log, np.exp(high), np.nan)
    return frame.assign(shown_ci_sidak_low=low, shown_ci_sidak_high=high,
                        shown_ratio_ci_sidak_low=ratio_low, shown_ratio_ci_sidak_high=ratio_high)


_EFFECT_LABELS = {"d_model": "model-based", "d_z": "within-patient differences",
                  "total_sd": "model-based, delta-method CI", "g_av": "Hedges, average SD"}
"""What a column of effect sizes is, after its kind (definitions in the table's notes)."""


def effect_sizes(results: AnalysisResults) -> tuple[DisplayTable, FigureBlock | None]:
    """Effect sizes of the Table 2 endpoints (headline first, then d_z beside it) and the primary
    endpoint's forest plot."""
    s = results.settings
    arms = arm_codes(results)
    e = primary_rows(results.effect_sizes, results)
    e = _flip(e, list(zip(e["a"], e["b"], strict=True)), results.study["reference_arm"], arms)
    headline = s.headline_effect_size
    present = list(pd.unique(e["kind"]))
    kinds = [headline, *(k for k in ("d_z", *present) if k != headline and k in present)]
    kinds = list(dict.fromkeys(kinds))
    conf = f"{100 * s.conf_level:g}%"
    label = {k: f"{k} ({_EFFECT_LABELS[k]})" if k in _EFFECT_LABELS else k for k in kinds}
    header = ["Contrast", *(f"{label[k]} [{conf} CI]" + (" (headline)" if k == headline else "") for k in kinds)]
    order = endpoint_order(results)
    rows: list[list[str]] = []
    groups: list[int] = []
    for endpoint in [o for o in order if o in set(e["outcome"])]:
        block = e[e["outcome"] == endpoint]
        groups.append(len(rows))
        rows.append([endpoint_label(s, endpoint), *[""] * len(kinds)])
        for (xa, xb), pair in block.groupby(["shown_a", "shown_b"], sort=False):
            by_kind = pair.set_index("kind")
            rows.append([f"  {xa} vs {xb}", *(format_estimate_ci(by_kind.loc[k, "shown_estimate"], by_kind.loc[k, "shown_ci_low"],
                                                                by_kind.loc[k, "shown_ci_high"], DIGITS["effect_size"])
                                             if k in by_kind.index else MISSING for k in kinds)])
    notes = [f"{k}: {effect_size_words(k)}." for k in dict.fromkeys([*kinds, *s.effect_sizes])]
    notes.append(f"{sentence(model_name(s.model, results.study))}; 'x vs y' = x - y.")
    table = display_table("effect_sizes", "Effect sizes of the {table:table2} endpoints", header, rows, e, notes, groups)
    prim = e[(e["outcome"] == s.primary_endpoint) & (e["kind"] == headline)]
    if prim.empty:
        return table, None
    frame = prim.assign(label=[f"{a} vs {b}" for a, b in zip(prim["shown_a"], prim["shown_b"], strict=True)])
    forest = frame[["label", "shown_estimate", "shown_ci_low", "shown_ci_high"]].rename(
        columns={"shown_estimate": "estimate", "shown_ci_low": "ci_low", "shown_ci_high": "ci_high"})
    ax = plot_forest(forest, xlabel=f"Effect size {headline} ({conf} CI)")
    fig = FigureBlock(key="forest_effect_sizes", title=f"Effect sizes ({headline}) at the primary endpoint",
                      caption=f"{endpoint_label(s, s.primary_endpoint)}; {effect_size_words(headline)}. "
                              "'x vs y' = x - y; the dashed line marks no difference.",
                      figure=figure_of(ax), data=frame.reset_index(drop=True))
    return table, fig


def model_checks(results: AnalysisResults) -> DisplayTable:
    """Every fit of pain before each period and Table 2: scale, tests, ICC, residual checks."""
    s = results.settings
    m = results.models[results.models["section"].isin(["pain_before", "table2"])]
    order = {e: i for i, e in enumerate(["pre_infusion_pain", *endpoint_order(results)])}
    m = m.assign(_o=m["outcome"].map(order)).sort_values(["_o"], kind="stable").drop(columns="_o")
    header = ["Outcome", "Model", "Scale", "Used", "Treatment P", "ICC", "Shapiro-Wilk P", "Log rule",
              "Carry-over P", "Carry-over kept", "Seq. × treatment P"]
    yes = {True: "yes", False: "no"}
    rows = [[endpoint_label(s, r["outcome"], impute=False) if s.endpoint(r["outcome"]) else item_label(r["outcome"]),
             model_name(r["model"], results.study), r["scale"], yes[bool(r["used"])], format_p(r["treatment_p"]),
             format_number(r["icc"], DIGITS["icc"]), format_p(r["residual_shapiro_p"]), yes[bool(r["log_rule_triggered"])],
             format_p(r["carryover_p"]), yes[bool(r["carryover_kept"])], format_p(r["seq_by_treatment_p"])]
            for r in records(m)]
    notes = (f"Fits by {s.estimation} with {df_label(s)} df. Carry-over: {carryover_words(s)}.",
             f"Shapiro-Wilk P: normality of the conditional residuals. Log rule (triggered or not): {log_rule_words(s)}.",
             f"Seq. × treatment P: {seq_by_treatment_words(s, results.study)}.",
             "A P of the carry-over or sequence × treatment test is '–' when the term was not estimable.")
    return display_table("model_checks", "Model checks of pain before each period and the {table:table2} endpoints", header, rows,
                         m, notes)


def _one_value_per_arm(rows: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """``rows`` (patient_id, treatment, auc, period) with one value per patient and arm, and a
    caption sentence. In a replicate design (ABAB/BABA) a patient has an arm in several
    periods: the figures show the mean of that patient's observed values of the arm (NaN when
    none was observed) and say so; the models use every period."""
    if not rows.duplicated(["patient_id", "treatment"]).any():
        return rows, ""
    mean = rows.groupby(["patient_id", "treatment"], sort=False)["auc"].mean().reset_index()
    return mean, " A patient who had an arm in several periods is shown at the mean of those periods."


def patient_figures(results: AnalysisResults) -> list[FigureBlock]:
    """The per-patient AUC of the primary endpoint and of the first window of its diary item
    (lines), the primary's bars per patient, and the daily curves; the first three numbered."""
    s = results.settings
    arms, labels = arm_codes(results), {a["code"]: a["code"] for a in results.study["arms"]}
    info = s.primary
    primary = info.name
    same = [e for e in s.endpoints if e.value == info.value and e.name != primary]
    first = min(same, key=lambda e: e.window_day) if same else None
    auc = results.patient_auc
    out: list[FigureBlock] = []
    for shown in (info, first):
        if shown is None:
            continue
        endpoint = shown.name
        rows, averaged = _one_value_per_arm(auc.loc[auc["endpoint"] == endpoint, ["patient_id", "treatment", "auc", "period"]])
        ylabel = f"AUC day {shown.window_day} ({s.auc_units})"
        ax = plot_patient_lines(rows, order=arms, labels=labels, ylabel=ylabel)
        out.append(
            FigureBlock(
                key=f"patients_{endpoint}",
                title=f"{endpoint_label(s, endpoint)} per patient",
                caption="Each grey line joins one patient's values across the arms; black bars mark the median of each arm."
                + averaged,
                figure=figure_of(ax),
                data=rows.reset_index(drop=True),
                numbered=True,
            )
        )
    rows, averaged = _one_value_per_arm(auc.loc[auc["endpoint"] == primary, ["patient_id", "treatment", "auc", "period"]])
    ax = plot_patient_bars(rows, order=arms, labels=labels, ylabel=f"AUC day {info.window_day} ({s.auc_units})")
    out.append(
        FigureBlock(
            key="patient_bars",
            title=f"{endpoint_label(s, primary)}: bars per patient",
            caption="One bar per patient and arm." + averaged,
            figure=figure_of(ax),
            data=rows.reset_index(drop=True),
            numbered=True,
        )
    )
    curves = results.daily_curves
    for item in pd.unique(curves["item"]):
        rows = curves[curves["item"] == item]
        ylabel = f"{item_label(str(item)).capitalize()} (mean, {_axis_scale(results.study)})"
        ax = plot_daily_means(rows, order=arms, labels=labels, ylabel=ylabel, conf_level=float(s.conf_level))
        out.append(
            FigureBlock(
                key=f"daily_{item}",
                title=f"Daily {item_label(str(item))} by arm",
                caption=f"Mean and {100 * s.conf_level:g}% CI (t-based) per day after the infusion; day 0 = pre-infusion pain.",
                figure=figure_of(ax),
                data=rows.reset_index(drop=True),
            )
        )
    return out

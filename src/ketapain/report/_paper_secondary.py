"""The paper's secondary sections: responders (and consecutive versus separated active
periods), Table 3 (questionnaires), Table 4 (added analgesics), adverse events, blinding."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ketapain.analysis import AnalysisResults

from ._document import DisplayTable, Paragraph
from ._format import (
    DIGITS,
    MISSING,
    format_count,
    format_describe,
    format_estimate_ci,
    format_n_of,
    format_n_pct,
    format_number,
    format_p,
    format_ratio,
    row_kind,
    row_of,
)
from ._paper_checks import CHECKS_KEY, model_checks_frame, short_note
from ._paper_labels import (
    arm_codes,
    arm_labels,
    df_label,
    display_table,
    endpoint_label,
    fit_value,
    instrument_label,
    model_name,
    records,
    score_label,
    sentence,
    used_fits,
)
from ._paper_methods import (
    blinding_index_words,
    consecutive_test_words,
    descriptives_words,
    glmm_rows_left_out,
    pairwise_rule_words,
    responder_definition_words,
    responder_model_words,
)
from ._paper_outcomes import oriented_contrasts, pairwise_header, pairwise_rows

__all__ = ["adverse_event_blocks", "blinding_blocks", "responder_blocks", "table3", "table3_pairwise", "table4"]


def _odds_rows(frame: pd.DataFrame, lead: Sequence[str], study: Mapping[str, Any], checks: bool) -> list[list[str]]:
    """One row per comparison; a fit that is not estimable (NaN log odds ratio) says so, with
    the first reason of its note (``checks``: the full text is in the Model checks table)."""
    rows = []
    for r in records(frame):
        note = short_note(r["note"]) if isinstance(r["note"], str) else ""
        if isinstance(r["log_odds_ratio"], float) and math.isnan(r["log_odds_ratio"]):
            ratio, p = "not estimable", MISSING
            if checks:
                note += f" (full reason: {{table:{CHECKS_KEY}}})"
        else:
            ratio = f"{format_ratio(r['odds_ratio'])} [{format_ratio(r['or_ci_low'])}; {format_ratio(r['or_ci_high'])}]"
            p = format_p(r["p_value"])
        rows.append([*(str(r[k]) if k != "model" else model_name(r[k], study) for k in lead),
                     f"{r['treatment']} vs {r['reference']}", ratio, p, note])
    return rows


def _checked(results: AnalysisResults) -> bool:
    """Whether the document has the Model checks table (it does when any fit was checked)."""
    return not model_checks_frame(results).empty


def responder_blocks(results: AnalysisResults) -> list[Paragraph | DisplayTable]:
    """Responders per arm and their logistic models, then consecutive versus separated periods."""
    s = results.settings
    resp = results.responders
    if resp.empty:
        return [Paragraph("No responder analysis: no primary-item AUC windows were available.")]
    columns = [*arm_codes(results), *(t for t in pd.unique(resp["treatment"]) if t not in arm_codes(results))]
    header = ["Definition / day", *("Any active arm" if t == "any_active" else t for t in columns)]
    rows: list[list[str]] = []
    groups: list[int] = []
    definitions = {d.name: responder_definition_words(d) for d in s.responder_definitions}
    for definition, block in resp.groupby("definition", sort=False):
        groups.append(len(rows))
        rows.append([f"{definition}: {definitions.get(str(definition), '')}", *[""] * len(columns)])
        for day, d in block.groupby("day", sort=False):
            by = d.set_index("treatment")
            rows.append([f"  Day {day}", *(format_n_of(by.loc[t, "n_responders"], by.loc[t, "n_evaluable"], by.loc[t, "pct"])
                                           if t in by.index else MISSING for t in columns)])
    t1 = display_table("responders", "Responders per arm", header, rows, resp,
                ("n/N (%): responders / patients evaluable in that arm (AUC and pre-infusion pain known).",
                 "Any active arm: responder with at least one active arm."), groups)
    models = results.responder_models
    t2 = display_table("responder_models", "Responders: logistic mixed models (odds ratio vs the reference arm)",
                ["Day", "Definition", "Model", "Comparison", f"Odds ratio [{100 * s.conf_level:g}% CI]", "P", "Note"],
                _odds_rows(models, ("day", "definition", "model"), results.study, _checked(results)), models,
                (responder_model_words(s, left_out=glmm_rows_left_out(models)) + ".",))
    return [t1, t2, *_consecutive(results)]


def _consecutive(results: AnalysisResults) -> list[Paragraph | DisplayTable]:
    s = results.settings
    out: list[Paragraph | DisplayTable] = []
    summ, tests = results.consecutive_summary, results.consecutive_tests
    if summ.empty:
        out.append(Paragraph("Consecutive versus separated active periods: not analysed (it needs at least two active "
                             f"arms; this protocol has {len(results.study['active_arms'])})."))
    else:
        label = {"consecutive": "Consecutive active periods", "non_consecutive": "Active periods separated"}
        out.append(display_table("consecutive_summary", "Consecutive versus separated active periods",
                          ["Group", "n", f"Sum of the active arms' {endpoint_label(s, s.primary_endpoint, impute=False)}"],
                          [[label.get(r["group"], r["group"]), str(r["n"]), format_describe(r, DIGITS["auc"], kind=row_kind(summ))]
                           for r in records(summ)], summ, (consecutive_test_words(s) + ".",)))
        names = {"welch_t": "Welch t-test", "mann_whitney_u": "Mann-Whitney U test"}
        out.append(display_table("consecutive_tests", "Consecutive versus separated active periods: tests",
                          ["Test", "Statistic", "df", "P"],
                          [[names.get(r["test"], r["test"]), format_number(r["statistic"], DIGITS["statistic"]),
                            format_number(r["df"], DIGITS["df"]), format_p(r["p_value"])] for r in records(tests)], tests))
    return out


def table3(results: AnalysisResults) -> DisplayTable | Paragraph:
    """Table 3: every questionnaire score at baseline and per arm, with the omnibus P; instruments
    and scores named by the instruments' own labels."""
    s = results.settings
    t3 = results.table3
    if t3.empty:
        return Paragraph("No questionnaire scores were recorded.")
    arms = arm_codes(results)
    used = used_fits(results.models, "table3")
    timepoints = ["baseline", *arms]
    header = ["Score", "Baseline", *arm_labels(results).values(), f"P ({model_name(s.table3_model, results.study)})"]
    identity = results.models[(results.models["section"] == "table3") & (results.models["scale"] == "identity")]
    identity = identity.set_index(["outcome", "model"])
    rows: list[list[str]] = []
    groups: list[int] = []
    data: list[pd.DataFrame] = []
    logged: list[str] = []
    for instrument, block in t3.groupby("instrument", sort=False):
        groups.append(len(rows))
        rows.append([instrument_label(str(instrument)), *[""] * (len(header) - 1)])
        for score, sb in block.groupby("score", sort=False):
            outcome = f"{instrument}.{score}"
            p = fit_value(used, (outcome, s.table3_model), "treatment_p")
            scale = fit_value(used, (outcome, s.table3_model), "scale")
            p_identity = fit_value(identity, (outcome, s.table3_model), "treatment_p")
            by = sb.set_index("timepoint")
            rows.append([f"  {score_label(outcome)}",
                         *(format_describe(row_of(by, t), DIGITS["score"], kind=row_kind(by)) if t in by.index else MISSING
                           for t in timepoints),
                         format_p(p) + (" (log)" if scale == "log" else "")])
            if scale == "log":
                logged.append(f"{score_label(outcome)} {format_p(p_identity)}")
            data.append(sb.assign(outcome=outcome, p_value=p, scale=scale,
                                  p_value_identity=p_identity if scale == "log" else None))
    notes = [f"{sentence(descriptives_words(s))}.",
             f"P: omnibus treatment test of the {model_name(s.table3_model, results.study)} ({df_label(s)} df)."]
    if logged:
        notes.append("(log): P of the refit on log(score), made because Shapiro-Wilk rejected normal residuals "
                     f"(log rule); P of the untransformed score: {'; '.join(logged)}.")
    notes.append("Baseline = last visit on or before day 0; an arm's value = the visit ending the period of that arm.")
    return display_table("table3", "Questionnaire scores at baseline and after each treatment", header, rows,
                         pd.concat(data, ignore_index=True), notes, groups, numbered=True)


def table3_pairwise(results: AnalysisResults) -> DisplayTable | None:
    """Pairwise contrasts of the Table 3 scores whose omnibus P passed the gate (None if none did):
    the plan shows pairwise comparisons when the omnibus P < alpha, for every outcome."""
    s = results.settings
    c = oriented_contrasts(results, "table3", s.table3_model)
    c = c[c["shown"].astype(bool)]
    if c.empty or results.table3.empty:   # no Table 3 to refer to
        return None
    header = pairwise_header(results)
    rows: list[list[str]] = []
    groups: list[int] = []
    for outcome, block in c.groupby("outcome", sort=False):
        groups.append(len(rows))
        rows.append([score_label(str(outcome)), *[""] * (len(header) - 1)])
        rows.extend(pairwise_rows(block, DIGITS["score"]))
    notes = (f"{sentence(model_name(s.table3_model, results.study))}, {df_label(s)} df. 'x vs y' = x - y (difference "
             "in score points; on the log scale the ratio of geometric means x/y).",
             f"{sentence(pairwise_rule_words(s))}: only the scores of {{table:table3}} whose omnibus P passed the gate "
             "are listed; the contrasts of the others are in results.json (contrasts, section table3).")
    return display_table("pairwise_table3", "Pairwise comparisons of the {table:table3} scores with omnibus "
                         f"P < {s.alpha}", header, rows, c, notes, groups)


def _pivot_rows(frame: pd.DataFrame, key: str, arms: Sequence[str], cell: Any) -> list[list[str]]:
    rows = []
    for level, block in frame.groupby(key, sort=False):
        by = block.set_index("treatment")
        rows.append([str(level).replace("_", " "), *(cell(by.loc[a]) if a in by.index else "0" for a in arms)])
    return rows


def _exposed_header(frame: pd.DataFrame, arms: Sequence[str], first: str) -> list[str]:
    n = frame.drop_duplicates("treatment").set_index("treatment")["n_exposed"]
    return [first, *(f"{a} (n = {int(n[a])})" if a in n.index else a for a in arms)]


def table4(results: AnalysisResults) -> DisplayTable | Paragraph:
    """Table 4: patients who added an analgesic class during each arm's period."""
    t4 = results.added_analgesics
    if t4.empty:
        return Paragraph("No concomitant analgesic was added during the periods.")
    arms = arm_codes(results)
    return display_table("table4", "Analgesics added during each treatment period, patients per drug class",
                         _exposed_header(t4, arms, "Drug class"), _pivot_rows(t4, "drug_class", arms, lambda r: str(r["n_patients"])),
                         t4, ("Number of patients who added a drug of the class during the period of that arm.",), numbered=True)


def adverse_event_blocks(results: AnalysisResults) -> list[Paragraph | DisplayTable]:
    """Adverse events per arm, per arm and term, the logistic models and the whole-trial counts."""
    s, arms = results.settings, arm_codes(results)
    by_arm, terms, overall = results.ae_by_arm, results.ae_by_term, results.ae_overall
    out: list[Paragraph | DisplayTable] = []
    if not by_arm.empty:
        b = by_arm.set_index("treatment")
        rows = [[label, *(format_n_pct(b.loc[a, n], b.loc[a, pct]) if a in b.index else MISSING for a in arms)]
                for label, n, pct in (("Patients with any adverse event", "n_patients_any", "pct_any"),
                                      ("Patients with a treatment-related adverse event", "n_patients_related", "pct_related"),
                                      ("Patients with a serious adverse event", "n_patients_serious", "pct_serious"))]
        rows.append(["Adverse events (number)", *(str(b.loc[a, "n_events"]) if a in b.index else MISSING for a in arms)])
        out.append(display_table("ae_by_arm", "Adverse events per arm", _exposed_header(by_arm, arms, ""), rows, by_arm,
                          (f"Treatment-related: causality {', '.join(s.related_causalities)}.",)))
    if not terms.empty:
        out.append(display_table("ae_by_term", "Adverse events per arm and term, patients n (%)",
                          _exposed_header(terms, arms, "Term"),
                          _pivot_rows(terms, "term", arms, lambda r: format_n_pct(r["n_patients"], r["pct"])), terms))
    ae = results.ae_models
    if not ae.empty:
        words = responder_model_words(s, "any treatment-related adverse event", left_out=glmm_rows_left_out(ae))
        out.append(display_table("ae_models", "Treatment-related adverse events: logistic mixed models",
                          ["Model", "Comparison", f"Odds ratio [{100 * s.conf_level:g}% CI]", "P", "Note"],
                          _odds_rows(ae, ("model",), results.study, _checked(results)), ae,
                          ("Outcome: any treatment-related adverse event in the patient x period.", f"{sentence(words)}.")))
    if overall:
        out.append(Paragraph(f"Over the whole trial, {overall['n_patients_without_any_ae']} of "
                             f"{format_count(overall['n_patients'], 'patient')} had no adverse event; "
                             f"{overall['n_patients_with_related_ae']} had at least one treatment-related event; "
                             f"{format_count(overall['n_serious_events'], 'serious event')} "
                             f"({format_count(overall['n_patients_serious'], 'patient')}); "
                             f"{format_count(overall['n_events'], 'event')} in all, "
                             f"{overall['n_events_before_first_infusion']} before the first infusion."))
    return out or [Paragraph("No adverse events were recorded.")]


def blinding_blocks(results: AnalysisResults) -> list[Paragraph | DisplayTable]:
    """Bang's index per arm and how many patients could not guess (or: not assessed)."""
    s, overall = results.settings, results.blinding_overall
    if not overall.get("recorded"):
        return [Paragraph(f"Blinding was not assessed: {overall.get('note', 'treatment guesses were not recorded')}.")]
    bl = results.blinding
    rows = [[r["treatment"], str(r["n"]), str(r["n_correct"]), str(r["n_incorrect"]), str(r["n_dont_know"]),
             format_estimate_ci(r["bi"], r["ci_low"], r["ci_high"], DIGITS["bi"])] for r in records(bl)]
    table = display_table("blinding", "Blinding: end-of-study guesses and Bang's index per arm",
                   ["Arm", "n", "Correct", "Incorrect", "Don't know", f"Bang's index [{100 * s.conf_level:g}% CI]"],
                   rows, bl, (blinding_index_words(s) + "; 0 = random guessing, 1 = complete unblinding, -1 = opposite guessing.",))
    pct = overall.get("pct_unable_to_guess")
    text = (f"{overall['n_unable_to_guess']} of {format_count(overall['n_patients'], 'patient')} "
            f"({format_number(pct, DIGITS['pct'])}%) answered 'don't know' for every period; "
            f"{overall['n_any_dont_know']} for at least one period.")
    return [table, Paragraph(text)]

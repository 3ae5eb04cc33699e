"""The paper's layout (``ketapain.report._paper``): structure, formatting and orientation.

The results come from the real pipeline: ``simulate_trial`` (fixed seed) -> ``run_analysis``;
expected cells are recomputed here from the results' frames with the documented formatting
rules, so a wrong lookup, a wrong column or a wrong sign fails.
"""

from __future__ import annotations

import dataclasses
import json
import math
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketapain.analysis import WARNING_KINDS, AnalysisResults, run_analysis
from ketapain.instruments import get_instrument
from ketapain.protocol import load_protocol
from ketapain.report import (
    MISSING,
    DisplayTable,
    Document,
    FigureBlock,
    Paragraph,
    Section,
    format_ci,
    format_describe,
    format_estimate_ci,
    format_mean_sd,
    format_median_iqr,
    format_n_of,
    format_n_pct,
    format_number,
    format_p,
    format_ratio,
    number_document,
    oriented_pair,
    paper_document,
    validate_document,
)
from ketapain.report._paper_warnings import KIND_LABELS
from ketapain.simulate import simulate_trial

PROV = {"ketapain": "0.1.0", "date": "2024-01-01T00:00:00Z"}


def _results(name: str, seed: int) -> AnalysisResults:
    protocol = load_protocol(name)
    return run_analysis(simulate_trial(protocol, n_patients=20, seed=seed), protocol, sensitivity=False)


@pytest.fixture(scope="module")
def ket() -> AnalysisResults:
    return _results("ketapain", 11)


@pytest.fixture(scope="module")
def ket_doc(ket: AnalysisResults) -> Document:
    return paper_document(ket, provenance=PROV)


@pytest.fixture(scope="module")
def abba() -> AnalysisResults:
    return _results("ab_ba_example", 5)


def _blocks(doc: Document) -> list[object]:
    """Every block of ``doc`` as it is shown (numbered, cross-references resolved)."""
    out: list[object] = []

    def rec(blocks: tuple[object, ...]) -> None:
        for b in blocks:
            out.append(b)
            if isinstance(b, Section):
                rec(b.blocks)

    rec(number_document(doc).sections)
    return out


def _tables(doc: Document) -> dict[str, DisplayTable]:
    return {b.key: b for b in _blocks(doc) if isinstance(b, DisplayTable)}


def _figures(doc: Document) -> dict[str, FigureBlock]:
    return {b.key: b for b in _blocks(doc) if isinstance(b, FigureBlock)}


def _section(doc: Document, key: str) -> Section:
    return next(b for b in _blocks(doc) if isinstance(b, Section) and b.key == key)


def _text(section: Section) -> str:
    return "\n".join(b.text for b in section.blocks if isinstance(b, Paragraph))


def _used_p(results: AnalysisResults, section: str, outcome: str, model: str) -> float:
    m = results.models
    row = m[(m["section"] == section) & (m["outcome"] == outcome) & (m["model"] == model) & m["used"]]
    assert len(row) == 1
    return float(row["treatment_p"].iloc[0])


# --------------------------------------------------------------------------- formatting rules

def test_formatting_rules_by_hand() -> None:
    assert format_number(187.449, 1) == "187.4"
    assert format_number(-0.04, 1) == "0.0"          # no negative zero
    assert format_number(float("nan")) == MISSING and format_number(None) == MISSING
    assert format_mean_sd(187.04, 90.26) == "187.0 ± 90.3"
    assert format_mean_sd(float("nan"), 3.0) == MISSING
    assert format_median_iqr(5, 3, 12) == "5.0 [3.0; 12.0]"
    assert format_p(0.2961) == "0.296" and format_p(0.001) == "0.001" and format_p(0.00099) == "< 0.001"
    assert format_p(pd.NA) == MISSING
    assert format_ci(-0.614, 0.27, 2) == "[-0.61; 0.27]"
    assert format_estimate_ci(-11.14, -33.6, 11.3) == "-11.1 [-33.6; 11.3]"
    assert format_ratio(4.6643) == "4.66" and format_ratio(2.0357e35) == "2.04e+35" and format_ratio(0.004) == "4.00e-03"
    assert format_n_pct(9, 45.0) == "9 (45.0%)" and format_n_pct(3, None) == "3"
    assert format_n_of(10, 20, 50.0) == "10/20 (50.0%)"
    row = {"mean": 6.0, "sd": 2.0, "median": 6.5, "q1": 5.0, "q3": 8.0}
    assert format_describe({**row, "kind": "mean_sd"}) == "6.0 ± 2.0"
    assert format_describe({**row, "kind": "median_iqr"}) == "6.5 [5.0; 8.0]"


@given(arms=st.lists(st.sampled_from(["P", "K", "KM", "L", "X"]), min_size=2, max_size=5, unique=True), data=st.data())
def test_oriented_pair_puts_the_reference_second(arms: list[str], data: st.DataObject) -> None:
    a, b = data.draw(st.permutations(arms))[:2]
    reference = data.draw(st.sampled_from(arms))
    x, y, flipped = oriented_pair(a, b, reference=reference, arms=arms)
    assert {x, y} == {a, b}
    assert flipped == (x == b)
    assert x != reference
    if reference not in (a, b):
        assert arms.index(x) < arms.index(y)
    assert oriented_pair(b, a, reference=reference, arms=arms)[:2] == (x, y)


# --------------------------------------------------------------------------- the document

def test_document_is_valid_and_carries_the_results(ket: AnalysisResults, ket_doc: Document) -> None:
    validate_document(ket_doc)
    assert json.dumps(ket_doc.results, sort_keys=True) == json.dumps(ket.to_dict(), sort_keys=True)
    # issue 19: Model checks became a section of its own (every fit's status, then the linear
    # models' checks that were in Pain outcomes), after the sensitivity analyses it also checks
    assert [s.key for s in ket_doc.sections] == [
        "summary", "methods", "participants", "pain-outcomes", "responders", "questionnaires", "analgesics",
        "adverse-events", "blinding", "sensitivity", "model-checks", "warnings"]
    tables = _tables(ket_doc)
    for key in ("table1", "table2", "table3", "table4", "pairwise", "effect_sizes", "model_checks", "fit_status",
                "pain_before",
                "responders", "responder_models", "consecutive_summary", "consecutive_tests", "ae_by_arm",
                "ae_by_term", "ae_models", "blinding"):
        assert key in tables, key
    figures = _figures(ket_doc)
    assert "consort" in figures and "forest_effect_sizes" in figures and "patient_bars" in figures
    assert {"patients_auc_avg_pain_d35", "patients_auc_avg_pain_d7"} <= set(figures)
    assert {"daily_avg_pain", "daily_max_pain", "daily_night_pain"} <= set(figures)
    assert "not run" in _text(_section(ket_doc, "sensitivity"))


def test_summary_sentence_is_generated_from_the_numbers(ket: AnalysisResults, ket_doc: Document) -> None:
    t2 = ket.table2
    primary = t2[t2["endpoint"] == "auc_avg_pain_d35"]
    p = _used_p(ket, "table2", "auc_avg_pain_d35", "paper")
    text = _text(_section(ket_doc, "summary"))
    arms = ", ".join(f"{r['treatment']} {format_describe(r)}" for r in primary.to_dict("records"))
    expected_p = f"P {format_p(p)}" if p < 0.001 else f"P = {format_p(p)}"
    assert f"AUC of average pain at day 35: {arms} score-days; omnibus {expected_p} (paper's model, Kenward-Roger df)." in text


def test_table1_layout(ket: AnalysisResults, ket_doc: Document) -> None:
    t = _tables(ket_doc)["table1"]
    counts = ket.table1_counts
    n = counts.drop_duplicates("group").set_index("group")["n_group"]
    assert t.header == ("Characteristic", f"All (n = {n['all']})", f"Male (n = {n['male']})", f"Female (n = {n['female']})")
    labels = [r[0] for r in t.rows]
    assert labels[:4] == ["Age, years", "Weight, kg", "Height, m", "BMI, kg/m²"]
    assert labels[4] == "Pain type, n (%)" and 4 in t.group_rows
    assert labels.index("Pain duration, years") > labels.index("Pain type, n (%)")
    assert labels[-1 - len(counts[counts["variable"] == "concomitant_baseline"]["level"].unique())] == \
        "Concomitant analgesics at baseline, n (%)"
    cont = ket.table1_continuous.set_index(["variable", "group"])
    for label, var, digits in (("Age, years", "age_years", 1), ("Height, m", "height_m", 2), ("DN4 score", "dn4_total", 1)):
        row = t.rows[labels.index(label)]
        assert row[1:] == tuple(format_describe(cont.loc[(var, g)], digits) for g in ("all", "male", "female"))
    pt = counts[(counts["variable"] == "pain_type") & (counts["level"] == "postsurgery")].set_index("group")
    assert t.rows[labels.index("  postsurgery")][1:] == tuple(format_n_pct(pt.loc[g, "n"], pt.loc[g, "pct"])
                                                              for g in ("all", "male", "female"))


def test_table2_cells_equal_the_formatted_frame(ket: AnalysisResults, ket_doc: Document) -> None:
    t = _tables(ket_doc)["table2"]
    assert t.header == ("Endpoint", "P (placebo)", "K (ketamine)", "KM (ketamine/magnesium)", "P (paper's model)",
                        "P (standard model)", "ICC (paper's model)")
    labels = [r[0] for r in t.rows]
    assert labels == ["AUC of average pain", "  Day 7 (no imputation)", "  Day 15 (no imputation)",
                      "  Day 21 (no imputation)", "  Day 28 (no imputation)", "  Day 35 (LOCF)",
                      "AUC of maximal pain", "  Day 35 (LOCF)", "AUC of night pain", "  Day 35 (LOCF)"]
    assert t.group_rows == frozenset({0, 6, 8})
    endpoints = [None, "auc_avg_pain_d7", "auc_avg_pain_d15", "auc_avg_pain_d21", "auc_avg_pain_d28", "auc_avg_pain_d35",
                 None, "auc_max_pain_d35", None, "auc_night_pain_d35"]
    t2 = ket.table2
    m = ket.models
    for row, endpoint in zip(t.rows, endpoints, strict=True):
        if endpoint is None:
            continue
        block = t2[t2["endpoint"] == endpoint].set_index("treatment")
        # one kind for the whole row (issue 19): median [IQR] when any arm is non-normal
        median = (block["kind"] == "median_iqr").any()
        for cell, arm in zip(row[1:4], ("P", "K", "KM"), strict=True):
            r = block.loc[arm]
            expected = (format_median_iqr(r["median"], r["q1"], r["q3"], 1) if median
                        else format_mean_sd(r["mean"], r["sd"], 1))
            # n shown when an AUC of the arm is missing (issue 19: n fell to 16-18 unsaid)
            expected += f" (n = {r['n']})" if r["n_missing"] > 0 else ""
            assert cell == expected
        assert row[4] == format_p(_used_p(ket, "table2", endpoint, "paper"))
        assert row[5] == format_p(_used_p(ket, "table2", endpoint, "standard"))
        icc = m[(m["section"] == "table2") & (m["outcome"] == endpoint) & (m["model"] == "paper") & m["used"]]["icc"].iloc[0]
        assert row[6] == format_number(icc, 2)
    # the CSV data behind the table holds the unrounded numbers it shows
    assert np.allclose(t.data["mean"].to_numpy(dtype=float), t2.set_index(["endpoint", "treatment"]).loc[
        list(zip(t.data["endpoint"], t.data["treatment"], strict=True)), "mean"].to_numpy(dtype=float))
    notes = " ".join(t.notes)
    assert "Kenward-Roger" in notes and "score-days" in notes and "last observation carried forward" in notes
    assert ("time axis: day 0 = infusion day, anchored by the period's pre-infusion pain; diary day d = d days "
            "after the infusion; an AUC up to day W covers W one-day intervals (W + 1 points).") in notes


def test_pairwise_contrasts_are_oriented_active_vs_reference(ket: AnalysisResults, ket_doc: Document) -> None:
    t = _tables(ket_doc)["pairwise"]
    c = ket.contrasts
    core = c[(c["section"] == "table2") & (c["outcome"] == "auc_avg_pain_d35") & (c["model"] == "paper") & c["used"]]
    labels = [r[0] for r in t.rows]
    start = labels.index("AUC of average pain at day 35 (LOCF)")
    block = {r[0].strip(): r for r in t.rows[start + 1:start + 4]}
    assert set(block) == {"K vs P", "KM vs P", "K vs KM"}
    pk = core[(core["a"] == "P") & (core["b"] == "K")].iloc[0]          # the core's P - K
    assert block["K vs P"][1] == format_estimate_ci(-pk["estimate"], -pk["ci_high"], -pk["ci_low"], 1)
    assert block["K vs P"][2] == format_p(pk["p_value"]) and block["K vs P"][3] == format_p(pk["p_sidak"])
    assert block["K vs P"][4] == format_ci(-pk["ci_sidak_high"], -pk["ci_sidak_low"], 1)
    assert block["K vs P"][5] == ("yes" if pk["shown"] else "no")
    kkm = core[(core["a"] == "K") & (core["b"] == "KM")].iloc[0]        # already K - KM: not flipped
    assert block["K vs KM"][1] == format_estimate_ci(kkm["estimate"], kkm["ci_low"], kkm["ci_high"], 1)
    d = t.data[(t.data["outcome"] == "auc_avg_pain_d35") & (t.data["a"] == "P") & (t.data["b"] == "K")].iloc[0]
    assert d["shown_estimate"] == -pk["estimate"] and bool(d["flipped"])
    # effect sizes: same orientation, headline kind first, d_z beside it (issue 19: the headline
    # is d_model, which was not computed before; d_z, the old headline, is now the second column)
    e = _tables(ket_doc)["effect_sizes"]
    assert ket.settings.headline_effect_size == "d_model"
    assert e.header[1] == "d_model (model-based) [95% CI] (headline)"
    assert e.header[2] == "d_z (within-patient differences) [95% CI]"
    es = ket.effect_sizes
    key = ((es["section"] == "table2") & (es["outcome"] == "auc_avg_pain_d35") & (es["model"] == "paper") & es["used"]
           & (es["a"] == "P") & (es["b"] == "K"))
    dm, dz = (es[key & (es["kind"] == kind)].iloc[0] for kind in ("d_model", "d_z"))
    erow = next(r for r in e.rows[[r[0] for r in e.rows].index("AUC of average pain at day 35 (LOCF)"):] if r[0].strip() == "K vs P")
    assert erow[1] == format_estimate_ci(-dm["estimate"], -dm["ci_high"], -dm["ci_low"], 2)
    assert erow[2] == format_estimate_ci(-dz["estimate"], -dz["ci_high"], -dz["ci_low"], 2)
    forest = _figures(ket_doc)["forest_effect_sizes"].data
    assert list(forest["label"]) == ["K vs P", "KM vs P", "K vs KM"]


def test_table3_and_table4_layout(ket: AnalysisResults, ket_doc: Document) -> None:
    tables = _tables(ket_doc)
    t3 = tables["table3"]
    assert t3.header == ("Score", "Baseline", "P (placebo)", "K (ketamine)", "KM (ketamine/magnesium)", "P (paper's model)")
    groups = [t3.rows[i][0] for i in sorted(t3.group_rows)]
    assert groups == [{"qdsa": "QDSA (McGill)", "bpi": "BPI", "npsi": "NPSI", "hads": "HADS", "sf36": "SF-36",
                       "psqi": "PSQI", "pgic": "PGIC", "dn4": "DN4"}.get(i, i.upper()) for i in pd.unique(ket.table3["instrument"])]
    labels = [r[0] for r in t3.rows]
    # score rows are named by the instruments' declared labels (the report keeps no table of its own)
    scores = ket.table3.drop_duplicates(["instrument", "score"])
    assert [x for i, x in enumerate(labels) if i not in t3.group_rows] == [
        f"  {get_instrument(r.instrument).score_label(r.score)}" for r in scores.itertuples()]
    assert "  BPI pain severity" in labels and "  SF-36 physical functioning" in labels
    row = t3.rows[labels.index("  QDSA (McGill) total")]
    frame = ket.table3[(ket.table3["instrument"] == "qdsa") & (ket.table3["score"] == "total")].set_index("timepoint")
    assert row[1:5] == tuple(format_describe(frame.loc[tp]) for tp in ("baseline", "P", "K", "KM"))
    assert row[5] == format_p(_used_p(ket, "table3", "qdsa.total", "paper"))
    t4 = tables["table4"]
    a4 = ket.added_analgesics
    assert t4.header[0] == "Drug class" and len(t4.header) == 4
    assert [r[0] for r in t4.rows] == [str(d).replace("_", " ") for d in pd.unique(a4["drug_class"])]
    piv = a4.set_index(["drug_class", "treatment"])["n_patients"]
    assert t4.rows[0][1:] == tuple(str(piv[(a4["drug_class"].iloc[0], arm)]) for arm in ("P", "K", "KM"))
    ae = tables["ae_by_arm"]
    by = ket.ae_by_arm.set_index("treatment")
    assert ae.rows[1][1:] == tuple(format_n_pct(by.loc[a, "n_patients_related"], by.loc[a, "pct_related"]) for a in ("P", "K", "KM"))


def test_methods_follow_the_settings(ket: AnalysisResults) -> None:
    doc = paper_document(ket, provenance=PROV)
    text = _text(_section(doc, "methods"))
    s = ket.settings
    assert "Kenward-Roger method" in text and "Time axis (infusion): day 0 = infusion day, anchored by the period's" in text
    assert ("Carry-over: first-order carry-over tested (P < 0.05 keeps it) and dropped when not significant "
            "(two-stage testing, Freeman 1989).") in text
    assert ("The protocol's model (paper's model): treatment + sequence + (1 | patient) (the published "
            "specification). Also fitted, for comparison (standard model): treatment + period + sequence + "
            "(1 | patient).") in text
    # no randomised step ran (sensitivity analyses off): no seed is named
    # issue 19: the headline effect size is d_model (was d_z), defined in words
    assert "random seed" not in text and "Sidak adjustment" in text and "headline: d_model" in text
    assert ("d_model: model-based standardised difference d_model: the mixed model's treatment contrast / "
            "sqrt(between-patient + residual variance of that model)") in text
    # issue 19: the GLMMs carry the linear models' fixed effects (sequence; period in the standard model), nAGQ 5
    assert ("Model: logistic mixed model, responder ~ treatment + sequence (+ period in the standard model) + "
            "(1 | patient), the fixed effects of the linear models, adaptive Gauss-Hermite quadrature with 5 points "
            "(nAGQ 5)") in text
    assert "any treatment-related adverse event ~ treatment + sequence (+ period in the standard model)" in text
    assert ("immpact30: mean pain of the window's diary days at least 30% below the period's pre-infusion pain "
            "(IMMPACT moderate)") in text
    # change the settings: the text follows (nothing is hard-coded)
    settings = dataclasses.replace(s, df_method="satterthwaite", auc_time_axis="diary", headline_effect_size="g_av",
                                   seed=123, carryover="none", alpha=0.01, multiplicity="none",
                                   models={**s.models, "paper": dataclasses.replace(s.models["paper"], fixed=("treatment",))})
    doc2 = paper_document(dataclasses.replace(ket, settings=settings), provenance=PROV)
    text2 = _text(_section(doc2, "methods"))
    assert "Satterthwaite method" in text2 and "Kenward-Roger" not in text2
    assert "Time axis (diary): the curve starts at diary day 1" in text2
    assert "Carry-over: no carry-over term." in text2 and "Two-sided tests at alpha 0.01" in text2
    assert "(paper's model): treatment + (1 | patient) (the published specification)" in text2
    assert "Pairwise comparisons (unadjusted) are shown when the omnibus treatment P < 0.01" in text2
    assert "multiplicity adjustment: none" in text2 and "Sidak" not in text2
    assert "P < 0.05" not in text2
    assert _tables(doc2)["effect_sizes"].header[1].startswith("g_av")


def test_two_arm_protocol(abba: AnalysisResults) -> None:
    doc = paper_document(abba, provenance=PROV)
    validate_document(doc)
    tables = _tables(doc)
    # not the reference study: its treatment + sequence model is not called "paper's model"
    assert tables["table2"].header == ("Endpoint", "L (lidocaine)", "P (placebo)", "P (standard model)",
                                       "P (model without period)", "ICC (standard model)")
    pair = tables["pairwise"]
    assert pair.header[3] == "P (unadjusted)"
    c = abba.contrasts
    core = c[(c["section"] == "table2") & (c["outcome"] == abba.settings.primary_endpoint) & (c["model"] == "standard")
             & c["used"]].iloc[0]
    assert (core["a"], core["b"]) == ("P", "L")
    labels = [r[0] for r in pair.rows]
    row = pair.rows[labels.index("AUC of average pain at day 28 (LOCF)") + 1]
    assert row[0].strip() == "L vs P"
    assert row[1] == format_estimate_ci(-core["estimate"], -core["ci_high"], -core["ci_low"], 1)
    assert "consecutive_summary" not in tables
    assert "needs at least two active arms" in _text(_section(doc, "responders"))
    text = _text(_section(doc, "methods"))
    assert "Latin square crossover with 2 periods of 28 days" in text and "multiplicity adjustment: none" in text


def _contrast_frame(results: AnalysisResults, delta: float | None = None) -> pd.DataFrame:
    c = results.contrasts
    core = c[(c["section"] == "table2") & (c["outcome"] == results.settings.primary_endpoint)
             & (c["model"] == results.settings.model) & c["used"]]
    frame = pd.DataFrame({"contrast": [f"{a} - {b}" for a, b in zip(core["a"], core["b"], strict=True)],
                          "estimate": core["estimate"].to_numpy() + (delta or 0.0), "se": core["se"].to_numpy(),
                          "df": core["df"].to_numpy(), "ci_low": core["ci_low"].to_numpy() + (delta or 0.0),
                          "ci_high": core["ci_high"].to_numpy() + (delta or 0.0), "p_value": core["p_value"].to_numpy(),
                          "p_sidak": core["p_sidak"].to_numpy()})
    return frame if delta is None else frame.assign(delta=delta)[["delta", *frame.columns]]


def test_sensitivity_frames_render(ket: AnalysisResults) -> None:
    mar = _contrast_frame(ket)
    tipping = pd.concat([_contrast_frame(ket, d) for d in (0.0, 1.0, 2.0)], ignore_index=True)
    tipping["p_value"] = np.repeat([0.01, 0.04, 0.2], len(mar))   # P crosses 0.05 between delta 1 and 2
    other = pd.DataFrame({"scenario": ["a", "b"], "n": [3, 4], "value": [1.25, math.nan]})
    sens = {"mar_daily_model": mar, "multiple_imputation": mar.copy(), "tipping_point": tipping, "pattern_mixture": other}
    doc = paper_document(dataclasses.replace(ket, sensitivity=MappingProxyType(sens)), provenance=PROV)
    validate_document(doc)
    tables = _tables(doc)
    t = tables["sensitivity_mar_daily_model"]
    assert t.title.startswith("Likelihood-based analysis")
    assert t.header == ("Contrast", "Estimate [95% CI]", "SE", "df", "P", "P (Sidak)")   # words, not column names
    row = next(r for r in t.rows if r[0] == "K vs P")
    pk = mar[mar["contrast"] == "P - K"].iloc[0]
    assert row[1] == format_estimate_ci(-pk["estimate"], -pk["ci_high"], -pk["ci_low"], 1)
    assert row[4] == format_p(pk["p_value"])
    assert tables["sensitivity_multiple_imputation"].title.startswith("Multiple imputation")
    assert tables["sensitivity_pattern_mixture"].title == "Sensitivity analysis: pattern mixture"
    assert tables["sensitivity_pattern_mixture"].rows == (("a", "3", "1.25"), ("b", "4", MISSING))
    assert tables["sensitivity_pattern_mixture"].header == ("Scenario", "N", "Value")
    assert len(tables["sensitivity_tipping_point"].rows) == len(tipping)
    fig = _figures(doc)["tipping_point"]
    assert set(fig.data["contrast"]) == {"K vs P", "KM vs P", "K vs KM"}
    assert "not run" not in _text(_section(doc, "sensitivity"))


def test_warnings_are_grouped_with_counts(ket: AnalysisResults, ket_doc: Document) -> None:
    paragraphs = [b.text for b in _section(ket_doc, "warnings").blocks if isinstance(b, Paragraph)]
    counts = [int(p.split(" × ", 1)[0]) for p in paragraphs[1:]]
    assert sum(counts) == len(ket.warnings)
    assert len(paragraphs) - 1 < len(ket.warnings)     # duplicates were merged
    kinds = list(dict.fromkeys((w.category, w.kind) for w in ket.warnings))
    assert paragraphs[0] == f"{len(ket.warnings)} warnings and notes of {len(kinds)} kinds."
    # per (category, kind) in order of first appearance: the kind in words (never the warning
    # class: issue 19) and whether it is a warning or a note, then each message in full (at most
    # 3 of them), else what the kind means; formatted from the records' fields
    expected = []
    for category, kind in kinds:
        group = [w for w in ket.warnings if (w.category, w.kind) == (category, kind)]
        messages = list(dict.fromkeys(w.message for w in group))
        head = f"{KIND_LABELS[kind]} ({'warning' if category else 'note'}): "
        if len(messages) > 3:
            expected.append(f"{len(group)} × {head}{WARNING_KINDS[kind]} ({len(messages)} different messages")
        else:
            expected += [f"{sum(w.message == m for w in group)} × {head}{m.rstrip('.')}. Where: " for m in messages]
    assert len(expected) == len(counts)
    for text, start in zip(paragraphs[1:], expected, strict=True):
        assert text.startswith(start), (text, start)
    # where: sections, models and outcomes in words (the report's labels), never the raw keys
    text = " ".join(paragraphs)
    assert "Table 3 (paper's model): " in text and "Table 2 (standard model): AUC of average pain at day 35" in text
    for raw in ("table3", "pain_before", "auc_avg_pain", "(paper model)", "Warning:", "SingularFitWarning"):
        assert raw not in text, raw


def test_blinding_not_recorded_says_so(ket: AnalysisResults) -> None:
    overall = {"recorded": False, "note": "end-of-study treatment guesses (instrument 'blinding') were not recorded"}
    doc = paper_document(dataclasses.replace(ket, blinding_overall=MappingProxyType(overall),
                                             blinding=ket.blinding.iloc[0:0]), provenance=PROV)
    assert "blinding" not in _tables(doc)
    assert "were not recorded" in _text(_section(doc, "blinding"))


# --------------------------------------------------------------------------- issue 19: GLMMs and model checks

def test_glmm_words_say_left_out_only_when_rows_were_left_out(ket: AnalysisResults) -> None:
    """The methods and the odds-ratio tables say that a sequence's rows were left out when a
    fit's note says so, and not otherwise."""
    note = ("9 observation(s) perfectly predicted by sequence[K-P-KM] left out (the limit of the maximum-likelihood "
            "fit as that coefficient diverges; not a treatment effect)")
    clean = dataclasses.replace(ket, responder_models=ket.responder_models.assign(note=""),
                                ae_models=ket.ae_models.assign(note=""))
    noted = dataclasses.replace(clean, ae_models=clean.ae_models.assign(note=note))
    sentence = "whose patients all had the same outcome are left out of that fit"
    before = _text(_section(paper_document(clean, provenance=PROV), "methods"))
    after = _text(_section(paper_document(noted, provenance=PROV), "methods"))
    assert sentence not in before and "any treatment-related adverse event ~ treatment + sequence" in before
    assert after.count(sentence) == 1  # the adverse events' sentence only; the responders' fits left nothing out
    ae = _tables(paper_document(noted, provenance=PROV))["ae_models"]
    assert {r[4] for r in ae.rows} == {"9 observations of sequence K-P-KM left out: its patients all had the same outcome"}
    assert ae.notes[1].startswith("Logistic mixed model, any treatment-related adverse event ~ treatment + sequence")


def test_a_not_estimable_fit_reads_not_estimable_and_is_listed(ket: AnalysisResults) -> None:
    """A responder fit with NaN numbers (not estimable) reads 'not estimable', '–' and the first
    reason; the Model checks table counts it and gives its whole reason in words."""
    reason = ("|log OR| of treatment[KM] = 77.2 > 10 (odds ratio 3.06e-34); random-intercept SD theta = 106 > 10 on "
              "the logit scale")
    rm = ket.responder_models
    hit = (rm["day"] == rm["day"].iloc[0]) & (rm["definition"] == "immpact50") & (rm["model"] == "paper")
    nan_columns = ["log_odds_ratio", "se", "statistic", "p_value", "odds_ratio", "or_ci_low", "or_ci_high"]
    rm = rm.copy()
    rm.loc[hit, nan_columns] = math.nan
    rm.loc[hit, "note"] = f"not estimable (degenerate fit): {reason}"
    mc = ket.model_checks.copy()
    row = ((mc["section"] == "responders") & (mc["outcome"] == "immpact50") & (mc["model"] == "paper")
           & (mc["day"] == rm["day"].iloc[0]))
    assert row.sum() == 1
    mc.loc[row, ["status", "reason"]] = ["not_estimable", reason]
    doc = number_document(paper_document(dataclasses.replace(ket, responder_models=rm, model_checks=mc),
                                         provenance=PROV))
    tables = _tables(doc)
    shown = [r for r in tables["responder_models"].rows if r[1] == "immpact50" and r[2] == "paper's model"
             and r[0] == str(rm["day"].iloc[0])]
    assert len(shown) == int(hit.sum()) == 2
    number = tables["fit_status"].title.split(".")[0]  # "Table n"
    for r in shown:
        assert list(r[4:]) == ["not estimable", "–", "not estimable (degenerate fit): |log OR| of treatment KM = 77.2 > 10 "
                         f"(odds ratio 3.06e-34); … (full reason: {number})"]
    checks = tables["fit_status"].rows
    every = next(r for r in checks if r[0].strip() == "All analyses")
    counts = mc["status"].value_counts()
    assert every[3] == (f"{counts.get('ok', 0)} ok, {counts.get('singular', 0)} singular, "
                        f"{counts['not_estimable']} not estimable")
    listed = [r for r in checks if r[3] == "not estimable"]
    assert len(listed) == counts["not_estimable"]
    ours = [r for r in listed if r[4] == reason.replace("treatment[KM]", "treatment KM")]
    assert len(ours) == 1 and ours[0][1] == "responder (≥ 50% reduction, IMMPACT substantial)"
    assert ours[0][2] == "paper's model" and ours[0][0].strip() == f"Responders, day {rm['day'].iloc[0]}"
    assert not any("nan" in c.lower().split() for r in tables["responder_models"].rows for c in r)

"""run_analysis reproduces the statistics core on the same data, and its results are complete."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ketapain.analysis import ANALYSIS_STEPS, FRAME_FIELDS, analysis_steps, run_analysis
from ketapain.data import TrialData
from ketapain.errors import DataError
from ketapain.instruments import score_frame
from ketapain.stats import describe_by, diary_auc, fit_crossover


@pytest.fixture(scope="module")
def results(trial, protocol):
    return run_analysis(trial, protocol, sensitivity=False)


def _quiet_fit(frame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_crossover(frame, subject="patient_id", ref="P", **kw)


def test_auc_and_table2_equal_the_stats_core(results, trial, protocol):
    alloc = trial.allocation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = diary_auc(trial.diary, value="avg_pain", windows=(35,), impute="locf",
                           anchor=alloc[["patient_id", "period", "pre_infusion_pain"]])
    mine = results.patient_auc[results.patient_auc["endpoint"] == "auc_avg_pain_d35"]
    assert_allclose(mine["auc"].to_numpy(), direct["auc"].to_numpy(), rtol=0, atol=0)
    assert (mine["n_imputed"].to_numpy() == direct["n_imputed"].to_numpy()).all()
    desc = describe_by(mine, value="auc", by="treatment").set_index("treatment")
    t2 = results.table2[results.table2["endpoint"] == "auc_avg_pain_d35"].set_index("treatment")
    assert list(t2.index) == ["P", "K", "KM"]  # protocol order
    for col in ("n", "mean", "sd", "median", "q1", "q3", "shapiro_p"):
        assert_allclose(t2.loc[desc.index, col].to_numpy(float), desc[col].to_numpy(float), rtol=1e-12)

    frame = mine.copy()
    for model in ("paper", "standard"):
        fit = _quiet_fit(frame, outcome="auc", **{**protocol.analysis.fit_options(), "model": model})
        row = results.models[(results.models["section"] == "table2") & (results.models["outcome"] == "auc_avg_pain_d35")
                             & (results.models["model"] == model) & (results.models["scale"] == "identity")].iloc[0]
        assert_allclose(row["treatment_p"], fit.treatment_test.p_value, rtol=1e-10)
        assert_allclose(row["icc"], fit.icc, rtol=1e-10)
        assert row["significant"] == (fit.treatment_test.p_value < 0.05)
        con = results.contrasts[(results.contrasts["outcome"] == "auc_avg_pain_d35") & (results.contrasts["model"] == model)
                                & (results.contrasts["scale"] == "identity")]
        assert_allclose(con["p_sidak"].to_numpy(), [c.p_sidak for c in fit.contrasts], rtol=1e-10)
        assert (con["shown"] == (fit.treatment_test.p_value < 0.05)).all()
        es = results.effect_sizes[(results.effect_sizes["outcome"] == "auc_avg_pain_d35")
                                  & (results.effect_sizes["model"] == model) & (results.effect_sizes["scale"] == "identity")]
        assert_allclose(es["estimate"].to_numpy(), [e.estimate for e in fit.effect_sizes], rtol=1e-10)
        assert set(es["kind"]) == {"total_sd", "d_z", "g_av"}
        assert (es["headline"] == (es["kind"] == "d_z")).all()


def test_log_rule_marks_one_used_fit_per_outcome_and_model(results):
    m = results.models
    used = m[m["used"]].groupby(["section", "outcome", "model"]).size()
    assert (used == 1).all()
    # A log fit exists exactly where the identity fit's residuals were rejected (and values > 0).
    ident = m[m["scale"] == "identity"]
    logs = m[m["scale"] == "log"].set_index(["section", "outcome", "model"])
    for r in ident.itertuples():
        rejected = r.residual_shapiro_p < 0.05
        assert r.log_rule_triggered == rejected
        if (r.section, r.outcome, r.model) in logs.index:
            assert rejected


def test_table3_equals_score_frame_and_fit(results, trial, protocol):
    scored = score_frame("hads", trial.questionnaires)
    alloc = trial.allocation
    ends = {"end_period_1": 1, "end_period_2": 2, "end_period_3": 3}
    post = scored[scored["visit"].isin(ends)].assign(period=lambda f: f["visit"].map(ends))
    post = post.merge(alloc[["patient_id", "period", "treatment", "sequence"]], on=["patient_id", "period"])
    t3 = results.table3[(results.table3["instrument"] == "hads") & (results.table3["score"] == "anxiety")].set_index("timepoint")
    assert list(t3.index) == ["baseline", "P", "K", "KM"]
    means = post.groupby("treatment")["anxiety"].mean()
    assert_allclose(t3.loc[["P", "K", "KM"], "mean"].to_numpy(), means[["P", "K", "KM"]].to_numpy(), rtol=1e-12)
    base = scored.loc[scored["visit"] == "inclusion", "anxiety"]
    assert_allclose(t3.loc["baseline", "mean"], base.mean(), rtol=1e-12)
    fit = _quiet_fit(post, outcome="anxiety", **protocol.analysis.fit_options())
    row = results.models[(results.models["outcome"] == "hads.anxiety") & (results.models["scale"] == "identity")].iloc[0]
    assert_allclose(row["treatment_p"], fit.treatment_test.p_value, rtol=1e-10)
    assert "blinding" not in set(results.table3["instrument"])


def test_pain_before_is_the_crossover_model_of_pre_infusion_pain(results, trial, protocol):
    fit = _quiet_fit(trial.allocation, outcome="pre_infusion_pain", **protocol.analysis.fit_options())
    row = results.models[(results.models["section"] == "pain_before") & (results.models["model"] == "paper")
                         & (results.models["scale"] == "identity")].iloc[0]
    assert_allclose(row["treatment_p"], fit.treatment_test.p_value, rtol=1e-10)
    by_arm = results.pain_before[results.pain_before["by"] == "treatment"]
    assert list(by_arm["level"]) == ["P", "K", "KM"]
    assert_allclose(by_arm["mean"].to_numpy(),
                    trial.allocation.groupby("treatment")["pre_infusion_pain"].mean()[["P", "K", "KM"]].to_numpy())


def test_table1_bmi_and_groups(results, trial):
    p = trial.patients
    bmi = (p["weight_kg"] / p["height_m"] ** 2)
    t1 = results.table1_continuous.set_index(["variable", "group"])
    assert_allclose(t1.loc[("bmi", "all"), "mean"], bmi.mean(), rtol=1e-12)
    assert_allclose(t1.loc[("bmi", "male"), "mean"], bmi[p["sex"] == "M"].mean(), rtol=1e-12)
    assert t1.loc[("age_years", "female"), "n"] == (p["sex"] == "F").sum()
    # Baseline concomitant classes in conftest: antidepressants P01 (M) and P02 (F); anxiolytics
    # P01 (M); tramadol P03 (M).
    c = results.table1_counts.set_index(["variable", "level", "group"])["n"]
    assert c[("concomitant_baseline", "antidepressants", "all")] == 2
    assert c[("concomitant_baseline", "antidepressants", "female")] == 1
    assert c[("concomitant_baseline", "tramadol", "male")] == 1
    assert c[("concomitant_baseline", "anxiolytics", "female")] == 0


def test_adverse_events_and_table4_by_hand(results):
    # conftest events -> arm of their period (P01: P,KM,K; P02: KM,K,P; P03: K,P,KM; P04: P,KM,K;
    # P06: P,K,KM): E1 P01 p1 -> P (possibly), E2 P01 p2 -> KM (probably), E3 P02 p1 -> KM
    # (unrelated), E4 P03 p3 -> KM (certainly), E5 P04 p2 -> KM (possibly), E6 P04 p2 -> KM
    # (unlikely), E7 P05 p0 -> no arm, E8 P06 p1 -> P (unrelated, serious).
    arm = results.ae_by_arm.set_index("treatment")
    assert arm.loc["P", ["n_events", "n_patients_any", "n_patients_related", "n_patients_serious"]].tolist() == [2, 2, 1, 1]
    assert arm.loc["K", ["n_events", "n_patients_any", "n_patients_related"]].tolist() == [0, 0, 0]
    # KM: events E2-E6 = 5; patients P01, P02, P03, P04 = 4; related P01, P03, P04 = 3.
    assert arm.loc["KM", ["n_events", "n_patients_any", "n_patients_related", "n_patients_serious"]].tolist() == [5, 4, 3, 0]
    assert_allclose(arm.loc["KM", "pct_related"], 100 * 3 / 20)
    term = results.ae_by_term.set_index(["treatment", "term"])
    assert term.loc[("KM", "fatigue"), "n_patients"] == 2  # P02, P04
    assert term.loc[("KM", "fatigue"), "n_patients_related"] == 0  # unrelated, unlikely
    assert term.loc[("KM", "nausea"), "n_patients_related"] == 2  # P01 probably, P04 possibly
    o = results.ae_overall
    # 6 patients have an event -> 14 of 20 without; related: P01, P03, P04, P05 (period 0) = 4.
    assert (o["n_patients_without_any_ae"], o["n_patients_with_related_ae"], o["n_serious_events"]) == (14, 4, 1)
    assert o["n_events_before_first_infusion"] == 1
    # K has no related event: the logistic model is not estimable, said in a note.
    assert results.ae_models["note"].str.contains("no event in arm K").all()
    assert results.ae_models["odds_ratio"].isna().all()
    notes = [w for w in results.warnings if w.section == "adverse_events"]
    assert [(w.outcome, w.model, w.kind) for w in notes] == [("related_ae", "paper", "separation"),
                                                             ("related_ae", "standard", "separation")]
    assert all("no event in arm K" in w.message for w in notes)
    # Table 4: nefopam added P01 p1 (P) and P02 p2 (K); adjuvants P04 p3 (K).
    t4 = results.added_analgesics.set_index(["drug_class", "treatment"])["n_patients"]
    assert (t4[("nefopam", "P")], t4[("nefopam", "K")], t4[("nefopam", "KM")], t4[("adjuvants", "K")]) == (1, 1, 0, 1)
    assert t4.sum() == 3


def test_daily_curves_day0_is_pre_infusion_pain(results, trial):
    d = results.daily_curves.set_index(["item", "treatment", "day"])
    alloc = trial.allocation
    p0 = alloc.loc[alloc["treatment"] == "K", "pre_infusion_pain"]
    assert_allclose(d.loc[("avg_pain", "K", 0), "mean"], p0.mean())
    diary = trial.diary.merge(alloc[["patient_id", "period", "treatment"]])
    day5 = diary.loc[(diary["treatment"] == "KM") & (diary["day"] == 5), "night_pain"].dropna()
    row = d.loc[("night_pain", "KM", 5)]
    half = 2.0930240544083096 * day5.std() / math.sqrt(len(day5)) if len(day5) == 20 else None
    assert row["n"] == len(day5)
    if half is not None:  # t(0.975, 19) = 2.0930240544 (R: qt(0.975, 19))
        assert_allclose(row["ci_high"] - row["mean"], half, rtol=1e-9)
    assert sorted(d.index.get_level_values("day").unique()) == list(range(36))


def test_to_dict_is_json_safe_and_round_trips(results):
    text = results.to_json()
    back = json.loads(text)
    assert set(back["tables"]) == set(FRAME_FIELDS)
    t2 = pd.DataFrame(back["tables"]["table2"])
    assert_allclose(t2["mean"].to_numpy(float), results.table2["mean"].to_numpy(float), rtol=0)
    models = pd.DataFrame(back["tables"]["models"])
    assert_allclose(models["treatment_p"].to_numpy(float), results.models["treatment_p"].to_numpy(float), rtol=0)
    # NaN became null, never a string.
    assert all(v is None or isinstance(v, float) for v in models["carryover_p"].tolist())
    assert back["study"]["reference_arm"] == "P"
    assert back["settings"]["endpoints"]["auc_avg_pain_d35"] == {"value": "avg_pain", "window_day": 35,
                                                                "impute": "locf", "kind": "primary"}
    assert back["settings"]["models"]["standard"] == {"fixed": ["treatment", "period", "sequence"],
                                                      "random": ["patient"]}
    assert back["settings"]["responder_definitions"]["immpact30"] == {"min_reduction_pct": 30.0,
                                                                      "source": "IMMPACT moderate"}
    # settings are values: no sentence anywhere (the report writes them)
    def strings(value):
        if isinstance(value, dict):
            return [s for k, v in value.items() for s in [k, *strings(v)]]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    assert sorted({t for t in strings(back["settings"]) if " " in t}) == [
        "IMMPACT moderate", "IMMPACT substantial", "treatment x day"]
    assert back["consort"]["n_screened"] == 23 and back["consort"]["n_randomised"] == 20
    assert back["blinding_overall"]["recorded"] is True
    # warnings: one JSON object per record, every field, in order
    assert back["warnings"] == [w.to_dict() for w in results.warnings] and back["warnings"]
    assert all(set(w) == {"section", "outcome", "kind", "message", "category", "model", "scale", "day", "impute"}
               for w in back["warnings"])
    assert set(results.tables) == set(FRAME_FIELDS) and results.sensitivity == {}


def test_on_step_reports_every_step_in_order(trial, protocol):
    seen: list[str] = []
    run_analysis(trial, protocol, sensitivity=False, on_step=seen.append)
    assert tuple(seen) == analysis_steps(sensitivity=False) == ANALYSIS_STEPS[:-1]


def test_unknown_arm_is_a_clear_error(trial, protocol):
    tables = trial.to_tables()
    alloc = tables["allocation"]
    row = alloc.index[4]
    patient, old = alloc.loc[row, "patient_id"], alloc.loc[row, "treatment"]
    alloc.loc[row, "treatment"] = "XX"
    # the patient's sequence says XX too, so the table is consistent and the protocol refuses the arm
    same = alloc["patient_id"] == patient
    alloc.loc[same, "sequence"] = alloc.loc[same, "sequence"].map(lambda q: "-".join("XX" if t == old else t for t in q.split("-")))
    bad = TrialData.from_tables(**{**tables, "allocation": alloc})
    with pytest.raises(DataError, match=r"allocation row 6: treatment='XX' is not an arm of protocol 'ketapain' \(arms: P, K, KM\)"):
        run_analysis(bad, protocol, sensitivity=False)


def test_summary_mentions_primary_endpoint(results):
    text = results.summary()
    assert "auc_avg_pain_d35" in text and "Warnings:" in text
    assert np.isfinite(results.models["treatment_p"]).all()

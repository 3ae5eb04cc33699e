"""Hand-checked sections: responders, blinding index, visit-to-period mapping, consecutive periods."""

from __future__ import annotations

import math
import tomllib
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ketapain.analysis import bang_index, run_analysis, visit_periods
from ketapain.analysis._endpoints import consecutive_active
from ketapain.analysis._responders import responders
from ketapain.analysis._warnings import WarningLog
from ketapain.protocol import Protocol


def _diary(values: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """A 35-day diary: per (patient, period) the values of days 1.., the rest 9 (high pain)."""
    rows = []
    for (pid, period), first in values.items():
        days = [*first, *[9.0] * (35 - len(first))]
        rows += [{"patient_id": pid, "period": period, "day": d, "avg_pain": v, "max_pain": v, "night_pain": v}
                 for d, v in enumerate(days, start=1)]
    return pd.DataFrame(rows)


def test_responders_by_hand(protocol):
    # Two patients, sequences P-K-KM (A) and KM-P-K (B); pre-infusion pain 6 everywhere.
    # (sequence: the GLMMs carry it since issue 19, as their linear namesakes)
    alloc = pd.DataFrame({"patient_id": ["A"] * 3 + ["B"] * 3, "period": [1, 2, 3] * 2,
                          "sequence": ["P-K-KM"] * 3 + ["KM-P-K"] * 3,
                          "treatment": ["P", "K", "KM", "KM", "P", "K"], "pre_infusion_pain": [6.0] * 6})
    # Diary days 1-7 constant, so the mean of the day-7 diary days is that value: A: P 6 (not
    # improved), K 4 (-33%: improved, immpact30), KM 2 (-67%: immpact50). B: KM 2 with day 3
    # missing (no imputation at day 7: not evaluable), P 5 (-17%: improved only), K 6 (no).
    # Days 8-35 are 9: every day-35 mean is above 6, so nobody improved at day 35.
    first = {("A", 1): 6.0, ("A", 2): 4.0, ("A", 3): 2.0, ("B", 1): 2.0, ("B", 2): 5.0, ("B", 3): 6.0}
    values = {k: [v] * 7 for k, v in first.items()}
    values[("B", 1)][2] = np.nan
    diary = _diary(values)
    d7 = [42.0, 28.0, 14.0, np.nan, 35.0, 42.0]   # the endpoints' AUCs, carried along as ``auc``
    d35 = [250.0] * 6
    rows = []
    for endpoint, aucs_ in (("auc_avg_pain_d7", d7), ("auc_avg_pain_d35", d35)):
        rows.append(alloc.assign(endpoint=endpoint, auc=aucs_))
    aucs = pd.concat(rows, ignore_index=True)
    log = WarningLog()
    out = responders(aucs, alloc, diary, protocol, log)
    per = out["responder_patients"].set_index(["day", "patient_id", "treatment"])
    names = ["paper_improved", "immpact30", "immpact50"]
    assert per.loc[(7, "A", "K"), names].tolist() == [True, True, False]
    assert per.loc[(7, "A", "KM"), names].tolist() == [True, True, True]
    assert_allclose(per.loc[(7, "B", "P"), "reduction_pct"], 100 * (6 - 5) / 6)
    assert per.loc[(7, "B", "KM"), "paper_improved"] is pd.NA
    assert per.loc[(7, "A", "K"), "auc"] == 28.0
    c = out["responders"].set_index(["day", "definition", "treatment"])
    assert c.loc[(7, "paper_improved", "P"), ["n_responders", "n_evaluable"]].tolist() == [1, 2]
    assert c.loc[(7, "paper_improved", "KM"), ["n_responders", "n_evaluable"]].tolist() == [1, 1]
    # any active arm: A yes (K, KM); B: K no and KM missing -> not evaluable.
    assert c.loc[(7, "paper_improved", "any_active"), ["n_responders", "n_evaluable"]].tolist() == [1, 1]
    # day 35 (LOCF fills B's day 3): every mean above 6
    assert c.loc[(35, "paper_improved", "any_active"), ["n_responders", "n_evaluable"]].tolist() == [0, 2]
    # Day 35 has no responder at all: the logistic model says why instead of a number.
    m = out["responder_models"]
    d35m = m[(m["day"] == 35) & (m["definition"] == "paper_improved")]
    assert d35m["odds_ratio"].isna().all() and d35m["note"].str.startswith("not estimable").all()
    notes = [w for w in log.records if (w.section, w.outcome, w.day) == ("responders", "paper_improved", 35)]
    assert {w.model for w in notes} == {"paper", "standard"}
    assert all(w.kind == "separation" and w.category == "" for w in notes)
    assert all(w.message.startswith("not estimable (separation): ") for w in notes)


def test_responders_never_compare_the_pre_infusion_score_with_itself(protocol):
    # issue 19: pre-infusion pain 6, day 1 = 2, days 2-7 = 6.5. On the infusion axis the day-7
    # AUC starts at the pre-infusion score: (6 + 2)/2 + (2 + 6.5)/2 + 5 x 6.5 = 40.75, and
    # 40.75 / 7 = 5.82 < 6 called the period improved partly because of the score it is compared
    # with. The diary days alone: (4.25 + 32.5) / 6 = 6.125 > 6: not improved.
    alloc = pd.DataFrame({"patient_id": ["A"] * 3, "period": [1, 2, 3], "treatment": ["P", "K", "KM"], "sequence": "P-K-KM",
                          "pre_infusion_pain": [6.0] * 3})
    diary = _diary({("A", p): [2.0, *[6.5] * 6] for p in (1, 2, 3)})
    aucs = pd.concat([alloc.assign(endpoint=e, auc=40.75) for e in ("auc_avg_pain_d7", "auc_avg_pain_d35")],
                     ignore_index=True)
    per = responders(aucs, alloc, diary, protocol, WarningLog())["responder_patients"]
    d7 = per[per["day"] == 7]
    assert_allclose(d7["mean_pain"], 36.75 / 6)
    assert not d7["paper_improved"].any()


def test_bang_index_by_hand():
    # Bang et al. (2004): BI = p_c - p_i, Var = (p_c(1-p_c) + p_i(1-p_i) + 2 p_c p_i) / n.
    # 20 guesses: 9 correct, 3 incorrect, 8 don't know -> p_c = .45, p_i = .15, BI = .30,
    # Var = (.45*.55 + .15*.85 + 2*.45*.15) / 20 = (.2475 + .1275 + .135) / 20 = .0255.
    bi, se, _lo, hi = bang_index(9, 3, 20)
    assert_allclose(bi, 0.30, rtol=1e-12)
    assert_allclose(se, math.sqrt(0.0255), rtol=1e-12)
    assert_allclose(hi - bi, 1.959963984540054 * math.sqrt(0.0255), rtol=1e-12)  # qnorm(0.975)
    # all "don't know" -> BI 0 with SE 0; all correct -> 1.
    assert bang_index(0, 0, 5)[0] == 0 and bang_index(5, 0, 5)[0] == 1


def test_blinding_section_counts(trial, protocol):
    res = run_analysis(trial, protocol, sensitivity=False)
    q = trial.questionnaires
    g = q[q["instrument"] == "blinding"].assign(period=lambda f: f["item"].str[-1].astype(int))
    g = g.merge(trial.allocation[["patient_id", "period", "treatment"]])
    p = g[g["treatment"] == "P"]["value"]
    row = res.blinding.set_index("treatment").loc["P"]
    # Placebo arm: guess 1 is correct, 2 incorrect, 0 don't know.
    assert (row["n_correct"], row["n_incorrect"], row["n_dont_know"]) == ((p == 1).sum(), (p == 2).sum(), (p == 0).sum())
    assert_allclose(row["bi"], ((p == 1).sum() - (p == 2).sum()) / len(p))
    k = g[g["treatment"] == "K"]["value"]
    assert res.blinding.set_index("treatment").loc["K", "n_correct"] == (k == 2).sum()


def test_blinding_absent_is_stated(trial, protocol):
    from ketapain.data import TrialData

    tables = trial.to_tables()
    q = tables["questionnaires"]
    res = run_analysis(TrialData.from_tables(**{**tables, "questionnaires": q[q["instrument"] != "blinding"]}),
                       protocol, sensitivity=False)
    assert res.blinding_overall["recorded"] is False and res.blinding.empty
    assert "not recorded" in res.summary()


def _protocol_with(**design) -> Protocol:
    text = resources.files("ketapain.protocol").joinpath("files/ketapain.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["design"].update(design)
    return Protocol.from_dict(data)


def test_visit_to_period_mapping(protocol):
    # Visits at days -14, 0, 35, 70, 105; periods end at 35 k.
    assert visit_periods(protocol) == ("inclusion", {"end_period_1": 1, "end_period_2": 2, "end_period_3": 3})
    # With a 7-day washout, period 2 ends on day 35 + 7 + 35 = 77: the day-70 visit ends no period.
    washout = _protocol_with(washout_days=7)
    assert visit_periods(washout) == ("inclusion", {"end_period_1": 1})


def test_end_of_period_visits_only_have_no_baseline():
    # issue 18: a trial with its questionnaires (PGIC) only at the end of each period. The
    # earliest visit used to become the baseline, so period 1's answers were counted as
    # "baseline" and Table 3 had half the patients in each arm.
    text = resources.files("ketapain.protocol").joinpath("files/ketapain.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["visits"] = [v for v in data["visits"] if v["day"] > 0]
    only_ends = Protocol.from_dict(data)
    assert visit_periods(only_ends) == (None, {"end_period_1": 1, "end_period_2": 2, "end_period_3": 3})
    data["visits"].append({"name": "week_1", "day": 7, "questionnaires": ["pgic"]})
    assert visit_periods(Protocol.from_dict(data))[0] == "week_1"  # a visit ending no period still is one


def test_consecutive_active_periods_by_hand(protocol):
    # Active arms K and KM. A: P-K-KM (consecutive), B: K-P-KM (separated), C: KM-K-P
    # (consecutive), D: KM-P-K (separated). Sums of the K and KM day-35 AUCs: A 100+110,
    # B 70+80, C 200+190, D 60+70.
    seqs = {"A": ["P", "K", "KM"], "B": ["K", "P", "KM"], "C": ["KM", "K", "P"], "D": ["KM", "P", "K"]}
    auc = {"A": [50, 100, 110], "B": [70, 90, 80], "C": [200, 190, 150], "D": [60, 40, 70]}
    rows = [{"endpoint": "auc_avg_pain_d35", "patient_id": pid, "period": k + 1, "treatment": t,
             "sequence": "-".join(s), "auc": float(auc[pid][k])} for pid, s in seqs.items() for k, t in enumerate(s)]
    log = WarningLog()
    out = consecutive_active(pd.DataFrame(rows), protocol, log)
    pat = out["consecutive_patients"].set_index("patient_id")
    assert pat["consecutive"].to_dict() == {"A": True, "B": False, "C": True, "D": False}
    assert pat["auc_sum"].to_dict() == {"A": 210.0, "B": 150.0, "C": 390.0, "D": 130.0}
    tests = out["consecutive_tests"].set_index("test")
    # Welch t by hand: means 300 vs 140, variances 16200 and 200 -> SE = sqrt(8100 + 100);
    # t = 160 / sqrt(8200) = 1.76690.
    assert_allclose(tests.loc["welch_t", "statistic"], 160 / math.sqrt(8200), rtol=1e-12)
    assert tests.loc["welch_t", "n_consecutive"] == 2
    assert log.records == ()  # every patient has both active AUCs, two per group: nothing to say
    # A patient without both active-arm AUCs is left out, and said so.
    rows[1]["auc"] = math.nan
    out = consecutive_active(pd.DataFrame(rows), protocol, log)
    assert [(w.section, w.outcome, w.kind) for w in log.records] == [
        ("consecutive", "auc_avg_pain_d35", "rows_left_out"), ("consecutive", "auc_avg_pain_d35", "no_test")]
    assert log.records[0].message == "1 patient(s) without both active-arm auc_avg_pain_d35 AUCs left out"


def test_empty_allocation_is_refused(trial, protocol):
    from ketapain.data import TrialData
    from ketapain.errors import DataError

    with pytest.raises(DataError, match="allocation has no rows"):
        run_analysis(TrialData.from_tables(patients=trial.patients), protocol, sensitivity=False)


def test_warning_records_keep_the_plans_vocabulary():
    import warnings as pywarnings

    from ketapain.analysis import WARNING_KINDS, AnalysisWarning
    from ketapain.errors import TwoStageTestingWarning

    log = WarningLog()
    with log.catch(section="table2", outcome="auc_avg_pain_d35", model="standard", scale="log"):
        pywarnings.warn("carry-over pre-test P = 0.5 >= 0.05: carry-over dropped", TwoStageTestingWarning, stacklevel=2)
        pywarnings.warn("carry-over pre-test P = 0.5 >= 0.05: carry-over dropped", TwoStageTestingWarning, stacklevel=2)
        pywarnings.warn("overflow", RuntimeWarning, stacklevel=2)
    assert [(w.kind, w.category) for w in log.records] == [("two_stage_testing", "TwoStageTestingWarning"),
                                                           ("warning", "RuntimeWarning")]  # the repeat is merged
    assert str(log.records[0]) == ("table2 auc_avg_pain_d35 (standard model), log scale: TwoStageTestingWarning: "
                                   "carry-over pre-test P = 0.5 >= 0.05: carry-over dropped")
    assert {w.kind for w in log.records} <= set(WARNING_KINDS)
    with pytest.raises(ValueError, match="unknown warning kind 'oops'"):
        AnalysisWarning(section="table2", outcome="", kind="oops", message="m")
    with pytest.raises(ValueError, match="unknown warning section 'table9'"):
        AnalysisWarning(section="table9", outcome="", kind="no_model", message="m")

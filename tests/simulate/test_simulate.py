"""Tests of ketapain.simulate: the in-silico trial and its calibration to the published paper."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import ketapain.simulate as sim
from ketapain.data import TrialData
from ketapain.errors import ProtocolError
from ketapain.instruments import score_frame
from ketapain.operations import evaluate_screening
from ketapain.protocol import load_protocol
from ketapain.simulate import (
    KNOWN_OUTSIDE,
    calibrate,
    load_parameters,
    published_figures,
    simulate_trial,
)

KETAPAIN = load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial() -> TrialData:
    return simulate_trial(KETAPAIN, n_patients=20, seed=11)


def test_all_is_sorted():
    assert sim.__all__ == sorted(sim.__all__)


def test_same_seed_same_tables_different_seed_differs(trial):
    again = simulate_trial(KETAPAIN, n_patients=20, seed=11)
    assert again.equals(trial)
    other = simulate_trial(KETAPAIN, n_patients=20, seed=12)
    assert not other.diary.equals(trial.diary)
    assert not other.patients.equals(trial.patients)


def test_meta_records_seed_source_and_parameter_hash(trial):
    p = load_parameters()
    assert trial.meta["seed"] == "11"
    assert trial.meta["protocol_id"] == "ketapain"
    assert trial.meta["source"].startswith("ketapain.simulate ")
    assert trial.meta["parameters_sha256"] == p.sha256


def test_round_trip_through_files(trial, tmp_path):
    trial.write(tmp_path / "t")
    back = TrialData.read(tmp_path / "t", treatments=KETAPAIN.arm_codes)
    assert len(back.diary) == len(trial.diary) and dict(back.meta) == dict(trial.meta)


def test_every_questionnaire_scores_without_error(trial):
    q = trial.questionnaires
    for visit in KETAPAIN.visits:
        for name in visit.questionnaires:
            rows = q[(q["visit"] == visit.name) & (q["instrument"] == name)]
            scores = score_frame(name, rows)  # incomplete="error": raises on any unscorable form
            assert len(scores) == 20, (visit.name, name)
    blind = q[q["instrument"] == "blinding"]
    assert set(blind["visit"]) == {"end_period_3"}
    assert len(score_frame("blinding", blind)) == 20


def test_structure_every_patient_all_periods_and_days(trial):
    d = trial.diary
    counts = d.groupby("patient_id").size()
    assert (counts == 3 * 35).all()
    assert set(d["day"]) == set(range(1, 36))
    vals = d[["avg_pain", "max_pain", "night_pain"]].to_numpy()
    ok = vals[~np.isnan(vals)]
    assert ok.min() >= 0 and ok.max() <= 10 and np.all(ok == np.round(ok))
    # a missing day has all three items missing
    miss = d["avg_pain"].isna()
    assert d.loc[miss, ["max_pain", "night_pain"]].isna().all().all()
    assert (d.loc[~miss, "max_pain"] >= d.loc[~miss, "avg_pain"]).all()


def test_sequences_are_the_randomisation_lists_first_rows():
    data = simulate_trial(KETAPAIN, n_patients=20, seed=5)
    alloc = data.allocation
    # each patient's treatments follow its sequence, and every sequence is one of the list's
    for _pid, rows in alloc.groupby("patient_id"):
        assert "-".join(rows.sort_values("period")["treatment"]) == rows["sequence"].iloc[0]
    seqs = alloc.drop_duplicates("patient_id")["sequence"]
    # 20 patients from blocks of 6: 3 full blocks (each sequence 3 times) + 2 of the 4th block
    counts = seqs.value_counts()
    assert counts.max() - counts.min() <= 1 and len(counts) == 6
    kits = set(alloc["kit_code"])
    assert all(k.startswith("T-") for k in kits) and len(kits) == 60


def test_screening_log_is_consort_consistent_and_eligibility_agrees(trial):
    s = trial.screening
    assert len(s) == 23
    assert s["outcome"].value_counts().to_dict() == {"randomised": 20, "refused": 2, "not_eligible": 1}
    evaluated = evaluate_screening(KETAPAIN, s)
    assert (evaluated["eligible"].to_numpy() == s["eligible"].to_numpy()).all()
    assert set(s.loc[s["outcome"] == "randomised", "patient_id"]) == set(trial.patients["patient_id"])


def test_screening_scales_with_n():
    data = simulate_trial(KETAPAIN, n_patients=40, seed=2, missing="none")
    assert data.screening["outcome"].value_counts().to_dict() == {"randomised": 40, "refused": 4, "not_eligible": 2}
    assert data.diary["avg_pain"].notna().all()


def test_bmi_consistent_and_ranges(trial):
    p = trial.patients
    bmi = p["weight_kg"] / p["height_m"] ** 2
    assert bmi.between(12, 70).all()
    assert (p["dn4_total"] >= 4).all()
    assert (trial.adverse_events["serious"] == False).all()  # noqa: E712 - no serious AE published


def test_mcar_rate_within_binomial_tolerance():
    rate = load_parameters().missing.mcar_rate
    data = simulate_trial(KETAPAIN, n_patients=600, seed=3, missing="mcar")
    n = len(data.diary)
    k = int(data.diary["avg_pain"].isna().sum())
    sd = math.sqrt(n * rate * (1 - rate))
    assert abs(k - n * rate) < 4 * sd, (k, n * rate, sd)


def test_mar_and_mnar_dropouts_are_monotone_and_pain_driven():
    for mode in ("mar", "mnar"):
        data = simulate_trial(KETAPAIN, n_patients=400, seed=4, missing=mode)
        d = data.diary.sort_values(["patient_id", "period", "day"])
        miss = d["avg_pain"].isna().to_numpy().reshape(-1, 35)
        assert miss.mean() > load_parameters().missing.mcar_rate * 2  # dropout adds missing days
        # dropout: once the last days are missing they stay missing (the tail is all missing)
        last = miss[:, -1]
        assert miss[last].sum(axis=1).mean() > miss[~last].sum(axis=1).mean()
        # periods ending in dropout had higher observed pain than completed ones
        obs = d["avg_pain"].to_numpy().reshape(-1, 35)
        first = np.where(miss, 0.0, obs)[:, :5].sum(axis=1)
        seen = (~miss[:, :5]).sum(axis=1)
        ok = seen > 0
        mean_obs = first[ok] / seen[ok]
        assert mean_obs[last[ok]].mean() > mean_obs[~last[ok]].mean(), mode


def test_effect_curve_visible_in_a_large_simulation():
    # K - P difference on diary days 1-3 averages amplitude * mean(exp(-d / tau)), d = 1..3, when
    # no clipping acts; with clipping at 0..10 and rounding the observed mean is attenuated a little.
    p = load_parameters()
    amp, tau = p.arms["K"].effect_amplitude, p.arms["K"].effect_tau_days
    expected = amp * np.mean(np.exp(-np.arange(1, 4) / tau))  # -1.1 * 0.699 = -0.77
    data = simulate_trial(KETAPAIN, n_patients=2000, seed=8, missing="none")
    d = data.diary.merge(data.allocation[["patient_id", "period", "treatment"]])
    early = d[d["day"] <= 3].groupby("treatment")["avg_pain"].mean()
    late = d[d["day"] >= 25].groupby("treatment")["avg_pain"].mean()
    diff = early["K"] - early["P"]
    assert diff == pytest.approx(expected, abs=0.15)
    assert abs(late["K"] - late["P"]) < 0.1  # the effect has waned by day 25


def test_ab_ba_example_works():
    proto = load_protocol("ab_ba_example")
    data = simulate_trial(proto, n_patients=24, seed=1)
    assert set(data.allocation["treatment"]) == {"L", "P"}
    assert data.diary["max_pain"].isna().all()  # not a diary item of that protocol
    assert set(data.diary["day"]) == set(range(1, 29))
    # stratified by sex: every patient's id carries its stratum
    p = data.patients
    assert (p["patient_id"].str[0] == p["sex"]).all()
    q = data.questionnaires
    assert len(score_frame("bpi", q[q["instrument"] == "bpi"])) == 24 * 3


def test_unknown_arm_without_fallback_is_a_clear_error():
    values = dict(load_parameters().values)
    values["default_arm"] = {"like": "Z"}
    with pytest.raises(ProtocolError, match=r"arm 'L' is not under \[arms\].*like='Z'"):
        simulate_trial(load_protocol("ab_ba_example"), n_patients=4, seed=1, parameters=values)


def test_bad_options():
    with pytest.raises(ProtocolError, match="missing='sometimes'"):
        simulate_trial(KETAPAIN, seed=1, missing="sometimes")
    with pytest.raises(ProtocolError, match="n_patients=0"):
        simulate_trial(KETAPAIN, seed=1, n_patients=0)


def test_published_figures_follow_the_json():
    figs = published_figures()
    assert figs["table2_auc.icc_day35"] == 0.89
    assert figs["adverse_events.terms_pct.K.fatigue"] == 20
    assert figs["table1_baseline.pain_type_n_pct.postsurgery.all.n"] == 9
    assert figs["adverse_events.patients_with_related_ae.KM.n"] == 7
    assert set(KNOWN_OUTSIDE) <= set(figs)


def test_calibration_every_figure_not_known_outside_is_inside():
    figures = calibrate(KETAPAIN, trials=200, seed=2024)
    names = {f.figure for f in figures}
    assert {"table2_auc.average_pain.day35.K.mean", "table2_auc.icc_day7",
            "table3_questionnaires.npsi_total.K.mean", "adverse_events.terms_pct.K.fatigue"} <= names
    unexpected = [f for f in figures if not f.inside and f.figure not in KNOWN_OUTSIDE]
    assert unexpected == []
    for f in figures:
        assert f.sim_q025 <= f.sim_median <= f.sim_q975


def _app() -> typer.Typer:
    from ketapain.cli import app

    return app


def test_cli_simulate_writes_a_trial(tmp_path):
    out = tmp_path / "trial"
    r = CliRunner().invoke(_app(), ["simulate", "--seed", "3", "--out", str(out), "--missing", "mar"])
    assert r.exit_code == 0, r.output
    assert "20 patients" in r.output
    data = TrialData.read(out)
    assert data.meta["missing"] == "mar" and len(data.patients) == 20


def test_cli_simulate_error_exits_1(tmp_path):
    r = CliRunner().invoke(_app(), ["simulate", "--seed", "3", "--out", str(tmp_path / "x"), "--missing", "bad"])
    assert r.exit_code == 1 and r.stderr == "error: --missing 'bad' is not one of mcar, mar, mnar, none\n"


def test_cli_calibrate_json():
    r = CliRunner().invoke(_app(), ["calibrate", "--seed", "1", "--trials", "10", "--json"])
    assert r.exit_code in (0, 1)
    start = r.output.index("[")
    end = r.output.rindex("]") + 1
    rows = json.loads(r.output[start:end])
    assert set(rows[0]) == {"figure", "published", "sim_q025", "sim_median", "sim_q975", "inside"}
    # exit 1 exactly when an undocumented figure is outside
    unexpected = [x for x in rows if not x["inside"] and x["figure"] not in KNOWN_OUTSIDE]
    assert r.exit_code == (1 if unexpected else 0)


def test_calibrate_checks_trials_and_seed():
    with pytest.raises(ProtocolError, match=r"trials=1 must be an integer in \[2, 100000\]"):
        calibrate(KETAPAIN, trials=1, seed=1)
    with pytest.raises(ProtocolError, match=r"seed=-3 must be an integer >= 0"):
        calibrate(KETAPAIN, trials=2, seed=-3)
    with pytest.raises(ProtocolError, match=r"seed=1.5 must be an integer >= 0"):
        simulate_trial(KETAPAIN, seed=1.5)  # type: ignore[arg-type]


# --- limits before work (issue 14) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--patients", "100000000", "--out", "{tmp}/x"],
         "error: --patients: 100000000 patients; at most 10000 in one simulated trial\n"),
        (["simulate", "--protocol", "{tmp}/long.toml", "--patients", "9000", "--out", "{tmp}/x"],
         "error: --patients: 9000 patients x 3 periods x 365 diary days = 9855000 diary days simulated at once; "
         "at most 2000000: fewer patients\n"),
        (["calibrate", "--trials", "100000000"], "error: --trials 100000000 must be an integer in [2, 100000]\n"),
        (["power", "--patients", "3:100000000000", "--sims", "10"],
         "error: --patients '3:100000000000': 100000000000 patients; at most 10000 in one simulated trial\n"),
        (["power", "--patients", "3,50000", "--sims", "10"],
         "error: --patients: 50000 patients; at most 10000 in one simulated trial\n"),
        # issue 21: a power block holds min(500, 2e6 // (n P D)) trials, at least one: one trial is the limit
        (["power", "--protocol", "{tmp}/long.toml", "--patients", "9500", "--sims", "10", "--quiet"],
         "error: --patients: 9500 patients x 3 periods x 365 diary days = 10402500 diary days simulated "
         "at once; at most 10000000: fewer patients\n"),
        (["power", "--patients", "30", "--sims", "100000000"], "error: --sims 100000000 must be an integer in [1, 100000]\n"),
    ],
)
def test_cli_sizes_are_refused_before_work(tmp_path, args, message, monkeypatch):
    import ketapain.simulate._core as core

    def never(*a, **k):
        raise AssertionError("simulation started")

    monkeypatch.setattr(core, "_patients", never)
    text = (sim_protocol_text().replace("period_days = 35", "period_days = 365")
            .replace("days_per_period = 35", "days_per_period = 365"))
    (tmp_path / "long.toml").write_text(text, encoding="utf-8")
    r = CliRunner().invoke(_app(), [a.replace("{tmp}", str(tmp_path)) for a in args] + ["--seed", "1"])
    assert r.exit_code == 1, r.output
    assert r.stderr.endswith(message), r.stderr
    assert not (tmp_path / "x").exists()


def sim_protocol_text() -> str:
    from importlib import resources

    return (resources.files("ketapain.protocol") / "files" / "ketapain.toml").read_text(encoding="utf-8")


def test_library_sizes_are_refused_with_fields(tmp_path):
    with pytest.raises(ProtocolError, match=r"^n_patients: 20000 patients; at most 10000 in one simulated trial$") as info:
        simulate_trial("ketapain", n_patients=20_000, seed=1)
    assert (info.value.column, info.value.value) == ("n_patients", 20_000)
    from ketapain.errors import ModelError

    text = (sim_protocol_text().replace("period_days = 35", "period_days = 365")
            .replace("days_per_period = 35", "days_per_period = 365"))
    (tmp_path / "long.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match=r"^n: 9500 patients x 3 periods x 365 diary days = 10402500"):
        sim.simulate_power(load_protocol(tmp_path / "long.toml"), n=[12, 9500], sims=10, seed=1)


def test_no_blinding_guesses_for_a_protocol_whose_visits_do_not_list_them():
    # issue 18: the guesses were put at the last visit of any protocol, so a trial simulated
    # from the `ketapain init` AB/BA template failed `ketapain check` against that very protocol
    # (unknown_instrument 'blinding')
    from ketapain.data import check_trial
    from ketapain.protocol import Protocol, data_contract, protocol_template

    protocol = Protocol.from_toml_text(protocol_template("ab/ba"))
    trial = sim.simulate_trial(protocol, seed=20, n_patients=8, missing="none")
    assert "blinding" not in set(trial.questionnaires["instrument"])
    assert set(trial.questionnaires["instrument"]) == {"bpi", "hads", "pgic"}
    result = check_trial(trial, data_contract(protocol))
    assert result.ok and result.kinds() == ()

"""``dose``, ``eligibility``, ``consort`` and ``gate`` on a local Typer app, run with CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain.cli import app

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


# --- dose ------------------------------------------------------------------------------------


def test_dose_json_km_78kg() -> None:
    res = run("dose", "--weight", 78, "--arm", "KM", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["arm"] == "KM" and data["weight_kg"] == 78.0
    k, m = data["components"]
    # 0.5 x 78 = 39 mg; 39 / 50 = 0.78 ml; 45 - 0.78 = 44.22 ml; 45 ml / 2 h = 22.5 ml/h
    assert (k["infusion"], k["drug"], k["duration_min"], k["final_volume_ml"]) == ("bag_45ml", "ketamine", 120.0, 45.0)
    assert k["dose_mg"] == pytest.approx(39.0) and k["draw_ml"] == pytest.approx(0.78)
    assert k["diluent_ml"] == pytest.approx(44.22) and k["rate_ml_per_h"] == pytest.approx(22.5)
    # 3000 mg / 150 mg/ml = 20 ml = 2 ampoules; + 230 ml = 250 ml; 250 ml / 0.5 h = 500 ml/h
    assert (m["drug"], m["dose_mg"], m["units"], m["final_volume_ml"], m["duration_min"]) == ("magnesium sulfate", 3000.0, 2, 250.0, 30.0)
    assert m["draw_ml"] == pytest.approx(20.0) and m["diluent_ml"] == pytest.approx(230.0) and m["rate_ml_per_h"] == pytest.approx(500.0)


def test_dose_json_placebo_and_vial() -> None:
    data = json.loads(run("dose", "--weight", 78, "--arm", "P", "--json").stdout)
    assert [(c["drug"], c["dose_mg"], c["draw_ml"], c["final_volume_ml"], c["rate_ml_per_h"]) for c in data["components"]] == [
        ("NaCl 0.9%", 0.0, 0.0, 45.0, 22.5), ("NaCl 0.9%", 0.0, 0.0, 250.0, 500.0)]
    data = json.loads(run("dose", "--weight", 78, "--arm", "K", "--ketamine-vial", "10 mg/ml", "--json").stdout)
    assert data["components"][0]["draw_ml"] == pytest.approx(3.9)  # 39 mg / 10 mg/ml


def test_dose_text_prints_sheet_and_blinded_label() -> None:
    res = run("dose", "--weight", 78, "--arm", "KM", "--kit", "X7K2QP", "--patient", "P07", "--period", 2)
    assert res.exit_code == 0, res.output
    sheet, label = res.stdout.split("cut here")
    assert "UNBLINDED" in sheet and "arm: KM (ketamine/magnesium)" in sheet and "draw 0.78 ml of 50 mg/ml" in sheet
    assert "kit: X7K2QP" in label and "patient: P07" in label and "pump rate: 22.5 ml/h" in label
    assert "ketamine" not in label.lower() and "magnesium" not in label.lower() and "KM" not in label


def test_dose_ab_ba_with_generic_vial() -> None:
    res = run("dose", "--protocol", "ab_ba_example", "--weight", 70, "--arm", "L", "--vial", "lidocaine=1 g/50 ml", "--json")
    assert res.exit_code == 0, res.output
    (c,) = json.loads(res.stdout)["components"]
    assert c["dose_mg"] == 350.0 and c["draw_ml"] == pytest.approx(17.5)  # 1 g / 50 ml = 20 mg/ml


@pytest.mark.parametrize(("args", "message"), [
    (("--weight", 250, "--arm", "KM"), "error: --weight 250 is outside the protocol's weights range 30..200 kg"),
    (("--weight", 78, "--arm", "X"), "error: unknown arm 'X'; arms: P, K, KM"),
    (("--weight", 78, "--arm", "K", "--ketamine-vial", "50"), "error: vial strength '50' is not understood"),
    (("--weight", 78, "--arm", "K", "--ketamine-vial", "0mg/ml"), "error: vial strength '0mg/ml' is not > 0 mg/ml"),
    (("--weight", 100, "--arm", "K", "--ketamine-vial", "1mg/ml"), "use a stronger vial"),
    (("--weight", 78, "--arm", "K", "--vial", "ketamine"), "error: --vial 'ketamine' is not DRUG=STRENGTH"),
    (("--weight", 78, "--arm", "K", "--protocol", "nope"), "error: nope: no such protocol file"),
])
def test_dose_errors(args: tuple, message: str) -> None:
    res = run("dose", *args)
    assert res.exit_code == 1
    assert message in res.stderr and res.stdout == ""


# --- eligibility --------------------------------------------------------------------------


ANSWERS = {
    "age": 54, "pain_duration_months": 30, "pain_origin": "central", "iv_ketamine_indicated": True,
    "previous_ketamine": False, "history_compatible_with_lesion": True, "pain_in_neuroanatomical_territory": True,
    "sensory_signs_on_examination": True, "previous_iv_ketamine": False, "ketamine_contraindication": False,
    "magnesium_contraindication": False, "saline_contraindication": False, "incompatible_history_or_drugs": False,
    "childbearing_without_contraception": False, "pregnant_or_lactating": False, "in_other_trial": False,
    "unable_to_comply": False,
    "dn4_items": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 0, "7": 0, "8": 0, "9": 0, "10": 0},
}


def write_json(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(data))
    return path


def test_eligibility_eligible(tmp_path: Path) -> None:
    res = run("eligibility", write_json(tmp_path, ANSWERS))
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("ELIGIBLE: all 18 criteria met") and "score dn4.total = 5" in res.stdout


def test_eligibility_json_names_every_failure(tmp_path: Path) -> None:
    answers = {k: v for k, v in ANSWERS.items() if k != "unable_to_comply"} | {"age": 17}
    res = run("eligibility", write_json(tmp_path, answers), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["eligible"] is False
    assert [(f["id"], f["reason"], f["value"]) for f in data["failed"]] == [
        ("inc_age", "inclusion not met", 17), ("exc_unable_to_comply", "not answered", None)]


def test_eligibility_ab_ba(tmp_path: Path) -> None:
    res = run("eligibility", write_json(tmp_path, {"age": 40, "dn4_total": 2, "conduction_disorder": False}),
              "--protocol", "ab_ba_example")
    assert res.exit_code == 0 and res.stdout.startswith("NOT ELIGIBLE: 1 of 3 criteria failed") and "inc_dn4" in res.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object of answers, got list"),
    (json.dumps({"dn4_items": [1, 0]}), "dn4_items must be an object"),
    (json.dumps({**ANSWERS, "age": "old"}), "criterion inc_age (age): 'old' is a text"),
    (json.dumps({**ANSWERS, "dn4_items": {"1": 3}}), "error:"),
])
def test_eligibility_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "a.json"
    path.write_text(content)
    res = run("eligibility", path)
    assert res.exit_code == 1 and message in res.stderr and res.stderr.startswith("error: ")


def test_eligibility_missing_file(tmp_path: Path) -> None:
    res = run("eligibility", tmp_path / "none.json")
    assert res.exit_code == 1 and "cannot read" in res.stderr


# --- consort --------------------------------------------------------------------------------


def write_reference_csvs(tmp_path: Path) -> tuple[Path, Path, Path]:
    patients = [f"P{i:02d}" for i in range(1, 21)]
    screening = ["screening_id,eligible,outcome,reason,patient_id"]
    screening += [f"S{i:02d},true,randomised,,{p}" for i, p in enumerate(patients, 1)]
    screening += ["S21,true,refused,distance,", "S22,true,refused,,", "S23,false,not_eligible,DN4 < 4,"]
    allocation = ["patient_id,period,infusion_date"] + [f"{p},{k},2016-0{k}-04" for p in patients for k in (1, 2, 3)]
    diary = ["patient_id,period,day,avg_pain"] + [f"{p},{k},{d},5" for p in patients for k in (1, 2, 3) for d in (1, 2)]
    paths = tmp_path / "screening.csv", tmp_path / "allocation.csv", tmp_path / "diary.csv"
    for path, lines in zip(paths, (screening, allocation, diary), strict=True):
        path.write_text("\n".join(lines) + "\n")
    return paths


def test_consort_reference_flow_json(tmp_path: Path) -> None:
    screening, allocation, diary = write_reference_csvs(tmp_path)
    res = run("consort", screening, "--allocation", allocation, "--diary", diary, "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (data["n_screened"], data["n_refused"], data["n_not_eligible"], data["n_randomised"],
            data["n_completed"], data["n_analysed"]) == (23, 2, 1, 20, 20, 20)
    assert data["not_eligible_reasons"] == {"DN4 < 4": 1}
    assert [p["received"] for p in data["periods"]] == [20, 20, 20]


def test_consort_text(tmp_path: Path) -> None:
    screening, allocation, _ = write_reference_csvs(tmp_path)
    res = run("consort", screening, "--allocation", allocation)
    assert res.exit_code == 0, res.output
    assert "Screened: 23" in res.stdout and "Randomised: 20" in res.stdout
    assert "Period 3: allocated 20, received 20, completed n/a, analysed n/a" in res.stdout


def test_consort_errors_name_the_file(tmp_path: Path) -> None:
    screening, _, _ = write_reference_csvs(tmp_path)
    screening.write_text(screening.read_text().replace("S22,true,refused", "S22,true,declined"))
    res = run("consort", screening)
    assert res.exit_code == 1
    assert "error: screening.csv row 23: outcome='declined' is not one of" in res.stderr
    res = run("consort", tmp_path / "missing.csv")
    assert res.exit_code == 1 and "cannot read" in res.stderr


def test_consort_without_a_screening_log(tmp_path: Path) -> None:
    _, allocation, diary = write_reference_csvs(tmp_path)
    res = run("consort", "--allocation", allocation, "--diary", diary)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("Screened: not recorded\n") and "Randomised: 20" in res.stdout
    res = run("consort", "--allocation", allocation, "--json")
    assert json.loads(res.stdout)["n_screened"] is None
    res = run("consort")
    assert res.exit_code == 1 and "neither a screening log nor an allocation" in res.stderr


# --- gate ------------------------------------------------------------------------------------


def test_gate_decisions() -> None:
    res = run("gate", "--pain-today", 6, "--pain-inclusion", 7)
    assert res.exit_code == 0 and res.stdout.strip() == "PROCEED: |6 - 7| = 1 points <= tolerance 2; proceed"
    res = run("gate", "--pain-today", 3, "--pain-inclusion", 7, "--period", 2)
    assert res.stdout.startswith("period 2: POSTPONE: |3 - 7| = 4 points > tolerance 2")
    res = run("gate", "--pain-today", 3, "--pain-inclusion", 7, "--days-postponed", 14, "--json")
    data = json.loads(res.stdout)
    assert data["decision"] == "escalate" and "exceeds max postponement" in data["reason"]
    res = run("gate", "--pain-today", 5, "--pain-inclusion", 7, "--protocol", "ab_ba_example")
    assert res.stdout.startswith("POSTPONE")  # 2 > 1.5


def test_gate_errors() -> None:
    res = run("gate", "--pain-today", 12, "--pain-inclusion", 7)
    assert res.exit_code == 1 and res.stderr == "error: --pain-today 12 is outside 0..10 (the diary scale)\n"
    res = run("gate", "--pain-today", 5, "--pain-inclusion", 7, "--period", 1)
    assert res.exit_code == 1 and res.stderr == "error: --period 1: the gate applies before periods 2..3\n"

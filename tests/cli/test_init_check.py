"""``ketapain init``, ``ketapain check`` and the check ``ketapain analyze`` runs first (issue 18).

The analysed trial is the hand-written AB/BA trial of tests/handmade.py: 8 patients, diary
items avg_pain and max_pain only (no night_pain), BPI/HADS/PGIC, adverse events.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import handmade
from ketapain.cli import app
from ketapain.data import read_trial
from ketapain.protocol import load_protocol

runner = CliRunner()


@pytest.mark.parametrize(("args", "codes", "periods"), [
    ([], ("A", "B"), 2),
    (["--design", "ab/ba"], ("A", "B"), 2),
    (["--design", "williams", "--arms", "3"], ("A", "B", "C"), 3),
    (["--design", "williams", "--arms", "4"], ("A", "B", "C", "D"), 4),
    (["--design", "abab/baba"], ("A", "B"), 4),
])
def test_init_writes_a_protocol_that_loads_and_templates_check_accepts(tmp_path: Path, args: list[str],
                                                                        codes: tuple[str, ...], periods: int) -> None:
    out = tmp_path / "trial"
    res = runner.invoke(app, ["init", str(out), *args])
    assert res.exit_code == 0, res.output
    proto = load_protocol(out / "protocol.toml")
    assert proto.arm_codes == codes and proto.design.periods == periods
    assert proto.diary.items == ("avg_pain", "max_pain")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "protocol.toml", "patients.csv", "allocation.csv", "diary.csv", "questionnaires.csv",
         "adverse_events.csv", "concomitant.csv", "screening.csv"])
    assert (out / "diary.csv").read_text().splitlines() == [
        "patient_id,period,day,avg_pain,max_pain,extra_analgesics,extra_analgesics_detail"]
    assert "night_pain" not in "".join(p.read_text() for p in out.iterdir())
    assert "end_period_1" in (out / "README.md").read_text()
    checked = runner.invoke(app, ["check", str(out), "--protocol", str(out / "protocol.toml")])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[-1].startswith(f"OK: {out} against protocol 'my_trial'")
    assert "warning: empty_table: 3 warnings" in checked.stdout
    assert read_trial(out).diary.empty  # and the library reads the templates


@pytest.mark.parametrize(("route", "slot", "dose"), [
    ("iv_infusion", "[[infusions]]", "{ mg = 100 }"),
    ("oral", 'route = "oral"', "{ mg_per_unit = 75 }"),
    ("transdermal_patch", 'route = "transdermal_patch"', "{ mcg_per_h = 25 }"),
    ("injection", 'route = "injection"', "{ mg = 100 }"),
    ("inhaled", 'route = "inhaled"', "{ mcg_per_actuation = 100 }"),
])
@pytest.mark.parametrize("design", [["--design", "ab/ba"], ["--design", "williams", "--arms", "3"]])
def test_init_route_writes_that_route_and_check_accepts_its_templates(
        tmp_path: Path, route: str, slot: str, dose: str, design: list[str]) -> None:
    out = tmp_path / "trial"
    res = runner.invoke(app, ["init", str(out), *design, "--route", route])
    assert res.exit_code == 0, res.output
    text = (out / "protocol.toml").read_text()
    proto = load_protocol(out / "protocol.toml")
    assert proto.routes == (route,)
    assert slot in text and f"dose = {dose}" in text
    assert ("[[infusions]]" in text) == (route == "iv_infusion")  # no fake infusion for another route
    assert ("[[administrations]]" in text) == (route != "iv_infusion")
    assert [c.dose.kind for c in proto.arms[-1].components] == ["placebo"]
    checked = runner.invoke(app, ["check", str(out)])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[-1].startswith(f"OK: {out} against protocol 'my_trial'")


def test_init_default_route_is_the_iv_template_and_an_unknown_route_is_refused(tmp_path: Path) -> None:
    assert runner.invoke(app, ["init", str(tmp_path / "a")]).exit_code == 0
    assert runner.invoke(app, ["init", str(tmp_path / "b"), "--route", "iv_infusion"]).exit_code == 0
    assert (tmp_path / "a" / "protocol.toml").read_text() == (tmp_path / "b" / "protocol.toml").read_text()
    res = runner.invoke(app, ["init", str(tmp_path / "c"), "--route", "rectal"])
    assert res.exit_code == 1 and res.stderr.splitlines() == [
        "error: --route 'rectal': unknown route; allowed: iv_infusion, oral, transdermal_patch, injection, inhaled"]
    assert not (tmp_path / "c").exists()
    assert "default: one IV bag" in " ".join(runner.invoke(app, ["init", "--help"]).stdout.split())


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    out = tmp_path / "trial"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    res = runner.invoke(app, ["init", str(out)])
    assert res.exit_code == 1
    assert res.stderr == f"error: {out} is not empty; pass --overwrite to write the templates into it\n"
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    forced = runner.invoke(app, ["init", str(out), "--overwrite"])
    assert forced.exit_code == 0, forced.output
    assert (out / "notes.txt").read_text() == "mine" and (out / "protocol.toml").is_file()


def test_init_from_a_protocol_file_uses_its_diary_items_and_visits(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "src" / "ketapain" / "protocol" / "files" / "ab_ba_example.toml"
    out = tmp_path / "trial"
    res = runner.invoke(app, ["init", str(out), "--from-protocol", str(source)])
    assert res.exit_code == 0, res.output
    assert (out / "protocol.toml").read_text() == source.read_text()
    assert (out / "diary.csv").read_text().splitlines()[0] == \
        "patient_id,period,day,avg_pain,extra_analgesics,extra_analgesics_detail"
    assert runner.invoke(app, ["check", str(out)]).exit_code == 0
    both = runner.invoke(app, ["init", str(tmp_path / "other"), "--from-protocol", str(source), "--design", "ab/ba"])
    assert both.exit_code == 1 and both.stderr == ("error: --design, --arms and --route make a template; "
                                                   "--from-protocol copies a protocol: give one or the other\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--design", "williams"], "error: a williams template needs --arms (3 or 4)"),
    (["--design", "williams", "--arms", "5"], "error: a williams template has 3 or 4 arms; --arms 5 is not allowed"),
    (["--design", "ab/ba", "--arms", "3"], "error: design 'ab/ba' has 2 arms; --arms 3 is not allowed"),
    (["--design", "abba"], "error: --design 'abba': unknown design; allowed: ab/ba, williams, abab/baba"),
])
def test_init_refuses_a_design_it_cannot_write(tmp_path: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, ["init", str(tmp_path / "trial"), *args])
    assert res.exit_code == 1 and res.stderr.splitlines() == [message]
    assert not (tmp_path / "trial").exists()


@pytest.fixture
def handmade_dir(tmp_path: Path) -> Path:
    return handmade.write(tmp_path / "trial")


def _unmatched_visit(folder: Path) -> int:
    """Rename P02's end_period_1 visit to 'week_3'; return how many rows changed."""
    q = pd.read_csv(folder / "questionnaires.csv", dtype=str)
    rows = (q["patient_id"] == "P02") & (q["visit"] == "end_period_1")
    q.loc[rows, "visit"] = "week_3"
    q.to_csv(folder / "questionnaires.csv", index=False)
    return int(rows.sum())


def test_check_lists_problems_by_kind_and_exits_1(handmade_dir: Path) -> None:
    n = _unmatched_visit(handmade_dir)
    res = runner.invoke(app, ["check", str(handmade_dir)])
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0] == "error: unknown_visit: 1 error - a questionnaire visit that is not a visit of the protocol"
    assert lines[1].startswith("error:   questionnaires.csv rows ") and f"; {n} rows in all" in lines[1]
    assert res.stderr == (f"error: {handmade_dir}: 1 error(s), 0 warning(s) against protocol 'handmade_ab_ba' "
                          f"({handmade_dir / 'protocol.toml'})\n")


def test_check_needs_a_protocol(tmp_path: Path) -> None:
    folder = handmade.write(tmp_path / "trial")
    (folder / "protocol.toml").unlink()
    res = runner.invoke(app, ["check", str(folder)])
    assert res.exit_code == 1
    assert res.stderr.startswith(f"error: {folder}: no protocol: give one with --protocol NAME|FILE, put it in ")
    given = runner.invoke(app, ["check", str(folder), "--protocol", str(tmp_path / "none.toml")])
    assert given.exit_code == 1 and "none.toml" in given.stderr


def test_analyze_refuses_an_unmatched_visit_and_lenient_makes_it_a_report_warning(handmade_dir: Path,
                                                                                 tmp_path: Path) -> None:
    _unmatched_visit(handmade_dir)
    out = tmp_path / "report"
    args = ["analyze", str(handmade_dir), "--out", str(out), "--seed", "1", "--no-pdf", "--no-sensitivity", "--quiet"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    lines = refused.stderr.splitlines()
    assert lines[0] == "error: unknown_visit: 1 error - a questionnaire visit that is not a visit of the protocol"
    assert lines[-1] == (f"error: {handmade_dir} does not fit protocol 'handmade_ab_ba' "
                         f"({handmade_dir / 'protocol.toml'}); nothing analysed (`ketapain check {handmade_dir}` "
                         "lists the same problems)")
    assert "Report:" not in refused.stdout and not out.exists()

    lenient = runner.invoke(app, [*args, "--lenient", "unknown_visit"])
    assert lenient.exit_code == 0, lenient.output
    assert lenient.stderr.splitlines()[0] == ("warning: unknown_visit: 1 warning - a questionnaire visit that is "
                                              "not a visit of the protocol")
    warnings = json.loads((out / "results.json").read_text())["warnings"]
    data = [w for w in warnings if w["section"] == "data"]
    assert [(w["kind"], w["outcome"]) for w in data] == [("data_check", "unknown_visit")]
    assert "visit='week_3' is not a visit of protocol 'handmade_ab_ba'" in data[0]["message"]
    assert "week_3" in (out / "index.html").read_text()


def test_analyze_refuses_a_kind_that_cannot_be_lenient(handmade_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["analyze", str(handmade_dir), "--out", str(tmp_path / "r"), "--lenient",
                              "invalid_data", "--no-pdf", "--quiet"])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == ["error: --lenient 'invalid_data': invalid_data cannot be made lenient; "
                                       "allowed: no_allocation, unknown_instrument, unknown_visit"]


def test_a_hand_written_ab_ba_trial_without_night_pain_is_analysed(handmade_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    res = runner.invoke(app, ["analyze", str(handmade_dir), "--out", str(out), "--seed", "7", "--no-pdf", "--quiet"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [f"note: protocol 'handmade_ab_ba' ({handmade_dir / 'protocol.toml'})"]
    assert res.stdout.splitlines() == ["seed 7", f"Report: {out / 'index.html'}"]
    results = json.loads((out / "results.json").read_text())
    assert "night_pain" not in json.dumps(results) and "night" not in (out / "index.html").read_text()
    tables = results["tables"]
    assert {row["endpoint"] for row in tables["table2"]} == {"auc_avg_pain_d21", "auc_max_pain_d21"}
    assert {row["value"] for row in tables["table2"]} == {"avg_pain", "max_pain"}
    assert results["study"]["n_patients"] == 8 and results["study"]["arms"][1]["placebo"] is True
    primary = [row for row in tables["table2"] if row["endpoint"] == "auc_avg_pain_d21"]
    assert [(row["treatment"], row["n"]) for row in primary] == [("A", 8), ("B", 8)]
    instruments = {row["instrument"] for row in tables["table3"]}
    assert instruments == {"bpi", "hads", "pgic"}
    assert not [w for w in results["warnings"] if w["section"] == "data"]


def test_lenient_unknown_instrument_and_no_allocation_are_left_out(handmade_dir: Path, tmp_path: Path) -> None:
    q = pd.read_csv(handmade_dir / "questionnaires.csv", dtype=str)
    extra = pd.DataFrame({"patient_id": ["P01", "P02"], "visit": ["end_period_1"] * 2, "instrument": ["sf36"] * 2,
                          "item": ["1", "1"], "value": ["3", "4"]})
    pd.concat([q, extra]).to_csv(handmade_dir / "questionnaires.csv", index=False)
    patients = pd.read_csv(handmade_dir / "patients.csv", dtype=str)
    pd.concat([patients, patients.iloc[[0]].assign(patient_id="P09")]).to_csv(handmade_dir / "patients.csv",
                                                                             index=False)
    out = tmp_path / "report"
    args = ["analyze", str(handmade_dir), "--out", str(out), "--seed", "1", "--no-pdf", "--no-sensitivity", "--quiet"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert [ln.split(":")[1].strip() for ln in refused.stderr.splitlines() if not ln.startswith("error:   ")][:2] == \
        ["no_allocation", "unknown_instrument"]
    done = runner.invoke(app, [*args, "--lenient", "unknown_instrument,no_allocation"])
    assert done.exit_code == 0, done.output
    results = json.loads((out / "results.json").read_text())
    data = [w["outcome"] for w in results["warnings"] if w["section"] == "data"]
    assert data == ["no_allocation", "unknown_instrument"]
    assert "sf36" not in {row["instrument"] for row in results["tables"]["table3"]}
    assert any(w["kind"] == "rows_left_out" and "'sf36' are listed by no visit" in w["message"]
               for w in results["warnings"])
    assert results["study"]["n_patients"] == 8


def test_a_diary_item_the_reference_study_does_not_have(tmp_path: Path) -> None:
    # nothing of the reference study is assumed: the primary endpoint's item is 'pain_now', an
    # extra diary column (text when read from CSV) that the protocol alone makes an item
    folder = handmade.write(tmp_path / "trial")
    text = (folder / "protocol.toml").read_text().replace("avg_pain", "pain_now")
    (folder / "protocol.toml").write_text(text)
    diary = pd.read_csv(folder / "diary.csv").rename(columns={"avg_pain": "pain_now"})
    diary.loc[4, "pain_now"] = 11.0
    diary.to_csv(folder / "diary.csv", index=False)
    out = tmp_path / "report"
    args = ["analyze", str(folder), "--out", str(out), "--seed", "1", "--no-pdf", "--no-sensitivity", "--quiet"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[:2] == [
        "error: diary_value: 1 error - a diary value is not a number on the protocol's diary scale",
        "error:   diary.csv row 6: pain_now=11 is not a number in 0..10 (the diary scale)"]
    diary.loc[4, "pain_now"] = 10.0
    diary.to_csv(folder / "diary.csv", index=False)
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    table2 = json.loads((out / "results.json").read_text())["tables"]["table2"]
    primary = [(row["treatment"], row["n"]) for row in table2 if row["endpoint"] == "auc_pain_now_d21"]
    assert primary == [("A", 8), ("B", 8)]


def test_check_refuses_auc_anchored_at_a_pain_before_that_is_never_given(tmp_path: Path) -> None:
    # issue 18: an oral trial's spreadsheet has no pain before the first capsule; with [auc]
    # time_axis = "infusion" every AUC started at that blank value and the report had no AUC at all
    folder = handmade.write(tmp_path / "trial")
    allocation = handmade.tables()["allocation"].assign(pre_infusion_pain=None)
    allocation.to_csv(folder / "allocation.csv", index=False)
    res = runner.invoke(app, ["check", str(folder)])
    assert res.exit_code == 1
    assert res.stdout.splitlines() == [
        "error: no_auc_anchor: 1 error - the AUCs start at pre_infusion_pain, which is blank on every allocation row",
        "error:   allocation.csv: pre_infusion_pain is blank on all 16 rows, and protocol 'handmade_ab_ba' starts every "
        "AUC on day 0 at it ([auc] time_axis = \"infusion\"), so no AUC can be computed: fill in the pain before the "
        "period's first dose or infusion, or set time_axis = \"first_diary_day\" (the AUC then starts at diary day 1)"]
    allocation.loc[0, "pre_infusion_pain"] = 6.0  # one value: the other periods are missing data, not a misfit
    allocation.to_csv(folder / "allocation.csv", index=False)
    assert runner.invoke(app, ["check", str(folder)]).exit_code == 0
    allocation.assign(pre_infusion_pain=None).to_csv(folder / "allocation.csv", index=False)
    text = (folder / "protocol.toml").read_text()
    (folder / "protocol.toml").write_text(text.replace('time_axis = "infusion"', 'time_axis = "first_diary_day"'))
    assert runner.invoke(app, ["check", str(folder)]).exit_code == 0


def test_a_simulated_or_imported_trial_can_be_written_into_the_init_folder(tmp_path: Path) -> None:
    """The own-trial rehearsal: `ketapain init`, then the twin's data (or an import) written into
    that folder with --overwrite; protocol.toml and README.md stay, and the commands that read
    the folder find its protocol there. Before, both were refused ("holds files that are not
    trial files (README.md, protocol.toml)")."""
    from ketapain.cli._common import PROTOCOL_FILE
    from ketapain.cli._init import README_FILE
    from ketapain.data._io import COMPANION_FILES

    assert set(COMPANION_FILES) == {PROTOCOL_FILE, README_FILE}  # the names init writes are the ones kept
    trial = tmp_path / "my_trial"
    assert runner.invoke(app, ["init", str(trial)]).exit_code == 0
    protocol_text = (trial / "protocol.toml").read_text(encoding="utf-8")
    readme = (trial / "README.md").read_text(encoding="utf-8")
    res = runner.invoke(app, ["simulate", "--protocol", str(trial / "protocol.toml"), "--patients", "6", "--seed", "1",
                              "--out", str(trial)])
    assert res.exit_code == 1 and "pass --overwrite" in res.stderr  # the templates are there: not without --overwrite
    res = runner.invoke(app, ["simulate", "--protocol", str(trial / "protocol.toml"), "--patients", "6", "--seed", "1",
                              "--out", str(trial), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (trial / "protocol.toml").read_text(encoding="utf-8") == protocol_text
    assert (trial / "README.md").read_text(encoding="utf-8") == readme
    assert len(read_trial(trial).patients) == 6
    res = runner.invoke(app, ["check", str(trial)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["export", str(trial), "--format", "odm", "--out", str(tmp_path / "odm")])
    assert res.exit_code == 0, res.output  # the protocol is found in the folder (meta.json names 'my_trial', not shipped)
    res = runner.invoke(app, ["import", str(tmp_path / "odm" / "my_trial.odm.xml"), "--format", "odm",
                              "--protocol", str(trial / "protocol.toml"), "--out", str(trial), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (trial / "protocol.toml").read_text(encoding="utf-8") == protocol_text
    assert len(read_trial(trial).patients) == 6


def test_a_folder_naming_an_unshipped_protocol_says_how_to_give_it(tmp_path: Path) -> None:
    trial = tmp_path / "my_trial"
    assert runner.invoke(app, ["init", str(trial)]).exit_code == 0
    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", "--protocol", str(trial / "protocol.toml"), "--patients", "4", "--seed", "2",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["export", str(out), "--format", "odm", "--out", str(tmp_path / "odm")])
    assert res.exit_code == 1
    assert res.stderr == (f"error: {out}: meta.json names protocol 'my_trial', which is neither a shipped protocol "
                          "(ab_ba_example, ketapain, oral_ab_ba_example) nor a file; give it with --protocol FILE or put it "
                          f"in {out}/protocol.toml\n")
    res = runner.invoke(app, ["export", str(out), "--format", "odm", "--out", str(tmp_path / "odm"),
                              "--protocol", str(trial / "protocol.toml")])
    assert res.exit_code == 0, res.output

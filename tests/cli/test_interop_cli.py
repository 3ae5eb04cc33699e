"""``ketapain export`` / ``ketapain import`` through Typer's CliRunner.

The formats themselves are tested in tests/interop; here: every format is reachable, files
land where the help says, a round trip through the CLI gives back the same trial, and user
errors exit 1 with a message on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.data import TrialData
from ketapain.interop import canonical_order
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

runner = CliRunner()


@pytest.fixture(scope="module")
def trial_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trial") / "data"
    simulate_trial(load_protocol("ketapain"), n_patients=6, seed=11).write(folder)
    return folder


@pytest.mark.parametrize(("fmt", "expected"), [
    ("sdtm", ["dm.xpt", "ex.xpt", "ae.xpt", "cm.xpt", "qs.xpt", "se.xpt", "ta.xpt", "te.xpt", "define_variables.csv",
              "define.xml"]),
    ("adam", ["adsl.xpt", "adauc.xpt", "adqs.xpt", "define_variables.csv", "define.xml"]),
    ("stata", ["ketapain_auc.dta", "ketapain_scores.dta", "ketapain_models.do"]),
    ("odm", ["ketapain.odm.xml"]),
    ("redcap-dictionary", ["data_dictionary.csv", "instrument_event_mapping.csv", "records.csv", "mapping.json"]),
    ("fhir", ["ketapain.fhir.json"]),
])
def test_export_every_format(trial_dir: Path, tmp_path: Path, fmt: str, expected: list[str]) -> None:
    out = tmp_path / fmt
    res = runner.invoke(app, ["export", str(trial_dir), "--format", fmt, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"as {fmt} to {out}" in res.stdout
    for name in expected:
        assert (out / name).is_file(), name


def test_sdtm_dm_has_one_row_per_patient(trial_dir: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["export", str(trial_dir), "--format", "sdtm", "--out", str(tmp_path / "s")])
    dm, _meta = pyreadstat.read_xport(str(tmp_path / "s" / "dm.xpt"))
    assert len(dm) == TrialData.read(trial_dir).patients.shape[0] == 6
    assert {"STUDYID", "DOMAIN", "USUBJID", "SEX", "ARMCD"} <= set(dm.columns)


def test_sdtm_export_lists_missing_required_values_and_takes_a_meddra_csv(trial_dir: Path, tmp_path: Path) -> None:
    # the simulated trial has site, country, race and questionnaire dates: a copy without them
    bare = TrialData.read(trial_dir)
    tables = bare.to_tables()
    tables["patients"] = tables["patients"].assign(site_id=None, country=None, race=None)
    tables["questionnaires"] = tables["questionnaires"].assign(completed_date=pd.NaT)
    TrialData.from_tables(**tables, meta=bare.meta).write(tmp_path / "bare")
    res = runner.invoke(app, ["export", str(tmp_path / "bare"), "--format", "sdtm", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert "warning: DM.COUNTRY is blank in 6 record(s) (USUBJID=KETAPAIN-P001" in res.stderr
    assert "warning: AE.AEDECOD is blank" in res.stderr
    terms = TrialData.read(trial_dir).adverse_events["term"].unique()
    csv = tmp_path / "meddra.csv"
    pd.DataFrame({"term": terms, "AEDECOD": [t.replace("_", " ").capitalize() for t in terms]}).to_csv(csv, index=False)
    res = runner.invoke(app, ["export", str(trial_dir), "--format", "sdtm", "--out", str(tmp_path / "m"), "--meddra", str(csv)])
    assert res.exit_code == 0, res.output
    assert "AE.AEDECOD" not in res.stderr
    ae, _meta = pyreadstat.read_xport(str(tmp_path / "m" / "ae.xpt"))
    assert (ae["AEDECOD"] != "").all()
    res = runner.invoke(app, ["export", str(trial_dir), "--format", "adam", "--out", str(tmp_path / "a"), "--meddra", str(csv)])
    assert res.exit_code == 1 and "--meddra applies to --format sdtm only" in res.stderr


@pytest.mark.parametrize("fmt", ["odm", "redcap"])
def test_export_then_import_gives_the_same_trial(trial_dir: Path, tmp_path: Path, fmt: str) -> None:
    exported = tmp_path / "exp"
    runner.invoke(app, ["export", str(trial_dir), "--format", "odm" if fmt == "odm" else "redcap-dictionary",
                        "--out", str(exported)])
    source = exported / ("ketapain.odm.xml" if fmt == "odm" else "records.csv")
    extra = [] if fmt == "odm" else ["--mapping", str(exported / "mapping.json")]
    res = runner.invoke(app, ["import", str(source), "--format", fmt, "--out", str(tmp_path / "back"), *extra])
    assert res.exit_code == 0, res.output
    assert "6 patients" in res.stdout
    back_data = TrialData.read(tmp_path / "back")
    assert f"6 patients, {len(back_data.diary)} diary rows, {len(back_data.questionnaires)} questionnaire rows" in res.stdout
    original, back = canonical_order(TrialData.read(trial_dir)), TrialData.read(tmp_path / "back")
    for table in ("patients", "allocation", "diary", "questionnaires", "adverse_events", "concomitant", "screening"):
        want = original.table(table).reset_index(drop=True)
        pd.testing.assert_frame_equal(back.table(table).reset_index(drop=True), want, obj=table)


def test_fhir_import_keeps_patients_and_questionnaires(trial_dir: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["export", str(trial_dir), "--format", "fhir", "--out", str(tmp_path / "f")])
    res = runner.invoke(app, ["import", str(tmp_path / "f" / "ketapain.fhir.json"), "--format", "fhir",
                              "--out", str(tmp_path / "back")])
    assert res.exit_code == 0, res.output
    back = TrialData.read(tmp_path / "back")
    original = TrialData.read(trial_dir)
    assert sorted(back.patients["patient_id"]) == sorted(original.patients["patient_id"])
    # the printed counts are those of the folder written (issue 20: it printed "0 patients",
    # counting allocated patients, and a Bundle holds no allocation)
    assert len(back.questionnaires) == len(original.questionnaires) > 0
    assert (f"into {tmp_path / 'back'}: 6 patients, 0 diary rows, {len(original.questionnaires)} questionnaire rows"
            in res.stdout)


def test_user_errors_exit_1(trial_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["export", str(trial_dir), "--format", "xls", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "xls" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = runner.invoke(app, ["import", str(bad), "--format", "fhir", "--out", str(tmp_path / "y")])
    assert res.exit_code == 1 and "bad.json: not valid JSON: Expecting property name" in res.stderr
    odm = tmp_path / "bad.xml"
    odm.write_text("<ODM><Study>")
    res = runner.invoke(app, ["import", str(odm), "--format", "odm", "--out", str(tmp_path / "z")])
    assert res.exit_code == 1 and res.stderr.startswith("error:")
    res = runner.invoke(app, ["import", str(odm), str(bad), "--format", "odm", "--out", str(tmp_path / "z")])
    assert res.exit_code == 1 and "imports one file; got 2" in res.stderr
    res = runner.invoke(app, ["export", str(tmp_path / "missing"), "--format", "odm", "--out", str(tmp_path / "w")])
    assert res.exit_code == 1 and res.stderr.startswith("error:")
    assert not (tmp_path / "z").exists() and not (tmp_path / "w").exists()


def test_redcap_dictionary_refuses_to_replace_a_mapping_without_overwrite(trial_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "redcap"
    out.mkdir()
    (out / "mapping.json").write_text('{"mine": true}\n')
    (out / "notes.txt").write_text("user notes")
    res = runner.invoke(app, ["export", str(trial_dir), "--format", "redcap-dictionary", "--out", str(out)])
    assert res.exit_code == 1
    assert res.stderr.strip() == f"error: {out} already holds mapping.json; pass --overwrite to replace them"
    assert sorted(p.name for p in out.iterdir()) == ["mapping.json", "notes.txt"]
    assert (out / "mapping.json").read_text() == '{"mine": true}\n'
    res = runner.invoke(app, ["export", str(trial_dir), "--format", "redcap-dictionary", "--out", str(out), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert "fields" in json.loads((out / "mapping.json").read_text())
    assert (out / "notes.txt").read_text() == "user notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["redcap"]


@pytest.mark.parametrize("fmt", ["odm", "fhir"])
def test_single_file_exports_refuse_without_overwrite(trial_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / fmt
    first = runner.invoke(app, ["export", str(trial_dir), "--format", fmt, "--out", str(out)])
    assert first.exit_code == 0, first.output
    written = next(out.iterdir())
    written.write_text("user edit")
    again = runner.invoke(app, ["export", str(trial_dir), "--format", fmt, "--out", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    assert written.read_text() == "user edit"
    forced = runner.invoke(app, ["export", str(trial_dir), "--format", fmt, "--out", str(out), "--overwrite"])
    assert forced.exit_code == 0, forced.output
    assert written.read_text() != "user edit" and [p.name for p in out.iterdir()] == [written.name]


# --- bad inputs end in one error line (issue 14) ---------------------------------------------


def test_fhir_import_reads_utf16_with_a_bom(trial_dir: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["export", str(trial_dir), "--format", "fhir", "--out", str(tmp_path / "f")])
    text = (tmp_path / "f" / "ketapain.fhir.json").read_text(encoding="utf-8")
    for encoding in ("utf-16", "utf-32", "utf-8-sig"):
        src = tmp_path / f"{encoding}.json"
        src.write_bytes(text.encode(encoding))
        res = runner.invoke(app, ["import", str(src), "--format", "fhir", "--out", str(tmp_path / encoding)])
        assert res.exit_code == 0, res.output
        back = TrialData.read(tmp_path / encoding)
        assert sorted(back.patients["patient_id"]) == sorted(TrialData.read(trial_dir).patients["patient_id"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"resourceType": "Bundle"}'.encode("utf-16-le"),
         "error: nobom.json: contains NUL bytes: it looks like UTF-16 or UTF-32 without a byte-order mark; save it as "
         "UTF-8 (or UTF-16 with a byte-order mark)\n"),
        (b'{"resourceType": "Bundle\xe9"}', "error: nobom.json: cannot decode as UTF-8 (byte 0xe9 at 24); save it as "
         "UTF-8 (or UTF-16 with a byte-order mark)\n"),
        (b"[" * 100_000, "error: nobom.json: not valid JSON: nested too deeply (a JSON file here nests a few levels)\n"),
        (b'{"total": 1' + b"0" * 5000 + b"}", "error: nobom.json: not valid JSON: an integer has more than 4300 digits\n"),
    ],
)
def test_fhir_import_bad_files_are_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    src = tmp_path / "nobom.json"
    src.write_bytes(content)
    res = runner.invoke(app, ["import", str(src), "--format", "fhir", "--out", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    assert res.stderr == message
    assert not (tmp_path / "out").exists()


def test_redcap_import_of_a_header_only_export(tmp_path: Path) -> None:
    header = (Path(__file__).parents[1] / "interop" / "data" / "redcap_records.csv").read_text(encoding="utf-8").splitlines()[0]
    for name, text in (("header.csv", header + "\n"), ("blank_rows.csv", header + "\n\n" + "," * header.count(",") + "\n")):
        src = tmp_path / name
        src.write_text(text, encoding="utf-8")
        res = runner.invoke(app, ["import", str(src), "--format", "redcap", "--out", str(tmp_path / "out")])
        assert res.exit_code == 1, res.output
        assert res.stderr == (f"error: {name}: the REDCap export has a header but no records; export the project's "
                              "records (Data Exports: all records, raw values, CSV)\n")
        assert not (tmp_path / "out").exists()

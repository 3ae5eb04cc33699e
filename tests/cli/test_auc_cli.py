"""Tests of the ``auc`` command (registered on a local Typer app, run with CliRunner)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain.cli import app

runner = CliRunner()

# Patient 1: anchor 5, days 1..3 = 6, 4, missing.  Patient 2: anchor 2, days 3, missing, 5.
DIARY = """patient_id,period,day,avg_pain,max_pain
1,1,1,6,7
1,1,2,4,5
1,1,3,,6
2,1,1,3,3
2,1,2,,4
2,1,3,5,5
"""
ANCHOR = """patient_id,period,pre_infusion_pain
1,1,5
2,1,2
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    diary = tmp_path / "diary.csv"
    anchor = tmp_path / "anchor.csv"
    diary.write_text(DIARY)
    anchor.write_text(ANCHOR)
    return diary, anchor


def run(*args: object):
    return runner.invoke(app, ["auc", *map(str, args)])


def test_json_output_locf(files):
    diary, anchor = files
    result = run(diary, "--anchor", anchor, "--windows", "2,3", "--impute", "locf", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    payload = json.loads(result.stdout)
    assert {k: payload[k] for k in ("time_axis", "impute", "value", "windows")} == {
        "time_axis": "infusion",
        "impute": "locf",
        "value": "avg_pain",
        "windows": [2, 3],
    }
    # Patient 1: 0.5*(5+6) + 0.5*(6+4) = 10.5; day 3 carries 4: + 0.5*(4+4) = 14.5
    # Patient 2: day 2 carries 3: 0.5*(2+3) + 0.5*(3+3) = 5.5; + 0.5*(3+5) = 9.5
    assert payload["auc"] == [
        {"patient_id": 1, "period": 1, "window_day": 2, "auc": 10.5, "n_observed": 3, "n_imputed": 0},
        {"patient_id": 1, "period": 1, "window_day": 3, "auc": 14.5, "n_observed": 3, "n_imputed": 1},
        {"patient_id": 2, "period": 1, "window_day": 2, "auc": 5.5, "n_observed": 2, "n_imputed": 1},
        {"patient_id": 2, "period": 1, "window_day": 3, "auc": 9.5, "n_observed": 3, "n_imputed": 1},
    ]


def test_json_nan_is_null_and_warning_on_stderr(files):
    diary, anchor = files
    result = run(diary, "--anchor", anchor, "--windows", "1,2", "--json")
    assert result.exit_code == 0, result.output
    aucs = [row["auc"] for row in json.loads(result.stdout)["auc"]]
    # Patient 2 day 2 is missing and impute=none: W=2 is null.
    assert aucs == [5.5, 10.5, 2.5, None]
    assert result.stderr.startswith("warning: 1 of 4 avg_pain AUCs")


def test_table_output_states_axis_and_imputation(files):
    diary, anchor = files
    result = run(diary, "--anchor", anchor, "--windows", "2,3", "--impute", "linear")
    assert result.exit_code == 0, result.output
    assert "time axis: infusion, impute: linear" in result.stdout
    assert "score-days" in result.stdout
    # Patient 2, linear: day 2 = (3+5)/2 = 4 -> W=3: 0.5*(2+3) + 0.5*(3+4) + 0.5*(4+5) = 10.5
    assert re.search(r"│ 2 +│ +1 │ +3 │ +10\.50 │ +3 │ +1 │", result.stdout)
    # Patient 1 day 3 is after the last observation -> NA
    assert re.search(r"│ 1 +│ +1 │ +3 │ +NA │ +3 │ +0 │", result.stdout)


def test_anchor_taken_from_diary_column_and_subject_alias(tmp_path):
    diary = tmp_path / "with_pre.csv"
    diary.write_text(
        "subject,period,day,avg_pain,pre_infusion_pain\n"
        "1,1,1,6,5\n1,1,2,4,\n1,1,3,4,\n"
        "2,1,1,3,2\n2,1,2,3,2\n2,1,3,5,2\n"
    )
    result = run(diary, "--windows", "3", "--json")
    assert result.exit_code == 0, result.output
    # Patient 1: 0.5*(5+6) + 0.5*(6+4) + 0.5*(4+4) = 14.5
    # Patient 2: 0.5*(2+3) + 0.5*(3+3) + 0.5*(3+5) = 2.5 + 3 + 4 = 9.5
    assert [row["auc"] for row in json.loads(result.stdout)["auc"]] == [14.5, 9.5]


def test_conflicting_pre_infusion_pain_in_diary(tmp_path):
    diary = tmp_path / "conflict.csv"
    diary.write_text("patient_id,period,day,avg_pain,pre_infusion_pain\n1,1,1,6,5\n1,1,2,4,6\n")
    result = run(diary, "--windows", "2")
    assert result.exit_code == 1
    assert "pre_infusion_pain takes several values for patient_id=1, period=1" in result.stderr


def test_first_diary_day_axis_and_other_value(files):
    diary, _ = files
    result = run(diary, "--time-axis", "first_diary_day", "--value", "max_pain", "--windows", "3", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["time_axis"] == "first_diary_day" and payload["value"] == "max_pain"
    # Patient 1: 0.5*(7+5) + 0.5*(5+6) = 11.5; patient 2: 0.5*(3+4) + 0.5*(4+5) = 8
    assert [row["auc"] for row in payload["auc"]] == [11.5, 8.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--windows", "7,x"], "error: --windows '7,x' must be comma-separated whole days"),
        (["--windows", "9"], "error: --windows: 9 is beyond the last diary day in diary (3)\n"),
        (["--windows", "3", "--impute", "mean"], "error: --impute 'mean' is not one of none, locf, linear\n"),
        (["--windows", "3", "--time-axis", "day0"], "error: --time-axis 'day0' is not one of infusion, first_diary_day\n"),
        (["--windows", "3", "--value", "nope"], "error: diary has no column 'nope'"),
    ],
)
def test_user_errors_exit_1_with_message_on_stderr(files, args, message):
    diary, anchor = files
    result = run(diary, "--anchor", anchor, *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message)


def test_missing_anchor_on_infusion_axis(files):
    diary, _ = files
    result = run(diary, "--windows", "3")
    assert result.exit_code == 1
    assert "give --anchor" in result.stderr and "--time-axis first_diary_day" in result.stderr


def test_bad_files(tmp_path, files):
    _, anchor = files
    result = run(tmp_path / "absent.csv", "--anchor", anchor)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot read the diary file")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = run(empty, "--anchor", anchor)
    assert result.exit_code == 1
    assert "cannot read the diary file" in result.stderr
    bad_value = tmp_path / "bad.csv"
    bad_value.write_text("patient_id,period,day,avg_pain\n1,1,1,3\n1,1,2,11\n")
    result = run(bad_value, "--windows", "2", "--time-axis", "first_diary_day")
    assert result.exit_code == 1
    # row 3 is the line of the file: the header is row 1
    assert result.stderr == "error: bad.csv row 3: avg_pain=11 is outside 0..10\n"


def test_scale_takes_a_vas_and_refuses_what_is_off_it(tmp_path):
    diary, anchor = tmp_path / "diary.csv", tmp_path / "anchor.csv"
    diary.write_text("patient_id,period,day,avg_pain\n1,1,1,60\n1,1,2,40\n")
    anchor.write_text("patient_id,period,pre_infusion_pain\n1,1,50\n")
    result = run(diary, "--anchor", anchor, "--windows", "2", "--scale", "0..100", "--json")
    assert result.exit_code == 0, result.output
    assert [row["auc"] for row in json.loads(result.stdout)["auc"]] == [105.0]  # (50 + 60)/2 + (60 + 40)/2
    result = run(diary, "--anchor", anchor, "--windows", "2")  # the default scale, 0..10
    assert result.exit_code == 1
    assert result.stderr.startswith("error: diary.csv row 2: avg_pain=60 is outside 0..10")
    for bad, message in (("0-100", "error: --scale '0-100' is not LOW..HIGH"),
                         ("100..0", "error: --scale (100.0, 0.0) must be (low, high): two finite numbers with low < high")):
        result = run(diary, "--anchor", anchor, "--windows", "2", "--scale", bad)
        assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr

"""Spreadsheet import: both diary layouts from CSV and from Excel .xlsx, the mapping file's
checks, located errors, and round trips to a known literal trial."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.data import TrialData
from ketapain.errors import DataError
from ketapain.interop import import_spreadsheet, load_spreadsheet_mapping
from ketapain.operations import consort_flow
from ketapain.protocol import load_protocol

runner = CliRunner()

@pytest.fixture(scope="module")
def protocol():
    return load_protocol("ketapain")


# --- the known literal trial -----------------------------------------------------------------

PATIENT_ROWS = [  # ID, Sex (coded 1 = M, 2 = F), Age, Weight, Height, Pain, Years, DN4
    ["P01", 2, 54, 61.5, 1.62, "radiculopathy", 4.5, 6],
    ["P02", 1, 38, 80, 1.8, "postsurgery", 2, 5],
]
PATIENT_HEADER = ["ID", "Sex", "Age", "Weight", "Height", "Pain", "Years", "DN4"]
TREATMENTS = {"P01": ["P", "K", "KM"], "P02": ["K", "KM", "P"]}
# (patient, period, day) -> avg, max, night (None = missing)
PAIN = {
    ("P01", 1, 1): (6, 8, 5), ("P01", 1, 2): (None, None, None),
    ("P01", 2, 1): (4, 5.5, 3), ("P01", 2, 2): (3, 4, 2),
    ("P01", 3, 1): (5, 6, 4), ("P01", 3, 2): (5, 7, 4),
    ("P02", 1, 1): (7, 9, 6), ("P02", 1, 2): (6.5, 8, 6),
    ("P02", 2, 1): (2, 3, 1), ("P02", 2, 2): (2, 3, 2),
    ("P02", 3, 1): (8, 9, 7), ("P02", 3, 2): (8, 10, 7),
}
INFUSIONS = {"P01": ["2016-01-18", "2016-02-22", "2016-03-28"], "P02": ["2016-01-25", "2016-02-29", "2016-04-04"]}

MAPPING_TOML = """
[patients]
file = "{patients_file}"
{patients_sheet}
[patients.columns]
patient_id = "ID"
sex = "Sex"
age_years = "Age"
weight_kg = "Weight"
height_m = "Height"
pain_type = "Pain"
pain_duration_years = "Years"
dn4_total = "DN4"

[patients.codes.sex]
"1" = "M"
"2" = "F"

[diary]
file = "{diary_file}"
{diary_sheet}
layout = "patient-period-day"
patient_id = "Patient"
period = "Period"
day = "Day"
treatment = "Treatment"

[diary.items]
avg_pain = "Average pain"
max_pain = "Worst pain"
night_pain = "Night pain"
"""


def expected_trial(protocol, *, with_infusions: bool = False) -> TrialData:
    """The literal trial every import below must give."""
    patients = pd.DataFrame({"patient_id": ["P01", "P02"], "sex": ["F", "M"], "age_years": [54, 38], "weight_kg": [61.5, 80.0],
                             "height_m": [1.62, 1.8], "pain_type": ["radiculopathy", "postsurgery"],
                             "pain_duration_years": [4.5, 2.0], "dn4_total": [6, 5]})
    allocation = pd.DataFrame({"patient_id": ["P01"] * 3 + ["P02"] * 3, "period": [1, 2, 3] * 2,
                               "sequence": ["P-K-KM"] * 3 + ["K-KM-P"] * 3, "treatment": ["P", "K", "KM", "K", "KM", "P"],
                               "pre_infusion_pain": [np.nan] * 6})
    if with_infusions:
        allocation = allocation.assign(infusion_date=INFUSIONS["P01"] + INFUSIONS["P02"], pre_infusion_pain=[7, 6, 6.5, 8, 5, 7.5])
    diary = pd.DataFrame([{"patient_id": p, "period": k, "day": d, "avg_pain": v[0], "max_pain": v[1], "night_pain": v[2]}
                          for (p, k, d), v in PAIN.items()]).astype({"avg_pain": float, "max_pain": float, "night_pain": float})
    meta = {"study": protocol.study.title, "protocol_id": "ketapain", "source": "spreadsheet-import"}
    return TrialData.from_tables(patients=patients, allocation=allocation, diary=diary, meta=meta)


def diary_rows() -> list[list[object]]:
    """Patient, Period, Day, Treatment, Average pain, Worst pain, Night pain."""
    return [[p, k, d, TREATMENTS[p][k - 1], *v] for (p, k, d), v in PAIN.items()]


DIARY_HEADER = ["Patient", "Period", "Day", "Treatment", "Average pain", "Worst pain", "Night pain"]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


def mapping(tmp_path: Path, text: str, **fields: str) -> Path:
    defaults = {"patients_file": "patients.csv", "diary_file": "diary.csv", "patients_sheet": "", "diary_sheet": ""}
    path = tmp_path / "mapping.toml"
    path.write_text(text.format(**{**defaults, **fields}), encoding="utf-8")
    return path


def assert_same(data: TrialData, expected: TrialData) -> None:
    for name, table in expected.to_tables().items():
        pd.testing.assert_frame_equal(data.table(name), table, obj=name)
    assert data.equals(expected)


# --- round trips ----------------------------------------------------------------------------


def test_patient_period_day_from_csv(protocol, tmp_path) -> None:
    files = [write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS),
             write_csv(tmp_path / "diary.csv", [*DIARY_HEADER, "Comment"], [[*r, "ok"] for r in diary_rows()])]
    result = import_spreadsheet(files, mapping=mapping(tmp_path, MAPPING_TOML), protocol=protocol)
    assert_same(result.data, expected_trial(protocol))
    text = result.summary()
    assert "diary: 12 row(s) from diary.csv" in text
    assert "not imported (not in the mapping): diary.csv column(s) 'Comment'" in text
    assert "screening: not recorded" in text and "allocation.pre_infusion_pain" in text


def test_patient_period_day_from_xlsx_with_numbers_and_blank_rows(protocol, tmp_path) -> None:
    rows = diary_rows()
    book = write_xlsx(tmp_path / "trial.xlsx", {"Patients": [PATIENT_HEADER, *PATIENT_ROWS],
                                                "Diary": [DIARY_HEADER, *rows[:3], [None] * 7, *rows[3:]]})
    m = mapping(tmp_path, MAPPING_TOML, patients_file="trial.xlsx", diary_file="trial.xlsx",
                patients_sheet='sheet = "Patients"', diary_sheet='sheet = "Diary"')
    result = import_spreadsheet(book, mapping=m, protocol=protocol)
    assert_same(result.data, expected_trial(protocol))
    assert ("diary", "trial.xlsx sheet Diary", 12, 1) in result.sheets


def test_patient_day_by_study_day(protocol, tmp_path) -> None:
    """Study day 1 = the day after the first infusion; periods of 35 days, no washout."""
    rows = [[p, (k - 1) * 35 + d, TREATMENTS[p][k - 1], *v] for (p, k, d), v in PAIN.items()]
    write_csv(tmp_path / "diary.csv", ["Patient", "Study day", "Treatment", "Average pain", "Worst pain", "Night pain"], rows)
    write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS)
    text = MAPPING_TOML.replace('layout = "patient-period-day"', 'layout = "patient-day"').replace(
        'period = "Period"\nday = "Day"', 'study_day = "Study day"')
    result = import_spreadsheet([tmp_path / "diary.csv", tmp_path / "patients.csv"], mapping=mapping(tmp_path, text), protocol=protocol)
    assert_same(result.data, expected_trial(protocol))


DATE_MAPPING = """
[patients]
sheet = "Patients"
[patients.columns]
patient_id = "ID"
sex = "Sex"
age_years = "Age"
weight_kg = "Weight"
height_m = "Height"
pain_type = "Pain"
pain_duration_years = "Years"
dn4_total = "DN4"
[patients.codes.sex]
"1" = "M"
"2" = "F"

[allocation]
sheet = "Allocation"
date_format = "{fmt}"
[allocation.columns]
patient_id = "Patient"
period = "Period"
sequence = "Sequence"
treatment = "Treatment"
infusion_date = "Infusion date"
pre_infusion_pain = "Pain before"

[diary]
sheet = "Diary"
header_row = 3
date_format = "{fmt}"
layout = "patient-day"
patient_id = "Patient"
date = "Date"
[diary.items]
avg_pain = "Average pain"
max_pain = "Worst pain"
night_pain = "Night pain"
"""


def _date_book(tmp_path: Path, *, as_text: str = "%Y-%m-%d") -> Path:
    """An allocation and a diary whose dates are Excel date cells for P01 and text for P02."""
    def cell(pid: str, iso: str) -> object:
        d = dt.date.fromisoformat(iso)
        return dt.datetime(d.year, d.month, d.day) if pid == "P01" else d.strftime(as_text)

    pre = {"P01": [7, 6, 6.5], "P02": [8, 5, 7.5]}
    seqs = {"P01": "P-K-KM", "P02": "K-KM-P"}
    alloc = [["Patient", "Period", "Sequence", "Treatment", "Infusion date", "Pain before"]]
    alloc += [[p, k, seqs[p], TREATMENTS[p][k - 1], cell(p, INFUSIONS[p][k - 1]), pre[p][k - 1]] for p in ("P01", "P02") for k in (1, 2, 3)]
    diary = [["Diary of the trial (exported 2017-01-01)"], [], ["Patient", "Date", "Average pain", "Worst pain", "Night pain"]]
    for (p, k, d), v in PAIN.items():
        day = dt.date.fromisoformat(INFUSIONS[p][k - 1]) + dt.timedelta(days=d)
        diary.append([p, cell(p, day.isoformat()), *v])
    return write_xlsx(tmp_path / "trial.xlsx", {"Patients": [PATIENT_HEADER, *PATIENT_ROWS], "Allocation": alloc, "Diary": diary})


@pytest.mark.parametrize("fmt", ["%Y-%m-%d", "%d/%m/%Y"])
def test_patient_day_by_date_from_date_cells_and_text_dates(protocol, tmp_path, fmt) -> None:
    book = _date_book(tmp_path, as_text=fmt)
    (tmp_path / "m.toml").write_text(DATE_MAPPING.format(fmt=fmt), encoding="utf-8")
    result = import_spreadsheet(book, mapping=tmp_path / "m.toml", protocol=protocol)
    assert_same(result.data, expected_trial(protocol, with_infusions=True))


def test_text_date_in_another_format_names_the_fix(protocol, tmp_path) -> None:
    book = _date_book(tmp_path, as_text="%d/%m/%Y")
    (tmp_path / "m.toml").write_text(DATE_MAPPING.replace('date_format = "{fmt}"\n', ""), encoding="utf-8")
    with pytest.raises(DataError) as err:
        import_spreadsheet(book, mapping=tmp_path / "m.toml", protocol=protocol)
    msg = str(err.value)
    # P02's first infusion is on the Allocation sheet's row 5 (header row 1, three P01 rows)
    assert "trial.xlsx sheet Allocation row 5: column 'Infusion date' (allocation.infusion_date): '25/01/2016' is not a date " \
           "%Y-%m-%d (for another format set date_format in the mapping" in msg


def test_washout_and_out_of_period_days_are_errors_listing_rows(protocol, tmp_path) -> None:
    washout = protocol.model_copy(update={"design": protocol.design.model_copy(update={"washout_days": 7})})
    rows = [["P01", 1, "P", 5, 6, 4], ["P01", 0, "P", 5, 6, 4], ["P01", 36, "P", 5, 6, 4], ["P01", 43, "K", 5, 6, 4],
            ["P01", 200, "KM", 5, 6, 4]]
    write_csv(tmp_path / "diary.csv", ["Patient", "Study day", "Treatment", "Average pain", "Worst pain", "Night pain"], rows)
    write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS)
    text = MAPPING_TOML.replace('layout = "patient-period-day"', 'layout = "patient-day"').replace(
        'period = "Period"\nday = "Day"', 'study_day = "Study day"')
    with pytest.raises(DataError) as err:
        import_spreadsheet([tmp_path / "diary.csv", tmp_path / "patients.csv"], mapping=mapping(tmp_path, text), protocol=washout)
    msg = str(err.value)
    assert msg.startswith("diary.csv, patients.csv: 4 problems, nothing imported")
    assert "diary.csv row 3: column 'Study day' (diary.study_day): 0 is before the first infusion" in msg
    assert "diary.csv row 4: column 'Study day' (diary.study_day): 36 falls in the washout after period 1 (its days 36..42)" in msg
    assert "diary.csv row 6: column 'Study day' (diary.study_day): 200 is after the last period (3 periods of 42 days)" in msg
    # and, of the rows left, P01 has periods 1 and 2 only: its sequence is not known without a sequence column
    assert "diary.csv: patient P01 has diary rows in period(s) 1, 2 only" in msg


# --- value errors, located ------------------------------------------------------------------


def test_text_in_a_pain_column_names_sheet_row_column_value_range(protocol, tmp_path) -> None:
    rows = diary_rows()
    rows[4][4] = "n/a"  # sheet row 6 (header = row 1)
    book = write_xlsx(tmp_path / "trial.xlsx", {"Patients": [PATIENT_HEADER, *PATIENT_ROWS], "Diary": [DIARY_HEADER, *rows]})
    m = mapping(tmp_path, MAPPING_TOML, patients_file="trial.xlsx", diary_file="trial.xlsx",
                patients_sheet='sheet = "Patients"', diary_sheet='sheet = "Diary"')
    with pytest.raises(DataError) as err:
        import_spreadsheet(book, mapping=m, protocol=protocol)
    e = err.value
    assert str(e) == ("trial.xlsx sheet Diary row 6: column 'Average pain' (diary.items.avg_pain): 'n/a' is not a number; "
                      "allowed: 0..10 or blank")
    assert (e.source, e.row, e.column, e.value, e.allowed) == ("trial.xlsx sheet Diary", 6, "Average pain", "n/a", "0..10 or blank")


def test_every_value_problem_is_listed_and_nothing_is_imported(protocol, tmp_path) -> None:
    rows = diary_rows()
    rows[0][5] = 11          # row 2: outside 0..10 (written 11.0: the column holds blanks, so pandas writes floats)
    rows[2][3] = "X"         # row 4: not an arm code
    rows[3][2] = 1           # row 5: same patient, period and day as row 4
    rows[6][1] = 4           # row 8: no period 4
    patients = [list(r) for r in PATIENT_ROWS]
    patients[1][1] = 3       # not a sex code
    patients[0][2] = ""      # age required
    write_csv(tmp_path / "patients.csv", PATIENT_HEADER, patients)
    write_csv(tmp_path / "diary.csv", DIARY_HEADER, rows)
    with pytest.raises(DataError) as err:
        import_spreadsheet([tmp_path / "patients.csv", tmp_path / "diary.csv"], mapping=mapping(tmp_path, MAPPING_TOML),
                           protocol=protocol)
    msg = str(err.value)
    for part in ("patients.csv row 3: column 'Sex' (patients.sex): '3' is not one of the codes 1, 2",
                 "patients.csv row 2: column 'Age' (patients.age_years) is blank; a value is required (18..120)",
                 "diary.csv row 2: column 'Worst pain' (diary.items.max_pain): '11.0' is outside 0..10; allowed: 0..10 or blank",
                 "diary.csv row 4: column 'Treatment' (diary.treatment): 'X' is not one of 'P', 'K', 'KM' or blank",
                 "diary.csv row 8: column 'Period' (diary.period): '4' is outside 1..3",
                 "diary.csv: rows 4, 5 have the same patient_id P01, period 2, day 1"):
        assert part in msg, part


def test_conflicting_treatments_in_one_period(protocol, tmp_path) -> None:
    rows = diary_rows()
    rows[1][3] = "K"  # P01 period 1: P on row 2, K on row 3
    write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS)
    write_csv(tmp_path / "diary.csv", DIARY_HEADER, rows)
    with pytest.raises(DataError, match=r"diary.csv: column 'Treatment' \(diary.treatment\): patient P01, period 1 has treatments "
                                        r"'P', 'K' \(rows 2, 3\); one treatment per period"):
        import_spreadsheet([tmp_path / "patients.csv", tmp_path / "diary.csv"], mapping=mapping(tmp_path, MAPPING_TOML),
                           protocol=protocol)


def test_cross_table_problem_after_the_cells(protocol, tmp_path) -> None:
    write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS[:1])  # P02 missing from patients
    write_csv(tmp_path / "diary.csv", DIARY_HEADER, diary_rows())
    with pytest.raises(DataError, match=r"patients.csv, diary.csv: the imported tables do not form valid trial data .*\n.*\n.*'P02'"):
        import_spreadsheet([tmp_path / "patients.csv", tmp_path / "diary.csv"], mapping=mapping(tmp_path, MAPPING_TOML),
                           protocol=protocol)


# --- mapping and file errors ----------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    (("layout = \"patient-period-day\"", "layout = \"long\""),
     "mapping.toml: diary.layout: 'long' is not one of patient-period-day, patient-day"),
    (("period = \"Period\"", "perod = \"Period\""), "mapping.toml: [diary]: unknown key(s) 'perod'; allowed: file, sheet"),
    (("night_pain = \"Night pain\"", "night_pain = \"Night pain\"\nmood = \"Mood\""),
     "mapping.toml: diary.items.mood: 'mood' is not a diary item of protocol 'ketapain'; allowed: avg_pain, max_pain, night_pain, "
     "extra_analgesics, extra_analgesics_detail"),
    (("night_pain = \"Night pain\"", "night_pain = \"Average pain\""),
     "mapping.toml: diary.items.night_pain: sheet column 'Average pain' is already mapped to items.avg_pain"),
    (("sex = \"Sex\"\n", ""), "mapping.toml: patients.columns: required column(s) sex not mapped"),
    (("dn4_total = \"DN4\"", "dn4_total = \"DN4\"\nbmi = \"BMI\""),
     "mapping.toml: patients.columns.bmi: 'bmi' is not a column of patients"),
    (("treatment = \"Treatment\"\n", ""), "mapping.toml: allocation: missing: the diary needs an allocation"),
    (("[diary]", "[diary]\nheader_row = 0"), "mapping.toml: diary.header_row: must be a whole number >= 1"),
    (("[patients.codes.sex]", "[patients.codes.age]"), "mapping.toml: patients.codes.age: 'age' is not a mapped column"),
    (("day = \"Day\"", "day = \"Day\"\nstudy_day = \"Day\""), "mapping.toml: diary.study_day: only for layout 'patient-day'"),
    (("[patients.codes.sex]", "[patients.codes.sex"), "mapping.toml: not valid TOML"),
    (("[diary]", "[visits]\n[diary]"), "mapping.toml: [mapping]: unknown key(s) 'visits'"),
])
def test_mapping_errors(protocol, tmp_path, change, message) -> None:
    write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS)
    write_csv(tmp_path / "diary.csv", DIARY_HEADER, diary_rows())
    old, new = change
    assert old in MAPPING_TOML
    path = mapping(tmp_path, MAPPING_TOML.replace(old, new, 1))
    with pytest.raises(DataError) as err:
        import_spreadsheet([tmp_path / "patients.csv", tmp_path / "diary.csv"], mapping=path, protocol=protocol)
    assert message in str(err.value)
    assert err.value.source == "mapping.toml"


def test_mapping_needs_patients_and_one_allocation(protocol) -> None:
    with pytest.raises(DataError, match=r"mapping: patients: missing: a \[patients\] section"):
        load_spreadsheet_mapping({}, protocol=protocol)
    patients = {"columns": {"patient_id": "ID", "sex": "Sex", "age_years": "Age", "pain_type": "Pain"}}
    allocation = {"columns": {"patient_id": "ID", "period": "Period", "sequence": "Seq", "treatment": "Arm"}}
    diary = {"layout": "patient-day", "patient_id": "ID", "date": "Date", "items": {"avg_pain": "Pain"}}
    with pytest.raises(DataError, match=r"diary\.date: diary days by date need each period's infusion date"):
        load_spreadsheet_mapping({"patients": patients, "allocation": allocation, "diary": diary}, protocol=protocol)
    twice = {**diary, "treatment": "Arm"}
    with pytest.raises(DataError, match=r"diary\.treatment: the allocation is given twice"):
        load_spreadsheet_mapping({"patients": patients, "allocation": allocation, "diary": twice}, protocol=protocol)
    m = load_spreadsheet_mapping({"patients": patients, "allocation": allocation}, protocol=protocol)
    assert m.diary is None and set(m.tables) == {"patients", "allocation"}


def test_missing_column_and_sheet_and_file_kinds(protocol, tmp_path) -> None:
    write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS)
    write_csv(tmp_path / "diary.csv", [h.replace("Worst pain", "Max pain") for h in DIARY_HEADER], diary_rows())
    files = [tmp_path / "patients.csv", tmp_path / "diary.csv"]
    with pytest.raises(DataError) as err:
        import_spreadsheet(files, mapping=mapping(tmp_path, MAPPING_TOML), protocol=protocol)
    assert str(err.value).startswith("diary.csv: column 'Worst pain' (diary.max_pain) is not in the sheet; its columns: 'Patient'")
    with pytest.raises(DataError, match=r"diary\.sheet: diary\.csv is a CSV file, which has no sheets"):
        import_spreadsheet(files, mapping=mapping(tmp_path, MAPPING_TOML, diary_sheet='sheet = "Diary"'), protocol=protocol)
    with pytest.raises(DataError, match=r"diary.file: 'diary.xlsx' is not one of the files imported \(patients.csv, diary.csv\)"):
        import_spreadsheet(files, mapping=mapping(tmp_path, MAPPING_TOML, diary_file="diary.xlsx"), protocol=protocol)
    book = write_xlsx(tmp_path / "t.xlsx", {"Patients": [PATIENT_HEADER, *PATIENT_ROWS]})
    with pytest.raises(DataError, match=r"diary\.sheet: t\.xlsx has no sheet 'Diary'; its sheets: Patients"):
        import_spreadsheet(book, mapping=mapping(tmp_path, MAPPING_TOML, patients_file="t.xlsx", diary_file="t.xlsx",
                                                 diary_sheet='sheet = "Diary"'), protocol=protocol)
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DataError, match=r"old.xls: .xls: only .csv and .xlsx files are read"):
        import_spreadsheet(tmp_path / "old.xls", mapping=mapping(tmp_path, MAPPING_TOML, patients_file="old.xls",
                                                                 diary_file="old.xls"), protocol=protocol)


# --- without screening: CONSORT says unknown; the command line ------------------------------------


def test_no_screening_section_gives_consort_not_recorded(protocol, tmp_path) -> None:
    files = [write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS),
             write_csv(tmp_path / "diary.csv", DIARY_HEADER, diary_rows())]
    data = import_spreadsheet(files, mapping=mapping(tmp_path, MAPPING_TOML), protocol=protocol).data
    assert data.screening.empty
    flow = consort_flow(data.screening, data.allocation, diary=data.diary)
    assert not flow.screening_recorded and flow.n_screened is None and flow.n_randomised == 2
    assert flow.summary().startswith("Screened: not recorded")


def test_cli_imports_xlsx_and_writes_nothing_on_error(protocol, tmp_path) -> None:
    book = write_xlsx(tmp_path / "trial.xlsx", {"Patients": [PATIENT_HEADER, *PATIENT_ROWS], "Diary": [DIARY_HEADER, *diary_rows()]})
    m = mapping(tmp_path, MAPPING_TOML, patients_file="trial.xlsx", diary_file="trial.xlsx",
                patients_sheet='sheet = "Patients"', diary_sheet='sheet = "Diary"')
    out = tmp_path / "out"
    res = runner.invoke(app, ["import", str(book), "--format", "spreadsheet", "--mapping", str(m), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "diary: 12 row(s) from trial.xlsx sheet Diary" in res.output and "2 patients, 12 diary rows" in res.output
    assert_same(TrialData.read(out), expected_trial(protocol))
    res = runner.invoke(app, ["import", str(book), "--format", "spreadsheet", "--out", str(tmp_path / "o2")])
    assert res.exit_code == 1 and "--format spreadsheet needs --mapping" in res.output
    rows = diary_rows()
    rows[0][4] = "lots"
    write_xlsx(book, {"Patients": [PATIENT_HEADER, *PATIENT_ROWS], "Diary": [DIARY_HEADER, *rows]})
    res = runner.invoke(app, ["import", str(book), "--format", "spreadsheet", "--mapping", str(m), "--out", str(tmp_path / "o3")])
    assert res.exit_code == 1 and "trial.xlsx sheet Diary row 2: column 'Average pain'" in res.output
    assert not (tmp_path / "o3").exists()


def test_sequence_column_for_a_patient_who_left_early(protocol, tmp_path) -> None:
    seqs = {"P01": "P-K-KM", "P02": "K-KM-P"}
    rows = [[*r, seqs[str(r[0])]] for r in diary_rows() if not (r[0] == "P02" and r[1] == 3)]
    write_csv(tmp_path / "patients.csv", PATIENT_HEADER, PATIENT_ROWS)
    write_csv(tmp_path / "diary.csv", [*DIARY_HEADER, "Sequence"], rows)
    text = MAPPING_TOML.replace('treatment = "Treatment"', 'treatment = "Treatment"\nsequence = "Sequence"')
    data = import_spreadsheet([tmp_path / "patients.csv", tmp_path / "diary.csv"], mapping=mapping(tmp_path, text),
                              protocol=protocol).data
    alloc = data.allocation
    assert alloc[["patient_id", "period", "sequence", "treatment"]].values.tolist() == [
        ["P01", 1, "P-K-KM", "P"], ["P01", 2, "P-K-KM", "K"], ["P01", 3, "P-K-KM", "KM"],
        ["P02", 1, "K-KM-P", "K"], ["P02", 2, "K-KM-P", "KM"]]
    rows[0][-1] = "K-P-KM"  # P01's first row disagrees
    write_csv(tmp_path / "diary.csv", [*DIARY_HEADER, "Sequence"], rows)
    with pytest.raises(DataError, match=r"diary\.csv: column 'Sequence' \(diary\.sequence\): patient P01 has sequences "
                                        r"'K-P-KM', 'P-K-KM'; one sequence per patient"):
        import_spreadsheet([tmp_path / "patients.csv", tmp_path / "diary.csv"], mapping=mapping(tmp_path, text), protocol=protocol)


DOC = Path(__file__).resolve().parents[2] / "docs" / "import-spreadsheets.md"


def test_documented_example_1_imports_as_written(protocol, tmp_path) -> None:
    """docs/import-spreadsheets.md Example 1: its files and its command, exactly as shown."""
    text = DOC.read_text(encoding="utf-8")
    for name, body in re.findall(r"<!-- example-file: (\S+) -->\n```\w+\n(.*?)```", text, flags=re.S):
        (tmp_path / name).write_text(body, encoding="utf-8")
    command = re.search(r"<!-- example-run: [^>]*-->\n```bash\n(ketapain .*)\n```", text).group(1).split()
    args = [str(tmp_path / a) if (tmp_path / a).exists() or a.endswith("/") else a for a in command[1:]]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    data = TrialData.read(tmp_path / "trial-1")
    assert data.allocation.drop_duplicates("patient_id")["sequence"].tolist() == ["P-K-KM", "K-KM-P"]
    assert data.patients["sex"].tolist() == ["F", "M"] and data.patients["site_id"].tolist() == ["Lyon", "Lyon"]
    assert data.diary["extra_analgesics"].astype(object).fillna("blank").tolist() == [False, "blank", True, False, False, False, True]
    assert data.screening.empty
    # Example 2's mapping is valid for the protocol too
    load_spreadsheet_mapping(tmp_path / "mapping-2.toml", protocol=protocol)


QUESTIONNAIRE_MAPPING = """
[[questionnaires]]
sheet = "Questionnaires"
patient_id = "Patient"
visit = "Visit"
[questionnaires.items]
"dn4.1" = "DN4 Q1"
"dn4.2" = "DN4 Q2"
"psqi.1" = "Bedtime"
"pgic.1" = "PGIC"
"""


def _questionnaire_book(tmp_path: Path, rows: list[list[object]]) -> tuple[Path, Path]:
    sheets = {"Patients": [PATIENT_HEADER, *PATIENT_ROWS], "Diary": [DIARY_HEADER, *diary_rows()],
              "Questionnaires": [["Patient", "Visit", "DN4 Q1", "DN4 Q2", "Bedtime", "PGIC", "Note"], *rows]}
    book = write_xlsx(tmp_path / "trial.xlsx", sheets)
    m = mapping(tmp_path, MAPPING_TOML + QUESTIONNAIRE_MAPPING, patients_file="trial.xlsx", diary_file="trial.xlsx",
                patients_sheet='sheet = "Patients"', diary_sheet='sheet = "Diary"')
    return book, m


def test_questionnaires_wide_per_visit(protocol, tmp_path) -> None:
    """One row per patient and visit; a blank answer gives no row; bedtime as text or an Excel time cell."""
    rows = [["P01", "inclusion", 1, 0, "22:30", None, "fine"], ["P01", "end_period_1", None, None, None, 3, None],
            ["P02", "inclusion", 0, 1, dt.time(23, 15), None, None]]
    book, m = _questionnaire_book(tmp_path, rows)
    result = import_spreadsheet(book, mapping=m, protocol=protocol)
    expected = pd.DataFrame({"patient_id": ["P01", "P02", "P01", "P02", "P01", "P02", "P01"],
                             "visit": ["inclusion"] * 4 + ["inclusion", "inclusion", "end_period_1"],
                             "instrument": ["dn4", "dn4", "dn4", "dn4", "psqi", "psqi", "pgic"],
                             "item": ["1", "1", "2", "2", "1", "1", "1"],
                             "value": [1.0, 0.0, 0.0, 1.0, 1350.0, 1395.0, 3.0]})
    got = result.data.questionnaires.sort_values(["instrument", "item", "patient_id"], kind="stable").reset_index(drop=True)
    want = TrialData.from_tables(**{**expected_trial(protocol).to_tables(), "questionnaires": expected},
                                 meta=expected_trial(protocol).meta).questionnaires
    want = want.sort_values(["instrument", "item", "patient_id"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    assert "trial.xlsx sheet Questionnaires column(s) 'Note'" in result.summary()


def test_questionnaire_errors(protocol, tmp_path) -> None:
    rows = [["P01", "inclusion", 2, 0, "25:00", None], ["P01", "week_9", 1, 0, None, 9], ["P01", "inclusion", 1, 1, None, None]]
    book, m = _questionnaire_book(tmp_path, rows)
    with pytest.raises(DataError) as err:
        import_spreadsheet(book, mapping=m, protocol=protocol)
    msg = str(err.value)
    for part in ("trial.xlsx sheet Questionnaires row 2: column 'DN4 Q1' (questionnaires[0].items.dn4.1): '2' is not one of 0, 1",
                 "row 2: column 'Bedtime' (questionnaires[0].items.psqi.1): '25:00' is not a clock time",
                 "row 3: column 'Visit' (questionnaires[0].visit): 'week_9' is not one of 'inclusion', 'randomisation'",
                 "row 3: column 'PGIC' (questionnaires[0].items.pgic.1): '9' is not an integer 1..7",
                 "trial.xlsx sheet Questionnaires: rows 2, 4 have the same patient_id P01, visit inclusion"):
        assert part in msg, part
    bad = MAPPING_TOML + QUESTIONNAIRE_MAPPING.replace('"pgic.1"', '"pgic.9"')
    with pytest.raises(DataError, match=r"questionnaires\[0\]\.items\.pgic\.9: pgic: unknown item '9'"):
        load_spreadsheet_mapping(mapping(tmp_path, bad), protocol=protocol)
    bad = MAPPING_TOML + QUESTIONNAIRE_MAPPING.replace('visit = "Visit"', 'visit_name = "week_9"')
    with pytest.raises(DataError, match=r"questionnaires\[0\]\.visit_name: 'week_9' is not a visit of protocol 'ketapain'"):
        load_spreadsheet_mapping(mapping(tmp_path, bad), protocol=protocol)

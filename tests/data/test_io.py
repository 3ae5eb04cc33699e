"""Trial folders: exact round trips, errors naming file/row/column/value, atomic writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import ketapain.data._io as io_module
from ketapain.data import SCHEMAS, TABLE_NAMES, TrialData, read_trial, write_trial
from ketapain.errors import DataError


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_is_exact(trial: TrialData, tmp_path: Path, fmt: str) -> None:
    folder = write_trial(trial, tmp_path / "trial", format=fmt)  # type: ignore[arg-type]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{name}.{fmt}" for name in TABLE_NAMES] + ["meta.json"]
    )
    again = read_trial(folder, treatments=("P", "K", "KM"))
    assert again.equals(trial)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(again.table(name), trial.table(name), check_exact=True)
        assert {c: str(t) for c, t in again.table(name).dtypes.items()} == (
            SCHEMAS[name].pandas_dtypes
        )
    assert dict(again.meta) == dict(trial.meta)
    assert TrialData.read(folder).equals(trial)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_keeps_text_extra_columns(
    trial: TrialData, tables: dict[str, pd.DataFrame], tmp_path: Path, fmt: str
) -> None:
    diary = tables["diary"].assign(nurse=["N1", None, "N, 3"] * 15)
    data = TrialData.from_tables(**{**tables, "diary": diary})
    again = read_trial(data.write(tmp_path / "t", format=fmt))  # type: ignore[arg-type]
    assert list(again.diary.columns)[-1] == "nurse"
    nurse = again.diary["nurse"]
    assert nurse.iloc[0] == "N1" and pd.isna(nurse.iloc[1]) and nurse.iloc[2] == "N, 3"
    assert again.equals(data)


def test_csv_reads_true_false_extra_columns_as_booleans(
    trial: TrialData, tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """Issue 20: eligibility answers (extra screening columns) came back from CSV as the text
    'True'/'False'. An extra column holding only true/false (any case) is boolean again; one
    with any other value stays text, as does a column with no value at all."""
    n = len(tables["diary"])
    diary = tables["diary"].assign(
        checked=[i % 2 == 0 for i in range(n)],                       # bool, no missing cell
        witnessed=pd.array([True, None, False] * (n // 3), dtype="boolean"),  # one missing in three
        answer=["True", "maybe", "False"] * (n // 3),                  # not only true/false: text
        blank=pd.Series([None] * n, dtype="str"),                     # no value: text
    )
    folder = TrialData.from_tables(**{**tables, "diary": diary}).write(tmp_path / "t")
    text = (folder / "diary.csv").read_text(encoding="utf-8")
    (folder / "diary.csv").write_text(text.replace(",True,", ",TRUE,", 1), encoding="utf-8")  # any case
    again = read_trial(folder)
    assert str(again.diary["checked"].dtype) == "bool"
    assert again.diary["checked"].tolist() == diary["checked"].tolist()
    assert str(again.diary["witnessed"].dtype) == "boolean"
    assert again.diary["witnessed"].isna().sum() == n // 3
    assert again.diary["witnessed"].dropna().tolist() == diary["witnessed"].dropna().tolist()
    assert again.diary["answer"].tolist() == diary["answer"].tolist()
    assert again.diary["blank"].isna().all()


def test_csv_reads_numeric_extra_columns_as_numbers(
    trial: TrialData, tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """Issue 20: numeric eligibility answers (age, months of pain) came back from CSV as text,
    so ODM and REDCap typed them as free text. An extra column of decimal integers is int64
    (Int64 with an empty cell), one with a point or exponent float64, exactly as written; a
    code with a leading zero ('007') keeps its column text, so no zero is lost."""
    n = len(tables["diary"])
    diary = tables["diary"].assign(
        age=[40 + i for i in range(n)],                                   # int64
        months=pd.array([12, None, -3] * (n // 3), dtype="Int64"),        # Int64, one missing in three
        dose=[0.1 * i for i in range(n)],                                 # floats, shortest repr
        tiny=[1e-07] * n,                                                 # exponent form
        code=["007", "12", "3"] * (n // 3),                               # a leading zero: text
        mixed=["1", "2.5", "x"] * (n // 3),                               # not all numbers: text
    )
    folder = TrialData.from_tables(**{**tables, "diary": diary}).write(tmp_path / "t")
    again = read_trial(folder).diary
    assert str(again["age"].dtype) == "int64" and again["age"].tolist() == diary["age"].tolist()
    assert str(again["months"].dtype) == "Int64" and again["months"].isna().sum() == n // 3
    assert again["months"].dropna().tolist() == diary["months"].dropna().tolist()
    assert str(again["dose"].dtype) == "float64" and again["dose"].tolist() == diary["dose"].tolist()
    assert again["tiny"].tolist() == [1e-07] * n
    assert again["code"].tolist() == diary["code"].tolist()
    assert again["mixed"].tolist() == diary["mixed"].tolist()


def test_csv_layout(trial: TrialData, tmp_path: Path) -> None:
    folder = write_trial(trial, tmp_path / "trial")
    lines = (folder / "allocation.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        "patient_id,period,sequence,treatment,kit_code,infusion_date,pre_infusion_pain"
    )
    assert lines[1] == "P01,1,P-K-KM,P,KIT-P01-1,2016-02-08,6.5"
    screening = (folder / "screening.csv").read_text(encoding="utf-8").splitlines()
    assert screening[3] == "S3,,3,False,not_eligible,DN4 < 4,"
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta == {"format_version": 1, "meta": dict(trial.meta)}


def write_csv_folder(tmp_path: Path, trial: TrialData, table: str, edit) -> Path:
    """Write ``trial`` as CSV, then change the text of ``table`` with ``edit(lines)``."""
    folder = write_trial(trial, tmp_path / "trial")
    file = folder / f"{table}.csv"
    lines = file.read_text(encoding="utf-8").splitlines()
    file.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    return folder


def read_error(folder: Path) -> list[str]:
    with pytest.raises(DataError) as info:
        read_trial(folder)
    return str(info.value).splitlines()


def test_csv_errors_name_file_row_column_value(trial: TrialData, tmp_path: Path) -> None:
    def edit(lines: list[str]) -> list[str]:
        # row 17 of diary.csv is lines[16]; columns: patient_id, period, day, avg_pain, ...
        cells = lines[16].split(",")
        cells[3] = "11"
        lines[16] = ",".join(cells)
        cells = lines[4].split(",")
        cells[4] = "abc"
        cells[6] = "maybe"
        lines[4] = ",".join(cells)
        return lines

    folder = write_csv_folder(tmp_path, trial, "diary", edit)
    assert read_error(folder) == [
        f"invalid trial data in {folder}: 3 problems",
        "  diary.csv row 17: avg_pain=11 is outside 0..10",
        "  diary.csv row 5: max_pain='abc' is not a number (allowed: 0..10)",
        "  diary.csv row 5: extra_analgesics='maybe' is not a boolean "
        "(allowed: true/false, yes/no, 1/0)",
    ]


def test_csv_bad_date_and_missing_column(trial: TrialData, tmp_path: Path) -> None:
    def edit(lines: list[str]) -> list[str]:
        lines = [",".join(line.split(",")[1:]) for line in lines]  # drop event_id
        lines[2] = lines[2].replace("2016-03-16", "16/03/2016")
        return lines

    folder = write_csv_folder(tmp_path, trial, "adverse_events", edit)
    assert read_error(folder)[1:] == [
        "  adverse_events.csv: required column 'event_id' is missing",
        "  adverse_events.csv row 3: onset_date='16/03/2016' is not a date "
        "(allowed: a date YYYY-MM-DD)",
    ]


def test_csv_blank_lines_keep_the_row_numbers(trial: TrialData, tmp_path: Path) -> None:
    folder = write_csv_folder(tmp_path, trial, "patients", lambda ls: [*ls[:2], "", *ls[2:]])
    assert read_error(folder)[1:] == [
        "  patients.csv row 3: patient_id is missing; a value is required",
        "  patients.csv row 3: sex is missing; a value is required",
        "  patients.csv row 3: age_years is missing; a value is required",
        "  patients.csv row 3: pain_type is missing; a value is required",
    ]


def test_csv_accepts_other_spellings(trial: TrialData, tmp_path: Path) -> None:
    def edit(lines: list[str]) -> list[str]:
        return [lines[0]] + [
            line.replace("False", "no").replace("True", "YES") for line in lines[1:]
        ]

    folder = write_csv_folder(tmp_path, trial, "screening", edit)
    assert read_trial(folder).equals(trial)


def test_missing_table_files_are_empty_tables(trial: TrialData, tmp_path: Path) -> None:
    folder = write_trial(trial, tmp_path / "trial")
    (folder / "screening.csv").unlink()
    (folder / "meta.json").unlink()
    data = read_trial(folder)
    assert data.screening.empty
    assert list(data.screening.columns) == list(SCHEMAS["screening"].names)
    assert dict(data.meta) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "patients.csv: is empty; row 1 must be the header"),
        ("patient_id,sex,sex\n", "patients.csv: column 'sex' appears more than once"),
        ("patient_id,,sex\n", "patients.csv: column 2 of the header (row 1) has no name"),
        ("patient_id,sex\nP01,F,extra\nP02,M,x,y\n", "patients.csv: cannot be read as CSV"),
    ],
)
def test_unreadable_csv(trial: TrialData, tmp_path: Path, content: str, message: str) -> None:
    folder = write_trial(trial, tmp_path / "trial")
    (folder / "patients.csv").write_text(content, encoding="utf-8")
    lines = read_error(folder)
    assert lines[0] == f"cannot read the trial in {folder}:"
    assert lines[1].startswith(f"  {message}")


def test_not_utf8(trial: TrialData, tmp_path: Path) -> None:
    folder = write_trial(trial, tmp_path / "trial")
    (folder / "patients.csv").write_bytes("patient_id,sex\nP\xe9,F\n".encode("latin-1"))
    assert read_error(folder)[1].startswith("  patients.csv: is not UTF-8 text")


def test_folder_problems(trial: TrialData, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        read_trial(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no trial table files"):
        read_trial(tmp_path / "empty")
    folder = write_trial(trial, tmp_path / "trial")
    trial.diary.to_parquet(folder / "diary.parquet")
    with pytest.raises(DataError, match=r"mixes CSV .* and Parquet"):
        read_trial(folder)
    (folder / "diary.parquet").unlink()
    (folder / "diaries.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(DataError, match=re.escape("diaries.csv is not a trial table file name")):
        read_trial(folder)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "meta.json: is not valid JSON"),
        ('{"meta": {}}', "meta.json: format_version=None is not supported (allowed: 1)"),
        ('{"format_version": 1, "meta": {"n": 3}}', "meta.json: meta['n']=3 is not text"),
        ("[]", 'meta.json: expected {"format_version": 1, "meta": {...}}'),
    ],
)
def test_bad_meta_file(trial: TrialData, tmp_path: Path, content: str, message: str) -> None:
    folder = write_trial(trial, tmp_path / "trial")
    (folder / "meta.json").write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_trial(folder)
    assert str(info.value).startswith(message)


def test_write_refuses_to_clobber(trial: TrialData, tmp_path: Path) -> None:
    folder = write_trial(trial, tmp_path / "trial")
    with pytest.raises(DataError, match="already exists and is not empty; pass overwrite=True"):
        write_trial(trial, folder)
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DataError, match=r"holds files that are not trial files \(notes.txt\)"):
        write_trial(trial, folder, overwrite=True)
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="exists and is not a folder"):
        write_trial(trial, tmp_path / "file")


def test_overwrite_replaces_the_whole_folder(trial: TrialData, tmp_path: Path) -> None:
    folder = write_trial(trial, tmp_path / "trial", format="csv")
    small = TrialData.from_tables(patients=trial.patients, meta={"study": "small"})
    write_trial(small, folder, format="parquet", overwrite=True)
    assert not list(folder.glob("*.csv"))
    assert read_trial(folder).equals(small)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial"]
    (tmp_path / "empty").mkdir()
    assert read_trial(write_trial(small, tmp_path / "empty")).equals(small)


def test_write_is_atomic(trial: TrialData, tmp_path: Path, monkeypatch) -> None:
    calls: list[str] = []
    real = io_module._write_csv

    def failing(frame: pd.DataFrame, file: Path) -> None:
        calls.append(file.name)
        if file.name == "questionnaires.csv":
            raise OSError("disk full")
        real(frame, file)

    monkeypatch.setattr(io_module, "_write_csv", failing)
    with pytest.raises(OSError, match="disk full"):
        write_trial(trial, tmp_path / "new")
    assert calls[:3] == ["patients.csv", "allocation.csv", "diary.csv"]
    assert list(tmp_path.iterdir()) == []  # nothing half-written, no temporary folder left

    monkeypatch.setattr(io_module, "_write_csv", real)
    folder = write_trial(trial, tmp_path / "old")
    monkeypatch.setattr(io_module, "_write_csv", failing)
    small = TrialData.from_tables(meta={"study": "small"})
    with pytest.raises(OSError):  # noqa: PT011 - whichever OS error the forced failure raises
        write_trial(small, folder, overwrite=True)
    assert read_trial(folder).equals(trial)  # the old trial is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_write_arguments(trial: TrialData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        write_trial(trial, tmp_path / "t", format="xlsx")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a TrialData"):
        write_trial(trial.to_tables(), tmp_path / "t")  # type: ignore[arg-type]


def test_parquet_with_wrong_types_is_reported(trial: TrialData, tmp_path: Path) -> None:
    folder = write_trial(trial, tmp_path / "trial", format="parquet")
    diary = trial.diary.astype({"avg_pain": "str"})
    diary.loc[3, "avg_pain"] = "high"
    diary.to_parquet(folder / "diary.parquet", index=False)
    assert read_error(folder)[1:] == [
        "  diary.parquet row 5: avg_pain='high' is not a number (allowed: 0..10)",
    ]


def test_written_folder_has_ordinary_permissions(trial: TrialData, tmp_path: Path) -> None:
    reference = tmp_path / "plain"
    reference.mkdir()
    folder = write_trial(trial, tmp_path / "trial")
    assert folder.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_parquet_cannot_hold_a_mixed_extra_column(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    patients = tables["patients"].assign(note=pd.Series([1, "a", 2.5], dtype=object))
    data = TrialData.from_tables(patients=patients)
    with pytest.raises(DataError, match=re.escape("patients.parquet: cannot be written: ")):
        write_trial(data, tmp_path / "trial", format="parquet")
    assert list(tmp_path.iterdir()) == []
    assert read_trial(write_trial(data, tmp_path / "csv")).patients["note"].tolist() == [
        "1", "a", "2.5"
    ]


def test_rewriting_an_init_folder_keeps_its_protocol_and_readme(trial: TrialData, tmp_path: Path) -> None:
    """A folder made by ``ketapain init`` (protocol.toml, README.md, empty templates) takes the
    trial's tables with overwrite; the two companions stay byte for byte, any other file is
    still refused (and nothing is written)."""
    folder = tmp_path / "my_trial"
    folder.mkdir()
    (folder / "protocol.toml").write_text("# the study's protocol\n", encoding="utf-8")
    (folder / "README.md").write_text("# my trial\n", encoding="utf-8")
    (folder / "diary.csv").write_text("patient_id,period,day,avg_pain\r\n", encoding="utf-8")  # an empty template
    with pytest.raises(DataError, match="already exists and is not empty; pass overwrite=True"):
        write_trial(trial, folder)
    write_trial(trial, folder, format="parquet", overwrite=True)
    assert read_trial(folder).equals(trial)
    assert (folder / "protocol.toml").read_text(encoding="utf-8") == "# the study's protocol\n"
    assert (folder / "README.md").read_text(encoding="utf-8") == "# my trial\n"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["README.md", "protocol.toml", "meta.json", *(f"{t}.parquet" for t in TABLE_NAMES)])  # the CSV template is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_trial"]  # no temporary folder left
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DataError, match=r"holds files that are not trial files \(notes.txt\)"):
        write_trial(trial, folder, overwrite=True)
    assert read_trial(folder).equals(trial)

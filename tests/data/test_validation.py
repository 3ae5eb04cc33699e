"""Validation: every kind of problem, with its exact message, and the cap on messages.

Row numbers follow the spreadsheet convention: header = row 1, ``iloc[0]`` = row 2.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from ketapain.data import TrialData
from ketapain.errors import DataError

Tables = dict[str, pd.DataFrame]


def problems(tables: Tables, **options: object) -> list[str]:
    """The problem lines of the DataError raised for ``tables`` (header line checked)."""
    options.setdefault("treatments", ("P", "K", "KM"))
    with pytest.raises(DataError) as info:
        TrialData.from_tables(**tables, **options)  # type: ignore[arg-type]
    head, *lines = str(info.value).splitlines()
    assert head.startswith("invalid trial data: ")
    return [line.strip() for line in lines]


def test_error_is_a_value_error(tables: Tables) -> None:
    tables["diary"].loc[15, "avg_pain"] = 11
    with pytest.raises(ValueError, match=re.escape("diary row 17: avg_pain=11 is outside 0..10")):
        TrialData.from_tables(**tables)


def test_out_of_range_values(tables: Tables) -> None:
    tables["diary"].loc[15, "avg_pain"] = 11
    tables["diary"].loc[16, "night_pain"] = -0.5
    tables["patients"].loc[0, "age_years"] = 17
    tables["patients"].loc[1, "pain_duration_years"] = -1
    tables["allocation"].loc[2, "pre_infusion_pain"] = 10.5
    tables["adverse_events"].loc[2, "period"] = -1
    assert problems(tables) == [
        "patients row 2: age_years=17 is outside 18..120",
        "patients row 3: pain_duration_years=-1 is not >= 0",
        "allocation row 4: pre_infusion_pain=10.5 is outside 0..10",
        "diary row 17: avg_pain=11 is outside 0..10",
        "diary row 18: night_pain=-0.5 is outside 0..10",
        "adverse_events row 4: period=-1 is not >= 0",
    ]


def test_values_outside_the_allowed_set(tables: Tables) -> None:
    tables["allocation"].loc[1, "treatment"] = "X"
    tables["patients"].loc[2, "sex"] = "f"
    tables["adverse_events"].loc[0, "severity"] = "fatal"
    assert problems(tables) == [
        "patients row 4: sex='f' is not one of 'M', 'F'",
        "allocation row 3: treatment='X' is not one of 'P', 'K', 'KM'",
        "adverse_events row 2: severity='fatal' is not one of 'mild', 'moderate', 'severe'",
    ]


def test_country_must_be_an_alpha3_code_and_race_a_cdisc_term(tables: Tables) -> None:
    # ISO 3166-1 alpha-3: three capital letters ("FRA"); "FR" (alpha-2) and "fra" are not.
    # RACE: CDISC CT codelist C74457 submission values, upper case ("WHITE", not "White").
    tables["patients"]["country"] = ["FRA", "FR", "fra"]
    tables["patients"]["race"] = ["NOT REPORTED", "White", None]
    alpha3 = "is not an ISO 3166-1 alpha-3 code (3 capital letters, e.g. 'FRA')"
    assert problems(tables) == [
        f"patients row 3: country='FR' {alpha3}",
        f"patients row 4: country='fra' {alpha3}",
        "patients row 3: race='White' is not one of 'AMERICAN INDIAN OR ALASKA NATIVE', 'ASIAN', "
        "'BLACK OR AFRICAN AMERICAN', 'NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER', 'WHITE', 'MULTIPLE', "
        "'OTHER', 'UNKNOWN', 'NOT REPORTED'",
    ]


def test_treatments_are_free_text_without_a_protocol(tables: Tables) -> None:
    tables["allocation"]["treatment"] = tables["allocation"]["treatment"].str.lower()
    data = TrialData.from_tables(**tables)
    assert set(data.allocation["treatment"]) == {"p", "k", "km"}


def test_missing_required_column_and_values(tables: Tables) -> None:
    del tables["patients"]["patient_id"]
    tables["diary"] = tables["diary"].drop(columns="day")
    tables["allocation"].loc[0, "sequence"] = None
    tables["diary"].loc[3, "avg_pain"] = np.nan  # nullable: fine
    assert problems(tables) == [
        "patients: required column 'patient_id' is missing",
        "allocation row 2: sequence is missing; a value is required",
        "diary: required column 'day' is missing",
    ]


def test_diary_items_are_not_required_by_the_schema(tables: Tables) -> None:
    # which diary items are required is the protocol's business (ketapain.data.check_trial);
    # an absent reference item is added, all missing, like any optional column
    tables["diary"] = tables["diary"].drop(columns="night_pain")
    data = TrialData.from_tables(**tables)
    assert data.diary["night_pain"].isna().all()
    assert data.diary["avg_pain"].notna().any()


def test_unparseable_values(tables: Tables) -> None:
    for name, col in [("patients", "age_years"), ("patients", "dn4_total"),
                      ("adverse_events", "serious"), ("adverse_events", "onset_date"),
                      ("diary", "avg_pain")]:
        tables[name][col] = tables[name][col].astype(object)
    tables["patients"].loc[0, "age_years"] = "abc"
    tables["patients"].loc[1, "dn4_total"] = 4.5
    tables["adverse_events"].loc[0, "serious"] = "maybe"
    tables["adverse_events"].loc[1, "onset_date"] = "2020-13-01"
    tables["adverse_events"].loc[2, "onset_date"] = "2020-01-05 10:30"
    tables["diary"].loc[0, "avg_pain"] = "NA"
    tables["diary"].loc[1, "avg_pain"] = np.inf
    assert problems(tables) == [
        "patients row 2: age_years='abc' is not an integer (allowed: 18..120)",
        "patients row 3: dn4_total=4.5 is not an integer (allowed: 0..10)",
        "diary row 2: avg_pain='NA' is not a number (allowed: 0..10); "
        "a missing value is an empty cell",
        "diary row 3: avg_pain=inf is not a finite number (allowed: 0..10)",
        "adverse_events row 2: serious='maybe' is not a boolean "
        "(allowed: true/false, yes/no, 1/0)",
        "adverse_events row 3: onset_date='2020-13-01' is not a date "
        "(allowed: a date YYYY-MM-DD)",
        "adverse_events row 4: onset_date='2020-01-05 10:30' is not a date: it has a time "
        "of day (allowed: a date YYYY-MM-DD)",
    ]


def test_duplicate_keys(tables: Tables) -> None:
    tables["diary"].loc[7, "day"] = 2  # P01, period 2: day 3 becomes a second day 2
    tables["diary"].loc[[10, 11, 12], "day"] = 1  # P01, period 3: three times day 1
    tables["patients"].loc[2, "patient_id"] = "P01"
    assert problems(tables) == [
        "patients rows 2 and 4: duplicate key (patient_id='P01')",
        "diary rows 8 and 9: duplicate key (patient_id='P01', period=2, day=2)",
        "diary rows 12, 13 and 14: duplicate key (patient_id='P01', period=3, day=1)",
        # P03 no longer exists once its row says P01:
        "allocation rows 8, 9 and 10: patient_id='P03' is not in patients",
        "diary rows 32, 33, 34, 35, 36 and 10 more: patient_id='P03' is not in patients",
        "questionnaires row 5: patient_id='P03' is not in patients",
        "concomitant row 5: patient_id='P03' is not in patients",
        "screening row 5: patient_id='P03' is not in patients",
    ]


def test_one_treatment_per_period(tables: Tables) -> None:
    extra = tables["allocation"].iloc[[0]].assign(treatment="K")
    tables["allocation"] = pd.concat([tables["allocation"], extra], ignore_index=True)
    assert problems(tables) == [
        "allocation rows 2 and 11: duplicate key (patient_id='P01', period=1)",
    ]


def test_cross_table_references(tables: Tables) -> None:
    tables["diary"].loc[10, "patient_id"] = "P99"
    tables["diary"].loc[[11, 12], "period"] = 4
    tables["allocation"].loc[3, "patient_id"] = "P42"
    tables["adverse_events"].loc[0, "period"] = 5
    tables["concomitant"].loc[1, "patient_id"] = "P07"
    tables["questionnaires"].loc[0, "patient_id"] = "P98"
    assert problems(tables) == [
        "allocation row 5: patient_id='P42' is not in patients",
        "diary row 12: patient_id='P99' is not in patients",
        "diary rows 13 and 14: (patient_id='P01', period=4) is not in allocation",
        "diary rows 17, 18, 19, 20 and 21: (patient_id='P02', period=1) is not in allocation",
        "questionnaires row 2: patient_id='P98' is not in patients",
        "adverse_events row 2: (patient_id='P01', period=5) is not in allocation",
        "concomitant row 3: patient_id='P07' is not in patients",
    ]


def test_diary_needs_allocation_and_patients(tables: Tables) -> None:
    lines = problems({"diary": tables["diary"]})
    assert lines == [
        "diary rows 2, 3, 4, 5, 6 and 10 more: patient_id='P01' is not in patients",
        "diary rows 17, 18, 19, 20, 21 and 10 more: patient_id='P02' is not in patients",
        "diary rows 32, 33, 34, 35, 36 and 10 more: patient_id='P03' is not in patients",
    ]
    lines = problems({"patients": tables["patients"], "diary": tables["diary"]})
    assert len(lines) == 9
    assert lines[0] == (
        "diary rows 2, 3, 4, 5 and 6: (patient_id='P01', period=1) is not in allocation"
    )


def test_one_sequence_per_patient(tables: Tables) -> None:
    tables["allocation"].loc[0, "sequence"] = "K-P-KM"
    assert problems(tables) == [
        "allocation rows 2, 3 and 4: patient_id='P01' has more than one sequence "
        "('K-P-KM', 'P-K-KM'); a patient keeps one sequence in every period",
    ]


def test_concomitant_status_matches_period(tables: Tables) -> None:
    tables["concomitant"].loc[0, "status"] = "added"
    tables["concomitant"].loc[1, "status"] = "baseline"
    tables["concomitant"].loc[2, "drug_class"] = "opioids"
    assert problems(tables) == [
        "concomitant row 4: drug_class='opioids' is not one of 'paracetamol_nsaids', "
        "'nefopam', 'tramadol', 'fentanyl', 'paracetamol_opium', 'antidepressants', "
        "'antiepileptics', 'adjuvants', 'hypnotics_sedatives', 'anxiolytics', "
        "'antipsychotics'",
        "concomitant row 2: status='added' does not match period=0; 'baseline' goes with "
        "period 0 and 'added' with periods >= 1",
        "concomitant row 3: status='baseline' does not match period=2; 'baseline' goes with "
        "period 0 and 'added' with periods >= 1",
    ]


def test_screening_rules(tables: Tables) -> None:
    tables["screening"].loc[2, "patient_id"] = "P03"
    tables["screening"].loc[0, "eligible"] = False
    tables["screening"].loc[4, "outcome"] = "not_eligible"
    assert problems(tables) == [
        "screening row 4: patient_id='P03' is set but outcome='not_eligible'; only a "
        "randomised person has a patient_id",
        "screening row 2: outcome='randomised' but eligible=false; only an eligible person "
        "is randomised",
        "screening row 6: outcome='not_eligible' but eligible=true",
        "screening rows 4 and 5: patient_id='P03' appears more than once; a patient is "
        "screened once",
    ]


def test_column_names(tables: Tables) -> None:
    tables["patients"].columns = [*tables["patients"].columns[:-1], "sex"]
    tables["diary"][3] = 1
    assert problems(tables) == [
        "patients: column 'sex' appears more than once",
        "diary: column name 3 is not text",
    ]


def test_unknown_table() -> None:
    with pytest.raises(TypeError):
        TrialData.from_tables(diaries=pd.DataFrame())  # type: ignore[call-arg]


def test_messages_are_capped_but_all_counted(tables: Tables) -> None:
    tables["diary"].loc[:24, "avg_pain"] = 12.0
    with pytest.raises(DataError) as info:
        TrialData.from_tables(**tables)
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid trial data: 25 problems"
    assert len(lines) == 1 + 20 + 1
    assert lines[1] == "  diary row 2: avg_pain=12 is outside 0..10"
    assert lines[20] == "  diary row 21: avg_pain=12 is outside 0..10"
    assert lines[-1] == "  ... and 5 more (only the first 20 are listed)"
    with pytest.raises(DataError) as info:
        TrialData.from_tables(**tables, max_errors=3)
    assert str(info.value).splitlines()[-1] == "  ... and 22 more (only the first 3 are listed)"


def test_one_problem_is_singular(make_trial: Callable[..., TrialData], tables: Tables) -> None:
    tables["patients"].loc[0, "height_m"] = 2.6
    with pytest.raises(DataError) as info:
        make_trial(patients=tables["patients"])
    assert str(info.value) == (
        "invalid trial data: 1 problem\n  patients row 2: height_m=2.6 is outside 1..2.5"
    )

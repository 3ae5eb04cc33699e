"""REDCap: data dictionary, default mapping, a hand-written export, round trips, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ketapain.data import TrialData
from ketapain.errors import DataError
from ketapain.instruments import get_instrument
from ketapain.interop import (
    DICTIONARY_COLUMNS,
    REDCAP_ID_COLUMNS,
    canonical_order,
    read_redcap,
    redcap_dictionary,
    redcap_instrument_events,
    redcap_mapping,
    to_redcap_records,
    write_redcap_project,
)
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial(protocol):
    return simulate_trial(protocol, n_patients=20, seed=11)


def test_dictionary_has_redcap_columns_and_every_form(protocol) -> None:
    d = redcap_dictionary(protocol)
    assert tuple(d.columns) == DICTIONARY_COLUMNS and len(DICTIONARY_COLUMNS) == 18
    assert d["Variable / Field Name"].is_unique
    assert d.iloc[0]["Variable / Field Name"] == "record_id"
    forms = set(d["Form Name"])
    expected = {"screening", "demographics", "allocation", "daily_diary", "adverse_events", "concomitant"}
    expected |= {f"q_{i}" for v in protocol.visits for i in v.questionnaires}
    assert forms == expected
    # field types REDCap knows, and validation types that exist in REDCap
    assert set(d["Field Type"]) <= {"text", "notes", "dropdown", "radio", "checkbox", "yesno"}
    assert set(d["Text Validation Type OR Show Slider Number"]) <= {"", "integer", "number", "date_ymd", "time"}
    row = d.set_index("Variable / Field Name")
    assert row.loc["avg_pain", "Text Validation Min"] == "0" and row.loc["avg_pain", "Text Validation Max"] == "10"
    assert row.loc["treatment", "Choices, Calculations, OR Slider Labels"] == "1, placebo | 2, ketamine | 3, ketamine/magnesium"
    assert row.loc["cm_classes", "Field Type"] == "checkbox"
    assert row.loc["cm_name_tramadol", "Branching Logic (Show field only if...)"] == "[cm_classes(tramadol)] = '1'"
    assert row.loc["psqi_1", "Text Validation Type OR Show Slider Number"] == "time"
    assert row.loc["previous_ketamine", "Field Type"] == "yesno"  # an eligibility answer from the protocol


def test_dictionary_labels_are_neutral(protocol) -> None:
    from ketapain.instruments import get_instrument

    d = redcap_dictionary(protocol).set_index("Variable / Field Name")
    item = get_instrument("hads").items[0]
    assert d.loc[f"hads_{item.key.lower()}", "Field Label"].startswith(item.label)


def test_instrument_event_mapping(protocol) -> None:
    m = redcap_instrument_events(protocol)
    assert list(m.columns) == ["arm_num", "unique_event_name", "form"]
    assert set(m.loc[m["unique_event_name"] == "inclusion_arm_1", "form"]) == {f"q_{i}" for i in protocol.visits[0].questionnaires}
    assert "randomisation_arm_1" not in set(m["unique_event_name"])  # a visit without forms has no event
    assert m["form"].isin(set(redcap_dictionary(protocol)["Form Name"])).all()


def _expected_hand_written(protocol) -> TrialData:
    """The hand-written export of data/redcap_records.csv, typed out table by table."""
    patients = pd.DataFrame({"patient_id": ["P01", "P02"], "sex": ["F", "M"], "age_years": [54, 38], "weight_kg": [61.5, 80.0],
                             "height_m": [1.62, 1.8], "pain_type": ["radiculopathy", "postsurgery"],
                             "pain_duration_years": [4.5, 2.0], "dn4_total": [6, 5]})
    allocation = pd.DataFrame({"patient_id": ["P01", "P01", "P02"], "period": [1, 2, 1], "sequence": ["P-K-KM", "P-K-KM", "K-KM-P"],
                               "treatment": ["P", "K", "K"], "kit_code": ["K001", "K002", "K003"],
                               "infusion_date": ["2016-01-18", "2016-02-22", "2016-01-25"], "pre_infusion_pain": [7.0, 6.5, 8.0]})
    diary = pd.DataFrame({"patient_id": ["P01", "P01", "P01", "P02"], "period": [1, 1, 2, 1], "day": [1, 2, 1, 1],
                          "avg_pain": [6.0, np.nan, 4.0, 7.0], "max_pain": [8.0, np.nan, 5.0, 9.0], "night_pain": [5.0, np.nan, 3.0, 6.0],
                          "extra_analgesics": [False, None, True, False], "extra_analgesics_detail": [None, None, "paracetamol", None]})
    # psqi item 1 answered 22:30 = 22 * 60 + 30 = 1350 minutes after midnight
    questionnaires = pd.DataFrame({"patient_id": ["P01"] * 4, "visit": ["inclusion", "inclusion", "inclusion", "end_period_1"],
                                   "instrument": ["dn4", "dn4", "psqi", "pgic"], "item": ["1", "2", "1", "1"],
                                   "value": [1.0, 0.0, 1350.0, 3.0]})
    adverse_events = pd.DataFrame({"event_id": ["AE01"], "patient_id": ["P01"], "period": [2], "term": ["dizziness"],
                                   "severity": ["mild"], "serious": [False], "causality": ["possibly"], "onset_date": ["2016-02-23"]})
    concomitant = pd.DataFrame({"patient_id": ["P01", "P01", "P01"], "period": [0, 0, 2],
                                "drug_class": ["nefopam", "tramadol", "antidepressants"], "status": ["baseline", "baseline", "added"],
                                "drug_name": [None, "Tramal", None]})
    screening = pd.DataFrame(
        {
            "screening_id": ["S01", "S02", "S03"],
            "screening_date": ["2016-01-04", "2016-01-11", "2016-01-20"],
            "dn4_total": [6, 5, 2],
            "eligible": [True, True, False],
            "outcome": ["randomised", "randomised", "not_eligible"],
            "reason": [None, None, "DN4 below 4"],
            "patient_id": ["P01", "P02", None],
            "age": [54.0, 38.0, 61.0],
        }
    )
    data = TrialData.from_tables(
        patients=patients,
        allocation=allocation,
        diary=diary,
        questionnaires=questionnaires,
        adverse_events=adverse_events,
        concomitant=concomitant,
        screening=screening,
        meta={"study": protocol.study.title, "protocol_id": "ketapain", "source": "redcap-import"},
    )
    return canonical_order(data)


def test_hand_written_export_is_imported(protocol) -> None:
    data = read_redcap(DATA / "redcap_records.csv", protocol=protocol)
    expected = _expected_hand_written(protocol)
    for name, table in expected.to_tables().items():
        pd.testing.assert_frame_equal(data.table(name), table, obj=name)
    assert data.equals(expected)


def test_mapping_file_with_codes(protocol, tmp_path) -> None:
    """A project coding sex 0/1 (not our 1/2) and naming the diary event differently, mapped by a TOML file."""
    frame = pd.read_csv(DATA / "redcap_records.csv", dtype=str, keep_default_na=False)
    frame["sex"] = frame["sex"].replace({"1": "0", "2": "1"})
    frame["redcap_event_name"] = frame["redcap_event_name"].replace({"period_2_arm_1": "second_period_arm_1"})
    frame.to_csv(tmp_path / "records.csv", index=False)
    mapping = redcap_mapping(protocol)
    events = dict(mapping["events"])
    del events["period_2_arm_1"]
    events["second_period_arm_1"] = "period:2"
    toml = ["[events]"] + [f'{k} = "{v}"' for k, v in events.items()]
    codes = {**mapping["codes"], "sex": {"0": "M", "1": "F"}}
    toml += [f"[codes.{f}]\n" + "\n".join(f'"{c}" = "{v}"' for c, v in by_code.items()) for f, by_code in codes.items()]
    toml += [f"[fields.{k}]\n" + "\n".join(f'{a} = "{b}"' for a, b in v.items()) for k, v in mapping["fields"].items()]
    (tmp_path / "mapping.toml").write_text("\n".join(toml) + "\n")
    data = read_redcap(tmp_path / "records.csv", protocol=protocol, mapping=tmp_path / "mapping.toml")
    assert data.equals(_expected_hand_written(protocol))


def test_round_trip_from_simulated_trial(protocol, trial, tmp_path) -> None:
    files = write_redcap_project(protocol, tmp_path, data=trial)
    assert {f.name for f in files} == {
        "data_dictionary.csv",
        "instrument_event_mapping.csv",
        "events.csv",
        "repeating_instruments.csv",
        "mapping.json",
        "records.csv",
    }
    records = pd.read_csv(tmp_path / "records.csv", dtype=str, keep_default_na=False)
    assert tuple(records.columns[:4]) == REDCAP_ID_COLUMNS
    back = read_redcap(tmp_path / "records.csv", protocol=protocol, mapping=tmp_path / "mapping.json")
    expected = canonical_order(trial)
    for name, table in expected.to_tables().items():
        pd.testing.assert_frame_equal(back.table(name), table, obj=name)
    assert back.meta["source"] == "redcap-import"
    # every exported field column is a dictionary field (checkboxes expanded) or a form's _complete
    d = redcap_dictionary(protocol, data=trial)
    fields = set(d["Variable / Field Name"]) | {f"{f}_complete" for f in d["Form Name"]}
    assert all(c in fields or c.split("___")[0] in fields for c in records.columns[4:])


def test_export_refuses_a_value_without_a_code(trial) -> None:
    """A treatment that is not an arm of the protocol has no REDCap code: an error naming the
    table, row (as in allocation.csv, header = row 1), column, value and the allowed values.
    Here the reference study's trial is exported with the 2-arm example protocol (arms L, P)."""
    other = load_protocol("ab_ba_example")
    codes = [a.code for a in other.arms]
    first = int(trial.allocation.index[~trial.allocation["treatment"].isin(codes)][0])
    value = trial.allocation.loc[first, "treatment"]
    with pytest.raises(DataError) as err:
        to_redcap_records(trial, other)
    assert str(err.value) == (f"REDCap export: allocation row {first + 2}: treatment={value!r} has no REDCap code "
                              f"(field treatment); allowed: {', '.join(codes)}")


def _edit(cell_changes, tmp_path: Path) -> Path:
    frame = pd.read_csv(DATA / "redcap_records.csv", dtype=str, keep_default_na=False)
    for (row, col), value in cell_changes.items():
        frame.loc[row - 2, col] = value
    path = tmp_path / "records.csv"
    frame.to_csv(path, index=False)
    return path


def test_out_of_range_value_names_row_record_event_field(protocol, tmp_path) -> None:
    path = _edit({(5, "avg_pain"): "11", (3, "psqi_1"): "25:99"}, tmp_path)
    with pytest.raises(DataError) as err:
        read_redcap(path, protocol=protocol)
    msg = str(err.value)
    assert "records.csv row 5 (record P01, event period_1_arm_1): field avg_pain = 11 is outside 0..10" in msg
    assert "records.csv row 3 (record P01, event inclusion_arm_1): field psqi_1 = '25:99'" in msg


def test_unknown_events_and_fields_are_listed(protocol, tmp_path) -> None:
    frame = pd.read_csv(DATA / "redcap_records.csv", dtype=str, keep_default_na=False)
    frame["mystery_field"] = ""
    frame.loc[1, "redcap_event_name"] = "week_9_arm_1"
    frame.to_csv(tmp_path / "records.csv", index=False)
    with pytest.raises(DataError) as err:
        read_redcap(tmp_path / "records.csv", protocol=protocol)
    msg = str(err.value)
    assert "not in the mapping: mystery_field" in msg
    assert "unknown event(s) 'week_9_arm_1' in row(s) 3" in msg


def test_value_in_wrong_kind_of_row(protocol, tmp_path) -> None:
    path = _edit({(4, "avg_pain"): "5"}, tmp_path)  # a diary field on the period's non-repeating row
    with pytest.raises(DataError, match=r"row 4 .*field avg_pain has a value in a row that is not a diary instance"):
        read_redcap(path, protocol=protocol)


def test_cross_table_problems_and_nothing_half_imported(protocol, tmp_path) -> None:
    # row 7 holds P01's period-2 allocation: moved to period 3, the period-2 diary day and AE lose it
    path = _edit({(7, "redcap_event_name"): "period_3_arm_1"}, tmp_path)
    with pytest.raises(
        DataError,
        match=r"records.csv: the records do not form valid trial data:\n.*\n  diary row 4: \(patient_id='P01', period=2\) is not "
              r"in allocation",
    ):
        read_redcap(path, protocol=protocol)


def test_bad_mapping_file(protocol, tmp_path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"events": {}}))
    with pytest.raises(DataError, match="'fields' must be a table"):
        read_redcap(DATA / "redcap_records.csv", protocol=protocol, mapping=tmp_path / "m.json")
    with pytest.raises(DataError, match="record_id and redcap_event_name are required"):
        read_redcap(io.StringIO("a,b\n1,2\n"), protocol=protocol)


def test_export_without_screening_imports_with_screening_not_recorded(protocol, tmp_path) -> None:
    """A project that keeps no screening log: no screening field, no screened-only record."""
    frame = pd.read_csv(DATA / "redcap_records.csv", dtype=str, keep_default_na=False)
    screening_fields = [f for f, t in redcap_mapping(protocol)["fields"].items() if t["table"] == "screening"]
    frame = frame.drop(columns=[c for c in frame.columns if c in screening_fields or c == "screening_complete"])
    frame = frame[frame["record_id"] != "S03"]
    frame.to_csv(tmp_path / "records.csv", index=False)
    data = read_redcap(tmp_path / "records.csv", protocol=protocol)
    expected = _expected_hand_written(protocol)
    assert data.screening.empty and list(data.screening.columns) == list(expected.screening.columns[:7])
    for name in ("patients", "allocation", "diary", "questionnaires", "adverse_events", "concomitant"):
        pd.testing.assert_frame_equal(data.table(name), expected.table(name), obj=name)
    # a screening field present but blank everywhere is an empty log too, not an error
    frame.assign(outcome="").to_csv(tmp_path / "records2.csv", index=False)
    assert read_redcap(tmp_path / "records2.csv", protocol=protocol).screening.empty


def test_each_questionnaire_form_has_a_completion_date_field(protocol) -> None:
    """Issue 20: questionnaires.completed_date is a ``date_ymd`` field at the top of each
    ``q_<instrument>`` form, mapped back to the column (the form's one date)."""
    d = redcap_dictionary(protocol).set_index("Variable / Field Name")
    instruments = {i for v in protocol.visits for i in v.questionnaires}
    for inst in instruments:
        form = d[d["Form Name"] == f"q_{inst}"]
        assert form.index[0] == f"{inst}_date"
        assert form.iloc[0]["Field Type"] == "text"
        assert form.iloc[0]["Text Validation Type OR Show Slider Number"] == "date_ymd"
    m = redcap_mapping(protocol)["fields"]
    assert m["bpi_date"] == {"table": "questionnaires", "instrument": "bpi", "column": "completed_date"}


def test_completion_dates_are_exported_per_form_and_read_back(trial, protocol, tmp_path) -> None:
    rec = to_redcap_records(trial, protocol)
    q = trial.questionnaires
    # the bpi date of each record x event is the date of that patient's bpi rows at that visit
    want = q[q["instrument"] == "bpi"].groupby(["patient_id", "visit"])["completed_date"].first().dt.strftime("%Y-%m-%d")
    events = redcap_mapping(protocol)["events"]
    got = rec[rec["bpi_date"] != ""].assign(visit=lambda r: r["redcap_event_name"].map(events).str.removeprefix("visit:"))
    assert got.set_index(["record_id", "visit"])["bpi_date"].sort_index().to_dict() == want.sort_index().to_dict()
    assert len(got) == len(want) > 0
    # read back: every row of a form takes the form's date (the full round trip is compared above)
    write_redcap_project(protocol, tmp_path, data=trial)
    back = read_redcap(tmp_path / "records.csv", protocol=protocol, mapping=tmp_path / "mapping.json")
    assert back.questionnaires["completed_date"].notna().all()
    assert back.questionnaires["completed_date"].dt.strftime("%Y-%m-%d").tolist() == \
        canonical_order(trial).questionnaires["completed_date"].dt.strftime("%Y-%m-%d").tolist()


def test_a_form_whose_items_disagree_on_the_date_is_refused(trial, protocol) -> None:
    """REDCap holds one date per form: two dates on one questionnaire's rows cannot be written."""
    tables = trial.to_tables()
    q = tables["questionnaires"].copy()
    first = q.index[(q["instrument"] == "bpi")][0]
    pid, visit = q.loc[first, "patient_id"], q.loc[first, "visit"]
    old = q.loc[first, "completed_date"]
    q.loc[first, "completed_date"] = old + pd.Timedelta(days=1)
    bad = TrialData.from_tables(**{**tables, "questionnaires": q}, meta=trial.meta)
    with pytest.raises(DataError) as err:
        to_redcap_records(bad, protocol)
    days = sorted([old.strftime("%Y-%m-%d"), (old + pd.Timedelta(days=1)).strftime("%Y-%m-%d")])
    assert str(err.value) == (f"REDCap export: questionnaires of patient {pid!r}, visit {visit!r}, instrument 'bpi': completed_date "
                              f"differs between its items ({', '.join(days)}); REDCap holds one completion date per questionnaire form")


def test_a_dated_form_gives_every_item_a_row(protocol, tmp_path) -> None:
    """A dated form was administered: an item left blank is a row with a missing value (the
    hand-written export answers only psqi item 1 of 18)."""
    frame = pd.read_csv(DATA / "redcap_records.csv", dtype=str, keep_default_na=False)
    frame.insert(frame.columns.get_loc("psqi_1"), "psqi_date", "")
    frame.loc[1, "psqi_date"] = "2016-01-20"  # row 3 of the file: P01 at inclusion
    frame.to_csv(tmp_path / "records.csv", index=False)
    data = read_redcap(tmp_path / "records.csv", protocol=protocol)
    psqi = data.questionnaires[data.questionnaires["instrument"] == "psqi"]
    assert len(psqi) == len(get_instrument("psqi").items) == 18
    assert (psqi["completed_date"] == pd.Timestamp("2016-01-20")).all()
    assert psqi.set_index("item").loc["1", "value"] == 22 * 60 + 30
    assert psqi["value"].isna().sum() == 17
    # the other forms stay undated, with their answered items only
    other = data.questionnaires[data.questionnaires["instrument"] != "psqi"]
    assert other["completed_date"].isna().all()
    assert other.equals(_expected_hand_written(protocol).questionnaires.pipe(lambda t: t[t["instrument"] != "psqi"]))


def test_a_bad_completion_date_names_row_field_and_value(protocol, tmp_path) -> None:
    frame = pd.read_csv(DATA / "redcap_records.csv", dtype=str, keep_default_na=False)
    frame["psqi_date"] = ""
    frame.loc[1, "psqi_date"] = "2016-02-30"
    frame.loc[0, "psqi_date"] = "2016-01-20"  # on the screening event: not a visit
    frame.to_csv(tmp_path / "records.csv", index=False)
    with pytest.raises(DataError) as err:
        read_redcap(tmp_path / "records.csv", protocol=protocol)
    msg = str(err.value)
    assert "records.csv row 3 (record P01, event inclusion_arm_1): field psqi_date = '2016-02-30' is not a date YYYY-MM-DD" in msg
    # a valid date on an event that is not a visit: refused, naming the row (values are checked first)
    frame.loc[1, "psqi_date"] = ""
    frame.to_csv(tmp_path / "records.csv", index=False)
    with pytest.raises(DataError) as err:
        read_redcap(tmp_path / "records.csv", protocol=protocol)
    assert str(err.value) == ("REDCap import of records.csv: 1 problem\n  records.csv row 2 (record P01, event screening_arm_1): "
                              "questionnaire field psqi_date = '2016-01-20' is outside a visit event (a questionnaire belongs to a visit)")


def test_a_questionnaire_field_of_a_mapping_needs_an_item_or_the_date(protocol) -> None:
    m = redcap_mapping(protocol)
    m["fields"]["bpi_date"] = {"table": "questionnaires", "instrument": "bpi"}
    with pytest.raises(DataError, match=r"^mapping: fields.bpi_date: a questionnaires field needs 'instrument' and either 'item' "
                                        r"or column = 'completed_date'$"):
        read_redcap(DATA / "redcap_records.csv", protocol=protocol, mapping=m)

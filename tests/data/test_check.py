"""check_trial: every kind of problem of a data folder against its protocol, with where it is
(issue 18). The trial is the hand-written AB/BA trial of tests/handmade.py (diary items
avg_pain and max_pain only; visits inclusion, end_period_1, end_period_2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import handmade
from ketapain.data import LENIENT_KINDS, PROBLEM_KINDS, DataContract, TrialData, check_trial, template_columns
from ketapain.errors import DataError
from ketapain.protocol import Protocol, data_contract


@pytest.fixture(scope="module")
def contract() -> DataContract:
    return data_contract(Protocol.from_toml_text(handmade.protocol_text()))


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return handmade.tables()


def test_the_contract_comes_from_the_protocol(contract: DataContract) -> None:
    assert contract.treatments == ("A", "B") and contract.periods == 2
    assert contract.diary_items == ("avg_pain", "max_pain")
    assert dict(contract.visits) == {"inclusion": ("bpi", "hads"), "end_period_1": ("bpi", "hads", "pgic"),
                                     "end_period_2": ("bpi", "hads", "pgic")}
    assert contract.instrument_items["pgic"] == ("1",) and "9g" in contract.instrument_items["bpi"]


def test_a_clean_folder_passes(tmp_path: Path, contract: DataContract) -> None:
    result = check_trial(handmade.write(tmp_path / "trial"), contract)
    assert result.ok and result.kinds() == () and result.problems == ()
    result.raise_if_errors()  # nothing to raise


def test_a_clean_trial_data_passes_without_night_pain(tables: dict[str, pd.DataFrame], contract: DataContract) -> None:
    assert "night_pain" not in tables["diary"].columns
    assert check_trial(TrialData.from_tables(**tables), contract).ok


def test_unknown_visit_is_an_error_located_in_the_file(tmp_path: Path, contract: DataContract,
                                                       tables: dict[str, pd.DataFrame]) -> None:
    q = tables["questionnaires"]
    wrong = q.index[(q["patient_id"] == "P02") & (q["visit"] == "end_period_1")]
    q.loc[wrong, "visit"] = "week_3"
    result = check_trial(handmade.write(tmp_path / "trial", changes={"questionnaires": q}), contract)
    assert not result.ok and result.kinds() == ("unknown_visit",)
    (problem,) = result.of_kind("unknown_visit")
    assert problem.source == "questionnaires.csv" and problem.field == "visit" and problem.value == "week_3"
    assert problem.n_rows == len(wrong) and problem.rows == tuple(int(i) + 2 for i in wrong[:5])
    assert problem.allowed == "'inclusion', 'end_period_1', 'end_period_2'"
    assert str(problem).startswith(f"questionnaires.csv rows {wrong[0] + 2}, {wrong[1] + 2}, ")
    assert str(problem).endswith(f"visit='week_3' is not a visit of protocol 'handmade_ab_ba' (allowed: 'inclusion', "
                                 f"'end_period_1', 'end_period_2'); {len(wrong)} rows in all")
    with pytest.raises(DataError, match=r"do not fit the protocol: 1 error\n  unknown_visit: 1 error - "):
        result.raise_if_errors()


def test_unknown_instrument_unscheduled_instrument_and_unknown_item(tables: dict[str, pd.DataFrame],
                                                                    contract: DataContract) -> None:
    q = tables["questionnaires"]
    extra = pd.DataFrame({"patient_id": ["P01", "P01", "P03"], "visit": ["inclusion", "inclusion", "end_period_2"],
                          "instrument": ["sf36", "pgic", "bpi"], "item": ["1", "1", "night"], "value": [3.0, 2.0, 4.0]})
    tables["questionnaires"] = pd.concat([q, extra], ignore_index=True)
    result = check_trial(tables, contract)
    assert result.kinds() == ("unknown_instrument", "unscheduled_instrument", "unknown_item")
    assert result.kinds("error") == ("unknown_instrument", "unknown_item")
    first = len(q) + 2
    (inst,) = result.of_kind("unknown_instrument")
    assert (inst.source, inst.rows, inst.field, inst.value) == ("questionnaires", (first,), "instrument", "sf36")
    (where,) = result.of_kind("unscheduled_instrument")
    assert str(where) == (f"questionnaires row {first + 1}: instrument='pgic' at visit='inclusion': the protocol "
                          "does not list it at that visit")
    (item,) = result.of_kind("unknown_item")
    assert (item.rows, item.field, item.value) == ((first + 2,), "item", "night")
    assert "see ketapain instruments bpi" in str(item) and item.allowed is not None and "9a" in item.allowed


def test_missing_diary_item_and_values_off_the_scale(tables: dict[str, pd.DataFrame]) -> None:
    contract = DataContract(study="vas", treatments=("A", "B"), periods=2, diary_items=("avg_pain", "pain_vas"),
                            scale_min=0, scale_max=100, days_per_period=14, visits={}, instrument_items={})
    diary = tables["diary"].drop(columns="avg_pain").assign(pain_vas=50.0)
    diary.loc[3, "pain_vas"] = 120.0
    diary["pain_vas"] = diary["pain_vas"].astype(object)
    diary.loc[5, "pain_vas"] = "high"
    tables["diary"] = diary
    tables["questionnaires"] = tables["questionnaires"].iloc[:0]
    result = check_trial(tables, contract)
    assert result.kinds() == ("missing_diary_item", "diary_value", "diary_day")
    (missing,) = result.of_kind("missing_diary_item")
    assert (missing.source, missing.field, missing.rows) == ("diary", "avg_pain", ())
    assert str(missing) == "diary: column 'avg_pain' is missing; protocol 'vas' has the diary items avg_pain, pain_vas"
    assert [(p.rows, p.value) for p in result.of_kind("diary_value")] == [((5,), 120.0), ((7,), "high")]
    assert str(result.of_kind("diary_value")[0]) == "diary row 5: pain_vas=120 is not a number in 0..100 (the diary scale)"
    day = result.of_kind("diary_day")
    assert result.severity("diary_day") == "warning" and [p.value for p in day] == list(range(15, 22))
    assert day[0].n_rows == 16  # day 15 of 8 patients x 2 periods


def test_period_beyond_protocol_and_patients_without_allocation(tables: dict[str, pd.DataFrame],
                                                                contract: DataContract) -> None:
    patients = tables["patients"]
    tables["patients"] = pd.concat([patients, patients.iloc[[0]].assign(patient_id="P09")], ignore_index=True)
    alloc = tables["allocation"]
    tables["allocation"] = pd.concat([alloc, alloc.iloc[[0]].assign(period=3)], ignore_index=True)
    result = check_trial(tables, contract)
    assert "no_allocation" in result.kinds("error") and "period_beyond_protocol" in result.kinds("error")
    (orphan,) = result.of_kind("no_allocation")
    assert (orphan.source, orphan.rows, orphan.value) == ("patients", (10,), "P09")
    assert str(orphan) == "patients row 10: patient_id='P09' has no row in allocation"
    (late,) = result.of_kind("period_beyond_protocol")
    assert (late.source, late.rows, late.allowed) == ("allocation", (18,), "1..2")


def test_table_rules_are_invalid_data(tables: dict[str, pd.DataFrame], contract: DataContract) -> None:
    tables["diary"].loc[0, "max_pain"] = 11.0
    tables["allocation"].loc[1, "treatment"] = "C"
    result = check_trial(tables, contract)
    assert result.kinds() == ("invalid_data",)
    texts = [str(p) for p in result.of_kind("invalid_data")]
    assert "diary row 2: max_pain=11 is outside 0..10" in texts
    assert any(t.startswith("allocation row 3: treatment='C' is not one of 'A', 'B'") for t in texts)


def test_an_unreadable_folder_and_empty_tables(tmp_path: Path, contract: DataContract) -> None:
    result = check_trial(tmp_path / "nowhere", contract)
    assert result.kinds() == ("unreadable",) and "no such folder" in str(result.problems[0])
    empty = tmp_path / "empty"
    empty.mkdir()
    for name, columns in template_columns(contract).items():
        (empty / f"{name}.csv").write_text(",".join(columns) + "\n")
    result = check_trial(empty, contract)
    assert result.ok and result.kinds() == ("empty_table",)
    assert [p.source for p in result.warnings()] == ["patients.csv", "allocation.csv", "diary.csv"]


def test_lenient_turns_named_kinds_into_warnings(tables: dict[str, pd.DataFrame], contract: DataContract) -> None:
    tables["questionnaires"].loc[0, "visit"] = "week_3"
    assert not check_trial(tables, contract).ok
    result = check_trial(tables, contract, lenient=["unknown_visit"])
    assert result.ok and result.severity("unknown_visit") == "warning"
    assert [p.kind for p in result.warnings()] == ["unknown_visit"]
    assert result.kind_lines("unknown_visit")[0] == ("unknown_visit: 1 warning - a questionnaire visit that is not a "
                                                     "visit of the protocol")
    with pytest.raises(DataError, match="lenient='invalid_data': invalid_data cannot be made lenient; allowed: "):
        check_trial(tables, contract, lenient=["invalid_data"])
    assert set(LENIENT_KINDS) <= set(PROBLEM_KINDS)


def test_many_problems_are_counted_but_only_some_kept(tables: dict[str, pd.DataFrame], contract: DataContract) -> None:
    q = tables["questionnaires"]
    q["visit"] = [f"v{i}" for i in range(len(q))]
    result = check_trial(tables, contract)
    assert result.counts["unknown_visit"] == len(q) > len(result.of_kind("unknown_visit")) == 50
    assert result.kind_lines("unknown_visit", shown=2)[-1] == f"  ... and {len(q) - 2} more"

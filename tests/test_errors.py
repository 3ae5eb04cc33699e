"""Located errors (ketapain.errors, "Located messages"): the message starts with the table and
row held as fields, and a front end renames the table without editing text."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from ketapain.errors import DataError, KetapainError, ModelError


def python_names(name: str, value: str | None) -> str:
    return name if value is None else f"{name}={value}"


def test_located_message_puts_source_and_row_in_front() -> None:
    err = DataError("avg_pain=11 is outside 0..10", located=True, source="diary", row=17, column="avg_pain")
    assert str(err) == "diary row 17: avg_pain=11 is outside 0..10"
    assert (err.source, err.row, err.column, err.detail) == ("diary", 17, "avg_pain", "avg_pain=11 is outside 0..10")
    assert err.render(python_names, sources={"diary": "week 1.csv"}) == "week 1.csv row 17: avg_pain=11 is outside 0..10"
    # a source the front end does not know keeps its name; the message is not touched
    assert err.render(python_names, sources={"anchor": "a.csv"}) == str(err)


@pytest.mark.parametrize(("row", "where"), [(None, "data"), (5, "data row 5"), ((3, 4), "data rows 3 and 4"),
                                            ((3, 4, 9), "data rows 3, 4, 9")])
def test_row_forms(row, where: str) -> None:
    assert str(DataError("bad", located=True, source="data", row=row)) == f"{where}: bad"


def test_plain_message_is_never_renamed() -> None:
    # the CLI used to swap a leading "diary" by prefix matching; an unlocated message stays as written
    err = DataError("diary row 3: looks located but is not")
    assert err.render(python_names, sources={"diary": "d.csv"}) == "diary row 3: looks located but is not"


def test_located_template_renders_parameters_and_source() -> None:
    err = DataError(template="period {top} is above {@periods=}", params={"top": 3, "periods": 2},
                    located=True, source="allocation")
    assert str(err) == "allocation: period 3 is above periods=2"
    flags = err.render(lambda n, v: f"--{n}" if v is None else f"--{n} {v}", sources={"allocation": "alloc.csv"})
    assert flags == "alloc.csv: period 3 is above --periods 2"


def test_located_error_pickles_with_its_fields() -> None:
    err = ModelError("y=0 is not > 0", located=True, source="data", row=(2, 8))
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ModelError and str(back) == "data rows 2 and 8: y=0 is not > 0"
    assert back.render(python_names, sources={"data": "x.csv"}) == "x.csv rows 2 and 8: y=0 is not > 0"


def test_located_needs_a_source_and_one_message() -> None:
    with pytest.raises(TypeError, match="needs its source"):
        KetapainError("x", located=True)
    with pytest.raises(TypeError, match="one message"):
        KetapainError("x", "y", located=True, source="data")


def test_library_errors_are_located() -> None:
    """A real library error: a diary score out of range, raised by diary_auc on a frame whose
    third data row (spreadsheet row 4, header = row 1) holds 11."""
    from ketapain.stats import diary_auc

    diary = pd.DataFrame({"patient_id": [1, 1, 1], "period": [1, 1, 1], "day": [1, 2, 3], "avg_pain": [5, 6, 11]})
    with pytest.raises(DataError) as caught:
        diary_auc(diary, windows=(3,), time_axis="first_diary_day")
    err = caught.value
    assert err.located and (err.source, err.row) == ("diary", 4)
    assert err.render(python_names, sources={"diary": "mine.csv"}).startswith("mine.csv row 4: avg_pain=11")

"""The long-CSV reader works in chunks (issue 14, large inputs): the file's text is never held
whole, pandas parses ``_CHUNK_ROWS`` records at a time and the UTF-8 check reads blocks.

Each case is read twice, with chunks of 2 records (and 7-byte blocks) and with the defaults:
the same frame (values, dtypes, spreadsheet row numbers) and the same error messages, with
their row numbers, come out.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ketapain.data import _long, check_long, is_checked_long, read_long_csv
from ketapain.errors import DataError

COLUMNS = ["subject", "period", "sequence", "treatment", "y"]
GOOD = ["subject,period,sequence,treatment,y"] + [
    f"S{i},{k + 1},{seq},{seq[k]},{10 + i + k * 0.5}" for i in range(7) for seq in ["AB" if i % 2 else "BA"] for k in range(2)
]


def read_both(monkeypatch: pytest.MonkeyPatch, path: Path, **kwargs: object) -> tuple[object, object]:
    """What the reader and checker give (a frame or the error message) in small and default chunks."""
    out = []
    for chunk, block, head in ((2, 7, 64), (_long._CHUNK_ROWS, _long._BLOCK_BYTES, _long._HEAD_BYTES)):
        with monkeypatch.context() as m:
            m.setattr(_long, "_CHUNK_ROWS", chunk)
            m.setattr(_long, "_BLOCK_BYTES", block)
            m.setattr(_long, "_HEAD_BYTES", head)
            try:
                frame = read_long_csv(path, columns=COLUMNS, numeric=["y"], **kwargs)  # type: ignore[arg-type]
                out.append(check_long(frame, outcome="y", source=path.name))
            except DataError as exc:
                out.append(str(exc))
    return out[0], out[1]


@pytest.mark.parametrize(
    "lines",
    [
        GOOD,
        [*GOOD[:3], "", "  ,  ,,,", "", *GOOD[3:], "", ""],  # blank lines keep the row numbers
        [GOOD[0], '"S0",1,"BA",B,"1.5"', 'S0,2,BA,A,""', *GOOD[3:]],  # quoted and empty cells
        [*GOOD[:4], "S9,1,AB,A", *GOOD[4:]],  # a short record: its outcome is missing
    ],
    ids=["plain", "blank-lines", "quoted", "short-record"],
)
def test_chunked_reading_gives_the_same_frame(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    small, default = read_both(monkeypatch, path)
    assert isinstance(small, pd.DataFrame) and isinstance(default, pd.DataFrame)
    pd.testing.assert_frame_equal(small, default)
    assert small.index.name == "row"


@pytest.mark.parametrize(
    "lines",
    [
        [*GOOD[:5], "S2,1,AB,B,x", "", "S3,1,BA,B,inf", *GOOD[8:]],  # values, after a blank line
        [*GOOD[:9], "S1,2,AB,A,3", *GOOD[9:]],  # a duplicate row and two sequences in the last chunk
        [*GOOD[:2], "S0,1,BA,B,1,extra", *GOOD[3:]],  # a record with too many fields
        [GOOD[0]],  # header only
        [GOOD[0].replace(",", ";")] + [line.replace(",", ";") for line in GOOD[1:]],
    ],
    ids=["bad-values", "bad-design", "ragged", "header-only", "semicolons"],
)
def test_chunked_reading_gives_the_same_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    small, default = read_both(monkeypatch, path)
    assert isinstance(small, str) and small == default


def test_a_bad_byte_after_the_first_block_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    raw = ("\n".join(GOOD) + "\n").encode("utf-8")
    path.write_bytes(raw[:100] + b"\xff" + raw[100:])
    small, default = read_both(monkeypatch, path)
    assert small == default and "byte 100 is b'\\xff'" in str(small)


def test_byte_order_marks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(GOOD) + "\n", encoding="utf-8")
    expected = read_both(monkeypatch, plain)[1]
    for encoding in ("utf-8-sig", "utf-16"):
        path = tmp_path / f"{encoding}.csv"
        path.write_text("\n".join(GOOD) + "\n", encoding=encoding)
        small, default = read_both(monkeypatch, path)
        assert isinstance(small, pd.DataFrame) and isinstance(default, pd.DataFrame)
        pd.testing.assert_frame_equal(small, expected)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(default, expected)  # type: ignore[arg-type]


def test_checked_frames_are_recognised(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("\n".join(GOOD) + "\n", encoding="utf-8")
    raw = read_long_csv(path, columns=COLUMNS, numeric=["y"])
    checked = check_long(raw, outcome="y")
    assert is_checked_long(checked, outcome="y")
    assert not is_checked_long(raw, outcome="y")
    assert not is_checked_long(checked.copy(), outcome="y")  # another object: checked again
    assert not is_checked_long(checked, outcome="y", subject="other")
    assert not is_checked_long(check_long(raw.assign(trial="1"), outcome="y", by="trial"), outcome="y")

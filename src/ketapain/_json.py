"""JSON-safe values, defined once for every ``to_dict()``, results file and JSON output.

At the bottom of the layers with :mod:`ketapain.errors`: every package may import it.

>>> json_number(float("nan")), json_number(np.float64(2.5)), json_number(np.int64(3)), json_number(None)
(None, 2.5, 3.0, None)
>>> json_safe({"a": (1, np.nan), "b": np.array([1.5, np.inf]), "c": pd.Timestamp("2020-01-02")})
{'a': [1, None], 'b': [1.5, None], 'c': '2020-01-02'}

:func:`read_json_file` reads a JSON file a user gives (answers, a FHIR Bundle): UTF-8, or
UTF-16/UTF-32 with a byte-order mark; every failure (unreadable, undecodable, invalid,
nested too deeply, an integer beyond Python's 4300-digit limit) is one error naming the file.

>>> decode_json(b'\\xff\\xfe{\\x00"\\x00a\\x00"\\x00:\\x001\\x00}\\x00', name="f.json")
{'a': 1}
>>> decode_json(b"[" * 100_000, name="deep.json")
Traceback (most recent call last):
...
ketapain.errors.DataError: deep.json: not valid JSON: nested too deeply (a JSON file here nests a few levels)
"""

from __future__ import annotations

import codecs
import json
import math
import sys
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ketapain.errors import DataError, KetapainError

__all__ = ["decode_json", "json_number", "json_safe", "read_json_file"]

_BOMS = (  # the longest first: UTF-32 LE starts like UTF-16 LE
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def json_number(x: Any) -> float | None:
    """``x`` as a finite float, or None (None, NaN, NA, infinite, not a number)."""
    if x is None or x is pd.NA or isinstance(x, bool | np.bool_):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def json_safe(value: Any) -> Any:
    """Recursively convert to JSON-safe Python: NaN/inf/NA -> None, numpy -> Python, frames ->
    lists of records, tuples and arrays -> lists, timestamps -> ISO dates."""
    if isinstance(value, pd.DataFrame):
        return [json_safe(r) for r in value.to_dict(orient="records")]
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        x = float(value)
        return x if math.isfinite(x) else None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def read_json_file(path: str | PathLike[str], *, error: type[KetapainError] = DataError,
                   constants_hint: str | None = None) -> Any:
    """The JSON value in the file ``path``; any failure is ``error`` naming the file.

    See :func:`decode_json` (``constants_hint``: refuse ``NaN``/``Infinity`` with this advice).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise error(f"{p}: cannot read: {exc.strerror or exc}", source=p.name) from None
    return decode_json(raw, name=p.name, error=error, constants_hint=constants_hint)


def decode_json(raw: bytes, *, name: str, error: type[KetapainError] = DataError, constants_hint: str | None = None) -> Any:
    """Decode the bytes of a JSON file named ``name``: UTF-8 (with or without a byte-order mark),
    or UTF-16 / UTF-32 with one; NaN and Infinity refused when ``constants_hint`` is given.

    Raises
    ------
    KetapainError
        (``error``, a DataError by default) not UTF-8 and no byte-order mark; invalid JSON
        (line and column); nested too deeply; an integer of more than
        ``sys.get_int_max_str_digits()`` digits — each naming ``name``.
    """
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    allowed = "UTF-8, or UTF-16/UTF-32 with a BOM"
    if encoding == "utf-8" and b"\x00" in raw:  # never in JSON text: UTF-16/32 without its byte-order mark
        raise error(f"{name}: contains NUL bytes: it looks like UTF-16 or UTF-32 without a byte-order mark; save it as "
                    "UTF-8 (or UTF-16 with a byte-order mark)", source=name, allowed=allowed)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise error(f"{name}: cannot decode as {encoding.upper().replace('-SIG', '')} (byte {raw[exc.start]:#04x} at "
                    f"{exc.start}); save it as UTF-8 (or UTF-16 with a byte-order mark)", source=name, allowed=allowed) from None

    def no_constant(value: str) -> Any:
        raise error(f"{name}: not valid JSON: {value} is not a JSON value ({constants_hint})", source=name, value=value)

    try:
        return json.loads(text, parse_constant=no_constant if constants_hint is not None else None)
    except json.JSONDecodeError as exc:
        raise error(f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", source=name,
                    row=exc.lineno) from None
    except KetapainError:  # NaN or Infinity refused by no_constant
        raise
    except RecursionError:
        raise error(f"{name}: not valid JSON: nested too deeply (a JSON file here nests a few levels)", source=name) from None
    except ValueError:  # an integer longer than sys.get_int_max_str_digits()
        raise error(f"{name}: not valid JSON: an integer has more than {sys.get_int_max_str_digits()} digits",
                    source=name) from None

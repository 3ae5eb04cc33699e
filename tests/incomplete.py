"""Checks of the ``incomplete`` keyword shared by the instrument tests (issue 3, Contract).

By default (``incomplete="error"``) a respondent with a declared score that comes back missing
while one of its items is unanswered — more missing items than the manual allows — raises
:class:`InstrumentError` naming the instrument, the respondent, the score, the unanswered items
and the rule; so does a blank form. With ``incomplete="missing"`` the score is None.

:func:`score_both` and :func:`frame_both` return the scores under ``incomplete="missing"`` (the
result the tests assert on, as before) after checking the default against them: the same result
when nothing is incomplete, otherwise the error with every part of its message (derived from the
declared items and rules). :func:`checked` also returns that message, and :func:`message` gives
the default's message for explicit assertions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pytest

from ketapain.errors import FIRST_DATA_ROW, InstrumentError
from ketapain.instruments import Instrument, get_instrument, score, score_frame

HINT = "pass incomplete='missing' to get the score as missing instead"


def _blank(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    return isinstance(value, float) and math.isnan(value)


def _items(keys: Sequence[str]) -> str:
    return ("item " if len(keys) == 1 else "items ") + ", ".join(keys)


def expected_parts(
    inst: Instrument, unanswered: set[str], result: Mapping[str, Any], options: Mapping[str, str]
) -> list[str]:
    """The message parts the default must raise with for one respondent ([] = no error).

    ``unanswered``: the respondent's blank item keys; ``result``: its scores under
    ``incomplete="missing"`` (None = missing).
    """
    scored = [it.key for it in inst.items if it.scored]
    if all(k in unanswered for k in scored) and all(result[s.name] is None for s in inst.scores):
        if all(k in unanswered for k in inst.item_keys):
            return [f"the form is blank (no item answered), so none of its scores ({', '.join(inst.score_names)})"]
        return ["no scored item is answered (only "]
    parts = []
    for s in inst.scores:
        keys, rule = s.requirement(options)
        if keys is None or result[s.name] is not None:
            continue
        missing = [k for k in keys if k in unanswered]
        if missing:
            parts.append(f"{s.name} cannot be scored: {_items(missing)} unanswered; {s.name} {rule}")
    return parts


def message(instrument: str | Instrument, responses: Mapping[str, Any], **options: str) -> str:
    """The InstrumentError message of ``score`` under the default ``incomplete="error"``."""
    with pytest.raises(InstrumentError) as err:
        score(instrument, responses, **options)
    text = str(err.value)
    assert text.endswith("; " + HINT), text
    return text


def score_both(instrument: str | Instrument, responses: Mapping[str, Any], **options: str) -> dict[str, Any]:
    """The scores with ``incomplete="missing"``, after checking the default, ``"error"``: it returns
    them when no score is left missing by unanswered items, and raises naming each such score (its
    unanswered items and rule) or the blank form otherwise. One call when nothing is incomplete."""
    return checked(instrument, responses, **options)[0]


def checked(
    instrument: str | Instrument, responses: Mapping[str, Any], **options: str
) -> tuple[dict[str, Any], str | None]:
    """As :func:`score_both`, also returning the default's message (None when it scored)."""
    inst = get_instrument(instrument)
    given = {str(k): v for k, v in responses.items()}
    unanswered = {k for k in inst.item_keys if k not in given or _blank(given[k])}
    opts = inst.resolve_options(options)
    try:
        strict = score(inst, responses, **options)
    except InstrumentError as exc:
        text = str(exc)
        lenient = score(inst, responses, incomplete="missing", **options)  # a bad value raises here too
        parts = expected_parts(inst, unanswered, lenient, opts)
        assert parts, f"raised although every score's allowance is met: {text}"
        assert text.startswith(f"{inst.name}: ") and text.endswith("; " + HINT), text
        for part in parts:
            assert part in text, f"{part!r} not in {text!r}"
        return lenient, text
    assert expected_parts(inst, unanswered, strict, opts) == [], strict
    return strict, None


def frame_both(
    instrument: str | Instrument, data: pd.DataFrame, *, id_columns: Sequence[str] = (), **options: str
) -> pd.DataFrame:
    """``score_frame(wide data, ..., incomplete="missing")``, after checking the default against
    it: the same frame, or an error naming the first incomplete respondent's spreadsheet row, its
    scores, items and rules, and how many more respondents are incomplete."""
    inst = get_instrument(instrument)
    try:
        strict = score_frame(inst, data, id_columns=id_columns, **options)
    except InstrumentError as exc:
        text = str(exc)
        lenient = score_frame(inst, data, id_columns=id_columns, incomplete="missing", **options)
        assert lenient.attrs["incomplete"] == "missing"
    else:
        assert strict.attrs["incomplete"] == "error"
        lenient, text = strict, ""
    answers = data.drop(columns=list(id_columns))
    answers.columns = [str(c) for c in answers.columns]
    opts = inst.resolve_options(options)
    failing: list[tuple[int, list[str]]] = []
    for pos in range(len(data)):
        row = answers.iloc[pos]
        unanswered = {k for k in inst.item_keys if k not in row.index or _blank(row[k])}
        result = {s.name: (None if pd.isna(lenient[s.name].iloc[pos]) else lenient[s.name].iloc[pos]) for s in inst.scores}
        parts = expected_parts(inst, unanswered, result, opts)
        if parts:
            failing.append((pos, parts))
    if not failing:
        assert not text, f"raised although every respondent's scores are within the allowance: {text}"
        return lenient
    assert text, "no error although a respondent is incomplete"
    pos, parts = failing[0]
    assert text.startswith(f"{inst.name} row {pos + FIRST_DATA_ROW}: "), text
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    more = len(failing) - 1
    if more:
        assert f"; {more} more respondent{'s' if more > 1 else ''} in these data" in text, text
    else:
        assert "more respondent" not in text, text
    assert text.endswith("; " + HINT), text
    return lenient

"""The instrument registry and the two scoring entry points, ``score`` and ``score_frame``.

Instrument modules are the public (non-underscore) modules of this package that define an
``INSTRUMENT``; they are found once, on first use, so adding a questionnaire means adding one
module and nothing else.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ketapain.errors import FIRST_DATA_ROW, InstrumentError
from ketapain.instruments._spec import Instrument, declared_columns

__all__ = ["get_instrument", "instruments", "score", "score_frame"]

_REGISTRY: dict[str, Instrument] = {}
LONG_COLUMNS = ("instrument", "item", "value")
LONG_KEYS = ("patient_id", "visit")


def _load() -> dict[str, Instrument]:
    if not _REGISTRY:
        package = importlib.import_module("ketapain.instruments")
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"ketapain.instruments.{info.name}")
            inst = getattr(module, "INSTRUMENT", None)
            if isinstance(inst, Instrument):
                if inst.name in _REGISTRY:
                    raise RuntimeError(f"two instruments are called {inst.name!r}")
                _REGISTRY[inst.name] = inst
    return _REGISTRY


def instruments() -> dict[str, Instrument]:
    """All registered instruments by name (sorted).

    Examples
    --------
    >>> "pgic" in instruments()
    True
    """
    return dict(sorted(_load().items()))


def get_instrument(name: str | Instrument) -> Instrument:
    """The instrument called ``name`` (case-insensitive); InstrumentError lists the known ones."""
    if isinstance(name, Instrument):
        return name
    reg = _load()
    key = str(name).lower()
    if key not in reg:
        raise InstrumentError(f"unknown instrument {name!r}; known: {', '.join(sorted(reg))}")
    return reg[key]


def _run(inst: Instrument, numeric: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    out = inst.scorer(numeric, options)
    expected = list(declared_columns(inst))
    if list(out.columns) != expected or not out.index.equals(numeric.index):
        raise RuntimeError(f"{inst.name} scorer returned columns {list(out.columns)}, expected {expected}")
    for s in inst.scores:  # guard: a score outside its declared range is a bug, never data
        vals = pd.to_numeric(out[s.name], errors="coerce").to_numpy(dtype=float)
        lo = -np.inf if s.minimum is None else s.minimum - 1e-9
        hi = np.inf if s.maximum is None else s.maximum + 1e-9
        if not (np.isnan(vals) | ((vals >= lo) & (vals <= hi))).all():
            raise RuntimeError(f"{inst.name}: score {s.name} out of its range {s.minimum}..{s.maximum}")
    out.attrs["instrument"] = inst.name
    out.attrs["options"] = dict(options)
    return out


def _plain(value: Any) -> float | bool | int | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating) and math.isnan(float(value)):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    return float(value)


def score(instrument: str | Instrument, responses: Mapping[str, Any], **options: str) -> dict[str, Any]:
    """Score one respondent's answers.

    Parameters
    ----------
    instrument : instrument name (see :func:`instruments`) or object.
    responses : item key -> recorded value (numbers; ``"HH:MM"`` for clock items; None or
        absent = missing).
    **options : the instrument's named options (defaults documented per instrument).

    Returns
    -------
    dict
        Every declared score (``None`` when the manual's rules leave it missing), then the
        report entries (e.g. how many items were imputed). Which options ran is in
        ``score_frame(...).attrs["options"]`` and in the CLI output.

    Raises
    ------
    InstrumentError
        Unknown instrument, item or option; a value of the wrong type or outside the allowed
        values — the message names instrument, item, value and what is allowed.
    """
    inst = get_instrument(instrument)
    opts = inst.resolve_options(options)
    if not isinstance(responses, Mapping):
        raise InstrumentError(f"{inst.name}: responses must be a mapping of item -> value, got {type(responses).__name__}")
    frame = pd.DataFrame([{str(k): v for k, v in responses.items()}], index=pd.Index(["responses"]), dtype=object)
    numeric = inst.numeric_items(frame, where="responses")
    row = _run(inst, numeric, opts).iloc[0]
    return {name: _plain(row[name]) for name in declared_columns(inst)}


def score_frame(
    instrument: str | Instrument,
    data: pd.DataFrame,
    *,
    id_columns: Sequence[str] = (),
    **options: str,
) -> pd.DataFrame:
    """Score many respondents at once (vectorised).

    ``data`` is either **wide** — one row per respondent, columns named by item keys, plus the
    ``id_columns`` to carry through — or **long**, the ``questionnaires`` table of TrialData
    (``patient_id, visit, instrument, item, value``): rows of other instruments are ignored
    and each patient x visit is one respondent.

    Returns the id columns (``patient_id, visit`` for long input), the declared scores and the
    report columns; ``attrs["options"]`` records the options that ran.
    """
    inst = get_instrument(instrument)
    opts = inst.resolve_options(options)
    if set(LONG_COLUMNS) <= set(data.columns):
        keys = [c for c in LONG_KEYS if c in data.columns]
        if not keys:
            raise InstrumentError(f"{inst.name}: long data need a patient_id (and visit) column")
        rows = data[data["instrument"].astype(str).str.lower() == inst.name]
        dup = rows.duplicated(subset=[*keys, "item"])
        if dup.any():
            r = rows[dup].iloc[0]
            raise InstrumentError(
                f"{inst.name}: item {r['item']} appears twice for "
                + ", ".join(f"{k}={r[k]!r}" for k in keys)
            )
        wide = rows.assign(item=rows["item"].astype(str)).pivot(index=keys, columns="item", values="value")
        wide.columns.name = None
        ids = wide.index.to_frame(index=False)
        wide = wide.reset_index(drop=True).astype(object)
        where = "respondent"
        wide.index = pd.Index(
            [" ".join(f"{k}={v}" for k, v in zip(keys, vals, strict=True)) for vals in ids.itertuples(index=False)]
        )
    else:
        missing = [c for c in id_columns if c not in data.columns]
        if missing:
            raise InstrumentError(f"{inst.name}: id column(s) {', '.join(missing)} not in the data")
        ids = data[list(id_columns)].reset_index(drop=True)
        wide = data.drop(columns=list(id_columns))
        wide.columns = [str(c) for c in wide.columns]
        wide.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(wide))  # spreadsheet rows
        where = "row"
    numeric = inst.numeric_items(wide, where=where)
    scored = _run(inst, numeric.reset_index(drop=True), opts)
    out = pd.concat([ids.reset_index(drop=True), scored], axis=1)
    out.attrs.update(scored.attrs)
    return out

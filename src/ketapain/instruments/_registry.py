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
from ketapain.instruments._spec import RESPONDENTS, Instrument, declared_columns

__all__ = ["get_instrument", "instruments", "score", "score_frame"]

_REGISTRY: dict[str, Instrument] = {}
LONG_COLUMNS = ("instrument", "item", "value")
LONG_KEYS = ("patient_id", "visit")


def _is_instrument(obj: object) -> bool:
    """An Instrument, also when ``_spec`` was executed twice (pytest's importlib mode can
    re-run a module collected for doctests, giving a second, equal class)."""
    cls = type(obj)
    return isinstance(obj, Instrument) or (cls.__name__ == "Instrument" and cls.__module__ == Instrument.__module__)


def _load() -> dict[str, Instrument]:
    if not _REGISTRY:
        found: dict[str, Instrument] = {}  # filled completely before it is published
        package = importlib.import_module("ketapain.instruments")
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"ketapain.instruments.{info.name}")
            inst = getattr(module, "INSTRUMENT", None)
            if _is_instrument(inst):
                if inst.name in found:
                    raise RuntimeError(f"two instruments are called {inst.name!r}")
                found[inst.name] = inst
        _REGISTRY.update(found)
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
    if _is_instrument(name):
        return name  # type: ignore[return-value]
    reg = _load()
    key = str(name).lower()
    if key not in reg:
        raise InstrumentError(f"unknown instrument {name!r}; known: {', '.join(sorted(reg))}")
    return reg[key]


def _run(inst: Instrument, numeric: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    """Call the scorer and check its contract; a breach is a bug of the module (RuntimeError)."""
    out = inst.scorer(numeric, options)
    expected = list(declared_columns(inst))
    if not isinstance(out, pd.DataFrame) or list(out.columns) != expected:
        got = list(out.columns) if isinstance(out, pd.DataFrame) else type(out).__name__
        raise RuntimeError(f"{inst.name} scorer returned columns {got}, expected {expected}")
    if not out.index.equals(numeric.index):
        raise RuntimeError(f"{inst.name} scorer returned a different index (one row per respondent, same order)")
    for s in inst.scores:  # guard: a score outside its declared range is a bug, never data
        col = out[s.name]
        if s.kind == "bool":
            if pd.api.types.is_bool_dtype(col.dtype):  # bool or nullable "boolean": nothing to check
                continue
            ok = col.map(lambda v: _is_blank(v) or isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
            if not ok.all():
                raise RuntimeError(f"{inst.name}: score {s.name} is declared true/false but holds {col[~ok].iloc[0]!r}")
            continue
        vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        if (np.isnan(vals) & ~col.isna().to_numpy()).any():
            raise RuntimeError(f"{inst.name}: score {s.name} holds a value that is not a number")
        lo = -np.inf if s.minimum is None else s.minimum - 1e-9
        hi = np.inf if s.maximum is None else s.maximum + 1e-9
        if not (np.isnan(vals) | ((vals >= lo) & (vals <= hi))).all():
            raise RuntimeError(f"{inst.name}: score {s.name} out of its range {s.minimum}..{s.maximum}")
    out.attrs.pop(RESPONDENTS, None)  # propagated from the input frame by some pandas operations
    out.attrs["instrument"] = inst.name
    out.attrs["options"] = dict(options)
    return out


def _is_blank(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(float(value)))


def _plain_id(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _plain(value: Any, kind: str = "number") -> float | bool | int | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating) and math.isnan(float(value)):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if kind == "count" and float(value).is_integer():
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
    answers: dict[str, Any] = {}
    for k, v in responses.items():
        if str(k) in answers:
            raise InstrumentError(f"{inst.name}: item {k} is given twice (as {k!r} and {str(k)!r})")
        answers[str(k)] = v
    frame = pd.DataFrame([answers], index=pd.Index(["responses"]), dtype=object)
    numeric = inst.numeric_items(frame, where="responses")
    row = _run(inst, numeric, opts).iloc[0]
    kinds = {s.name: s.kind for s in (*inst.scores, *inst.reports)}
    return {name: _plain(row[name], kinds[name]) for name in declared_columns(inst)}


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
    and each patient x visit is one respondent (or each combination of ``id_columns``, when
    given, e.g. ``("patient_id", "period")``).

    Returns the id columns (``patient_id, visit`` for long input), the declared scores and the
    report columns; ``attrs["instrument"]`` and ``attrs["options"]`` record what ran.

    Raises
    ------
    InstrumentError
        As :func:`score`, naming the spreadsheet row (wide; header = row 1) or the respondent's
        ids (long); also a missing id column, or an item given twice for one respondent (long).

    Examples
    --------
    >>> wide = pd.DataFrame({"patient_id": [1, 2], "1": [2, 5]})
    >>> score_frame("pgic", wide, id_columns=["patient_id"])
       patient_id  pgic  responder  any_improvement
    0           1   2.0       True             True
    1           2   5.0      False            False
    """
    inst = get_instrument(instrument)
    opts = inst.resolve_options(options)
    if isinstance(id_columns, str):
        id_columns = (id_columns,)
    if set(LONG_COLUMNS) <= set(data.columns):
        keys = list(id_columns) or [c for c in LONG_KEYS if c in data.columns]
        if not keys:
            raise InstrumentError(f"{inst.name}: long data need a patient_id (and visit) column")
        absent = [c for c in keys if c not in data.columns]
        if absent:
            raise InstrumentError(f"{inst.name}: id column(s) {', '.join(absent)} not in the data")
        rows = data[data["instrument"].astype(str).str.lower() == inst.name]
        rows = rows.assign(item=rows["item"].astype(str))
        dup = rows.duplicated(subset=[*keys, "item"])
        if dup.any():
            r = rows[dup].iloc[0]
            raise InstrumentError(
                f"{inst.name}: item {r['item']} appears twice for "
                + ", ".join(f"{k}={_plain_id(r[k])!r}" for k in keys)
            )
        wide = rows.pivot(index=keys, columns="item", values="value")
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
    # the scorer sees positions 0..n-1 (as always); attrs["respondents"] keeps the row/respondent
    # labels for its messages (see _spec.respondent)
    positional = numeric.reset_index(drop=True)
    positional.attrs = dict(numeric.attrs)
    scored = _run(inst, positional, opts)
    out = pd.concat([ids.reset_index(drop=True), scored], axis=1)
    out.attrs.update(scored.attrs)
    return out

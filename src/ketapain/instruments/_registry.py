"""The instrument registry and the two scoring entry points, ``score`` and ``score_frame``.

Instrument modules are the public (non-underscore) modules of this package that define an
``INSTRUMENT``; they are found once, on first use, so adding a questionnaire means adding one
module and nothing else.

Both entry points take the framework keyword ``incomplete``: ``"error"`` (default) refuses a
respondent with more unanswered items than the manual allows for one of its scores (an
:class:`~ketapain.errors.InstrumentError` naming the respondent, the score, the unanswered
items and the rule), ``"missing"`` leaves that score None and reports the missing items.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeGuard

import numpy as np
import pandas as pd

from ketapain._json import json_safe
from ketapain.errors import FIRST_DATA_ROW, InstrumentError
from ketapain.instruments._spec import (
    RESPONDENTS,
    Instrument,
    declared_columns,
    respondent,
)

__all__ = ["get_instrument", "instruments", "score", "score_frame"]

_REGISTRY: dict[str, Instrument] = {}
LONG_COLUMNS = ("instrument", "item", "value")
LONG_KEYS = ("patient_id", "visit")

Incomplete = Literal["error", "missing"]
INCOMPLETE: tuple[str, ...] = ("error", "missing")
INCOMPLETE_HINT = "pass {@incomplete='missing'} to get the score as missing instead"
"""How every incomplete-respondent message ends (a template: the CLI names its own flag)."""


def _is_instrument(obj: object) -> TypeGuard[Instrument]:
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
        return name
    reg = _load()
    key = str(name).lower()
    if key not in reg:
        raise InstrumentError(f"unknown instrument {name!r}; known: {', '.join(sorted(reg))}",
                              column="instrument", value=name, allowed=tuple(sorted(reg)))
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


def _check_incomplete_keyword(inst: Instrument, incomplete: Any) -> None:
    if not isinstance(incomplete, str) or incomplete not in INCOMPLETE:
        raise InstrumentError(template="{name}: {@incomplete=} is not one of {allowed}",
                              params={"name": inst.name, "incomplete": incomplete, "allowed": ", ".join(INCOMPLETE)})


def _items_text(keys: Sequence[str]) -> str:
    return ("item " if len(keys) == 1 else "items ") + ", ".join(keys)


def _refuse_incomplete(
    inst: Instrument, numeric: pd.DataFrame, out: pd.DataFrame, options: Mapping[str, str]
) -> None:
    """``incomplete="error"``: raise for the first respondent with a score left missing by
    unanswered items (beyond the manual's allowance) or with a blank form; vectorised.

    A score is checked when it declares ``items``: it must not be missing while one of its
    items (under the options that ran) is unanswered. A blank form — no scored item answered
    and every score missing — is refused too, whatever the scores declare.
    """
    n = len(out)
    if n == 0 or not inst.scores:
        return
    blank = np.isnan(numeric.to_numpy(dtype=float))  # (n, items), True = unanswered
    column = {str(k): j for j, k in enumerate(numeric.columns)}  # one column per item (numeric_items)
    missing = {s.name: pd.isna(out[s.name].to_numpy()) for s in inst.scores}
    scored = [column[it.key] for it in inst.items if it.scored]
    form_blank = np.logical_and.reduce(list(missing.values())) & blank[:, scored].all(axis=1)
    failing: list[tuple[str, tuple[str, ...], str, np.ndarray]] = []
    for s in inst.scores:
        keys, rule = s.requirement(options)
        if not keys:
            continue
        mask = missing[s.name] & blank[:, [column[k] for k in keys]].any(axis=1)
        if mask.any():
            failing.append((s.name, keys, rule, mask))
    bad = form_blank.copy()
    for *_, mask in failing:
        bad |= mask
    if not bad.any():
        return
    positions = np.flatnonzero(bad)
    pos = int(positions[0])
    row_blank = {k: bool(blank[pos, column[k]]) for k in inst.item_keys}
    if form_blank[pos]:
        answered = [k for k in inst.item_keys if not row_blank[k]]
        scores = ", ".join(inst.score_names)
        what = (
            f"the form is blank (no item answered), so none of its scores ({scores}) can be computed"
            if not answered
            else f"no scored item is answered (only {_items_text(answered)}), so none of its scores ({scores}) "
            "can be computed"
        )
    else:
        what = "; ".join(
            f"{name} cannot be scored: {_items_text([k for k in keys if row_blank[k]])} unanswered; {name} {rule}"
            for name, keys, rule, mask in failing
            if mask[pos]
        )
    more = len(positions) - 1
    also = ""
    if more:
        also = f"; {more} more respondents in these data are incomplete too" if more > 1 else (
            "; 1 more respondent in these data is incomplete too"
        )
    raise InstrumentError(template="{head}: {what}{also}; " + INCOMPLETE_HINT,
                          params={"head": inst.name + respondent(numeric, pos), "what": what, "also": also})


def _is_blank(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(float(value)))


def _plain_id(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _plain(value: Any, kind: str = "number") -> Any:
    """A score as plain JSON-safe Python (:func:`ketapain._json.json_safe`: missing -> None, numpy ->
    bool, int or float); a whole ``count`` as ``int``."""
    plain = json_safe(value)
    if kind == "count" and isinstance(plain, float) and plain.is_integer():
        return int(plain)
    return plain


def score(
    instrument: str | Instrument,
    responses: Mapping[str, Any],
    *,
    incomplete: Incomplete = "error",
    **options: str,
) -> dict[str, Any]:
    """Score one respondent's answers.

    Parameters
    ----------
    instrument : instrument name (see :func:`instruments`) or object.
    responses : item key -> recorded value (numbers; ``"HH:MM"`` for clock items; None or
        absent = missing).
    incomplete : what to do when more items are unanswered than the manual allows for a score
        (a framework keyword, not an instrument option). ``"error"`` (default): raise
        InstrumentError naming the score, the unanswered items and the rule; a blank form is
        refused too. ``"missing"``: that score is None (the report entries count what was
        missing). Missing items within the manual's allowance are always handled as the
        manual says (e.g. pro-rated) and reported.
    **options : the instrument's named options (defaults documented per instrument).

    Returns
    -------
    dict
        Every declared score (``None`` when the manual's rules leave it missing, only with
        ``incomplete="missing"`` or for scores missing for other reasons, e.g. SF-36 PCS/MCS
        under RAND scoring), then the report entries (e.g. how many items were imputed).
        Which options ran is in ``score_frame(...).attrs["options"]`` and in the CLI output.

    Raises
    ------
    InstrumentError
        Unknown instrument, item or option; a value of the wrong type or outside the allowed
        values — the message names instrument, item, value and what is allowed; with
        ``incomplete="error"``, too many unanswered items for a score, or a blank form.

    Examples
    --------
    >>> score("hads", {"1": 3, "3": 2, "5": 2, "7": 1}, missing="half_rule")
    Traceback (most recent call last):
    ...
    ketapain.errors.InstrumentError: hads: depression cannot be scored: items 2, 4, 6, 8, 10, 12, 14 unanswered;
    depression needs at least 4 of its 7 items (missing='half_rule', Bell et al. 2016); pass incomplete='missing'
    to get the score as missing instead
    >>> score("hads", {"1": 3, "3": 2, "5": 2, "7": 1}, missing="half_rule", incomplete="missing")["depression"] is None
    True
    """
    inst = get_instrument(instrument)
    _check_incomplete_keyword(inst, incomplete)
    opts = inst.resolve_options(options)
    if not isinstance(responses, Mapping):
        raise InstrumentError(f"{inst.name}: responses must be a mapping of item -> value, got {type(responses).__name__}")
    answers: dict[str, Any] = {}
    for k, v in responses.items():
        if str(k) in answers:
            raise InstrumentError(f"{inst.name}: item {k} is given twice (as {k!r} and {str(k)!r})", column=str(k))
        answers[str(k)] = v
    frame = pd.DataFrame([answers], index=pd.Index(["responses"]), dtype=object)
    numeric = inst.numeric_items(frame, where="responses")
    out = _run(inst, numeric, opts)
    if incomplete == "error":
        _refuse_incomplete(inst, numeric, out, opts)
    row = out.iloc[0]
    kinds = {s.name: s.kind for s in (*inst.scores, *inst.reports)}
    return {name: _plain(row[name], kinds[name]) for name in declared_columns(inst)}


def _long_to_wide(inst: Instrument, data: pd.DataFrame, id_columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """``(ids, answers, "respondent")`` of long data: one row per respondent (``id_columns``,
    or ``patient_id``/``visit``), labelled ``"patient_id=3 visit=2"`` for messages."""
    keys = id_columns or [c for c in LONG_KEYS if c in data.columns]
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
        raise InstrumentError(f"{inst.name}: item {r['item']} appears twice for " + ", ".join(f"{k}={_plain_id(r[k])!r}" for k in keys))
    wide = rows.pivot(index=keys, columns="item", values="value")
    wide.columns.name = None
    ids = wide.index.to_frame(index=False)
    wide = wide.reset_index(drop=True).astype(object)
    wide.index = pd.Index([" ".join(f"{k}={v}" for k, v in zip(keys, vals, strict=True)) for vals in ids.itertuples(index=False)])
    return ids, wide, "respondent"


def _wide(inst: Instrument, data: pd.DataFrame, id_columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """``(ids, answers, "row")`` of wide data, the answers labelled by spreadsheet row."""
    missing = [c for c in id_columns if c not in data.columns]
    if missing:
        raise InstrumentError(f"{inst.name}: id column(s) {', '.join(missing)} not in the data")
    ids = data[id_columns].reset_index(drop=True)
    wide = data.drop(columns=id_columns)
    wide.columns = [str(c) for c in wide.columns]
    wide.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(wide))  # spreadsheet rows
    return ids, wide, "row"


def score_frame(
    instrument: str | Instrument,
    data: pd.DataFrame,
    *,
    id_columns: Sequence[str] = (),
    incomplete: Incomplete = "error",
    **options: str,
) -> pd.DataFrame:
    """Score many respondents at once (vectorised).

    ``data`` is either **wide** — one row per respondent, columns named by item keys, plus the
    ``id_columns`` to carry through — or **long**, the ``questionnaires`` table of TrialData
    (``patient_id, visit, instrument, item, value``): rows of other instruments are ignored
    and each patient x visit is one respondent (or each combination of ``id_columns``, when
    given, e.g. ``("patient_id", "period")``).

    ``incomplete`` is as in :func:`score`: with ``"error"`` (default) the first respondent with
    more unanswered items than the manual allows for a score (or a blank form) raises, naming
    that respondent and how many more are incomplete; with ``"missing"`` those scores are
    missing (NaN/NA) and every respondent is scored.

    Returns the id columns (``patient_id, visit`` for long input), the declared scores and the
    report columns; ``attrs["instrument"]``, ``attrs["options"]`` and ``attrs["incomplete"]``
    record what ran.

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
    _check_incomplete_keyword(inst, incomplete)
    opts = inst.resolve_options(options)
    if isinstance(id_columns, str):
        id_columns = (id_columns,)
    if set(LONG_COLUMNS) <= set(data.columns):
        ids, wide, where = _long_to_wide(inst, data, list(id_columns))
    else:
        ids, wide, where = _wide(inst, data, list(id_columns))
    numeric = inst.numeric_items(wide, where=where)
    # the scorer sees positions 0..n-1 (as always); attrs["respondents"] keeps the row/respondent
    # labels for its messages (see _spec.respondent)
    positional = numeric.reset_index(drop=True)
    positional.attrs = dict(numeric.attrs)
    scored = _run(inst, positional, opts)
    if incomplete == "error":
        _refuse_incomplete(inst, positional, scored, opts)
    scored.attrs["incomplete"] = incomplete
    out = pd.concat([ids.reset_index(drop=True), scored], axis=1)
    out.attrs.update(scored.attrs)
    return out

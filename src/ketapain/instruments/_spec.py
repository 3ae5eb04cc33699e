"""What an instrument is, as data: its items, options, scores and vectorised scorer.

Every questionnaire module declares one :class:`Instrument`. The framework (this module and
``_registry``) does everything that is the same for all instruments, once:

* checking answers against each item's declared values (unknown item, wrong type, out of
  range) with an :class:`~ketapain.errors.InstrumentError` naming instrument, item, value and
  what is allowed (and the respondent, for many at once);
* checking options against their declared choices;
* turning answers into a numeric frame (one row per respondent, one float column per item,
  NaN = missing; clock times become minutes after midnight) for the instrument's scorer.

The instrument's scorer then only does arithmetic, vectorised over respondents. It returns a
frame with the declared score columns (NaN/None where the manual's rules leave a score
missing) and may add the declared *report* columns (e.g. how many items were pro-rated).
Each score declares the items it is computed from and its missing-item rule
(:attr:`Score.items`, :attr:`Score.rule`), so that the framework can refuse, by default, a
score left missing because more items are unanswered than the manual allows (see
``incomplete`` in ``_registry``).
A scorer that rejects a combination of answers (a cross-item rule) names the respondent with
:func:`respondent`, the same way the framework's own messages do.

No licensed wording lives here: items carry neutral labels only, and scores a short label
naming their construct ("pain severity", "physical functioning"; see docs/instruments.md).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ketapain.errors import InstrumentError

__all__ = ["Instrument", "Item", "Option", "Score", "parse_clock", "plain_number", "respondent"]

ItemKind = Literal["integer", "number", "clock"]
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")

RESERVED_OPTIONS = ("incomplete", "id_columns")
"""Keywords of ``score``/``score_frame``: no instrument option may take these names."""


@dataclass(frozen=True, slots=True)
class Item:
    """One item of a questionnaire.

    Attributes
    ----------
    key : the instrument's own item number as a string (``"1"``, ``"5a"``, ``"9g"``, ``"A3"``).
    label : a neutral paraphrase naming the construct (never the licensed wording).
    kind : ``"integer"`` (whole numbers), ``"number"`` (any real) or ``"clock"`` (``"HH:MM"``
        or minutes after midnight 0..1439; converted to minutes).
    minimum, maximum : allowed range (inclusive) for integer/number items.
    step : allowed values are ``minimum + k * step`` (e.g. BPI relief 0, 10, ..., 100).
    values : explicit allowed values, when not a range (overrides minimum/maximum/step).
    required : False for items the manual lets respondents skip at no cost (e.g. PSQI 5j).
    scored : False for items recorded but not used by any score (e.g. NPSI 4 and 7).
    """

    key: str
    label: str
    kind: ItemKind = "integer"
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    values: tuple[float, ...] | None = None
    required: bool = True
    scored: bool = True

    def allowed(self) -> str:
        """Human-readable allowed values, for error messages."""
        if self.kind == "clock":
            return 'a clock time "HH:MM" (00:00..23:59) or minutes after midnight 0..1439'
        if self.values is not None:
            return "one of " + ", ".join(_fmt(v) for v in self.values)
        what = "an integer" if self.kind == "integer" else "a number"
        if self.minimum is not None and self.maximum is not None:
            rng = f"{what} {_fmt(self.minimum)}..{_fmt(self.maximum)}"
        elif self.minimum is not None:
            rng = f"{what} >= {_fmt(self.minimum)}"
        elif self.maximum is not None:
            rng = f"{what} <= {_fmt(self.maximum)}"
        else:
            rng = "any integer" if self.kind == "integer" else "any finite number"
        if self.step is not None:
            return f"{rng.removeprefix(what + ' ')} in steps of {_fmt(self.step)}"
        return rng


@dataclass(frozen=True, slots=True)
class Option:
    """A named scoring choice (an ambiguity of the manual, or a variant), with its default."""

    name: str
    choices: tuple[str, ...]
    default: str
    doc: str


Requirement = Callable[[Mapping[str, str]], tuple[tuple[str, ...], str]]
"""``options -> (items, rule)``: a score's items and missing-item rule under given options."""


@dataclass(frozen=True, slots=True)
class Score:
    """One output of an instrument: name, range (None = unbounded), definition, and what it needs.

    Attributes
    ----------
    name, doc : the score's name and definition.
    label : how a report names the score, after the instrument's label ("pain severity" ->
        "BPI pain severity"): a few words naming the construct, never an item's licensed
        wording. Every shipped score has one (a test checks it); without one, reports name the
        score by its name.
    minimum, maximum : its range (None = unbounded); the framework checks every value against it.
    kind : ``"number"``, ``"bool"`` (true/false) or ``"count"`` (whole numbers).
    items : the item keys the score is computed from, for a score that unanswered items can
        leave missing. With ``incomplete="error"`` (the default of ``score`` and
        ``score_frame``) a respondent whose score comes back missing while at least one of
        these items is unanswered is refused with an InstrumentError that names the score,
        the unanswered items and ``rule``. None (the default) for scores that are missing for
        other reasons only (e.g. SF-36 PCS/MCS, which follow the scales) and for reports.
    rule : the manual's missing-item allowance, as it reads after the score's name in a
        message: ``"needs at least 4 of the 7 items"``, ``"needs all 10 items"``. Shown by
        ``ketapain instruments``; when it depends on options it states every reading.
    needs : when the items or the rule depend on the instrument's options (DN4 ``version``,
        HADS ``missing``, ...), a function ``options -> (items, rule)`` giving them for the
        options that ran; its items must be among ``items`` (the widest set).
    """

    name: str
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    kind: Literal["number", "bool", "count"] = "number"
    items: tuple[str, ...] | None = None
    rule: str = ""
    needs: Requirement | None = None
    label: str = ""

    def requirement(self, options: Mapping[str, str]) -> tuple[tuple[str, ...] | None, str]:
        """``(items, rule)`` under the resolved ``options`` (``items`` None: never checked).

        Examples
        --------
        >>> s = Score("total", "sum", items=("1", "2"), rule="needs both items")
        >>> s.requirement({})
        (('1', '2'), 'needs both items')
        """
        if self.items is None or self.needs is None:
            return self.items, self.rule
        return self.needs(options)


Scorer = Callable[[pd.DataFrame, Mapping[str, str]], pd.DataFrame]


@dataclass(frozen=True, slots=True)
class Instrument:
    """A questionnaire: items, options, scores, and its vectorised scorer.

    ``scorer(items, options)`` receives a float frame (one row per respondent, one column per
    item key in declaration order, NaN = missing) and the full option mapping, and returns a
    frame with one column per declared score (then any ``reports`` columns), same index.

    ``label`` is the instrument's short name in reports ("BPI", "SF-36"); it defaults to the
    name in capitals. Every score declares its own ``label`` (:class:`Score`);
    :meth:`score_label` joins the two.
    """

    name: str
    title: str
    reference: str
    licence: str
    items: tuple[Item, ...]
    scores: tuple[Score, ...]
    scorer: Scorer
    options: tuple[Option, ...] = ()
    reports: tuple[Score, ...] = ()
    notes: str = ""
    label: str = ""
    _index: dict[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Declaration errors are programming errors (ValueError at import), never user input.
        keys = [it.key for it in self.items]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.name}: duplicate item keys")
        outputs = [s.name for s in (*self.scores, *self.reports)]
        if len(set(outputs)) != len(outputs):
            raise ValueError(f"{self.name}: duplicate score/report names")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate option names")
        for o in self.options:
            if o.name in RESERVED_OPTIONS:
                raise ValueError(
                    f"{self.name}: option name {o.name!r} is reserved (a keyword of score() and score_frame())"
                )
        for o in self.options:
            if o.default not in o.choices:
                raise ValueError(f"{self.name}: option {o.name} default {o.default!r} is not one of its choices")
        for it in self.items:
            if it.minimum is not None and it.maximum is not None and it.minimum > it.maximum:
                raise ValueError(f"{self.name}: item {it.key} has minimum > maximum")
            if it.step is not None and it.step <= 0:
                raise ValueError(f"{self.name}: item {it.key} has a step <= 0")
        object.__setattr__(self, "_index", {it.key: it for it in self.items})
        for s in self.reports:
            if s.items is not None or s.needs is not None:
                raise ValueError(f"{self.name}: report {s.name} declares items; only scores are checked")
        for s in self.scores:
            self._check_requirement(s)
        if not self.label.strip():
            object.__setattr__(self, "label", self.name.upper())

    def _check_requirement(self, s: Score) -> None:
        """A score's declared items and rule, also under every combination of options."""
        if s.items is None:
            if s.needs is not None:
                raise ValueError(f"{self.name}: score {s.name} has needs but no items")
            return
        if not isinstance(s.items, tuple) or not s.items:
            raise ValueError(f"{self.name}: score {s.name} items must be a non-empty tuple of item keys")
        if not s.rule.strip():
            raise ValueError(f"{self.name}: score {s.name} declares items but no rule")
        combos = [dict(zip([o.name for o in self.options], c, strict=True))
                  for c in itertools.product(*(o.choices for o in self.options))]
        for opts in combos if s.needs is not None else [{}]:
            keys, rule = s.requirement(opts)
            where = f" under {opts}" if s.needs is not None else ""
            if not isinstance(keys, tuple) or not keys or not isinstance(rule, str) or not rule.strip():
                raise ValueError(f"{self.name}: score {s.name}{where}: needs must give a non-empty tuple of items and a rule")
            if len(set(keys)) != len(keys):
                raise ValueError(f"{self.name}: score {s.name}{where}: an item is listed twice")
            unknown = [k for k in keys if k not in self._index or k not in s.items]
            if unknown:
                raise ValueError(
                    f"{self.name}: score {s.name}{where}: items {', '.join(unknown)} are not items of the "
                    "instrument (or not among the score's declared items)"
                )

    @property
    def item_keys(self) -> tuple[str, ...]:
        """Item keys in form order."""
        return tuple(it.key for it in self.items)

    @property
    def score_names(self) -> tuple[str, ...]:
        """Names of the declared scores (without report columns)."""
        return tuple(s.name for s in self.scores)

    def score_label(self, name: str) -> str:
        """How a report names score (or report column) ``name``: the instrument's label, then
        the score's (its name, underscores as spaces, when it has no label).

        Parameters
        ----------
        name : str
            A declared score or report column.

        Returns
        -------
        str
            ``"<instrument label> <score label>"``.

        Raises
        ------
        InstrumentError
            ``name`` is neither a score nor a report column of the instrument.

        Examples
        --------
        >>> from ketapain.instruments import get_instrument
        >>> get_instrument("bpi").score_label("severity_mean")
        'BPI pain severity'
        """
        for s in (*self.scores, *self.reports):
            if s.name == name:
                return f"{self.label} {s.label or s.name.replace('_', ' ')}"
        raise InstrumentError(
            f"{self.name}: unknown score {name!r}; scores are {', '.join(declared_columns(self))}"
        )

    def item(self, key: str) -> Item:
        """The item called ``key`` (InstrumentError if unknown)."""
        try:
            return self._index[key]
        except KeyError:
            raise InstrumentError(
                f"{self.name}: unknown item {key!r}; items are {', '.join(self.item_keys)}",
                column=key, allowed=self.item_keys,
            ) from None

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, str]:
        """Defaults updated with ``given``; unknown names or values raise InstrumentError."""
        known = {o.name: o for o in self.options}
        for name in given:
            if name in RESERVED_OPTIONS:
                raise InstrumentError(
                    f"{self.name}: {name!r} is a keyword of score() and score_frame(), not an option of {self.name}"
                )
            if name not in known:
                allowed = ", ".join(known) if known else "none"
                raise InstrumentError(f"{self.name}: unknown option {name!r}; options: {allowed}")
        out = {o.name: o.default for o in self.options}
        for name, value in given.items():
            if value not in known[name].choices:
                raise InstrumentError(
                    f"{self.name}: option {name}={value!r} is not one of {', '.join(known[name].choices)}"
                )
            out[name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The declaration as JSON-safe data (no scorer): items, options, scores, reports.

        Examples
        --------
        >>> from ketapain.instruments import get_instrument
        >>> d = get_instrument("pgic").to_dict()
        >>> d["items"][0]["allowed"], [s["name"] for s in d["scores"]]
        ('an integer 1..7', ['pgic', 'responder', 'any_improvement'])
        """

        def num(v: float | None) -> float | int | None:
            return None if v is None else plain_number(v)

        def out(s: Score) -> dict[str, Any]:
            return {
                "name": s.name,
                "label": s.label,
                "kind": s.kind,
                "minimum": num(s.minimum),
                "maximum": num(s.maximum),
                "definition": s.doc,
                "items": None if s.items is None else list(s.items),
                "rule": s.rule,
            }

        return {
            "name": self.name,
            "label": self.label,
            "title": self.title,
            "reference": self.reference,
            "licence": self.licence,
            "notes": self.notes,
            "items": [
                {
                    "key": it.key,
                    "label": it.label,
                    "kind": it.kind,
                    "minimum": num(it.minimum),
                    "maximum": num(it.maximum),
                    "step": num(it.step),
                    "values": None if it.values is None else [num(v) for v in it.values],
                    "required": it.required,
                    "scored": it.scored,
                    "allowed": it.allowed(),
                }
                for it in self.items
            ],
            "options": [
                {"name": o.name, "choices": list(o.choices), "default": o.default, "doc": o.doc} for o in self.options
            ],
            "scores": [out(s) for s in self.scores],
            "reports": [out(s) for s in self.reports],
        }

    def numeric_items(self, answers: pd.DataFrame, *, where: str = "respondent") -> pd.DataFrame:
        """Validate a wide frame of answers and return it as floats (NaN = missing).

        ``answers`` has one row per respondent and columns named by item keys (a subset is
        fine; absent items are missing; ``1`` and ``"1"`` name the same item). Raises
        InstrumentError on unknown or repeated columns, values of the wrong type, outside the
        allowed values, naming ``where`` and the row label.
        """
        columns = [str(c) for c in answers.columns]
        for col in columns:
            self.item(col)
        seen: set[str] = set()
        for col in columns:
            if col in seen:
                raise InstrumentError(f"{self.name}: item {col} is given twice (as {columns.count(col)} columns)")
            seen.add(col)
        if list(answers.columns) != columns:
            answers = answers.set_axis(columns, axis=1)
        out = pd.DataFrame(index=answers.index)
        for item in self.items:
            if item.key not in answers.columns:
                out[item.key] = np.nan
                continue
            out[item.key] = _validate_column(self.name, item, answers[item.key], where)
        out.attrs[RESPONDENTS] = tuple(_place(where, label) for label in answers.index)
        return out


RESPONDENTS = "respondents"
"""``attrs`` key of the scorer's frame: how messages name each row's respondent."""


def _place(where: str, label: Any) -> str:
    return "" if where == "responses" else f" {where} {label}"


def respondent(items: pd.DataFrame, pos: int) -> str:
    """How an error message names the respondent at 0-based position ``pos`` of a scorer's frame.

    ``""`` for :func:`~ketapain.instruments.score` (one respondent), ``" row 5"`` for wide
    ``score_frame`` data (spreadsheet rows: header = row 1), ``" respondent patient_id=3
    visit=2"`` for long data. Use it as ``f"{name}{respondent(items, i)}: item 4 = ..."``.
    Frames not made by the framework fall back to the position.

    Examples
    --------
    >>> items = pd.DataFrame({"1": [1.0, 2.0]})
    >>> items.attrs["respondents"] = (" row 2", " row 3")
    >>> "psqi" + respondent(items, 1) + ": ..."
    'psqi row 3: ...'
    >>> respondent(pd.DataFrame({"1": [1.0]}, index=["responses"]), 0)
    ''
    """
    labels = items.attrs.get(RESPONDENTS)
    if labels is not None and len(labels) == len(items):
        return str(labels[pos])
    if items.index[pos] == "responses":
        return ""
    return f" respondent at 0-based position {pos}"


def plain_number(v: float) -> int | float:
    """A whole number as ``int``, any other as ``float`` (how declarations print their numbers).

    >>> plain_number(7.0), plain_number(0.5)
    (7, 0.5)
    """
    return int(v) if float(v).is_integer() else float(v)


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _is_missing(value: Any) -> bool:
    """None, NaN, pd.NA or NaT (scalars only)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(float(value))


def parse_clock(value: Any) -> float:
    """``"HH:MM"`` (or minutes after midnight) -> minutes after midnight; NaN if blank.

    A ``datetime.time`` with zero seconds is accepted too (spreadsheets read as times).

    Raises
    ------
    ValueError
        Anything else: ``"25:00"``, ``"7h30"``, ``1440``, ``90.5``, true/false.

    Examples
    --------
    >>> parse_clock("23:30"), parse_clock("07:05"), parse_clock(90)
    (1410.0, 425.0, 90.0)
    """
    if _is_missing(value):
        return math.nan
    if isinstance(value, str):
        if value.strip() == "":
            return math.nan
        m = _CLOCK.match(value)
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            raise ValueError(value)
        return float(int(m.group(1)) * 60 + int(m.group(2)))
    if isinstance(value, dt.time):
        if value.second or value.microsecond:
            raise ValueError(value)
        return float(value.hour * 60 + value.minute)
    if isinstance(value, bool | np.bool_):
        raise ValueError(value)
    v = float(value)
    if not (0 <= v < 1440) or not v.is_integer():
        raise ValueError(value)
    return v


def _shown(value: Any) -> str:
    """``repr(value)``, but an integer of more than 20 digits by its length (a 400-digit answer
    stays a one-line message)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 66:
        try:
            return f"<an integer of {len(str(abs(value)))} digits>"
        except ValueError:  # beyond sys.get_int_max_str_digits()
            return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    return repr(value)


def _validate_column(instrument: str, item: Item, col: pd.Series, where: str) -> np.ndarray:
    """Vectorised check of one item's answers; returns floats with NaN for missing."""

    def fail(pos: int, why: str) -> InstrumentError:
        label = col.index[pos]
        place = "" if where == "responses" else f" {where} {label}"
        value = col.iloc[pos]
        if isinstance(value, np.generic):  # 11, not np.int64(11)
            value = value.item()
        row = int(label) if where == "row" and isinstance(label, int | np.integer) else None
        return InstrumentError(
            f"{instrument}{place}: item {item.key} = {_shown(value)} {why}; allowed: {item.allowed()}",
            row=row, column=item.key, value=value, allowed=item.allowed(),
        )

    if item.kind == "clock":
        vals = np.empty(len(col))
        for pos, v in enumerate(col.to_numpy(dtype=object)):  # clock parsing is per value (strings)
            try:
                vals[pos] = parse_clock(v)
            except (ValueError, TypeError):
                raise fail(pos, "is not a valid time") from None
        return vals
    raw = col.to_numpy(dtype=object)
    is_bool = np.array([isinstance(v, bool | np.bool_) for v in raw], dtype=bool)
    if is_bool.any():
        raise fail(int(np.flatnonzero(is_bool)[0]), "is a true/false value, not a number")
    huge = np.array([isinstance(v, int) and v.bit_length() > 64 for v in raw], dtype=bool)  # beyond int64 and float
    if huge.any():
        raise fail(int(np.flatnonzero(huge)[0]), "is too large")
    blank = np.array([v is None or (isinstance(v, str) and v.strip() == "") for v in raw], dtype=bool)
    numeric = pd.to_numeric(pd.Series(np.where(blank, np.nan, raw), index=col.index), errors="coerce")
    vals = numeric.to_numpy(dtype=float)
    bad_type = np.isnan(vals) & ~blank & ~pd.isna(col).to_numpy()
    if bad_type.any():
        raise fail(int(np.flatnonzero(bad_type)[0]), "is not a number")
    present = ~np.isnan(vals)
    if np.isinf(vals[present]).any():
        raise fail(int(np.flatnonzero(present & np.isinf(vals))[0]), "is not finite")
    if item.values is not None:
        bad = present & ~np.isin(vals, np.asarray(item.values, dtype=float))
        if bad.any():
            raise fail(int(np.flatnonzero(bad)[0]), "is not an allowed value")
        return vals
    if item.kind == "integer":
        frac = present & (np.mod(vals, 1.0) != 0)
        if frac.any():
            raise fail(int(np.flatnonzero(frac)[0]), "is not a whole number")
    lo = -np.inf if item.minimum is None else item.minimum
    hi = np.inf if item.maximum is None else item.maximum
    out = present & ((vals < lo) | (vals > hi))
    if out.any():
        raise fail(int(np.flatnonzero(out)[0]), "is out of range")
    if item.step is not None:
        base = 0.0 if item.minimum is None else item.minimum
        rem = np.mod(np.where(present, vals, base) - base, item.step)
        off = present & (np.minimum(rem, item.step - rem) > 1e-9 * max(1.0, item.step))
        if off.any():
            raise fail(int(np.flatnonzero(off)[0]), "is not on the allowed steps")
    return vals


def declared_columns(instrument: Instrument) -> Sequence[str]:
    """Score then report column names, in declaration order."""
    return [s.name for s in instrument.scores] + [s.name for s in instrument.reports]

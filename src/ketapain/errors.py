"""Every exception and warning ketapain raises, in one place.

Hierarchy
---------
::

    KetapainError                      base of all our exceptions
    ├── ProtocolError(ValueError)      a protocol file or setting is invalid
    ├── DataError(ValueError)          a table, file, row or value is invalid
    │   ├── ListKindMismatchError      a test list, kit or label used as production, or the reverse
    │   └── CommitmentMismatchError    a randomisation list no longer matches its commitment
    ├── InstrumentError(ValueError)    questionnaire answers cannot be scored
    ├── ModelError(ValueError)         a statistical model cannot be fitted as asked
    └── CaptureError                   the capture web app refuses a request (service layer)
        ├── AuthenticationFailed(PermissionError)  wrong or missing credentials        -> HTTP 401
        ├── PermissionDenied(PermissionError)      the role may not do this            -> HTTP 403
        ├── NotFound(LookupError)                  no such record                      -> HTTP 404
        ├── Conflict(ValueError)                   clashes with stored data            -> HTTP 409
        │   └── StudyLocked                        the database is locked              -> HTTP 409
        ├── RateLimited(PermissionError)           too many failed logins              -> HTTP 429
        └── NotSaved(RuntimeError)                 the commit failed: nothing stored   -> HTTP 503

    KetapainWarning(UserWarning)       base of all our warnings
    ├── SingularFitWarning             a variance component is estimated on its boundary (0)
    ├── ConvergenceWarning             an optimiser stopped before its tolerance
    ├── TwoStageTestingWarning         the carry-over pre-test / drop strategy was used
    ├── ImputationWarning              values could not be imputed and stay missing
    └── ConformanceWarning             a value a CDISC standard requires or expects is missing in the data

The capture app maps its errors to HTTP status codes as shown; :class:`DataError` and
:class:`InstrumentError` (bad input) become 422 there.

Every message says what is wrong, where (file, row, column, parameter) and what is
allowed, e.g. ``diary.csv row 17: avg_pain=11 is outside 0..10``.

Messages that name the caller's parameters are written as templates (``template=``), so that
each front end names them in its own words. A template is like ``str.format`` with named fields:
``{name}`` is the text of ``params[name]`` (a value: a path, a number); ``{@name}`` is the
parameter ``name``; ``{@name=}`` is that parameter given the value ``params[name]``;
``{@name=text}`` is that parameter given the literal ``text``; ``{{`` and ``}}`` are braces.
``str(error)`` speaks the Python API (``overwrite=True``, ``sd_within``); the command line
renders the same error with its flags (``--overwrite``, ``--sd-within``) through
:meth:`KetapainError.render`.

>>> err = DataError(template="{path} exists; pass {@overwrite=True} to replace it", params={"path": "out/"})
>>> str(err)
'out/ exists; pass overwrite=True to replace it'
>>> err.render(lambda name, value: f"--{name}" if value in (None, "True") else f"--{name} {value}")
'out/ exists; pass --overwrite to replace it'
>>> str(ModelError(template="{@seed=}: must be >= 0", params={"seed": -1}))
'seed=-1: must be >= 0'

Structured fields
-----------------
Every :class:`KetapainError` may also carry, as keyword-only arguments kept as attributes (None
when not given), where the problem is and what was expected, so that a front end can point at
it without reading the message (the capture app's 422 ``loc``):

``source``
    where the values came from: a file or table name (``"diary.csv"``, ``"allocation"``) or
    the parameter or request field holding them (``"answers"``);
``row``
    the row or record of ``source``, numbered as the message numbers it (for a table: its
    spreadsheet row, see below);
``column``
    the column, field, item or option at fault (``"avg_pain"``, an item key ``"4"``);
``value``
    the value received (as given, not JSON-safe: pass it through :func:`ketapain._json.json_safe`
    before serialising it; never set for secrets);
``allowed``
    what is allowed: a text (``"0..10"``) or a tuple of the allowed values.

The message is still the whole story (``str(error)`` is unchanged by the fields), and the
fields survive pickling (e.g. from a worker process):

>>> import pickle
>>> err = DataError("diary.csv row 17: avg_pain=11 is outside 0..10", source="diary.csv", row=17,
...                 column="avg_pain", value=11, allowed="0..10")
>>> back = pickle.loads(pickle.dumps(err))
>>> str(back), back.source, back.row, back.column, back.value, back.allowed
('diary.csv row 17: avg_pain=11 is outside 0..10', 'diary.csv', 17, 'avg_pain', 11, '0..10')
>>> DataError("no fields").column is None
True

Located messages
----------------
A message about a place in a table starts with that place: ``diary row 17: ...``. The library
knows its tables by label (``"diary"``, ``"data"``); the command line knows them by file. So
such an error is built with ``located=True``: the message given is the detail, ``source`` and
``row`` (an int, or a tuple of ints for several rows) are fields, and ``str(error)`` puts them
in front. A front end renders the same error with its own names for the sources
(:meth:`KetapainError.render`'s ``sources``), never by editing the text:

>>> err = DataError("avg_pain=11 is outside 0..10", located=True, source="diary", row=17, column="avg_pain")
>>> str(err)
'diary row 17: avg_pain=11 is outside 0..10'
>>> err.render(lambda name, value: name, sources={"diary": "week1.csv"})
'week1.csv row 17: avg_pain=11 is outside 0..10'
>>> str(DataError("duplicate day", located=True, source="diary", row=(3, 4)))
'diary rows 3 and 4: duplicate day'
>>> str(DataError("no rows", located=True, source="data"))
'data: no rows'

Row numbers in messages are always spreadsheet rows: the header is row 1, so the table row at
0-based position ``i`` (``frame.iloc[i]``) is row ``i + FIRST_DATA_ROW`` — for a CSV file and an
in-memory DataFrame alike, so a message means the same line whichever way the data came in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "AuthenticationFailed",
    "CaptureError",
    "CommitmentMismatchError",
    "ConfirmationRequired",
    "Conflict",
    "ConformanceWarning",
    "ConvergenceWarning",
    "DataError",
    "FIRST_DATA_ROW",
    "ImputationWarning",
    "InstrumentError",
    "KetapainError",
    "KetapainWarning",
    "ListKindMismatchError",
    "ModelError",
    "NotFound",
    "NotSaved",
    "ParameterNamer",
    "PermissionDenied",
    "ProtocolError",
    "RateLimited",
    "SingularFitWarning",
    "StudyLocked",
    "TwoStageTestingWarning",
    "parameter",
]


FIRST_DATA_ROW = 2
"""Row number of a table's first data row in messages (the header is row 1)."""


ParameterNamer = Callable[[str, "str | None"], str]
"""How a front end names a parameter: ``(name, value_text or None) -> text``."""

_FIELD = re.compile(r"\{\{|\}\}|\{(@?)([A-Za-z_][A-Za-z0-9_]*)(=([^{}]*))?\}")


def _python_namer(name: str, value: str | None) -> str:
    return name if value is None else f"{name}={value}"


def parameter(name: str, literal: str | None = None, *, valued: bool = False) -> str:
    """The template field naming the parameter ``name``, for templates built around a name known
    only at run time: ``{@name}``; ``{@name=}`` with ``valued`` (the value comes from ``params``);
    ``{@name=literal}`` (a literal value; it may not hold braces).

    >>> parameter("seed"), parameter("seed", valued=True), parameter("weight_kg", "250")
    ('{@seed}', '{@seed=}', '{@weight_kg=250}')
    """
    if literal is not None and ("{" in literal or "}" in literal):
        raise ValueError(f"a literal parameter value may not hold braces: {literal!r}")
    tail = "=" if valued else (f"={literal}" if literal is not None else "")
    return "{@" + name + tail + "}"


class KetapainError(Exception):
    """Base class of every exception raised by ketapain.

    ``KetapainError(message)`` or ``KetapainError(template=..., params=...)`` (see the module
    docstring); ``template`` and ``params`` are kept for :meth:`render`. The keyword-only
    ``source``, ``row``, ``column``, ``value`` and ``allowed`` say where the problem is and
    what is allowed (module docstring, "Structured fields"); each defaults to None. With
    ``located=True`` the message (or template) is the detail and the message starts with
    ``source`` and ``row`` (module docstring, "Located messages").
    """

    def __init__(self, *args: object, template: str | None = None, params: Mapping[str, Any] | None = None,
                 source: str | None = None, row: int | tuple[int, ...] | None = None, column: str | None = None,
                 value: Any = None, allowed: Any = None, located: bool = False) -> None:
        self.template = template
        self.params = dict(params or {})
        self.source = source
        self.row = row
        self.column = column
        self.value = value
        self.allowed = allowed
        self.located = located
        self.detail: str | None = None
        if template is not None and args:
            raise TypeError("give a message or a template, not both")
        if located:
            if source is None:
                raise TypeError("a located error needs its source")
            if template is None:
                if len(args) != 1:
                    raise TypeError("a located error takes one message (the detail)")
                self.detail = str(args[0])
            args = ()
        if template is not None or located:
            args = (self.render(_python_namer),)
        super().__init__(*args)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt without calling __init__, so subclasses with required keywords
        # (RateLimited's retry_after_s) pickle too; the attributes come back as they were
        return _restore, (type(self), self.args, dict(self.__dict__))

    def render(self, namer: ParameterNamer, sources: Mapping[str, str] | None = None) -> str:
        """The message with every parameter named by ``namer(name, value_text)`` and, for a
        located error, its source named by ``sources`` (``{"diary": "week1.csv"}``; a source
        not in ``sources`` keeps its name). The plain message for any other error."""
        if not self.located:
            return self._body(namer)
        name = (sources or {}).get(self.source or "", self.source)
        if self.row is None:
            where = f"{name}"
        elif isinstance(self.row, tuple):
            shown = list(map(str, self.row))
            where = f"{name} rows {' and '.join(shown) if len(shown) == 2 else ', '.join(shown)}"
        else:
            where = f"{name} row {self.row}"
        return f"{where}: {self._body(namer)}"

    def _body(self, namer: ParameterNamer) -> str:
        """The message (the detail of a located error) with its parameters named by ``namer``."""
        if self.template is None:
            return self.detail if self.detail is not None else str(self)

        def one(match: re.Match[str]) -> str:
            text = match.group(0)
            if text in ("{{", "}}"):
                return text[0]
            is_parameter, name, has_value, literal = match.groups()
            if not is_parameter:
                if has_value or name not in self.params:
                    raise KeyError(f"template field {text} has no value in params")
                return str(self.params[name])
            if not has_value:
                return namer(name, None)
            if literal == "":
                if name not in self.params:
                    raise KeyError(f"template field {text} has no value in params")
                return namer(name, _value_text(self.params[name]))
            return namer(name, literal)

        return _FIELD.sub(one, self.template)


def _restore(cls: type[KetapainError], args: tuple[object, ...], state: dict[str, Any]) -> KetapainError:
    """Unpickle a :class:`KetapainError`: its arguments and attributes, as pickled."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


def _value_text(value: Any) -> str:
    """A value as both front ends show it: repr for text (quotes show blanks), str otherwise."""
    return repr(str(value)) if isinstance(value, str) else str(value)


class ProtocolError(KetapainError, ValueError):
    """A protocol file or protocol setting is invalid."""


class DataError(KetapainError, ValueError):
    """A data table, file, row or value is invalid (message names file, row, column, value)."""


class ListKindMismatchError(DataError):
    """A test list, kit or label was used where a production one is expected, or the reverse.

    Subclasses :class:`DataError` (hence ``KetapainError`` and ``ValueError``).
    """


class CommitmentMismatchError(DataError):
    """``pharmacy.csv`` does not hash to its recorded commitment: the list was changed.

    Subclasses :class:`DataError` (hence ``KetapainError`` and ``ValueError``).
    """


class InstrumentError(KetapainError, ValueError):
    """Questionnaire answers cannot be scored (unknown item, value out of range...)."""


class ModelError(KetapainError, ValueError):
    """A statistical model cannot be fitted to the data as specified."""


class CaptureError(KetapainError):
    """Base class of the capture app's errors (service layer; the API maps them to HTTP codes)."""


class AuthenticationFailed(CaptureError, PermissionError):
    """Wrong or missing credentials (user name, password, session or patient token)."""


class PermissionDenied(CaptureError, PermissionError):
    """The user's role may not do this (the message never names blinded data)."""


class NotFound(CaptureError, LookupError):
    """No such record."""


class Conflict(CaptureError, ValueError):
    """The request clashes with stored data (a duplicate, a closed query, a used slot...)."""


class ConfirmationRequired(Conflict):
    """A change has consequences the caller must confirm first (e.g. moving an infusion date
    moves that period's diary calendar); ``affected`` lists them (JSON-ready dicts)."""

    def __init__(self, message: str, *, affected: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.affected = affected


class StudyLocked(Conflict):
    """The database is locked: writes are refused until the documented unlock."""


class RateLimited(CaptureError, PermissionError):
    """Too many failed logins; ``retry_after_s`` (seconds) says when to try again."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotSaved(CaptureError, RuntimeError):
    """The database refused the commit of a write (group commit: of the whole batch the request
    was in), so nothing of the request was stored; sending it again is safe. The database's
    error is the ``__cause__``."""


class KetapainWarning(UserWarning):
    """Base class of every warning issued by ketapain."""


class SingularFitWarning(KetapainWarning):
    """A variance component was estimated on the boundary of its space (exactly 0)."""


class ConvergenceWarning(KetapainWarning):
    """An optimiser stopped before reaching its convergence tolerance."""


class TwoStageTestingWarning(KetapainWarning):
    """Carry-over was pre-tested and dropped/kept: two-stage testing biases the treatment test."""


class ImputationWarning(KetapainWarning):
    """Some missing values could not be imputed and remain missing."""


class ConformanceWarning(KetapainWarning):
    """An SDTM or ADaM export lacks a value its standard requires or expects (e.g. DM.COUNTRY)
    because the data do not hold it (the value is left blank, never invented), or an export
    leaves out a column its format has no place for yet (REDCap: questionnaire completion
    dates), saying how many values."""

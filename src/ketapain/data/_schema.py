"""The seven tidy tables of :class:`~ketapain.data.TrialData`, described as data.

Each table is a :class:`TableSchema`: its columns (a :class:`Column` each: type, unit,
required or optional, nullable, allowed range or set) and its key (the columns that
identify one row). Validation (``_validate``), I/O (``_io``) and ``docs/data-model.md`` all
read these objects; nothing else spells the rules out again.

Rules that hold for every table:

- A *required* column must be present. An *optional* column may be absent, in which case
  it is added, filled with missing values; so an optional column is always nullable.
- A *nullable* column may hold missing values (an empty CSV cell); a non-nullable one may
  not.
- ``min``/``max`` are inclusive bounds; ``allowed`` is the closed set of allowed values.
- Key columns are never nullable, and no two rows share a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypedDict

__all__ = [
    "CAUSALITIES",
    "Column",
    "DEFAULT_DIARY_SCALE",
    "DRUG_CLASSES",
    "DType",
    "PAIN_COLUMNS",
    "PAIN_TYPES",
    "PandasDType",
    "RACES",
    "REFERENCE_DIARY_ITEMS",
    "SCHEMAS",
    "SEVERITIES",
    "TABLE_NAMES",
    "TableSchema",
]

DType = Literal["int", "float", "str", "bool", "date"]
"""The five column types of the trial tables."""

PandasDType = Literal["int64", "Int64", "float64", "str", "bool", "boolean", "datetime64[us]"]
"""The pandas dtypes of the trial columns (see :attr:`Column.pandas_dtype`)."""

_PANDAS_DTYPES: Mapping[tuple[DType, bool], PandasDType] = MappingProxyType(
    {
        ("int", False): "int64",
        ("int", True): "Int64",
        ("float", False): "float64",
        ("float", True): "float64",
        ("str", False): "str",
        ("str", True): "str",
        ("bool", False): "bool",
        ("bool", True): "boolean",
        ("date", False): "datetime64[us]",
        ("date", True): "datetime64[us]",
    }
)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a trial table.

    Parameters
    ----------
    name : str
        lower_snake_case name, with the unit in the name where a unit exists.
    dtype : {"int", "float", "str", "bool", "date"}
        Logical type. Dates are calendar dates written ``YYYY-MM-DD``.
    description : str
        One line for the documentation.
    required : bool, default True
        Whether the column must be present. Optional columns are added, all missing,
        when absent.
    nullable : bool, default False
        Whether a value may be missing. Must be True for optional columns.
    min, max : float or None
        Inclusive bounds for ``int`` and ``float`` columns (None = unbounded).
    allowed : tuple of str or None
        The closed set of allowed values of a ``str`` column (None = any text).
    unit : str or None
        Unit of measurement, for the documentation.
    pattern : tuple of (str, str) or None
        For a ``str`` column: a regular expression every present value must match in
        full, and its meaning in words for messages (``("[A-Z]{3}", "3 capital letters")``).

    Raises
    ------
    ValueError
        If the definition is inconsistent (an optional column that is not nullable,
        bounds on a non-numeric column, an allowed set on a non-text column).

    Examples
    --------
    >>> col = Column("avg_pain", "float", "average pain", nullable=True, min=0, max=10)
    >>> col.pandas_dtype
    'float64'
    >>> col.rule
    '0..10'
    """

    name: str
    dtype: DType
    description: str
    required: bool = True
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    unit: str | None = None
    pattern: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.dtype not in ("int", "float", "str", "bool", "date"):
            raise ValueError(f"column {self.name!r}: unknown dtype {self.dtype!r}")
        if not self.required and not self.nullable:
            raise ValueError(f"column {self.name!r}: an optional column must be nullable")
        if (self.min is not None or self.max is not None) and self.dtype not in ("int", "float"):
            raise ValueError(f"column {self.name!r}: bounds need an int or float column")
        if self.allowed is not None and self.dtype != "str":
            raise ValueError(f"column {self.name!r}: an allowed set needs a str column")
        if self.pattern is not None and self.dtype != "str":
            raise ValueError(f"column {self.name!r}: a pattern needs a str column")

    @property
    def pandas_dtype(self) -> PandasDType:
        """The pandas dtype the column has inside :class:`~ketapain.data.TrialData`.

        ``int`` is ``int64`` (``Int64`` when nullable), ``float`` is ``float64`` (NaN =
        missing), ``str`` is the pandas string dtype ``str``, ``bool`` is ``bool``
        (``boolean`` when nullable) and ``date`` is ``datetime64[us]`` (NaT = missing).
        """
        return _PANDAS_DTYPES[(self.dtype, self.nullable)]

    @property
    def rule(self) -> str:
        """The allowed values in words, as used in error messages and the docs."""
        if self.allowed is not None:
            return "one of " + ", ".join(repr(v) for v in self.allowed)
        if self.pattern is not None:
            return self.pattern[1]
        if self.min is not None and self.max is not None:
            return f"{_num(self.min)}..{_num(self.max)}"
        if self.min is not None:
            return f">= {_num(self.min)}"
        if self.max is not None:
            return f"<= {_num(self.max)}"
        return {
            "int": "an integer",
            "float": "a number",
            "str": "any text",
            "bool": "true or false",
            "date": "a date YYYY-MM-DD",
        }[self.dtype]


@dataclass(frozen=True, slots=True)
class TableSchema:
    """One tidy table: its name, what one row is, its key and its columns.

    Parameters
    ----------
    name : str
        Table name; the file is ``<name>.csv`` or ``<name>.parquet``.
    row : str
        What one row is ("patient x period x day").
    key : tuple of str
        Columns whose values identify a row; no two rows may share them.
    columns : tuple of Column
        Columns in their canonical order.

    Examples
    --------
    >>> SCHEMAS["diary"].key
    ('patient_id', 'period', 'day')
    >>> SCHEMAS["diary"].column("avg_pain").rule
    '0..10'
    """

    name: str
    row: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name!r}: duplicated column names")
        for k in self.key:
            if k not in names:
                raise ValueError(f"table {self.name!r}: key column {k!r} is not a column")
            col = self.column(k)
            if col.nullable or not col.required:
                raise ValueError(f"table {self.name!r}: key column {k!r} must be required")

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in canonical order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """Return the column called ``name``.

        Raises
        ------
        KeyError
            If the table has no such column.
        """
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def pandas_dtypes(self) -> dict[str, str]:
        """Column name -> pandas dtype, in canonical order."""
        return {c.name: c.pandas_dtype for c in self.columns}


def _num(x: float) -> str:
    """Format a bound without a useless ``.0``."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


PAIN_TYPES: tuple[str, ...] = (
    "postsurgery",
    "radiculopathy",
    "posttraumatic",
    "postdiabetic",
    "postchemotherapy",
    "other",
)
"""Pain aetiologies (``patients.pain_type``)."""

RACES: tuple[str, ...] = (
    "AMERICAN INDIAN OR ALASKA NATIVE",
    "ASIAN",
    "BLACK OR AFRICAN AMERICAN",
    "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER",
    "WHITE",
    "MULTIPLE",
    "OTHER",
    "UNKNOWN",
    "NOT REPORTED",
)
"""Allowed values of ``patients.race``: the submission values of CDISC controlled
terminology codelist RACE (C74457), with MULTIPLE, OTHER, UNKNOWN and NOT REPORTED as
SDTMIG 3.4 section 5.2 (DM) allows."""

SEVERITIES: tuple[str, ...] = ("mild", "moderate", "severe")
"""Adverse-event severities (``adverse_events.severity``)."""

CAUSALITIES: tuple[str, ...] = ("unrelated", "unlikely", "possibly", "probably", "certainly")
"""Adverse-event causality grades (``adverse_events.causality``)."""

DRUG_CLASSES: tuple[str, ...] = (
    "paracetamol_nsaids",
    "nefopam",
    "tramadol",
    "fentanyl",
    "paracetamol_opium",
    "antidepressants",
    "antiepileptics",
    "adjuvants",
    "hypnotics_sedatives",
    "anxiolytics",
    "antipsychotics",
)
"""Concomitant drug classes of the protocol (``concomitant.drug_class``)."""

REFERENCE_DIARY_ITEMS: tuple[str, ...] = ("avg_pain", "max_pain", "night_pain")
"""The reference study's diary items: optional, typed diary columns. Which items a diary
must hold is the protocol's ``[diary] items`` (:func:`ketapain.data.check_trial`)."""

_PATIENT_ID = Column("patient_id", "str", "patient identifier, as in patients")
_PERIOD = Column("period", "int", "treatment period, 1 = first", min=1)


class _ColumnOptions(TypedDict, total=False):
    """Keyword options of :class:`Column` shared by several columns."""

    nullable: bool
    min: float
    max: float
    unit: str


DEFAULT_DIARY_SCALE: tuple[float, float] = (0.0, 10.0)
"""The pain scale of the schema's pain columns when no protocol is involved: the reference
study's NRS 0..10. A protocol declares its own (``[diary] scale_min``, ``scale_max``), which
readers take as ``diary_scale`` (:meth:`~ketapain.data.TrialData.from_tables`)."""

PAIN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("allocation", "pre_infusion_pain"),
    ("diary", "avg_pain"),
    ("diary", "max_pain"),
    ("diary", "night_pain"),
)
"""The (table, column) pairs scored on the diary's pain scale: bounded by
:data:`DEFAULT_DIARY_SCALE` in :data:`SCHEMAS`, by ``diary_scale`` when a reader is given one."""

_PAIN: _ColumnOptions = {"nullable": True, "min": DEFAULT_DIARY_SCALE[0], "max": DEFAULT_DIARY_SCALE[1],
                         "unit": "diary scale"}

_SCHEMAS = (
    TableSchema(
        name="patients",
        row="patient",
        key=("patient_id",),
        columns=(
            Column("patient_id", "str", "patient identifier"),
            Column("sex", "str", "sex", allowed=("M", "F")),
            Column("age_years", "int", "age at inclusion", min=18, max=120, unit="years"),
            Column("weight_kg", "float", "body weight", nullable=True, min=20, max=300,
                   unit="kg"),
            Column("height_m", "float", "height", nullable=True, min=1.0, max=2.5, unit="m"),
            Column("pain_type", "str", "pain aetiology", allowed=PAIN_TYPES),
            Column("pain_duration_years", "float", "duration of the chronic pain",
                   nullable=True, min=0, unit="years"),
            Column("dn4_total", "int", "DN4 total score at inclusion (>= 4: neuropathic)",
                   nullable=True, min=0, max=10, unit="points"),
            Column("pain_type_detail", "str", "free text, e.g. when pain_type is 'other'",
                   required=False, nullable=True),
            Column("site_id", "str", "recruiting centre", required=False, nullable=True),
            Column("country", "str", "country of the recruiting centre, ISO 3166-1 alpha-3 "
                   "(SDTM DM.COUNTRY)", required=False, nullable=True,
                   pattern=("[A-Z]{3}", "an ISO 3166-1 alpha-3 code (3 capital letters, e.g. 'FRA')")),
            Column("race", "str", "race as collected, in CDISC controlled terminology (SDTM "
                   "DM.RACE; 'NOT REPORTED' where the law forbids collecting it)",
                   required=False, nullable=True, allowed=RACES),
        ),
    ),
    TableSchema(
        name="allocation",
        row="patient x period",
        key=("patient_id", "period"),
        columns=(
            _PATIENT_ID,
            _PERIOD,
            Column("sequence", "str", "randomised sequence, the same in every period of a "
                   "patient (e.g. 'P-K-KM')"),
            Column("treatment", "str", "treatment code received in this period (the allowed "
                   "codes come from the protocol)"),
            Column("kit_code", "str", "code of the treatment kit", required=False,
                   nullable=True),
            Column("infusion_date", "date", "date of the infusion that starts the period",
                   required=False, nullable=True),
            Column("pre_infusion_pain", "float", "pain on the infusion day, before it", **_PAIN),
        ),
    ),
    TableSchema(
        name="diary",
        row="patient x period x day",
        key=("patient_id", "period", "day"),
        columns=(
            _PATIENT_ID,
            _PERIOD,
            Column("day", "int", "day of the period, 1 = the day after the infusion", min=1,
                   unit="days"),
            # the reference study's diary items: typed and bounded when present, never
            # required here; the protocol's [diary] items are (ketapain.data.check_trial)
            Column("avg_pain", "float", "average pain of the day (missing = missing day)",
                   required=False, **_PAIN),
            Column("max_pain", "float", "maximum pain of the day", required=False, **_PAIN),
            Column("night_pain", "float", "pain during the night", required=False, **_PAIN),
            Column("extra_analgesics", "bool", "extra analgesics taken that day",
                   required=False, nullable=True),
            Column("extra_analgesics_detail", "str", "which extra analgesics (free text)",
                   required=False, nullable=True),
        ),
    ),
    TableSchema(
        name="questionnaires",
        row="patient x visit x instrument x item",
        key=("patient_id", "visit", "instrument", "item"),
        columns=(
            _PATIENT_ID,
            Column("visit", "str", "visit, e.g. 'baseline' or 'end_period_1'"),
            Column("instrument", "str", "questionnaire, e.g. 'bpi', 'npsi', 'hads'"),
            Column("item", "str", "item identifier within the instrument"),
            Column("value", "float", "raw answer (scores are derived, never stored)",
                   nullable=True),
            Column("completed_date", "date", "date the questionnaire was completed (SDTM "
                   "QSDTC)", required=False, nullable=True),
        ),
    ),
    TableSchema(
        name="adverse_events",
        row="adverse event",
        key=("event_id",),
        columns=(
            Column("event_id", "str", "adverse-event identifier"),
            _PATIENT_ID,
            Column("period", "int", "period of onset, 0 = before the first infusion", min=0),
            Column("term", "str", "reported term"),
            Column("severity", "str", "severity", allowed=SEVERITIES),
            Column("serious", "bool", "serious adverse event"),
            Column("causality", "str", "relation to the study treatment",
                   allowed=CAUSALITIES),
            Column("onset_date", "date", "date of onset", required=False, nullable=True),
        ),
    ),
    TableSchema(
        name="concomitant",
        row="patient x period x drug class",
        key=("patient_id", "period", "drug_class"),
        columns=(
            _PATIENT_ID,
            Column("period", "int", "0 = baseline treatment, k = added during period k",
                   min=0),
            Column("drug_class", "str", "drug class", allowed=DRUG_CLASSES),
            Column("status", "str", "'baseline' (period 0) or 'added' (period >= 1)",
                   allowed=("baseline", "added")),
            Column("drug_name", "str", "drug name(s), free text", required=False,
                   nullable=True),
        ),
    ),
    TableSchema(
        name="screening",
        row="screened person",
        key=("screening_id",),
        columns=(
            Column("screening_id", "str", "screening-log identifier"),
            Column("screening_date", "date", "date of screening", required=False,
                   nullable=True),
            Column("dn4_total", "int", "DN4 total score at screening", nullable=True, min=0,
                   max=10, unit="points"),
            Column("eligible", "bool", "meets every eligibility criterion"),
            Column("outcome", "str", "what happened",
                   allowed=("randomised", "refused", "not_eligible", "other")),
            Column("reason", "str", "why not randomised (free text)", nullable=True),
            Column("patient_id", "str", "patient identifier once randomised", nullable=True),
        ),
    ),
)

SCHEMAS: Mapping[str, TableSchema] = MappingProxyType({s.name: s for s in _SCHEMAS})
"""Table name -> :class:`TableSchema`, for the seven tables in canonical order."""

TABLE_NAMES: tuple[str, ...] = tuple(SCHEMAS)
"""The seven table names in canonical order."""

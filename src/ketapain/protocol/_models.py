"""The study as data: pydantic models of every section of a protocol file.

Every model is frozen and forbids unknown keys. Single-section rules live on the section's
model; rules that tie sections together (arm codes in sequences, components referencing
infusions and administrations with doses their route allows, the double dummy of blinded
arms, block size and the number of sequences, endpoints and diary items...) live on
:class:`Protocol`. Rule failures are raised as ``Problems`` so that all of them are
reported, each at its own key path (see :mod:`ketapain.protocol._messages`).
"""

from __future__ import annotations

import math
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictBool,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from ketapain.errors import DataError, ProtocolError
from ketapain.protocol._messages import format_errors
from ketapain.protocol._problems import Problems

__all__ = [
    "ActuationDose",
    "Administration",
    "Analysis",
    "Arm",
    "Auc",
    "Component",
    "Blinding",
    "Criterion",
    "Design",
    "Diary",
    "Dose",
    "Eligibility",
    "Endpoint",
    "FixedDose",
    "Gate",
    "Infusion",
    "Inhaled",
    "Injection",
    "Masking",
    "Oral",
    "Patch",
    "PatchDose",
    "PerKgDose",
    "PlaceboDose",
    "Protocol",
    "Randomisation",
    "Route",
    "RuleValue",
    "SampleSize",
    "Site",
    "Stock",
    "Study",
    "UnitDose",
    "Visit",
    "Weights",
]

Int = Annotated[int, Strict()]
"""An integer; booleans, floats and strings are refused (no silent coercion)."""
Float = Annotated[float, Strict()]
"""A finite number (integer or float); booleans, strings, ``inf`` and ``nan`` are refused
(``allow_inf_nan=False`` on every section)."""

# Upper bounds of counts, days, volumes, durations and doses (docs/protocol.md, "Bounds"): wide
# enough for any analgesic crossover trial, narrow enough that a typo (a dose in micrograms, a
# duration in seconds, a day count in hours) or an overflowing value is refused before a
# command allocates anything from it.
MAX_PERIODS = 12
"""Periods per patient (n-of-1 series of 6 pairs)."""
MAX_DAYS = 365
"""``design.period_days``, ``design.washout_days``, ``diary.days_per_period``, ``gate.max_postpone_days``."""
MAX_STUDY_DAYS = 3653
"""Ten years: the whole schedule (``periods x (period_days + washout_days)``) and ``visits.day``."""
MIN_VISIT_DAY = -365
"""The earliest visit: a year before the first infusion."""
MAX_VOLUME_ML = 5000.0
"""``infusions.final_volume_ml`` (5 l) and the ``stock.unit_volume_ml`` of a vial or bag."""
MAX_DURATION_MIN = 10080.0
"""``infusions.duration_min``: 7 days (multi-day ketamine or lidocaine infusions)."""
MAX_MG_PER_KG = 100.0
"""``dose.mg_per_kg`` (IV paracetamol 15, magnesium 50, ketamine 0.5-2 mg/kg)."""
MAX_MG = 100_000.0
"""``dose.mg`` and ``dose.max_mg``: 100 g."""
MAX_STRENGTH_MG_PER_ML = 1000.0
"""``stock.strength_mg_per_ml``: 1 g/ml."""
MAX_WEIGHT_KG = 700.0
"""``weights.min_kg`` and ``weights.max_kg``."""
MAX_BLOCK_SIZE = 1000
"""``randomisation.block_size`` and each of ``random_block_sizes``."""
MAX_SCALE = 1000
"""``|diary.scale_min|``, ``|diary.scale_max|`` (an NRS 0-10, a VAS 0-100 mm); ``gate.tolerance_points`` <= 2 x this."""
MAX_N_STATED = 100_000
"""``sample_size.n_stated``."""
MAX_INJECTION_ML = 20.0
"""``administrations.volume_ml`` of an injection: 20 ml (a large intramuscular injection is 5 ml)."""
MAX_UNITS_PER_DOSE = 20
"""``units_per_dose`` (capsules or tablets) and ``patches_per_application``."""
MAX_DOSES_PER_DAY = 24
"""``doses_per_day`` of an oral or inhaled administration: hourly."""
MAX_ACTUATIONS = 1000
"""``actuations_per_dose`` and ``actuations_per_inhaler``."""
MAX_SPARE_UNITS = 1000
"""``spare_units`` dispensed per period on top of the regimen."""
MAX_WEAR_HOURS = 168.0
"""``wear_hours`` of a transdermal patch: 7 days."""
MAX_UNIT_MG = 10_000.0
"""``dose.mg_per_unit`` of a capsule or tablet: 10 g."""
MAX_MCG_PER_H = 10_000.0
"""``dose.mcg_per_h`` of a patch (fentanyl 12-100, buprenorphine 5-70 mcg/h)."""
MAX_MCG_PER_ACTUATION = 100_000.0
"""``dose.mcg_per_actuation`` of an inhaler: 100 mg."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,7}$")
_SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_ALPHA3 = re.compile(r"^[A-Z]{3}$")

DesignKind = Literal["williams", "latin_square", "all_orders", "custom"]
CriterionKind = Literal["inclusion", "exclusion"]
Operator = Literal["==", "!=", ">=", ">", "<=", "<", "in", "not_in"]
TimeAxis = Literal["infusion", "first_diary_day"]
Impute = Literal["none", "locf", "linear"]
EndpointKind = Literal["primary", "secondary"]
Model = Literal["standard", "paper"]
Carryover = Literal["none", "include", "test-drop"]
DfMethod = Literal["kenward-roger", "satterthwaite", "containment", "normal"]
Multiplicity = Literal["sidak", "none"]
Route = Literal["iv_infusion", "oral", "transdermal_patch", "injection", "inhaled"]
"""How an administration is given; ``[[infusions]]`` are ``iv_infusion``, ``[[administrations]]`` the others."""
Masking = Literal["double_blind", "single_blind", "open"]
OralForm = Literal["capsule", "tablet"]
InjectionSite = Literal["subcutaneous", "intramuscular"]
InhalerDevice = Literal["metered_dose_inhaler", "dry_powder_inhaler"]

RuleValue = bool | int | float | str | tuple[bool | int | float | str, ...]
"""The type of :attr:`Criterion.value`: a TOML scalar, or an array of scalars for ``in``/``not_in``."""


def _raise(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    if problems:
        raise Problems(problems)


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a lower_snake_case name (a-z, 0-9, _; starting with a letter)")
    return value


Name = Annotated[StrictStr, AfterValidator(_name)]
"""A lower_snake_case identifier (field names, ids, diary items)."""


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Text = Annotated[StrictStr, AfterValidator(_text)]


def _instrument_names() -> tuple[str, ...]:
    from ketapain.instruments import instruments

    return tuple(sorted(instruments()))


def _instrument(value: str) -> str:
    known = _instrument_names()
    if value not in known:
        raise ValueError(f"{value!r} is not one of {', '.join(known)} (instruments)")
    return value


InstrumentName = Annotated[StrictStr, AfterValidator(_instrument)]


def _unique(values: Iterable[Any], what: str, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], str]]:
    seen: dict[Any, int] = {}
    problems = []
    for i, v in enumerate(values):
        if v in seen:
            problems.append(((*path, i), f"duplicate {what} {v!r} (already at [{seen[v]}])"))
        else:
            seen[v] = i
    return problems


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --- study and design -------------------------------------------------------------------


class Study(_Section):
    """``[study]``: who and what the protocol is."""

    id: Name = Field(description="Short identifier, lower_snake_case, e.g. 'ketapain'.")
    title: Text = Field(description="Full title.")
    registration: StrictStr | None = Field(None, description="Trial registration, e.g. 'NCT02467517'.")
    reference: StrictStr | None = Field(None, description="Publication(s) describing the study.")
    race_collected: StrictBool = Field(
        False, description="Whether race is collected (patients.race); false: recorded as 'NOT REPORTED' (e.g. where "
                           "the law forbids collecting it, as in France).")


class Site(_Section):
    """``[[sites]]``: a recruiting centre of the study."""

    id: StrictStr = Field(description="Short unique code (letter or digit, then up to 31 letters, digits, _ or -), e.g. 'CFD'.")
    name: Text = Field(description="Readable name, e.g. 'CHU Clermont-Ferrand'.")
    country: StrictStr = Field(description="Country, an ISO 3166-1 alpha-3 code (3 capital letters), e.g. 'FRA'.")

    @field_validator("id")
    @classmethod
    def _short_id(cls, value: str) -> str:
        if not _SITE_ID.match(value):
            raise ValueError(f"{value!r} is not a short site code (a letter or digit, then up to 31 letters, digits, _ or -)")
        return value

    @field_validator("country")
    @classmethod
    def _alpha3(cls, value: str) -> str:
        if not _ALPHA3.match(value):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-3 code (3 capital letters, e.g. 'FRA')")
        return value


class Design(_Section):
    """``[design]``: the crossover design and the schedule of periods."""

    kind: DesignKind = Field(description="How the treatment sequences are built from the arms.")
    sequences: tuple[tuple[StrictStr, ...], ...] | None = Field(
        None, description="Sequences of arm codes; required for kind='custom', forbidden otherwise."
    )
    periods: Int = Field(ge=2, le=MAX_PERIODS, description="Number of periods (treatments per patient).")
    period_days: Int = Field(ge=1, le=MAX_DAYS, description="Days from an infusion to the end of its period.")
    washout_days: Int | None = Field(None, ge=0, le=MAX_DAYS, description="Extra days between the end of a period and the next infusion.")

    @model_validator(mode="after")
    def _sequences_match_kind(self) -> Design:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.kind == "custom":
            if not self.sequences:
                problems.append((("sequences",), "required (at least one sequence) when kind = 'custom'"))
            else:
                for i, seq in enumerate(self.sequences):
                    if len(seq) != self.periods:
                        problems.append((("sequences", i), f"has {len(seq)} arm codes; periods = {self.periods}"))
                problems += _unique(self.sequences, "sequence", ("sequences",))
        elif self.sequences is not None:
            problems.append((("sequences",), f"only allowed when kind = 'custom' (kind = {self.kind!r} builds them)"))
        _raise(problems)
        return self


# --- infusions, arms, doses ----------------------------------------------------------------


class Infusion(_Section):
    """``[[infusions]]``: one bag or syringe every arm receives, so all bags look the same."""

    id: Name = Field(description="Identifier referenced by arm components.")
    final_volume_ml: Float = Field(gt=0, le=MAX_VOLUME_ML, description="Volume of the prepared bag or syringe, ml.")
    duration_min: Float = Field(gt=0, le=MAX_DURATION_MIN, description="Infusion duration, minutes.")
    diluent: Text = Field("NaCl 0.9%", description="Diluent, also the content of a placebo.")

    route: ClassVar[Route] = "iv_infusion"
    weight_based: ClassVar[bool] = True
    """Doses may be per kg: the dose tool prepares the bag from the weight."""

    @property
    def rate_ml_per_h(self) -> float:
        """Pump rate, ml/h: ``final_volume_ml * 60 / duration_min``."""
        return self.final_volume_ml * 60.0 / self.duration_min

    def describe(self) -> str:
        """One line, e.g. ``'IV infusion, 45 ml over 120 min'``."""
        return f"IV infusion, {self.final_volume_ml:g} ml over {self.duration_min:g} min"


class PerKgDose(_Section):
    """A weight-based dose: ``{mg_per_kg = 0.5}``, optionally capped ``{..., max_mg = 50}``."""

    mg_per_kg: Float = Field(gt=0, le=MAX_MG_PER_KG, description="Dose per kg of body weight, mg/kg.")
    max_mg: Float | None = Field(None, gt=0, le=MAX_MG, description="Cap on the dose, mg.")

    kind: ClassVar[str] = "per_kg"


class FixedDose(_Section):
    """A fixed dose: ``{mg = 3000}``."""

    mg: Float = Field(gt=0, le=MAX_MG, description="Dose, mg.")

    kind: ClassVar[str] = "fixed"


class PlaceboDose(_Section):
    """A placebo: ``{placebo = true}``. In an infusion or injection the diluent alone, same
    volume; in an oral, patch or inhaled administration a matching dummy (same form and
    regimen, no active drug)."""

    placebo: Literal[True] = Field(description="Always true.")

    kind: ClassVar[str] = "placebo"


class UnitDose(_Section):
    """The strength of one capsule or tablet of an oral administration: ``{mg_per_unit = 75}``."""

    mg_per_unit: Float = Field(gt=0, le=MAX_UNIT_MG, description="Drug in one capsule or tablet, mg.")

    kind: ClassVar[str] = "per_unit"


class PatchDose(_Section):
    """The delivery rate of a transdermal patch: ``{mcg_per_h = 25}``."""

    mcg_per_h: Float = Field(gt=0, le=MAX_MCG_PER_H, description="Nominal delivery rate of one patch, mcg/h.")

    kind: ClassVar[str] = "per_hour"


class ActuationDose(_Section):
    """The dose of one inhaler actuation (puff): ``{mcg_per_actuation = 100}``."""

    mcg_per_actuation: Float = Field(gt=0, le=MAX_MCG_PER_ACTUATION, description="Drug delivered per actuation, mcg.")

    kind: ClassVar[str] = "per_actuation"


_DOSE_TAGS: dict[str, type[BaseModel]] = {
    "mg_per_kg": PerKgDose, "mg": FixedDose, "placebo": PlaceboDose, "mg_per_unit": UnitDose, "mcg_per_h": PatchDose,
    "mcg_per_actuation": ActuationDose,
}


def _dose_tag(value: Any) -> str | None:
    if isinstance(value, Mapping):
        keys = [k for k in _DOSE_TAGS if k in value]
        return keys[0] if len(keys) == 1 else None
    for tag, cls in _DOSE_TAGS.items():
        if isinstance(value, cls):
            return tag
    return None


DOSE_SHAPES = ("{mg_per_kg = ..., max_mg = ... (optional)}, {mg = ...}, {mg_per_unit = ...}, {mcg_per_h = ...}, "
               "{mcg_per_actuation = ...} or {placebo = true}")

Dose = Annotated[
    Union[  # noqa: UP007
        Annotated[PerKgDose, Tag("mg_per_kg")], Annotated[FixedDose, Tag("mg")], Annotated[PlaceboDose, Tag("placebo")],
        Annotated[UnitDose, Tag("mg_per_unit")], Annotated[PatchDose, Tag("mcg_per_h")], Annotated[ActuationDose, Tag("mcg_per_actuation")],
    ],
    Discriminator(_dose_tag, custom_error_type="dose_shape", custom_error_message=f"a dose is exactly one of {DOSE_SHAPES}"),
]
"""A component's dose, chosen by its keys: :class:`PerKgDose`, :class:`FixedDose` (infusions and
injections), :class:`UnitDose` (oral), :class:`PatchDose` (patch), :class:`ActuationDose` (inhaled)
or :class:`PlaceboDose` (any route); which ones a route allows is checked on :class:`Protocol`."""

DOSES_BY_ROUTE: dict[str, tuple[type[BaseModel], ...]] = {
    "iv_infusion": (PerKgDose, FixedDose, PlaceboDose),
    "injection": (PerKgDose, FixedDose, PlaceboDose),
    "oral": (UnitDose, PlaceboDose),
    "transdermal_patch": (PatchDose, PlaceboDose),
    "inhaled": (ActuationDose, PlaceboDose),
}
"""The dose shapes each route allows."""
_SHAPE_TEXT: dict[type[BaseModel], str] = {
    PerKgDose: "{mg_per_kg = ..., max_mg = ... (optional)}", FixedDose: "{mg = ...}", PlaceboDose: "{placebo = true}",
    UnitDose: "{mg_per_unit = ...}", PatchDose: "{mcg_per_h = ...}", ActuationDose: "{mcg_per_actuation = ...}",
}
_STOCK_ROUTES = ("iv_infusion", "injection")
"""Routes prepared from a stock of vials or ampoules (``stock`` allowed on active components)."""

_DAYS_DOC = "Days of dosing in each period, from the period's first day; at most design.period_days."


class _Dispensed(_Section):
    """An administration dispensed as countable units (capsules, patches, inhalers), not prepared."""

    weight_based: ClassVar[bool] = False
    UNIT: ClassVar[str] = "unit"

    spare_units: Int = Field(0, ge=0, le=MAX_SPARE_UNITS, description="Extra units dispensed per period (delays, losses).")

    @property
    def unit(self) -> str:
        """What one dispensed unit is: ``'capsule'``, ``'tablet'``, ``'patch'`` or ``'inhaler'``."""
        return self.UNIT

    @property
    def regimen_units(self) -> int:
        """Units the regimen of one period uses (without spares)."""
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    @property
    def units_per_period(self) -> int:
        """Units dispensed per period: :attr:`regimen_units` + ``spare_units``."""
        return self.regimen_units + self.spare_units


def _times_daily(n: int) -> str:
    return {1: "once daily", 2: "twice daily", 3: "three times daily"}.get(n, f"{n} times daily")


class Oral(_Dispensed):
    """``[[administrations]]`` with ``route = "oral"``: capsules or tablets taken on a schedule."""

    id: Name = Field(description="Identifier referenced by arm components (administration = ...).")
    route: Literal["oral"] = Field(description="'oral'.")
    form: OralForm = Field(description="Dosage form; a placebo is a matching dummy of the same form.")
    units_per_dose: Int = Field(ge=1, le=MAX_UNITS_PER_DOSE, description="Capsules or tablets taken at each dose.")
    doses_per_day: Int = Field(ge=1, le=MAX_DOSES_PER_DAY, description="Doses per day.")
    treatment_days: Int = Field(ge=1, le=MAX_DAYS, description=_DAYS_DOC)

    @property
    def unit(self) -> str:
        """The dosage form: ``'capsule'`` or ``'tablet'``."""
        return self.form

    @property
    def regimen_units(self) -> int:
        """``units_per_dose * doses_per_day * treatment_days``."""
        return self.units_per_dose * self.doses_per_day * self.treatment_days

    def describe(self) -> str:
        """One line, e.g. ``'oral capsule, 2 x twice daily for 14 days'``."""
        return f"oral {self.form}, {self.units_per_dose} x {_times_daily(self.doses_per_day)} for {self.treatment_days} days"


class Patch(_Dispensed):
    """``[[administrations]]`` with ``route = "transdermal_patch"``: patches worn back to back."""

    UNIT: ClassVar[str] = "patch"

    id: Name = Field(description="Identifier referenced by arm components (administration = ...).")
    route: Literal["transdermal_patch"] = Field(description="'transdermal_patch'.")
    patches_per_application: Int = Field(1, ge=1, le=MAX_UNITS_PER_DOSE, description="Patches applied together.")
    wear_hours: Float = Field(gt=0, le=MAX_WEAR_HOURS, description="Hours each patch is worn before the next is applied.")
    treatment_days: Int = Field(ge=1, le=MAX_DAYS, description=_DAYS_DOC)

    @property
    def applications(self) -> int:
        """Applications per period: ``ceil(treatment_days * 24 / wear_hours)``."""
        return math.ceil(self.treatment_days * 24 / self.wear_hours - 1e-9)

    @property
    def regimen_units(self) -> int:
        """``patches_per_application * applications``."""
        return self.patches_per_application * self.applications

    def describe(self) -> str:
        """One line, e.g. ``'transdermal patch, 1 patch every 72 h for 28 days'``."""
        return (f"transdermal patch, {self.patches_per_application} patch(es) every {self.wear_hours:g} h for "
                f"{self.treatment_days} days")


class Injection(_Section):
    """``[[administrations]]`` with ``route = "injection"``: one syringe on the period's first day,
    prepared like a small infusion (drug drawn from stock, diluent to ``volume_ml``)."""

    weight_based: ClassVar[bool] = True

    id: Name = Field(description="Identifier referenced by arm components (administration = ...).")
    route: Literal["injection"] = Field(description="'injection'.")
    site: InjectionSite = Field(description="subcutaneous or intramuscular.")
    volume_ml: Float = Field(gt=0, le=MAX_INJECTION_ML, description="Volume injected, ml, the same in every arm.")
    diluent: Text = Field("NaCl 0.9%", description="Diluent, also the content of a placebo.")

    def describe(self) -> str:
        """One line, e.g. ``'subcutaneous injection, 2 ml'``."""
        return f"{self.site} injection, {self.volume_ml:g} ml"


class Inhaled(_Dispensed):
    """``[[administrations]]`` with ``route = "inhaled"``: inhalers dispensed for the period."""

    UNIT: ClassVar[str] = "inhaler"

    id: Name = Field(description="Identifier referenced by arm components (administration = ...).")
    route: Literal["inhaled"] = Field(description="'inhaled'.")
    device: InhalerDevice = Field(description="metered_dose_inhaler or dry_powder_inhaler.")
    actuations_per_dose: Int = Field(ge=1, le=MAX_ACTUATIONS, description="Actuations (puffs) per dose.")
    doses_per_day: Int = Field(ge=1, le=MAX_DOSES_PER_DAY, description="Doses per day.")
    treatment_days: Int = Field(ge=1, le=MAX_DAYS, description=_DAYS_DOC)
    actuations_per_inhaler: Int = Field(ge=1, le=MAX_ACTUATIONS, description="Actuations one inhaler holds.")

    @property
    def regimen_units(self) -> int:
        """Inhalers: ``ceil(actuations_per_dose * doses_per_day * treatment_days / actuations_per_inhaler)``."""
        return math.ceil(self.actuations_per_dose * self.doses_per_day * self.treatment_days / self.actuations_per_inhaler)

    def describe(self) -> str:
        """One line, e.g. ``'inhaled (metered_dose_inhaler), 2 actuations x twice daily for 14 days'``."""
        return (f"inhaled ({self.device}), {self.actuations_per_dose} actuation(s) x {_times_daily(self.doses_per_day)} "
                f"for {self.treatment_days} days")


ADMINISTRATION_ROUTES = ("oral", "transdermal_patch", "injection", "inhaled")
"""The routes of ``[[administrations]]`` (IV infusions are ``[[infusions]]``)."""


def _route_tag(value: Any) -> str | None:
    if isinstance(value, Mapping):
        route = value.get("route")
        return route if route in ADMINISTRATION_ROUTES else None
    return getattr(value, "route", None) if isinstance(value, Oral | Patch | Injection | Inhaled) else None


Administration = Annotated[
    Union[  # noqa: UP007
        Annotated[Oral, Tag("oral")], Annotated[Patch, Tag("transdermal_patch")], Annotated[Injection, Tag("injection")],
        Annotated[Inhaled, Tag("inhaled")],
    ],
    Discriminator(
        _route_tag, custom_error_type="route",
        custom_error_message=f"route is one of {', '.join(ADMINISTRATION_ROUTES)} (IV infusions go in [[infusions]])",
    ),
]
"""An ``[[administrations]]`` entry, chosen by its ``route``: :class:`Oral`, :class:`Patch`,
:class:`Injection` or :class:`Inhaled`."""


class Stock(_Section):
    """The drug as stocked by the pharmacy: ``{strength_mg_per_ml = 150, unit_volume_ml = 10}``."""

    strength_mg_per_ml: Float = Field(
        gt=0, le=MAX_STRENGTH_MG_PER_ML,
        description="Concentration of the vial or ampoule, mg/ml (default strength; another may be given at dose time)."
    )
    unit_volume_ml: Float | None = Field(None, gt=0, le=MAX_VOLUME_ML, description="Volume of one vial or ampoule, ml.")

    @property
    def unit_mg(self) -> float | None:
        """Drug in one vial or ampoule, mg (None if the unit volume is not given)."""
        return None if self.unit_volume_ml is None else self.strength_mg_per_ml * self.unit_volume_ml


class Component(_Section):
    """What an arm receives in one infusion or administration: which drug (or which drug a
    placebo matches) and what dose. Exactly one of ``infusion`` and ``administration``."""

    infusion: Name | None = Field(None, description="The id of an [[infusions]] entry.")
    administration: Name | None = Field(None, description="The id of an [[administrations]] entry.")
    drug: Text = Field(description="Drug name; for a placebo, the drug it matches.")
    dose: Dose = Field(description=f"One of {DOSE_SHAPES}; which ones depends on the route.")
    stock: Stock | None = Field(
        None, description="The drug's stock strength (infusions and injections); not allowed for a placebo."
    )

    @property
    def slot(self) -> str:
        """The id of the infusion or administration this component is given in."""
        return self.infusion if self.infusion is not None else str(self.administration)

    @property
    def is_placebo(self) -> bool:
        """True if this component is a placebo (the diluent alone, or a matching dummy)."""
        return isinstance(self.dose, PlaceboDose)

    @model_validator(mode="after")
    def _one_slot_no_stock_for_placebo(self) -> Component:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if (self.infusion is None) == (self.administration is None):
            problems.append(((), "give exactly one of infusion = '<[[infusions]] id>' and administration = "
                                 "'<[[administrations]] id>'"))
        if self.is_placebo and self.stock is not None:
            what = "the infusion's diluent" if self.infusion is not None else "a dummy without drug"
            problems.append((("stock",), f"not allowed with a placebo dose (a placebo is {what})"))
        _raise(problems)
        return self


class Arm(_Section):
    """``[[arms]]``: one treatment; one component per infusion and administration (blinded
    protocols; in an open protocol an arm may leave some out)."""

    code: StrictStr = Field(description="Short unique code (letter then letters, digits or _; at most 8), e.g. 'KM'.")
    name: Text = Field(description="Readable name, e.g. 'ketamine/magnesium'.")
    components: tuple[Component, ...] = Field(min_length=1, description="One per infusion and administration.")

    @field_validator("code")
    @classmethod
    def _short_code(cls, value: str) -> str:
        if not _CODE.match(value):
            raise ValueError(f"{value!r} is not a short arm code (a letter, then up to 7 letters, digits or _)")
        return value

    @property
    def is_placebo(self) -> bool:
        """True if every component is a placebo."""
        return all(c.is_placebo for c in self.components)

    def component(self, infusion: str) -> Component:
        """The component given in infusion (or administration) ``infusion``.

        Raises
        ------
        ProtocolError
            No component of this arm uses that infusion or administration (the message lists
            those that exist).
        """
        for c in self.components:
            if c.slot == infusion:
                return c
        raise ProtocolError(
            f"arm {self.code!r} has no component in infusion {infusion!r}; it has {', '.join(c.slot for c in self.components)}"
        )

    def has_component(self, slot: str) -> bool:
        """True if the arm receives something in infusion or administration ``slot``."""
        return any(c.slot == slot for c in self.components)


# --- operations ----------------------------------------------------------------------------


class Weights(_Section):
    """``[weights]``: sanity limits on body weight for dosing, kg."""

    min_kg: Float = Field(gt=0, le=MAX_WEIGHT_KG, description="Lowest plausible weight, kg.")
    max_kg: Float = Field(gt=0, le=MAX_WEIGHT_KG, description="Highest plausible weight, kg.")

    @model_validator(mode="after")
    def _ordered(self) -> Weights:
        if self.min_kg >= self.max_kg:
            raise Problems([(("max_kg",), f"{self.max_kg:g} is not > min_kg = {self.min_kg:g}")])
        return self


class Randomisation(_Section):
    """``[randomisation]``: permuted blocks of sequences, optionally stratified."""

    block_size: Int = Field(ge=1, le=MAX_BLOCK_SIZE, description="Block size; a multiple of the number of sequences.")
    random_block_sizes: tuple[Annotated[int, Strict(), Field(ge=1, le=MAX_BLOCK_SIZE)], ...] | None = Field(
        None, min_length=1, description="If given, each block's size is drawn from these (each a multiple of the number of sequences)."
    )
    strata: tuple[Name, ...] = Field((), description="Patient fields to stratify on, e.g. ['sex']; empty = none.")
    ratio: StrictStr | None = Field(None, description="Allocation ratio as stated, a note (e.g. '1:1:1'); sequences are always balanced.")

    @model_validator(mode="after")
    def _unique_strata(self) -> Randomisation:
        _raise(_unique(self.strata, "stratum", ("strata",)) + _unique(self.random_block_sizes or (), "block size", ("random_block_sizes",)))
        return self


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _rule_value(value: Any) -> RuleValue:
    scalar = (bool, int, float, str)
    if isinstance(value, list | tuple):
        bad = [v for v in value if not isinstance(v, scalar)]
        if bad or not value:
            raise ValueError(f"expected a non-empty array of booleans, numbers or strings, got {value!r}")
        infinite = [v for v in value if isinstance(v, float) and not math.isfinite(v)]
        if infinite:
            raise ValueError(f"{infinite[0]!r} is not a finite number")
        return tuple(value)
    if not isinstance(value, scalar):
        raise ValueError(f"expected a boolean, number, string or array of them, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return value


class Criterion(_Section):
    """``[[eligibility.criteria]]``: one criterion, its neutral text and its machine rule.

    The rule is either ``field op value`` on a screening answer, or ``instrument``/``score``
    ``op value`` on a questionnaire score (e.g. DN4 total >= 4). A patient is eligible when
    every inclusion rule holds and no exclusion rule holds (:meth:`rule_holds`).
    """

    id: Name = Field(description="Unique identifier, e.g. 'inc_age'.")
    kind: CriterionKind = Field(description="inclusion: the rule must hold; exclusion: the rule must not hold.")
    text: Text = Field(description="The criterion in words (neutral description).")
    field: Name | None = Field(None, description="Screening answer the rule reads; or give instrument and score.")
    instrument: InstrumentName | None = Field(None, description="Instrument whose score the rule reads.")
    score: Name | None = Field(None, description="Score of the instrument, e.g. 'total'.")
    op: Operator = Field(description="Comparison of the answer (left) with value (right).")
    value: Annotated[Any, AfterValidator(_rule_value)] = Field(
        description="A boolean, number or string; an array of them for 'in' / 'not_in'."
    )

    @model_validator(mode="after")
    def _rule_is_complete(self) -> Criterion:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if (self.field is None) == (self.instrument is None):
            problems.append(((), "give exactly one of field (a screening answer) or instrument (with score)"))
        if self.instrument is not None:
            if self.score is None:
                problems.append((("score",), f"required with instrument = {self.instrument!r}"))
            else:
                from ketapain.instruments import get_instrument

                scores = [s.name for s in get_instrument(self.instrument).scores]
                if self.score not in scores:
                    problems.append((("score",), f"{self.score!r} is not one of {', '.join(scores)} ({self.instrument} scores)"))
        elif self.score is not None:
            problems.append((("score",), "only allowed with instrument"))
        is_list = isinstance(self.value, tuple)
        if self.op in ("in", "not_in") and not is_list:
            problems.append((("value",), f"op {self.op!r} needs an array, got {self.value!r}"))
        elif self.op not in ("in", "not_in") and is_list:
            problems.append((("value",), f"op {self.op!r} needs a single value, got an array (use 'in' or 'not_in')"))
        elif self.op in (">=", ">", "<=", "<") and not _is_number(self.value):
            problems.append((("value",), f"op {self.op!r} needs a number, got {self.value!r}"))
        _raise(problems)
        return self

    @property
    def source(self) -> str:
        """What the rule reads: the field name, or ``'instrument.score'``."""
        return self.field if self.field is not None else f"{self.instrument}.{self.score}"

    def rule_holds(self, observed: bool | int | float | str) -> bool:
        """Apply the rule to an observed answer or score: ``observed op value``.

        Parameters
        ----------
        observed
            The patient's screening answer (or instrument score); must not be None.

        Returns
        -------
        bool
            Whether ``observed op value`` is true. Booleans compare only with booleans, so
            ``1 == true`` is False.

        Raises
        ------
        DataError
            ``observed`` is None, or is not a number for an ordering operator.

        Examples
        --------
        >>> c = Criterion(id="inc_age", kind="inclusion", text="Adult", field="age", op=">=", value=18)
        >>> c.rule_holds(45), c.rule_holds(17)
        (True, False)
        """
        if observed is None:
            raise DataError(f"criterion {self.id} ({self.source}): no answer")
        if self.op in ("in", "not_in"):
            inside = any(_same(observed, v) for v in self.value)
            return inside if self.op == "in" else not inside
        if self.op == "==":
            return _same(observed, self.value)
        if self.op == "!=":
            return not _same(observed, self.value)
        if not _is_number(observed):
            raise DataError(f"criterion {self.id} ({self.source}): {observed!r} is not a number (op {self.op!r})")
        return {">=": observed >= self.value, ">": observed > self.value, "<=": observed <= self.value, "<": observed < self.value}[self.op]


class Blinding(_Section):
    """``[blinding]``: who is blinded, and separation of duties in the capture app."""

    masking: Masking = Field(
        "double_blind",
        description=("double_blind or single_blind: every arm receives every infusion and administration (a placebo "
                     "where it has no active drug, a double dummy when routes differ), so all arms look the same; "
                     "open: an arm may leave some out."),
    )

    two_person_rule: StrictBool = Field(
        True,
        description=("Lock, unlock and giving a user a role that sees the allocation are requested by one admin and "
                     "applied only when a second person, another admin or the statistician, approves. Emergency "
                     "unblinding of one patient-period stays single-person."),
    )


class Eligibility(_Section):
    """``[eligibility]``: the criteria, in ``[[eligibility.criteria]]`` tables."""

    criteria: tuple[Criterion, ...] = Field(default=(), description="Inclusion and exclusion criteria.")

    @model_validator(mode="after")
    def _unique_ids(self) -> Eligibility:
        _raise(_unique((c.id for c in self.criteria), "criterion id", ("criteria",)))
        return self


class Gate(_Section):
    """``[gate]``: check before periods 2+ that pain on the day is close to pain at inclusion."""

    tolerance_points: Float = Field(ge=0, le=2 * MAX_SCALE,
                                    description="Largest |pain on the day - pain at inclusion|, NRS points, to proceed.")
    max_postpone_days: Int = Field(ge=0, le=MAX_DAYS, description="How long an infusion may be postponed when the gate fails, days.")


# --- data collection -------------------------------------------------------------------------


class Visit(_Section):
    """``[[visits]]``: a visit and the questionnaires filled in at it."""

    name: Name = Field(description="Unique visit name, e.g. 'inclusion', 'end_period_1'.")
    day: Int = Field(ge=MIN_VISIT_DAY, le=MAX_STUDY_DAYS,
                     description="Day relative to the first infusion (day 0); inclusion is negative, e.g. -14.")
    questionnaires: tuple[InstrumentName, ...] = Field((), description="Instrument names (see `ketapain instruments`).")
    window_days: Int | None = Field(
        None, ge=0, le=MAX_DAYS,
        description="Days the visit may fall before or after its expected date (capture: outside, a reason is needed and "
                    "the visit is flagged); absent: the capture setting visit_window_days (3).")

    @model_validator(mode="after")
    def _unique_questionnaires(self) -> Visit:
        _raise(_unique(self.questionnaires, "questionnaire", ("questionnaires",)))
        return self


class Diary(_Section):
    """``[diary]``: the daily pain diary."""

    items: tuple[Name, ...] = Field(min_length=1, description="Diary item names, e.g. ['avg_pain', 'max_pain', 'night_pain'].")
    scale_min: Int = Field(0, ge=-MAX_SCALE, le=MAX_SCALE, description="Lowest score of every item.")
    scale_max: Int = Field(10, ge=-MAX_SCALE, le=MAX_SCALE, description="Highest score of every item.")
    days_per_period: Int = Field(ge=1, le=MAX_DAYS, description="Diary days in each period.")

    @model_validator(mode="after")
    def _valid(self) -> Diary:
        problems = _unique(self.items, "item", ("items",))
        if self.scale_min >= self.scale_max:
            problems.append((("scale_max",), f"{self.scale_max} is not > scale_min = {self.scale_min}"))
        _raise(problems)
        return self

    @property
    def scale(self) -> tuple[float, float]:
        """``(scale_min, scale_max)`` as floats: the ``diary_scale`` of the data readers
        (:meth:`ketapain.data.TrialData.from_tables`) and the ``scale`` of
        :func:`ketapain.stats.diary_auc`. Every diary item and ``pre_infusion_pain`` is scored on it.
        """
        return float(self.scale_min), float(self.scale_max)


class Auc(_Section):
    """``[auc]``: how areas under the diary curve are computed (see :func:`ketapain.stats.diary_auc`)."""

    time_axis: TimeAxis = Field(
        "infusion", description="infusion: day 0 = infusion day; first_diary_day: the curve starts at the first diary day."
    )
    windows: tuple[Int, ...] = Field(min_length=1, description="Days at which AUCs are computed, increasing, e.g. [7, 15, 21, 28, 35].")

    @model_validator(mode="after")
    def _increasing(self) -> Auc:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, day in enumerate(self.windows):
            if day < 1:
                problems.append((("windows", i), f"{day} is not >= 1"))
            elif i and day <= self.windows[i - 1]:
                problems.append((("windows", i), f"{day} is not > the previous window {self.windows[i - 1]} (windows increase)"))
        _raise(problems)
        return self


class Endpoint(_Section):
    """``[[endpoints]]``: an AUC of one diary item up to one window day."""

    name: Name = Field(description="Unique endpoint name, e.g. 'auc_avg_pain_d35'.")
    kind: EndpointKind = Field(description="Exactly one endpoint is primary.")
    value: Name = Field(description="The diary item whose AUC this is.")
    window_day: Int = Field(description="AUC up to this day; one of auc.windows.")
    impute: Impute = Field("none", description="Missing diary days: none, locf (last observation carried forward) or linear.")


class Analysis(_Section):
    """``[analysis]``: settings of the crossover model (see :func:`ketapain.stats.fit_crossover`)."""

    alpha: Float = Field(default=0.05, gt=0, lt=1, description="Two-sided significance level.")
    model: Model = Field(default="standard", description="standard: treatment + period + sequence; paper: treatment + sequence.")
    carryover: Carryover = Field(
        default="none", description="none, include (first-order carry-over terms) or test-drop (test, drop if not significant)."
    )
    df_method: DfMethod = Field(default="kenward-roger", description="Denominator degrees of freedom.")
    multiplicity: Multiplicity = Field(default="sidak", description="Adjustment of pairwise comparisons.")
    conf_level: Float = Field(default=0.95, gt=0, lt=1, description="Confidence level of every interval.")

    def fit_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ketapain.stats.fit_crossover` these settings stand for.

        ``carryover`` maps none -> False, include -> True, test-drop -> 'test-drop' (whose
        pre-test uses ``alpha``). ``alpha`` and ``multiplicity`` are not fit options: they
        apply to the tests made from the fit.

        Examples
        --------
        >>> Analysis(model="paper", carryover="test-drop").fit_options()
        {'model': 'paper', 'carryover': 'test-drop', 'carryover_alpha': 0.05, 'df_method': 'kenward-roger', 'conf_level': 0.95}
        """
        by_choice: dict[Carryover, bool | str] = {"none": False, "include": True, "test-drop": "test-drop"}
        carryover = by_choice[self.carryover]
        return {
            "model": self.model,
            "carryover": carryover,
            "carryover_alpha": self.alpha,
            "df_method": self.df_method,
            "conf_level": self.conf_level,
        }


class SampleSize(_Section):
    """``[sample_size]``: the sample-size calculation as stated by the study (inputs and n)."""

    difference: Float = Field(gt=0, description="Difference to detect, in outcome units.")
    sd: Float = Field(gt=0, description="Standard deviation of the outcome.")
    rho: Float = Field(ge=-1, le=1, description="Intra-patient correlation.")
    alpha: Float = Field(gt=0, lt=1, description="Two-sided alpha.")
    power: Float = Field(gt=0, lt=1, description="Power.")
    n_stated: Int | None = Field(None, ge=1, le=MAX_N_STATED, description="Number of patients the study states.")
    note: StrictStr | None = Field(None, description="Where the inputs come from.")


# --- the protocol -------------------------------------------------------------------------------


class Protocol(_Section):
    """A whole study protocol, validated. Load one with :func:`ketapain.protocol.load_protocol`.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> p = load_protocol("ketapain")
    >>> p.arm_codes, p.n_sequences_expected, p.randomisation.block_size
    (('P', 'K', 'KM'), 6, 6)
    >>> p.arm("K").component("bag_45ml").dose
    PerKgDose(mg_per_kg=0.5, max_mg=None)
    >>> p.primary_endpoint.name
    'auc_avg_pain_d35'
    """

    study: Study
    sites: tuple[Site, ...] = ()
    design: Design
    infusions: tuple[Infusion, ...] = ()
    administrations: tuple[Administration, ...] = ()
    arms: tuple[Arm, ...] = Field(min_length=2)
    weights: Weights
    randomisation: Randomisation
    eligibility: Eligibility = Field(default_factory=Eligibility)
    blinding: Blinding = Field(default_factory=lambda: Blinding(masking="double_blind", two_person_rule=True))
    gate: Gate | None = None
    visits: tuple[Visit, ...] = ()
    diary: Diary
    auc: Auc
    endpoints: tuple[Endpoint, ...] = Field(min_length=1)
    analysis: Analysis = Field(default_factory=Analysis)
    sample_size: SampleSize | None = None

    # -- construction

    @classmethod
    def from_toml_text(cls, text: str, *, source: str = "<string>") -> Protocol:
        """Parse and validate a protocol from TOML text.

        Parameters
        ----------
        text
            The TOML document.
        source
            Name used in error messages (usually the file name).

        Raises
        ------
        ProtocolError
            TOML syntax error, or every validation problem, one per line:
            ``<source>: <key path>: <what is wrong and what is allowed>``.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProtocolError(f"{source}: TOML syntax error: {exc}") from None
        except ValueError:  # an integer of more than sys.get_int_max_str_digits() digits
            raise ProtocolError(f"{source}: TOML: an integer has more than {sys.get_int_max_str_digits()} digits; "
                                "every count, day and dose has a documented upper bound (docs/protocol.md)") from None
        except RecursionError:
            raise ProtocolError(f"{source}: TOML: arrays or tables nested too deeply; a protocol nests at most "
                                "a few levels") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Protocol:
        """Validate a protocol from a mapping (as parsed from TOML, or from :meth:`model_dump`).

        Raises
        ------
        ProtocolError
            Every validation problem, one per line, as in :meth:`from_toml_text`.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ProtocolError("\n".join(format_errors(exc, source=source, model=cls))) from None

    # -- conveniences

    @property
    def arm_codes(self) -> tuple[str, ...]:
        """Arm codes in file order."""
        return tuple(a.code for a in self.arms)

    def arm(self, code: str) -> Arm:
        """The arm with this code.

        Raises
        ------
        ProtocolError
            Unknown code (the message lists the codes).
        """
        for a in self.arms:
            if a.code == code:
                return a
        raise ProtocolError(f"unknown arm {code!r}; arms: {', '.join(self.arm_codes)}")

    def infusion(self, id: str) -> Infusion:
        """The infusion with this id.

        Raises
        ------
        ProtocolError
            Unknown id (the message lists the ids).
        """
        for inf in self.infusions:
            if inf.id == id:
                return inf
        raise ProtocolError(f"unknown infusion {id!r}; infusions: {', '.join(i.id for i in self.infusions)}")

    def administration(self, id: str) -> Infusion | Oral | Patch | Injection | Inhaled:
        """The infusion or administration with this id.

        Raises
        ------
        ProtocolError
            Unknown id (the message lists the ids).
        """
        for a in self.slots:
            if a.id == id:
                return a
        raise ProtocolError(f"unknown infusion or administration {id!r}; ids: {', '.join(a.id for a in self.slots)}")

    @property
    def slots(self) -> tuple[Infusion | Oral | Patch | Injection | Inhaled, ...]:
        """Every ``[[infusions]]`` then every ``[[administrations]]`` entry, in file order."""
        return (*self.infusions, *self.administrations)

    @property
    def routes(self) -> tuple[str, ...]:
        """The distinct routes of :attr:`slots`, in order of first appearance, e.g. ``('iv_infusion',)``."""
        return tuple(dict.fromkeys(a.route for a in self.slots))

    @property
    def double_dummy(self) -> bool:
        """True if the arms are blinded by double dummy: two or more administrations of different
        routes or dosage forms, and some arm gets a placebo in one and an active drug in another."""
        kinds = {(a.route, getattr(a, "form", None)) for a in self.slots}
        if len(kinds) < 2 or self.blinding.masking == "open":
            return False
        return any(any(c.is_placebo for c in arm.components) and not arm.is_placebo for arm in self.arms)

    @property
    def needs_weight(self) -> bool:
        """True if some arm has a weight-based (per kg) dose: the dose tool needs the patient's weight.

        A property of the protocol, not of an arm, so asking for the weight reveals nothing."""
        return any(isinstance(c.dose, PerKgDose) for arm in self.arms for c in arm.components)

    def site(self, id: str) -> Site:
        """The site with this id.

        Raises
        ------
        ProtocolError
            No ``[[sites]]`` entry has that id (the message lists those that exist).
        """
        for s in self.sites:
            if s.id == id:
                return s
        known = ", ".join(repr(s.id) for s in self.sites) or "none: the protocol has no [[sites]]"
        raise ProtocolError(f"site {id!r} is not a site of the protocol; its sites: {known}")

    def visit_anchor(self, day: int) -> tuple[int, int]:
        """``(period, offset)``: a visit on protocol ``day`` (``[[visits]]``, day 0 = first
        infusion) belongs to ``period`` and falls ``offset`` days after that period's infusion.

        ``period`` is 1 when ``day <= 0``, else ``min(periods, (day - 1) // gap + 1)``, and
        ``offset = day - (period - 1) x gap``, with ``gap = period_days + washout_days`` (washout
        0 when absent). So a visit follows its own period's infusion when that infusion is
        postponed (the simulator's questionnaire dates, the capture app's visit windows).

        >>> from ketapain.protocol import load_protocol
        >>> p = load_protocol("ketapain")
        >>> [p.visit_anchor(d) for d in (-14, 0, 35, 36, 70, 105, 500)]
        [(1, -14), (1, 0), (1, 35), (2, 1), (2, 35), (3, 35), (3, 430)]
        """
        gap = self.design.period_days + (self.design.washout_days or 0)
        period = 1 if day <= 0 else min(self.design.periods, (day - 1) // gap + 1)
        return period, day - (period - 1) * gap

    @property
    def primary_endpoint(self) -> Endpoint:
        """The (single) primary endpoint."""
        return next(e for e in self.endpoints if e.kind == "primary")

    @property
    def n_sequences_expected(self) -> int:
        """Number of distinct sequences the design has, with T arms.

        williams: 2T if T is odd, else T; latin_square: T; all_orders: T!; custom: the number
        of sequences listed.
        """
        return _n_sequences(self.design, len(self.arms))

    # -- cross-section rules

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        _raise(self._arm_problems() + self._design_problems() + self._endpoint_problems()
               + [(("sites", i, "id"), msg) for (i,), msg in _unique((s.id for s in self.sites), "site id")])
        return self

    def _arm_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Unique infusion and administration ids and arm codes; components name an existing
        infusion or administration, once, with a dose and stock its route allows; in a blinded
        protocol every arm has one component per infusion and administration."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        codes = [a.code for a in self.arms]
        infusion_ids = [i.id for i in self.infusions]
        admin_ids = [a.id for a in self.administrations]
        if not infusion_ids and not admin_ids:
            problems.append((("infusions",), "a protocol needs at least one [[infusions]] or [[administrations]] entry"))
        problems += _unique(infusion_ids, "infusion id", ("infusions",))
        problems += _unique(admin_ids, "administration id", ("administrations",))
        problems += [(("administrations", k, "id"), f"{a.id!r} is also an [[infusions]] id; ids are unique across both")
                     for k, a in enumerate(self.administrations) if a.id in infusion_ids]
        problems += [(("arms", i, "code"), msg) for (i,), msg in _unique(codes, "arm code")]
        blinded = self.blinding.masking != "open"
        by_id = {a.id: a for a in self.slots}
        for i, arm in enumerate(self.arms):
            used = Counter(c.slot for c in arm.components)
            for j, comp in enumerate(arm.components):
                here: tuple[str | int, ...] = ("arms", i, "components", j)
                key, ids, table = (("infusion", infusion_ids, "infusions") if comp.infusion is not None
                                   else ("administration", admin_ids, "administrations"))
                if comp.slot not in ids:
                    problems.append(((*here, key), f"{comp.slot!r} is not one of {', '.join(ids) or '(none)'} ({table})"))
                    continue
                if used[comp.slot] > 1:
                    problems.append(((*here, key), f"{comp.slot!r} is used by {used[comp.slot]} components; one per {key}"))
                problems += _route_problems(here, comp, by_id[comp.slot])
            missing_inf = [x for x in infusion_ids if x not in used]
            missing_adm = [x for x in admin_ids if x not in used]
            if blinded and missing_inf and not admin_ids:
                problems.append(
                    (
                        ("arms", i, "components"),
                        f"no component for infusion(s) {', '.join(missing_inf)}; every arm has exactly one per infusion "
                        "(a placebo if needed)",
                    )
                )
            elif blinded and (missing_inf or missing_adm):
                problems.append(
                    (
                        ("arms", i, "components"),
                        f"no component for {', '.join(f'{x} ({by_id[x].describe()})' for x in missing_inf + missing_adm)}; "
                        f"in a {self.blinding.masking.replace('_', '-')} protocol every arm receives every infusion and "
                        "administration, a placebo (matching dummy) where it has no active drug: arms with different routes "
                        "or dosage forms are blinded by double dummy. Add the placebo component(s), or set blinding.masking = 'open'",
                    )
                )
        return problems

    def _design_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Sequences name arms; periods match the arms; blocks hold whole sets of sequences;
        the diary and the AUC windows fit in a period."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        codes = [a.code for a in self.arms]
        design = self.design
        if design.kind == "custom":
            for s, seq in enumerate(design.sequences or ()):
                for p, code in enumerate(seq):
                    if code not in codes:
                        problems.append((("design", "sequences", s, p), f"{code!r} is not one of {', '.join(codes)} (arm codes)"))
        elif design.periods != len(self.arms):
            problems.append(
                (
                    ("design", "periods"),
                    f"{design.periods} != {len(self.arms)} arms; a {design.kind} design gives every arm once (use kind = "
                    f"'custom' otherwise)",
                )
            )

        n_seq = _n_sequences(design, len(self.arms))
        rnd = self.randomisation
        if n_seq and rnd.block_size % n_seq:
            problems.append(
                (
                    ("randomisation", "block_size"),
                    f"{rnd.block_size} is not a multiple of {n_seq}, the number of sequences of the {design.kind} design with "
                    f"{len(self.arms)} arms",
                )
            )
        for k, size in enumerate(rnd.random_block_sizes or ()):
            if n_seq and size % n_seq:
                problems.append(
                    (("randomisation", "random_block_sizes", k), f"{size} is not a multiple of {n_seq}, the number of sequences")
                )

        schedule = design.periods * (design.period_days + (design.washout_days or 0))
        if schedule > MAX_STUDY_DAYS:
            problems.append(
                (("design", "period_days"), f"{design.periods} periods of {design.period_days} days (+ {design.washout_days or 0} "
                 f"washout) last {schedule} days; at most {MAX_STUDY_DAYS} (ten years)")
            )
        for k, adm in enumerate(self.administrations):
            days = getattr(adm, "treatment_days", None)
            if days is not None and days > design.period_days:
                problems.append(
                    (("administrations", k, "treatment_days"), f"{days} is more than design.period_days = {design.period_days}")
                )
        if self.diary.days_per_period > design.period_days:
            problems.append(
                (("diary", "days_per_period"), f"{self.diary.days_per_period} is more than design.period_days = {design.period_days}")
            )
        if self.auc.windows and self.auc.windows[-1] > self.diary.days_per_period:
            problems.append(
                (
                    ("auc", "windows", len(self.auc.windows) - 1),
                    f"{self.auc.windows[-1]} is beyond diary.days_per_period = {self.diary.days_per_period}",
                )
            )
        return problems

    def _endpoint_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Unique visit and endpoint names; endpoints name a diary item and an AUC window; one
        primary endpoint."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        problems += [(("visits", i, "name"), msg) for (i,), msg in _unique((v.name for v in self.visits), "visit name")]

        problems += [(("endpoints", i, "name"), msg) for (i,), msg in _unique((e.name for e in self.endpoints), "endpoint name")]
        for i, ep in enumerate(self.endpoints):
            if ep.value not in self.diary.items:
                problems.append((("endpoints", i, "value"), f"{ep.value!r} is not one of {', '.join(self.diary.items)} (diary.items)"))
            if ep.window_day not in self.auc.windows:
                problems.append(
                    (("endpoints", i, "window_day"), f"{ep.window_day} is not one of {', '.join(map(str, self.auc.windows))} (auc.windows)")
                )
        n_primary = sum(e.kind == "primary" for e in self.endpoints)
        if n_primary != 1:
            problems.append((("endpoints",), f"{n_primary} primary endpoints; exactly one endpoint has kind = 'primary'"))
        return problems


def _route_problems(
    here: tuple[str | int, ...], comp: Component, slot: Infusion | Oral | Patch | Injection | Inhaled
) -> list[tuple[tuple[str | int, ...], str]]:
    """The dose shape and stock of component ``comp`` (at key path ``here``) against its route."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    allowed = DOSES_BY_ROUTE[slot.route]
    what = f"{slot.route.replace('_', ' ')} {slot.id!r} ({slot.describe()})"
    if not isinstance(comp.dose, allowed):
        problems.append(
            ((*here, "dose"), f"{_SHAPE_TEXT[type(comp.dose)]} is not a dose of {what}; allowed: "
                              f"{' or '.join(_SHAPE_TEXT[c] for c in allowed)}")
        )
    if comp.stock is not None and slot.route not in _STOCK_ROUTES:
        problems.append(
            ((*here, "stock"), f"not allowed for {what}: it is dispensed as units, not prepared from stock (the strength "
                               "is in the dose)")
        )
    return problems


def _n_sequences(design: Design, n_arms: int) -> int:
    if design.kind == "custom":
        return len(design.sequences or ())
    if design.kind == "williams":
        return 2 * n_arms if n_arms % 2 else n_arms
    if design.kind == "latin_square":
        return n_arms
    return math.factorial(n_arms)

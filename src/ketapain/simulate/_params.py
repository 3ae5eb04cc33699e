"""The simulator's parameters (``data/ketapain_twin.toml``) and the published reference figures.

:func:`load_parameters` reads the TOML into frozen dataclasses with named, typed fields, one
per section of the file (:class:`DiaryParameters` for ``[diary]``...), checks every value
(an error names the file, the key and what is allowed) and records the file's SHA-256 so that
every simulated trial names the exact parameters it came from. Arms are looked up by code
with :func:`arm_parameters`; :class:`ArmEffect` is an arm's treatment-effect curve.

Tables whose keys are data (arm codes, adverse-event terms, drug classes, Table 3 rows) keep
the order of the file: the simulator draws in that order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ketapain._options import Number
from ketapain.errors import ProtocolError

if TYPE_CHECKING:
    from ketapain.protocol import Protocol

__all__ = [
    "AdverseEventParameters",
    "ArmEffect",
    "BlindingParameters",
    "BySex",
    "ConcomitantParameters",
    "DiaryParameters",
    "FallbackArm",
    "MissingParameters",
    "Parameters",
    "PatientParameters",
    "PreInfusionParameters",
    "QuestionnaireParameters",
    "ScreeningParameters",
    "arm_effects",
    "arm_parameters",
    "load_parameters",
    "load_published",
]

DEFAULT_FILE = "ketapain_twin.toml"
PUBLISHED_FILE = "ketapain_2020_published.json"

_SECTIONS = ("diary", "pre_infusion", "missing", "arms", "default_arm", "placebo_arm", "patients",
             "screening", "adverse_events", "concomitant", "blinding", "questionnaires")
"""The tables of a parameter file, each read into the field of :class:`Parameters` of that name."""

_ANY = Number()
_SD = Number(low=0.0, what="a number (an SD)")
_POSITIVE = Number(low=0.0, low_open=True)
_PROBABILITY = Number(low=0.0, high=1.0, what="a probability")
_OPEN_PROBABILITY = Number(low=0.0, high=1.0, low_open=True, high_open=True, what="a probability")
_LOADING = Number(low=-1.0, high=1.0, what="a loading")
_COUNT = Number(low=0.0)


@dataclass(frozen=True, slots=True)
class ArmEffect:
    """Treatment-effect curve of an arm on diary pain (all items): ``effect_amplitude *
    exp(-day / effect_tau_days)`` points of the protocol's diary scale added on diary day ``day``
    (``[arms.<code>]``; the shipped values are NRS 0..10 points)."""

    effect_amplitude: float
    effect_tau_days: float


@dataclass(frozen=True, slots=True)
class FallbackArm:
    """``[default_arm]`` / ``[placebo_arm]``: an arm the file does not list borrows the tables of
    arm ``like``; effect keys given here override that arm's."""

    like: str
    effect_amplitude: float | None = None
    effect_tau_days: float | None = None


@dataclass(frozen=True, slots=True)
class BySex:
    """A value for men (``M``) and for women (``F``)."""

    M: float
    F: float


@dataclass(frozen=True, slots=True)
class DiaryParameters:
    """``[diary]``: latent average pain ``mean_late + b_i + c_ip + early(d) + arm(d) +
    period_effect_p + AR(1)_ipd`` and the offsets of maximal and night pain (docs/simulate.md)."""

    mean_late: float
    early_excess: float
    early_tau_days: float
    patient_sd: float
    patient_period_sd: float
    ar_sd: float
    ar_phi: float
    period_effects: tuple[float, ...]
    early_patient_sd: float
    max_offset_mean: float
    max_offset_patient_sd: float
    max_noise_sd: float
    night_offset_mean: float
    night_offset_patient_sd: float
    night_noise_sd: float
    extra_analgesics_rate: float
    extra_analgesics_slope: float


@dataclass(frozen=True, slots=True)
class PreInfusionParameters:
    """``[pre_infusion]``: pain before an infusion, ``mean + patient_loading * b_i + c_ip + N(0, sd)``."""

    mean: float
    patient_loading: float
    sd: float


@dataclass(frozen=True, slots=True)
class MissingParameters:
    """``[missing]``: missing diary days (MCAR rate; the MAR / MNAR dropout hazard)."""

    mcar_rate: float
    base_hazard: float
    slope: float
    reference_pain: float


@dataclass(frozen=True, slots=True)
class PatientParameters:
    """``[patients]``: Table 1 by sex; ``pain_type`` maps ``M``/``F`` to the probabilities of
    the five pain types."""

    female_fraction: float
    age_mean: BySex
    age_sd: BySex
    weight_mean: BySex
    weight_sd: BySex
    height_mean: BySex
    height_sd: BySex
    dn4_mean: BySex
    dn4_sd: BySex
    duration_median: BySex
    duration_log_sd: BySex
    pain_type: Mapping[str, tuple[float, ...]]


@dataclass(frozen=True, slots=True)
class ScreeningParameters:
    """``[screening]``: screened persons per randomised patient who refuse or are not eligible."""

    refused_per_randomised: float
    not_eligible_per_randomised: float


@dataclass(frozen=True, slots=True)
class AdverseEventParameters:
    """``[adverse_events]``: ``terms_pct`` maps an arm to term -> % of patients."""

    prone: float
    related: Mapping[str, float]
    severity: Mapping[str, float]
    related_causality: Mapping[str, float]
    unrelated_causality: Mapping[str, float]
    terms_pct: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class ConcomitantParameters:
    """``[concomitant]``: baseline drug classes (n of 10 by sex), added per arm (n of 20)."""

    baseline_n_of_10: Mapping[str, BySex]
    added_n_of_20: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class BlindingParameters:
    """``[blinding]``: end-of-study guesses ("don't know", else right with ``correct``)."""

    dont_know: float
    correct: float


@dataclass(frozen=True, slots=True)
class QuestionnaireParameters:
    """``[questionnaires]``: ``targets`` maps a Table 3 row to column -> (mean, sd)."""

    patient_correlation: float
    pain_loading: Mapping[str, float]
    general_loading: Mapping[str, float]
    targets: Mapping[str, Mapping[str, tuple[float, float]]]


@dataclass(frozen=True, slots=True)
class Parameters:
    """Simulator parameters: one typed section per table of the file, the parsed file
    (``values``), where it came from (``source``) and its SHA-256."""

    diary: DiaryParameters
    pre_infusion: PreInfusionParameters
    missing: MissingParameters
    arms: Mapping[str, ArmEffect]
    default_arm: FallbackArm
    placebo_arm: FallbackArm
    patients: PatientParameters
    screening: ScreeningParameters
    adverse_events: AdverseEventParameters
    concomitant: ConcomitantParameters
    blinding: BlindingParameters
    questionnaires: QuestionnaireParameters
    values: Mapping[str, Any]
    source: str
    sha256: str


# --------------------------------------------------------------------------- checked reading

_T = TypeVar("_T")


class _Table:
    """One TOML table of the file: typed, checked reads; errors name file, table, key, rule."""

    def __init__(self, source: str, where: str, values: object) -> None:
        self.source, self.where = source, where
        if not isinstance(values, Mapping):
            raise self._error(f"[{where}] must be a table, got {values!r}")
        self.values: Mapping[str, Any] = values

    def _error(self, text: str) -> ProtocolError:
        return ProtocolError(f"{self.source}: {text}")

    @property
    def at(self) -> str:
        """``[table] `` in messages (nothing for the top level of the file)."""
        return f"[{self.where}] " if self.where else ""

    def get(self, key: str) -> Any:
        if key not in self.values:
            raise self._error(f"{self.at}has no {key}")
        return self.values[key]

    def number(self, key: str, rule: Number = _ANY) -> float:
        value = self.get(key)
        if not rule.accepts(value):
            raise self._error(f"{self.at}{key}={value!r} {rule.describe()}")
        return float(value)

    def numbers(self, key: str, rule: Number = _ANY, *, length: int | None = None) -> tuple[float, ...]:
        value = self.get(key)
        if not isinstance(value, list) or (length is not None and len(value) != length):
            size = f"{length} numbers" if length is not None else "numbers"
            raise self._error(f"{self.at}{key}={value!r} must be a list of {size}")
        for v in value:
            if not rule.accepts(v):
                raise self._error(f"{self.at}{key}: {v!r} {rule.describe()}")
        return tuple(float(v) for v in value)

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value:
            raise self._error(f"{self.at}{key}={value!r} must be a non-empty text")
        return value

    def table(self, key: str) -> _Table:
        return _Table(self.source, f"{self.where}.{key}" if self.where else key, self.get(key))

    def by_sex(self, key: str, rule: Number = _ANY) -> BySex:
        t = self.table(key)
        t.only(("M", "F"))
        return BySex(M=t.number("M", rule), F=t.number("F", rule))

    def each(self, read: Callable[[_Table, str], _T]) -> dict[str, _T]:
        """``{key: read(self, key)}`` over every key, in the file's order."""
        return {str(k): read(self, str(k)) for k in self.values}

    def only(self, allowed: tuple[str, ...]) -> None:
        unknown = [str(k) for k in self.values if k not in allowed]
        if unknown:
            raise self._error(f"{self.at}unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")


def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _numbers_of(cls: type[_T], t: _Table, rules: Mapping[str, Number]) -> _T:
    """A dataclass whose fields are all numbers, each checked by ``rules`` (default: finite)."""
    names = _fields(cls)
    t.only(names)
    return cls(**{name: t.number(name, rules.get(name, _ANY)) for name in names})


def _diary(t: _Table) -> DiaryParameters:
    names = _fields(DiaryParameters)
    t.only(names)
    rules = {"early_tau_days": _POSITIVE, "ar_phi": Number(low=-1.0, high=1.0, low_open=True, high_open=True),
             "extra_analgesics_rate": _OPEN_PROBABILITY}
    rules |= {name: _SD for name in names if name.endswith("_sd")}
    values: dict[str, Any] = {name: t.number(name, rules.get(name, _ANY)) for name in names if name != "period_effects"}
    return DiaryParameters(**values, period_effects=t.numbers("period_effects"))


def _arm(t: _Table, code: str) -> ArmEffect:
    arm = t.table(code)
    return _numbers_of(ArmEffect, arm, {"effect_tau_days": _POSITIVE})


def _fallback(t: _Table) -> FallbackArm:
    t.only(_fields(FallbackArm))
    amp = t.number("effect_amplitude") if "effect_amplitude" in t.values else None
    tau = t.number("effect_tau_days", _POSITIVE) if "effect_tau_days" in t.values else None
    return FallbackArm(like=t.text("like"), effect_amplitude=amp, effect_tau_days=tau)


def _patients(t: _Table) -> PatientParameters:
    names = _fields(PatientParameters)
    t.only(names)
    positive = {"weight_mean", "duration_median"}
    by_sex = {name: t.by_sex(name, _SD if name.endswith("_sd") else _POSITIVE if name in positive else _ANY)
              for name in names if name not in ("female_fraction", "pain_type")}
    types = t.table("pain_type")
    types.only(("M", "F"))
    pain_type = {sex: types.numbers(sex, _COUNT, length=5) for sex in ("M", "F")}
    return PatientParameters(female_fraction=t.number("female_fraction", _PROBABILITY), pain_type=pain_type, **by_sex)


def _adverse_events(t: _Table) -> AdverseEventParameters:
    t.only(_fields(AdverseEventParameters))
    share = Number(low=0.0, high=1.0, low_open=True, what="a probability")
    pct = Number(low=0.0, high=100.0, what="a percentage")

    def weights(key: str) -> dict[str, float]:
        return t.table(key).each(lambda s, k: s.number(k, _COUNT))

    return AdverseEventParameters(
        prone=t.number("prone", share),
        related=t.table("related").each(lambda s, k: s.number(k, _PROBABILITY)),
        severity=weights("severity"), related_causality=weights("related_causality"),
        unrelated_causality=weights("unrelated_causality"),
        terms_pct=t.table("terms_pct").each(lambda s, arm: s.table(arm).each(lambda a, k: a.number(k, pct))))


def _concomitant(t: _Table) -> ConcomitantParameters:
    t.only(_fields(ConcomitantParameters))
    of_10, of_20 = Number(low=0.0, high=10.0), Number(low=0.0, high=20.0)
    return ConcomitantParameters(
        baseline_n_of_10=t.table("baseline_n_of_10").each(lambda s, k: s.by_sex(k, of_10)),
        added_n_of_20=t.table("added_n_of_20").each(lambda s, arm: s.table(arm).each(lambda a, k: a.number(k, of_20))))


def _questionnaires(t: _Table) -> QuestionnaireParameters:
    t.only(_fields(QuestionnaireParameters))

    def target(row: _Table, column: str) -> tuple[float, float]:
        mean, sd = row.numbers(column, length=2)
        if not _SD.accepts(sd):
            raise row._error(f"{row.at}{column}: sd={sd!r} {_SD.describe()}")
        return mean, sd

    return QuestionnaireParameters(
        patient_correlation=t.number("patient_correlation", _PROBABILITY),
        pain_loading=t.table("pain_loading").each(lambda s, k: s.number(k, _LOADING)),
        general_loading=t.table("general_loading").each(lambda s, k: s.number(k, _LOADING)),
        targets=t.table("targets").each(lambda s, row: s.table(row).each(target)))


def _typed(values: Mapping[str, Any], source: str, sha256: str) -> Parameters:
    """Read and check every section of a parsed parameter file."""
    top = _Table(source, "", values)
    missing = [k for k in _SECTIONS if k not in values]
    if missing:
        raise ProtocolError(f"{source}: missing section(s) {', '.join(missing)}; required: {', '.join(_SECTIONS)}")
    top.only(_SECTIONS)
    return Parameters(
        diary=_diary(top.table("diary")),
        pre_infusion=_numbers_of(PreInfusionParameters, top.table("pre_infusion"), {"sd": _SD}),
        missing=_numbers_of(MissingParameters, top.table("missing"),
                            {"mcar_rate": _PROBABILITY, "base_hazard": _OPEN_PROBABILITY}),
        arms=top.table("arms").each(_arm),
        default_arm=_fallback(top.table("default_arm")),
        placebo_arm=_fallback(top.table("placebo_arm")),
        patients=_patients(top.table("patients")),
        screening=_numbers_of(ScreeningParameters, top.table("screening"),
                              dict.fromkeys(_fields(ScreeningParameters), _COUNT)),
        adverse_events=_adverse_events(top.table("adverse_events")),
        concomitant=_concomitant(top.table("concomitant")),
        blinding=_numbers_of(BlindingParameters, top.table("blinding"),
                             dict.fromkeys(_fields(BlindingParameters), _PROBABILITY)),
        questionnaires=_questionnaires(top.table("questionnaires")),
        values=values, source=source, sha256=sha256)


# --------------------------------------------------------------------------- public API


def _read_bytes(path: str | PathLike[str] | None) -> tuple[bytes, str]:
    if path is None:
        ref = resources.files("ketapain.simulate").joinpath("data").joinpath(DEFAULT_FILE)
        return ref.read_bytes(), f"ketapain.simulate/data/{DEFAULT_FILE}"
    p = Path(path)
    try:
        return p.read_bytes(), str(p)
    except OSError as exc:
        raise ProtocolError(f"{p}: cannot read the simulator parameter file ({exc.strerror})") from None


def load_parameters(parameters: Parameters | str | PathLike[str] | Mapping[str, Any] | None = None) -> Parameters:
    """Load and check simulator parameters.

    Parameters
    ----------
    parameters : Parameters, path, mapping or None
        None reads the shipped ``ketapain_twin.toml``; a path reads that TOML file; a mapping
        is used as the parsed file (its SHA-256 is that of its canonical JSON); a
        :class:`Parameters` is returned unchanged.

    Returns
    -------
    Parameters

    Raises
    ------
    ProtocolError
        The file cannot be read or is not valid TOML; a section or key is missing or unknown;
        a value is not allowed (the message names the file, the key and the rule, e.g.
        ``[diary] ar_phi=1.5 must be a number in (-1, 1)``).

    Examples
    --------
    >>> p = load_parameters()
    >>> p.source, len(p.sha256), p.diary.ar_phi, p.arms["K"]
    ('ketapain.simulate/data/ketapain_twin.toml', 64, 0.6, ArmEffect(effect_amplitude=-1.1, effect_tau_days=4.0))
    """
    if isinstance(parameters, Parameters):
        return parameters
    if isinstance(parameters, Mapping):
        values = dict(parameters)
        raw = json.dumps(values, sort_keys=True, default=str).encode()
        source = "<mapping>"
    else:
        raw, source = _read_bytes(parameters)
        try:
            values = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"{source}: not a valid TOML parameter file ({exc})") from None
    return _typed(values, source, hashlib.sha256(raw).hexdigest())


def load_published() -> dict[str, Any]:
    """The published KETAPAIN figures (Pickering et al. 2020), as shipped with the package.

    Examples
    --------
    >>> load_published()["table2_auc"]["average_pain"]["day35"]["P"]
    [187, 90]
    """
    ref = resources.files("ketapain.simulate").joinpath("data").joinpath(PUBLISHED_FILE)
    return json.loads(ref.read_text(encoding="utf-8"))


def arm_parameters(params: Parameters, code: str, *, placebo: bool) -> tuple[ArmEffect, str]:
    """Effect curve of arm ``code`` and the code of the arm whose tables it borrows.

    An arm listed under ``[arms.<code>]`` uses its own entry. Any other arm uses
    ``[placebo_arm]`` when the protocol marks it placebo, else ``[default_arm]``; both name
    (``like``) a listed arm whose per-arm tables (questionnaire columns, adverse events,
    added analgesics) and effect curve it borrows, with the effect keys they give overriding.

    Raises
    ------
    ProtocolError
        The fallback names an arm that the file does not list.

    Examples
    --------
    >>> p = load_parameters()
    >>> arm_parameters(p, "K", placebo=False)[1], arm_parameters(p, "L", placebo=False)
    ('K', (ArmEffect(effect_amplitude=-1.1, effect_tau_days=4.0), 'K'))
    """
    if code in params.arms:
        return params.arms[code], code
    section = "placebo_arm" if placebo else "default_arm"
    fallback: FallbackArm = getattr(params, section)
    like = fallback.like
    if like not in params.arms:
        raise ProtocolError(
            f"{params.source}: arm {code!r} is not under [arms] and [{section}].like={like!r} names no "
            f"listed arm (listed: {', '.join(params.arms)})"
        )
    base = params.arms[like]
    return ArmEffect(
        effect_amplitude=base.effect_amplitude if fallback.effect_amplitude is None else fallback.effect_amplitude,
        effect_tau_days=base.effect_tau_days if fallback.effect_tau_days is None else fallback.effect_tau_days,
    ), like


def arm_effects(protocol: Protocol, parameters: Parameters) -> dict[str, ArmEffect]:
    """Effect curve of every arm of ``protocol`` (in the protocol's order), by :func:`arm_parameters`.

    Parameters
    ----------
    protocol : Protocol
    parameters : Parameters

    Returns
    -------
    dict of str to ArmEffect
        Arm code -> its curve; ``list(result.values())`` is the ``arms`` argument of
        :func:`ketapain.simulate.simulate_diary` for treatment indices in the protocol's order.

    Raises
    ------
    ProtocolError
        An arm the file does not list, whose fallback names no listed arm.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> arm_effects(load_protocol("ab_ba_example"), load_parameters())["L"]
    ArmEffect(effect_amplitude=-1.1, effect_tau_days=4.0)
    """
    return {code: arm_parameters(parameters, code, placebo=protocol.arm(code).is_placebo)[0]
            for code in protocol.arm_codes}

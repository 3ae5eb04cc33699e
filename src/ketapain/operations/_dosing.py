"""Infusion preparation: from the weight and the kit's arm to every bag, its volumes and rate.

Formulas (one bag per ``[[infusions]]`` entry; ``V`` its final volume, ``T`` its duration):

* dose, mg: per kg ``min(weight_kg * mg_per_kg, max_mg)``; fixed ``mg``; placebo 0;
* draw_ml = dose_mg / stock strength (mg/ml), the drug volume drawn from the vials;
* units = ceil(draw_ml / unit_volume_ml), vials or ampoules to open (when the stock gives a
  unit volume);
* diluent_ml = V - draw_ml, saline added so the bag reaches V;
* rate_ml_per_h = V * 60 / T; dose_rate_mg_per_min = dose_mg / T.

A placebo component is the infusion's diluent alone: ``V`` ml of it, dose 0, the same final
volume, duration and rate as the active bag, so every bag looks the same.

Other routes (``[[administrations]]``, docs/protocol.md):

* an injection is prepared like a bag without a pump: the same dose, draw and units, diluent
  to the injection's ``volume_ml`` (:class:`PreparedInjection`);
* an oral, patch or inhaled administration has nothing to prepare and nothing weight-based:
  the sheet says so and gives the units to dispense per period (:class:`Dispensing`), from
  the administration's regimen (e.g. capsules ``units_per_dose x doses_per_day x
  treatment_days + spare_units``). A placebo is the matching dummy, the same count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from ketapain.errors import DataError, ProtocolError, parameter
from ketapain.protocol import (
    ActuationDose,
    Component,
    FixedDose,
    Infusion,
    Inhaled,
    Injection,
    Oral,
    Patch,
    PatchDose,
    PerKgDose,
    Protocol,
    UnitDose,
)

__all__ = [
    "Dispensing",
    "InfusionPlan",
    "MAX_RATE_ML_PER_H",
    "MIN_RATE_ML_PER_H",
    "PreparedBag",
    "PreparedInjection",
    "parse_strength",
    "prepare_infusions",
]

MIN_RATE_ML_PER_H = 0.1
"""Lowest pump rate accepted, ml/h (a volumetric or syringe pump's usual lower limit)."""
MAX_RATE_ML_PER_H = 999.0
"""Highest pump rate accepted, ml/h (a volumetric pump's usual upper limit)."""

_STRENGTH = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(mg|g)\s*/\s*(\d+(?:\.\d*)?|\.\d+)?\s*ml\s*$", re.IGNORECASE)
_EPS = 1e-9


def parse_strength(text: str) -> float:
    """Parse a vial or ampoule strength such as ``"50mg/ml"`` into mg/ml.

    Accepts ``<amount> mg|g / [<volume>] ml``, spaces and case free.

    Raises
    ------
    DataError
        Anything else, or a strength that is not > 0.

    Examples
    --------
    >>> parse_strength("50mg/ml"), parse_strength("10 mg/ml"), parse_strength("1.5 g/10 ml")
    (50.0, 10.0, 150.0)
    """
    match = _STRENGTH.match(text) if isinstance(text, str) else None
    if match is None:
        raise DataError(f"vial strength {text!r} is not understood; write it like '50mg/ml', '10 mg/ml' or '1.5 g/10 ml'")
    amount, unit, volume = match.groups()
    mg = float(amount) * (1000.0 if unit.lower() == "g" else 1.0)
    ml = float(volume) if volume is not None else 1.0
    if mg <= 0 or ml <= 0:
        raise DataError(f"vial strength {text!r} is not > 0 mg/ml")
    return mg / ml


@dataclass(frozen=True, slots=True)
class PreparedBag:
    """One bag (or syringe) to prepare: what goes in it and how it runs.

    Attributes
    ----------
    infusion
        The bag id (the protocol's ``[[infusions]]`` id), e.g. ``"bag_45ml"``.
    drug
        What the bag contains: the drug, or the diluent (``"NaCl 0.9%"``) for a placebo.
    matches
        The drug this bag stands for (the drug itself, or the drug a placebo matches).
    placebo
        True when the bag is the diluent alone.
    dose_mg
        Drug in the bag, mg (0 for a placebo).
    capped
        True when a per-kg dose was capped at ``max_mg``.
    stock_mg_per_ml
        Stock strength used, mg/ml (None for a placebo).
    draw_ml
        Drug volume drawn from stock, ml (0 for a placebo).
    units
        Vials or ampoules to open: ``ceil(draw_ml / unit_volume_ml)``. None for a placebo,
        when the stock has no unit volume, or when the strength was overridden at dose time
        (the protocol's unit volume may not apply to other vials).
    diluent
        The diluent's name.
    diluent_ml
        Diluent added so the bag reaches its final volume, ml.
    final_volume_ml, duration_min, rate_ml_per_h
        The bag's final volume, infusion duration and pump rate (``V * 60 / T``).
    dose_rate_mg_per_min
        ``dose_mg / duration_min`` (0 for a placebo).
    """

    infusion: str
    drug: str
    matches: str
    placebo: bool
    dose_mg: float
    capped: bool
    stock_mg_per_ml: float | None
    draw_ml: float
    units: int | None
    diluent: str
    diluent_ml: float
    final_volume_ml: float
    duration_min: float
    rate_ml_per_h: float
    dose_rate_mg_per_min: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the attributes."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class PreparedInjection:
    """One syringe to prepare for an injection administration (no pump: no duration or rate).

    Attributes as in :class:`PreparedBag`; ``administration`` is the ``[[administrations]]``
    id, ``site`` subcutaneous or intramuscular, ``volume_ml`` the volume injected (the same in
    every arm: ``draw_ml + diluent_ml``).
    """

    administration: str
    site: str
    drug: str
    matches: str
    placebo: bool
    dose_mg: float
    capped: bool
    stock_mg_per_ml: float | None
    draw_ml: float
    units: int | None
    diluent: str
    diluent_ml: float
    volume_ml: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the attributes."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Dispensing:
    """Units to dispense for one period of an oral, patch or inhaled administration: nothing to
    prepare, nothing weight-based.

    Attributes
    ----------
    administration
        The ``[[administrations]]`` id, e.g. ``"capsules"``.
    route
        ``oral``, ``transdermal_patch`` or ``inhaled``.
    regimen
        The administration's regimen in words, e.g. ``"oral capsule, 2 x twice daily for 28 days"``.
    unit
        What is counted: ``capsule``, ``tablet``, ``patch`` or ``inhaler``.
    units
        Units to dispense per period, spares included.
    spare_units
        Of which spares (the protocol's ``spare_units``).
    drug, matches, placebo
        As in :class:`PreparedBag`; a placebo is the matching dummy (same form, no drug).
    strength, strength_unit
        The active strength: mg per capsule or tablet, mcg/h of a patch, mcg per actuation
        (None for a placebo).
    """

    administration: str
    route: str
    regimen: str
    unit: str
    units: int
    spare_units: int
    drug: str
    matches: str
    placebo: bool
    strength: float | None
    strength_unit: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the attributes."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def headline(self) -> str:
        """What is dispensed, e.g. ``'120 capsules (oral capsule, 2 x twice daily for 28 days)'``."""
        return f"{self.units} {_units(self.unit, self.units)} ({self.regimen})"


def _units(unit: str, n: int) -> str:
    if n == 1:
        return unit
    return unit + ("es" if unit.endswith("ch") else "s")


@dataclass(frozen=True, slots=True)
class InfusionPlan:
    """Everything to prepare or dispense for one patient's period in one arm: the bags of its
    infusions, the syringes of its injections and the units of its other administrations.

    UNBLINDED: ``arm``, ``drug`` and doses reveal the treatment. Only
    :meth:`blinded_label` may reach the administering nurse.
    """

    protocol_id: str
    arm: str
    arm_name: str
    weight_kg: float | None
    bags: tuple[PreparedBag, ...]
    injections: tuple[PreparedInjection, ...] = ()
    dispensing: tuple[Dispensing, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: protocol, arm, weight and ``components`` (one dict per bag); plus
        ``injections`` and ``dispensing`` when the arm has any."""
        out: dict[str, Any] = {
            "protocol": self.protocol_id,
            "arm": self.arm,
            "arm_name": self.arm_name,
            "weight_kg": self.weight_kg,
            "components": [b.to_dict() for b in self.bags],
        }
        if self.injections:
            out["injections"] = [i.to_dict() for i in self.injections]
        if self.dispensing:
            out["dispensing"] = [d.to_dict() for d in self.dispensing]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per bag, the columns of :class:`PreparedBag` (missing = NaN/None); injections
        and dispensed units are in :meth:`to_dict`."""
        return pd.DataFrame([b.to_dict() for b in self.bags])

    def summary(self) -> str:
        """The preparation sheet without kit, patient or period."""
        return self.preparation_sheet()

    def preparation_sheet(self, *, kit_code: str | None = None, patient_id: str | None = None, period: int | None = None) -> str:
        """Printable preparation sheet for the UNBLINDED preparing nurse.

        Names the arm, every drug, dose, stock, volume to draw, ampoules, diluent, final
        volume, duration and pump rate; volumes to 0.01 ml, doses to 0.1 mg.
        """
        lines = [
            "PREPARATION SHEET — UNBLINDED: for the preparing nurse only; do not show to the patient or the administering nurse",
            f"study: {self.protocol_id}",
        ]
        lines += _identity(kit_code, patient_id, period)
        lines.append(f"arm: {self.arm} ({self.arm_name})")
        if self.weight_kg is not None:
            lines.append(f"weight: {self.weight_kg:g} kg")
        lines.append("")
        if not self.bags and not self.injections and self.dispensing:
            routes = " and ".join(dict.fromkeys(d.route.replace("_", " ") for d in self.dispensing))
            lines += [f"arm {self.arm!r} is {routes}: no infusion preparation; dispense "
                      + " and ".join(d.headline() for d in self.dispensing) + " per period", ""]
        for b in self.bags:
            lines.append(f"[{b.infusion}]")
            if b.placebo:
                lines.append(f"  placebo for {b.matches}: {b.diluent} only, no drug")
            else:
                cap = " (capped at the protocol's max_mg)" if b.capped else ""
                lines.append(f"  {b.drug}: {b.dose_mg:.1f} mg{cap}")
                units = f" ({b.units} vial(s)/ampoule(s))" if b.units is not None else ""
                lines.append(f"  draw {b.draw_ml:.2f} ml of {b.stock_mg_per_ml:g} mg/ml{units}")
            lines.append(f"  add {b.diluent_ml:.2f} ml {b.diluent} -> final volume {b.final_volume_ml:g} ml")
            rate = f"  infuse over {b.duration_min:g} min at {b.rate_ml_per_h:.1f} ml/h"
            if not b.placebo:
                rate += f" ({b.dose_rate_mg_per_min:.3g} mg/min)"
            lines.append(rate)
        for inj in self.injections:
            lines.append(f"[{inj.administration}] {inj.site} injection, {inj.volume_ml:g} ml")
            if inj.placebo:
                lines.append(f"  placebo for {inj.matches}: {inj.diluent} only, no drug")
            else:
                cap = " (capped at the protocol's max_mg)" if inj.capped else ""
                lines.append(f"  {inj.drug}: {inj.dose_mg:.1f} mg{cap}")
                units = f" ({inj.units} vial(s)/ampoule(s))" if inj.units is not None else ""
                lines.append(f"  draw {inj.draw_ml:.2f} ml of {inj.stock_mg_per_ml:g} mg/ml{units}")
            lines.append(f"  add {inj.diluent_ml:.2f} ml {inj.diluent} -> {inj.volume_ml:g} ml in the syringe")
        for d in self.dispensing:
            lines.append(f"[{d.administration}] {d.regimen}: nothing to prepare")
            if d.placebo:
                lines.append(f"  placebo for {d.matches}: matching {d.unit} without drug")
            else:
                lines.append(f"  {d.drug}: {d.strength:g} {d.strength_unit}")
            spare = f" (of which {d.spare_units} spare)" if d.spare_units else ""
            lines.append(f"  dispense {d.units} {_units(d.unit, d.units)}{spare}")
        what = ("bag, syringe and pack" if self.dispensing and (self.bags or self.injections)
                else "pack" if self.dispensing else "bag")
        lines += ["", f"Label every {what} with the blinded label; hide it before it leaves the preparation room."]
        return "\n".join(lines)

    def blinded_label(self, *, kit_code: str | None = None, patient_id: str | None = None, period: int | None = None) -> str:
        """Blinded bag labels for the administering nurse: one block per bag.

        Kit code, patient, period, bag id, final volume, duration and pump rate; never the
        drug, dose or arm. The text is identical for every arm of a protocol (same inputs).
        """
        head = _identity(kit_code, patient_id, period)
        blocks = []
        for b in self.bags:
            blocks.append(
                "\n".join(
                    [
                        f"BLINDED STUDY INFUSION — {self.protocol_id}",
                        *head,
                        f"bag: {b.infusion}",
                        f"final volume: {b.final_volume_ml:g} ml",
                        f"duration: {b.duration_min:g} min",
                        f"pump rate: {b.rate_ml_per_h:.1f} ml/h",
                    ]
                )
            )
        for inj in self.injections:
            blocks.append("\n".join([f"BLINDED STUDY INJECTION — {self.protocol_id}", *head, f"syringe: {inj.administration}",
                                     f"volume: {inj.volume_ml:g} ml", f"site: {inj.site}"]))
        for d in self.dispensing:
            blocks.append("\n".join([f"BLINDED STUDY MEDICATION — {self.protocol_id}", *head, f"pack: {d.administration}",
                                     f"contents: {d.units} {_units(d.unit, d.units)}", f"regimen: {d.regimen}"]))
        return "\n\n".join(blocks)


def _identity(kit_code: str | None, patient_id: str | None, period: int | None) -> list[str]:
    lines = []
    if kit_code is not None:
        lines.append(f"kit: {kit_code}")
    if patient_id is not None:
        lines.append(f"patient: {patient_id}")
    if period is not None:
        lines.append(f"period: {period}")
    return lines


def _finite_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise DataError(f"{name}={value!r} is not a finite number > 0")
    return float(value)


def _strength(component: Component, overrides: Mapping[str, float]) -> float:
    key = component.drug.casefold()
    if key in overrides:
        return _finite_positive(f"stock strength of {component.drug} (mg/ml)", overrides[key])
    if component.stock is None:
        raise ProtocolError(
            template="{drug} in {infusion} has no stock strength in the protocol; give one at dose time ({@stock_overrides})",
            params={"drug": component.drug, "infusion": component.slot},
        )
    return component.stock.strength_mg_per_ml


def prepare_infusions(
    protocol: Protocol,
    arm_code: str,
    weight_kg: float | None,
    *,
    stock_overrides: Mapping[str, float] | None = None,
) -> InfusionPlan:
    """Compute every bag of one arm for one patient: dose, volume to draw, diluent, pump rate;
    and, for the arm's other administrations, the injection syringe or the units to dispense.

    Parameters
    ----------
    protocol
        The study protocol (infusions, administrations, arms, weights).
    arm_code
        The arm of the kit, e.g. ``"KM"``.
    weight_kg
        The patient's weight, kg; must lie in the protocol's ``[weights]`` range. May be None
        only when no arm of the protocol has a per-kg dose (:attr:`Protocol.needs_weight`),
        e.g. an oral trial.
    stock_overrides
        Stock strength in mg/ml by drug name (case-insensitive), replacing the protocol's
        default, e.g. ``{"ketamine": 10}`` for 10 mg/ml vials.

    Returns
    -------
    InfusionPlan
        One :class:`PreparedBag` per infusion, one :class:`PreparedInjection` per injection and
        one :class:`Dispensing` per oral, patch or inhaled administration the arm receives, in
        protocol order.

    Raises
    ------
    ProtocolError
        Unknown arm; an active component without stock strength (and no override); a pump
        rate outside ``MIN_RATE_ML_PER_H..MAX_RATE_ML_PER_H``.
    DataError
        Weight missing while the protocol has per-kg doses, not a number, or outside the
        protocol's weights range; a stock override that
        is not > 0 or names a drug the arm does not contain; a draw volume larger than the
        bag's final volume (choose a stronger vial).

    Notes
    -----
    dose_mg = min(weight_kg * mg_per_kg, max_mg) for a per-kg dose (``max_mg`` is a cap, see
    docs/protocol.md; ``capped`` says when it applied), ``mg`` for a fixed dose, 0 for a
    placebo. draw_ml = dose_mg / strength; diluent_ml = final_volume_ml - draw_ml;
    rate_ml_per_h = final_volume_ml * 60 / duration_min.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> plan = prepare_infusions(load_protocol("ketapain"), "KM", 78)
    >>> [(b.drug, b.dose_mg, round(b.draw_ml, 2), round(b.diluent_ml, 2), b.rate_ml_per_h, b.units) for b in plan.bags]
    [('ketamine', 39.0, 0.78, 44.22, 22.5, None), ('magnesium sulfate', 3000.0, 20.0, 230.0, 500.0, 2)]
    """
    arm = protocol.arm(arm_code)
    weights = protocol.weights
    weight: float | None = None
    if weight_kg is None:
        if protocol.needs_weight:
            raise DataError(template="{@weight_kg} is required: the protocol has weight-based (per kg) doses")
    elif isinstance(weight_kg, bool) or not isinstance(weight_kg, int | float) or not math.isfinite(weight_kg):
        raise DataError(template="{@weight_kg=} is not a finite number", params={"weight_kg": weight_kg})
    else:
        weight = float(weight_kg)
        if not weights.min_kg <= weight <= weights.max_kg:
            raise DataError(
                template=parameter("weight_kg", f"{weight:g}") + " is outside the protocol's weights range {low}..{high} kg",
                params={"low": f"{weights.min_kg:g}", "high": f"{weights.max_kg:g}"},
            )
    overrides = {str(k).casefold(): v for k, v in (stock_overrides or {}).items()}
    stocked = {x.id for x in protocol.slots if isinstance(x, Infusion | Injection)}
    all_drugs = {c.drug.casefold() for a in protocol.arms for c in a.components if not c.is_placebo and c.slot in stocked}
    unknown = sorted(set(overrides) - all_drugs)
    if unknown:
        raise DataError(
            template="{@stock_overrides}: {unknown} is not a drug of the protocol prepared from stock; drugs: {drugs}",
            params={"unknown": ", ".join(map(repr, unknown)), "drugs": ", ".join(sorted(all_drugs))},
        )
    bags: list[PreparedBag] = []
    injections: list[PreparedInjection] = []
    dispensing: list[Dispensing] = []
    for slot in protocol.slots:
        if not arm.has_component(slot.id):  # an open protocol's arm without this administration
            continue
        comp = arm.component(slot.id)
        if isinstance(slot, Infusion):
            bags.append(_bag(slot, comp, weight, overrides))
        elif isinstance(slot, Injection):
            injections.append(_injection(slot, comp, weight, overrides))
        else:
            dispensing.append(_dispensing(slot, comp))
    return InfusionPlan(protocol_id=protocol.study.id, arm=arm.code, arm_name=arm.name, weight_kg=weight, bags=tuple(bags),
                        injections=tuple(injections), dispensing=tuple(dispensing))


def _dose_mg(comp: Component, weight: float | None, where: str) -> tuple[float, bool]:
    """The dose of an active infusion or injection component, mg, and whether ``max_mg`` capped it."""
    dose = comp.dose
    if isinstance(dose, PerKgDose):
        if weight is None:  # pragma: no cover - prepare_infusions asks for the weight (Protocol.needs_weight)
            raise DataError(f"{comp.drug} in {where}: a per-kg dose needs the weight")
        dose_mg = weight * dose.mg_per_kg
        if dose.max_mg is not None and dose_mg > dose.max_mg:
            return dose.max_mg, True
        return dose_mg, False
    if isinstance(dose, FixedDose):
        return dose.mg, False
    raise ProtocolError(f"{comp.drug} in {where}: unknown dose {dose!r}")  # pragma: no cover - the protocol checks routes


def _draw(comp: Component, dose_mg: float, volume: float, where: str, overrides: Mapping[str, float]) -> tuple[float, float, int | None]:
    """Stock strength, volume to draw (at most ``volume``) and units to open for ``dose_mg``."""
    strength = _strength(comp, overrides)
    draw = dose_mg / strength
    if draw > volume + _EPS:
        raise DataError(
            f"{comp.drug}: {dose_mg:g} mg at {strength:g} mg/ml is {draw:.2f} ml to draw, more than the final "
            f"volume of {where} ({volume:g} ml); use a stronger vial"
        )
    draw = min(draw, volume)
    units = None
    if comp.stock is not None and comp.stock.unit_volume_ml is not None and comp.drug.casefold() not in overrides:
        units = math.ceil(draw / comp.stock.unit_volume_ml - _EPS)
    return strength, draw, units


def _injection(slot: Injection, comp: Component, weight: float | None, overrides: Mapping[str, float]) -> PreparedInjection:
    """One syringe of :func:`prepare_infusions`: the bag's formulas with ``volume_ml`` for ``V``."""
    volume = slot.volume_ml
    if comp.is_placebo:
        return PreparedInjection(administration=slot.id, site=slot.site, drug=slot.diluent, matches=comp.drug, placebo=True,
                                 dose_mg=0.0, capped=False, stock_mg_per_ml=None, draw_ml=0.0, units=None, diluent=slot.diluent,
                                 diluent_ml=volume, volume_ml=volume)
    dose_mg, capped = _dose_mg(comp, weight, slot.id)
    strength, draw, units = _draw(comp, dose_mg, volume, slot.id, overrides)
    return PreparedInjection(administration=slot.id, site=slot.site, drug=comp.drug, matches=comp.drug, placebo=False,
                             dose_mg=dose_mg, capped=capped, stock_mg_per_ml=strength, draw_ml=draw, units=units,
                             diluent=slot.diluent, diluent_ml=volume - draw, volume_ml=volume)


def _dispensing(slot: Oral | Patch | Inhaled, comp: Component) -> Dispensing:
    """The units of one oral, patch or inhaled administration for one period."""
    strength: float | None = None
    strength_unit: str | None = None
    dose = comp.dose
    if isinstance(dose, UnitDose):
        strength, strength_unit = dose.mg_per_unit, f"mg per {slot.unit}"
    elif isinstance(dose, PatchDose):
        strength, strength_unit = dose.mcg_per_h, "mcg/h"
    elif isinstance(dose, ActuationDose):
        strength, strength_unit = dose.mcg_per_actuation, "mcg per actuation"
    return Dispensing(administration=slot.id, route=slot.route, regimen=slot.describe(), unit=slot.unit, units=slot.units_per_period,
                      spare_units=slot.spare_units, drug=comp.drug, matches=comp.drug, placebo=comp.is_placebo, strength=strength,
                      strength_unit=strength_unit)


def _bag(infusion: Infusion, comp: Component, weight: float | None, overrides: Mapping[str, float]) -> PreparedBag:
    """One bag of :func:`prepare_infusions` (see its Notes for the formulas)."""
    volume, duration = infusion.final_volume_ml, infusion.duration_min
    rate = infusion.rate_ml_per_h
    if not MIN_RATE_ML_PER_H <= rate <= MAX_RATE_ML_PER_H:
        raise ProtocolError(
            f"infusion {infusion.id}: pump rate {rate:g} ml/h ({volume:g} ml over {duration:g} min) is outside "
            f"{MIN_RATE_ML_PER_H:g}..{MAX_RATE_ML_PER_H:g} ml/h"
        )
    if comp.is_placebo:
        return PreparedBag(
            infusion=infusion.id,
            drug=infusion.diluent,
            matches=comp.drug,
            placebo=True,
            dose_mg=0.0,
            capped=False,
            stock_mg_per_ml=None,
            draw_ml=0.0,
            units=None,
            diluent=infusion.diluent,
            diluent_ml=volume,
            final_volume_ml=volume,
            duration_min=duration,
            rate_ml_per_h=rate,
            dose_rate_mg_per_min=0.0,
        )
    dose_mg, capped = _dose_mg(comp, weight, infusion.id)
    strength, draw, units = _draw(comp, dose_mg, volume, infusion.id, overrides)
    return PreparedBag(
        infusion=infusion.id,
        drug=comp.drug,
        matches=comp.drug,
        placebo=False,
        dose_mg=dose_mg,
        capped=capped,
        stock_mg_per_ml=strength,
        draw_ml=draw,
        units=units,
        diluent=infusion.diluent,
        diluent_ml=volume - draw,
        final_volume_ml=volume,
        duration_min=duration,
        rate_ml_per_h=rate,
        dose_rate_mg_per_min=dose_mg / duration,
    )

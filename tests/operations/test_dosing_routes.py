"""The dose tool on arms that are not IV infusions: injections are prepared, oral, patch and
inhaled administrations are dispensed (units per period, worked out by hand), and the
blinded labels stay identical across arms."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.errors import DataError
from ketapain.operations import Dispensing, prepare_infusions
from ketapain.protocol import Protocol, load_protocol

ORAL = load_protocol("oral_ab_ba_example")
KETAPAIN = load_protocol("ketapain")


def with_administrations(administrations: list[dict[str, object]], arms: list[dict[str, object]],
                         base: Protocol = ORAL, **extra: object) -> Protocol:
    data = base.model_dump(mode="json", exclude_none=True)
    data.update(administrations=administrations, arms=arms, **extra)
    return Protocol.from_dict(data)


def arms_in(slot: str, active: dict[str, object], drug: str, **stock: object) -> list[dict[str, object]]:
    comp: dict[str, object] = {"administration": slot, "drug": drug, "dose": active}
    if stock:
        comp["stock"] = stock
    return [
        {"code": "A", "name": "active", "components": [comp]},
        {"code": "P", "name": "placebo", "components": [{"administration": slot, "drug": drug, "dose": {"placebo": True}}]},
    ]


def test_oral_arm_is_dispensed_not_prepared() -> None:
    plan = prepare_infusions(ORAL, "PGB", None)
    assert plan.bags == () and plan.injections == () and plan.weight_kg is None
    [d] = plan.dispensing
    # 2 capsules x 2 doses a day x 28 days = 112, + 8 spare = 120
    assert d == Dispensing(administration="capsules", route="oral", regimen="oral capsule, 2 x twice daily for 28 days",
                           unit="capsule", units=120, spare_units=8, drug="pregabalin", matches="pregabalin", placebo=False,
                           strength=75.0, strength_unit="mg per capsule")
    sheet = plan.preparation_sheet(kit_code="T-ACDEFH")
    assert ("arm 'PGB' is oral: no infusion preparation; dispense 120 capsules (oral capsule, 2 x twice daily for 28 days) "
            "per period") in sheet
    assert "  pregabalin: 75 mg per capsule" in sheet and "dispense 120 capsules (of which 8 spare)" in sheet
    assert "draw" not in sheet and "ml/h" not in sheet and "weight" not in sheet


def test_oral_placebo_is_the_matching_dummy_and_labels_are_blind() -> None:
    active, placebo = (prepare_infusions(ORAL, code, None) for code in ("PGB", "P"))
    [d] = placebo.dispensing
    assert (d.placebo, d.units, d.unit, d.strength) == (True, 120, "capsule", None)
    assert "placebo for pregabalin: matching capsule without drug" in placebo.preparation_sheet()
    labels = {p.blinded_label(kit_code="T-ACDEFH", patient_id="P01", period=1) for p in (active, placebo)}
    assert len(labels) == 1
    [label] = labels
    assert "contents: 120 capsules" in label and "pregabalin" not in label and "placebo" not in label
    assert json.loads(json.dumps(active.to_dict()))["dispensing"][0]["units"] == 120


def test_weight_is_checked_when_given_and_needed_only_for_per_kg_doses() -> None:
    assert prepare_infusions(ORAL, "PGB", 70).weight_kg == 70.0
    with pytest.raises(DataError, match=r"outside the protocol's weights range 40\.\.150 kg"):
        prepare_infusions(ORAL, "PGB", 20)
    # asked of every arm of the reference study, the placebo too: asking reveals nothing
    for code in KETAPAIN.arm_codes:
        with pytest.raises(DataError, match="weight_kg is required: the protocol has weight-based"):
            prepare_infusions(KETAPAIN, code, None)


def test_no_stock_override_for_a_dispensed_drug() -> None:
    with pytest.raises(DataError, match=r"'pregabalin' is not a drug of the protocol prepared from stock; drugs: $"):
        prepare_infusions(ORAL, "PGB", None, stock_overrides={"pregabalin": 10})


def test_patch_dispensing() -> None:
    patch = {"id": "patch", "route": "transdermal_patch", "patches_per_application": 2, "wear_hours": 96, "treatment_days": 28,
             "spare_units": 2}
    p = with_administrations([patch], arms_in("patch", {"mcg_per_h": 10}, "buprenorphine"))
    [d] = prepare_infusions(p, "A", None).dispensing
    # 28 days x 24 h / 96 h = 7 applications of 2 patches = 14, + 2 spare = 16
    assert (d.units, d.unit, d.strength, d.strength_unit, d.route) == (16, "patch", 10.0, "mcg/h", "transdermal_patch")
    assert "dispense 16 patches" in prepare_infusions(p, "P", None).preparation_sheet()


def test_inhaled_dispensing() -> None:
    inhaler = {"id": "inhaler", "route": "inhaled", "device": "dry_powder_inhaler", "actuations_per_dose": 2, "doses_per_day": 3,
               "treatment_days": 28, "actuations_per_inhaler": 60}
    p = with_administrations([inhaler], arms_in("inhaler", {"mcg_per_actuation": 200}, "drug x"))
    [d] = prepare_infusions(p, "A", None).dispensing
    # 2 x 3 x 28 = 168 actuations, 60 per inhaler: ceil(2.8) = 3 inhalers
    assert (d.units, d.unit, d.strength, d.strength_unit) == (3, "inhaler", 200.0, "mcg per actuation")


def test_weight_based_injection_is_prepared() -> None:
    syringe = {"id": "syringe", "route": "injection", "site": "intramuscular", "volume_ml": 5}
    arms = arms_in("syringe", {"mg_per_kg": 0.1, "max_mg": 10}, "morphine", strength_mg_per_ml=10, unit_volume_ml=1)
    p = with_administrations([syringe], arms)
    assert p.needs_weight
    plan = prepare_infusions(p, "A", 80)
    [inj] = plan.injections
    # 0.1 mg/kg x 80 kg = 8 mg; 8 mg / 10 mg/ml = 0.8 ml = 1 ampoule of 1 ml; 5 - 0.8 = 4.2 ml saline
    assert inj.dose_mg == pytest.approx(8.0) and not inj.capped
    assert inj.draw_ml == pytest.approx(0.8) and inj.diluent_ml == pytest.approx(4.2) and inj.units == 1
    capped = prepare_infusions(p, "A", 150).injections[0]
    assert (capped.dose_mg, capped.capped, capped.draw_ml) == (10.0, True, pytest.approx(1.0))
    [dummy] = prepare_infusions(p, "P", 80).injections
    assert (dummy.placebo, dummy.dose_mg, dummy.diluent_ml, dummy.volume_ml) == (True, 0.0, 5.0, 5.0)
    sheet = plan.preparation_sheet()
    assert "[syringe] intramuscular injection, 5 ml" in sheet and "draw 0.80 ml of 10 mg/ml (1 vial(s)/ampoule(s))" in sheet
    assert len({prepare_infusions(p, c, 80).blinded_label(kit_code="T-ACDEFH") for c in ("A", "P")}) == 1
    with pytest.raises(DataError, match="more than the final volume of syringe"):
        prepare_infusions(p, "A", 80, stock_overrides={"morphine": 1})


def test_double_dummy_iv_and_oral() -> None:
    capsules = {"id": "capsules", "route": "oral", "form": "tablet", "units_per_dose": 1, "doses_per_day": 1, "treatment_days": 7}
    bag = {"infusion": "bag_250ml", "drug": "lidocaine"}
    tab = {"administration": "capsules", "drug": "mexiletine"}
    arms = [
        {"code": "L", "name": "IV lidocaine", "components": [
            {**bag, "dose": {"mg": 300}, "stock": {"strength_mg_per_ml": 20}}, {**tab, "dose": {"placebo": True}}]},
        {"code": "M", "name": "oral mexiletine", "components": [
            {**bag, "dose": {"placebo": True}}, {**tab, "dose": {"mg_per_unit": 200}}]},
    ]
    p = with_administrations([capsules], arms, base=load_protocol("ab_ba_example"))
    assert p.double_dummy and p.routes == ("iv_infusion", "oral")
    lido, mexi = prepare_infusions(p, "L", 70), prepare_infusions(p, "M", 70)
    assert (lido.bags[0].dose_mg, lido.dispensing[0].placebo) == (300.0, True)
    assert (mexi.bags[0].placebo, mexi.dispensing[0].strength, mexi.dispensing[0].units) == (True, 200.0, 7)
    assert "no infusion preparation" not in mexi.preparation_sheet()  # it has a bag to prepare
    assert lido.blinded_label(kit_code="T-ACDEFH") == mexi.blinded_label(kit_code="T-ACDEFH")


def test_iv_plan_has_no_new_keys() -> None:
    data = prepare_infusions(KETAPAIN, "KM", 78).to_dict()
    assert set(data) == {"protocol", "arm", "arm_name", "weight_kg", "components"}


def test_cli_dose_for_an_oral_arm() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["dose", "--arm", "P", "--protocol", "oral_ab_ba_example", "--kit", "T-ACDEFH"])
    assert result.exit_code == 0, result.output
    assert "arm 'P' is oral: no infusion preparation; dispense 120 capsules" in result.stdout
    assert "BLINDED STUDY MEDICATION — oral_ab_ba_example" in result.stdout
    result = runner.invoke(app, ["dose", "--arm", "KM"])
    assert result.exit_code == 1 and "weight" in result.stderr and "required" in result.stderr
    result = runner.invoke(app, ["dose", "--arm", "PGB", "--protocol", "oral_ab_ba_example", "--json"])
    assert json.loads(result.stdout)["dispensing"][0]["strength"] == 75.0


def test_kit_codes_and_labels_for_an_oral_list() -> None:
    from ketapain.operations import randomise_protocol

    table = randomise_protocol(ORAL, n_patients=8, seed=3).to_frame()
    assert set(table["treatment"]) == {"PGB", "P"} and table["kit_code"].is_unique
    labels = {prepare_infusions(ORAL, str(treatment), None).blinded_label(kit_code="T-ACDEFH") for treatment in table["treatment"]}
    assert len(labels) == 1  # nothing on the label depends on the arm

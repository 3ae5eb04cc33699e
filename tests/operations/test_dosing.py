"""Infusion preparation: worked examples computed by hand, limits, blinding of the label."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketapain.errors import DataError, ProtocolError
from ketapain.operations._dosing import (
    MAX_RATE_ML_PER_H,
    InfusionPlan,
    PreparedBag,
    parse_strength,
    prepare_infusions,
)
from ketapain.protocol import Protocol, load_protocol

KETAPAIN = load_protocol("ketapain")
AB_BA = load_protocol("ab_ba_example")


def bag(plan: InfusionPlan, infusion: str) -> PreparedBag:
    (found,) = [b for b in plan.bags if b.infusion == infusion]
    return found


def variant(protocol: Protocol, edit) -> Protocol:
    data = protocol.model_dump(mode="json")
    edit(data)
    return Protocol.from_dict(data)


# --- worked examples (reference study) -----------------------------------------------------


def test_km_78kg_worked_example() -> None:
    plan = prepare_infusions(KETAPAIN, "KM", 78)
    assert plan.arm == "KM" and plan.weight_kg == 78.0 and [b.infusion for b in plan.bags] == ["bag_45ml", "bag_250ml"]
    k = bag(plan, "bag_45ml")
    # ketamine 0.5 mg/kg x 78 kg = 39 mg; 39 mg / 50 mg/ml = 0.78 ml; 45 - 0.78 = 44.22 ml saline;
    # 45 ml over 120 min = 45 * 60 / 120 = 22.5 ml/h; 39 mg / 120 min = 0.325 mg/min
    assert (k.drug, k.placebo, k.capped) == ("ketamine", False, False)
    assert k.dose_mg == pytest.approx(39.0)
    assert k.stock_mg_per_ml == 50.0
    assert k.draw_ml == pytest.approx(0.78)
    assert k.diluent_ml == pytest.approx(44.22)
    assert k.draw_ml + k.diluent_ml == pytest.approx(45.0)
    assert (k.final_volume_ml, k.duration_min) == (45.0, 120.0)
    assert k.rate_ml_per_h == pytest.approx(22.5)
    assert k.dose_rate_mg_per_min == pytest.approx(0.325)
    assert k.units is None  # the protocol gives no ketamine vial volume
    m = bag(plan, "bag_250ml")
    # MgSO4 3000 mg / 150 mg/ml (1.5 g per 10 ml) = 20 ml = 2 ampoules of 10 ml;
    # 250 - 20 = 230 ml saline; 250 ml over 30 min = 500 ml/h; 3000 mg / 30 min = 100 mg/min
    assert (m.drug, m.placebo) == ("magnesium sulfate", False)
    assert m.dose_mg == 3000.0
    assert m.draw_ml == pytest.approx(20.0)
    assert m.units == 2
    assert m.diluent_ml == pytest.approx(230.0)
    assert m.final_volume_ml == 250.0 and m.duration_min == 30.0
    assert m.rate_ml_per_h == pytest.approx(500.0)
    assert m.dose_rate_mg_per_min == pytest.approx(100.0)


def test_k_arm_has_a_saline_bag_matching_magnesium() -> None:
    plan = prepare_infusions(KETAPAIN, "K", 78)
    assert bag(plan, "bag_45ml").dose_mg == pytest.approx(39.0)
    m = bag(plan, "bag_250ml")
    # placebo: 250 ml of NaCl 0.9%, no drug, same 500 ml/h over 30 min
    assert (m.drug, m.matches, m.placebo) == ("NaCl 0.9%", "magnesium sulfate", True)
    assert (m.dose_mg, m.draw_ml, m.diluent_ml, m.final_volume_ml) == (0.0, 0.0, 250.0, 250.0)
    assert m.rate_ml_per_h == pytest.approx(500.0) and m.duration_min == 30.0
    assert m.stock_mg_per_ml is None and m.units is None and m.dose_rate_mg_per_min == 0.0


def test_placebo_arm_is_two_saline_bags() -> None:
    plan = prepare_infusions(KETAPAIN, "P", 78)
    a, b = plan.bags
    # 45 ml saline at 45 * 60 / 120 = 22.5 ml/h; 250 ml saline at 250 * 60 / 30 = 500 ml/h
    assert (a.drug, a.dose_mg, a.diluent_ml, a.final_volume_ml, a.rate_ml_per_h) == ("NaCl 0.9%", 0.0, 45.0, 45.0, 22.5)
    assert (b.drug, b.dose_mg, b.diluent_ml, b.final_volume_ml, b.rate_ml_per_h) == ("NaCl 0.9%", 0.0, 250.0, 250.0, 500.0)
    assert a.matches == "ketamine" and b.matches == "magnesium sulfate"


def test_ketamine_10mg_per_ml_vial() -> None:
    plan = prepare_infusions(KETAPAIN, "KM", 78, stock_overrides={"Ketamine": 10})
    k = bag(plan, "bag_45ml")
    # 39 mg / 10 mg/ml = 3.9 ml; 45 - 3.9 = 41.1 ml saline
    assert k.stock_mg_per_ml == 10.0
    assert k.draw_ml == pytest.approx(3.9)
    assert k.diluent_ml == pytest.approx(41.1)
    assert bag(plan, "bag_250ml").draw_ml == pytest.approx(20.0)  # magnesium keeps its stock


def test_weight_limits_are_inclusive() -> None:
    # 30 kg: 15 mg = 0.3 ml; 200 kg: 100 mg = 2 ml (at 50 mg/ml)
    assert bag(prepare_infusions(KETAPAIN, "K", 30), "bag_45ml").draw_ml == pytest.approx(0.3)
    assert bag(prepare_infusions(KETAPAIN, "K", 200), "bag_45ml").draw_ml == pytest.approx(2.0)


# --- the AB/BA example ---------------------------------------------------------------------


def test_ab_ba_lidocaine_70kg() -> None:
    plan = prepare_infusions(AB_BA, "L", 70)
    (b,) = plan.bags
    # lidocaine 5 mg/kg x 70 = 350 mg (< max 500); 350 / 20 mg/ml = 17.5 ml = 2 ampoules of 10 ml
    # (ceil 1.75); 250 - 17.5 = 232.5 ml; 250 ml over 60 min = 250 ml/h; 350 / 60 = 5.83 mg/min
    assert (b.drug, b.dose_mg, b.capped) == ("lidocaine", 350.0, False)
    assert b.draw_ml == pytest.approx(17.5) and b.units == 2
    assert b.diluent_ml == pytest.approx(232.5)
    assert b.rate_ml_per_h == pytest.approx(250.0)
    assert b.dose_rate_mg_per_min == pytest.approx(350 / 60)


def test_ab_ba_dose_is_capped_at_max_mg() -> None:
    (b,) = prepare_infusions(AB_BA, "L", 120).bags
    # 5 x 120 = 600 mg > max_mg 500 -> 500 mg (the protocol's cap); 500 / 20 = 25 ml = 3 ampoules
    assert (b.dose_mg, b.capped) == (500.0, True)
    assert b.draw_ml == pytest.approx(25.0) and b.units == 3
    assert "capped" in prepare_infusions(AB_BA, "L", 120).preparation_sheet()


def test_ab_ba_placebo() -> None:
    (b,) = prepare_infusions(AB_BA, "P", 70).bags
    assert (b.drug, b.dose_mg, b.final_volume_ml, b.rate_ml_per_h) == ("NaCl 0.9%", 0.0, 250.0, 250.0)


# --- limits and errors ---------------------------------------------------------------------


@pytest.mark.parametrize("weight", [29.9, 200.1, 0, -5])
def test_weight_outside_range(weight: float) -> None:
    with pytest.raises(DataError, match=r"weight_kg=.* is outside the protocol's weights range 30\.\.200 kg"):
        prepare_infusions(KETAPAIN, "K", weight)


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), True, "78"])
def test_weight_not_a_number(weight: object) -> None:
    with pytest.raises(DataError, match="weight_kg"):
        prepare_infusions(KETAPAIN, "K", weight)  # type: ignore[arg-type]


def test_unknown_arm() -> None:
    with pytest.raises(ProtocolError, match="unknown arm 'X'; arms: P, K, KM"):
        prepare_infusions(KETAPAIN, "X", 78)


@pytest.mark.parametrize("strength", [0, -10, float("nan"), float("inf")])
def test_non_positive_stock_strength(strength: float) -> None:
    with pytest.raises(DataError, match=r"stock strength of ketamine \(mg/ml\)"):
        prepare_infusions(KETAPAIN, "K", 78, stock_overrides={"ketamine": strength})


def test_override_of_an_unknown_drug() -> None:
    with pytest.raises(DataError, match="'morphine' is not a drug of the protocol"):
        prepare_infusions(KETAPAIN, "K", 78, stock_overrides={"morphine": 10})
    # a drug of the protocol that this arm does not contain is fine (the placebo arm)
    assert prepare_infusions(KETAPAIN, "P", 78, stock_overrides={"ketamine": 10}).bags[0].draw_ml == 0.0


def test_draw_volume_larger_than_the_bag() -> None:
    # 0.5 mg/kg x 100 kg = 50 mg at 1 mg/ml = 50 ml > 45 ml
    too_much = r"ketamine: 50 mg at 1 mg/ml is 50\.00 ml to draw, more than the final volume of bag_45ml \(45 ml\); use a stronger vial"
    with pytest.raises(DataError, match=too_much):
        prepare_infusions(KETAPAIN, "K", 100, stock_overrides={"ketamine": 1})
    # exactly the final volume is allowed: 45 mg at 1 mg/ml = 45 ml, no saline
    (k, _) = prepare_infusions(KETAPAIN, "K", 90, stock_overrides={"ketamine": 1}).bags
    assert k.draw_ml == pytest.approx(45.0) and k.diluent_ml == pytest.approx(0.0)


def _drop_ketamine_stock(data: dict) -> None:
    for arm in data["arms"]:
        for comp in arm["components"]:
            if comp["drug"] == "ketamine":
                comp["stock"] = None


def test_active_component_without_stock() -> None:
    proto = variant(KETAPAIN, _drop_ketamine_stock)
    with pytest.raises(ProtocolError, match="ketamine in bag_45ml has no stock strength"):
        prepare_infusions(proto, "K", 78)
    assert bag(prepare_infusions(proto, "K", 78, stock_overrides={"ketamine": 50}), "bag_45ml").draw_ml == pytest.approx(0.78)


def test_pump_rate_limit() -> None:
    def fast(data: dict) -> None:
        data["infusions"][1]["duration_min"] = 10  # 250 ml in 10 min = 1500 ml/h

    with pytest.raises(ProtocolError, match=rf"bag_250ml: pump rate 1500 ml/h .* outside 0\.1\.\.{MAX_RATE_ML_PER_H:g} ml/h"):
        prepare_infusions(variant(KETAPAIN, fast), "P", 78)


# --- vial strings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mg_per_ml"),
    [("50mg/ml", 50.0), ("10 mg/ml", 10.0), ("50 MG / ML", 50.0), ("1.5 g/10 ml", 150.0), ("0.5g/ml", 500.0), ("500mg/10ml", 50.0)],
)
def test_parse_strength(text: str, mg_per_ml: float) -> None:
    assert parse_strength(text) == pytest.approx(mg_per_ml)


@pytest.mark.parametrize("text", ["50", "mg/ml", "50 mg", "50mcg/ml", "-5mg/ml", "0mg/ml", "5mg/0ml", ""])
def test_parse_strength_refuses(text: str) -> None:
    with pytest.raises(DataError, match="vial strength"):
        parse_strength(text)


# --- outputs -------------------------------------------------------------------------------


def test_to_dict_is_json_and_complete() -> None:
    data = json.loads(json.dumps(prepare_infusions(KETAPAIN, "KM", 78).to_dict(), allow_nan=False))
    assert data["arm"] == "KM" and data["protocol"] == "ketapain"
    keys = {"infusion", "drug", "dose_mg", "draw_ml", "diluent_ml", "final_volume_ml", "duration_min", "rate_ml_per_h", "units"}
    assert all(keys <= set(c) for c in data["components"])
    assert data["components"][1]["units"] == 2


def test_to_frame_has_numeric_columns() -> None:
    frame = prepare_infusions(KETAPAIN, "KM", 78).to_frame()
    assert frame["draw_ml"].tolist() == pytest.approx([0.78, 20.0])
    assert frame["rate_ml_per_h"].dtype.kind == "f"


def test_preparation_sheet_names_arm_drugs_and_volumes() -> None:
    sheet = prepare_infusions(KETAPAIN, "KM", 78).preparation_sheet(kit_code="X7K2QP", patient_id="P07", period=2)
    for text in (
        "UNBLINDED",
        "arm: KM (ketamine/magnesium)",
        "ketamine: 39.0 mg",
        "draw 0.78 ml of 50 mg/ml",
        "add 44.22 ml NaCl 0.9% -> final volume 45 ml",
        "22.5 ml/h",
        "magnesium sulfate: 3000.0 mg",
        "draw 20.00 ml of 150 mg/ml (2 vial(s)/ampoule(s))",
        "add 230.00 ml",
        "500.0 ml/h (100 mg/min)",
        "kit: X7K2QP",
        "patient: P07",
        "period: 2",
    ):
        assert text in sheet, text


def test_blinded_label_reveals_nothing() -> None:
    labels = {
        code: prepare_infusions(KETAPAIN, code, 78).blinded_label(kit_code="X7K2QP", patient_id="P07", period=2)
        for code in KETAPAIN.arm_codes
    }
    # the same text whatever the arm: nothing on the label can tell the treatment
    assert len(set(labels.values())) == 1
    label = labels["KM"]
    for text in (
        "kit: X7K2QP",
        "patient: P07",
        "period: 2",
        "bag: bag_45ml",
        "final volume: 45 ml",
        "duration: 120 min",
        "pump rate: 22.5 ml/h",
        "bag: bag_250ml",
        "final volume: 250 ml",
        "duration: 30 min",
        "pump rate: 500.0 ml/h",
    ):
        assert text in label, text
    lowered = label.lower()
    for word in ("ketamine", "magnesium", "placebo", "nacl", "mg", "arm", "unblinded"):
        assert word not in lowered, word
    assert not re.search(r"\b(P|K|KM)\b", label)


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(w1=st.floats(30, 200), w2=st.floats(30, 200))
def test_ketamine_dose_is_linear_in_weight(w1: float, w2: float) -> None:
    b1 = bag(prepare_infusions(KETAPAIN, "K", w1), "bag_45ml")
    b2 = bag(prepare_infusions(KETAPAIN, "K", w2), "bag_45ml")
    assert b1.dose_mg == pytest.approx(0.5 * w1) and b2.dose_mg == pytest.approx(0.5 * w2)
    assert b1.dose_mg - b2.dose_mg == pytest.approx(0.5 * (w1 - w2), abs=1e-9)
    assert b1.draw_ml == pytest.approx(b1.dose_mg / 50.0)
    assert b1.draw_ml + b1.diluent_ml == pytest.approx(45.0)


@settings(max_examples=40, deadline=None)
@given(weight=st.floats(40, 150), protocol=st.sampled_from([KETAPAIN, AB_BA]))
def test_every_arm_gives_bags_that_look_the_same(weight: float, protocol: Protocol) -> None:
    plans = [prepare_infusions(protocol, code, weight) for code in protocol.arm_codes]
    looks = {tuple((b.infusion, b.final_volume_ml, b.duration_min, b.rate_ml_per_h, b.diluent) for b in p.bags) for p in plans}
    assert len(looks) == 1
    for p in plans:
        for b in p.bags:
            assert b.draw_ml + b.diluent_ml == pytest.approx(b.final_volume_ml)
            assert b.draw_ml <= b.final_volume_ml


@settings(max_examples=40, deadline=None)
@given(weight=st.floats(40, 150))
def test_lidocaine_dose_is_min_of_linear_and_cap(weight: float) -> None:
    (b,) = prepare_infusions(AB_BA, "L", weight).bags
    assert b.dose_mg == pytest.approx(min(5 * weight, 500.0))
    assert b.capped == (5 * weight > 500)

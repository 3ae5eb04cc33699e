"""Protocol files: the shipped studies load, round-trip, and every kind of error names the key."""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import ketapain.protocol as protocol_module
from ketapain.errors import DataError, ProtocolError
from ketapain.protocol import (
    Criterion,
    FixedDose,
    PerKgDose,
    PlaceboDose,
    Protocol,
    list_protocols,
    load_protocol,
)

KETAPAIN_TEXT = (resources.files("ketapain.protocol") / "files" / "ketapain.toml").read_text(encoding="utf-8")


def errors_of(text: str, *, source: str = "ketapain.toml") -> list[str]:
    with pytest.raises(ProtocolError) as info:
        Protocol.from_toml_text(text, source=source)
    return str(info.value).splitlines()


def edited(old: str, new: str, *, text: str = KETAPAIN_TEXT) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_all_is_sorted_and_resolves() -> None:
    exported = list(protocol_module.__all__)
    assert exported == sorted(exported)
    assert all(hasattr(protocol_module, name) for name in exported)


# --- the shipped protocols -------------------------------------------------------------------


def test_list_protocols() -> None:
    assert list_protocols() == ("ab_ba_example", "ketapain", "oral_ab_ba_example")


@pytest.mark.parametrize("name", ["ketapain", "ab_ba_example", "oral_ab_ba_example"])
def test_shipped_protocols_load(name: str) -> None:
    p = load_protocol(name)
    assert p.study.id == name
    assert len(p.arms) >= 2


def test_ketapain_is_the_reference_study() -> None:
    p = load_protocol("ketapain")
    assert p.study.registration == "NCT02467517"
    assert (p.design.kind, p.design.periods, p.design.period_days, p.design.washout_days) == ("williams", 3, 35, None)
    assert p.arm_codes == ("P", "K", "KM")
    assert p.n_sequences_expected == 6
    assert p.randomisation.block_size == 6

    small, large = p.infusion("bag_45ml"), p.infusion("bag_250ml")
    assert (small.final_volume_ml, small.duration_min, small.diluent) == (45, 120, "NaCl 0.9%")
    assert (large.final_volume_ml, large.duration_min) == (250, 30)
    assert small.rate_ml_per_h == 22.5
    assert large.rate_ml_per_h == 500

    assert p.arm("P").is_placebo
    ketamine = p.arm("K").component("bag_45ml")
    assert ketamine.dose == PerKgDose(mg_per_kg=0.5)
    assert ketamine.stock is not None and ketamine.stock.strength_mg_per_ml == 50
    assert isinstance(p.arm("K").component("bag_250ml").dose, PlaceboDose)
    magnesium = p.arm("KM").component("bag_250ml")
    assert magnesium.dose == FixedDose(mg=3000)
    assert magnesium.stock is not None and magnesium.stock.unit_mg == 1500  # one 1.5 g / 10 ml ampoule
    assert magnesium.dose.mg / magnesium.stock.unit_mg == 2  # two ampoules
    assert magnesium.dose.mg / large.duration_min == 100  # 100 mg/min

    dn4 = next(c for c in p.eligibility.criteria if c.instrument == "dn4")
    assert (dn4.score, dn4.op, dn4.value, dn4.kind) == ("total", ">=", 4, "inclusion")
    age = next(c for c in p.eligibility.criteria if c.field == "age")
    assert (age.op, age.value) == (">=", 18)

    inclusion = p.visits[0]
    assert (inclusion.name, inclusion.day) == ("inclusion", -14)
    assert set(inclusion.questionnaires) == {"dn4", "bpi", "qdsa", "npsi", "hads", "sf36", "psqi"}
    assert [v.day for v in p.visits if v.name.startswith("end_period")] == [35, 70, 105]
    assert all("pgic" in v.questionnaires for v in p.visits if v.name.startswith("end_period"))

    assert p.diary.items == ("avg_pain", "max_pain", "night_pain")
    assert (p.diary.scale_min, p.diary.scale_max, p.diary.days_per_period) == (0, 10, 35)
    assert p.auc.time_axis == "infusion" and p.auc.windows == (7, 15, 21, 28, 35)
    primary = p.primary_endpoint
    assert (primary.value, primary.window_day, primary.impute) == ("avg_pain", 35, "locf")
    a = p.analysis
    assert (a.alpha, a.model, a.carryover, a.multiplicity) == (0.05, "paper", "test-drop", "sidak")
    s = p.sample_size
    assert s is not None
    assert (s.difference, s.sd, s.rho, s.alpha, s.power, s.n_stated) == (57, 38, 0.5, 0.02, 0.9, 18)


def test_ab_ba_example_is_not_tied_to_three_arms() -> None:
    p = load_protocol("ab_ba_example")
    assert p.arm_codes == ("L", "P")
    assert p.design.periods == 2 and p.design.period_days == 28
    assert p.n_sequences_expected == 2
    assert p.randomisation.random_block_sizes == (2, 4)
    assert p.randomisation.strata == ("sex",)
    assert len(p.infusions) == 1


def test_load_from_path_and_name_of_unknown(tmp_path: Path) -> None:
    f = tmp_path / "study.toml"
    f.write_text(KETAPAIN_TEXT, encoding="utf-8")
    assert load_protocol(f) == load_protocol("ketapain")
    assert load_protocol(str(f)) == load_protocol("ketapain")
    with pytest.raises(ProtocolError, match=r"nope: no such protocol file; shipped protocols: ab_ba_example, ketapain"):
        load_protocol("nope")


def test_errors_name_the_file_given(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(edited('df_method = "kenward-roger"', 'df_method = "wald"'), encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"^mine.toml: analysis.df_method: "):
        load_protocol(f)


@pytest.mark.parametrize("mode", ["python", "json"])
def test_round_trip(mode: str) -> None:
    for name in list_protocols():
        p = load_protocol(name)
        again = Protocol.from_dict(p.model_dump(mode=mode))  # type: ignore[arg-type]
        assert again == p
        assert Protocol.from_dict(p.model_dump(exclude_none=True)) == p


def test_models_are_frozen() -> None:
    p = load_protocol("ketapain")
    with pytest.raises(Exception, match="frozen"):
        p.design.periods = 4  # type: ignore[misc]


def test_n_sequences_expected_by_kind() -> None:
    data = tomllib.loads(KETAPAIN_TEXT)
    magnesium = {"code": "M", "name": "magnesium", "components": [
        {"infusion": "bag_45ml", "drug": "ketamine", "dose": {"placebo": True}},
        {"infusion": "bag_250ml", "drug": "magnesium sulfate", "dose": {"mg": 3000}},
    ]}
    data["arms"].append(magnesium)
    data["design"]["periods"] = 4
    for kind, n in {"williams": 4, "latin_square": 4, "all_orders": math.factorial(4)}.items():
        data["design"]["kind"] = kind
        data["randomisation"]["block_size"] = n
        assert Protocol.from_dict(data).n_sequences_expected == n
    data["arms"] = data["arms"][:3]
    data["design"].update(kind="williams", periods=3)
    data["randomisation"]["block_size"] = 6
    assert Protocol.from_dict(data).n_sequences_expected == 6  # 2T for odd T


def test_custom_sequences() -> None:
    text = edited('kind = "williams"', 'kind = "custom"\nsequences = [["P", "K", "KM"], ["KM", "K", "P"]]')
    text = edited("block_size = 6", "block_size = 4", text=text)
    p = Protocol.from_toml_text(text)
    assert p.design.sequences == (("P", "K", "KM"), ("KM", "K", "P"))
    assert p.n_sequences_expected == 2


def test_lookups_name_what_exists() -> None:
    p = load_protocol("ketapain")
    with pytest.raises(ProtocolError, match=r"unknown arm 'X'; arms: P, K, KM"):
        p.arm("X")
    with pytest.raises(ProtocolError, match=r"unknown infusion 'x'; infusions: bag_45ml, bag_250ml"):
        p.infusion("x")
    with pytest.raises(ProtocolError, match=r"arm 'K' has no component in infusion 'x'"):
        p.arm("K").component("x")


# --- error messages -----------------------------------------------------------------------------


def test_toml_syntax_error() -> None:
    [line] = errors_of(edited("[study]", "[study"))
    assert line.startswith("ketapain.toml: TOML syntax error: ")
    assert "line 6" in line


def test_missing_key() -> None:
    assert errors_of(edited("period_days = 35\n", "")) == ["ketapain.toml: design.period_days: required key missing"]


def test_unknown_key_lists_allowed_keys() -> None:
    assert errors_of(edited("period_days = 35", "period_days = 35\nperiod_weeks = 5")) == [
        "ketapain.toml: design.period_weeks: unknown key; allowed keys: kind, sequences, periods, period_days, washout_days"
    ]


def test_wrong_type() -> None:
    assert errors_of(edited("period_days = 35", 'period_days = "35"')) == [
        "ketapain.toml: design.period_days: expected an integer, got '35' (a string)"
    ]
    assert errors_of(edited("periods = 3", "periods = true")) == [
        "ketapain.toml: design.periods: expected an integer, got true (a boolean)"
    ]


def test_bad_enum_lists_allowed_values() -> None:
    assert errors_of(edited('df_method = "kenward-roger"', 'df_method = "wald"')) == [
        "ketapain.toml: analysis.df_method: 'wald' is not one of kenward-roger, satterthwaite, containment, normal"
    ]


def test_bound_names_the_nested_key() -> None:
    text = edited(
        'dose = { mg_per_kg = 0.5 }, stock = { strength_mg_per_ml = 50 } },\n  { infusion = "bag_250ml", drug = "magnesium '
        'sulfate", dose = { mg = 3000 }',
        'dose = { mg_per_kg = -1 }, stock = { strength_mg_per_ml = 50 } },\n  { infusion = "bag_250ml", drug = "magnesium '
        'sulfate", dose = { mg = 3000 }',
    )
    assert errors_of(text) == ["ketapain.toml: arms[2].components[0].dose.mg_per_kg: -1 is not > 0"]


def test_dose_shape() -> None:
    [line] = errors_of(edited("dose = { placebo = true }", "dose = { mg = 3, placebo = true }"))
    assert line.startswith("ketapain.toml: arms[0].components[0].dose: a dose is exactly one of {mg_per_kg")
    assert line.endswith("got a table with keys mg, placebo")


def test_placebo_has_no_stock() -> None:
    text = edited("dose = { placebo = true } }", "dose = { placebo = true }, stock = { strength_mg_per_ml = 50 } }")
    assert errors_of(text) == [
        "ketapain.toml: arms[0].components[0].stock: not allowed with a placebo dose (a placebo is the infusion's diluent)"
    ]


def test_duplicate_arm_codes() -> None:
    assert errors_of(edited('code = "K"\n', 'code = "P"\n')) == ["ketapain.toml: arms[1].code: duplicate arm code 'P' (already at [0])"]


def test_component_referencing_unknown_infusion() -> None:
    text = edited(
        '{ infusion = "bag_45ml", drug = "ketamine", dose = { placebo = true } }',
        '{ infusion = "bag_99ml", drug = "ketamine", dose = { placebo = true } }',
    )
    assert errors_of(text) == [
        "ketapain.toml: arms[0].components[0].infusion: 'bag_99ml' is not one of bag_45ml, bag_250ml (infusions)",
        "ketapain.toml: arms[0].components: no component for infusion(s) bag_45ml; every arm has exactly one per infusion (a "
        "placebo if needed)",
    ]


def test_one_component_per_infusion() -> None:
    text = edited(
        '{ infusion = "bag_250ml", drug = "magnesium sulfate", dose = { placebo = true } },\n]',
        '{ infusion = "bag_45ml", drug = "magnesium sulfate", dose = { placebo = true } },\n]',
    )
    lines = errors_of(text)
    assert "ketapain.toml: arms[0].components[1].infusion: 'bag_45ml' is used by 2 components; one per infusion" in lines
    assert (
        "ketapain.toml: arms[0].components: no component for infusion(s) bag_250ml; every arm has exactly one per infusion (a "
        "placebo if needed)"
        in lines
    )


def test_at_least_two_arms() -> None:
    data = tomllib.loads(KETAPAIN_TEXT)
    data["arms"] = data["arms"][:1]
    with pytest.raises(ProtocolError) as info:
        Protocol.from_dict(data, source="one.toml")
    assert str(info.value) == "one.toml: arms: needs at least 2 entries, got 1"


def test_block_size_not_a_multiple() -> None:
    assert errors_of(edited("block_size = 6", "block_size = 4")) == [
        "ketapain.toml: randomisation.block_size: 4 is not a multiple of 6, the number of sequences of the williams design with 3 arms"
    ]
    assert errors_of(edited("block_size = 6", "block_size = 6\nrandom_block_sizes = [6, 9]")) == [
        "ketapain.toml: randomisation.random_block_sizes[1]: 9 is not a multiple of 6, the number of sequences"
    ]


def test_unknown_instrument_in_a_visit() -> None:
    [line] = errors_of(edited('["dn4", "bpi"', '["dn5", "bpi"'))
    assert (
        line
        == "ketapain.toml: visits[0].questionnaires[0]: 'dn5' is not one of blinding, bpi, dn4, hads, npsi, nrs, pgic, psqi, "
           "qdsa, sf36, sfmpq (instruments)"
    )


def test_custom_sequences_with_unknown_codes() -> None:
    text = edited('kind = "williams"', 'kind = "custom"\nsequences = [["P", "K", "X"], ["K", "P", "Y"]]')
    assert errors_of(text) == [
        "ketapain.toml: design.sequences[0][2]: 'X' is not one of P, K, KM (arm codes)",
        "ketapain.toml: design.sequences[1][2]: 'Y' is not one of P, K, KM (arm codes)",
    ]


def test_custom_sequences_required_wrong_length_and_forbidden_otherwise() -> None:
    assert errors_of(edited('kind = "williams"', 'kind = "custom"')) == [
        "ketapain.toml: design.sequences: required (at least one sequence) when kind = 'custom'"
    ]
    text = edited('kind = "williams"', 'kind = "custom"\nsequences = [["P", "K"]]')
    assert errors_of(text) == ["ketapain.toml: design.sequences[0]: has 2 arm codes; periods = 3"]
    text = edited('kind = "williams"', 'kind = "williams"\nsequences = [["P", "K", "KM"]]')
    assert errors_of(text) == ["ketapain.toml: design.sequences: only allowed when kind = 'custom' (kind = 'williams' builds them)"]


def test_periods_must_match_arms_for_built_designs() -> None:
    assert errors_of(edited("periods = 3", "periods = 4")) == [
        "ketapain.toml: design.periods: 4 != 3 arms; a williams design gives every arm once (use kind = 'custom' otherwise)"
    ]


def test_eligibility_rules() -> None:
    assert errors_of(edited('score = "total"', 'score = "sum"')) == [
        "ketapain.toml: eligibility.criteria[5].score: 'sum' is not one of total, neuropathic (dn4 scores)"
    ]
    assert errors_of(edited('value = ["peripheral", "central"]', 'value = "peripheral"')) == [
        "ketapain.toml: eligibility.criteria[2].value: op 'in' needs an array, got 'peripheral'"
    ]
    assert errors_of(edited('field = "age"\n', 'field = "age"\ninstrument = "dn4"\nscore = "total"\n')) == [
        "ketapain.toml: eligibility.criteria[0]: give exactly one of field (a screening answer) or instrument (with score)"
    ]


def test_endpoints_refer_to_diary_and_windows() -> None:
    text = edited('value = "avg_pain"\nwindow_day = 35', 'value = "mean_pain"\nwindow_day = 36')
    assert (
        errors_of(text)
        == [
            "ketapain.toml: endpoints[0].value: 'mean_pain' is not one of avg_pain, max_pain, night_pain (diary.items)",
            "ketapain.toml: endpoints[0].window_day: 36 is not one of 7, 15, 21, 28, 35 (auc.windows)",
            "ketapain.toml: endpoints: 0 primary endpoints; exactly one endpoint has kind = 'primary'",
        ][:2]
    )
    assert errors_of(edited('kind = "primary"', 'kind = "secondary"')) == [
        "ketapain.toml: endpoints: 0 primary endpoints; exactly one endpoint has kind = 'primary'"
    ]


def test_several_errors_reported_together() -> None:
    text = edited('df_method = "kenward-roger"', 'df_method = "wald"')
    text = edited("period_days = 35\n", "", text=text)
    text = edited("min_kg = 30", 'min_kg = "thirty"', text=text)
    text = edited("{ mg = 3000 }", "{ mg = -1 }", text=text)
    text = edited('["dn4", "bpi"', '["dn5", "bpi"', text=text)
    text = edited('time_axis = "infusion"', 'time_axis = "infusion"\nmethod = "trapezoid"', text=text)
    assert errors_of(text, source="x.toml") == [
        "x.toml: design.period_days: required key missing",
        "x.toml: arms[2].components[1].dose.mg: -1 is not > 0",
        "x.toml: weights.min_kg: expected a number, got 'thirty' (a string)",
        "x.toml: visits[0].questionnaires[0]: 'dn5' is not one of blinding, bpi, dn4, hads, npsi, nrs, pgic, psqi, qdsa, sf36, "
        "sfmpq (instruments)",
        "x.toml: auc.method: unknown key; allowed keys: time_axis, windows",
        "x.toml: analysis.df_method: 'wald' is not one of kenward-roger, satterthwaite, containment, normal",
    ]


def test_several_cross_section_errors_reported_together() -> None:
    text = edited('code = "K"\n', 'code = "P"\n')
    text = edited("block_size = 6", "block_size = 5", text=text)
    text = edited("days_per_period = 35", "days_per_period = 36", text=text)
    assert errors_of(text) == [
        "ketapain.toml: arms[1].code: duplicate arm code 'P' (already at [0])",
        "ketapain.toml: randomisation.block_size: 5 is not a multiple of 6, the number of sequences of the williams design with 3 arms",
        "ketapain.toml: diary.days_per_period: 36 is more than design.period_days = 35",
    ]


def test_from_dict_wraps_errors() -> None:
    with pytest.raises(ProtocolError, match=r"^<dict>: study: required key missing"):
        Protocol.from_dict({})


# --- criteria -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "observed", "holds"),
    [
        (">=", 4, 4, True),
        (">=", 4, 3, False),
        (">", 3, 3.5, True),
        ("<", 3, 3, False),
        ("<=", 3, 3, True),
        ("==", True, True, True),
        ("==", True, 1, False),  # booleans only equal booleans
        ("!=", False, True, True),
        ("in", ["peripheral", "central"], "central", True),
        ("not_in", ["peripheral", "central"], "central", False),
    ],
)
def test_rule_holds(op: str, value: object, observed: object, holds: bool) -> None:
    c = Criterion(id="c", kind="inclusion", text="t", field="f", op=op, value=value)  # type: ignore[arg-type]
    assert c.rule_holds(observed) is holds  # type: ignore[arg-type]


def test_rule_holds_refuses_missing_and_non_numbers() -> None:
    c = Criterion(id="inc_age", kind="inclusion", text="Adult", field="age", op=">=", value=18)
    with pytest.raises(DataError, match=r"criterion inc_age \(age\): no answer"):
        c.rule_holds(None)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"'old' is not a number"):
        c.rule_holds("old")


def test_fit_options_are_fit_crossover_arguments() -> None:
    import inspect

    from ketapain.stats import fit_crossover

    options = load_protocol("ketapain").analysis.fit_options()
    assert set(options) <= set(inspect.signature(fit_crossover).parameters)
    assert options["model"] == "paper" and options["carryover"] == "test-drop"
    assert load_protocol("ab_ba_example").analysis.fit_options()["carryover"] is False


# --- bounds: no infinite, nan or absurd numbers (issue 14) ----------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("duration_min = 120", "duration_min = inf", "infusions[0].duration_min: inf is not a finite number"),
        ("duration_min = 120", "duration_min = nan", "infusions[0].duration_min: nan is not a finite number"),
        ("tolerance_points = 2", "tolerance_points = -inf", "gate.tolerance_points: -inf is not a finite number"),
        ("value = 18", "value = inf", "eligibility.criteria[0].value: inf is not a finite number"),
        ('value = ["peripheral", "central"]', "value = [1.0, nan]", "eligibility.criteria[2].value: nan is not a finite number"),
        ("period_days = 35", "period_days = 9223372036854775807", "design.period_days: 9223372036854775807 is not <= 365"),
        ("period_days = 35", "period_days = 100000000", "design.period_days: 100000000 is not <= 365"),
        ("period_days = 35", "period_days = 1" + "0" * 400, "design.period_days: an integer of 401 digits is not <= 365"),
        ("days_per_period = 35", "days_per_period = 400", "diary.days_per_period: 400 is not <= 365"),
        ("periods = 3", "periods = 13", "design.periods: 13 is not <= 12"),
        ("duration_min = 120", "duration_min = 20000", "infusions[0].duration_min: 20000 is not <= 10080"),
        ("final_volume_ml = 45", "final_volume_ml = 45e6", "infusions[0].final_volume_ml: 45000000 is not <= 5000"),
        ("dose = { mg = 3000 }", "dose = { mg = 3e9 }", "arms[2].components[1].dose.mg: 3000000000 is not <= 100000"),
        ("max_kg = 200", "max_kg = 1e300", "weights.max_kg: 1e+300 is not <= 700"),
        ("block_size = 6", "block_size = 6000000", "randomisation.block_size: 6000000 is not <= 1000"),
        ("max_postpone_days = 14", "max_postpone_days = 1000", "gate.max_postpone_days: 1000 is not <= 365"),
        ("day = -14", "day = -100000", "visits[0].day: -100000 is not >= -365"),
        ("scale_max = 10", "scale_max = 100000", "diary.scale_max: 100000 is not <= 1000"),
        ("n_stated = 18", "n_stated = 10000000", "sample_size.n_stated: 10000000 is not <= 100000"),
    ],
)
def test_numbers_are_finite_and_bounded(old: str, new: str, expected: str) -> None:
    assert f"ketapain.toml: {expected}" in errors_of(edited(old, new))


def test_random_block_sizes_are_bounded() -> None:
    text = edited("block_size = 6\n", "block_size = 6\nrandom_block_sizes = [6, 0, 6000]\n")
    errors = errors_of(text)
    assert "ketapain.toml: randomisation.random_block_sizes[1]: 0 is not >= 1" in errors
    assert "ketapain.toml: randomisation.random_block_sizes[2]: 6000 is not <= 1000" in errors


def test_the_whole_schedule_is_bounded() -> None:
    text = edited("period_days = 35", "period_days = 365\nwashout_days = 365", text=edited("periods = 3", "periods = 6"))
    assert any("design.period_days: 6 periods of 365 days (+ 365 washout) last 4380 days; at most 3653" in e
               for e in errors_of(text))


def test_huge_integers_and_deep_nesting_are_toml_errors() -> None:
    assert errors_of(edited("period_days = 35", "period_days = 1" + "0" * 5000)) == [
        "ketapain.toml: TOML: an integer has more than 4300 digits; every count, day and dose has a documented "
        "upper bound (docs/protocol.md)"]
    deep = "x = " + "[" * 50_000 + "]" * 50_000 + "\n"
    assert errors_of(deep) == ["ketapain.toml: TOML: arrays or tables nested too deeply; a protocol nests at most a few levels"]


def test_period_days_beyond_the_bound_never_reach_simulate(tmp_path: Path) -> None:
    from ketapain.simulate import simulate_trial

    path = tmp_path / "long.toml"
    path.write_text(edited("period_days = 35", "period_days = 100000000"), encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"design.period_days: 100000000 is not <= 365"):
        simulate_trial(load_protocol(path), n_patients=6, seed=1)

"""Eligibility: every failed criterion named, missing answers never eligible, DN4 scored."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ketapain.errors import DataError, InstrumentError
from ketapain.operations._eligibility import evaluate_eligibility, evaluate_screening
from ketapain.protocol import load_protocol

KETAPAIN = load_protocol("ketapain")
AB_BA = load_protocol("ab_ba_example")

ELIGIBLE = {
    "age": 54,
    "pain_duration_months": 30,
    "pain_origin": "peripheral",
    "iv_ketamine_indicated": True,
    "previous_ketamine": False,
    "history_compatible_with_lesion": True,
    "pain_in_neuroanatomical_territory": True,
    "sensory_signs_on_examination": True,
    "previous_iv_ketamine": False,
    "ketamine_contraindication": False,
    "magnesium_contraindication": False,
    "saline_contraindication": False,
    "incompatible_history_or_drugs": False,
    "childbearing_without_contraception": False,
    "pregnant_or_lactating": False,
    "in_other_trial": False,
    "unable_to_comply": False,
}
DN4_FOUR = {"1": 1, "2": 0, "3": 1, "4": 1, "5": 0, "6": 0, "7": 0, "8": 1, "9": 0, "10": 0}  # 4 yes
DN4_THREE = {**DN4_FOUR, "8": 0}  # 3 yes


def test_all_criteria_met() -> None:
    r = evaluate_eligibility(KETAPAIN, ELIGIBLE, dn4_items=DN4_FOUR)
    assert r.eligible and r.failed == () and r.n_criteria == 18
    assert r.scores == {"dn4.total": 4.0}  # 4 positive items; cut-off >= 4
    assert r.summary().startswith("ELIGIBLE: all 18 criteria met")


def test_dn4_total_answer_instead_of_items() -> None:
    assert evaluate_eligibility(KETAPAIN, {**ELIGIBLE, "dn4_total": 6}).eligible
    r = evaluate_eligibility(KETAPAIN, {**ELIGIBLE, "dn4_total": 3})
    (f,) = r.failed
    assert (f.id, f.kind, f.field, f.value, f.rule, f.reason) == (
        "inc_dn4",
        "inclusion",
        "dn4.total",
        3,
        "dn4.total >= 4",
        "inclusion not met",
    )


def test_dn4_items_below_cutoff() -> None:
    r = evaluate_eligibility(KETAPAIN, ELIGIBLE, dn4_items=DN4_THREE)
    assert not r.eligible and r.failed_ids == ("inc_dn4",) and r.failed[0].value == 3.0


def test_dn4_items_and_total_must_agree() -> None:
    assert evaluate_eligibility(KETAPAIN, {**ELIGIBLE, "dn4_total": 4}, dn4_items=DN4_FOUR).eligible
    with pytest.raises(DataError, match=r"inc_dn4: dn4_total=5 disagrees with the dn4 items, which score 4\.0"):
        evaluate_eligibility(KETAPAIN, {**ELIGIBLE, "dn4_total": 5}, dn4_items=DN4_FOUR)


def test_incomplete_dn4_items_are_not_answered() -> None:
    items = {k: v for k, v in DN4_FOUR.items() if k != "10"}
    r = evaluate_eligibility(KETAPAIN, ELIGIBLE, dn4_items=items)
    assert r.failed_ids == ("inc_dn4",) and r.failed[0].reason == "not answered" and r.failed[0].value is None


def test_invalid_dn4_item_is_an_instrument_error() -> None:
    with pytest.raises(InstrumentError):
        evaluate_eligibility(KETAPAIN, ELIGIBLE, dn4_items={**DN4_FOUR, "1": 2})


def test_every_failure_is_named_in_protocol_order() -> None:
    answers = {**ELIGIBLE, "age": 17, "pain_origin": "mixed", "pregnant_or_lactating": True, "in_other_trial": True}
    r = evaluate_eligibility(KETAPAIN, answers, dn4_items=DN4_FOUR)
    assert not r.eligible
    assert r.failed_ids == ("inc_age", "inc_neuropathic_origin", "exc_pregnancy_lactation", "exc_other_trial")
    age, origin, preg, trial = r.failed
    assert (age.value, age.rule, age.reason, age.text) == (17, "age >= 18", "inclusion not met", "Aged 18 or over")
    assert (origin.value, origin.rule) == ("mixed", "pain_origin in ['peripheral', 'central']")
    assert (preg.kind, preg.value, preg.rule, preg.reason) == ("exclusion", True, "pregnant_or_lactating == true", "exclusion applies")
    assert trial.reason == "exclusion applies"
    text = r.summary()
    assert text.startswith("NOT ELIGIBLE: 4 of 18 criteria failed")
    assert "inc_age (inclusion): Aged 18 or over — inclusion not met; rule age >= 18; given 17" in text


def test_missing_answers_are_failures_not_eligible() -> None:
    answers = {k: v for k, v in ELIGIBLE.items() if k not in ("unable_to_comply", "age")}
    answers["in_other_trial"] = None
    answers["saline_contraindication"] = float("nan")
    r = evaluate_eligibility(KETAPAIN, answers, dn4_items=DN4_FOUR)
    assert not r.eligible
    assert r.failed_ids == ("inc_age", "exc_saline_contraindication", "exc_other_trial", "exc_unable_to_comply")
    assert all(f.reason == "not answered" and f.value is None for f in r.failed)
    assert "no answer" in r.summary()


def test_no_answers_fail_every_criterion() -> None:
    r = evaluate_eligibility(KETAPAIN, {})
    assert not r.eligible and len(r.failed) == 18
    assert {f.reason for f in r.failed} == {"not answered"}


def test_boundary_values() -> None:
    assert evaluate_eligibility(KETAPAIN, {**ELIGIBLE, "age": 18, "dn4_total": 4}).eligible  # age >= 18
    r = evaluate_eligibility(KETAPAIN, {**ELIGIBLE, "pain_duration_months": 3, "dn4_total": 4})  # > 3 months
    assert r.failed_ids == ("inc_pain_duration",)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        (
            "in_other_trial",
            "true",
            r"exc_other_trial \(in_other_trial\): 'true' is a text; the rule in_other_trial == true needs a boolean",
        ),
        ("previous_ketamine", 0, "inc_ketamine_naive .*: 0 is a number; .* needs a boolean"),
        ("age", "old", "inc_age .*: 'old' is a text; .* needs a number"),
        ("pain_origin", 1, "inc_neuropathic_origin .*: 1 is a number; .* needs a text"),
    ],
)
def test_wrong_types_are_refused_not_silently_failed(field: str, value: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        evaluate_eligibility(KETAPAIN, {**ELIGIBLE, field: value, "dn4_total": 5})


def test_numpy_scalars_are_plain_answers() -> None:
    answers = {k: (np.bool_(v) if isinstance(v, bool) else np.int64(v) if isinstance(v, int) else v) for k, v in ELIGIBLE.items()}
    assert evaluate_eligibility(KETAPAIN, {**answers, "dn4_total": np.int64(5)}).eligible


def test_answers_must_be_a_mapping() -> None:
    with pytest.raises(DataError, match="answers must be a mapping"):
        evaluate_eligibility(KETAPAIN, [("age", 40)])  # type: ignore[arg-type]


def test_ab_ba_protocol() -> None:
    r = evaluate_eligibility(AB_BA, {"age": 30, "conduction_disorder": True}, dn4_items=DN4_FOUR)
    assert r.failed_ids == ("exc_arrhythmia",) and r.n_criteria == 3


def test_to_dict_is_json() -> None:
    d = json.loads(json.dumps(evaluate_eligibility(KETAPAIN, {**ELIGIBLE, "pain_origin": "mixed"}).to_dict()))
    assert d["eligible"] is False and d["n_criteria"] == 18
    assert [f["id"] for f in d["failed"]] == ["inc_neuropathic_origin", "inc_dn4"]
    assert d["failed"][1] == {
        "id": "inc_dn4",
        "kind": "inclusion",
        "text": KETAPAIN.eligibility.criteria[5].text,
        "field": "dn4.total",
        "value": None,
        "rule": "dn4.total >= 4",
        "reason": "not answered",
    }


# --- screening frames ---------------------------------------------------------------------------


def test_evaluate_screening_frame() -> None:
    rows = [
        {"screening_id": "S01", **ELIGIBLE, **{f"dn4_{k}": v for k, v in DN4_FOUR.items()}},
        {"screening_id": "S02", **ELIGIBLE, "age": 16, **{f"dn4_{k}": v for k, v in DN4_THREE.items()}},
        {"screening_id": "S03", **ELIGIBLE, "unable_to_comply": None, **{f"dn4_{k}": v for k, v in DN4_FOUR.items()}},
    ]
    frame = pd.DataFrame(rows, index=[10, 11, 12])
    out = evaluate_screening(KETAPAIN, frame)
    assert list(out.columns) == ["screening_id", "eligible", "n_failed", "n_not_answered", "failed_ids"]
    assert out.index.tolist() == [10, 11, 12]
    assert out["eligible"].dtype == bool and out["n_failed"].dtype == np.int64 and out["n_not_answered"].dtype == np.int64
    assert out["eligible"].tolist() == [True, False, False]
    assert out["n_failed"].tolist() == [0, 2, 1]
    assert out["n_not_answered"].tolist() == [0, 0, 1]
    assert out["failed_ids"].tolist() == ["", "inc_age;inc_dn4", "exc_unable_to_comply"]


def test_evaluate_screening_reads_dn4_total_and_names_the_row() -> None:
    frame = pd.DataFrame([{**ELIGIBLE, "dn4_total": 5}, {**ELIGIBLE, "dn4_total": 2}])
    out = evaluate_screening(KETAPAIN, frame)
    assert "screening_id" not in out.columns and out["eligible"].tolist() == [True, False]
    bad = pd.DataFrame([{**ELIGIBLE, "dn4_total": 5}, {**ELIGIBLE, "dn4_total": 5, "age": "x"}])
    with pytest.raises(DataError, match=r"^screening row 3: criterion inc_age"):
        evaluate_screening(KETAPAIN, bad)


def test_evaluate_screening_empty_frame() -> None:
    out = evaluate_screening(AB_BA, pd.DataFrame({"age": []}))
    assert len(out) == 0 and out["eligible"].dtype == bool

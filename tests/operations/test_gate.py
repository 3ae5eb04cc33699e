"""The gate before periods 2+: proceed / postpone / escalate, and input validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketapain.errors import DataError, ProtocolError
from ketapain.operations._gate import period_gate
from ketapain.protocol import Protocol, load_protocol

KETAPAIN = load_protocol("ketapain")  # tolerance 2 points, max postponement 14 days, 3 periods
AB_BA = load_protocol("ab_ba_example")  # tolerance 1.5 points, max 7 days, 2 periods


def test_proceed_within_tolerance() -> None:
    g = period_gate(KETAPAIN, pain_today=6, pain_at_inclusion=7, period=2)
    assert g.decision == "proceed" and g.proceed
    assert g.difference == 1.0 and g.tolerance_points == 2.0
    assert g.summary() == "period 2: PROCEED: |6 - 7| = 1 points <= tolerance 2; proceed"


def test_tolerance_is_inclusive_and_robust_to_float_noise() -> None:
    assert period_gate(KETAPAIN, pain_today=5, pain_at_inclusion=7).decision == "proceed"  # |5 - 7| = 2 <= 2
    # 7.3 - 5.3 = 2.0000000000000004 in binary floating point: still 2 points
    assert period_gate(KETAPAIN, pain_today=7.3, pain_at_inclusion=5.3).decision == "proceed"
    assert period_gate(KETAPAIN, pain_today=7.4, pain_at_inclusion=5.3).decision == "postpone"  # 2.1 > 2


def test_postpone_with_reason() -> None:
    g = period_gate(KETAPAIN, pain_today=4.5, pain_at_inclusion=7, days_postponed=3)
    # |4.5 - 7| = 2.5 > 2; 14 - 3 = 11 days left
    assert g.decision == "postpone" and not g.proceed
    assert g.reason == "|4.5 - 7| = 2.5 points > tolerance 2; postpone and re-assess (up to 11 more days)"
    assert period_gate(KETAPAIN, pain_today=9.5, pain_at_inclusion=7, days_postponed=13).decision == "postpone"  # higher pain too


def test_escalate_after_max_postponement() -> None:
    g = period_gate(KETAPAIN, pain_today=3, pain_at_inclusion=7, days_postponed=14)
    assert g.decision == "escalate"
    assert g.reason.startswith("escalate: exceeds max postponement: |3 - 7| = 4 points > tolerance 2 after 14 days")
    # within tolerance on the last allowed day: proceed
    assert period_gate(KETAPAIN, pain_today=6, pain_at_inclusion=7, days_postponed=14).decision == "proceed"
    # already postponed beyond the limit: escalate whatever the pain
    late = period_gate(KETAPAIN, pain_today=7, pain_at_inclusion=7, days_postponed=15)
    assert late.decision == "escalate" and "already postponed 15 days" in late.reason


def test_ab_ba_settings() -> None:
    assert period_gate(AB_BA, pain_today=5.5, pain_at_inclusion=7).decision == "proceed"  # 1.5 <= 1.5
    assert period_gate(AB_BA, pain_today=5, pain_at_inclusion=7).decision == "postpone"  # 2 > 1.5
    assert period_gate(AB_BA, pain_today=5, pain_at_inclusion=7, days_postponed=7).decision == "escalate"
    with pytest.raises(DataError, match=r"period=3: the gate applies before periods 2\.\.2"):
        period_gate(AB_BA, pain_today=5, pain_at_inclusion=7, period=3)


@pytest.mark.parametrize(("today", "inclusion", "match"), [
    (11, 5, r"pain_today=11 is outside 0\.\.10"),
    (-1, 5, r"pain_today=-1 is outside 0\.\.10"),
    (5, 10.5, r"pain_at_inclusion=10\.5 is outside 0\.\.10"),
    (float("nan"), 5, "pain_today=nan is outside"),
    (True, 5, "pain_today=True is not a number"),
    ("5", 5, "pain_today='5' is not a number"),
])
def test_pain_validation(today: object, inclusion: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        period_gate(KETAPAIN, pain_today=today, pain_at_inclusion=inclusion)  # type: ignore[arg-type]


@pytest.mark.parametrize("days", [-1, 1.5, True])
def test_days_postponed_validation(days: object) -> None:
    with pytest.raises(DataError, match="days_postponed"):
        period_gate(KETAPAIN, pain_today=5, pain_at_inclusion=5, days_postponed=days)  # type: ignore[arg-type]


@pytest.mark.parametrize("period", [1, 0, 4])
def test_period_validation(period: int) -> None:
    with pytest.raises(DataError, match=r"the gate applies before periods 2\.\.3"):
        period_gate(KETAPAIN, pain_today=5, pain_at_inclusion=5, period=period)


def test_protocol_without_gate() -> None:
    data = KETAPAIN.model_dump(mode="json")
    data.pop("gate")
    with pytest.raises(ProtocolError, match=r"no \[gate\] section"):
        period_gate(Protocol.from_dict(data), pain_today=5, pain_at_inclusion=5)


def test_to_dict() -> None:
    d = period_gate(KETAPAIN, pain_today=4, pain_at_inclusion=7, period=3).to_dict()
    assert d == {"decision": "postpone", "reason": d["reason"], "pain_today": 4.0, "pain_at_inclusion": 7.0,
                 "difference": 3.0, "tolerance_points": 2.0, "days_postponed": 0, "max_postpone_days": 14, "period": 3}


pain = st.integers(0, 100).map(lambda x: x / 10)


@settings(max_examples=200, deadline=None)
@given(today=pain, inclusion=pain, days=st.integers(0, 20))
def test_decision_rule(today: float, inclusion: float, days: int) -> None:
    g = period_gate(KETAPAIN, pain_today=today, pain_at_inclusion=inclusion, days_postponed=days)
    swapped = period_gate(KETAPAIN, pain_today=inclusion, pain_at_inclusion=today, days_postponed=days)
    assert g.decision == swapped.decision  # symmetric in the two scores
    close = round(abs(today - inclusion), 6) <= 2
    if days > 14:
        assert g.decision == "escalate"
    elif close:
        assert g.decision == "proceed"
    else:
        assert g.decision == ("postpone" if days < 14 else "escalate")

"""The gate before periods 2 and later: is pain today close enough to pain at inclusion?

The reference study re-randomised a patient for the next period only if pain on that day was
similar to pain at inclusion. The protocol's ``[gate]`` says how similar
(``tolerance_points``) and how long the infusion may wait (``max_postpone_days``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from ketapain.errors import DataError, ProtocolError, parameter
from ketapain.protocol import Protocol

__all__ = ["GateDecision", "period_gate"]

Decision = Literal["proceed", "postpone", "escalate"]

_EPS = 1e-9  # pain scores are given to 0.1 at best; absorbs float noise such as 0.1 + 0.2


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's decision before an infusion of period 2 or later.

    Attributes
    ----------
    decision
        ``"proceed"``, ``"postpone"`` or ``"escalate"`` (see :func:`period_gate`).
    reason
        The reason in words, with the numbers.
    pain_today, pain_at_inclusion
        The scores compared (NRS points).
    difference
        ``|pain_today - pain_at_inclusion|``.
    tolerance_points, days_postponed, max_postpone_days
        The protocol's tolerance and limit, and the days already postponed.
    period
        The period about to start, if given.
    """

    decision: Decision
    reason: str
    pain_today: float
    pain_at_inclusion: float
    difference: float
    tolerance_points: float
    days_postponed: int
    max_postpone_days: int
    period: int | None = None

    @property
    def proceed(self) -> bool:
        """True when the infusion may go ahead today."""
        return self.decision == "proceed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the attributes."""
        return {"decision": self.decision, "reason": self.reason, "pain_today": self.pain_today,
                "pain_at_inclusion": self.pain_at_inclusion, "difference": self.difference,
                "tolerance_points": self.tolerance_points, "days_postponed": self.days_postponed,
                "max_postpone_days": self.max_postpone_days, "period": self.period}

    def summary(self) -> str:
        """One line: the decision in capitals and the reason."""
        where = f"period {self.period}: " if self.period is not None else ""
        return f"{where}{self.decision.upper()}: {self.reason}"


def _pain(name: str, value: float, low: int, high: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(template=parameter(name, valued=True) + " is not a number", params={name: value})
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise DataError(template=parameter(name, f"{value:g}") + " is outside {low}..{high} (the diary scale)",
                        params={"low": low, "high": high})
    return value


def period_gate(
    protocol: Protocol,
    *,
    pain_today: float,
    pain_at_inclusion: float,
    days_postponed: int = 0,
    period: int | None = None,
) -> GateDecision:
    """Decide whether the infusion of period 2, 3, ... may go ahead today.

    Parameters
    ----------
    protocol
        The study protocol; its ``[gate]`` section gives ``tolerance_points`` and
        ``max_postpone_days``.
    pain_today
        Pain today, before the infusion, on the diary scale (0..10 in the reference study).
    pain_at_inclusion
        Pain at the inclusion visit, same scale.
    days_postponed
        Days this infusion has already been postponed (0 on the scheduled day).
    period
        The period about to start (optional; must be 2..periods when given).

    Returns
    -------
    GateDecision

    Raises
    ------
    ProtocolError
        The protocol has no ``[gate]`` section.
    DataError
        A pain score not a number or outside the diary scale; ``days_postponed`` negative or
        not an integer; ``period`` not in 2..periods.

    Notes
    -----
    With ``d = |pain_today - pain_at_inclusion|``, ``t = tolerance_points`` and
    ``m = max_postpone_days``:

    * ``days_postponed > m``: **escalate** (already beyond the allowed postponement);
    * ``d <= t``: **proceed**;
    * ``d > t`` and ``days_postponed < m``: **postpone** (re-assess within the
      ``m - days_postponed`` days left);
    * ``d > t`` and ``days_postponed == m``: **escalate: exceeds max postponement** — the
      infusion cannot wait longer; the investigator decides what the protocol prescribes
      (e.g. withdrawal from the remaining periods). The software does not decide it.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> p = load_protocol("ketapain")  # tolerance 2 points, postpone up to 14 days
    >>> period_gate(p, pain_today=6, pain_at_inclusion=7).decision
    'proceed'
    >>> period_gate(p, pain_today=3, pain_at_inclusion=7).summary()
    'POSTPONE: |3 - 7| = 4 points > tolerance 2; postpone and re-assess (up to 14 more days)'
    >>> period_gate(p, pain_today=3, pain_at_inclusion=7, days_postponed=14).decision
    'escalate'
    """
    gate = protocol.gate
    if gate is None:
        raise ProtocolError(f"protocol {protocol.study.id!r} has no [gate] section (tolerance_points, max_postpone_days)")
    low, high = protocol.diary.scale_min, protocol.diary.scale_max
    today = _pain("pain_today", pain_today, low, high)
    inclusion = _pain("pain_at_inclusion", pain_at_inclusion, low, high)
    if isinstance(days_postponed, bool) or not isinstance(days_postponed, int) or days_postponed < 0:
        raise DataError(template="{@days_postponed=} is not an integer >= 0", params={"days_postponed": days_postponed})
    n_periods = protocol.design.periods
    if period is not None and (isinstance(period, bool) or not isinstance(period, int) or not 2 <= period <= n_periods):
        raise DataError(template="{@period=}: the gate applies before periods 2..{n_periods}",
                        params={"period": period, "n_periods": n_periods})
    diff = abs(today - inclusion)
    tol, limit = gate.tolerance_points, gate.max_postpone_days
    compared = f"|{today:g} - {inclusion:g}| = {diff:g} points"
    if days_postponed > limit:
        decision: Decision = "escalate"
        reason = (f"escalate: exceeds max postponement: already postponed {days_postponed} days, "
                  f"more than max_postpone_days = {limit}; the investigator decides")
    elif diff <= tol + _EPS:
        decision = "proceed"
        reason = f"{compared} <= tolerance {tol:g}; proceed"
    elif days_postponed < limit:
        decision = "postpone"
        reason = f"{compared} > tolerance {tol:g}; postpone and re-assess (up to {limit - days_postponed} more days)"
    else:
        decision = "escalate"
        reason = (f"escalate: exceeds max postponement: {compared} > tolerance {tol:g} after "
                  f"{days_postponed} days postponed (max_postpone_days = {limit}); the investigator decides")
    return GateDecision(decision=decision, reason=reason, pain_today=today, pain_at_inclusion=inclusion,
                        difference=diff, tolerance_points=tol, days_postponed=days_postponed,
                        max_postpone_days=limit, period=period)

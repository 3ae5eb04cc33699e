"""Screening with eligibility (``operations.evaluate_eligibility``) and DN4 scoring."""

from __future__ import annotations

from sqlalchemy import func, select

from ketapain.capture import audit
from ketapain.capture.models import Screening
from ketapain.capture.schemas import ScreeningCreate
from ketapain.capture.services._context import Context
from ketapain.operations import evaluate_eligibility

__all__ = ["list_screenings", "screen"]


def screen(ctx: Context, data: ScreeningCreate) -> Screening:
    """Evaluate eligibility of one screened person and log it.

    ``outcome``: ``not_eligible`` when a criterion fails; otherwise ``refused``/``other`` if
    given, else ``other`` with reason ``awaiting randomisation`` until :func:`randomise`
    sets ``randomised``. Raises DataError (422) for answers of the wrong type.
    """
    ctx.require("screening.write")
    result = evaluate_eligibility(ctx.protocol, data.answers, dn4_items=data.dn4_items)
    dn4 = result.scores.get("dn4.total", data.answers.get("dn4_total"))
    n = ctx.session.execute(select(func.count(Screening.id))).scalar() or 0
    reason: str | None
    if not result.eligible:
        outcome, reason = "not_eligible", "; ".join(f"{f.id}: {f.reason}" for f in result.failed)
    else:
        outcome = data.outcome or "other"
        reason = data.reason or ("awaiting randomisation" if data.outcome is None else None)
    return audit.create(ctx.session, ctx.actor, Screening(
        screening_id=f"S{n + 1:03d}", screening_date=data.screening_date, answers=dict(data.answers),
        dn4_items=data.dn4_items, dn4_total=None if dn4 is None else int(dn4), eligible=result.eligible,
        failed=[f.to_dict() for f in result.failed], outcome=outcome, reason=reason, patient_id=None, status="active"))


def list_screenings(ctx: Context) -> list[Screening]:
    ctx.require("patients.read")
    return list(ctx.session.execute(select(Screening).order_by(Screening.id)).scalars())

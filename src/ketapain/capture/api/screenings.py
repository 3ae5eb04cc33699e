"""``/api/v1/screenings``: screen a person (eligibility and DN4), list screenings, correct one
(``PATCH``, with a reason; eligibility evaluated again)."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, IncludeEnteredInError, PathStr
from ketapain.capture.schemas import ScreeningChange, ScreeningCreate, ScreeningPublic
from ketapain.capture.services import screening

router = APIRouter(tags=["screenings"])


@router.post("/screenings", response_model=ScreeningPublic, status_code=201)
def screen(body: ScreeningCreate, ctx: CtxDep):
    s = screening.screen(ctx, body)
    ctx.session.commit()
    return s


@router.get("/screenings", response_model=list[ScreeningPublic])
def list_screenings(ctx: CtxDep, include_entered_in_error: IncludeEnteredInError = False) -> list:
    return screening.list_screenings(ctx, include_entered_in_error=include_entered_in_error)


@router.patch("/screenings/{screening_id}", response_model=ScreeningPublic)
def change_screening(screening_id: PathStr, body: ScreeningChange, ctx: CtxDep):
    """Correct the date, answers (merged; ``null`` clears one) or DN4 answers; eligibility and
    the outcome are evaluated again. Reason required."""
    out = screening.change_screening(ctx, screening_id, body)
    ctx.session.commit()
    return out

"""``/api/v1/screenings``: screen a person (eligibility and DN4), list screenings."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.schemas import ScreeningCreate, ScreeningPublic
from ketapain.capture.services import screening

router = APIRouter(tags=["screenings"])


@router.post("/screenings", response_model=ScreeningPublic, status_code=201)
def screen(body: ScreeningCreate, ctx: CtxDep):
    s = screening.screen(ctx, body)
    ctx.session.commit()
    return s


@router.get("/screenings", response_model=list[ScreeningPublic])
def list_screenings(ctx: CtxDep) -> list:
    return screening.list_screenings(ctx)

"""``/api/v1/concomitant``: record, list and change concomitant treatments."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, IncludeEnteredInError, PathInt, QueryStr
from ketapain.capture.schemas import ConcomitantCreate, ConcomitantPublic, ConcomitantUpdate
from ketapain.capture.services import adverse_events

router = APIRouter(tags=["concomitant"])


@router.post("/concomitant", response_model=ConcomitantPublic, status_code=201)
def add_cm(body: ConcomitantCreate, ctx: CtxDep):
    out = adverse_events.add_concomitant(ctx, body)
    ctx.session.commit()
    return out


@router.get("/concomitant", response_model=list[ConcomitantPublic])
def list_cm(ctx: CtxDep, patient_id: QueryStr = None, include_entered_in_error: IncludeEnteredInError = False) -> list:
    return adverse_events.list_concomitant(ctx, patient_id, include_entered_in_error=include_entered_in_error)


@router.patch("/concomitant/{record_id}", response_model=ConcomitantPublic)
def update_cm(record_id: PathInt, body: ConcomitantUpdate, ctx: CtxDep):
    out = adverse_events.change_concomitant(ctx, record_id, body)
    ctx.session.commit()
    return out

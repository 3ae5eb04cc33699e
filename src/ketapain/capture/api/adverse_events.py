"""``/api/v1/adverse-events``: record, list and change adverse events."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, IncludeEnteredInError, PathStr, QueryStr
from ketapain.capture.schemas import AdverseEventCreate, AdverseEventPublic, AdverseEventUpdate
from ketapain.capture.services import adverse_events

router = APIRouter(tags=["adverse events"])


@router.post("/adverse-events", response_model=AdverseEventPublic, status_code=201)
def create_ae(body: AdverseEventCreate, ctx: CtxDep):
    out = adverse_events.create_event(ctx, body)
    ctx.session.commit()
    return out


@router.get("/adverse-events", response_model=list[AdverseEventPublic])
def list_ae(ctx: CtxDep, patient_id: QueryStr = None, include_entered_in_error: IncludeEnteredInError = False) -> list:
    return adverse_events.list_events(ctx, patient_id, include_entered_in_error=include_entered_in_error)


@router.patch("/adverse-events/{event_id}", response_model=AdverseEventPublic)
def update_ae(event_id: PathStr, body: AdverseEventUpdate, ctx: CtxDep):
    out = adverse_events.change_event(ctx, event_id, body)
    ctx.session.commit()
    return out

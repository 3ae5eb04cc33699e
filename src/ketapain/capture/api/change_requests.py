"""``/api/v1/change-requests``: the two-person rule for lock, unlock, role grants and password
resets (request by one admin, approval by another admin or the statistician; the requester
cannot approve; an approved reset's one-time code is in the approver's answer only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ketapain.capture.api.deps import CtxDep, PathInt
from ketapain.capture.schemas import ChangeApproval, ChangeRejection, ChangeRequestCreate, ChangeRequestPublic
from ketapain.capture.services import approvals

router = APIRouter(tags=["change_requests"])


@router.get("/change-requests")
def list_changes(ctx: CtxDep, status: Annotated[Literal["pending", "approved", "rejected", "withdrawn"] | None, Query()] = None,
                 ) -> list[ChangeRequestPublic]:
    return [ChangeRequestPublic.model_validate(r) for r in approvals.list_changes(ctx, status=status)]


@router.post("/change-requests", status_code=201)
def request_change(body: ChangeRequestCreate, ctx: CtxDep) -> ChangeRequestPublic:
    req = approvals.request_change(ctx, body)
    ctx.session.commit()
    return ChangeRequestPublic.model_validate(req)


@router.post("/change-requests/{request_id}/approve")
def approve_change(request_id: PathInt, body: ChangeApproval, ctx: CtxDep) -> ChangeRequestPublic:
    done = approvals.approve_change(ctx, request_id, body)
    ctx.session.commit()
    return ChangeRequestPublic.model_validate(done.request).model_copy(update={"reset_code": done.reset_code})


@router.post("/change-requests/{request_id}/reject")
def reject_change(request_id: PathInt, body: ChangeRejection, ctx: CtxDep) -> ChangeRequestPublic:
    req = approvals.reject_change(ctx, request_id, body)
    ctx.session.commit()
    return ChangeRequestPublic.model_validate(req)

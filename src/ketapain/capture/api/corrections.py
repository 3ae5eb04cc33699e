"""``/api/v1/records/{table_name}/{record_id}/entered-in-error``: the soft "entered in error"
status of a captured record, with a reason (one endpoint for every correctable table)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathInt
from ketapain.capture.schemas import EnteredInError, EnteredInErrorPublic
from ketapain.capture.services import corrections

router = APIRouter(tags=["corrections"])

TableName = Literal["visits", "questionnaire_responses", "screenings", "adverse_events", "concomitant", "patients"]


@router.post("/records/{table_name}/{record_id}/entered-in-error", response_model=EnteredInErrorPublic)
def entered_in_error(table_name: TableName, record_id: PathInt, body: EnteredInError, ctx: CtxDep) -> EnteredInErrorPublic:
    """Mark a record (``record_id`` = the ``id`` of the record) as entered in error: audited with
    the reason, never deleted; it leaves lists and the export, its open queries are closed with
    the reason and the casebook's signatures are voided. Same role as creating the record; 409
    when locked, already entered in error, or a randomised patient / enrolled screening."""
    obj, closed = corrections.enter_in_error(ctx, table_name, record_id, body.reason)
    ctx.session.commit()
    return EnteredInErrorPublic(table_name=table_name, record_id=obj.id, status=corrections.ENTERED_IN_ERROR,
                                queries_closed=[q.id for q in closed])

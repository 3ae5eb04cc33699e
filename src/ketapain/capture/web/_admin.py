"""Data queries, database lock/unlock, emergency unblinding, the audit log and the export."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from ketapain.capture.api.export import export_zip
from ketapain.capture.models import AUDITED_TABLES
from ketapain.capture.roles import BLINDED_FIELDS
from ketapain.capture.schemas import (
    ChangeApproval,
    ChangeRejection,
    ChangeRequestCreate,
    QueryAnswer,
    QueryClose,
    QueryCreate,
)
from ketapain.capture.services import approvals, audit_log, lock, queries, unblinding
from ketapain.capture.web._common import PageDep, form_int, verify_form
from ketapain.capture.web._patients import own_unblindings

router = APIRouter()
QUERY_TABLES = sorted(t for t in AUDITED_TABLES if t not in BLINDED_FIELDS and t not in ("users", "study", "patient_tokens",
                                                                                        "signatures", "unblindings", "notifications",
                                                                                        "data_queries"))
"""Tables a data query may refer to (never a table with blinded columns)."""


def _go(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/queries")
def queries_page(page: PageDep) -> Response:
    status = page.request.query_params.get("status") or None
    return page.render("queries.html", queries=queries.list_queries(page.ctx, status=status), tables=QUERY_TABLES, qstatus=status,
                       prefill=dict(page.request.query_params))


@router.post("/queries")
async def query_raise(page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("queries.raise")
    queries.raise_query(page.ctx, QueryCreate.model_validate({
        "table_name": form.get("table_name", ""), "record_id": form.get("record_id", ""), "field": form.get("field"),
        "text": form.get("text", "")}))
    page.commit()
    back = form.get("next") or ""
    local = re.fullmatch(r"/patients/[A-Za-z0-9_.-]+/records/[a-z_]+/\d+", back) is not None  # never an outside address
    return _go(f"{back}?msg=saved#record-queries" if local else "/queries?msg=saved")


@router.post("/queries/{query_id}/answer")
async def query_answer(query_id: int, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("queries.answer")
    queries.answer_query(page.ctx, query_id, QueryAnswer(answer=form.get("answer", "")))
    page.commit()
    return _go("/queries?msg=saved")


@router.post("/queries/{query_id}/close")
async def query_close(query_id: int, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    queries.close_query(page.ctx, query_id, QueryClose(reason=form.get("reason")))
    page.commit()
    return _go("/queries?msg=saved")


@router.get("/lock")
def lock_page(page: PageDep) -> Response:
    """Lock state; under the two-person rule: request, approve, reject or withdraw (admin,
    statistician); otherwise the single-admin lock and unlock forms."""
    if not page.can("changes.approve"):
        page.ctx.require("lock")
    two = lock.two_person_rule(page.ctx)
    changes = approvals.list_changes(page.ctx) if two else []
    return page.render("lock.html", lock=lock.lock_status(page.ctx), two_person=two, me=page.ctx.actor.username,
                       pending=[c for c in changes if c.status == "pending"], decided=[c for c in changes if c.status != "pending"][:20])


@router.post("/lock")
async def lock_submit(page: PageDep) -> Response:
    """``action=lock`` (reason) or ``action=unlock`` (password re-entry and reason); refused
    (403) under the two-person rule: see ``/lock/requests``."""
    form = await verify_form(page.request, page.csrf)
    if form.get("action") == "unlock":
        lock.unlock_database(page.ctx, password=form.get("password", ""), reason=form.get("reason", ""))
    else:
        lock.lock_database(page.ctx, reason=form.get("reason", ""))
    page.commit()
    return _go("/lock?msg=saved")


@router.post("/lock/requests")
async def change_request(page: PageDep) -> Response:
    """An admin asks for a lock or an unlock (password re-entry and reason)."""
    form = await verify_form(page.request, page.csrf)
    approvals.request_change(page.ctx, ChangeRequestCreate.model_validate({
        "action": form.get("action", ""), "reason": form.get("reason", ""), "password": form.get("password", "")}))
    page.commit()
    return _go("/lock?msg=requested")


@router.post("/lock/requests/{request_id}/approve")
async def change_approve(request_id: int, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    done = approvals.approve_change(page.ctx, request_id, ChangeApproval.model_validate({
        "password": form.get("password", ""), "reason": form.get("reason") or None}))
    page.commit()
    if done.reset_code is not None:  # shown once, to the approver only
        return page.render("reset_code.html", target=done.request.target_user, reset_code=done.reset_code)
    return _go("/lock?msg=approved")


@router.post("/lock/requests/{request_id}/reject")
async def change_reject(request_id: int, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    approvals.reject_change(page.ctx, request_id, ChangeRejection.model_validate({"reason": form.get("reason", "")}))
    page.commit()
    return _go("/lock?msg=saved")


@router.get("/unblinding")
def unblinding_page(page: PageDep) -> Response:
    page.ctx.require("unblind.emergency")
    return page.render("unblinding.html", revealed=own_unblindings(page), arms={a.code: a.name for a in page.ctx.protocol.arms},
                       prefill=dict(page.request.query_params))


@router.post("/unblinding")
async def unblinding_submit(page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    unblinding.emergency_unblind(page.ctx, form.get("patient_id", ""), form_int(form, "period"), reason=form.get("reason", ""),
                                 password=form.get("password", ""))
    page.commit()
    return _go("/unblinding?msg=unblinded")


@router.get("/audit")
def audit_page(page: PageDep) -> Response:
    q = page.request.query_params
    offset = max(int(q.get("offset", "0") or 0), 0)
    rows = audit_log.read_audit(page.ctx, table=q.get("table") or None, record_id=q.get("record_id") or None, limit=100, offset=offset)
    return page.render("audit.html", rows=rows, offset=offset, table=q.get("table") or "", record_id=q.get("record_id") or "",
                       tables=sorted(AUDITED_TABLES))


@router.post("/export")
async def export_download(page: PageDep) -> Response:
    """The TrialData folder as a zip (unblinded roles only: the service refuses the others)."""
    await verify_form(page.request, page.csrf)
    return export_zip(page.ctx)

"""``/api/v1``: data queries, lock/unlock, export (zip of a TrialData folder), audit log."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.schemas import LockRequest, QueryAnswer, QueryClose, QueryCreate, QueryPublic, UnlockRequest
from ketapain.capture.services import audit_log, export, lock, queries

router = APIRouter(tags=["admin"])


@router.post("/queries", response_model=QueryPublic, status_code=201)
def raise_query(body: QueryCreate, ctx: CtxDep):  # noqa: ANN201
    q = queries.raise_query(ctx, body)
    ctx.session.commit()
    return q


@router.get("/queries", response_model=list[QueryPublic])
def list_queries(ctx: CtxDep, status: str | None = None) -> list:
    return queries.list_queries(ctx, status=status)


@router.post("/queries/{query_id}/answer", response_model=QueryPublic)
def answer_query(query_id: int, body: QueryAnswer, ctx: CtxDep):  # noqa: ANN201
    q = queries.answer_query(ctx, query_id, body)
    ctx.session.commit()
    return q


@router.post("/queries/{query_id}/close", response_model=QueryPublic)
def close_query(query_id: int, body: QueryClose, ctx: CtxDep):  # noqa: ANN201
    q = queries.close_query(ctx, query_id, body)
    ctx.session.commit()
    return q


@router.get("/lock")
def lock_status(ctx: CtxDep) -> dict[str, Any]:
    return lock.lock_status(ctx)


@router.post("/lock")
def lock_db(body: LockRequest, ctx: CtxDep) -> dict[str, Any]:
    lock.lock_database(ctx, reason=body.reason)
    ctx.session.commit()
    return lock.lock_status(ctx)


@router.post("/unlock")
def unlock_db(body: UnlockRequest, ctx: CtxDep) -> dict[str, Any]:
    lock.unlock_database(ctx, password=body.password, reason=body.reason)
    ctx.session.commit()
    return lock.lock_status(ctx)


@router.get("/export")
def export_zip(ctx: CtxDep) -> Response:
    """A zip of the TrialData folder (CSV); ``ketapain analyze`` reads it unzipped."""
    data = export.export_trial(ctx)
    ctx.session.commit()
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "trial"
        data.write(folder)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.iterdir()):
                zf.write(f, f"trial/{f.name}")
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="trial.zip"'})


@router.get("/audit")
def read_audit(ctx: CtxDep, table: str | None = None, record_id: str | None = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    return audit_log.read_audit(ctx, table=table, record_id=record_id, limit=min(max(limit, 1), 5000), offset=max(offset, 0))

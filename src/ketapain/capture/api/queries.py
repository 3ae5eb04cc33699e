"""``/api/v1/queries``: data queries (raise, list, answer, close)."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathInt, QueryStr
from ketapain.capture.schemas import QueryAnswer, QueryClose, QueryCreate, QueryPublic
from ketapain.capture.services import queries

router = APIRouter(tags=["queries"])


@router.post("/queries", response_model=QueryPublic, status_code=201)
def raise_query(body: QueryCreate, ctx: CtxDep):
    q = queries.raise_query(ctx, body)
    ctx.session.commit()
    return q


@router.get("/queries", response_model=list[QueryPublic])
def list_queries(ctx: CtxDep, status: QueryStr = None) -> list:
    return queries.list_queries(ctx, status=status)


@router.post("/queries/{query_id}/answer", response_model=QueryPublic)
def answer_query(query_id: PathInt, body: QueryAnswer, ctx: CtxDep):
    q = queries.answer_query(ctx, query_id, body)
    ctx.session.commit()
    return q


@router.post("/queries/{query_id}/close", response_model=QueryPublic)
def close_query(query_id: PathInt, body: QueryClose, ctx: CtxDep):
    q = queries.close_query(ctx, query_id, body)
    ctx.session.commit()
    return q

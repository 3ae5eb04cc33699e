"""Data queries: raise (monitor, statistician, admin), answer (site staff), close."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import AUDITED_TABLES, DataQuery
from ketapain.capture.roles import BLINDED_FIELDS
from ketapain.capture.schemas import QueryAnswer, QueryClose, QueryCreate
from ketapain.capture.services._context import Context
from ketapain.errors import Conflict, DataError, NotFound, PermissionDenied

__all__ = ["answer_query", "close_query", "list_queries", "raise_query"]


def raise_query(ctx: Context, data: QueryCreate) -> DataQuery:
    ctx.require("queries.raise")
    model = AUDITED_TABLES.get(data.table_name)
    if model is None or data.table_name in BLINDED_FIELDS:
        raise NotFound(f"table_name={data.table_name!r} is not a data table a query can refer to")
    rec = ctx.session.get(model, data.record_id)
    if rec is None:
        raise NotFound(f"{data.table_name} record {data.record_id} not found")
    if data.field is not None:
        _check_field(model, data.table_name, data.field)
    return audit.create(ctx.session, ctx.actor, DataQuery(
        table_name=data.table_name, record_id=data.record_id, field=data.field, patient_id=getattr(rec, "patient_id", None),
        text=data.text, raised_by=ctx.actor.username, status="open"))


def _check_field(model: Any, table: str, field: str) -> None:
    """``field`` must name a column of the record (``answers.<item>`` for an item of a JSON
    column such as a questionnaire's answers): a query on a field that does not exist could never
    be closed by its correction. :class:`DataError` naming the field and what is allowed."""
    columns = {c.key: c for c in model.__mapper__.column_attrs if c.key != "id"}
    base, dot, item = field.partition(".")
    json_columns = sorted(k for k, c in columns.items() if c.columns[0].type.__class__.__name__ == "JSON")
    if base not in columns or (dot and (base not in json_columns or not item)):
        allowed = ", ".join([*sorted(columns), *(f"{k}.<item>" for k in json_columns)])
        raise DataError(f"field={field!r} is not a field of {table}; allowed: {allowed}", column="field", value=field,
                        allowed=allowed)


def _query(ctx: Context, query_id: int) -> DataQuery:
    return ctx.one(DataQuery, "data query", id=query_id)


def answer_query(ctx: Context, query_id: int, data: QueryAnswer) -> DataQuery:
    ctx.require("queries.answer")
    q = _query(ctx, query_id)
    if q.status == "closed":
        raise Conflict(f"query {query_id} is closed")
    audit.update(ctx.session, ctx.actor, q, {"answer": data.answer, "answered_by": ctx.actor.username, "status": "answered"},
                 reason="query answered")
    return q


def close_query(ctx: Context, query_id: int, data: QueryClose) -> DataQuery:
    ctx.require("queries.close")
    q = _query(ctx, query_id)
    if q.status == "closed":
        raise Conflict(f"query {query_id} is already closed")
    audit.update(ctx.session, ctx.actor, q, {"closed_by": ctx.actor.username, "status": "closed"}, reason=data.reason or "query closed")
    return q


def list_queries(ctx: Context, *, status: str | None = None) -> list[DataQuery]:
    if ctx.actor.role == "patient":
        raise PermissionDenied("the patient role may not do this (queries)")
    q = select(DataQuery).order_by(DataQuery.id)
    if status is not None:
        q = q.where(DataQuery.status == status)
    return list(ctx.session.execute(q).scalars())

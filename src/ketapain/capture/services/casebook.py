"""The casebook grid of one patient (visit x form, as in REDCap or Castor) and the field view of
one record (from which a data query is raised on a field).

Grid rows, in time order: ``baseline`` (adverse events and concomitant treatments of period 0),
then each protocol visit (nominal day ``visits.day``) and each period (nominal start
``(k - 1) x gap``; a visit comes before a period starting the same day). Columns: ``visit`` (the
visit record), ``infusion``, ``diary``, ``adverse_events``, ``concomitant`` (period forms), then
the questionnaires of the protocol (each expected only at the visits that list it). A cell the protocol does not
expect is absent (``None``).

Each cell: ``status`` — ``not_started``, ``complete``, ``out_of_window`` (a visit recorded out of
its window, ``services.visits``), ``in_progress`` (a diary with some of its days), ``none`` or
``recorded`` (adverse events and concomitant treatments, which have no expected number);
``records`` (table and ids, active records only), ``open_queries`` (queries on those records
that are not closed: open or answered), ``detail`` (a date, ``12/35``, a count) and ``link``
(the page of the record, or its entry form when there is none and the role may enter it, else
the casebook's section). The grid holds no allocation
data (no arm, sequence or kit) for any role. The casebook's signature status (``signed``,
``voided``, ``unsigned``) comes with it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import select

from ketapain.capture import roles
from ketapain.capture.models import (
    AdverseEvent,
    Base,
    Concomitant,
    DataQuery,
    DiaryEntry,
    Infusion,
    Patient,
    QuestionnaireResponse,
    Signature,
    VisitRecord,
)
from ketapain.capture.schemas import DB_INT_MAX
from ketapain.capture.services import visits
from ketapain.capture.services._context import Context
from ketapain.errors import NotFound

__all__ = ["RECORD_TABLES", "grid", "record_view"]

RECORD_TABLES: dict[str, type[Base]] = {m.__tablename__: m for m in (
    VisitRecord, QuestionnaireResponse, Infusion, DiaryEntry, AdverseEvent, Concomitant, Patient)}
"""Tables whose records have a field view (and a cell in the grid); none holds allocation data."""

_HIDDEN = frozenset({"id", "patient_id", "status"})
"""Columns not shown as fields of a record (they identify it)."""

PERIOD_FORMS = ("infusion", "diary", "adverse_events", "concomitant")


def _open_queries(ctx: Context, patient_id: str) -> Counter[tuple[str, int]]:
    rows = ctx.session.execute(select(DataQuery.table_name, DataQuery.record_id).where(
        DataQuery.patient_id == patient_id, DataQuery.status != "closed")).all()
    return Counter((t, r) for t, r in rows)


def _active(ctx: Context, model: Any, patient_id: str) -> list[Any]:
    return list(ctx.session.execute(select(model).where(model.patient_id == patient_id, model.status == "active")
                                    .order_by(model.id)).scalars())


def _cell(status: str, table: str, ids: list[int], queries: Counter[tuple[str, int]], *, detail: str | None,
          link: str) -> dict[str, Any]:
    return {"status": status, "records": {"table": table, "ids": ids}, "open_queries": sum(queries[(table, i)] for i in ids),
            "detail": detail, "link": link}


def _record_link(pid: str, table: str, ids: list[int], fallback: str) -> str:
    return f"/patients/{pid}/records/{table}/{ids[0]}" if len(ids) == 1 else fallback


def _visit_row(pid: str, v: dict[str, Any], responses: dict[tuple[str, str], int], q: Counter[tuple[str, int]], *,
               can_enter: bool) -> dict[str, Any]:
    ids = [v["record_id"]] if v["record_id"] is not None else []
    status = "not_started" if not ids else "out_of_window" if v["out_of_window"] else "complete"
    detail = v["visit_date"].isoformat() if v["visit_date"] else (
        f"{v['window_first'].isoformat()} – {v['window_last'].isoformat()}" if v["window_first"] else None)
    cells: dict[str, Any] = {"visit": _cell(status, "visits", ids, q, detail=detail,
                                            link=_record_link(pid, "visits", ids, f"/patients/{pid}#visits"))}
    for name in v["questionnaires"]:
        rid = responses.get((v["visit"], name))
        qids = [rid] if rid is not None else []
        form = f"/patients/{pid}/questionnaire?visit={v['visit']}&instrument={name}" if can_enter else f"/patients/{pid}#questionnaires"
        cells[name] = _cell("complete" if qids else "not_started", "questionnaire_responses", qids, q, detail=None,
                            link=_record_link(pid, "questionnaire_responses", qids, form))
    return {"row": v["visit"], "kind": "visit", "day": v["day"], "period": v["period"], "cells": cells}


def _counted(pid: str, table: str, rows: list[Any], q: Counter[tuple[str, int]], anchor: str) -> dict[str, Any]:
    ids = [r.id for r in rows]
    return _cell("recorded" if ids else "none", table, ids, q, detail=str(len(ids)) if ids else None,
                 link=_record_link(pid, table, ids, f"/patients/{pid}#{anchor}"))


def _period_row(ctx: Context, pid: str, period: int, data: dict[str, list[Any]], q: Counter[tuple[str, int]]) -> dict[str, Any]:
    of = {name: [r for r in rows if r.period == period] for name, rows in data.items()}
    cells: dict[str, Any] = {
        "adverse_events": _counted(pid, "adverse_events", of["adverse_events"], q, "adverse-events"),
        "concomitant": _counted(pid, "concomitant", of["concomitant"], q, "concomitant")}
    if period == 0:
        return {"row": "baseline", "kind": "baseline", "day": None, "period": 0, "cells": cells}
    inf = [r.id for r in of["infusions"]]
    cells["infusion"] = _cell("complete" if inf else "not_started", "infusions", inf, q,
                              detail=of["infusions"][0].infusion_date.isoformat() if inf else None,
                              link=_record_link(pid, "infusions", inf, f"/patients/{pid}#infusions"))
    days = ctx.protocol.diary.days_per_period
    got = [r.id for r in of["diary"]]
    status = "not_started" if not got else "complete" if len(got) >= days else "in_progress"
    cells["diary"] = _cell(status, "diary_entries", got, q, detail=f"{len(got)}/{days}", link=f"/patients/{pid}#diary")
    gap = ctx.protocol.design.period_days + (ctx.protocol.design.washout_days or 0)
    return {"row": f"period_{period}", "kind": "period", "day": (period - 1) * gap, "period": period,
            "cells": {k: cells[k] for k in PERIOD_FORMS}}


def _signature(ctx: Context, patient_id: str) -> dict[str, Any]:
    last = ctx.session.execute(select(Signature).where(Signature.patient_id == patient_id)
                               .order_by(Signature.id.desc())).scalars().first()
    if last is None:
        return {"status": "unsigned", "signed_by": None, "signed_at": None, "void_reason": None}
    return {"status": "signed" if last.status == "valid" else "voided", "signed_by": last.full_name,
            "signed_at": last.signed_at, "void_reason": last.void_reason}


def grid(ctx: Context, patient_id: str) -> dict[str, Any]:
    """The visit x form grid of one patient (module docstring); JSON-safe."""
    ctx.require("patients.read")
    ctx.patient(patient_id)
    q = _open_queries(ctx, patient_id)
    responses = {(r.visit, r.instrument): r.id for r in _active(ctx, QuestionnaireResponse, patient_id)}
    data = {"infusions": _active(ctx, Infusion, patient_id), "diary": _active(ctx, DiaryEntry, patient_id),
            "adverse_events": _active(ctx, AdverseEvent, patient_id), "concomitant": _active(ctx, Concomitant, patient_id)}
    enter = roles.can(ctx.actor.role, "questionnaires.write")
    rows = [_visit_row(patient_id, v, responses, q, can_enter=enter) for v in visits.schedule(ctx, patient_id)]
    rows += [_period_row(ctx, patient_id, p, data, q) for p in range(1, ctx.protocol.design.periods + 1)]
    rows.sort(key=lambda r: (r["day"], r["kind"] == "period"))
    rows.insert(0, _period_row(ctx, patient_id, 0, data, q))
    instruments = list(dict.fromkeys(name for v in ctx.protocol.visits for name in v.questionnaires))
    in_cells = sum(c["open_queries"] for r in rows for c in r["cells"].values())
    return {"patient_id": patient_id, "columns": ["visit", *PERIOD_FORMS, *instruments], "rows": rows,
            "signature": _signature(ctx, patient_id), "open_queries": sum(q.values()),
            "open_queries_elsewhere": sum(q.values()) - in_cells}


def _value(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.date) else v


def record_view(ctx: Context, patient_id: str, table: str, record_id: int) -> dict[str, Any]:
    """One record of the patient as fields (``{"field", "value"}``; a JSON column such as a
    questionnaire's ``answers`` gives one field per key, ``answers.3``) with its queries."""
    ctx.require("patients.read")
    ctx.patient(patient_id)
    model = RECORD_TABLES.get(table)
    rec: Any = ctx.session.get(model, record_id) if model is not None and 0 < record_id <= DB_INT_MAX else None
    if rec is None or getattr(rec, "patient_id", None) != patient_id:
        raise NotFound(f"{table} record {record_id} of patient {patient_id} not found")
    fields: list[dict[str, Any]] = []
    for col in rec.__table__.columns:
        if col.name in _HIDDEN:
            continue
        value = getattr(rec, col.name)
        if isinstance(value, dict):
            fields += [{"field": f"{col.name}.{k}", "value": _value(v)} for k, v in value.items()]
        else:
            fields.append({"field": col.name, "value": _value(value)})
    found = ctx.session.execute(select(DataQuery).where(DataQuery.table_name == table, DataQuery.record_id == record_id)
                                .order_by(DataQuery.id)).scalars()
    return {"patient_id": patient_id, "table": table, "record_id": record_id, "status": rec.status, "fields": fields,
            "queries": [{"id": d.id, "field": d.field, "text": d.text, "status": d.status, "raised_by": d.raised_by,
                         "answer": d.answer} for d in found]}

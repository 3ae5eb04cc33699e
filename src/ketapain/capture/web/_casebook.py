"""The casebook grid page (visit x form: completion, open queries, signature) and the field
view of one record, where each field value has a link that raises a data query on it."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from ketapain.capture.services import casebook
from ketapain.capture.web._common import PageDep

router = APIRouter()


@router.get("/patients/{patient_id}/grid")
def grid_page(patient_id: str, page: PageDep) -> Response:
    """The visit x form grid of ``services.casebook.grid`` (no allocation data for any role)."""
    return page.render("grid.html", grid=casebook.grid(page.ctx, patient_id))


def query_link(patient_id: str, table: str, record_id: int, field: str) -> str:
    """The raise-query form pre-filled with the record and field; back to the record after."""
    back = f"/patients/{patient_id}/records/{table}/{record_id}"
    return "/queries?" + urlencode({"table_name": table, "record_id": record_id, "field": field, "next": back},
                                    safe="/") + "#raise"


@router.get("/patients/{patient_id}/records/{table}/{record_id}")
def record_page(patient_id: str, table: str, record_id: int, page: PageDep) -> Response:
    """One record's fields and its queries; a query link per field for the roles that raise queries."""
    view = casebook.record_view(page.ctx, patient_id, table, record_id)
    links = {f["field"]: query_link(patient_id, table, record_id, f["field"]) for f in view["fields"]}
    return page.render("record.html", rec=view, query_links=links)

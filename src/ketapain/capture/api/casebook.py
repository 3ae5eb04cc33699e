"""``/api/v1``: the casebook grid of one patient (visit x form: completion, open queries, signature)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathStr
from ketapain.capture.services import casebook

router = APIRouter(tags=["casebook"])


@router.get("/patients/{patient_id}/casebook")
def casebook_grid(patient_id: PathStr, ctx: CtxDep) -> dict[str, Any]:
    """The visit x form grid (``services.casebook``): rows (baseline, visits, periods), columns
    (visit, questionnaires, infusion, diary, adverse events, concomitant treatments), per cell
    the status, record ids, open queries and the page link; the casebook's signature status.
    No allocation data for any role."""
    return casebook.grid(ctx, patient_id)

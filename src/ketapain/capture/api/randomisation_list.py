"""``/api/v1/randomisation-list``: the lists loaded and their status (counts per stratum for
unblinded roles only; ``level``/``message`` warn every role before the list runs out), and the
administrator's import of a list made by ``ketapain randomize`` (commitment verified)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.schemas import RandomisationListImport
from ketapain.capture.services import randomisation_list
from ketapain.capture.services.randomisation_list import ListFiles

router = APIRouter(tags=["randomisation"])


@router.get("/randomisation-list")
def list_status(ctx: CtxDep) -> dict[str, Any]:
    return randomisation_list.list_status(ctx)


@router.post("/randomisation-list", status_code=201)
def import_list(body: RandomisationListImport, ctx: CtxDep) -> dict[str, Any]:
    files = ListFiles(body.pharmacy_csv.encode("utf-8"), body.file_name, body.commitment, "commitment")
    loaded = randomisation_list.import_list(ctx, files, source="api")
    ctx.session.commit()
    return {"loaded": loaded, "status": randomisation_list.list_status(ctx)}

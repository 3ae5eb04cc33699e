"""``/api/v1``: the diary-compliance dashboard (missing days per patient) and today's reminders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.services import diary

router = APIRouter(tags=["compliance"])


@router.get("/compliance")
def compliance(ctx: CtxDep) -> list[dict[str, Any]]:
    return diary.compliance(ctx)


@router.get("/diary-missing-today")
def missing_today(ctx: CtxDep) -> list[str]:
    return diary.missing_today(ctx)

"""``/api/v1/export``: the trial as a zip of a TrialData folder (unblinded roles only)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.services import export

router = APIRouter(tags=["export"])

_ZIP: dict[int | str, dict[str, Any]] = {200: {"description": "A zip of the TrialData folder (`trial/*.csv`).",
              "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("/export", response_class=Response, responses=_ZIP)
def export_zip(ctx: CtxDep) -> Response:
    """A zip of the TrialData folder (CSV); ``ketapain analyze`` reads it unzipped."""
    # also called by the export page (web/_admin.py) with the page's context
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

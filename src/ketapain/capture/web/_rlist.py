"""The randomisation list page: lists loaded, their status (counts per stratum for unblinded
roles only) and the administrator's import of a list made by ``ketapain randomize``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from ketapain.capture.services import randomisation_list
from ketapain.capture.services.randomisation_list import ListFiles
from ketapain.capture.web._common import PageDep, verify_form
from ketapain.errors import DataError

router = APIRouter()


@router.get("/randomisation-list")
def rlist_page(page: PageDep) -> Response:
    return page.render("rlist.html", rl=randomisation_list.list_status(page.ctx))


async def _upload(page: PageDep, name: str) -> tuple[bytes, str] | None:
    """The bytes and file name of the form's file field ``name`` (None when no file was chosen)."""
    value = (await page.request.form()).get(name)
    if value is None or isinstance(value, str) or not value.filename:  # an upload is Starlette's UploadFile
        return None
    return await value.read(), value.filename


@router.post("/randomisation-list")
async def rlist_import(page: PageDep) -> Response:
    """``pharmacy_file`` (pharmacy.csv) and the commitment: pasted (``commitment``) or its file
    (``commitment_file``, commitment.txt); verified and loaded by the service."""
    try:
        files = await _files(page)
    finally:
        await (await page.request.form()).close()  # the uploads' temporary files
    randomisation_list.import_list(page.ctx, files, source="page")
    page.commit()
    return RedirectResponse("/randomisation-list?msg=list_loaded", status_code=303)


async def _files(page: PageDep) -> ListFiles:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("randomisation_list.import")
    pharmacy = await _upload(page, "pharmacy_file")
    if pharmacy is None:
        raise DataError("pharmacy_file: choose the list's pharmacy.csv", column="pharmacy_file")
    commitment, source = form.get("commitment"), "commitment"
    if commitment is None:
        given = await _upload(page, "commitment_file")
        if given is None:
            raise DataError("commitment: paste the SHA-256 digest of commitment.txt or choose that file", column="commitment")
        commitment, source = (given[0].decode("ascii", "replace").split() or [""])[0], given[1]
    return ListFiles(pharmacy[0], pharmacy[1], commitment, source)

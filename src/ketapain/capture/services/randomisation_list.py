"""Randomisation lists in the study: import a list made by ``ketapain randomize`` (its SHA-256
commitment verified), the list's kind checked against the study's, and the list's status.

A study's kind is fixed when it is created (``study.list_kind``): ``test`` for a demo or
training database, ``production`` for a study with patients. A list is loaded only into a
study of its kind: a ``test`` list is refused in a production study, a ``production`` list in
demo mode (and in a training study). Lists add slots (the number of slots comes from the
list); a second list continues the slot numbers. The status (slots used / remaining per
stratum) is shown to unblinded roles only; every role gets the warning when fewer than one
block remains in a stratum, and randomisation is refused, with what to do, when it has run out.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ketapain.capture import audit
from ketapain.capture.models import Allocation, RandomisationListRecord, SpareKit, Study
from ketapain.capture.services._context import Context
from ketapain.errors import CommitmentMismatchError, Conflict, DataError, ListKindMismatchError
from ketapain.operations import COMMITMENT_FILE, PHARMACY_CSV, RandomisationList, import_pharmacy_list, protocol_sequences

__all__ = [
    "DEMO_COMMITMENT",
    "NO_LIST",
    "ListFiles",
    "alert_message",
    "import_list",
    "list_alert",
    "list_status",
    "load_list",
    "parse_list",
    "read_list_files",
]

DEMO_COMMITMENT = "demo"
"""``study.list_commitment`` of a demo database (its simulated patients came without a list)."""
NO_LIST = "none"
"""``study.list_commitment`` of a study created before any list was loaded."""


@dataclass(frozen=True, slots=True)
class ListFiles:
    """A pharmacy list's bytes and the commitment to check them against (and where it came from)."""

    pharmacy_csv: bytes
    file_name: str
    commitment: str
    commitment_from: str


def read_list_files(path: str | Path, *, commitment: str | None = None) -> ListFiles:
    """Read a list written by ``ketapain randomize``: ``path`` is its folder or its
    ``pharmacy.csv``; the commitment is ``commitment`` when given, else the ``commitment.txt``
    beside the pharmacy file.

    Raises
    ------
    DataError
        A file is missing or unreadable.
    """
    p = Path(path)
    pharmacy = p / PHARMACY_CSV if p.is_dir() else p
    try:
        data = pharmacy.read_bytes()
    except OSError as exc:
        raise DataError(f"{pharmacy}: cannot read the pharmacy list ({exc.strerror or exc})", source=str(pharmacy)) from None
    if commitment is not None:
        return ListFiles(data, str(pharmacy), commitment, "--commitment")
    where = pharmacy.parent / COMMITMENT_FILE
    try:
        text = where.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: cannot read the commitment beside {pharmacy.name} ({exc}); "
                        "give it with --commitment SHA256", source=str(where)) from None
    return ListFiles(data, str(pharmacy), text[0] if text else "", str(where))


def parse_list(ctx: Context, files: ListFiles) -> RandomisationList:
    """The list in ``files`` after its SHA-256 matched the commitment and every row was checked
    against the protocol (:func:`ketapain.operations.import_pharmacy_list`).

    Raises
    ------
    CommitmentMismatchError
        The file does not hash to the commitment (the message names the file).
    DataError
        The commitment is not a SHA-256 digest, or the list does not fit the protocol.
    """
    expected = files.commitment.strip().lower()
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise DataError(f"commitment ({files.commitment_from}): a SHA-256 digest is 64 hex digits", column="commitment")
    actual = hashlib.sha256(files.pharmacy_csv).hexdigest()
    if actual != expected:
        raise CommitmentMismatchError(
            f"{files.file_name}: SHA-256 {actual} does not match the commitment {expected} ({files.commitment_from}); "
            "the list was changed or is not the committed one — not loaded", source=files.file_name)
    name = Path(files.file_name).name or PHARMACY_CSV
    with tempfile.TemporaryDirectory(prefix="ketapain-list-") as tmp:
        (Path(tmp) / name).write_bytes(files.pharmacy_csv)
        rlist = import_pharmacy_list(Path(tmp) / name, protocol_sequences(ctx.protocol), protocol_id=ctx.protocol.study.id)
    strata = ctx.protocol.randomisation.strata
    if bool(strata) != ("stratum" in rlist.table.columns):
        need = f"stratified by {' x '.join(strata)}" if strata else "not stratified"
        raise DataError(f"{name}: the protocol's randomisation is {need}, the list is "
                        f"{'' if 'stratum' in rlist.table.columns else 'not '}stratified", source=name)
    return rlist


def _study(ctx: Context) -> Study:
    study = ctx.session.execute(select(Study).limit(1)).scalars().first()
    if study is None:
        raise Conflict("the study is not set up yet (start the app once)")
    return study


def _check_kind(study: Study, kind: str, name: str) -> None:
    """Refuse a list of the other kind: test in production, production in demo or training."""
    if study.list_kind == "production" and kind == "test":
        raise ListKindMismatchError(f"{name}: a TEST list is refused in a production study; import the production list "
                                    "made by ketapain randomize --kind production")
    if kind == "production" and study.list_commitment == DEMO_COMMITMENT:
        raise ListKindMismatchError(f"{name}: a PRODUCTION list is refused in demo mode (simulated patients); "
                                    "import a test list (ketapain randomize --kind test)")
    if kind == "production" and study.list_kind == "test":
        raise ListKindMismatchError(f"{name}: a PRODUCTION list is refused in this test (training) study; start the "
                                    "production study on a new database with ketapain serve --randomisation-list DIR")


def load_list(ctx: Context, rlist: RandomisationList, *, file_name: str, commitment: str, source: str) -> RandomisationListRecord:
    """Add the slots of ``rlist`` to the study (audited, one transaction with the caller's).

    ``commitment`` is the verified SHA-256 of the list's file (``rlist.commitment`` for a list
    made here). Slots are numbered after the last slot loaded; when slots exist already, slot
    names get the prefix ``L<list number>-`` so that two lists never share one.

    Raises
    ------
    ListKindMismatchError
        The list's kind does not fit the study (:func:`_check_kind`).
    Conflict
        The same list (commitment) is loaded already, or one of its kit codes is in use.
    """
    study = _study(ctx)
    name = Path(file_name).name
    _check_kind(study, rlist.kind, name)
    if rlist.protocol_id != ctx.protocol.study.id:
        raise DataError(f"{name}: made for study {rlist.protocol_id!r}, this study is {ctx.protocol.study.id!r}", source=name)
    known = ctx.session.execute(select(RandomisationListRecord).where(RandomisationListRecord.commitment == commitment)).scalars().first()
    if known is not None:
        raise Conflict(f"{name}: this list (SHA-256 {commitment}) is loaded already, as list {known.number}")
    table = rlist.table
    clash = set(table["kit_code"]) & (set(ctx.session.execute(select(Allocation.kit_code)).scalars())
                                      | set(ctx.session.execute(select(SpareKit.kit_code)).scalars()))
    if clash:
        raise Conflict(f"{name}: kit code(s) {', '.join(sorted(clash)[:3])} already in use in this study; not loaded")
    number = 1 + int(ctx.session.execute(select(func.coalesce(func.max(RandomisationListRecord.number), 0))).scalar_one())
    first = 1 + int(ctx.session.execute(select(func.coalesce(func.max(Allocation.slot_number), 0))).scalar_one())
    prefix = f"L{number}-" if first > 1 else ""
    slots = list(dict.fromkeys(table["patient_id"]))
    slot_no = {s: first + i for i, s in enumerate(slots)}
    record = audit.create(ctx.session, ctx.actor, RandomisationListRecord(
        number=number, list_kind=rlist.kind, commitment=commitment, file_name=name[:200], slots=len(slots),
        block_size=int(table["block_size"].astype(int).max()), first_slot_number=first, source=source,
        loaded_at=audit.utc_now()), reason=f"randomisation list {number} loaded ({source})")
    rows = [{"slot": prefix + str(r["patient_id"]), "slot_number": slot_no[r["patient_id"]], "period": int(r["period"]),
             "stratum": r.get("stratum"), "sequence": r["sequence"], "treatment": r["treatment"], "kit_code": r["kit_code"],
             "patient_id": None, "randomised_at": None, "status": "active"} for r in table.to_dict("records")]
    audit.audited_bulk_insert(ctx.session, ctx.actor, Allocation, rows, reason="randomisation list loaded")
    if study.list_commitment == NO_LIST:
        audit.update(ctx.session, ctx.actor, study, {"list_commitment": commitment}, reason="first randomisation list")
    return record


def import_list(ctx: Context, files: ListFiles, *, source: str = "page") -> dict[str, Any]:
    """Admin: verify ``files`` against their commitment, check them and load them
    (:func:`parse_list`, :func:`load_list`). Returns what was loaded (no arm, no sequence)."""
    ctx.require("randomisation_list.import")
    rlist = parse_list(ctx, files)
    rec = load_list(ctx, rlist, file_name=files.file_name, commitment=files.commitment.strip().lower(), source=source)
    return _record_view(rec)


def _record_view(rec: RandomisationListRecord) -> dict[str, Any]:
    return {"number": rec.number, "list_kind": rec.list_kind, "file_name": rec.file_name, "commitment": rec.commitment,
            "slots": rec.slots, "source": rec.source, "loaded_at": rec.loaded_at}


def _strata(ctx: Context) -> list[dict[str, Any]]:
    """Slots, used and remaining per stratum (``None``: unstratified), from the slots' period-1 rows."""
    q = (select(Allocation.stratum, func.count(), func.count(Allocation.patient_id))
         .where(Allocation.period == 1, Allocation.status == "active").group_by(Allocation.stratum).order_by(Allocation.stratum))
    return [{"stratum": s, "slots": int(n), "used": int(u), "remaining": int(n) - int(u)}
            for s, n, u in ctx.session.execute(q).all()]


def list_alert(ctx: Context) -> tuple[str, list[str]]:
    """``(level, strata)``: ``none`` (no list loaded), ``exhausted`` (no free slot in the
    listed strata), ``low`` (fewer free slots than one block in the listed strata) or ``ok``.
    Holds no count and no arm, so it may be shown to every role."""
    strata = _strata(ctx)
    if not strata:
        return "none", []
    block = int(ctx.session.execute(select(func.coalesce(func.max(RandomisationListRecord.block_size), 0))).scalar_one())
    block = block or len(protocol_sequences(ctx.protocol))
    out = [str(s["stratum"] or "") for s in strata if s["remaining"] == 0]
    if out:
        return "exhausted", out
    low = [str(s["stratum"] or "") for s in strata if s["remaining"] < block]
    return ("low", low) if low else ("ok", [])


_MESSAGES = {
    "none": "No randomisation list is loaded: the administrator imports the list made by ketapain randomize "
            "(Randomisation list page).",
    "exhausted": "The randomisation list has run out{where}: no patient can be randomised until the administrator "
                 "imports the next list made by ketapain randomize.",
    "low": "The randomisation list is running out{where} (less than one block left): ask the pharmacy for the next "
           "list now.",
    "ok": "",
}


def alert_message(level: str, strata: list[str]) -> str:
    """The English message of :func:`list_alert`'s result (the pages translate the level)."""
    named = [s for s in strata if s]
    return _MESSAGES[level].format(where=f" for stratum {', '.join(named)}" if named else "")


def list_status(ctx: Context) -> dict[str, Any]:
    """The lists loaded and the warning (every staff role); slots used and remaining per
    stratum only for an unblinded role (``strata`` is ``None`` for a blinded one)."""
    ctx.require("allocations.read")
    level, strata = list_alert(ctx)
    study = _study(ctx)
    records = ctx.session.execute(select(RandomisationListRecord).order_by(RandomisationListRecord.number)).scalars()
    return {"study_kind": study.list_kind, "demo": study.list_commitment == DEMO_COMMITMENT,
            "lists": [_record_view(r) for r in records], "level": level, "message": alert_message(level, strata),
            "strata": None if ctx.blinded else _strata(ctx)}

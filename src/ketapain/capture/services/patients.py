"""Enrolment and patient records.

Site, country and race (issue 20; docs/capture.md, "Site, country and race"):

- ``site_id`` is one of the protocol's ``[[sites]]`` ids. When the protocol has several it is
  required; with one site, left out means that site; without sites it must be left out. An
  unknown site is a :class:`~ketapain.errors.DataError` on field ``site_id`` listing the sites.
- ``country`` is never entered: it is the country of the site, written with it (at
  enrolment and when a correction changes the site), so both carry audit rows.
- ``race`` is asked only when the protocol says ``[study] race_collected = true`` (then
  required, one of :data:`ketapain.data.RACES`); otherwise it is recorded as ``NOT REPORTED``
  and sending another value is a :class:`~ketapain.errors.DataError` on field ``race``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Patient, Screening
from ketapain.capture.schemas import PatientCreate, PatientUpdate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR, correct
from ketapain.data import RACES
from ketapain.errors import Conflict, DataError

__all__ = ["NOT_REPORTED", "change_patient", "enrol", "get_patient", "list_patients", "site_and_country"]

NOT_REPORTED = "NOT REPORTED"
"""``patients.race`` when the protocol does not collect race (CDISC RACE term)."""


def site_and_country(ctx: Context, site_id: str | None, *, given: bool = True) -> tuple[str | None, str | None]:
    """``(site_id, country)`` of a patient at ``site_id`` (module docstring); ``given=False``:
    the site was left out (the only site of the protocol, if it has one)."""
    sites = ctx.protocol.sites
    ids = tuple(s.id for s in sites)
    if site_id is None:
        if not sites:
            return None, None
        if len(sites) == 1 and not given:
            return sites[0].id, sites[0].country
        raise DataError(f"site_id is required: the protocol has sites {', '.join(ids)}", column="site_id",
                        value=None, allowed=ids)
    if not sites:
        raise DataError(f"site_id={site_id!r}: the protocol has no [[sites]]; leave it out", column="site_id",
                        value=site_id, allowed=())
    if site_id not in ids:
        raise DataError(f"site_id={site_id!r} is not a site of the protocol; allowed: {', '.join(ids)}",
                        column="site_id", value=site_id, allowed=ids)
    return site_id, ctx.protocol.site(site_id).country


def _race(ctx: Context, race: str | None) -> str:
    if not ctx.protocol.study.race_collected:
        if race not in (None, NOT_REPORTED):
            raise DataError(f"race={race!r}: the protocol does not collect race ([study] race_collected = false); "
                            f"it is recorded as {NOT_REPORTED!r}", column="race", value=race, allowed=(NOT_REPORTED,))
        return NOT_REPORTED
    if race is None:
        raise DataError(f"race is required: the protocol collects race; one of {', '.join(RACES)}", column="race",
                        value=None, allowed=RACES)
    return race


def enrol(ctx: Context, data: PatientCreate) -> Patient:
    """Create a patient (optionally from an eligible screening); id defaults to the next ``Pnnn``."""
    ctx.require("patients.write")
    if data.screening_id is not None:
        scr = ctx.one(Screening, "screening", screening_id=data.screening_id)
        if scr.status != "active":
            raise Conflict(f"screening {data.screening_id} is entered in error; the person cannot be enrolled from it")
        if not scr.eligible:
            raise Conflict(f"screening {data.screening_id} is not eligible; the person cannot be enrolled")
        if ctx.session.execute(select(Patient.id).where(Patient.screening_id == data.screening_id,
                                                        Patient.status != ENTERED_IN_ERROR)).first():
            raise Conflict(f"screening {data.screening_id} is already enrolled")
    pid = data.patient_id
    if pid is None:
        ids = set(ctx.session.execute(select(Patient.patient_id)).scalars())
        k = len(ids) + 1
        while f"P{k:03d}" in ids:
            k += 1
        pid = f"P{k:03d}"
    elif ctx.session.execute(select(Patient.id).where(Patient.patient_id == pid)).first():
        raise Conflict(f"patient_id {pid!r} already exists")
    values = data.model_dump(exclude={"patient_id"})
    values["site_id"], values["country"] = site_and_country(ctx, data.site_id, given="site_id" in data.model_fields_set)
    values["race"] = _race(ctx, data.race)
    return audit.create(ctx.session, ctx.actor, Patient(patient_id=pid, status="active", **values), reason="enrolment")


def list_patients(ctx: Context, *, include_deleted: bool = False, include_entered_in_error: bool = False) -> list[Patient]:
    """The patients but those deleted or entered in error (unless asked for)."""
    ctx.require("patients.read")
    q = select(Patient).order_by(Patient.patient_id)
    hidden = [s for s, shown in (("deleted", include_deleted), (ENTERED_IN_ERROR, include_entered_in_error)) if not shown]
    if hidden:
        q = q.where(Patient.status.not_in(hidden))
    return list(ctx.session.execute(q).scalars())


def get_patient(ctx: Context, patient_id: str) -> Patient:
    ctx.require("patients.read")
    return ctx.patient(patient_id)


def change_patient(ctx: Context, patient_id: str, data: PatientUpdate) -> Patient:
    """Correct a patient's demographics or status (audited with the mandatory reason; see
    :mod:`.corrections`; soft delete: status)."""
    ctx.require("patients.write")
    p = ctx.patient(patient_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"reason"})
    if "site_id" in changes:
        changes["site_id"], changes["country"] = site_and_country(ctx, changes["site_id"])
    if "race" in changes:
        changes["race"] = _race(ctx, changes["race"])
    correct(ctx, p, changes, data.reason, what=f"patient {patient_id}")
    return p

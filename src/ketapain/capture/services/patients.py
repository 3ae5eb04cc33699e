"""Enrolment and patient records."""

from __future__ import annotations

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Patient, Screening
from ketapain.capture.schemas import PatientCreate, PatientUpdate
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR, correct
from ketapain.errors import Conflict

__all__ = ["change_patient", "enrol", "get_patient", "list_patients"]


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
    correct(ctx, p, data.model_dump(exclude_unset=True, exclude={"reason"}), data.reason, what=f"patient {patient_id}")
    return p

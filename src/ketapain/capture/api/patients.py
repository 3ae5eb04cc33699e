"""``/api/v1/patients``: enrolment, list, read and change a patient."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, IncludeEnteredInError, PathStr
from ketapain.capture.schemas import PatientCreate, PatientPublic, PatientUpdate
from ketapain.capture.services import patients

router = APIRouter(tags=["patients"])


@router.get("/patients", response_model=list[PatientPublic])
def list_patients(ctx: CtxDep, include_entered_in_error: IncludeEnteredInError = False) -> list:
    return patients.list_patients(ctx, include_entered_in_error=include_entered_in_error)


@router.post("/patients", response_model=PatientPublic, status_code=201)
def enrol(body: PatientCreate, ctx: CtxDep):
    p = patients.enrol(ctx, body)
    ctx.session.commit()
    return p


@router.get("/patients/{patient_id}", response_model=PatientPublic)
def get_patient(patient_id: PathStr, ctx: CtxDep):
    return patients.get_patient(ctx, patient_id)


@router.patch("/patients/{patient_id}", response_model=PatientPublic)
def update_patient(patient_id: PathStr, body: PatientUpdate, ctx: CtxDep):
    p = patients.change_patient(ctx, patient_id, body)
    ctx.session.commit()
    return p

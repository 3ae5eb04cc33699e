"""``/api/v1/screenings`` and ``/api/v1/patients`` (enrolment, schedule, diary links, signatures)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep
from ketapain.capture.schemas import (KitReplace, PatientCreate, PatientPublic, PatientUpdate, ScreeningCreate, ScreeningPublic,
                                      SignaturePublic, SignRequest)
from ketapain.capture.services import diary, patients, screening, signatures, visits

router = APIRouter(tags=["patients"])


@router.post("/screenings", response_model=ScreeningPublic, status_code=201)
def screen(body: ScreeningCreate, ctx: CtxDep):  # noqa: ANN201
    s = screening.screen(ctx, body)
    ctx.session.commit()
    return s


@router.get("/screenings", response_model=list[ScreeningPublic])
def list_screenings(ctx: CtxDep) -> list:
    return screening.list_screenings(ctx)


@router.get("/patients", response_model=list[PatientPublic])
def list_patients(ctx: CtxDep) -> list:
    return patients.list_patients(ctx)


@router.post("/patients", response_model=PatientPublic, status_code=201)
def enrol(body: PatientCreate, ctx: CtxDep):  # noqa: ANN201
    p = patients.enrol(ctx, body)
    ctx.session.commit()
    return p


@router.get("/patients/{patient_id}", response_model=PatientPublic)
def get_patient(patient_id: str, ctx: CtxDep):  # noqa: ANN201
    return patients.get_patient(ctx, patient_id)


@router.patch("/patients/{patient_id}", response_model=PatientPublic)
def update_patient(patient_id: str, body: PatientUpdate, ctx: CtxDep):  # noqa: ANN201
    p = patients.update_patient(ctx, patient_id, body)
    ctx.session.commit()
    return p


@router.get("/patients/{patient_id}/schedule")
def schedule(patient_id: str, ctx: CtxDep) -> list[dict[str, Any]]:
    return visits.schedule(ctx, patient_id)


@router.post("/patients/{patient_id}/diary-link", status_code=201)
def issue_link(patient_id: str, ctx: CtxDep) -> dict[str, str]:
    token = diary.issue_token(ctx, patient_id)
    ctx.session.commit()
    return {"patient_id": patient_id, "token": token}


@router.post("/patients/{patient_id}/diary-link/revoke")
def revoke_link(patient_id: str, body: KitReplace, ctx: CtxDep) -> dict[str, Any]:
    n = diary.revoke_tokens(ctx, patient_id, reason=body.reason)
    ctx.session.commit()
    return {"patient_id": patient_id, "revoked": n}


@router.post("/patients/{patient_id}/signatures", response_model=SignaturePublic, status_code=201)
def sign(patient_id: str, body: SignRequest, ctx: CtxDep):  # noqa: ANN201
    s = signatures.sign_casebook(ctx, patient_id, password=body.password, meaning=body.meaning)
    ctx.session.commit()
    return s


@router.get("/patients/{patient_id}/signatures", response_model=list[SignaturePublic])
def list_signatures(patient_id: str, ctx: CtxDep) -> list:
    return signatures.list_signatures(ctx, patient_id)

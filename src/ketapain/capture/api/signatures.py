"""``/api/v1/patients/{patient_id}/signatures``: sign a casebook (password + meaning), list its signatures."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathStr
from ketapain.capture.schemas import SignaturePublic, SignRequest
from ketapain.capture.services import signatures

router = APIRouter(tags=["signatures"])


@router.post("/patients/{patient_id}/signatures", response_model=SignaturePublic, status_code=201)
def sign(patient_id: PathStr, body: SignRequest, ctx: CtxDep):
    s = signatures.sign_casebook(ctx, patient_id, password=body.password, meaning=body.meaning)
    ctx.session.commit()
    return s


@router.get("/patients/{patient_id}/signatures", response_model=list[SignaturePublic])
def list_signatures(patient_id: PathStr, ctx: CtxDep) -> list:
    return signatures.list_signatures(ctx, patient_id)

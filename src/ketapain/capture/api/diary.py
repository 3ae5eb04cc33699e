"""``/api/v1/diary`` (the patient's own, header ``X-Patient-Token``) and ``/api/v1/patients/{patient_id}/diary`` (staff)."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathInt, PathStr, PatientCtxDep
from ketapain.capture.schemas import DiaryChange, DiaryEntryCreate, DiaryEntryPublic
from ketapain.capture.services import Context, diary

router = APIRouter(tags=["diary"])


def _pid(ctx: Context) -> str:
    return ctx.actor.username.removeprefix("patient:")


@router.post("/diary", response_model=DiaryEntryPublic, status_code=201)
def diary_entry(body: DiaryEntryCreate, ctx: PatientCtxDep):
    """The patient's own entry (header ``X-Patient-Token``)."""
    out = diary.submit_entry(ctx, _pid(ctx), body)
    ctx.session.commit()
    return out


@router.get("/diary", response_model=list[DiaryEntryPublic])
def diary_own(ctx: PatientCtxDep) -> list:
    return diary.read_diary(ctx, _pid(ctx))


@router.patch("/diary/{period}/{day}", response_model=DiaryEntryPublic)
def diary_change_own(period: PathInt, day: PathInt, body: DiaryChange, ctx: PatientCtxDep):
    out = diary.change_entry(ctx, _pid(ctx), period, day, body)
    ctx.session.commit()
    return out


@router.post("/patients/{patient_id}/diary", response_model=DiaryEntryPublic, status_code=201)
def diary_staff(patient_id: PathStr, body: DiaryEntryCreate, ctx: CtxDep):
    """An entry transcribed by site staff (paper diary)."""
    out = diary.submit_entry(ctx, patient_id, body)
    ctx.session.commit()
    return out


@router.get("/patients/{patient_id}/diary", response_model=list[DiaryEntryPublic])
def diary_read(patient_id: PathStr, ctx: CtxDep) -> list:
    return diary.read_diary(ctx, patient_id)


@router.patch("/patients/{patient_id}/diary/{period}/{day}", response_model=DiaryEntryPublic)
def diary_change(patient_id: PathStr, period: PathInt, day: PathInt, body: DiaryChange, ctx: CtxDep):
    out = diary.change_entry(ctx, patient_id, period, day, body)
    ctx.session.commit()
    return out

"""``/api/v1/diary`` (the patient's own, header ``X-Patient-Token``) and ``/api/v1/patients/{patient_id}/diary`` (staff)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from ketapain.capture.api.deps import CtxDep, PathInt, PathStr, PatientCtxDep, patient_token
from ketapain.capture.audit import Actor
from ketapain.capture.schemas import DiaryChange, DiaryEntryCreate, DiaryEntryPublic
from ketapain.capture.services import Context, diary, diary_batch
from ketapain.capture.writer import BulkJob

router = APIRouter(tags=["diary"])


def _pid(ctx: Context) -> str:
    return ctx.actor.username.removeprefix("patient:")


@router.post("/diary", response_model=DiaryEntryPublic, status_code=201)
async def diary_entry(body: DiaryEntryCreate, request: Request, token: Annotated[str, Depends(patient_token)]) -> DiaryEntryPublic:
    """The patient's own entry (header ``X-Patient-Token``), saved by the group-commit writer
    (:mod:`ketapain.capture.writer`) with the other posts of its batch
    (:func:`ketapain.capture.services.diary_batch.submit_own_posts`) and answered once its
    batch is committed. A 503 when the commit failed (nothing stored: send it again)."""
    state = request.app.state

    def job(session: Session) -> DiaryEntryPublic:
        pid = diary.patient_id_from_token(session, state.settings.secret_key, token)
        ctx = Context(session, Actor(f"patient:{pid}", "patient"), state.settings, state.protocol)
        return DiaryEntryPublic.model_validate(diary.submit_entry(ctx, pid, body))

    out: DiaryEntryPublic = await state.group_writer.submit(BulkJob(job, _own_posts, (state, token, body)))
    return out


def _own_posts(session: Session, items: list[tuple[Any, str, DiaryEntryCreate]]) -> list[DiaryEntryPublic | Exception]:
    """The posts of a group-commit batch together (:func:`diary_batch.submit_own_posts`: the
    answers of ``job`` one by one, with a fixed number of statements per batch)."""
    state = items[0][0]
    rows = diary_batch.submit_own_posts(session, state.settings, state.protocol, [(token, body) for _, token, body in items])
    return [row if isinstance(row, Exception) else DiaryEntryPublic.model_validate(row) for row in rows]


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

"""``/api/v1``: infusions, diary (token or staff), visits, questionnaires, adverse events, concomitant treatments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PatientCtxDep
from ketapain.capture.schemas import (AdverseEventCreate, AdverseEventPublic, AdverseEventUpdate, ConcomitantCreate, ConcomitantPublic,
                                      ConcomitantUpdate, DiaryChange, DiaryEntryCreate, DiaryEntryPublic, InfusionCreate, InfusionPublic,
                                      QuestionnaireCreate, QuestionnairePublic, VisitCreate)
from ketapain.capture.services import adverse_events, diary, infusions, questionnaires, visits

router = APIRouter(tags=["clinical"])


def _pid(ctx: Any) -> str:
    return ctx.actor.username.removeprefix("patient:")


@router.post("/infusions", response_model=InfusionPublic, status_code=201)
def record_infusion(body: InfusionCreate, ctx: CtxDep):  # noqa: ANN201
    out = infusions.record_infusion(ctx, body)
    ctx.session.commit()
    return out


@router.get("/infusions", response_model=list[InfusionPublic])
def list_infusions(ctx: CtxDep, patient_id: str | None = None) -> list:
    return infusions.list_infusions(ctx, patient_id)


@router.post("/diary", response_model=DiaryEntryPublic, status_code=201)
def diary_entry(body: DiaryEntryCreate, ctx: PatientCtxDep):  # noqa: ANN201
    """The patient's own entry (header ``X-Patient-Token``)."""
    out = diary.submit_entry(ctx, _pid(ctx), body)
    ctx.session.commit()
    return out


@router.get("/diary", response_model=list[DiaryEntryPublic])
def diary_own(ctx: PatientCtxDep) -> list:
    return diary.read_diary(ctx, _pid(ctx))


@router.patch("/diary/{period}/{day}", response_model=DiaryEntryPublic)
def diary_change_own(period: int, day: int, body: DiaryChange, ctx: PatientCtxDep):  # noqa: ANN201
    out = diary.change_entry(ctx, _pid(ctx), period, day, body)
    ctx.session.commit()
    return out


@router.post("/patients/{patient_id}/diary", response_model=DiaryEntryPublic, status_code=201)
def diary_staff(patient_id: str, body: DiaryEntryCreate, ctx: CtxDep):  # noqa: ANN201
    """An entry transcribed by site staff (paper diary)."""
    out = diary.submit_entry(ctx, patient_id, body)
    ctx.session.commit()
    return out


@router.get("/patients/{patient_id}/diary", response_model=list[DiaryEntryPublic])
def diary_read(patient_id: str, ctx: CtxDep) -> list:
    return diary.read_diary(ctx, patient_id)


@router.patch("/patients/{patient_id}/diary/{period}/{day}", response_model=DiaryEntryPublic)
def diary_change(patient_id: str, period: int, day: int, body: DiaryChange, ctx: CtxDep):  # noqa: ANN201
    out = diary.change_entry(ctx, patient_id, period, day, body)
    ctx.session.commit()
    return out


@router.get("/compliance")
def compliance(ctx: CtxDep) -> list[dict[str, Any]]:
    return diary.compliance(ctx)


@router.get("/diary-missing-today")
def missing_today(ctx: CtxDep) -> list[str]:
    return diary.missing_today(ctx)


@router.post("/visits", status_code=201)
def record_visit(body: VisitCreate, ctx: CtxDep) -> dict[str, Any]:
    v = visits.record_visit(ctx, body)
    ctx.session.commit()
    return {"patient_id": v.patient_id, "visit": v.visit, "visit_date": v.visit_date}


@router.post("/questionnaires", response_model=QuestionnairePublic, status_code=201)
def save_questionnaire(body: QuestionnaireCreate, ctx: CtxDep):  # noqa: ANN201
    out = questionnaires.save_response(ctx, body)
    ctx.session.commit()
    return out


@router.get("/questionnaires", response_model=list[QuestionnairePublic])
def list_questionnaires(ctx: CtxDep, patient_id: str | None = None) -> list:
    return questionnaires.list_responses(ctx, patient_id)


@router.post("/adverse-events", response_model=AdverseEventPublic, status_code=201)
def create_ae(body: AdverseEventCreate, ctx: CtxDep):  # noqa: ANN201
    out = adverse_events.create_event(ctx, body)
    ctx.session.commit()
    return out


@router.get("/adverse-events", response_model=list[AdverseEventPublic])
def list_ae(ctx: CtxDep, patient_id: str | None = None) -> list:
    return adverse_events.list_events(ctx, patient_id)


@router.patch("/adverse-events/{event_id}", response_model=AdverseEventPublic)
def update_ae(event_id: str, body: AdverseEventUpdate, ctx: CtxDep):  # noqa: ANN201
    out = adverse_events.update_event(ctx, event_id, body)
    ctx.session.commit()
    return out


@router.post("/concomitant", response_model=ConcomitantPublic, status_code=201)
def add_cm(body: ConcomitantCreate, ctx: CtxDep):  # noqa: ANN201
    out = adverse_events.add_concomitant(ctx, body)
    ctx.session.commit()
    return out


@router.get("/concomitant", response_model=list[ConcomitantPublic])
def list_cm(ctx: CtxDep, patient_id: str | None = None) -> list:
    return adverse_events.list_concomitant(ctx, patient_id)


@router.patch("/concomitant/{record_id}", response_model=ConcomitantPublic)
def update_cm(record_id: int, body: ConcomitantUpdate, ctx: CtxDep):  # noqa: ANN201
    out = adverse_events.update_concomitant(ctx, record_id, body)
    ctx.session.commit()
    return out

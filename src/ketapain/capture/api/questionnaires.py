"""``/api/v1/questionnaires``: save a questionnaire response (scored on save), list responses."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, QueryStr
from ketapain.capture.schemas import QuestionnaireCreate, QuestionnairePublic
from ketapain.capture.services import questionnaires

router = APIRouter(tags=["questionnaires"])


@router.post("/questionnaires", response_model=QuestionnairePublic, status_code=201)
def save_questionnaire(body: QuestionnaireCreate, ctx: CtxDep):
    out = questionnaires.save_response(ctx, body)
    ctx.session.commit()
    return out


@router.get("/questionnaires", response_model=list[QuestionnairePublic])
def list_questionnaires(ctx: CtxDep, patient_id: QueryStr = None) -> list:
    return questionnaires.list_responses(ctx, patient_id)

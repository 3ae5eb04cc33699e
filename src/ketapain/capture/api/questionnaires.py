"""``/api/v1/questionnaires``: save a questionnaire response (scored on save), list responses,
correct one (``PATCH``, with a reason; scored again)."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, IncludeEnteredInError, PathStr, QueryStr
from ketapain.capture.schemas import QuestionnaireChange, QuestionnaireCreate, QuestionnairePublic
from ketapain.capture.services import questionnaires

router = APIRouter(tags=["questionnaires"])


@router.post("/questionnaires", response_model=QuestionnairePublic, status_code=201)
def save_questionnaire(body: QuestionnaireCreate, ctx: CtxDep):
    out = questionnaires.save_response(ctx, body)
    ctx.session.commit()
    return out


@router.get("/questionnaires", response_model=list[QuestionnairePublic])
def list_questionnaires(ctx: CtxDep, patient_id: QueryStr = None, include_entered_in_error: IncludeEnteredInError = False) -> list:
    return questionnaires.list_responses(ctx, patient_id, include_entered_in_error=include_entered_in_error)


@router.patch("/patients/{patient_id}/questionnaires/{visit}/{instrument}", response_model=QuestionnairePublic)
def change_questionnaire(patient_id: PathStr, visit: PathStr, instrument: PathStr, body: QuestionnaireChange, ctx: CtxDep):
    """Correct answers (merged into the stored ones; ``null`` clears one); the scores are
    computed again. Reason required; queries on ``answers`` / ``answers.<item>`` closed."""
    out = questionnaires.change_response(ctx, patient_id, visit, instrument, body)
    ctx.session.commit()
    return out

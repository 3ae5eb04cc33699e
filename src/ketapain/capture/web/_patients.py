"""Dashboard, screening, enrolment and the patient casebook with its forms (randomisation,
pharmacy sheet, infusion, visits, questionnaires, adverse events, concomitant treatments,
diary link, signature)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from ketapain.capture.models import Unblinding
from ketapain.capture.schemas import (
    AdverseEventCreate,
    ConcomitantCreate,
    InfusionChange,
    InfusionCreate,
    PatientCreate,
    QuestionnaireCreate,
    ScreeningCreate,
    VisitCreate,
)
from ketapain.capture.services import (
    adverse_events,
    diary,
    infusions,
    lock,
    patients,
    queries,
    questionnaires,
    randomisation,
    screening,
    signatures,
    unblinding,
    visits,
)
from ketapain.capture.web._common import (
    PageDep,
    opt_date,
    opt_float,
    verify_form,
    yes_no,
)
from ketapain.data import CAUSALITIES, DRUG_CLASSES, PAIN_TYPES, RACES, SEVERITIES
from ketapain.errors import ConfirmationRequired, DataError, NotFound
from ketapain.instruments import get_instrument

router = APIRouter()


def _go(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@router.get("/")
def dashboard(page: PageDep) -> Response:
    """Study status, lock state, diary compliance, today's reminders, the visit schedule."""
    ctx = page.ctx
    pts = patients.list_patients(ctx)
    comp = {r["patient_id"]: r for r in diary.compliance(ctx)}
    schedule = {p.patient_id: visits.schedule(ctx, p.patient_id) for p in pts}
    notes = unblinding.list_notifications(ctx) if ctx.actor.role == "admin" else []
    return page.render("dashboard.html", study=ctx.protocol.study, lock=lock.lock_status(ctx), patients=pts, compliance=comp,
                       missing_today=diary.missing_today(ctx), schedule=schedule, notifications=notes,
                       can_export=page.can("export") and not ctx.blinded)


# --- screening -------------------------------------------------------------------------

@router.get("/screening")
def screening_page(page: PageDep) -> Response:
    ctx = page.ctx
    dn4 = get_instrument("dn4")
    return page.render("screening.html", screenings=screening.list_screenings(ctx), questions=screening.questions(ctx),
                       dn4_items=dn4.items, today=_today())


@router.post("/screening")
async def screening_submit(page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("screening.write")
    answers = screening.answers_from_form(page.ctx, {k: v for k, v in form.items() if isinstance(v, str)})
    dn4 = {str(i): int(form[f"dn4_{i}"]) for i in range(1, 11) if form.get(f"dn4_{i}") in ("0", "1")}
    scr = screening.screen(page.ctx, ScreeningCreate.model_validate({
        "screening_date": opt_date(form, "screening_date"), "answers": answers, "dn4_items": dn4 or None,
        "outcome": form.get("outcome"), "reason": form.get("reason")}))
    page.commit()
    return _go(f"/screening?msg=saved#{scr.screening_id}")


# --- enrolment and patient list --------------------------------------------------------

@router.get("/patients")
def patients_page(page: PageDep) -> Response:
    ctx = page.ctx
    pts = patients.list_patients(ctx)
    enrolled = {p.screening_id for p in pts if p.screening_id}
    open_scr = [s for s in screening.list_screenings(ctx) if s.eligible and s.screening_id not in enrolled and s.outcome == "other"]
    return page.render("patients.html", patients=pts, screenings=open_scr, pain_types=PAIN_TYPES, sites=ctx.protocol.sites,
                       race_collected=ctx.protocol.study.race_collected, races=RACES)


@router.post("/patients")
async def enrol_submit(page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("patients.write")
    p = patients.enrol(page.ctx, PatientCreate.model_validate({
        "patient_id": form.get("patient_id"), "screening_id": form.get("screening_id"), "sex": form.get("sex", ""),
        "age_years": form.get("age_years", ""), "weight_kg": opt_float(form, "weight_kg"),
        "height_m": opt_float(form, "height_m"), "pain_type": form.get("pain_type", ""),
        "pain_duration_years": opt_float(form, "pain_duration_years"), "dn4_total": form.get("dn4_total"),
        **{k: form.get(k) or None for k in ("site_id", "race") if k in form}}))
    page.commit()
    return _go(f"/patients/{p.patient_id}?msg=saved")


# --- casebook ---------------------------------------------------------------------------

@router.get("/patients/{patient_id}")
def casebook(patient_id: str, page: PageDep) -> Response:
    """Everything about one patient; allocation columns only through the blinded view."""
    ctx = page.ctx
    p = patients.get_patient(ctx, patient_id)
    entries = diary.read_diary(ctx, patient_id)
    comp = next((r for r in diary.compliance(ctx) if r["patient_id"] == patient_id), None)
    qs = [q for q in queries.list_queries(ctx) if q.patient_id == patient_id]
    return page.render(
        "casebook.html", patient=p, allocations=randomisation.allocations(ctx, patient_id),
        infusions=infusions.list_infusions(ctx, patient_id), schedule=visits.schedule(ctx, patient_id),
        responses=questionnaires.list_responses(ctx, patient_id), events=adverse_events.list_events(ctx, patient_id),
        concomitant=adverse_events.list_concomitant(ctx, patient_id), entries=entries[-14:], n_entries=len(entries),
        n_late=sum(e.late for e in entries), compliance=comp, queries=qs, signatures=signatures.list_signatures(ctx, patient_id),
        severities=SEVERITIES, causalities=CAUSALITIES, drug_classes=DRUG_CLASSES, periods=range(1, ctx.protocol.design.periods + 1),
        today=_today(), diary_link=page.request.query_params.get("link"))


@router.post("/patients/{patient_id}/randomise")
async def randomise_submit(patient_id: str, page: PageDep) -> Response:
    await verify_form(page.request, page.csrf)
    randomisation.randomise(page.ctx, patient_id)
    page.commit()
    return _go(f"/patients/{patient_id}?msg=randomised")


@router.get("/patients/{patient_id}/pharmacy/{period}")
def pharmacy_page(patient_id: str, period: int, page: PageDep) -> Response:
    """Pharmacist only: the kit to prepare and its preparation sheet."""
    prep = randomisation.preparation(page.ctx, patient_id, period)
    return page.render("pharmacy.html", prep=prep, arm=next(a for a in page.ctx.protocol.arms if a.code == prep["treatment"]))


@router.post("/patients/{patient_id}/kit/{period}")
async def replace_kit_submit(patient_id: str, period: int, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    randomisation.replace_kit(page.ctx, patient_id, period, reason=form.get("reason", ""))
    page.commit()
    return _go(f"/patients/{patient_id}?msg=saved")


@router.post("/patients/{patient_id}/infusions")
async def infusion_submit(patient_id: str, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("infusions.write")
    infusions.record_infusion(page.ctx, InfusionCreate.model_validate({
        "patient_id": patient_id, "period": form.get("period", ""), "infusion_date": form.get("infusion_date", ""),
        "pre_infusion_pain": opt_float(form, "pre_infusion_pain"), "weight_kg": opt_float(form, "weight_kg"),
        "kit_code": form.get("kit_code"), "notes": form.get("notes")}))
    page.commit()
    return _go(f"/patients/{patient_id}?msg=saved")


@router.get("/patients/{patient_id}/infusions/{period}")
def infusion_edit_page(patient_id: str, period: int, page: PageDep) -> Response:
    """The correction form of one infusion (date, pre-infusion pain, reason), with the dates allowed."""
    page.ctx.require("infusions.write")
    inf = next((i for i in infusions.list_infusions(page.ctx, patient_id) if i.period == period), None)
    if inf is None:
        raise NotFound(f"no infusion recorded for patient {patient_id} period {period}")
    return page.render("infusion_edit.html", inf=inf, allowed=infusions.date_range(page.ctx, patient_id, period), form=None,
                       affected=[])


@router.post("/patients/{patient_id}/infusions/{period}")
async def infusion_edit_submit(patient_id: str, period: int, page: PageDep) -> Response:
    """Save a correction; when the new date moves diary entries, a confirmation step lists them
    (the form comes back with ``confirm=yes``)."""
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("infusions.write")
    change = InfusionChange.model_validate({k: v for k, v in {
        "infusion_date": opt_date(form, "infusion_date"), "pre_infusion_pain": opt_float(form, "pre_infusion_pain"),
        "reason": form.get("reason", ""), "confirm": form.get("confirm") == "yes"}.items() if v is not None})
    try:
        inf = infusions.change_infusion(page.ctx, patient_id, period, change)
    except ConfirmationRequired as exc:
        page.ctx.session.rollback()
        inf = next(i for i in infusions.list_infusions(page.ctx, patient_id) if i.period == period)
        return page.render("infusion_edit.html", status=409, inf=inf, allowed=infusions.date_range(page.ctx, patient_id, period),
                           form=form, affected=exc.affected)
    page.commit()
    return _go(f"/patients/{inf.patient_id}?msg=saved#infusions")


@router.post("/patients/{patient_id}/visits")
async def visit_submit(patient_id: str, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("visits.write")
    visits.record_visit(page.ctx, VisitCreate.model_validate({
        "patient_id": patient_id, "visit": form.get("visit", ""), "visit_date": form.get("visit_date", ""),
        "out_of_window_reason": (form.get("out_of_window_reason") or "").strip() or None}))
    page.commit()
    return _go(f"/patients/{patient_id}?msg=saved#visits")


def item_answer(item: Any, raw: str | None) -> float | str | None:
    if raw is None:
        return None
    if item.kind == "clock":
        return raw
    try:
        x = float(raw)
    except ValueError:
        raise DataError(f"item {item.key}={raw!r} is not a number", source="answers", column=item.key,
                        value=raw) from None
    return int(x) if item.kind == "integer" and x.is_integer() else x


@router.get("/patients/{patient_id}/questionnaire")
def questionnaire_page(patient_id: str, visit: str, instrument: str, page: PageDep) -> Response:
    """Entry form of one instrument at one visit: item keys with the instrument's neutral labels."""
    page.ctx.require("questionnaires.write")
    patients.get_patient(page.ctx, patient_id)
    inst = get_instrument(instrument)
    return page.render("questionnaire.html", patient_id=patient_id, visit=visit, inst=inst, today=_today(),
                       included=questionnaires.inclusion_date(page.ctx, patient_id))


@router.post("/patients/{patient_id}/questionnaire")
async def questionnaire_submit(patient_id: str, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("questionnaires.write")
    inst = get_instrument(form.get("instrument", ""))
    answers = {it.key: item_answer(it, form.get(f"item_{it.key}")) for it in inst.items}
    questionnaires.save_response(page.ctx, QuestionnaireCreate.model_validate({
        "patient_id": patient_id, "visit": form.get("visit", ""), "instrument": inst.name, "answers": answers,
        "completed_date": opt_date(form, "completed_date")}))
    page.commit()
    return _go(f"/patients/{patient_id}?msg=scored#questionnaires")


@router.post("/patients/{patient_id}/adverse-events")
async def adverse_event_submit(patient_id: str, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("adverse_events.write")
    adverse_events.create_event(page.ctx, AdverseEventCreate.model_validate({
        "patient_id": patient_id, "period": form.get("period", ""), "term": form.get("term", ""),
        "severity": form.get("severity", ""), "serious": yes_no(form.get("serious")), "causality": form.get("causality", ""),
        "onset_date": opt_date(form, "onset_date")}))
    page.commit()
    return _go(f"/patients/{patient_id}?msg=saved#adverse-events")


@router.post("/patients/{patient_id}/concomitant")
async def concomitant_submit(patient_id: str, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    page.ctx.require("concomitant.write")
    adverse_events.add_concomitant(page.ctx, ConcomitantCreate.model_validate({
        "patient_id": patient_id, "period": form.get("period", ""), "drug_class": form.get("drug_class", ""),
        "drug_name": form.get("drug_name")}))
    page.commit()
    return _go(f"/patients/{patient_id}?msg=saved#concomitant")


@router.post("/patients/{patient_id}/diary-link")
async def diary_link_submit(patient_id: str, page: PageDep) -> Response:
    """Issue a personal diary link (shown once) or revoke every link of the patient."""
    form = await verify_form(page.request, page.csrf)
    if form.get("action") == "revoke":
        diary.revoke_tokens(page.ctx, patient_id, reason=form.get("reason") or "revoked from the casebook")
        page.commit()
        return _go(f"/patients/{patient_id}?msg=revoked#diary")
    token = diary.issue_token(page.ctx, patient_id)
    page.commit()
    base = page.ctx.settings.public_url  # never the request's Host header (config.Settings.public_url)
    link = (base.rstrip("/") if base else "") + f"/diary/{token}"
    return page.render("diary_link.html", patient_id=patient_id, link=link)


@router.post("/patients/{patient_id}/sign")
async def sign_submit(patient_id: str, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    signatures.sign_casebook(page.ctx, patient_id, password=form.get("password", ""), meaning=form.get("meaning", ""))
    page.commit()
    return _go(f"/patients/{patient_id}?msg=signed#signatures")


def own_unblindings(page: Any) -> list[dict[str, Any]]:
    """The emergency unblindings this user made (only they see the treatment again)."""
    ctx = page.ctx
    if ctx.actor.user_id is None:
        return []
    ids = ctx.session.execute(select(Unblinding.id).where(Unblinding.user_id == ctx.actor.user_id).order_by(Unblinding.id)).scalars()
    return [unblinding.get_unblinding(ctx, i) for i in ids]


"""Correction pages of every captured record type but infusions (those: ``_patients``).

``GET /correct/{table}/{record_id}``: the record's form, pre-filled with the stored values,
and (not for users) the "entered in error" form. ``POST /correct/{table}/{record_id}``: the
correction with its mandatory reason through the service (``change_*``, see
:mod:`ketapain.capture.services.corrections`); an invalid value, a blank reason, a correction
that changes nothing or a locked database shows the form again with the problem and the values
sent (422/409), nothing saved. ``POST /correct/{table}/{record_id}/entered-in-error``: the
soft status with its reason. ``record_id`` is the record's ``id`` (the number the casebook
shows, the one a data query names).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from ketapain.capture.models import Base, Patient, QuestionnaireResponse, Screening, User, VisitRecord
from ketapain.capture.roles import STAFF_ROLES
from ketapain.capture.schemas import (
    AdverseEventUpdate,
    ConcomitantUpdate,
    PatientUpdate,
    QuestionnaireChange,
    ScreeningChange,
    UserUpdate,
    VisitChange,
)
from ketapain.capture.services import adverse_events, corrections, patients, questionnaires, screening, users, visits
from ketapain.capture.web._common import Page, PageDep, opt_date, opt_float, verify_form, yes_no
from ketapain.capture.web._errors import problem_kind
from ketapain.capture.web._patients import item_answer
from ketapain.capture.web._redraw import mark_fields
from ketapain.data import CAUSALITIES, DRUG_CLASSES, PAIN_TYPES, RACES, SEVERITIES
from ketapain.errors import Conflict, NotFound
from ketapain.instruments import get_instrument

router = APIRouter()

ANCHORS = {"visits": "visits", "questionnaire_responses": "questionnaires", "adverse_events": "adverse-events",
           "concomitant": "concomitant", "patients": "details"}


def _record(page: Page, table: str, record_id: int) -> Base:
    """The record, after checking the role may correct it (the role that creates it)."""
    if table == "users":
        page.ctx.require("users.manage")
        return page.ctx.one(User, "user", id=record_id)
    if table not in corrections.RECORD_TYPES:
        raise NotFound(f"table={table!r} has no correction page")
    model, permission = corrections.RECORD_TYPES[table]
    page.ctx.require(permission)
    obj = page.ctx.one(model, f"{table} record", id=record_id)
    if getattr(obj, "status", None) == corrections.ENTERED_IN_ERROR:
        raise Conflict(f"{table} record {record_id} is entered in error")
    return obj


def _f(name: str, label: str, kind: str = "text", value: Any = None, *, options: list[tuple[str, str, bool]] | None = None,
       raw_label: bool = False, required: bool = False, **attrs: Any) -> dict[str, Any]:
    """One form field: ``label`` is a locale key (or shown as is with ``raw_label``); options
    are ``(value, label, label is a locale key)`` (:func:`_raw`, :func:`_keyed`)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 0.0 shown as 0 (sent back, it reads as the same number)
    return {"name": name, "label": label, "kind": kind, "value": "" if value is None else value, "options": options or [],
            "raw_label": raw_label, "required": required, "attrs": attrs}


def _raw(values: Any) -> list[tuple[str, str, bool]]:
    """Options shown as their values (periods, drug classes, pain types, the protocol's choices)."""
    return [(str(v), str(v), False) for v in values]


def _keyed(pairs: list[tuple[str, str]]) -> list[tuple[str, str, bool]]:
    """Options ``(value, locale key)``."""
    return [(v, k, True) for v, k in pairs]


def _periods(page: Page) -> list[tuple[str, str, bool]]:
    return _raw(range(page.ctx.protocol.design.periods + 1))


def _yes_no(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")


def _screening_fields(page: Page, s: Screening) -> list[dict[str, Any]]:
    out = [_f("screening_date", "common.date", "date", s.screening_date)]
    for q in screening.questions(page.ctx):
        stored = s.answers.get(q.field)
        if q.answer == "yes_no":
            value = "" if stored is None else ("yes" if stored == q.value_for(True) else "no")
            out.append(_f(f"c_{q.criterion}", q.text, "yesno", value, raw_label=True))
        elif q.answer == "choice":
            out.append(_f(f"a_{q.field}", q.text, "select", stored, raw_label=True,
                          options=[*_raw(("", *q.choices)), *_keyed([("other", "scr.other")])]))
        else:
            out.append(_f(f"a_{q.field}", q.text, "number", stored, raw_label=True, step="any"))
    items = s.dn4_items or {}
    for it in get_instrument("dn4").items:
        out.append(_f(f"dn4_{it.key}", f"DN4 {it.key} {it.label}", "yesno", _yes_no(items.get(it.key)), raw_label=True))
    return out


def _fields(page: Page, table: str, obj: Any) -> list[dict[str, Any]]:
    """The form fields of ``table`` with the stored values of ``obj``."""
    if table == "visits":
        return [_f("visit_date", "common.date", "date", obj.visit_date, required=True)]
    if table == "questionnaire_responses":
        return [_f("completed_date", "q.completed_date", "date", obj.completed_date, required=True)] + [
                _f(f"item_{it.key}", f"{it.key} {it.label}", "text" if it.kind == "clock" else "number", obj.answers.get(it.key),
                   raw_label=True, step=1 if it.kind == "integer" else "any")
                for it in get_instrument(obj.instrument).items]
    if table == "screenings":
        return _screening_fields(page, obj)
    if table == "adverse_events":
        return [_f("period", "common.period", "select", str(obj.period), options=_periods(page)),
                _f("term", "ae.term", value=obj.term, required=True),
                _f("severity", "ae.severity", "select", obj.severity, options=_keyed([(s, f"ae.sev.{s}") for s in SEVERITIES])),
                _f("serious", "ae.serious", "select", _yes_no(obj.serious), options=_keyed([("no", "common.no"), ("yes", "common.yes")])),
                _f("causality", "ae.causality", "select", obj.causality, options=_keyed([(c, f"ae.caus.{c}") for c in CAUSALITIES])),
                _f("onset_date", "ae.onset", "date", obj.onset_date)]
    if table == "concomitant":
        return [_f("period", "common.period", "select", str(obj.period), options=_periods(page)),
                _f("drug_class", "cm.class", "select", obj.drug_class, options=_raw(DRUG_CLASSES)),
                _f("drug_name", "cm.name", value=obj.drug_name)]
    if table == "patients":
        return [_f("sex", "pat.sex", "select", obj.sex, options=_keyed([("F", "pat.female"), ("M", "pat.male")])),
                _f("age_years", "pat.age", "number", obj.age_years, required=True, step=1),
                _f("weight_kg", "pat.weight", "number", obj.weight_kg, step="any"),
                _f("height_m", "pat.height", "number", obj.height_m, step="any"),
                _f("pain_type", "pat.pain_type", "select", obj.pain_type, options=_raw(PAIN_TYPES)),
                _f("pain_duration_years", "pat.pain_duration", "number", obj.pain_duration_years, step="any"),
                _f("dn4_total", "DN4", "number", obj.dn4_total, raw_label=True, step=1)] + (
               [_f("site_id", "pat.site_id", "select", obj.site_id, options=_raw(tuple(s.id for s in page.ctx.protocol.sites)))]
               if page.ctx.protocol.sites else []) + (
               [_f("race", "pat.race", "select", obj.race, options=_raw(RACES))] if page.ctx.protocol.study.race_collected else [])
    return [_f("full_name", "users.full_name", value=obj.full_name),
            _f("role", "users.role", "select", obj.role, options=_keyed([(r, f"role.{r}") for r in STAFF_ROLES]))]


def _keep(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _save(page: Page, table: str, obj: Any, form: dict[str, str]) -> None:
    """Validate the form into the table's change schema and call its service (no commit)."""
    ctx, reason = page.ctx, form.get("reason", "")
    if isinstance(obj, VisitRecord):
        visits.change_visit(ctx, obj.patient_id, obj.visit, VisitChange.model_validate(
            {"visit_date": form.get("visit_date", ""), "reason": reason}))
    elif isinstance(obj, QuestionnaireResponse):
        answers = {it.key: item_answer(it, form.get(f"item_{it.key}")) for it in get_instrument(obj.instrument).items}
        when = opt_date(form, "completed_date")
        questionnaires.change_response(ctx, obj.patient_id, obj.visit, obj.instrument, QuestionnaireChange.model_validate(
            {"answers": answers, "reason": reason} | ({"completed_date": when} if when not in (None, obj.completed_date) else {})))
    elif isinstance(obj, Screening):
        dn4 = {it.key: int(form[f"dn4_{it.key}"] == "yes") for it in get_instrument("dn4").items if f"dn4_{it.key}" in form}
        screening.change_screening(ctx, obj.screening_id, ScreeningChange.model_validate({
            "screening_date": opt_date(form, "screening_date"), "answers": screening.answers_from_form(ctx, form),
            "dn4_items": dn4 or None, "reason": reason}))
    elif table == "adverse_events":
        adverse_events.change_event(ctx, obj.event_id, AdverseEventUpdate.model_validate(_keep({
            "period": form.get("period"), "term": form.get("term", ""), "severity": form.get("severity"),
            "serious": yes_no(form.get("serious")), "causality": form.get("causality"), "reason": reason})
            | {"onset_date": opt_date(form, "onset_date")}))
    elif table == "concomitant":
        adverse_events.change_concomitant(ctx, obj.id, ConcomitantUpdate.model_validate(_keep({
            "period": form.get("period"), "drug_class": form.get("drug_class"), "reason": reason})
            | {"drug_name": form.get("drug_name")}))
    elif isinstance(obj, Patient):
        patients.change_patient(ctx, obj.patient_id, PatientUpdate.model_validate(_keep({
            "sex": form.get("sex"), "age_years": form.get("age_years", ""), "pain_type": form.get("pain_type"), "reason": reason})
            | {k: opt_float(form, k) for k in ("weight_kg", "height_m", "pain_duration_years")}
            | {"dn4_total": form.get("dn4_total")}
            | {k: form.get(k) or None for k in ("site_id", "race") if k in form}))
    else:
        users.change_user(ctx, obj.username, UserUpdate.model_validate(_keep(
            {"full_name": form.get("full_name", ""), "role": form.get("role"), "reason": reason})))


def _title(table: str, obj: Any) -> dict[str, str]:
    ident = {"visits": "visit", "questionnaire_responses": "instrument", "screenings": "screening_id", "adverse_events": "event_id",
             "concomitant": "drug_class", "patients": "patient_id", "users": "username"}[table]
    values = {"id": str(getattr(obj, ident))}
    if table in ("visits", "questionnaire_responses", "adverse_events", "concomitant"):
        values["pid"] = obj.patient_id
    return values


def _form_page(page: Page, table: str, obj: Any, *, form: dict[str, str] | None = None, status: int = 200,
               problems: list[dict[str, Any]] | None = None, message: str | None = None) -> Response:
    fields = _fields(page, table, obj)
    if form:  # the values sent, shown again with the problem
        for f in fields:
            f["value"] = form.get(f["name"], "")
    by_name = {f["name"]: f for f in fields} | {"reason": _f("reason", "common.reason")}
    for p in problems or []:
        p["label"] = by_name.get(p["field"])
    back = ("/users" if table == "users" else "/screening" if table == "screenings"
            else f"/patients/{obj.patient_id}#{ANCHORS[table]}")
    resp = page.render("correct.html", status=status, table=table, record=obj, title_key=f"corr.title_{table}",
                       title=_title(table, obj), fields=fields, reason=(form or {}).get("reason", ""), back=back,
                       can_eie=table in corrections.RECORD_TYPES, problems=problems or [], message=message,
                       err_key="err.409" if status == 409 else "err.422")
    return mark_fields(page.request, resp, problems or [])  # each problem beside its field too


def _problem_page(page: Page, table: str, record_id: int, form: dict[str, str], exc: ValueError) -> Response:
    """The form again with what was wrong; the request's changes are rolled back."""
    page.ctx.session.rollback()
    obj = _record(page, table, record_id)
    problems = [{"field": str(e["loc"][0]) if e["loc"] else "form", "kind": problem_kind(e["type"]), "msg": e["msg"]}
                for e in exc.errors()] if isinstance(exc, ValidationError) else []
    return _form_page(page, table, obj, form=form, status=409 if isinstance(exc, Conflict) else 422, problems=problems,
                      message=None if isinstance(exc, ValidationError) else str(exc))


@router.get("/correct/{table}/{record_id}")
def correct_page(table: str, record_id: int, page: PageDep) -> Response:
    return _form_page(page, table, _record(page, table, record_id))


def _done(table: str, obj: Any, msg: str) -> RedirectResponse:
    if table == "users":
        url = f"/users?msg={msg}"
    elif table == "screenings":
        url = f"/screening?msg={msg}#{obj.screening_id}"
    elif table == "patients" and msg == "entered_in_error":
        url = f"/patients?msg={msg}"
    else:
        url = f"/patients/{obj.patient_id}?msg={msg}#{ANCHORS[table]}"
    return RedirectResponse(url, status_code=303)


@router.post("/correct/{table}/{record_id}")
async def correct_submit(table: str, record_id: int, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    obj = _record(page, table, record_id)
    try:
        _save(page, table, obj, form)
    except ValueError as exc:  # pydantic's ValidationError, DataError, Conflict (nothing to correct, locked)
        return _problem_page(page, table, record_id, form, exc)
    page.commit()
    return _done(table, obj, "corrected")


@router.post("/correct/{table}/{record_id}/entered-in-error")
async def entered_in_error_submit(table: str, record_id: int, page: PageDep) -> Response:
    form = await verify_form(page.request, page.csrf)
    obj = _record(page, table, record_id)
    try:
        corrections.enter_in_error(page.ctx, table, record_id, form.get("reason"))
    except ValueError as exc:  # a blank reason, locked, a randomised patient...
        return _problem_page(page, table, record_id, {}, exc)
    page.commit()
    return _done(table, obj, "entered_in_error")

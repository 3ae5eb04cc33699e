"""Corrections of every captured record type (issue 16): the service functions ``change_*`` and
``corrections.enter_in_error``, on SQLite and PostgreSQL.

Each record type is corrected once per rule: the reason is mandatory (checked by the service,
not only by the request schema), the audit row holds the old and the new value, the casebook's
e-signature is voided, a locked database refuses, a role that may not create the record may
not correct it, a correction that changes nothing is refused and writes nothing, the open
query on the corrected field is closed with the correction's reason (one on another field stays
open). "Entered in error" hides the record from its list and the export and keeps it in the
audit trail. A blinded role reads the correction's audit rows and never an allocation field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from ketapain.capture.audit import Actor, verify_audit
from ketapain.capture.models import AUDITED_TABLES, AuditLog, DataQuery, Signature
from ketapain.capture.schemas import (
    AdverseEventUpdate,
    ConcomitantUpdate,
    InfusionChange,
    PatientUpdate,
    QuestionnaireChange,
    ScreeningChange,
    UserUpdate,
    VisitChange,
)
from ketapain.capture.services import (
    Context,
    adverse_events,
    audit_log,
    corrections,
    export,
    infusions,
    patients,
    questionnaires,
    screening,
    users,
    visits,
)
from ketapain.data import DRUG_CLASSES
from ketapain.errors import Conflict, DataError, NotFound, PermissionDenied, StudyLocked

from .conftest import ADMIN_PW, ROLE_PW, Api
from .test_api import DN4, ELIGIBLE, TODAY, _has_allocation, _patient

APP_SETTINGS = {"visit_window_days": 60}
"""The ``app`` fixture's settings here: these tests are about corrections, and the dates they record
and correct (today, yesterday) must stay inside the visit windows whatever the infusion dates;
the window rules have their own tests (test_visit_windows.py)."""

ROLE_IDS = {"admin": 1, "investigator": 2, "nurse": 3, "pharmacist": 4, "statistician": 5, "monitor": 6}


@contextmanager
def _ctx(app, role: str) -> Iterator[Context]:
    """A service context of ``role`` (the test users are named after their role)."""
    with app.state.sessionmaker() as session:
        yield Context(session, Actor(role, role, ROLE_IDS[role]), app.state.settings, app.state.protocol)


@pytest.fixture
def study(app, clients: dict[str, Api]) -> dict[str, Any]:
    """One randomised patient with a visit, a DN4 at inclusion, an adverse event and a
    concomitant treatment, its casebook signed; a second (not randomised) patient and a second,
    not enrolled, eligible screening."""
    nurse = clients["nurse"]
    pid = _patient(clients)
    assert nurse.post("/visits", {"patient_id": pid, "visit": "inclusion", "visit_date": str(TODAY)}).status_code == 201
    r = nurse.post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": DN4})
    assert r.status_code == 201, r.text
    q_id = r.json()["id"]
    r = nurse.post("/adverse-events", {"patient_id": pid, "period": 1, "term": "nausea", "severity": "mild", "serious": False,
                                       "causality": "possibly"})
    ae = r.json()
    r = nurse.post("/concomitant", {"patient_id": pid, "period": 1, "drug_class": DRUG_CLASSES[0], "drug_name": "tramadol"})
    cm_id = r.json()["id"]
    r = nurse.post("/screenings", {"answers": ELIGIBLE, "dn4_items": DN4, "screening_date": str(TODAY)})
    s2 = r.json()
    r = nurse.post("/patients", {"sex": "M", "age_years": 61, "pain_type": "radiculopathy"})
    p2 = r.json()
    visit_id = next(v["record_id"] for v in clients["admin"].get("/audit?table=visits").json())
    assert clients["investigator"].post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "reviewed"}).status_code == 201
    scr1 = next(s for s in nurse.get("/screenings").json() if s["patient_id"] == pid)
    pat1 = next(p for p in nurse.get("/patients").json() if p["patient_id"] == pid)
    inf_id = next(int(a["record_id"]) for a in clients["admin"].get("/audit?table=infusions").json())
    return {"inf_id": inf_id, "pid": pid, "visit_id": int(visit_id), "q_id": q_id, "ae": ae, "cm_id": cm_id, "s1": scr1, "s2": s2,
            "p1": pat1, "p2": p2}


@dataclass(frozen=True)
class Case:
    """One record type: its table, the record's id in ``study``, the field corrected and its
    new value, the correction call ``(ctx, study, reason) -> record`` and its list."""

    table: str
    record: Callable[[dict[str, Any]], int]
    field: str
    old: str
    new: str
    change: Callable[[Context, dict[str, Any], str], Any]
    listed: Callable[[Context, dict[str, Any]], list[int]]


def _visit(ctx: Context, s: dict[str, Any], reason: str) -> Any:
    return visits.change_visit(ctx, s["pid"], "inclusion",
                               VisitChange.model_construct(visit_date=TODAY - dt.timedelta(days=1), reason=reason))


def _questionnaire(ctx: Context, s: dict[str, Any], reason: str) -> Any:
    return questionnaires.change_response(ctx, s["pid"], "inclusion", "dn4", QuestionnaireChange.model_construct(
        answers={"6": 1}, reason=reason))


def _screening(ctx: Context, s: dict[str, Any], reason: str) -> Any:
    data = ScreeningChange.model_construct(screening_date=TODAY - dt.timedelta(days=30), reason=reason)
    data.__pydantic_fields_set__ = {"screening_date", "reason"}
    return screening.change_screening(ctx, s["s1"]["screening_id"], data)


def _event(ctx: Context, s: dict[str, Any], reason: str) -> Any:
    data = AdverseEventUpdate.model_construct(severity="moderate", reason=reason)
    data.__pydantic_fields_set__ = {"severity", "reason"}
    return adverse_events.change_event(ctx, s["ae"]["event_id"], data)


def _concomitant(ctx: Context, s: dict[str, Any], reason: str) -> Any:
    data = ConcomitantUpdate.model_construct(drug_name="tapentadol", reason=reason)
    data.__pydantic_fields_set__ = {"drug_name", "reason"}
    return adverse_events.change_concomitant(ctx, s["cm_id"], data)


def _patient_change(ctx: Context, s: dict[str, Any], reason: str) -> Any:
    data = PatientUpdate.model_construct(age_years=51, reason=reason)
    data.__pydantic_fields_set__ = {"age_years", "reason"}
    return patients.change_patient(ctx, s["pid"], data)


def _infusion(ctx: Context, s: dict[str, Any], reason: str) -> Any:
    return infusions.change_infusion(ctx, s["pid"], 1, InfusionChange.model_construct(pre_infusion_pain=5.0, reason=reason,
                                                                                      confirm=False))


def _visits(ctx: Context, s: dict[str, Any]) -> list[int]:
    """The id of the patient's inclusion visit record when it is listed (an active record)."""
    try:
        return [visits.get_visit(ctx, s["pid"], "inclusion").id]
    except NotFound:
        return []


CASES = [
    Case("visits", lambda s: s["visit_id"], "visit_date", str(TODAY), str(TODAY - dt.timedelta(days=1)), _visit, _visits),
    Case("questionnaire_responses", lambda s: s["q_id"], "answers.6", "0", "1", _questionnaire,
         lambda c, s: [r.id for r in questionnaires.list_responses(c, s["pid"])]),
    Case("screenings", lambda s: s["s1"]["id"], "screening_date", str(TODAY - dt.timedelta(days=19)), str(TODAY - dt.timedelta(days=30)),
         _screening, lambda c, s: [x.id for x in screening.list_screenings(c)]),
    Case("adverse_events", lambda s: s["ae"]["id"], "severity", "mild", "moderate", _event,
         lambda c, s: [e.id for e in adverse_events.list_events(c, s["pid"])]),
    Case("concomitant", lambda s: s["cm_id"], "drug_name", "tramadol", "tapentadol", _concomitant,
         lambda c, s: [x.id for x in adverse_events.list_concomitant(c, s["pid"])]),
    Case("patients", lambda s: s["p1"]["id"], "age_years", "50", "51", _patient_change,
         lambda c, s: [p.id for p in patients.list_patients(c)]),
]
IDS = [c.table for c in CASES]
CORRECTED = [*CASES, Case("infusions", lambda s: s["inf_id"], "pre_infusion_pain", "7.0", "5.0", _infusion,
                          lambda c, s: [i.id for i in infusions.list_infusions(c, s["pid"])])]
"""The record types corrected by the shared rules: those above and the infusions (no entered in error)."""


def _audit(ctx: Context, table: str, record_id: int) -> list[AuditLog]:
    return list(ctx.session.execute(select(AuditLog).where(AuditLog.table_name == table, AuditLog.record_id == str(record_id))
                                    .order_by(AuditLog.seq)).scalars())


def _query(clients: dict[str, Api], table: str, record_id: int, field: str | None) -> int:
    r = clients["monitor"].post("/queries", {"table_name": table, "record_id": record_id, "field": field, "text": "please check"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.parametrize("case", CORRECTED, ids=[c.table for c in CORRECTED])
def test_correction_is_audited_voids_the_signature_and_closes_the_query(app, clients, study, case: Case):
    rid = case.record(study)
    on_field = _query(clients, case.table, rid, case.field)
    other = _query(clients, case.table, rid, "status")
    whole = _query(clients, case.table, rid, None)
    with _ctx(app, "nurse") as ctx:
        n_before = len(_audit(ctx, case.table, rid))
        case.change(ctx, study, "  typed wrong on the CRF  ")
        ctx.session.commit()
        rows = _audit(ctx, case.table, rid)[n_before:]
        assert rows and all(r.reason == "typed wrong on the CRF" and r.username == "nurse" and r.action == "update" for r in rows)
        row = next(r for r in rows if r.field == case.field.split(".")[0])
        if "." in case.field:  # a mapping column: the item's old and new value inside the JSON
            key = case.field.split(".")[1]
            assert f'"{key}":{case.old}' in row.old_value and f'"{key}":{case.new}' in row.new_value
        else:
            assert (row.old_value, row.new_value) == (case.old, case.new)
        sig = ctx.session.execute(select(Signature).where(Signature.patient_id == study["pid"])).scalars().one()
        assert sig.status == "void" and f"{case.table} record {rid} changed" in sig.void_reason
        status = {q.id: q for q in ctx.session.execute(select(DataQuery)).scalars()}
        assert status[on_field].status == "closed" and status[on_field].closed_by == "nurse"
        assert status[other].status == "open" and status[whole].status == "open"
        closing = [r for r in _audit(ctx, "data_queries", on_field) if r.field == "status"][-1]
        assert closing.new_value == "closed"
        assert closing.reason == f"closed by the correction of {case.table} record {rid}: typed wrong on the CRF"
        assert verify_audit(ctx.session).ok


@pytest.mark.parametrize("case", CORRECTED, ids=[c.table for c in CORRECTED])
def test_correction_refused_without_reason_for_a_wrong_role_when_nothing_changes_and_when_locked(app, clients, study, case: Case):
    rid = case.record(study)
    with _ctx(app, "nurse") as ctx:
        n_before = len(_audit(ctx, case.table, rid))
        with pytest.raises(DataError, match="reason"):
            case.change(ctx, study, "   ")
        ctx.session.rollback()
    with _ctx(app, "monitor") as ctx, pytest.raises(PermissionDenied):
        case.change(ctx, study, "a monitor may not correct")
    with _ctx(app, "nurse") as ctx:
        case.change(ctx, study, "first")
        ctx.session.commit()
        n_after = len(_audit(ctx, case.table, rid))
        with pytest.raises(Conflict, match="nothing to correct"):
            case.change(ctx, study, "the same again")
        ctx.session.rollback()
        assert len(_audit(ctx, case.table, rid)) == n_after > n_before
    rid_lock = clients["admin"].post("/change-requests", {"action": "lock", "reason": "final", "password": ADMIN_PW}).json()["id"]
    assert clients["statistician"].post(f"/change-requests/{rid_lock}/approve", {"password": ROLE_PW}).status_code == 200
    with _ctx(app, "nurse") as ctx, pytest.raises(StudyLocked):
        corrections.correct(ctx, ctx.session.get(AUDITED_TABLES[case.table], rid), {"status": "active"}, "locked",
                            what="x")
    with _ctx(app, "nurse") as ctx, pytest.raises(StudyLocked):
        case.change(ctx, study, "after lock")


ENTERED = {  # table -> the record entered in error (the randomised patient and its screening are refused)
    "visits": lambda s: s["visit_id"], "questionnaire_responses": lambda s: s["q_id"], "screenings": lambda s: s["s2"]["id"],
    "adverse_events": lambda s: s["ae"]["id"], "concomitant": lambda s: s["cm_id"], "patients": lambda s: s["p2"]["id"],
}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_entered_in_error_hides_the_record_keeps_its_trail_and_closes_its_queries(app, clients, study, case: Case):
    rid = ENTERED[case.table](study)
    study = {**study, "pid": study["p2"]["patient_id"]} if case.table == "patients" else study
    q1, q2 = _query(clients, case.table, rid, None), _query(clients, case.table, rid, "status")
    with _ctx(app, "monitor") as mon, pytest.raises(PermissionDenied):
        corrections.enter_in_error(mon, case.table, rid, "not mine")
    with _ctx(app, "nurse") as ctx:
        before = case.listed(ctx, study)
        assert rid in before
        with pytest.raises(DataError, match="reason"):
            corrections.enter_in_error(ctx, case.table, rid, " ")
        obj, closed = corrections.enter_in_error(ctx, case.table, rid, "wrong patient's form")
        ctx.session.commit()
        assert obj.status == "entered_in_error" and [q.id for q in closed] == [q1, q2]
        assert rid not in case.listed(ctx, study)
        listed_all = {"visits": [], "patients": [p.id for p in patients.list_patients(ctx, include_entered_in_error=True)],
                      "screenings": [x.id for x in screening.list_screenings(ctx, include_entered_in_error=True)],
                      "adverse_events": [e.id for e in adverse_events.list_events(ctx, include_entered_in_error=True)],
                      "concomitant": [x.id for x in adverse_events.list_concomitant(ctx, include_entered_in_error=True)],
                      "questionnaire_responses": [r.id for r in questionnaires.list_responses(ctx, include_entered_in_error=True)]}
        assert case.table == "visits" or rid in listed_all[case.table]  # listed when asked for
        last = _audit(ctx, case.table, rid)[-1]
        assert (last.action, last.field, last.old_value, last.new_value, last.reason) == (
            "entered_in_error", "status", "active", "entered_in_error", "wrong patient's form")
        assert len(_audit(ctx, case.table, rid)) > 1  # the creation rows stay
        with pytest.raises(Conflict, match="already entered in error"):
            corrections.enter_in_error(ctx, case.table, rid, "again")
        assert verify_audit(ctx.session).ok


def test_entered_in_error_leaves_the_export_and_is_refused_for_a_randomised_patient(app, clients, study):
    pid = study["pid"]
    with _ctx(app, "nurse") as ctx:
        with pytest.raises(Conflict, match="randomised"):
            corrections.enter_in_error(ctx, "patients", study["p1"]["id"], "wrong")
        with pytest.raises(Conflict, match="enrolled"):
            corrections.enter_in_error(ctx, "screenings", study["s1"]["id"], "wrong")
        for table in ("adverse_events", "concomitant", "questionnaire_responses"):
            corrections.enter_in_error(ctx, table, ENTERED[table](study), "entered for the wrong patient")
        corrections.enter_in_error(ctx, "patients", study["p2"]["id"], "duplicate enrolment")
        corrections.enter_in_error(ctx, "screenings", study["s2"]["id"], "duplicate screening")
        ctx.session.commit()
    with _ctx(app, "pharmacist") as ctx:
        data = export.export_trial(ctx)
    assert pid in set(data.patients["patient_id"]) and study["p2"]["patient_id"] not in set(data.patients["patient_id"])
    assert data.adverse_events.empty and data.table("concomitant").empty and data.table("questionnaires").empty
    assert study["s2"]["screening_id"] not in set(data.table("screening")["screening_id"])
    assert study["s1"]["screening_id"] in set(data.table("screening")["screening_id"])


def test_entered_again_after_an_entry_in_error_reuses_the_record(app, clients, study):
    """Visits, questionnaires and concomitant treatments are unique per patient (and visit,
    instrument, period and class): the same key entered again reactivates the record, audited."""
    nurse = clients["nurse"]
    with _ctx(app, "nurse") as ctx:
        corrections.enter_in_error(ctx, "visits", study["visit_id"], "wrong date and visit")
        ctx.session.commit()
    assert next(v for v in nurse.get(f"/patients/{study['pid']}/schedule").json() if v["visit"] == "inclusion")["visit_date"] is None
    day = str(TODAY - dt.timedelta(days=2))
    assert nurse.post("/visits", {"patient_id": study["pid"], "visit": "inclusion", "visit_date": day}).status_code == 201
    assert next(v for v in nurse.get(f"/patients/{study['pid']}/schedule").json() if v["visit"] == "inclusion")["visit_date"] == day
    with _ctx(app, "nurse") as ctx:
        last = _audit(ctx, "visits", study["visit_id"])[-2:]
        assert {(r.field, r.new_value) for r in last} == {("visit_date", day), ("status", "active")}


def test_questionnaire_correction_scores_again(app, study):
    with _ctx(app, "nurse") as ctx:
        before = dict(questionnaires.get_response(ctx, study["pid"], "inclusion", "dn4").scores)
        row = _questionnaire(ctx, study, "item 6 was yes")
        ctx.session.commit()
        total = next(k for k in row.scores if k.endswith("total"))
        assert row.answers["6"] == 1 and row.scores[total] == before[total] + 1 == 6


def test_screening_correction_evaluates_eligibility_again(app, study):
    sid = study["s2"]["screening_id"]
    with _ctx(app, "nurse") as ctx:
        row = screening.change_screening(ctx, sid, ScreeningChange(answers={"in_other_trial": True}, reason="in another trial"))
        ctx.session.commit()
        assert (row.eligible, row.outcome) == (False, "not_eligible") and row.reason == "exc_other_trial: exclusion applies"
        assert row.answers["age"] == 50  # the other answers are kept
        row = screening.change_screening(ctx, sid, ScreeningChange(answers={"in_other_trial": False}, reason="misread"))
        ctx.session.commit()
        assert (row.eligible, row.outcome, row.reason, row.failed) == (True, "other", "awaiting randomisation", [])


def test_user_correction_keeps_the_separation_of_duties(app, clients):
    with _ctx(app, "admin") as ctx:
        u = users.change_user(ctx, "nurse", UserUpdate(full_name="Nurse Ratched", reason="name typed wrong"))
        ctx.session.commit()
        assert u.full_name == "Nurse Ratched"
        row = [r for r in _audit(ctx, "users", u.id) if r.field == "full_name"][-1]
        assert (row.old_value, row.new_value, row.reason) == ("Dr nurse", "Nurse Ratched", "name typed wrong")
        with pytest.raises(Conflict, match="nothing to correct"):
            users.change_user(ctx, "nurse", UserUpdate(full_name="Nurse Ratched", reason="again"))
        with pytest.raises(PermissionDenied, match="your own role"):
            users.change_user(ctx, "admin", UserUpdate(role="monitor", reason="self"))
        with pytest.raises(PermissionDenied, match="two-person rule"):
            users.change_user(ctx, "monitor", UserUpdate(role="pharmacist", reason="needs kits"))
        with pytest.raises(DataError, match="reason"):
            users.change_user(ctx, "nurse", UserUpdate.model_construct(full_name="X", reason=" "))
    with _ctx(app, "investigator") as ctx, pytest.raises(PermissionDenied):
        users.change_user(ctx, "nurse", UserUpdate(full_name="X", reason="not an admin"))


def test_blinded_roles_read_the_corrections_but_never_an_allocation_field(app, clients, study):
    """The corrections' audit rows reach the blinded roles (no blinded field among them); the
    allocation rows written at randomisation stay filtered (the pharmacist sees them)."""
    with _ctx(app, "nurse") as ctx:
        for case in CASES:
            case.change(ctx, study, "audit for blinded roles")
        corrections.enter_in_error(ctx, "adverse_events", study["ae"]["id"], "blinded check")
        ctx.session.commit()
    for role in ("investigator", "monitor", "statistician", "admin"):  # the blinded roles that read the audit trail
        with _ctx(app, role) as ctx:
            assert ctx.blinded
            rows = audit_log.read_audit(ctx, limit=5000)
        corrected = {(r["table_name"], r["field"]) for r in rows if r["reason"] == "audit for blinded roles"}
        assert {(c.table, c.field.split(".")[0]) for c in CASES} <= corrected, role
        assert not any(r["table_name"] in ("allocations", "spare_kits") and r["field"] in ("treatment", "sequence", None) for r in rows)
        assert not _has_allocation([{k: v for k, v in r.items() if k in ("old_value", "new_value", "field")} for r in rows]), role
    with _ctx(app, "pharmacist") as ctx:
        assert any(r["table_name"] == "allocations" and r["field"] == "treatment" for r in audit_log.read_audit(ctx, limit=5000))
    for path in (f"/patients/{study['pid']}", f"/adverse-events?patient_id={study['pid']}", "/questionnaires", "/screenings"):
        assert not _has_allocation(clients["nurse"].get(path).json()), path

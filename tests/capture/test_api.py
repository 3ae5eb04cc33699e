"""API tests of the capture app, every test on SQLite and PostgreSQL (see conftest)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from ketapain.capture.audit import verify_audit
from ketapain.capture.db import make_sessionmaker
from ketapain.capture.security import login_keys

from .conftest import ADMIN_PW, ROLE_PW, Api, TestClient

TODAY = dt.datetime.now(dt.UTC).date()
ARMS = ("P", "K", "KM")
ELIGIBLE = {"age": 50, "pain_duration_months": 12, "pain_origin": "peripheral", "iv_ketamine_indicated": True,
            "previous_ketamine": False, "history_compatible_with_lesion": True, "pain_in_neuroanatomical_territory": True,
            "sensory_signs_on_examination": True, "previous_iv_ketamine": False, "ketamine_contraindication": False,
            "magnesium_contraindication": False, "saline_contraindication": False, "incompatible_history_or_drugs": False,
            "childbearing_without_contraception": False, "pregnant_or_lactating": False, "in_other_trial": False,
            "unable_to_comply": False}
DN4 = {str(i): int(i <= 5) for i in range(1, 11)}


def _patient(c: dict[str, Api], *, infused_days_ago: int = 5) -> str:
    """Screen, enrol, randomise and infuse period 1 (by the nurse); returns the patient id."""
    nurse = c["nurse"]
    screened = TODAY - dt.timedelta(days=infused_days_ago + 14)  # before the first infusion (the date rules)
    r = nurse.post("/screenings", {"answers": ELIGIBLE, "dn4_items": DN4, "screening_date": str(screened)})
    assert r.status_code == 201, r.text
    assert r.json()["eligible"] and r.json()["dn4_total"] == 5  # DN4 items 1..5 = 1 -> total 5 (hand count)
    r = nurse.post("/patients", {"screening_id": r.json()["screening_id"], "sex": "F", "age_years": 50, "weight_kg": 70,
                                 "height_m": 1.65, "pain_type": "radiculopathy", "pain_duration_years": 1, "dn4_total": 5})
    assert r.status_code == 201, r.text
    pid = r.json()["patient_id"]
    r = nurse.post(f"/patients/{pid}/randomise")
    assert r.status_code == 201, r.text
    r = nurse.post("/infusions", {"patient_id": pid, "period": 1, "infusion_date": str(TODAY - dt.timedelta(days=infused_days_ago)),
                                  "pre_infusion_pain": 7})
    assert r.status_code == 201, r.text
    return pid


def _has_allocation(payload: object) -> bool:
    """Whether a JSON payload holds a treatment/sequence key or an arm code as a value."""
    if isinstance(payload, dict):
        return any(k in ("treatment", "sequence") or _has_allocation(v) for k, v in payload.items())
    if isinstance(payload, list):
        return any(_has_allocation(v) for v in payload)
    return isinstance(payload, str) and (payload in ARMS or ("-".join(ARMS[:1]) + "-" in payload and payload.count("-") == 2))


def test_healthz_login_csrf_and_rate_limit(app):
    client = TestClient(app)
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/api/v1/patients").status_code == 401
    for _ in range(5):
        assert client.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong"}).status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PW})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    app.state.limiter.success(*login_keys("admin", "testclient"))
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PW})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    body = {"username": "x1", "role": "nurse", "password": "long-enough-1"}
    assert client.post("/api/v1/users", json=body).status_code == 403  # no CSRF header
    assert client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": r.json()["csrf_token"]}).status_code == 201


def test_validation_422_per_field_without_echo(clients):
    r = clients["nurse"].post("/patients", {"sex": "X", "age_years": 10, "pain_type": "radiculopathy"})
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert ("body", "sex") in locs and ("body", "age_years") in locs
    r = clients["admin"].post("/users", {"username": "zz", "role": "nurse", "password": "Qx7pw"})
    assert r.status_code == 422 and "Qx7pw" not in r.text


def test_role_route_matrix_blinded_roles_never_see_allocation(clients):
    pid = _patient(clients)
    routes = ["/patients", f"/patients/{pid}", "/allocations", f"/allocations?patient_id={pid}", "/infusions",
              f"/patients/{pid}/diary", "/compliance", "/diary-missing-today", f"/patients/{pid}/schedule", "/questionnaires",
              "/adverse-events", "/concomitant", "/queries", "/lock", "/audit?limit=5000", "/notifications", "/screenings",
              f"/pharmacy/{pid}/1", "/export", "/users"]
    seen_treatment = {}
    for role, api in clients.items():
        for route in routes:
            r = api.get(route)
            assert r.status_code in (200, 403), (role, route, r.status_code, r.text)
            if role != "pharmacist":
                assert r.status_code == 403 or not _has_allocation(r.json() if "json" in r.headers.get("content-type", "") else []), (
                    role,
                    route,
                )
            elif route.startswith(("/allocations", "/pharmacy")):
                assert r.status_code == 200
                seen_treatment[route] = r.json()
    assert seen_treatment["/allocations"][0]["treatment"] in ARMS
    assert (
        "Preparation" in seen_treatment[f"/pharmacy/{pid}/1"]["preparation_sheet"]
        or seen_treatment[f"/pharmacy/{pid}/1"]["preparation_sheet"]
    )
    # write permissions: monitor cannot enter data, nurse cannot lock, nobody but the pharmacist reaches the pharmacy
    assert (
        clients["monitor"]
        .post(
            "/adverse-events", {"patient_id": pid, "period": 1, "term": "x", "severity": "mild", "serious": False, "causality": "unrelated"}
        )
        .status_code
        == 403
    )
    assert clients["nurse"].post("/lock", {"reason": "x"}).status_code == 403
    for role in ("admin", "investigator", "nurse", "statistician", "monitor"):
        assert clients[role].get(f"/pharmacy/{pid}/1").status_code == 403
    # kit replacement by the nurse: a new kit code, no arm
    r = clients["nurse"].post(f"/allocations/{pid}/1/replace-kit", {"reason": "vial broken"})
    assert r.status_code == 200 and not _has_allocation(r.json()) and r.json()["kit_code"] != r.json()["old_kit_code"]
    after = {a["period"]: a for a in clients["pharmacist"].get(f"/allocations?patient_id={pid}").json()}
    assert (
        after[1]["kit_code"] == r.json()["kit_code"]
        and after[1]["treatment"] == seen_treatment[f"/allocations?patient_id={pid}"][0]["treatment"]
    )


def test_diary_token_late_flag_change_reason_and_revocation(app, clients):
    pid = _patient(clients, infused_days_ago=5)
    token = clients["nurse"].post(f"/patients/{pid}/diary-link").json()["token"]
    patient = TestClient(app)
    h = {"X-Patient-Token": token}
    entry = {"period": 1, "day": 5, "avg_pain": 4, "max_pain": 6, "night_pain": 3, "device_time": "2020-01-01T20:00:00+01:00"}
    r = patient.post("/api/v1/diary", json=entry, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["late"] is False and r.json()["device_time"].startswith("2020-01-01T20:00")
    r = patient.post("/api/v1/diary", json={**entry, "day": 1}, headers=h)
    assert r.json()["late"] is True  # day 1 = 4 days ago > late_entry_days = 1
    assert patient.post("/api/v1/diary", json=entry, headers=h).status_code == 409  # one entry per day
    assert patient.post("/api/v1/diary", json={**entry, "avg_pain": 11, "day": 2}, headers=h).status_code == 422
    assert patient.patch("/api/v1/diary/1/5", json={"avg_pain": 5}, headers=h).status_code == 422  # reason required
    r = patient.patch("/api/v1/diary/1/5", json={"avg_pain": 5, "reason": "typo"}, headers=h)
    assert r.status_code == 200 and r.json()["avg_pain"] == 5
    audit = clients["monitor"].get("/audit?table=diary_entries").json()
    assert any(a["field"] == "avg_pain" and a["old_value"] == "4.0" and a["new_value"] == "5.0" and a["reason"] == "typo" for a in audit)
    assert patient.get("/api/v1/patients", headers=h).status_code == 401  # token is not a staff login
    comp = {c["patient_id"]: c for c in clients["nurse"].get("/compliance").json()}[pid]
    assert comp["days_due"] == 5 and comp["days_entered"] == 2 and [1, 3] in comp["missing"]
    assert clients["nurse"].post(f"/patients/{pid}/diary-link/revoke", {"reason": "phone lost"}).status_code == 200
    assert patient.get("/api/v1/diary", headers=h).status_code == 401


def test_audit_chain_verify_detects_tampering(app, clients):
    pid = _patient(clients)
    clients["nurse"].post(f"/patients/{pid}/diary", {"period": 1, "day": 2, "avg_pain": 3})
    sm = make_sessionmaker(app.state.engine)
    with sm() as s:
        assert verify_audit(s).ok
        s.execute(text("UPDATE diary_entries SET avg_pain = 9 WHERE patient_id = :p"), {"p": pid})
        s.commit()
        res = verify_audit(s)
        assert not res.ok and any("diary_entries record" in p and "avg_pain" in p for p in res.problems)
        s.execute(text("UPDATE diary_entries SET avg_pain = 3 WHERE patient_id = :p"), {"p": pid})
        s.execute(text("UPDATE audit_log SET new_value = 'F' WHERE seq = 5"))
        s.commit()
        res = verify_audit(s)
        assert not res.ok and any(p.startswith("audit row seq=5 ") for p in res.problems), res.problems


def test_lock_refuses_writes_until_audited_unlock(clients):
    pid = _patient(clients)
    ae = {"patient_id": pid, "period": 1, "term": "nausea", "severity": "mild", "serious": False, "causality": "possibly"}
    # the two-person rule (default): the admin requests, the statistician approves
    assert clients["admin"].post("/lock", {"reason": "final analysis"}).status_code == 403
    rid = clients["admin"].post("/change-requests", {"action": "lock", "reason": "final analysis", "password": ADMIN_PW}).json()["id"]
    assert clients["statistician"].post(f"/change-requests/{rid}/approve", {"password": ROLE_PW}).status_code == 200
    r = clients["nurse"].post("/adverse-events", ae)
    assert r.status_code == 409 and "locked" in r.json()["detail"]
    assert clients["statistician"].get("/allocations").json()[0]["treatment"] in ARMS  # unblinded after lock
    assert clients["admin"].post("/unlock", {"password": ADMIN_PW, "reason": "late query"}).status_code == 403
    assert clients["admin"].post("/change-requests", {"action": "unlock", "password": "wrong", "reason": "x"}).status_code == 401
    rid = clients["admin"].post("/change-requests", {"action": "unlock", "password": ADMIN_PW, "reason": "late query"}).json()["id"]
    assert clients["statistician"].post(f"/change-requests/{rid}/approve", {"password": "wrong"}).status_code == 401
    assert clients["statistician"].post(f"/change-requests/{rid}/approve", {"password": ROLE_PW}).status_code == 200
    assert clients["nurse"].post("/adverse-events", ae).status_code == 201
    actions = {a["action"] for a in clients["admin"].get("/audit?table=study").json()}
    assert {"lock", "unlock"} <= actions
    assert "treatment" not in clients["statistician"].get("/allocations").json()[0]  # blinded again


def test_signature_voided_by_later_change(clients):
    pid = _patient(clients)
    inv = clients["investigator"]
    assert inv.post(f"/patients/{pid}/signatures", {"password": "nope", "meaning": "reviewed"}).status_code == 401
    r = inv.post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "I approve this casebook"})
    assert r.status_code == 201 and r.json()["status"] == "valid"
    clients["nurse"].patch(f"/patients/{pid}", {"weight_kg": 71, "reason": "re-weighed"})
    sig = inv.get(f"/patients/{pid}/signatures").json()[0]
    assert sig["status"] == "void" and "weight_kg" in sig["void_reason"] and "after signature" in sig["void_reason"]


def test_emergency_unblinding_one_user_one_period(clients):
    pid = _patient(clients)
    inv = clients["investigator"]
    assert inv.post("/unblindings", {"patient_id": pid, "period": 1, "reason": "SAE", "password": "bad"}).status_code == 401
    assert clients["nurse"].post("/unblindings", {"patient_id": pid, "period": 1, "reason": "SAE", "password": ROLE_PW}).status_code == 403
    r = inv.post("/unblindings", {"patient_id": pid, "period": 1, "reason": "SAE: arrhythmia", "password": ROLE_PW})
    assert r.status_code == 201 and r.json()["treatment"] in ARMS and "sequence" not in r.json()
    uid = r.json()["id"]
    assert inv.get(f"/unblindings/{uid}").json()["treatment"] == r.json()["treatment"]
    assert clients["admin"].get(f"/unblindings/{uid}").status_code == 404
    notes = clients["admin"].get("/notifications").json()
    assert len(notes) == 1 and pid in notes[0]["message"] and not _has_allocation(notes)
    assert "treatment" not in inv.get("/allocations").json()[0]  # still blinded elsewhere


def test_queries_questionnaires_visits(clients):
    pid = _patient(clients, infused_days_ago=45)
    r = clients["nurse"].post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": DN4})
    assert r.status_code == 201 and r.json()["scores"]["total"] == 5
    assert (
        clients["nurse"]
        .post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": {"1": 7}})
        .status_code
        == 422
    )
    first = clients["nurse"].get(f"/infusions?patient_id={pid}").json()[0]["infusion_date"]
    late_visit = str(dt.date.fromisoformat(first) + dt.timedelta(days=35 + 6))
    visit = {"patient_id": pid, "visit": "end_period_1", "visit_date": late_visit}
    assert clients["nurse"].post("/visits", visit).status_code == 422  # outside the window: a reason is needed
    r = clients["nurse"].post("/visits", visit | {"out_of_window_reason": "patient on holiday"})
    assert r.status_code == 201 and r.json()["out_of_window"] is True
    sched = {v["visit"]: v for v in clients["monitor"].get(f"/patients/{pid}/schedule").json()}
    assert sched["end_period_1"]["days_off"] == 6 and sched["end_period_1"]["out_of_window"] is True
    q = clients["monitor"].post("/queries", {"table_name": "questionnaire_responses", "record_id": r.json().get("id", 1), "text": "check"})
    assert q.status_code == 201
    qid = q.json()["id"]
    assert clients["monitor"].post("/queries", {"table_name": "allocations", "record_id": 1, "text": "?"}).status_code == 404
    assert clients["nurse"].post(f"/queries/{qid}/answer", {"answer": "confirmed"}).json()["status"] == "answered"
    assert clients["monitor"].post(f"/queries/{qid}/close", {}).json()["status"] == "closed"


def test_a_query_names_an_existing_field(clients):
    """A query on a field the record does not have could never be closed by its correction: 422
    naming the field and the fields allowed; a column, or an item of a JSON column, is accepted."""
    pid = _patient(clients, infused_days_ago=45)
    rid = clients["nurse"].post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4",
                                                    "answers": DN4}).json()["id"]
    q = {"table_name": "questionnaire_responses", "record_id": rid, "text": "check"}
    r = clients["monitor"].post("/queries", q | {"field": "answer"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "field='answer' is not a field of questionnaire_responses" in str(detail) and "answers.<item>" in str(detail)
    for bad in ("id", "answers.", "visit.x"):
        assert clients["monitor"].post("/queries", q | {"field": bad}).status_code == 422, bad
    for good in ("answers", "answers.1", "visit", "scores.total"):
        assert clients["monitor"].post("/queries", q | {"field": good}).status_code == 201, good
    assert len([x for x in clients["monitor"].get("/queries").json() if x["record_id"] == rid]) == 4  # nothing half-saved


# Regression tests for the server errors found by tests/capture/test_schemathesis.py (and by hand
# on PostgreSQL while fixing them): each request below answered 500 before its fix.


def test_update_with_null_for_a_never_empty_field_is_422_not_500(clients):
    # schemathesis: PATCH /users/nurse {"reason": "msg", "full_name": null} -> IntegrityError (users.full_name NOT NULL)
    r = clients["admin"].patch("/users/nurse", {"reason": "msg", "full_name": None})
    assert r.status_code == 422 and [e["loc"] for e in r.json()["detail"]] == [["body", "full_name"]]
    assert {u["username"]: u for u in clients["admin"].get("/users").json()}["nurse"]["full_name"] == "Dr nurse"
    # schemathesis: PATCH /adverse-events/AE0001 {"reason": "msg", "causality": null} -> IntegrityError
    pid = _patient(clients)
    ae = (
        clients["nurse"]
        .post(
            "/adverse-events",
            {"patient_id": pid, "period": 1, "term": "nausea", "severity": "mild", "serious": False, "causality": "possibly"},
        )
        .json()["event_id"]
    )
    for field in ("causality", "severity", "serious", "term", "status"):
        r = clients["nurse"].patch(f"/adverse-events/{ae}", {"reason": "msg", field: None})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", field], (field, r.text)
    assert clients["nurse"].patch(f"/adverse-events/{ae}", {"reason": "date found", "onset_date": str(TODAY)}).status_code == 200
    assert clients["nurse"].patch(f"/adverse-events/{ae}", {"reason": "date unknown", "onset_date": None}).status_code == 200
    r = clients["nurse"].patch(f"/adverse-events/{ae}", {"reason": "again", "onset_date": None})  # a correction that changes nothing
    assert r.status_code == 409 and "nothing to correct" in r.json()["detail"], r.text
    assert clients["nurse"].patch(f"/patients/{pid}", {"reason": "msg", "status": None}).status_code == 422
    assert clients["nurse"].patch(f"/patients/{pid}", {"reason": "not weighed", "weight_kg": None}).json()["weight_kg"] is None


def test_integers_beyond_the_database_range_are_422_not_500(app, clients):
    pid = _patient(clients)
    token = clients["nurse"].post(f"/patients/{pid}/diary-link").json()["token"]
    huge = 2**63  # schemathesis: PATCH /diary/9223372036854775808/1 {"reason": "0"} -> OverflowError in the SQLite driver
    r = TestClient(app).patch(f"/api/v1/diary/{huge}/1", json={"reason": "0"}, headers={"X-Patient-Token": token})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "period"]
    big = 2**31  # over PostgreSQL's integer
    nurse = clients["nurse"]
    assert nurse.patch(f"/patients/{pid}/diary/1/{big}", {"reason": "x"}).status_code == 422
    assert nurse.post(f"/patients/{pid}/diary", {"period": 1, "day": big}).status_code == 422
    assert nurse.post("/infusions", {"patient_id": pid, "period": big, "infusion_date": str(TODAY)}).status_code == 422
    assert nurse.post(f"/queries/{big}/answer", {"answer": "x"}).status_code == 422
    assert nurse.patch(f"/concomitant/{big}", {"reason": "x"}).status_code == 422
    assert clients["monitor"].post("/queries", {"table_name": "patients", "record_id": big, "text": "x"}).status_code == 422
    assert clients["investigator"].get(f"/unblindings/{huge}").status_code == 422
    assert clients["pharmacist"].get(f"/pharmacy/{pid}/{huge}").status_code == 422
    assert nurse.patch(f"/patients/{pid}/diary/1/{2**31 - 1}", {"reason": "x"}).status_code == 404  # the largest allowed: no such day


def test_export_is_documented_as_a_zip(app, clients):
    # schemathesis (content_type_conformance): GET /export answered application/zip, documented as application/json
    content = app.openapi()["paths"]["/api/v1/export"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["application/zip"]
    r = clients["pharmacist"].get("/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip" and r.content[:2] == b"PK"


def test_text_the_database_cannot_store_is_422_not_500(app, clients):
    # PostgreSQL refuses NUL characters in text and strings longer than a varchar column: each request was a 500 there
    pid = _patient(clients)
    nurse = clients["nurse"]
    ae = {"patient_id": pid, "period": 1, "severity": "mild", "serious": False, "causality": "possibly"}
    assert nurse.post("/adverse-events", {**ae, "term": "a\x00b"}).status_code == 422
    assert nurse.post("/adverse-events", {**ae, "term": "t" * 201}).status_code == 422  # adverse_events.term is varchar(200)
    assert nurse.post("/adverse-events", {**ae, "term": "t" * 200}).status_code == 201
    assert nurse.post(f"/allocations/{pid}/1/replace-kit", {"reason": "a\x00"}).status_code == 422
    assert (
        clients["admin"].post("/users", {"username": "zz1", "role": "nurse", "password": "long-enough-1", "full_name": "a\x00"}).status_code
        == 422
    )
    assert TestClient(app).post("/api/v1/auth/login", json={"username": "a\x00", "password": "b"}).status_code == 422
    for path in ("/patients/P%00", "/allocations?patient_id=%00", "/audit?table=%00", "/queries?status=%00"):
        r = clients["admin"].get(path)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] in ("path", "query"), (path, r.text)


def test_nan_and_infinity_in_json_bodies_are_422(clients):
    # Python's JSON parser reads NaN/Infinity: PostgreSQL's json refused them (500), and an
    # infinite pain duration was stored, then broke the export (422 "invalid trial data")
    nurse = clients["nurse"]

    def raw(path: str, body: str):
        return nurse.client.post("/api/v1" + path, content=body, headers={"X-CSRF-Token": nurse.csrf, "content-type": "application/json"})

    assert raw("/screenings", '{"answers": {"age": NaN}}').status_code == 422
    assert raw("/screenings", '{"answers": {"age": Infinity}}').status_code == 422
    r = raw("/patients", '{"sex": "F", "age_years": 50, "pain_type": "radiculopathy", "pain_duration_years": Infinity}')
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "pain_duration_years"]
    assert clients["nurse"].get("/patients").json() == []


def test_dates_near_the_ends_of_the_calendar_are_422_not_500(clients):
    # an infusion on 9999-12-31 was stored, then the diary of that period overflowed the date type (500)
    pid = _patient(clients)
    nurse = clients["nurse"]
    r = nurse.post("/infusions", {"patient_id": pid, "period": 2, "infusion_date": "9999-12-31"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "infusion_date"]
    assert nurse.post(f"/patients/{pid}/diary", {"period": 2, "day": 1}).status_code == 409  # period 2 has not started
    assert nurse.post("/visits", {"patient_id": pid, "visit": "end_period_3", "visit_date": "0001-01-01"}).status_code == 422
    assert nurse.post("/screenings", {"answers": ELIGIBLE, "screening_date": "1899-12-31"}).status_code == 422
    r = nurse.post("/infusions", {"patient_id": pid, "period": 2, "infusion_date": "2100-12-31"})  # in the future
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "infusion_date"], r.text
    assert "no date in the future" in r.json()["detail"][0]["msg"]
    assert nurse.get(f"/patients/{pid}/schedule").status_code == 200


def test_page_with_a_nul_in_the_patient_id_is_404_not_500(clients):
    # the casebook page takes the id from the URL (no API parameter type): on PostgreSQL the lookup was a 500
    assert clients["nurse"].client.get("/patients/P%00").status_code == 404


def test_422_loc_comes_from_the_errors_structured_fields(clients):
    """A service error's 422 names the field at fault from the error's fields (source, column),
    never by reading its message: the whole message is ``msg``, the field is ``loc``."""
    nurse = clients["nurse"]
    pid = _patient(clients)
    form = {"patient_id": pid, "visit": "inclusion", "instrument": "dn4"}
    entry = {"period": 1, "day": 2, "avg_pain": 4}
    cases = [
        (
            "/visits",
            {"patient_id": pid, "visit": "week_99", "visit_date": str(TODAY)},
            ["body", "visit"],
            "visit='week_99' is not a visit of the protocol",
        ),
        ("/questionnaires", {**form, "answers": {"1": 7}}, ["body", "answers", "1"], "dn4: item 1 = 7"),
        ("/questionnaires", {**form, "answers": {"99": 1}}, ["body", "answers", "99"], "dn4: unknown item '99'"),
        ("/questionnaires", {**form, "instrument": "nope", "answers": {}}, ["body", "instrument"], "unknown instrument 'nope'"),
        (f"/patients/{pid}/diary", {**entry, "day": 36}, ["body", "day"], "day=36 is outside 1..35"),
        (f"/patients/{pid}/diary", {**entry, "period": 4}, ["body", "period"], "period=4 is outside 1..3"),
        ("/screenings", {"answers": {**ELIGIBLE, "age": "old"}}, ["body", "answers", "age"], "criterion inc_age (age): 'old'"),
        ("/screenings", {"answers": ELIGIBLE, "dn4_items": {**DN4, "11": 1}}, ["body", "dn4_items", "11"], "dn4: unknown item '11'"),
        (
            "/screenings",
            {"answers": {**ELIGIBLE, "dn4_total": 2}, "dn4_items": DN4},
            ["body", "answers", "dn4_total"],
            "dn4_total=2 disagrees with the dn4 items, which score 5",
        ),
    ]
    for path, body, loc, message in cases:
        r = nurse.post(path, body)
        assert r.status_code == 422, (path, body, r.text)
        (detail,) = r.json()["detail"]
        assert (detail["loc"], detail["type"]) == (loc, "value_error"), (path, body, r.text)
        assert message in detail["msg"], (path, body, r.text)

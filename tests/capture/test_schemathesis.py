"""Schemathesis against the capture app's OpenAPI document (``/api/v1/openapi.json``), on SQLite.

For every operation of the document (66 under ``/api/v1`` and ``GET /healthz``), Hypothesis
draws requests from the operation's schema with schemathesis' ``as_strategy`` (two valid
requests for one that breaks the schema), sends each as a role — every staff role, by session
cookie and CSRF header, for the staff routes; the patient's link token or nothing for
``/diary``; anonymous for ``/auth/login``, ``/auth/reset-password`` and ``/healthz`` — and checks the response with
schemathesis' own checks:

- ``not_a_server_error``: no 5xx, ever;
- ``response_schema_conformance`` and ``content_type_conformance``: a documented status
  (200/201, FastAPI's 422) has the documented body and media type.

``status_code_conformance`` is not checked: the service errors (401, 403, 404, 409, 429; see
``ketapain.capture.app``) are deliberate and not listed per operation in the document. A 403
(the role may not do this) is checked like any response but does not count towards the
operation's examples, so every operation gets ``MAX_EXAMPLES`` requests from roles it serves.

Every operation starts from a fresh copy of one database holding a small study (two patients,
one randomised and infused with a diary link, a diary entry, a questionnaire, a visit, an
adverse event, a concomitant treatment, a data query, a signature and an emergency
unblinding; ``/unlock`` starts from it locked). Three times in four, a drawn id, period, day,
visit, date... (path, query or top-level body field) is replaced by one of the study's, so
that requests get past "not found" into the services' rules. Examples are bounded and
derandomised (a run is reproducible); a failure prints the request as a curl command.
PostgreSQL-only failures (text it cannot store) are covered by plain tests in ``test_api.py``.
"""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from ketapain.capture import create_app
from ketapain.capture.api import api_router
from ketapain.capture.api.deps import PATIENT_TOKEN_HEADER
from ketapain.capture.security import CSRF_HEADER, SESSION_COOKIE
from ketapain.data import DRUG_CLASSES
from ketapain.protocol import load_protocol

from .conftest import ADMIN_PW, ROLE_PW, Api, enable_pharmacist, make_settings
from .test_api import DN4, ELIGIBLE, TODAY, _patient

MAX_EXAMPLES = 50
OPENAPI = "/api/v1/openapi.json"
STAFF = ("admin", "investigator", "nurse", "pharmacist", "statistician", "monitor")
PATIENT_ROUTES = ("/api/v1/diary", "/api/v1/diary/{period}/{day}")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
_PROTOCOL = load_protocol("ketapain")
VISITS = [v.name for v in _PROTOCOL.visits]
INSTRUMENTS = sorted({q for v in _PROTOCOL.visits for q in v.questionnaires})


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation of the document: the API routers' (built without a
    database) and ``GET /healthz``; ``test_operations_are_the_served_document`` checks that
    they are the served document's."""
    doc = FastAPI()
    doc.include_router(api_router)
    return sorted([(m.upper(), p) for p, ops in doc.openapi()["paths"].items() for m in ops] + [("GET", "/healthz")])


OPERATIONS = _operations()


@pytest.fixture
def db_url(tmp_path, sqlite_template: str) -> str:
    """SQLite only (overrides the conftest's SQLite + PostgreSQL parameter)."""
    dest = tmp_path / "capture.sqlite"
    shutil.copy(sqlite_template, dest)
    return f"sqlite:///{dest}"


def _seed(app) -> dict[str, Any]:
    """A small study entered through the API of ``app``; returns the staff's session cookies
    and CSRF tokens, the patient's link token and the ids the requests are steered to."""
    admin = Api(app, "admin", ADMIN_PW)
    clients = {"admin": admin}
    for role in STAFF[1:]:
        r = admin.post("/users", {"username": role, "role": role, "password": ROLE_PW, "full_name": f"Dr {role}"})
        assert r.status_code == 201, r.text
    for role in STAFF[1:]:
        if role != "pharmacist":
            clients[role] = Api(app, role, ROLE_PW)
    enable_pharmacist(clients["statistician"])   # created disabled under the two-person rule
    clients["pharmacist"] = Api(app, "pharmacist", ROLE_PW)
    nurse, inv, mon = clients["nurse"], clients["investigator"], clients["monitor"]
    pid = _patient(clients, infused_days_ago=5)
    r = nurse.post("/patients", {"sex": "M", "age_years": 61, "pain_type": "radiculopathy"})
    assert r.status_code == 201, r.text
    pid2 = r.json()["patient_id"]
    token = nurse.post(f"/patients/{pid}/diary-link").json()["token"]
    assert nurse.post(f"/patients/{pid}/diary", {"period": 1, "day": 2, "avg_pain": 4, "max_pain": 6}).status_code == 201
    r = nurse.post("/questionnaires", {"patient_id": pid, "visit": "inclusion", "instrument": "dn4", "answers": DN4})
    assert r.status_code == 201, r.text
    assert nurse.post("/visits", {"patient_id": pid, "visit": "inclusion",
                                  "visit_date": str(TODAY - dt.timedelta(days=19))}).status_code == 201  # day -14: in its window
    r = nurse.post("/adverse-events", {"patient_id": pid, "period": 1, "term": "nausea", "severity": "mild", "serious": False,
                                       "causality": "possibly"})
    assert r.status_code == 201, r.text
    event_id = r.json()["event_id"]
    r = nurse.post("/concomitant", {"patient_id": pid, "period": 1, "drug_class": DRUG_CLASSES[0], "drug_name": "x"})
    assert r.status_code == 201, r.text
    cm_id = r.json()["id"]
    r = mon.post("/queries", {"table_name": "adverse_events", "record_id": 1, "text": "please check the onset"})
    assert r.status_code == 201, r.text
    query_id = r.json()["id"]
    assert inv.post(f"/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "reviewed"}).status_code == 201
    r = inv.post("/unblindings", {"patient_id": pid, "period": 1, "reason": "SAE", "password": ROLE_PW})
    assert r.status_code == 201, r.text
    unblinding_id = r.json()["id"]
    r = clients["admin"].post("/change-requests", {"action": "lock", "reason": "interim analysis", "password": ADMIN_PW})
    assert r.status_code == 201, r.text   # pending: approve/reject have a request to act on
    request_id = r.json()["id"]
    kits = [a["kit_code"] for a in nurse.get(f"/allocations?patient_id={pid}").json()]
    dates = [str(TODAY - dt.timedelta(days=d)) for d in (0, 3, 40)]
    screening_ids = [s["screening_id"] for s in nurse.get("/screenings").json()]
    return {
        "token": token,
        "auth": {role: {"cookies": {SESSION_COOKIE: api.client.cookies.get(SESSION_COOKIE)}, "headers": {CSRF_HEADER: api.csrf}}
                 for role, api in clients.items()} | {"patient": {"headers": {PATIENT_TOKEN_HEADER: token}}, "anonymous": {}},
        "known": {
            "patient_id": [pid, pid2], "period": [1, 2], "day": [1, 2, 4, 6], "event_id": [event_id], "record_id": [cm_id, 1],
            "query_id": [query_id], "unblinding_id": [unblinding_id], "request_id": [request_id], "username": ["nurse", "monitor"],
            "screening_id": screening_ids, "visit": VISITS, "instrument": INSTRUMENTS, "kit_code": kits,
            "table_name": ["adverse_events", "concomitant", "diary_entries", "patients", "questionnaire_responses", "visits", "screenings"],
            "password": [ROLE_PW], "weight_kg": [70.0], "answers": [DN4, ELIGIBLE], "dn4_items": [DN4],
            **dict.fromkeys(("infusion_date", "visit_date", "onset_date", "screening_date"), dates),
        },
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory, sqlite_template: str) -> dict[str, Any]:
    """The seeded study (:func:`_seed`) as a SQLite file that every operation's test starts
    from (a copy; the staff's sessions are in it), and the app's OpenAPI document."""
    path = tmp_path_factory.mktemp("fuzz") / "study.sqlite"
    shutil.copy(sqlite_template, path)
    app = create_app(make_settings(f"sqlite:///{path}"))
    try:
        seeded = _seed(app)
        schema = schemathesis.openapi.from_asgi(OPENAPI, app)
    finally:
        app.state.engine.dispose()
    return {"path": path, "schema": schema, **seeded}


@pytest.fixture
def study_app(study: dict[str, Any], tmp_path):
    """A fresh app on a copy of the study's database (the staff's sessions are in it)."""
    dest = tmp_path / "study.sqlite"
    shutil.copy(study["path"], dest)
    app = create_app(make_settings(f"sqlite:///{dest}"))
    yield app
    app.state.engine.dispose()


def _steer(case: Any, data: st.DataObject, known: dict[str, list]) -> None:
    """Three times in four, replace a drawn value of a path, query or top-level body field
    named in ``known`` by one of the study's."""
    for container in (case.path_parameters, case.query, case.body):
        if not isinstance(container, dict):
            continue
        for key in sorted(container):
            if key in known and data.draw(st.integers(0, 3), label=f"steer {key}") > 0:
                container[key] = data.draw(st.sampled_from(known[key]), label=key)


def _roles(path: str) -> tuple[str, ...]:
    if path in ("/api/v1/auth/login", "/api/v1/auth/reset-password", "/healthz"):
        return ("anonymous",)
    if path in PATIENT_ROUTES:
        return ("patient", "anonymous")
    return STAFF


def test_operations_are_the_served_document(app):
    served = schemathesis.openapi.from_asgi(OPENAPI, app)
    ops = sorted((r.ok().method.upper(), r.ok().path) for r in served.get_all_operations())
    # 53 + GET/POST /randomisation-list + 4 change-request operations + PATCH infusion + own password + reset code
    # + GET casebook grid + PATCH visit, questionnaire and screening corrections
    # + POST /records/{table_name}/{record_id}/entered-in-error
    assert ops == OPERATIONS and len(ops) == 67


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p.removeprefix('/api/v1')}" for m, p in OPERATIONS])
def test_no_server_error_and_documented_responses(method: str, path: str, study: dict[str, Any], study_app):
    operation = study["schema"][path][method]
    if path == "/api/v1/unlock":  # unlocking needs a locked database: the pending lock approved
        r = Api(study_app, "statistician", ROLE_PW).post(f"/change-requests/{study['known']['request_id'][0]}/approve",
                                                         {"password": ROLE_PW})
        assert r.status_code == 200, r.text
    positive, negative = operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    cases = st.integers(0, 2).flatmap(lambda i: negative if i == 2 else positive)  # 2 valid : 1 invalid

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(case=cases, role=st.sampled_from(_roles(path)), data=st.data())
    def run(case: Any, role: str, data: st.DataObject) -> None:
        _steer(case, data, study["known"])
        auth = study["auth"][role]
        response = case.call(app=study_app, **auth)
        case.validate_response(response, checks=CHECKS, headers=auth.get("headers"))
        # a role refused by the server (checked above) does not use up the operation's examples
        assume(response.status_code != 403)

    run()

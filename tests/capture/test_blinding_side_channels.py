"""Blinding side channels (issue 7): a blinded role never learns an arm "in any page, API
response, export, error message or timing-visible difference".

Timing is not measured (no wall clock in unit tests). Instead the *causes* of a timing
difference are shown to be absent, deterministically. Two patients are made twins: the same
screening answers, demographics, infusion date, diary, questionnaire, adverse event,
concomitant treatment, diary link, signature, emergency unblinding (by another investigator)
and kit replacement, but randomised to different sequences with a different arm in every
period (and so replaced from spare kits of different arms). Then every request a blinded
role can make about one twin is made about the other, and the two answers must have

(a) the same SQL work: the same number of statements with the same normalised text, in
    the same order, with the same number of parameter rows (a ``before_cursor_execute``
    listener on the app's engine) -- no arm-dependent code path;
(b) the same status and the same body once each twin's own identifiers (patient id,
    screening id, kit codes, row ids, tokens, time stamps) are replaced by placeholders --
    same keys, same length, same error text;
(c) for a resource that needs an unblinded role (pharmacy sheet, emergency unblinding,
    another user's unblinding record, a query on a blinded table), byte-identical errors.

Blinded roles come from :func:`ketapain.capture.roles.is_blinded` (before lock: admin,
investigator, nurse, statistician, monitor) plus the patient (diary link). Every test runs
on SQLite and on PostgreSQL when one answers (the ``app`` fixture of tests/capture/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from ketapain.capture.audit import row_hash
from ketapain.capture.models import (
    AdverseEvent,
    Allocation,
    AuditLog,
    Concomitant,
    DataQuery,
    DiaryEntry,
    Infusion,
    Patient,
    QuestionnaireResponse,
    Screening,
    Signature,
    SpareKit,
    Unblinding,
)
from ketapain.capture.roles import STAFF_ROLES, can, is_blinded
from ketapain.capture.security import CSRF_FIELD, LoginLimiter, token_digest

from .conftest import ROLE_PW, Api, TestClient
from .test_api import DN4, ELIGIBLE

TODAY = dt.datetime.now(dt.UTC).date()
INFUSED = TODAY - dt.timedelta(days=5)
BLINDED_STAFF = tuple(r for r in STAFF_ROLES if is_blinded(r, locked=False))
PATIENT_HEADER = "X-Patient-Token"


# --- SQL work of a request -------------------------------------------------------------------

_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_SQL_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_SPACE = re.compile(r"\s+")


def normalise_sql(statement: str) -> str:
    """The shape of a statement: literal strings and numbers (ids written into the text)
    replaced by ``?``, white space collapsed. Bound parameter markers stay as they are."""
    return _SPACE.sub(" ", _SQL_NUMBER.sub("?", _SQL_STRING.sub("'?'", statement))).strip()


@dataclass
class SqlTrace:
    """Statements sent to the database while recording: ``(shape, executemany, rows)``."""

    statements: list[tuple[str, bool, int]] = field(default_factory=list)

    def record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        rows = len(parameters) if executemany and parameters is not None else 1
        self.statements.append((normalise_sql(statement), bool(executemany), rows))


@contextmanager
def sql_trace(engine: Engine) -> Iterator[SqlTrace]:
    """Record every statement the engine sends while the block runs."""
    trace = SqlTrace()
    event.listen(engine, "before_cursor_execute", trace.record)
    try:
        yield trace
    finally:
        event.remove(engine, "before_cursor_execute", trace.record)


# --- the twins ---------------------------------------------------------------------------------

@dataclass
class Twin:
    """One twin's own identifiers (what may legitimately differ between the two answers)."""

    patient_id: str
    names: dict[str, str] = field(default_factory=dict)    # placeholder -> text identifier (ids, kit codes, token)
    rows: dict[str, int] = field(default_factory=dict)     # placeholder -> database row id
    sequence: str = ""
    arms: dict[int, str] = field(default_factory=dict)     # period -> arm (test knowledge only)
    spare_arm: str = ""

    def __getitem__(self, key: str) -> str | int:
        return self.names[key] if key in self.names else self.rows[key]

    def fill(self, template: str) -> str:
        """``template`` with ``{placeholder}`` replaced by this twin's values."""
        return template.format(**self.names, **self.rows)


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")
_ROW_REF = re.compile(r"(#|/queries/|/records/[a-z_]+/|/correct/[a-z_]+/|<td>(?=\d+</td><td>(?:[^<>#]+ #|<time>)))\d+\b")
"""A record reference in a page (``adverse events #12``, ``/queries/3/answer``, a record page
link ``/records/infusions/4``, a correction link ``/correct/adverse_events/12``, the number cell
of a query row or of an audit row)."""
_AUDIT_CELLS = re.compile(r"(<td>[a-z_]+</td><td>)\d+(</td><td>([a-z_]+)</td><td>)([^<]*)(</td><td>)([^<]*)(</td>)")
"""Table, record number, field, old and new value cells of an audit row on the audit page."""
_ROW_KEYS = frozenset({"id", "ids", "seq", "hash", "record_id", "at", "server_time", "created_at", "signed_at", "randomised_at"})
"""JSON keys whose values are row identities or clock readings (differ between any two records)."""
_ROW_FIELDS = frozenset({"slot_number", "record_id", "user_id", "randomised_at"})
"""Audit rows about these fields hold a row identity or a clock reading as old/new value."""


def _audit_cells(m: re.Match) -> str:
    old, new = (("<row>" if v else v) for v in (m[4], m[6])) if m[3] in _ROW_FIELDS else (m[4], m[6])
    return f"{m[1]}<row>{m[2]}{old}{m[5]}{new}{m[7]}"


def scrub_text(text: str, twin: Twin, echo: tuple[int, ...] = ()) -> str:
    """``text`` with the twin's text identifiers, the row ids ``echo``-ed from the request
    (whole numbers only) and every time stamp replaced by placeholders (longest first)."""
    text = _ROW_REF.sub(r"\1<row>", _TIMESTAMP.sub("<time>", _AUDIT_CELLS.sub(_audit_cells, text)))
    for key, value in sorted(twin.names.items(), key=lambda kv: -len(kv[1])):
        text = text.replace(value, f"<{key}>")
    for value in echo:  # as a word in a message, a path segment, a form value or a query parameter
        text = re.sub(rf"(?<=value=\"){value}(?=\")|(?<=record_id=){value}\b|(?<=/){value}(?=[/?\"]|$)"
                      rf"|(?<=\s){value}(?=[\s),.:;]|$)", "<row>", text)
    return text


def scrub_json(payload: Any, twin: Twin, echo: tuple[int, ...] = ()) -> Any:
    """A JSON payload with row identities and clock readings (:data:`_ROW_KEYS`, audit values
    of :data:`_ROW_FIELDS`) replaced by ``<key>``, and strings scrubbed by :func:`scrub_text`."""
    if isinstance(payload, dict):
        row_field = payload.get("field") in _ROW_FIELDS
        return {k: (f"<{k}>" if v is not None and (k in _ROW_KEYS or (row_field and k in ("old_value", "new_value")))
                    else scrub_json(v, twin, echo)) for k, v in payload.items()}
    if isinstance(payload, list):
        return [scrub_json(v, twin, echo) for v in payload]
    if isinstance(payload, str):  # ids echoed from the request are scrubbed in messages, not in bare values
        return scrub_text(payload, twin, () if payload.strip().isdigit() else echo)
    return payload


# --- one request, made about each twin -------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Probe:
    """A request about one patient: ``{placeholder}`` in the path or body, filled per twin.
    ``page``: a server-rendered page or form (no ``/api/v1`` prefix; forms carry the CSRF field)."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    page: bool = False

    def fill(self, twin: Twin) -> tuple[str, Any, tuple[int, ...]]:
        """The path, the body and the row ids it names (they may be echoed in the answer)."""
        names = _PLACEHOLDER.findall(self.path + json.dumps(self.body))
        echo = tuple(sorted({twin.rows[n] for n in names if n in twin.rows}, reverse=True))
        body = None
        if self.body is not None:
            body = {k: (twin.rows[v[1:-1]] if isinstance(v, str) and v[1:-1] in twin.rows and not self.page
                        else twin.fill(v) if isinstance(v, str) else v) for k, v in self.body.items()}
        return ("" if self.page else "/api/v1") + twin.fill(self.path), body, echo

    def __str__(self) -> str:
        return f"{self.method} {'' if self.page else '/api/v1'}{self.path}"


@dataclass(frozen=True)
class Answer:
    """What one request gave back, and the SQL it cost."""

    status: int
    content_type: str
    body: bytes
    location: str
    sql: tuple[tuple[str, bool, int], ...]
    echo: tuple[int, ...]

    def scrubbed(self, twin: Twin) -> Any:
        """Status, redirect and body with the twin's identifiers replaced (JSON: structurally)."""
        if "json" in self.content_type:
            body = scrub_json(json.loads(self.body), twin, self.echo)
        else:
            body = scrub_text(self.body.decode(), twin, self.echo)
        return self.status, scrub_text(self.location, twin, self.echo), body


def ask(app: Any, api: Api | Link, probe: Probe, twin: Twin) -> Answer:
    """Make ``probe`` about ``twin`` as ``api`` (a staff login, or a patient's :class:`Link`),
    recording its SQL; redirects are not followed."""
    path, body, echo = probe.fill(twin)
    kw: dict[str, Any] = {}
    if probe.method != "GET":
        if probe.page:
            kw["data"] = {CSRF_FIELD: api.csrf, **(body or {})}
        else:
            kw["json"] = body
            kw["headers"] = {"X-CSRF-Token": api.csrf}
    # every probe starts with no failed password count: the re-entry limiter counts the user's
    # failures across probes (a wrong password on twin A would make twin B's probe a 429)
    old = app.state.limiter
    app.state.limiter = LoginLimiter(max_failures=old.max_failures, window_s=old.window_s)
    with sql_trace(app.state.engine) as trace:
        r = api.client.request(probe.method, path, follow_redirects=False, **kw)
    return Answer(r.status_code, r.headers.get("content-type", ""), r.content, r.headers.get("location", ""),
                  tuple(trace.statements), echo)


def assert_same(answers: tuple[Answer, Answer], twins: tuple[Twin, Twin], what: str) -> None:
    """(a) the same SQL work and (b) the same answer once each twin's identifiers are scrubbed."""
    (x, y), (a, b) = answers, twins
    if x.sql != y.sql:
        i = next((k for k, (p, q) in enumerate(zip(x.sql, y.sql, strict=False)) if p != q), min(len(x.sql), len(y.sql)))
        pytest.fail(f"{what}: different SQL work for arms {a.arms} and {b.arms} (status {x.status}, {y.status}): "
                    f"{len(x.sql)} vs {len(y.sql)} statements; first difference at statement {i}:\n"
                    f"A: {x.sql[i] if i < len(x.sql) else '(none)'}\nB: {y.sql[i] if i < len(y.sql) else '(none)'}")
    sa, sb = x.scrubbed(a), y.scrubbed(b)
    if sa != sb:
        ta, tb = str(sa), str(sb)
        i = next((k for k, (p, q) in enumerate(zip(ta, tb, strict=False)) if p != q), min(len(ta), len(tb)))
        pytest.fail(f"{what}: answers for arms {a.arms} and {b.arms} differ after scrubbing the twins' identifiers "
                    f"(lengths {len(ta)}, {len(tb)}); from character {i}:\nA: ...{ta[max(i - 300, 0):i + 300]}\n"
                    f"B: ...{tb[max(i - 300, 0):i + 300]}")


def compare(app: Any, api: Api, probe: Probe, twins: tuple[Twin, Twin], who: str) -> tuple[Answer, Answer]:
    """Make ``probe`` about each twin (A then B) and assert (a) and (b)."""
    answers = (ask(app, api, probe, twins[0]), ask(app, api, probe, twins[1]))
    assert_same(answers, twins, f"{who}: {probe}")
    return answers


@dataclass
class Link:
    """The patient's side: a client that sends the personal link token (no login, no CSRF)."""

    client: TestClient
    csrf: str = ""


def _ids(session: Any, model: Any, pid: str) -> list[int]:
    return list(session.execute(select(model.id).where(model.patient_id == pid).order_by(model.id)).scalars())


def make_twins(app: Any, c: dict[str, Api]) -> tuple[Twin, Twin, dict[str, Any]]:
    """Two patients, identical except for their identifiers and their randomised sequence.

    Every step is made for A then for B by the same user, through :func:`ask`, and every
    step's two answers are compared like any other request at the end (once the twins'
    identifiers are known) -- so screening, enrolment, randomisation, infusion, diary,
    questionnaire, adverse event, concomitant treatment, visit, diary link, signature, kit
    replacement and data query are checked too. The emergency unblinding (by a second
    investigator, so that the ``investigator`` client stays blinded and has no unblinding of
    its own) reveals the arm to that user by design: only its SQL work is compared.
    Returns the twins and ``{"investigator2": Api, "links": {patient_id: Link}}``.
    """
    a, b = Twin(""), Twin("")
    steps: list[tuple[str, Probe, tuple[Answer, Answer], bool]] = []

    def both(who: str, probe: Probe, *, api: Any = None, body_too: bool = True) -> tuple[Any, Any]:
        answers = (ask(app, api or c[who], probe, a), ask(app, api or c[who], probe, b))
        for ans in answers:
            assert ans.status in (200, 201, 303), (who, str(probe), ans.status, ans.body[:300])
        steps.append((who, probe, answers, body_too))
        return tuple(json.loads(x.body) if "json" in x.content_type else None for x in answers)

    for t, r in zip((a, b), both("nurse", Probe("POST", "/screenings", {
            "answers": ELIGIBLE, "dn4_items": DN4, "screening_date": str(TODAY - dt.timedelta(days=7))})), strict=True):
        t.names["screening_id"] = r["screening_id"]
    for t, r in zip((a, b), both("nurse", Probe("POST", "/patients", {
            "screening_id": "{screening_id}", "sex": "F", "age_years": 50, "weight_kg": 70, "height_m": 1.65,
            "pain_type": "radiculopathy", "pain_duration_years": 1, "dn4_total": 5})), strict=True):
        t.patient_id = t.names["pid"] = r["patient_id"]
    for t, r in zip((a, b), both("nurse", Probe("POST", "/patients/{pid}/randomise")), strict=True):
        t.names |= {f"kit{v['period']}": v["kit_code"] for v in r}
    both("nurse", Probe("POST", "/infusions", {"patient_id": "{pid}", "period": 1, "infusion_date": str(INFUSED),
                                                "pre_infusion_pain": 7}))
    for day in (1, 2, 4):
        both("nurse", Probe("POST", "/patients/{pid}/diary", {"period": 1, "day": day, "avg_pain": 4, "max_pain": 6,
                                                               "night_pain": 3}))
    both("nurse", Probe("POST", "/questionnaires", {"patient_id": "{pid}", "visit": "inclusion", "instrument": "dn4",
                                                     "answers": DN4}))
    for t, r in zip((a, b), both("nurse", Probe("POST", "/adverse-events", {
            "patient_id": "{pid}", "period": 1, "term": "nausea", "severity": "mild", "serious": False,
            "causality": "possibly", "onset_date": str(INFUSED)})), strict=True):
        t.names["event_id"] = r["event_id"]
    both("nurse", Probe("POST", "/concomitant", {"patient_id": "{pid}", "period": 1, "drug_class": "tramadol",
                                                  "drug_name": "Topalgic"}))
    both("nurse", Probe("POST", "/visits", {"patient_id": "{pid}", "visit": "randomisation", "visit_date": str(INFUSED)}))
    for t, r in zip((a, b), both("nurse", Probe("POST", "/patients/{pid}/diary-link")), strict=True):
        t.names["token"] = r["token"]
        t.names["diary_form_token"] = token_digest(app.state.settings.secret_key, "diary-form:" + r["token"])
    both("investigator", Probe("POST", "/patients/{pid}/signatures", {"password": ROLE_PW, "meaning": "I approve this casebook"}))
    # kits of different arms: period 2 replaced (damaged) from the spares of each twin's arm
    for t, r in zip((a, b), both("nurse", Probe("POST", "/allocations/{pid}/2/replace-kit", {"reason": "vial broken"})),
                    strict=True):
        t.names["old_kit2"], t.names["kit2"] = r["old_kit_code"], r["kit_code"]
    r = c["admin"].post("/users", {"username": "investigator2", "role": "investigator", "password": ROLE_PW, "full_name": "Dr two"})
    assert r.status_code == 201, r.text
    inv2 = Api(app, "investigator2", ROLE_PW)
    both("investigator2", Probe("POST", "/unblindings", {"patient_id": "{pid}", "period": 1, "reason": "SAE: arrhythmia",
                                                          "password": ROLE_PW}), api=inv2, body_too=False)

    unblinded = {t.patient_id: c["pharmacist"].get(f"/allocations?patient_id={t.patient_id}").json() for t in (a, b)}
    with app.state.sessionmaker() as s:  # (closed before the next request: a SQLite session holds the write lock)
        for t in (a, b):
            pid = t.patient_id
            alloc = s.execute(select(Allocation).where(Allocation.patient_id == pid).order_by(Allocation.period)).scalars().all()
            spare = s.execute(select(SpareKit).where(SpareKit.used_for.like(f"{pid}/2 %"))).scalars().one()
            t.names["slot"] = alloc[0].slot
            t.sequence, t.spare_arm = unblinded[pid][0]["sequence"], spare.treatment
            t.arms = {v["period"]: v["treatment"] for v in unblinded[pid]}
            t.rows = {"patient_row": s.execute(select(Patient.id).where(Patient.patient_id == pid)).scalar_one(),
                      "screening_row": s.execute(select(Screening.id).where(Screening.patient_id == pid)).scalar_one(),
                      "spare_row": spare.id, "ae_row": _ids(s, AdverseEvent, pid)[0], "cm_row": _ids(s, Concomitant, pid)[0],
                      "qr_row": _ids(s, QuestionnaireResponse, pid)[0], "inf_row": _ids(s, Infusion, pid)[0],
                      "sig_row": _ids(s, Signature, pid)[0], "unb_row": _ids(s, Unblinding, pid)[0],
                      "diary_row1": _ids(s, DiaryEntry, pid)[0], **{f"alloc_row{v.period}": v.id for v in alloc}}
    both("monitor", Probe("POST", "/queries", {"table_name": "adverse_events", "record_id": "{ae_row}", "text": "check the onset"}))
    with app.state.sessionmaker() as s:
        for t in (a, b):
            t.rows["query_row"] = _ids(s, DataQuery, t.patient_id)[0]

    assert a.sequence != b.sequence
    # the twins differ in every period's arm and in the arm of their spare kit: the comparison means something
    assert all(a.arms[k] != b.arms[k] for k in a.arms) and a.spare_arm != b.spare_arm, (a.arms, b.arms)
    assert a.spare_arm == a.arms[2] and b.spare_arm == b.arms[2]
    for who, probe, answers, body_too in steps:
        if body_too:
            assert_same(answers, (a, b), f"{who} (setting up the twins): {probe}")
        else:
            assert answers[0].sql == answers[1].sql, f"{who}: {probe}: different SQL work"
    links = {}
    for t in (a, b):
        client = TestClient(app)
        client.headers[PATIENT_HEADER] = t["token"]
        links[t.patient_id] = Link(client)
    return a, b, {"investigator2": inv2, "links": links}


# --- what a blinded role can ask about one patient --------------------------------------------

READS = (
    *(Probe("GET", p) for p in (
        "/patients/{pid}", "/allocations?patient_id={pid}", "/infusions?patient_id={pid}", "/patients/{pid}/diary",
        "/patients/{pid}/schedule", "/questionnaires?patient_id={pid}", "/adverse-events?patient_id={pid}",
        "/concomitant?patient_id={pid}", "/patients/{pid}/signatures", "/pharmacy/{pid}/1", "/pharmacy/{pid}/2?weight_kg=70",
        "/pharmacy/{pid}/9", "/unblindings/{unb_row}", "/audit?table=allocations&record_id={alloc_row1}",
        "/audit?table=allocations&record_id={alloc_row2}", "/audit?table=spare_kits&record_id={spare_row}",
        "/audit?table=patients&record_id={patient_row}", "/audit?table=infusions&record_id={inf_row}",
        "/audit?table=unblindings&record_id={unb_row}", "/audit?table=diary_entries&record_id={diary_row1}",
        "/audit?table=signatures&record_id={sig_row}", "/patients/{pid}/casebook")),
    *(Probe("GET", p, page=True) for p in (
        "/patients/{pid}", "/patients/{pid}/pharmacy/1", "/patients/{pid}/pharmacy/2", "/patients/{pid}/pharmacy/9",
        "/patients/{pid}/questionnaire?visit=inclusion&instrument=dn4", "/unblinding?patient_id={pid}&period=1",
        "/audit?table=allocations&record_id={alloc_row2}", "/audit?table=spare_kits&record_id={spare_row}",
        "/patients/{pid}/grid", "/patients/{pid}/records/infusions/{inf_row}", "/patients/{pid}/records/adverse_events/{ae_row}",
        "/patients/{pid}/records/patients/{patient_row}")),
)
"""Reads about one patient: the JSON API and the pages (GET)."""

ERRORS = (
    Probe("POST", "/patients/{pid}/randomise"),                                                       # 409 already randomised
    Probe("POST", "/infusions", {"patient_id": "{pid}", "period": 1, "infusion_date": str(INFUSED)}),  # 409 already recorded
    Probe("POST", "/infusions", {"patient_id": "{pid}", "period": 2, "infusion_date": str(TODAY), "kit_code": "{old_kit2}"}),
    Probe("POST", "/infusions", {"patient_id": "{pid}", "period": 9, "infusion_date": str(TODAY)}),    # 409 no allocation
    Probe("POST", "/allocations/{pid}/9/replace-kit", {"reason": "dropped"}),                         # 404 no such period
    Probe("POST", "/patients/{pid}/diary", {"period": 1, "day": 1, "avg_pain": 4}),                   # 409 day filled in
    Probe("PATCH", "/patients/{pid}/diary/1/9", {"avg_pain": 5, "reason": "typo"}),                   # 404 no entry
    Probe("POST", "/unblindings", {"patient_id": "{pid}", "period": 1, "reason": "SAE", "password": "wrong-password"}),
    Probe("POST", "/unblindings", {"patient_id": "{pid}", "period": 9, "reason": "SAE", "password": "wrong-password"}),
    Probe("POST", "/queries", {"table_name": "allocations", "record_id": "{alloc_row1}", "text": "arm?"}),
    Probe("POST", "/queries", {"table_name": "spare_kits", "record_id": "{spare_row}", "text": "arm?"}),
    Probe("POST", "/patients/{pid}/signatures", {"password": "wrong-password", "meaning": "x"}),
    Probe("POST", "/patients/{pid}/randomise", {}, page=True),
    Probe("POST", "/patients/{pid}/kit/9", {"reason": "dropped"}, page=True),
    Probe("POST", "/patients/{pid}/infusions", {"period": "1", "infusion_date": str(INFUSED)}, page=True),
    Probe("POST", "/patients/{pid}/infusions", {"period": "2", "infusion_date": str(TODAY), "kit_code": "{old_kit2}"}, page=True),
    Probe("POST", "/unblinding", {"patient_id": "{pid}", "period": "1", "reason": "SAE", "password": "wrong-password"}, page=True),
    Probe("POST", "/patients/{pid}/sign", {"password": "wrong-password", "meaning": "x"}, page=True),
    Probe("PATCH", "/patients/{pid}", {"reason": "check"}),                                            # 409 nothing to correct
    Probe("PATCH", "/patients/{pid}/visits/inclusion", {"visit_date": str(TODAY), "reason": "x"}),   # 404 no visit recorded
    Probe("POST", "/records/patients/{patient_row}/entered-in-error", {"reason": "x"}),              # 409 randomised
    Probe("POST", "/correct/patients/{patient_row}", {"reason": "x"}, page=True),                    # 422 the form's age missing
)
"""Writes about one patient that a blinded role may try and that end in an error (or, for
a role without the right, in a 403) -- for each twin the same error."""

UNBLINDED_ONLY = (
    Probe("GET", "/pharmacy/{pid}/1"), Probe("GET", "/pharmacy/{pid}/2?weight_kg=70"), Probe("GET", "/unblindings/{unb_row}"),
    Probe("POST", "/unblindings", {"patient_id": "{pid}", "period": 1, "reason": "SAE", "password": "wrong-password"}),
    Probe("POST", "/queries", {"table_name": "allocations", "record_id": "{alloc_row1}", "text": "arm?"}),
    Probe("POST", "/queries", {"table_name": "spare_kits", "record_id": "{spare_row}", "text": "arm?"}),
    Probe("GET", "/patients/{pid}/pharmacy/1", page=True), Probe("GET", "/patients/{pid}/pharmacy/2", page=True),
)
"""Requests for an unblinded resource of one patient (its arm, its kit's arm, its
unblinding record, a query on a blinded table)."""

LISTS = ("/patients", "/allocations", "/infusions", "/compliance", "/adverse-events", "/concomitant", "/questionnaires",
         "/queries", "/screenings", "/notifications", "/diary-missing-today", "/audit?limit=5000")
"""Lists: each twin's entries must look the same."""


@pytest.fixture
def twins(app, clients) -> tuple[Twin, Twin, dict[str, Any]]:
    return make_twins(app, clients)


def test_roles_under_test_are_the_blinded_ones():
    """The issue's blinded roles (nurse, statistician before lock, monitor, investigator) are
    all under test, and the pharmacist (never blinded) is not."""
    assert {"nurse", "statistician", "monitor", "investigator"} <= set(BLINDED_STAFF)
    assert "pharmacist" not in BLINDED_STAFF and is_blinded("statistician", locked=False) and is_blinded("patient", locked=False)


def test_sql_shape_and_scrubbing():
    """Literal numbers and strings in SQL text are normalised, parameter markers kept; the
    scrubber replaces a twin's identifiers and echoed ids, and nothing else."""
    assert normalise_sql("SELECT a.id FROM t AS a\n  WHERE a.id = 17 AND b = 'P001' LIMIT ?") == \
        "SELECT a.id FROM t AS a WHERE a.id = ? AND b = '?' LIMIT ?"
    assert normalise_sql("x = %(param_1)s AND y = :id_2") == "x = %(param_1)s AND y = :id_2"
    assert normalise_sql("x = 1") != normalise_sql("y = 1")
    t = Twin("P001", names={"pid": "P001", "kit1": "T-ABC"}, rows={"unb_row": 12})
    assert scrub_text("unblinding 12 of P001 (T-ABC) at 2026-01-02T03:04:05.123+00:00; 120 P", t, (12,)) == \
        "unblinding <row> of <pid> (<kit1>) at <time>; 120 P"
    assert scrub_json({"id": 4, "treatment": "K", "kit_code": "T-ABC"}, t) == {"id": "<id>", "treatment": "K", "kit_code": "<kit1>"}


def test_the_comparison_sees_the_arm_of_an_unblinded_view(app, clients, twins):
    """Control: for the pharmacist (unblinded) the same comparison fails, on the arm."""
    a, b, _ = twins
    for probe in (Probe("GET", "/allocations?patient_id={pid}"), Probe("GET", "/patients/{pid}/pharmacy/1", page=True)):
        answers = (ask(app, clients["pharmacist"], probe, a), ask(app, clients["pharmacist"], probe, b))
        assert answers[0].status == 200
        with pytest.raises(pytest.fail.Exception, match="differ after scrubbing"):
            assert_same(answers, (a, b), f"pharmacist: {probe}")


@pytest.mark.parametrize("role", BLINDED_STAFF)
def test_blinded_reads_about_twins_are_the_same(app, clients, twins, role):
    """Every read and page about one twin: the same SQL work and the same scrubbed answer;
    in every list, the twins' entries look the same."""
    a, b, _ = twins
    api = clients[role]
    for probe in READS:
        compare(app, api, probe, (a, b), role)
    for path in LISTS:
        r = api.get(path)
        assert r.status_code in (200, 403), (role, path, r.text)
        if r.status_code == 403:
            continue
        items = r.json()
        mine = [[scrub_json(i, t) for i in items if t.patient_id in json.dumps(i)] for t in (a, b)]
        assert mine[0] == mine[1], f"{role} GET {path}: the twins' entries differ\nA: {mine[0]}\nB: {mine[1]}"


@pytest.mark.parametrize("role", BLINDED_STAFF)
def test_blinded_error_paths_about_twins_are_the_same(app, clients, twins, role):
    """Every refused write about one twin (403, 404, 409, 401, 422): same SQL work, same error."""
    a, b, _ = twins
    for probe in ERRORS:
        x, _y = compare(app, clients[role], probe, (a, b), role)
        assert x.status >= 400 or (x.status == 303 and probe.page), (role, str(probe), x.status, x.body[:300])


@pytest.mark.parametrize("role", BLINDED_STAFF)
def test_unblinded_resources_give_byte_identical_errors(app, clients, twins, role):
    """(c) A blinded role asking for an unblinded resource of the arm-A twin and of the
    arm-B twin gets a byte-identical error (only an id it sent itself may be echoed)."""
    a, b, _ = twins
    for probe in UNBLINDED_ONLY:
        x, y = compare(app, clients[role], probe, (a, b), role)
        assert x.status in (401, 403, 404), (role, str(probe), x.status)
        bx, by = x.body, y.body
        if x.echo or probe.page:   # an id from the request, or the page's own path, may be echoed
            bx, by = scrub_text(bx.decode(), a, x.echo).encode(), scrub_text(by.decode(), b, y.echo).encode()
        assert bx == by, f"{role}: {probe}: {x.body!r} vs {y.body!r}"
        words = set(re.findall(r"[\w-]+", x.body.decode() + y.body.decode()))
        assert not words & {*a.arms.values(), *b.arms.values(), a.sequence, b.sequence}, (role, str(probe), x.body[:300])


def test_patient_link_answers_are_the_same(app, twins):
    """The patient (always blinded) through the personal link: diary pages, API, errors."""
    a, b, extra = twins
    probes = (Probe("GET", "/diary"), Probe("POST", "/diary", {"period": 1, "day": 1, "avg_pain": 4}),
              Probe("PATCH", "/diary/1/9", {"avg_pain": 5, "reason": "typo"}), Probe("GET", "/patients/{pid}"),
              Probe("GET", "/allocations?patient_id={pid}"), Probe("GET", "/pharmacy/{pid}/1"),
              Probe("GET", "/diary/{token}", page=True), Probe("GET", "/diary/{token}?period=1&day=2", page=True),
              Probe("GET", "/diary/{token}/done?period=1&day=1", page=True), Probe("GET", "/patients/{pid}", page=True),
              Probe("POST", "/diary/{token}", {"csrf_token": "{diary_form_token}", "period": "1", "day": "1", "mode": "new",
                                               "avg_pain": "4"}, page=True))
    for probe in probes:
        answers = tuple(ask(app, extra["links"][t.patient_id], probe, t) for t in (a, b))
        assert_same(answers, (a, b), f"patient: {probe}")


@pytest.mark.parametrize("role", ["nurse", "investigator"])
def test_kit_replacement_from_spares_of_different_arms_is_the_same(app, clients, twins, role):
    """Replacing a kit (API, then page form) takes a spare of the allocation's arm: for the
    twins (different arms) the same SQL work and the same answer; the new kits' arms are
    those of the allocations (checked through the pharmacist)."""
    a, b, _ = twins
    for probe in (Probe("POST", "/allocations/{pid}/3/replace-kit", {"reason": "vial broken"}),
                  Probe("POST", "/patients/{pid}/kit/3", {"reason": "label torn"}, page=True)):
        answers = (ask(app, clients[role], probe, a), ask(app, clients[role], probe, b))
        for t in (a, b):  # the new kit code is the twin's own identifier from now on
            new_code = clients[role].get(f"/allocations?patient_id={t.patient_id}").json()[2]["kit_code"]
            t.names["old_kit3"], t.names["kit3"] = t.names["kit3"], new_code
        assert_same(answers, (a, b), f"{role}: {probe}")
        assert answers[0].status in (200, 303), (str(probe), answers[0].status, answers[0].body[:300])
    with app.state.sessionmaker() as s:
        for t in (a, b):
            used = s.execute(select(SpareKit.treatment).where(SpareKit.used_for.like(f"{t.patient_id}/3 %"))).scalars().all()
            assert used == [t.arms[3], t.arms[3]]


def test_spare_kits_running_out_does_not_depend_on_the_arm(app, clients, twins):
    """Replacements are refused only when the reserve guaranteed for every arm (the smallest
    number of spares loaded for any arm) is used up -- never because one arm's spares ran out:
    replacing A's period-3 kit again and again is served until that reserve is reached, even
    though all those spares come from one arm, and then A's and B's (another arm) replacements
    are refused alike (same SQL, same answer)."""
    a, b, _ = twins
    nurse = clients["nurse"]
    with app.state.sessionmaker() as s:
        per_arm = dict(s.execute(select(SpareKit.treatment, func.count()).group_by(SpareKit.treatment)).all())
        used = s.execute(select(func.count()).select_from(SpareKit).where(SpareKit.status == "used")).scalar_one()
    capacity = min(per_arm[arm] for arm in app.state.protocol.arm_codes)
    assert a.arms[3] != b.arms[3] and 0 < used < capacity
    for _ in range(capacity - used):
        assert nurse.post(f"/allocations/{a.patient_id}/3/replace-kit", {"reason": "dropped"}).status_code == 200
    r = nurse.post(f"/allocations/{a.patient_id}/3/replace-kit", {"reason": "dropped"})
    assert r.status_code == 409 and f"({capacity} replacements of {capacity})" in r.json()["detail"]
    with app.state.sessionmaker() as s:

        def available(arm: str) -> int:
            return len(s.execute(select(SpareKit.id).where(SpareKit.status == "available", SpareKit.treatment == arm)).all())

        # the refusal is arm-blind: both twins' arms still have spares on the shelf
        assert available(b.arms[3]) > 0 and sum(available(arm) for arm in per_arm) > 0
    for t in (a, b):
        t.names["kit3"] = nurse.get(f"/allocations?patient_id={t.patient_id}").json()[2]["kit_code"]
    compare(app, nurse, Probe("POST", "/allocations/{pid}/3/replace-kit", {"reason": "vial broken"}), (a, b), "nurse")


def recover_hidden_values(rows: list[dict[str, Any]], candidates: dict[str, list[str]]) -> dict[str, str]:
    """What a viewer can rebuild of the audit rows left out of its listing (``rows``: the
    visible rows of one record) from the hash chain: for every run of missing ``seq`` numbers
    between two visible rows written by the same call (same ``at``), try every order of the
    hidden fields and every candidate value, chain :func:`ketapain.capture.audit.row_hash`
    from the row before the run, and keep the guess that reproduces the next row's ``hash``."""
    by_seq = {r["seq"]: r for r in rows}
    found: dict[str, str] = {}
    for r in rows:
        gap = next((g for g in range(1, len(candidates) + 1) if r["seq"] - g - 1 in by_seq), 0)
        before = by_seq.get(r["seq"] - gap - 1)
        if not gap or before is None or before["at"] != r["at"] or "hash" not in r or "hash" not in before:
            continue
        for fields in itertools.permutations(candidates, gap):
            for values in itertools.product(*(candidates[f] for f in fields)):
                h = before["hash"]
                for i, (f, v) in enumerate(zip(fields, values, strict=True)):
                    h = row_hash(
                        before["seq"] + 1 + i,
                        r["at"],
                        r["username"],
                        r["action"],
                        r["table_name"],
                        r["record_id"],
                        f,
                        None,
                        v,
                        r["reason"],
                        h,
                    )
                if (
                    row_hash(
                        r["seq"],
                        r["at"],
                        r["username"],
                        r["action"],
                        r["table_name"],
                        r["record_id"],
                        r["field"],
                        r["old_value"],
                        r["new_value"],
                        r["reason"],
                        h,
                    )
                    == r["hash"]
                ):
                    found.update(zip(fields, values, strict=True))
    return found


AUDIT_READERS = tuple(r for r in BLINDED_STAFF if can(r, "audit.read"))


@pytest.mark.parametrize("role", AUDIT_READERS)
def test_audit_hash_chain_does_not_reveal_the_hidden_rows(app, clients, twins, role):
    """The audit rows hidden from a blinded role (sequence and treatment of an allocation)
    cannot be rebuilt from what its audit listing shows (``seq``, ``at``, ``hash`` of the
    neighbouring rows) by hashing every possible arm and sequence."""
    a, b, _ = twins
    arms = list(app.state.protocol.arm_codes)
    candidates = {"sequence": ["-".join(p) for p in itertools.permutations(arms)], "treatment": arms}
    for t in (a, b):
        rows = clients[role].get(f"/audit?table=allocations&record_id={t.rows['alloc_row1']}").json()
        assert rows and not any(r["field"] in candidates for r in rows), "precondition: the listing hides the arm"
        assert not any("hash" in r for r in rows)
        found = recover_hidden_values(rows, candidates)
        if found:
            truth = {"sequence": t.sequence, "treatment": t.arms[1]}
            assert found == truth, (found, truth)  # what is rebuilt is the true allocation
            pytest.fail(
                f"{role}: GET /api/v1/audit?table=allocations&record_id={t.rows['alloc_row1']} lets a blinded "
                f"role rebuild {found} of patient {t.patient_id} period 1 from the hash chain"
            )


def test_hash_chain_attack_works_when_hashes_are_shown(app, clients, twins):
    """Control for the test above: on the same record, the trail with the hashes (read from the
    database) and the arm rows left out -- what a blinded listing showed before hashes were
    withheld -- gives the true allocation back to :func:`recover_hidden_values`."""
    a, _b, _ = twins
    arms = list(app.state.protocol.arm_codes)
    candidates = {"sequence": ["-".join(p) for p in itertools.permutations(arms)], "treatment": arms}
    with app.state.sessionmaker() as s:
        trail = (
            s.execute(select(AuditLog).where(AuditLog.table_name == "allocations", AuditLog.record_id == str(a.rows["alloc_row1"])))
            .scalars()
            .all()
        )
        rows = [
            {
                k: getattr(r, k)
                for k in ("seq", "at", "username", "action", "table_name", "record_id", "field", "old_value", "new_value", "reason", "hash")
            }
            for r in trail
            if r.field not in candidates
        ]
    assert recover_hidden_values(rows, candidates) == {"sequence": a.sequence, "treatment": a.arms[1]}

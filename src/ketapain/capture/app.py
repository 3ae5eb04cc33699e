"""``create_app(settings)``: the FastAPI application (API under ``/api/v1``, ``/healthz``).

Nothing is built at import time. :func:`create_app` opens the engine, applies the Alembic
migrations, creates the first admin (``settings.admin_user``/``admin_password``, else a
one-time password printed once to stderr), loads the randomisation list, and with
``demo=True`` imports a simulated trial. Service errors map to HTTP: DataError/
InstrumentError 422 (``detail`` = list of ``{loc, msg}``, ``loc`` from the error's structured
fields: :func:`body_loc`), AuthenticationFailed 401,
PermissionDenied 403, NotFound 404, Conflict/StudyLocked 409, RateLimited 429, NotSaved 503 (with
``Retry-After: 1``: a group-commit batch's commit failed, nothing of the request was stored).
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, func, select, text

from ketapain import __version__
from ketapain.capture.api import api_router
from ketapain.capture.api.deps import session_slot, writers_lock
from ketapain.capture.audit import SYSTEM, Actor
from ketapain.capture.config import Settings
from ketapain.capture.db import make_engine, make_sessionmaker, read_only_engine, upgrade
from ketapain.capture.headers import SecurityHeaders
from ketapain.capture.models import Patient
from ketapain.capture.security import LoginLimiter
from ketapain.capture.services import Context, study, users
from ketapain.capture.services import demo as demo_service
from ketapain.capture.services.randomisation_list import ListFiles
from ketapain.capture.writer import GroupWriter
from ketapain.errors import (
    AuthenticationFailed,
    ConfirmationRequired,
    Conflict,
    KetapainError,
    NotFound,
    NotSaved,
    PermissionDenied,
    ProtocolError,
    RateLimited,
)
from ketapain.protocol import Protocol, load_protocol

__all__ = ["CAPTURE_SCALE", "body_loc", "capture_protocol", "create_app", "first_start_message", "prepare_database"]

CAPTURE_SCALE = (0.0, 10.0)
"""The only diary scale the capture app supports: the NRS 0..10 of its phone diary (0..10 buttons)
and of its forms (``schemas.Pain``)."""


def capture_protocol(source: str) -> Protocol:
    """Load the protocol ``source`` (a shipped name or a file) for the capture app, refusing one
    whose diary scale is not the NRS 0..10 the app captures.

    Raises
    ------
    ProtocolError
        The protocol does not load, or its ``[diary]`` scale is not 0..10: one message naming the
        protocol, the scale found and the scale supported.

    Examples
    --------
    >>> capture_protocol("ketapain").diary.scale
    (0.0, 10.0)
    """
    protocol = load_protocol(source)
    if protocol.diary.scale != CAPTURE_SCALE:
        lo, hi = protocol.diary.scale
        raise ProtocolError(
            f"{source}: the diary scale is {lo:g}..{hi:g} ([diary] scale_min = {protocol.diary.scale_min}, "
            f"scale_max = {protocol.diary.scale_max}); ketapain capture supports only the NRS "
            f"{CAPTURE_SCALE[0]:g}..{CAPTURE_SCALE[1]:g} (its phone diary and forms take 0..10), so it does not "
            "start with this protocol. Collect this trial's diary elsewhere; ketapain check and ketapain "
            "analyze take its data on its own scale")
    return protocol

_STATUS = [(AuthenticationFailed, 401), (RateLimited, 429), (PermissionDenied, 403), (NotFound, 404), (Conflict, 409),
           (NotSaved, 503)]


def body_loc(exc: KetapainError) -> list[str | int]:
    """The 422 ``loc`` of a service error, from its structured fields (never its message):
    ``["body", source, column]`` with those given, e.g. ``["body", "answers", "4"]`` for item 4
    of a questionnaire's ``answers``, ``["body", "visit"]``, or ``["body"]`` when neither is known.

    >>> from ketapain.errors import DataError
    >>> body_loc(DataError("visit='v9' is not a visit", column="visit"))
    ['body', 'visit']
    >>> body_loc(DataError("item 4 = 5 is out of range", source="answers", column="4")), body_loc(DataError("no"))
    (['body', 'answers', '4'], ['body'])
    """
    return ["body", *(str(part) for part in (exc.source, exc.column) if part is not None)]


WRITING_READS = frozenset({"/api/v1/export"})
"""Paths of GET routes that write (the export records itself in the audit trail): they get a write
session (``api.deps.get_session``); every other GET gets a read session, which refuses to write."""


def prepare_database(engine: Engine, settings: Settings, *, demo: bool = False, demo_patients: int = 12,
                     demo_seed: int = 20200154, randomisation_list: ListFiles | None = None) -> str | None:
    """Migrate, create the first admin, set up the study (and import the demo trial into an
    empty database) and load ``randomisation_list`` (its commitment verified; nothing is
    committed when it is refused). A demo database gets a test list with room for
    ``demo_patients`` new patients after the simulated ones. Returns the one-time admin
    password when one was generated."""
    protocol = capture_protocol(settings.protocol)  # before migrating: a refused protocol touches nothing
    upgrade(engine)
    sm = make_sessionmaker(engine)
    with sm() as session:
        one_time = users.bootstrap_admin(session, settings)
        if demo and not session.execute(select(func.count(Patient.id))).scalar():
            from ketapain.simulate import simulate_trial

            ctx = Context(session, Actor("demo", "investigator"), settings, protocol)
            demo_service.import_trial(ctx, simulate_trial(protocol, seed=demo_seed, n_patients=demo_patients))
        study.setup_study(session, SYSTEM, settings, protocol, list_files=randomisation_list,
                          demo_room=demo_patients if demo else 0)
        session.commit()
    return one_time


def first_start_message(username: str, password: str, *, url: str | None = None) -> str:
    """The framed message that hands the generated admin password over, once, with what to do next."""
    where = url.rstrip("/") + "/login" if url else "the app's /login page"
    lines = [
        "ketapain capture: first start",
        "",
        "The administrator account has been created:",
        f"    user name:  {username}",
        f"    password:   {password}",
        "",
        "This password is shown only this once: keep it in a password manager now.",
        f"Next: open {where}, sign in, and add the trial team on the Users page.",
        "To choose the administrator's name and password yourself, set KETAPAIN_ADMIN_USER",
        "and KETAPAIN_ADMIN_PASSWORD before the first start (docs/capture.md).",
    ]
    width = max(map(len, lines))
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


def _worker_threads_lifespan(n: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that lets at most ``n`` requests run in worker threads at once
    (:attr:`Settings.worker_threads`): Starlette's default of 40 threads made 100 clients wait
    longer (each thread waits for Python's lock in turn) than a few threads with the others
    queued on the event loop."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        before = limiter.total_tokens
        limiter.total_tokens = n
        try:
            yield
        finally:
            limiter.total_tokens = before

    return lifespan


def create_app(settings: Settings, *, engine: Engine | None = None, demo: bool = False, demo_patients: int = 12,
               demo_seed: int = 20200154, on_first_start: Callable[[str, str], None] | None = None,
               randomisation_list: ListFiles | None = None) -> FastAPI:
    """Build the app for ``settings`` (a ready ``engine`` may be given, e.g. by tests).

    On the first start, when the admin's password was generated, ``on_first_start(username,
    password)`` is called once (default: print :func:`first_start_message` on stderr).
    Raises
    ------
    ProtocolError
        The protocol does not load or its diary scale is not 0..10 (:func:`capture_protocol`),
        before anything else is done.
    """
    protocol = capture_protocol(settings.protocol)
    engine = engine or make_engine(settings.database_url)
    one_time = prepare_database(engine, settings, demo=demo, demo_patients=demo_patients, demo_seed=demo_seed,
                                randomisation_list=randomisation_list)
    if one_time:
        username = settings.admin_user or "admin"
        if on_first_start is None:
            print(first_start_message(username, one_time), file=sys.stderr)
        else:
            on_first_start(username, one_time)
    app = FastAPI(title="ketapain capture", version=__version__, openapi_url="/api/v1/openapi.json",
                  lifespan=_worker_threads_lifespan(settings.worker_threads))
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.writing_reads = WRITING_READS
    # SQLite: writing requests queue on the event loop, one lock per loop (api.deps.get_session)
    app.state.writers = weakref.WeakKeyDictionary() if engine.dialect.name == "sqlite" else None
    app.state.session_slots = weakref.WeakKeyDictionary()  # api.deps.session_slot
    # group commit of the diary posts, on both backends: the posts of a batch are checked and
    # stored together (services.diary_batch; benchmarks/RESULTS_capture.md, "Bulk group commit")
    app.state.group_writer = GroupWriter(app.state.sessionmaker, writer_lock=lambda loop: writers_lock(app.state, loop))
    app.state.protocol = protocol
    app.state.limiter = LoginLimiter(max_failures=settings.login_max_failures, window_s=settings.login_window_s)
    app.include_router(api_router)

    reader = read_only_engine(engine)

    def ping() -> None:
        with reader.connect() as conn:  # a read: never waits for a writer
            conn.execute(text("SELECT 1"))

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> dict[str, Any]:
        async with session_slot(request):  # a connection, counted as the sessions are
            await run_in_threadpool(ping)
        return {"status": "ok", "version": __version__}

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # one message per field; the submitted value is never echoed (it may be a password)
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(KetapainError)
    async def _ketapain_error(_request: Request, exc: KetapainError) -> JSONResponse:
        for cls, code in _STATUS:
            if isinstance(exc, cls):
                headers = ({"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimited)
                           else {"Retry-After": "1"} if isinstance(exc, NotSaved) else None)
                body: dict[str, Any] = {"detail": str(exc)}
                if isinstance(exc, ConfirmationRequired):
                    body["affected"] = exc.affected
                return JSONResponse(body, status_code=code, headers=headers)
        return JSONResponse({"detail": [{"loc": body_loc(exc), "msg": str(exc), "type": "value_error"}]}, status_code=422)

    from ketapain.capture.web import (
        mount_web,  # pages, /static and HTML error pages (after the API handlers)
    )

    mount_web(app)
    app.add_middleware(SecurityHeaders)
    return app

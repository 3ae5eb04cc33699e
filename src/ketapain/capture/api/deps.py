"""FastAPI dependencies (settings, a database session per request, the authenticated context) and
the ``Annotated`` types of path and query parameters (``PathInt``, ``PathStr``, ``QueryStr``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from ketapain.capture.audit import Actor
from ketapain.capture.config import Settings
from ketapain.capture.db import POOL_SIZE, read_only
from ketapain.capture.schemas import DB_INT_MAX, NO_NUL
from ketapain.capture.security import CSRF_HEADER, SESSION_COOKIE, csrf_matches
from ketapain.capture.services import Context
from ketapain.capture.services.diary import patient_from_token
from ketapain.capture.services.users import session_user
from ketapain.errors import AuthenticationFailed, PermissionDenied

__all__ = [
    "CtxDep",
    "IncludeEnteredInError",
    "PATIENT_TOKEN_HEADER",
    "PathInt",
    "PathStr",
    "PatientCtxDep",
    "QueryStr",
    "SessionDep",
    "SettingsDep",
    "get_session",
    "get_settings",
    "patient_token",
    "writers_lock",
]

PATIENT_TOKEN_HEADER = "X-Patient-Token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_READS = {"GET", "HEAD"}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; rolled back unless the route committed (all or nothing). A GET or
    HEAD request gets a read session (:func:`ketapain.capture.db.read_only`: never waits for a
    writer) unless its path is in ``app.state.writing_reads`` (a GET that audits, e.g. the export).

    Async on purpose, so that waiting never holds a worker thread: a request first takes one of
    :data:`SESSION_SLOTS` session slots on the event loop (so no more sessions are open than
    the database pool holds connections: a worker thread never waits for a connection), then,
    on SQLite, a writing request waits its turn on the event loop (:func:`_writer`, one writer
    at a time); the rollback and close of a request that did not commit (a 409, a read) run on
    the loop too. Before, a request took SQLite's write lock at its first statement (in a
    dependency's thread), then waited for another thread to run the route while all 40 threads
    waited for that lock: the collapse at 50 clients of issue 17. Without the slots, 100
    PostgreSQL clients with 8 worker threads deadlocked until the pool's timeout: every
    thread waited for a connection held by a request that waited for a thread. The session
    connects lazily, in the route's thread."""
    reads = request.method in _READS and request.url.path not in request.app.state.writing_reads
    async with session_slot(request):
        writer = _writer(request) if not reads else None
        if writer is not None:
            await writer.acquire()
        try:
            with request.app.state.sessionmaker() as session:
                if reads:
                    read_only(session)
                try:
                    yield session
                finally:
                    session.rollback()
        finally:
            if writer is not None:
                writer.release()


SESSION_SLOTS = POOL_SIZE // 2
"""Requests holding a database session at once, per server process: half the pool
(:data:`ketapain.capture.db.POOL_SIZE`; PostgreSQL's pool holds POOL_SIZE connections, SQLite's
twice as many), so the connections a request may open besides its session (an error page's)
never run short."""


def session_slot(request: Request) -> asyncio.Semaphore:
    """The session slots of this event loop (one semaphore per loop, as :func:`_writer`)."""
    slots = request.app.state.session_slots
    loop = asyncio.get_running_loop()
    if loop not in slots:
        slots[loop] = asyncio.Semaphore(SESSION_SLOTS)
    slot: asyncio.Semaphore = slots[loop]
    return slot


def _writer(request: Request) -> asyncio.Lock | None:
    """The writers' queue of this event loop (:func:`writers_lock`)."""
    return writers_lock(request.app.state, asyncio.get_running_loop())


def writers_lock(state: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Lock | None:
    """The writers' queue of ``loop`` in an app's ``state`` (SQLite only; None for PostgreSQL,
    whose rows lock one by one). One lock per loop: a server has one loop; a test client may
    start several. The group-commit writer (``app.state.group_writer``) takes it too."""
    locks = state.writers
    if locks is None:
        return None
    if loop not in locks:
        locks[loop] = asyncio.Lock()
    lock: asyncio.Lock = locks[loop]
    return lock


PathInt = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
"""A period, day or record id in the path: 1..DB_INT_MAX (larger values overflowed the database driver)."""
PathStr = Annotated[str, Path(pattern=NO_NUL)]
"""An id in the path (patient, event, user name): no NUL character (PostgreSQL cannot compare one)."""
QueryStr = Annotated[str | None, Query(pattern=NO_NUL)]
"""An optional filter in the query string: no NUL character."""
IncludeEnteredInError = Annotated[bool, Query(description="Also list the records entered in error (status entered_in_error).")]
"""The ``include_entered_in_error`` flag of the lists (default: records entered in error are left out)."""

SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_context(request: Request, session: SessionDep, settings: SettingsDep) -> Context:
    """Staff context from the session cookie; unsafe methods must carry the CSRF header."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthenticationFailed("not logged in")
    user, row = session_user(session, settings, token)
    if request.method in _UNSAFE and not csrf_matches(row.csrf_token, request.headers.get(CSRF_HEADER)):
        raise PermissionDenied(f"missing or wrong CSRF token (send the {CSRF_HEADER} header)")
    request.state.user_session = row
    return Context(session, Actor(user.username, user.role, user.id), settings, request.app.state.protocol,
                   request.app.state.limiter)


def patient_token(request: Request) -> str:
    """The diary link token of the ``X-Patient-Token`` header (checked against the database by
    the route), else :class:`AuthenticationFailed` (401) before the body is read."""
    token = request.headers.get(PATIENT_TOKEN_HEADER)
    if not token:
        raise AuthenticationFailed(f"send the diary link token in the {PATIENT_TOKEN_HEADER} header")
    return token


def get_patient_context(request: Request, session: SessionDep, settings: SettingsDep) -> Context:
    """Patient context from the personal link token (header); no cookie, so no CSRF."""
    p = patient_from_token(session, settings.secret_key, patient_token(request))
    return Context(session, Actor(f"patient:{p.patient_id}", "patient"), settings, request.app.state.protocol)


CtxDep = Annotated[Context, Depends(get_context)]
PatientCtxDep = Annotated[Context, Depends(get_patient_context)]

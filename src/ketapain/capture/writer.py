"""Group commit: one serialised writer that commits many requests' writes at once (issue 17).

Every audited write appends to one hash chain, so writes are serialised (SQLite: one writer;
PostgreSQL: the audit advisory lock held to commit). Run one request per transaction and each
pays, inside that serial section, the transaction's fixed work: ``BEGIN IMMEDIATE`` or the
advisory lock, reading the chain's tail, the lock and signature checks, ``COMMIT`` and its
fsync. :class:`GroupWriter` pays it once per *batch*:

1. a request hands its write to :meth:`GroupWriter.submit` as a function of a session (the
   job) and waits, on the event loop, holding no thread and no connection;
2. one drain task per event loop takes every job waiting (up to ``max_batch``) and runs them in
   one worker thread, in one transaction, in the order they came: each job in its own
   savepoint (:func:`ketapain.capture.audit.savepoint`), so a job that raises (a 409, a 422,
   a bad token) is rolled back alone, its audit rows included, and the next job chains on the
   last row kept;
3. one ``COMMIT`` for the batch; only then is each job's result (or its own error) handed to
   its request. Jobs that came while a batch was running form the next batch.

When the commit itself fails (disk full, connection lost, a serialisation error), nothing of
the batch is stored and *every* request of the batch gets :class:`NotSaved` (HTTP 503,
``Retry-After: 1``): no request is ever acknowledged before its commit. A retried post that was
in fact stored (an idempotent re-post) meets the diary's unique day and gets a 409.

The app uses it for ``POST /api/v1/diary`` on SQLite; on PostgreSQL the post runs alone
(:func:`run_alone`, same client contract), where one writer thread running every post's round
trips in a row was slower (benchmarks/RESULTS_capture.md). On SQLite the batch takes the server's queue of writers (the per-loop lock of
``api.deps.get_session``) so it never waits for SQLite's write lock inside a thread.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from ketapain.capture.audit import savepoint
from ketapain.errors import NotSaved

__all__ = ["GroupWriter", "MAX_BATCH", "run_alone"]

T = TypeVar("T")

MAX_BATCH = 64
"""Jobs per transaction at most: bounds how long one batch holds the writer (and its memory)."""


@dataclass
class _Queue:
    """One event loop's waiting jobs and its drain task (None when idle)."""

    jobs: list[tuple[Callable[[Session], Any], asyncio.Future[Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class GroupWriter:
    """Runs write jobs in batches: one transaction, one savepoint per job, one commit.

    Parameters
    ----------
    sessionmaker : makes the batch's session.
    writer_lock : returns this event loop's writers' lock (SQLite) or None (PostgreSQL).
    max_batch : jobs per transaction at most (:data:`MAX_BATCH`).
    """

    def __init__(self, sessionmaker: sessionmaker[Session], *,
                 writer_lock: Callable[[asyncio.AbstractEventLoop], asyncio.Lock | None] = lambda _loop: None,
                 max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch={max_batch}: must be >= 1")
        self._sessionmaker = sessionmaker
        self._writer_lock = writer_lock
        self.max_batch = max_batch
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()
        self.batches: deque[int] = deque(maxlen=1000)
        """Size of every batch run (committed or not), in order, the last 1,000 (tests, benchmarks)."""

    async def submit(self, job: Callable[[Session], T]) -> T:
        """Run ``job(session)`` in the next batch and return its result once the batch is
        committed; raise the job's own error (nothing of it stored), or :class:`NotSaved`
        when the batch's commit failed. ``job`` must not commit or roll back; what it returns
        should be plain data (it is read after the session is closed)."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[T] = loop.create_future()
        queue.jobs.append((job, future))
        if queue.task is None:
            queue.task = loop.create_task(self._drain(loop, queue))
        return await future

    async def _drain(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        """Run batches until no job waits (the drain task of one event loop)."""
        try:
            while queue.jobs:
                batch, queue.jobs = queue.jobs[:self.max_batch], queue.jobs[self.max_batch:]
                lock = self._writer_lock(loop)
                try:
                    if lock is not None:
                        async with lock:
                            outcomes = await anyio.to_thread.run_sync(self._run, [job for job, _ in batch])
                    else:
                        outcomes = await anyio.to_thread.run_sync(self._run, [job for job, _ in batch])
                except BaseException as exc:  # the batch never ran to its end (cancelled, thread error)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(NotSaved("the server stopped before the write's commit was confirmed; "
                                                         "send it again (a stored diary day then answers 409)"))
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # the request was cancelled (client gone); its write stands
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            queue.task = None

    def _run(self, jobs: list[Callable[[Session], Any]]) -> list[tuple[bool, Any]]:
        """One batch in this (worker) thread: every job in its savepoint, then one commit."""
        outcomes: list[tuple[bool, Any]] = []
        self.batches.append(len(jobs))
        with self._sessionmaker() as session:
            try:
                for job in jobs:
                    try:
                        with savepoint(session):
                            value = job(session)
                    except Exception as exc:  # this job alone fails; its savepoint is rolled back
                        outcomes.append((False, exc))
                    else:
                        outcomes.append((True, value))
                session.commit()
            except Exception as exc:  # the transaction or its commit failed: nothing is stored
                session.rollback()
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                return [(False, _not_saved(reason, exc)) for _ in jobs]
        return outcomes


def run_alone(sessionmaker: sessionmaker[Session], job: Callable[[Session], T]) -> T:
    """Run one write job in a transaction of its own (a session, the job, one commit), with the
    client contract of :class:`GroupWriter`: the job's own error as raised, a failed commit as
    :class:`~ketapain.errors.NotSaved` (nothing stored). Used where group commit is off (PostgreSQL)."""
    with sessionmaker() as session:
        value = job(session)
        try:
            session.commit()
        except Exception as exc:
            session.rollback()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise _not_saved(reason, exc) from exc
    return value


def _not_saved(reason: str, cause: BaseException) -> NotSaved:
    err = NotSaved(f"the write was not saved (the database refused the commit: {reason}); send it again")
    err.__cause__ = cause
    return err

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

A job may also say how to run in bulk with the jobs of its kind (:class:`BulkJob`): the jobs
of a batch that share their ``many`` function run as one call in one savepoint (the diary
posts: one query for all their link tokens, one multi-row insert, one executemany of the audit
rows; :func:`ketapain.capture.services.diary_batch.submit_own_posts`), which answers each job
with its result or its own error exactly as the jobs run one by one would. When that call
raises, its savepoint is rolled back and the jobs run one by one, each in its savepoint.

When the commit itself fails (disk full, connection lost, a serialisation error), nothing of
the batch is stored and *every* request of the batch gets :class:`NotSaved` (HTTP 503,
``Retry-After: 1``): no request is ever acknowledged before its commit. A retried post that was
in fact stored (an idempotent re-post) meets the diary's unique day and gets a 409.

The app uses it for ``POST /api/v1/diary`` on both backends, as bulk jobs. (On PostgreSQL,
posts run one by one in the writer thread were slower than posts each in a transaction of its
own side by side under the advisory lock; run in bulk they are ~5x faster than either:
benchmarks/RESULTS_capture.md.) On SQLite the batch takes the server's queue of writers (the
per-loop lock of ``api.deps.get_session``) so it never waits for SQLite's write lock inside a
thread.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from ketapain.capture.audit import savepoint
from ketapain.errors import NotSaved

__all__ = ["BulkJob", "GroupWriter", "MAX_BATCH"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BulkJob(Generic[T]):
    """A write job that can run in bulk with the jobs of the same ``many`` in one batch.

    Called with a session, it is ``alone(session)`` (the job run by itself). ``many(session,
    items)`` runs the ``item`` of several such jobs at once and returns, per item in order, its
    result or the error it would raise alone (an ``Exception`` instance); it raises when the
    jobs must run one by one instead (nothing it wrote is kept)."""

    alone: Callable[[Session], T]
    many: Callable[[Session, list[Any]], list[Any]]
    item: Any

    def __call__(self, session: Session) -> T:
        return self.alone(session)

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
                for run in _runs(jobs):
                    together = _run_bulk(session, run) if len(run) > 1 else None
                    outcomes += together if together is not None else [_run_one(session, job) for job in run]
                session.commit()
            except Exception as exc:  # the transaction or its commit failed: nothing is stored
                session.rollback()
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                return [(False, _not_saved(reason, exc)) for _ in jobs]
        return outcomes


def _runs(jobs: list[Callable[[Session], Any]]) -> list[list[Callable[[Session], Any]]]:
    """The jobs in order, cut into runs: consecutive :class:`BulkJob` s of one ``many``
    together, every other job alone."""
    runs: list[list[Callable[[Session], Any]]] = []
    for job in jobs:
        last = runs[-1][-1] if runs else None
        if isinstance(job, BulkJob) and isinstance(last, BulkJob) and job.many is last.many:
            runs[-1].append(job)
        else:
            runs.append([job])
    return runs


def _run_one(session: Session, job: Callable[[Session], Any]) -> tuple[bool, Any]:
    """One job in its savepoint: (True, its result) or (False, its error; nothing of it kept)."""
    try:
        with savepoint(session):
            return True, job(session)
    except Exception as exc:  # this job alone fails; its savepoint is rolled back
        return False, exc


def _run_bulk(session: Session, run: list[Any]) -> list[tuple[bool, Any]] | None:
    """A run of :class:`BulkJob` s as one ``many`` call in one savepoint; None (savepoint rolled
    back) when the call raised: the caller then runs the jobs one by one."""
    try:
        with savepoint(session):
            values = run[0].many(session, [job.item for job in run])
    except Exception:  # e.g. a day stored meanwhile by a writer outside the batch: one by one gives each its answer
        return None
    if len(values) != len(run):
        raise RuntimeError(f"{run[0].many!r} answered {len(values)} of {len(run)} jobs")
    return [(not isinstance(v, Exception), v) for v in values]


def _not_saved(reason: str, cause: BaseException) -> NotSaved:
    err = NotSaved(f"the write was not saved (the database refused the commit: {reason}); send it again")
    err.__cause__ = cause
    return err

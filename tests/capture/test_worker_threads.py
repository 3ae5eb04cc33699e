"""``Settings.worker_threads`` (issue 17): how many requests run in worker threads at once.

Starlette runs sync routes in a pool of 40 threads; on 2 cores 40 threads answered 100 clients
more slowly than 8 (BENCHMARKS.md, "Load matrix"), so the app's lifespan sets the pool's size
from the settings and gives the old size back when the server stops."""

from __future__ import annotations

import anyio
import anyio.to_thread
import pytest

from ketapain.capture import create_app
from ketapain.capture.config import DEFAULT_WORKER_THREADS, MAX_WORKER_THREADS, Settings
from ketapain.capture.db import POOL_SIZE
from ketapain.errors import DataError

from .conftest import SECRET, make_settings


def test_the_lifespan_sets_the_thread_pool_and_restores_it(db_url: str) -> None:
    app = create_app(make_settings(db_url, worker_threads=3))
    seen: list[int] = []

    async def serve() -> None:
        before = anyio.to_thread.current_default_thread_limiter().total_tokens
        async with app.router.lifespan_context(app):
            seen.append(anyio.to_thread.current_default_thread_limiter().total_tokens)
        seen.append(anyio.to_thread.current_default_thread_limiter().total_tokens)
        seen.append(before)

    try:
        anyio.run(serve)
    finally:
        app.state.engine.dispose()
    assert seen[0] == 3
    assert seen[1] == seen[2] == 40  # anyio's default, given back


def test_the_default_is_a_few_threads_below_the_pool() -> None:
    assert Settings(database_url="sqlite://", secret_key=SECRET).worker_threads == DEFAULT_WORKER_THREADS == 8
    assert MAX_WORKER_THREADS < POOL_SIZE  # a thread never waits for a database connection


@pytest.mark.parametrize("n", [0, -1, MAX_WORKER_THREADS + 1])
def test_out_of_range_is_refused_with_the_allowed_range(n: int) -> None:
    with pytest.raises(DataError, match=rf"worker_threads={n}: allowed 1\.\.{MAX_WORKER_THREADS}"):
        Settings(database_url="sqlite://", secret_key=SECRET, worker_threads=n)


def test_from_env_reads_the_variable_and_refuses_a_non_integer() -> None:
    env = {"KETAPAIN_SECRET_KEY": SECRET, "KETAPAIN_DATABASE_URL": "sqlite://"}
    assert Settings.from_env(environ=env).worker_threads == DEFAULT_WORKER_THREADS
    assert Settings.from_env(environ={**env, "KETAPAIN_WORKER_THREADS": "4"}).worker_threads == 4
    with pytest.raises(DataError, match=r"KETAPAIN_WORKER_THREADS='four' is not an integer; allowed 1\.\.32"):
        Settings.from_env(environ={**env, "KETAPAIN_WORKER_THREADS": "four"})

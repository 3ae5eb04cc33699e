"""Alembic environment of the capture database (run through ``ketapain.capture.db.upgrade``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import context

from ketapain.capture.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

target_metadata = Base.metadata

_config: Config | None
try:
    _config = context.config
except AttributeError:  # imported outside Alembic (e.g. by doctest collection): nothing to run
    _config = None

if _config is not None:
    connection = _config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through ketapain.capture.db.upgrade(engine)")
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()

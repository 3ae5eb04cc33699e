"""``ketapain backup`` and ``ketapain restore``: the capture database to one portable archive
and back (:mod:`ketapain.capture.backup`). Both need the ``[capture]`` extra."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketapain.cli._common import fail
from ketapain.cli._serve import DbOption, require_web_stack
from ketapain.errors import KetapainError

__all__ = ["backup_command", "restore_command"]


def backup_command(
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The archive to write (a zip).")],
    db: DbOption = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace FILE if it exists.")] = False,
) -> None:
    """Back up the capture database while the server runs (one consistent snapshot).

    SQLite is copied with its online backup API, PostgreSQL read in one REPEATABLE READ
    transaction; the archive (a zip of one JSON-lines file per table and a manifest with the
    Alembic revision, row counts and SHA-256 of each member) restores into either backend.

    \b
    Example:
      ketapain backup --db sqlite:///ketapain-capture.sqlite --out backup.zip
    """
    require_web_stack("ketapain backup")
    from ketapain.capture.backup import backup_database
    from ketapain.capture.config import database_url_from_env

    try:
        made = backup_database(database_url_from_env(db), out, overwrite=overwrite)
    except KetapainError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(f"{exc.filename or out}: {exc.strerror or exc}") from None
    typer.echo(made.summary())


def restore_command(
    archive: Annotated[Path, typer.Argument(metavar="FILE", help="An archive written by ketapain backup.")],
    db: DbOption = None,
) -> None:
    """Restore a backup into a new or empty database; exit 1 unless the audit chain verifies.

    The archive's checksums are checked before anything is written; the rows are loaded in one
    transaction, kept only if the audit chain verifies; the database is then upgraded to the
    newest revision.

    \b
    Example:
      ketapain restore backup.zip --db sqlite:///restored.sqlite
    """
    require_web_stack("ketapain restore")
    from ketapain.capture.backup import restore_database
    from ketapain.capture.config import database_url_from_env

    try:
        done = restore_database(archive, database_url_from_env(db))
    except KetapainError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(f"{exc.filename or archive}: {exc.strerror or exc}") from None
    typer.echo(done.summary(), err=not done.ok)
    if not done.ok:
        raise typer.Exit(1)

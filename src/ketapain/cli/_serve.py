"""``ketapain serve`` and ``ketapain audit verify`` (the capture web app).

``serve`` works out of the box on one machine: without ``KETAPAIN_SECRET_KEY`` it makes a strong
key on the first start and keeps it beside the SQLite database (mode 0600), reusing it after;
an explicit key that is short or a default is still refused. Production settings (the key from
the environment, PostgreSQL, TLS at a reverse proxy) are in docs/capture.md. Commands that read
a database (``audit verify``) refuse a missing one and never create it. Both need the
``[capture]`` extra (the web stack); without it they say so in one line and exit 1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ketapain._extras import missing_extra
from ketapain.cli._common import Command, SeedOption, fail, seed_or_fresh
from ketapain.errors import KetapainError

__all__ = ["DbOption", "audit_app", "require_web_stack", "serve_command", "verify_audit_command"]

audit_app = typer.Typer(help="The capture database's audit trail.", no_args_is_help=True, add_completion=False,
                        rich_markup_mode=None)

DbOption = Annotated[str | None, typer.Option(
    "--db", metavar="URL", show_default=False,
    help="Database URL (default: KETAPAIN_DATABASE_URL, else ./ketapain-capture.sqlite).")]


def require_web_stack(command: str) -> None:
    """Exit 1 with one line naming the extra to install when the web stack is missing."""
    advice = missing_extra("capture", user=command)
    if advice is not None:
        raise fail(advice)


def serve_command(
    db: DbOption = None,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", envvar="KETAPAIN_HOST", help="Address to listen on (env KETAPAIN_HOST).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="N", envvar="KETAPAIN_PORT", help="Port (env KETAPAIN_PORT).")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Load a simulated trial into an empty database.")] = False,
    seed: SeedOption = None,
    randomisation_list: Annotated[Path | None, typer.Option(
        "--randomisation-list", metavar="DIR", show_default=False,
        help="Load the list made by ketapain randomize (its folder or its pharmacy.csv) after checking its "
             "SHA-256 commitment; a new database becomes a study of the list's kind.")] = None,
    public_url: Annotated[str | None, typer.Option(
        "--public-url", metavar="URL", envvar="KETAPAIN_PUBLIC_URL", show_default=False,
        help="Address patients reach the server at; diary links start with it (default: http://HOST:PORT; "
             "env KETAPAIN_PUBLIC_URL).")] = None,
    commitment: Annotated[str | None, typer.Option(
        "--commitment", metavar="SHA256", show_default=False,
        help="Digest kept elsewhere to check the list against (default: commitment.txt beside pharmacy.csv).")] = None,
) -> None:
    """Run the capture web app (migrations applied at start; the first start creates the admin).

    On the first start the administrator's password is printed once, in a framed message on
    stderr with the login address (set KETAPAIN_ADMIN_USER/KETAPAIN_ADMIN_PASSWORD to choose
    them). Without KETAPAIN_SECRET_KEY the app's secret key is made on the first start and kept beside
    the SQLite database (FILE.secret-key, owner-only); back it up with the database. The seed
    drives the study's test randomisation list and, with --demo, the simulated trial (first
    start only). With --randomisation-list the slots come from that list (a production list is
    refused with --demo, a test list in a production study); a list that does not match its
    commitment is refused and the app does not start.

    \b
    Example:
      ketapain serve --demo
      ketapain serve --randomisation-list list/
    """
    require_web_stack("ketapain serve")
    import uvicorn

    from ketapain.capture.app import capture_protocol, create_app, first_start_message
    from ketapain.capture.config import (
        Settings,
        database_url_from_env,
        stored_secret_key,
    )
    from ketapain.capture.services.randomisation_list import read_list_files

    seed = seed_or_fresh(seed)
    try:
        database_url = database_url_from_env(db)
        # the protocol first: a refused one (e.g. a diary scale other than 0..10) leaves nothing
        # behind, not even the secret-key file of a new database
        capture_protocol(os.environ.get("KETAPAIN_PROTOCOL", "ketapain"))
        url = f"http://{host}:{port}"
        if os.environ.get("KETAPAIN_SECRET_KEY"):
            settings = Settings.from_env(database_url=database_url, randomisation_seed=seed, public_url=public_url or url)
        else:
            stored = stored_secret_key(database_url)
            made = "made and kept in" if stored.created else "read from"
            typer.echo(f"secret key: {made} {stored.path} (set KETAPAIN_SECRET_KEY in production; docs/capture.md)", err=True)
            settings = Settings.from_env(database_url=database_url, randomisation_seed=seed, secret_key=stored.key,
                                         public_url=public_url or url)
        files = None if randomisation_list is None else read_list_files(randomisation_list, commitment=commitment)
        app = create_app(
            settings,
            demo=demo,
            demo_seed=seed,
            on_first_start=lambda user, password: typer.echo(first_start_message(user, password, url=url), err=True),
            randomisation_list=files,
        )
    except KetapainError as exc:
        raise fail(exc) from None
    typer.echo(f"seed {seed} (used only when the database is new: test randomisation list{' and demo trial' if demo else ''})", err=True)
    typer.echo(f"serving on {url} (stop with Ctrl-C)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


@audit_app.command("verify", cls=Command)
def verify_audit_command(db: DbOption = None) -> None:
    """Recompute the hash chain and compare every record with its audit trail; exit 1 on tampering.

    \b
    Example:
      ketapain audit verify --db sqlite:///ketapain-capture.sqlite
    """
    require_web_stack("ketapain audit verify")
    from ketapain.capture.audit import verify_audit
    from ketapain.capture.config import database_url_from_env
    from ketapain.capture.db import make_sessionmaker, open_existing

    try:
        engine = open_existing(database_url_from_env(db))
    except KetapainError as exc:
        raise fail(exc) from None
    try:
        with make_sessionmaker(engine)() as session:
            result = verify_audit(session)
    finally:
        engine.dispose()
    typer.echo(result.summary(), err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)

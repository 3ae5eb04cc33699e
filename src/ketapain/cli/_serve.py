"""``ketapain serve`` and ``ketapain audit verify`` (the capture web app)."""

from __future__ import annotations

from typing import Annotated

import typer

from ketapain.errors import KetapainError

__all__ = ["audit_app", "serve_command", "verify_audit_command"]

audit_app = typer.Typer(help="The capture database's audit trail.", no_args_is_help=True, add_completion=False)

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: KETAPAIN_DATABASE_URL, else ./ketapain-capture.sqlite).")]


def serve_command(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Load a simulated trial into an empty database.")] = False,
) -> None:
    """Run the capture web app (migrations applied at start; first start creates the admin)."""
    import uvicorn

    from ketapain.capture.app import create_app
    from ketapain.capture.config import Settings

    try:
        app = create_app(Settings.from_env(database_url=db), demo=demo)
    except KetapainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


@audit_app.command("verify")
def verify_audit_command(db: DbOption = None) -> None:
    """Recompute the hash chain and compare every record with its audit trail; exit 1 on tampering."""
    import os

    from ketapain.capture.audit import verify_audit
    from ketapain.capture.config import DEFAULT_DB_FILE
    from ketapain.capture.db import make_engine, make_sessionmaker

    url = db or os.environ.get("KETAPAIN_DATABASE_URL") or f"sqlite:///{DEFAULT_DB_FILE}"
    with make_sessionmaker(make_engine(url))() as session:
        result = verify_audit(session)
    typer.echo(result.summary(), err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)

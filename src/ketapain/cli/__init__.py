"""The ``ketapain`` command line (Typer). Thin: parses, calls the library, prints.

Help is plain text (no rich markup or emoji codes, so ``a:b:step`` stays as written), every
option shows a metavar naming what it takes, and every command's help ends with an example
(checked by tests/cli/test_cli_contract.py).
"""

from __future__ import annotations

import os

import typer

from ketapain import __version__
from ketapain.cli._analyze import analyze_command, demo_command
from ketapain.cli._auc import auc_command
from ketapain.cli._backup import backup_command, restore_command
from ketapain.cli._check import check_command
from ketapain.cli._common import Command
from ketapain.cli._design import design_command, samplesize_command
from ketapain.cli._examples import examples_command
from ketapain.cli._fit import fit_command
from ketapain.cli._init import init_command
from ketapain.cli._instruments import instruments_command, score_command
from ketapain.cli._interop import export_command, import_command
from ketapain.cli._interrupt import handling_interrupts
from ketapain.cli._operations import (
    consort_command,
    dose_command,
    eligibility_command,
    gate_command,
)
from ketapain.cli._power import power_command
from ketapain.cli._protocol import protocol_app
from ketapain.cli._randomize import randomize_command, unblind_command, verify_command
from ketapain.cli._serve import audit_app, serve_command
from ketapain.cli._simulate import calibrate_command, simulate_command

__all__ = ["EXIT_BUG", "app", "main"]

app = typer.Typer(
    name="ketapain",
    help="Run and analyse randomised crossover trials of analgesics (reference study: KETAPAIN).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals may hold secrets (keys, passwords)
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
app.command("demo", cls=Command)(demo_command)
app.command("examples", cls=Command)(examples_command)
app.command("simulate", cls=Command)(simulate_command)
app.command("calibrate", cls=Command)(calibrate_command)
app.command("init", cls=Command)(init_command)
app.command("check", cls=Command)(check_command)
app.command("analyze", cls=Command)(analyze_command)
app.command("export", cls=Command)(export_command)
app.command("import", cls=Command)(import_command)
app.command("power", cls=Command)(power_command)
app.command("serve", cls=Command)(serve_command)
app.add_typer(audit_app, name="audit")
app.command("backup", cls=Command)(backup_command)
app.command("restore", cls=Command)(restore_command)
app.command("fit", cls=Command)(fit_command)
app.command("auc", cls=Command)(auc_command)
app.command("score", cls=Command)(score_command)
app.command("instruments", cls=Command)(instruments_command)
app.command("samplesize", cls=Command)(samplesize_command)
app.command("design", cls=Command)(design_command)
app.add_typer(protocol_app, name="protocol")
app.command("randomize", cls=Command)(randomize_command)
app.command("unblind", cls=Command)(unblind_command)
app.command("verify-list", cls=Command)(verify_command)
app.command("eligibility", cls=Command)(eligibility_command)
app.command("gate", cls=Command)(gate_command)
app.command("dose", cls=Command)(dose_command)
app.command("consort", cls=Command)(consort_command)


@app.command("version", cls=Command)
def version_command() -> None:
    """Print the ketapain version.

    \b
    Example:
      ketapain version
    """
    typer.echo(__version__)


EXIT_BUG = 70
"""Exit status of an unexpected exception (EX_SOFTWARE of sysexits.h); user errors exit 1, usage errors 2."""


def main() -> None:
    """Console-script entry point.

    An exception that is not one of ketapain's own (those end in ``error: ...`` and exit 1) is a
    bug: it prints two lines naming it instead of a traceback, and exits 70; set
    ``KETAPAIN_DEBUG=1`` to see the traceback. SIGINT (Ctrl-C) and SIGTERM print one line saying
    what was kept and exit 130 and 143 (:mod:`ketapain.cli._interrupt`).
    """
    try:
        with handling_interrupts():
            app()
    except Exception as exc:
        if os.environ.get("KETAPAIN_DEBUG"):
            raise
        text = str(exc).strip().splitlines()
        typer.echo(f"error: unexpected {type(exc).__name__}" + (f": {text[0]}" if text else ""), err=True)
        typer.echo("error: this is a bug in ketapain; please report it with the command you ran "
                   "(KETAPAIN_DEBUG=1 shows the traceback)", err=True)
        raise SystemExit(EXIT_BUG) from None

"""The ``ketapain`` command line (Typer). Thin: parses, calls the library, prints."""

from __future__ import annotations

import typer

from ketapain import __version__
from ketapain.cli._analyze import analyze_command, demo_command
from ketapain.cli._auc import auc_command
from ketapain.cli._design import design_command, samplesize_command
from ketapain.cli._fit import fit_command
from ketapain.cli._instruments import instruments_command, score_command
from ketapain.cli._interop import export_command, import_command
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

__all__ = ["app", "main"]

app = typer.Typer(
    name="ketapain",
    help="Run and analyse randomised crossover trials of analgesics (reference study: KETAPAIN).",
    no_args_is_help=True,
    add_completion=False,
)
app.command("demo")(demo_command)
app.command("simulate")(simulate_command)
app.command("calibrate")(calibrate_command)
app.command("analyze")(analyze_command)
app.command("export")(export_command)
app.command("power")(power_command)
app.command("serve")(serve_command)
app.add_typer(audit_app, name="audit")
app.command("import")(import_command)
app.command("fit")(fit_command)
app.command("auc")(auc_command)
app.command("score")(score_command)
app.command("instruments")(instruments_command)
app.command("samplesize")(samplesize_command)
app.command("design")(design_command)
app.add_typer(protocol_app, name="protocol")
app.command("randomize")(randomize_command)
app.command("unblind")(unblind_command)
app.command("verify-list")(verify_command)
app.command("eligibility")(eligibility_command)
app.command("gate")(gate_command)
app.command("dose")(dose_command)
app.command("consort")(consort_command)


@app.command("version")
def version_command() -> None:
    """Print the ketapain version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()

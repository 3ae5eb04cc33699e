"""``ketapain analyze`` and ``ketapain demo``: the analysis plan and its report, from the command line.

``analyze`` reads a TrialData folder, runs every analysis of the protocol's plan
(:func:`ketapain.analysis.run_analysis`) and writes the report
(:func:`ketapain.report.write_trial_report`). ``demo`` first simulates the reference study
with the in-silico twin (:func:`ketapain.simulate.simulate_trial`), writes it as ``data/``,
then does the same into ``report/``. Long steps show a rich progress bar on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ketapain.data import TrialData
from ketapain.errors import KetapainError
from ketapain.protocol import Protocol, load_protocol

__all__ = ["DEMO_SEED", "analyze_command", "demo_command"]

DEMO_SEED = 20200154
"""Seed of ``ketapain demo``: Anesthesiology 2020;133:154 (the reference study's paper)."""


def _fail(message: str) -> typer.Exit:
    for line in message.splitlines():
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(1)


@contextmanager
def _progress(total: int, *, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr; yields ``step(description)`` that advances it."""
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=False, disable=not enabled,
    )
    task = progress.add_task("starting", total=total)
    started = [False]

    def step(description: str) -> None:
        if started[0]:
            progress.advance(task)
        started[0] = True
        progress.update(task, description=description)

    with progress:
        yield step
        if started[0]:
            progress.advance(task)
        progress.update(task, description="done", completed=total)


def _protocol_for(data: TrialData, protocol: str | None, where: Path) -> Protocol:
    if protocol is not None:
        return load_protocol(protocol)
    protocol_id = data.meta.get("protocol_id")
    if not protocol_id:
        raise KetapainError(
            f"{where}: the data do not name their protocol (meta 'protocol_id'); "
            "give one with --protocol NAME|FILE"
        )
    return load_protocol(protocol_id)


def _report(data: TrialData, protocol: Protocol, out: Path, *, seed: int, pdf: bool, sensitivity: bool,
            quiet: bool, command: str) -> Path:
    from ketapain.report import report_steps, write_trial_report

    with _progress(len(report_steps(pdf=pdf, sensitivity=sensitivity)), enabled=not quiet) as step:
        made = write_trial_report(
            data, protocol, out, seed=seed, pdf=pdf, sensitivity=sensitivity, on_step=step, command=command
        )
    return made.files.html


def analyze_command(
    data_dir: Annotated[Path, typer.Argument(help="TrialData folder (CSV or Parquet tables).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for the report (index.html, report.pdf, tables/, figures/, results.json).")],
    protocol: Annotated[str | None, typer.Option("--protocol", help="Protocol name or TOML file; default: the one the data name.", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the multiple imputations.")] = DEMO_SEED,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write report.pdf.")] = True,
    sensitivity: Annotated[bool, typer.Option("--sensitivity/--no-sensitivity", help="Run the missing-data sensitivity analyses.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Run the protocol's whole analysis plan on a trial and write the report."""
    try:
        data = TrialData.read(data_dir)
        proto = _protocol_for(data, protocol, data_dir)
        html = _report(data, proto, out, seed=seed, pdf=pdf, sensitivity=sensitivity, quiet=quiet,
                       command=f"ketapain analyze {data_dir} --out {out}")
    except KetapainError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or data_dir}: {exc.strerror or exc}") from None
    typer.echo(f"Report: {html}")


def demo_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for data/ and report/.")] = Path("ketapain-demo"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated trial and of the imputations.")] = DEMO_SEED,
    patients: Annotated[int, typer.Option("--patients", min=2, help="Number of simulated patients.")] = 20,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write report.pdf.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Simulate the reference study (KETAPAIN), analyse it as published and write the report."""
    from ketapain.simulate import simulate_trial

    start = time.perf_counter()
    try:
        proto = load_protocol("ketapain")
        data = simulate_trial(proto, n_patients=patients, seed=seed)
        data.write(out / "data", overwrite=True)
        html = _report(data, proto, out / "report", seed=seed, pdf=pdf, sensitivity=True, quiet=quiet,
                       command=f"ketapain demo --out {out} --seed {seed}")
    except KetapainError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or out}: {exc.strerror or exc}") from None
    typer.echo(f"Simulated KETAPAIN ({patients} patients, seed {seed}): {out / 'data'}")
    typer.echo(f"Report: {html}  ({time.perf_counter() - start:.1f} s)")

"""``ketapain simulate`` and ``ketapain calibrate``: the in-silico KETAPAIN trial.

Thin: parse the options, call :mod:`ketapain.simulate`, print. User errors exit 1 with
``error: ...`` on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ketapain.cli._common import (
    JsonOption,
    ProtocolOption,
    QuietOption,
    SeedOption,
    console,
    fail,
    os_error_text,
    progress,
    seed_or_fresh,
)
from ketapain.errors import KetapainError

__all__ = ["calibrate_command", "simulate_command"]

ParametersOption = Annotated[Path | None, typer.Option(
    "--parameters", metavar="FILE.toml", show_default=False,
    help="Simulator parameter file (default: the shipped one; see docs/simulate.md).")]


def simulate_command(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", show_default=False,
                                      help="Folder to write the trial's tables to (created).")],
    seed: SeedOption = None,
    protocol: ProtocolOption = "ketapain",
    n_patients: Annotated[int, typer.Option("--patients", metavar="N", help="Randomised patients.")] = 20,
    missing: Annotated[str, typer.Option("--missing", metavar="MODE",
                                         help="Missing diary days: mcar, mar, mnar or none.")] = "mcar",
    format: Annotated[str, typer.Option("--format", metavar="csv|parquet", help="Table file format.")] = "csv",
    parameters: ParametersOption = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing trial folder.")] = False,
) -> None:
    """Simulate one trial of a protocol with the in-silico twin and write its seven tables.

    \b
    Example:
      ketapain simulate --protocol ketapain --patients 20 --seed 1 --out trial/
    """
    from ketapain.protocol import load_protocol
    from ketapain.simulate import simulate_trial

    if format not in ("csv", "parquet"):
        raise fail(f"--format {format!r} is not one of csv, parquet")
    seed = seed_or_fresh(seed)
    try:
        proto = load_protocol(protocol)
        data = simulate_trial(proto, n_patients=n_patients, seed=seed, missing=missing, parameters=parameters)
        where = data.write(out, format=format, overwrite=overwrite)  # type: ignore[arg-type]
    except KetapainError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(os_error_text(exc, out)) from None
    diary = data.diary
    n_missing = int(diary[proto.diary.items[0]].isna().sum())
    typer.echo(f"simulated {proto.study.id}: {len(data.patients)} patients, {len(data.allocation)} periods, "
               f"{len(diary)} diary days ({n_missing} missing, {missing}), {len(data.questionnaires)} questionnaire "
               f"answers, {len(data.adverse_events)} adverse events, {len(data.screening)} screened")
    typer.echo(f"seed {seed}; parameters sha256 {data.meta['parameters_sha256'][:12]}")
    typer.echo(f"written to {where}")


def calibrate_command(
    seed: SeedOption = None,
    protocol: ProtocolOption = "ketapain",
    trials: Annotated[int, typer.Option("--trials", metavar="N", help="Simulated trials of the published size.")] = 1000,
    as_json: JsonOption = False,
    parameters: ParametersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Place every published KETAPAIN figure in the distribution of simulated trials.

    Exits 1 if a figure falls outside the simulated central 95% and is not on the documented
    list of figures known to fall outside (ketapain.simulate.KNOWN_OUTSIDE). The seed is
    printed on stderr.

    \b
    Example:
      ketapain calibrate --trials 200 --seed 3
    """
    from rich.table import Table

    from ketapain.protocol import load_protocol
    from ketapain.simulate import KNOWN_OUTSIDE, calibrate

    seed = seed_or_fresh(seed)
    typer.echo(f"seed {seed}", err=True)
    try:
        proto = load_protocol(protocol)
        with progress(quiet=quiet) as bar:
            task = bar.add_task("simulating trials", total=trials)
            figures = calibrate(proto, trials=trials, seed=seed, parameters=parameters,
                                on_progress=lambda done, total: bar.update(task, completed=done))
    except KetapainError as exc:
        raise fail(exc) from None
    unexpected = [f for f in figures if not f.inside and f.figure not in KNOWN_OUTSIDE]
    if as_json:
        typer.echo(json.dumps([f.to_dict() for f in figures], indent=1))
    else:
        table = Table(title=f"calibration: {trials} simulated trials (seed {seed})")
        for col in ("figure", "published", "2.5%", "median", "97.5%", "inside"):
            table.add_column(col, justify="left" if col == "figure" else "right", overflow="fold")
        for f in figures:
            mark = "yes" if f.inside else ("no (known)" if f.figure in KNOWN_OUTSIDE else "NO")
            table.add_row(f.figure, f"{f.published:g}", f"{f.sim_q025:.3g}", f"{f.sim_median:.3g}",
                          f"{f.sim_q975:.3g}", mark)
        console().print(table)
        n_in = sum(f.inside for f in figures)
        typer.echo(f"{n_in}/{len(figures)} published figures inside the simulated central 95%; "
                   f"{len(figures) - n_in - len(unexpected)} outside as documented; {len(unexpected)} unexpected")
    if unexpected:
        raise fail("outside the simulated central 95% and not in KNOWN_OUTSIDE: "
                   + ", ".join(f.figure for f in unexpected))

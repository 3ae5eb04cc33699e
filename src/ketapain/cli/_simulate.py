"""``ketapain simulate`` and ``ketapain calibrate``: the in-silico KETAPAIN trial.

Thin: parse the options, call :mod:`ketapain.simulate`, print. User errors exit 1 with
``error: ...`` on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ketapain.errors import KetapainError

__all__ = ["calibrate_command", "simulate_command"]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def simulate_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the TrialData to (created).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (recorded in meta.json).")],
    protocol: Annotated[str, typer.Option("--protocol", help="Protocol name or TOML file.")] = "ketapain",
    patients: Annotated[int, typer.Option("--patients", help="Randomised patients.")] = 20,
    missing: Annotated[str, typer.Option("--missing", help="Missing diary days: mcar, mar, mnar or none.")] = "mcar",
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    parameters: Annotated[Path | None, typer.Option("--parameters", help="Simulator parameter TOML file.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing trial folder.")] = False,
) -> None:
    """Simulate one trial of a protocol and write its seven tables."""
    from ketapain.protocol import load_protocol
    from ketapain.simulate import simulate_trial

    if fmt not in ("csv", "parquet"):
        _fail(f"--format {fmt!r} is not one of csv, parquet")
    try:
        proto = load_protocol(protocol)
        data = simulate_trial(proto, n_patients=patients, seed=seed, missing=missing, parameters=parameters)
        where = data.write(out, format=fmt, overwrite=overwrite)  # type: ignore[arg-type]
    except KetapainError as exc:
        _fail(str(exc))
        return
    diary = data.diary
    n_missing = int(diary["avg_pain"].isna().sum())
    typer.echo(f"simulated {proto.study.id}: {len(data.patients)} patients, {len(data.allocation)} periods, "
               f"{len(diary)} diary days ({n_missing} missing, {missing}), {len(data.questionnaires)} questionnaire "
               f"answers, {len(data.adverse_events)} adverse events, {len(data.screening)} screened")
    typer.echo(f"seed {data.meta['seed']}; parameters sha256 {data.meta['parameters_sha256'][:12]}")
    typer.echo(f"written to {where}")


def calibrate_command(
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")],
    protocol: Annotated[str, typer.Option("--protocol", help="Protocol name or TOML file.")] = "ketapain",
    trials: Annotated[int, typer.Option("--trials", help="Simulated trials of the published size.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON list instead of a table.")] = False,
    parameters: Annotated[Path | None, typer.Option("--parameters", help="Simulator parameter TOML file.")] = None,
) -> None:
    """Place every published KETAPAIN figure in the distribution of simulated trials.

    Exits 1 if a figure falls outside the simulated central 95% and is not on the documented
    list of figures known to fall outside (ketapain.simulate.KNOWN_OUTSIDE).
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ketapain.protocol import load_protocol
    from ketapain.simulate import KNOWN_OUTSIDE, calibrate

    try:
        proto = load_protocol(protocol)
        if as_json:
            figures = calibrate(proto, trials=trials, seed=seed, parameters=parameters)
        else:
            with Progress(transient=True) as progress:
                task = progress.add_task("simulating trials", total=trials)
                figures = calibrate(proto, trials=trials, seed=seed, parameters=parameters,
                                    on_progress=lambda done, total: progress.update(task, completed=done))
    except KetapainError as exc:
        _fail(str(exc))
        return
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
        Console().print(table)
        n_in = sum(f.inside for f in figures)
        typer.echo(f"{n_in}/{len(figures)} published figures inside the simulated central 95%; "
                   f"{len(figures) - n_in - len(unexpected)} outside as documented; {len(unexpected)} unexpected")
    if unexpected:
        typer.echo("error: outside the simulated central 95% and not in KNOWN_OUTSIDE: "
                   + ", ".join(f.figure for f in unexpected), err=True)
        raise typer.Exit(1)

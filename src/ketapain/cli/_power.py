"""``ketapain power``: simulation-based power of a protocol's primary analysis.

Thin: parse the options, start or connect to a Dask cluster when asked, call
:func:`ketapain.simulate.simulate_power`, print. User errors exit 1 with ``error: ...``
on stderr, naming the option and the allowed values.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from ketapain._atomic import file_write
from ketapain.cli._common import (
    JsonOption,
    ProtocolOption,
    QuietOption,
    SeedOption,
    fail,
    progress,
    renamed,
    seed_or_fresh,
    set_malloc,
)
from ketapain.errors import KetapainError

__all__ = ["parse_n", "power_command"]

_PLOT_SUFFIXES = (".png", ".svg", ".pdf")
_N_HELP = "A:B:STEP (A to B inclusive, e.g. 12:40:2), A:B (step 1) or a comma list (12,16,20)"


class _UsageError(ValueError):
    """A bad option value (message names the option and what is allowed)."""


def parse_n(text: str) -> list[int]:
    """Sample sizes from ``--patients``: ``a:b:step`` (inclusive), ``a:b`` or ``a,b,c``.

    Examples
    --------
    >>> parse_n("12:20:4"), parse_n("12:14"), parse_n("20, 12")
    ([12, 16, 20], [12, 13, 14], [20, 12])
    """
    from ketapain.simulate import MAX_TRIAL_PATIENTS

    bad = _UsageError(f"--patients {text!r}: expected {_N_HELP}; integers >= 3, no repeats")
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise bad
            a, b, step = (*parts, 1) if len(parts) == 2 else parts
            if step < 1 or a > b:
                raise bad
            if b > MAX_TRIAL_PATIENTS:  # before the range is built: 3:10000000000 must not allocate it
                raise _UsageError(f"--patients {text!r}: {b} patients; at most {MAX_TRIAL_PATIENTS} in one simulated trial")
            values = list(range(a, b + 1, step))
        else:
            values = [int(p) for p in text.split(",")]
    except _UsageError:
        raise
    except ValueError:
        raise bad from None
    if not values or min(values) < 3 or len(set(values)) != len(values):
        raise bad
    return values


def _client(stack: ExitStack, workers: int | None, scheduler: str | None) -> Any:
    if workers is None and scheduler is None:
        _serial_malloc()
        return None
    try:
        from dask.distributed import Client

        from ketapain.simulate import local_cluster
    except ImportError:
        raise _UsageError("--workers/--scheduler need dask.distributed: pip install 'ketapain[dask]'") from None
    if scheduler is not None:
        try:
            return stack.enter_context(Client(scheduler, timeout="20s"))
        except (OSError, TimeoutError) as exc:
            raise _UsageError(f"--scheduler {scheduler!r}: cannot connect ({exc})") from None
    cluster = stack.enter_context(local_cluster(1 if workers is None else workers))
    return stack.enter_context(Client(cluster))


def _serial_malloc() -> None:
    """The sweep runs in this process: its malloc set as a local worker's (``SWEEP_MALLOC_ENV``)."""
    from ketapain.simulate import SWEEP_MALLOC_ENV

    set_malloc(mmap_threshold=int(SWEEP_MALLOC_ENV["MALLOC_MMAP_THRESHOLD_"]),
               trim_threshold=int(SWEEP_MALLOC_ENV["MALLOC_TRIM_THRESHOLD_"]))


def power_command(
    n: Annotated[str | None, typer.Option("--patients", metavar="A:B:STEP", show_default=False,
                                          help=f"Numbers of patients to simulate: {_N_HELP}. Required.")] = None,
    protocol: ProtocolOption = "ketapain",
    sims: Annotated[int, typer.Option("--sims", metavar="N", help="Simulated trials per number of patients.")] = 1000,
    effects: Annotated[Path | None, typer.Option(
        "--effect-file", metavar="FILE.toml", show_default=False,
        help="TOML with [arms.CODE] effect_amplitude / effect_tau_days overriding the simulator.")] = None,
    dropout: Annotated[float, typer.Option("--dropout", metavar="P", help="Probability that a patient leaves the trial, in [0, 1).")] = 0.0,
    model: Annotated[str, typer.Option("--model", metavar="standard|paper",
                                       help="standard (treatment + period + sequence) or paper (treatment + sequence).")] = "standard",
    missing: Annotated[str, typer.Option("--missing", metavar="MODE", help="Missing diary days: mcar, mar, mnar or none.")] = "mcar",
    workers: Annotated[int | None, typer.Option("--workers", metavar="N", show_default=False,
                                                help="Start a local Dask cluster with N worker processes.")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", metavar="ADDRESS", show_default=False,
                                                  help="Address of a running Dask scheduler.")] = None,
    seed: SeedOption = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", metavar="N", help="Trials per task (does not change the result).")] = 500,
    as_json: JsonOption = False,
    plot: Annotated[Path | None, typer.Option("--plot", metavar="FILE", show_default=False,
                                              help="Write the power curves to FILE.png, .svg or .pdf.")] = None,
    quiet: QuietOption = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --plot FILE.")] = False,
    n_old: Annotated[str | None, typer.Option("--n", hidden=True)] = None,
) -> None:
    """Simulate trials of a protocol and report the power of its primary analysis per number of patients.

    \b
    Example:
      ketapain power --protocol ketapain --patients 12:24:6 --sims 200 --seed 7
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from ketapain.simulate import load_effects, simulate_power

    try:
        given = renamed(n, n_old, new_flag="--patients", old_flag="--n")
        if given is None:
            raise _UsageError(f"give --patients: {_N_HELP}")
        ns = parse_n(given)
        if workers is not None and scheduler is not None:
            raise _UsageError("--workers and --scheduler exclude each other: give one (local cluster or existing scheduler)")
        if workers is not None and workers < 1:
            raise _UsageError(f"--workers {workers}: must be an integer >= 1")
        if plot is not None and plot.suffix.lower() not in _PLOT_SUFFIXES:
            raise _UsageError(f"--plot {str(plot)!r}: the file must end in {', '.join(_PLOT_SUFFIXES)}")
        if plot is not None and plot.exists() and not overwrite:
            raise _UsageError(f"--plot {str(plot)!r}: the file exists; pass --overwrite to replace it")
    except _UsageError as exc:
        raise fail(str(exc)) from None
    seed = seed_or_fresh(seed)
    try:
        from ketapain.protocol import load_protocol

        proto = load_protocol(protocol)
        effect_values = load_effects(effects) if effects is not None else None
        with ExitStack() as stack:
            client = _client(stack, workers, scheduler)
            columns = (TextColumn("simulating trials"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with progress(*columns, quiet=quiet) as bar:
                task = bar.add_task("power", total=len(ns) * sims)
                result = simulate_power(
                    proto, n=ns, sims=sims, seed=seed, effects=effect_values, dropout=dropout, model=model,  # type: ignore[arg-type]
                    missing=missing, chunk_size=chunk_size, client=client,
                    on_progress=lambda done, total: bar.update(task, completed=done))
    except _UsageError as exc:
        raise fail(str(exc)) from None
    except KetapainError as exc:
        raise fail(exc) from None
    if plot is not None:
        from ketapain.report import figure_of, plot_power

        ax = plot_power(result)
        try:
            with file_write(plot) as tmp:
                figure_of(ax).savefig(tmp, bbox_inches="tight", format=plot.suffix[1:].lower())
        except OSError as exc:
            raise fail(f"--plot {str(plot)!r}: cannot write ({exc.strerror})") from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        typer.echo(result.summary())
        if plot is not None:
            typer.echo(f"power curves written to {plot}")

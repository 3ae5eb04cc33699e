"""``ketapain power``: simulation-based power of a protocol's primary analysis.

Thin: parse the options, start or connect to a Dask cluster when asked, call
:func:`ketapain.design._power.simulate_power`, print. User errors exit 1 with ``error: ...``
on stderr, naming the option and the allowed values.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from ketapain.errors import KetapainError

__all__ = ["parse_n", "power_command"]

_MODELS = ("standard", "paper")
_MISSING = ("mcar", "mar", "mnar", "none")
_PLOT_SUFFIXES = (".png", ".svg", ".pdf")
_N_HELP = "a:b:step (a to b inclusive, e.g. 12:40:2), a:b (step 1) or a comma list (12,16,20)"


class _UsageError(ValueError):
    """A bad option value (message names the option and what is allowed)."""


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def parse_n(text: str) -> list[int]:
    """Sample sizes from ``--n``: ``a:b:step`` (inclusive), ``a:b`` or ``a,b,c``.

    Examples
    --------
    >>> parse_n("12:20:4"), parse_n("12:14"), parse_n("20, 12")
    ([12, 16, 20], [12, 13, 14], [20, 12])
    """
    bad = _UsageError(f"--n {text!r}: expected {_N_HELP}; integers >= 3, no repeats")
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise bad
            a, b, step = (*parts, 1) if len(parts) == 2 else parts
            if step < 1 or a > b:
                raise bad
            values = list(range(a, b + 1, step))
        else:
            values = [int(p) for p in text.split(",")]
    except ValueError:
        raise bad from None
    if not values or min(values) < 3 or len(set(values)) != len(values):
        raise bad
    return values


def _client(stack: ExitStack, workers: int | None, scheduler: str | None) -> Any:
    if workers is None and scheduler is None:
        return None
    try:
        from dask.distributed import Client

        from ketapain.design._power import local_cluster
    except ImportError:
        raise _UsageError("--workers/--scheduler need dask.distributed: pip install 'ketapain[dask]'") from None
    if scheduler is not None:
        try:
            return stack.enter_context(Client(scheduler, timeout="20s"))
        except (OSError, TimeoutError) as exc:
            raise _UsageError(f"--scheduler {scheduler!r}: cannot connect ({exc})") from None
    cluster = stack.enter_context(local_cluster(workers))
    return stack.enter_context(Client(cluster))


def power_command(
    n: Annotated[str, typer.Option("--n", help=f"Sample sizes: {_N_HELP}.")],
    protocol: Annotated[str, typer.Option("--protocol", help="Protocol name or TOML file.")] = "ketapain",
    sims: Annotated[int, typer.Option("--sims", help="Simulated trials per sample size.")] = 1000,
    effect_file: Annotated[Path | None, typer.Option(
        "--effect-file", help="TOML with [arms.<code>] effect_amplitude / effect_tau_days overriding the simulator.")] = None,
    dropout: Annotated[float, typer.Option("--dropout", help="Probability that a patient leaves the trial, in [0, 1).")] = 0.0,
    model: Annotated[str, typer.Option("--model", help="standard (treatment+period+sequence) or paper (treatment+sequence).")] = "standard",
    missing: Annotated[str, typer.Option("--missing", help="Missing diary days: mcar, mar, mnar or none.")] = "mcar",
    workers: Annotated[int | None, typer.Option("--workers", help="Start a local Dask cluster with N worker processes.")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of a running Dask scheduler.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default: fresh, printed).")] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Trials per task (does not change the result).")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print PowerResult.to_dict() as JSON.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the power curves to FILE.png, .svg or .pdf.")] = None,
) -> None:
    """Simulate trials of a protocol and report the power of its primary analysis per n."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ketapain.design._power import load_effects, plot_power, simulate_power

    try:
        ns = parse_n(n)
        if model not in _MODELS:
            raise _UsageError(f"--model {model!r} is not one of {', '.join(_MODELS)}")
        if missing not in _MISSING:
            raise _UsageError(f"--missing {missing!r} is not one of {', '.join(_MISSING)}")
        if sims < 1:
            raise _UsageError(f"--sims {sims}: must be an integer >= 1")
        if not 0.0 <= dropout < 1.0:
            raise _UsageError(f"--dropout {dropout:g}: must be a probability in [0, 1)")
        if chunk_size < 1:
            raise _UsageError(f"--chunk-size {chunk_size}: must be an integer >= 1")
        if workers is not None and scheduler is not None:
            raise _UsageError("--workers and --scheduler exclude each other: give one (local cluster or existing scheduler)")
        if workers is not None and workers < 1:
            raise _UsageError(f"--workers {workers}: must be an integer >= 1")
        if plot is not None and plot.suffix.lower() not in _PLOT_SUFFIXES:
            raise _UsageError(f"--plot {str(plot)!r}: the file must end in {', '.join(_PLOT_SUFFIXES)}")
    except _UsageError as exc:
        _fail(str(exc))
        return
    try:
        from ketapain.protocol import load_protocol

        proto = load_protocol(protocol)
        effects = load_effects(effect_file) if effect_file is not None else None
        with ExitStack() as stack:
            client = _client(stack, workers, scheduler)
            columns = (TextColumn("simulating trials"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task("power", total=len(ns) * sims)
                result = simulate_power(
                    proto, n=ns, sims=sims, seed=seed, effects=effects, dropout=dropout, model=model,  # type: ignore[arg-type]
                    missing=missing, chunk_size=chunk_size, client=client,
                    on_progress=lambda done, total: progress.update(task, completed=done))
    except _UsageError as exc:
        _fail(str(exc))
        return
    except KetapainError as exc:
        _fail(str(exc))
        return
    if plot is not None:
        ax = plot_power(result)
        try:
            ax.figure.savefig(plot, bbox_inches="tight")
        except OSError as exc:
            _fail(f"--plot {str(plot)!r}: cannot write ({exc.strerror})")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        typer.echo(result.summary())
        if plot is not None:
            typer.echo(f"power curves written to {plot}")

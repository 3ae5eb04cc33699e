"""``ketapain samplesize`` and ``ketapain design``: thin wrappers around :mod:`ketapain.design`.

User errors (impossible inputs, unknown design kind) print ``error: ...`` on stderr and exit 1.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ketapain.design import all_orders, check_design, crossover_sample_size, latin_square, williams
from ketapain.errors import ModelError

__all__ = ["design_command", "samplesize_command"]

KINDS = {"williams": williams, "latin": latin_square, "all-orders": all_orders}


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def samplesize_command(
    diff: Annotated[float, typer.Option("--diff", help="Difference between two treatments to detect.", show_default=False)],
    sd: Annotated[float | None, typer.Option("--sd", help="SD of one observation (with --rho).", show_default=False)] = None,
    rho: Annotated[float | None, typer.Option("--rho", help="Intra-patient correlation (with --sd).", show_default=False)] = None,
    sd_within: Annotated[float | None, typer.Option("--sd-within", help="Within-patient SD (instead of --sd/--rho).", show_default=False)] = None,
    sd_diff: Annotated[float | None, typer.Option("--sd-diff", help="SD of a patient's difference between two treatments.", show_default=False)] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level (before multiplicity adjustment).")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Target power.")] = 0.9,
    sides: Annotated[int, typer.Option("--sides", help="2 (two-sided) or 1.")] = 2,
    periods: Annotated[int, typer.Option("--periods", help="Number of periods (= treatments).")] = 2,
    method: Annotated[str, typer.Option("--method", help="exact (noncentral t) or normal.")] = "exact",
    df_method: Annotated[str, typer.Option("--df", help="crossover (n-2)(p-1), rm-anova (n-1)(p-1) or paired n-1.")] = "crossover",
    multiplicity: Annotated[str, typer.Option("--multiplicity", help="none, bonferroni or sidak.")] = "none",
    comparisons: Annotated[int | None, typer.Option("--comparisons", help="Number of comparisons for --multiplicity (default p(p-1)/2).", show_default=False)] = None,
    multiple_of: Annotated[int, typer.Option("--multiple-of", help="Round n up to a multiple of this (e.g. the number of sequences).")] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print the machine-readable JSON object.")] = False,
) -> None:
    """Total number of patients for a within-patient comparison of two treatments in a crossover."""
    mult = None if multiplicity == "none" else multiplicity
    try:
        res = crossover_sample_size(
            diff,
            sd=sd,
            rho=rho,
            sd_within=sd_within,
            sd_diff=sd_diff,
            alpha=alpha,
            power=power,
            sides=sides,
            periods=periods,
            method=method,  # type: ignore[arg-type]
            df_method=df_method,  # type: ignore[arg-type]
            multiplicity=mult,  # type: ignore[arg-type]
            n_comparisons=comparisons,
            multiple_of=multiple_of,
        )
    except ModelError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        typer.echo(json.dumps(res.to_dict(), allow_nan=False))
    else:
        typer.echo(res.summary())


def design_command(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="williams, latin or all-orders.", show_default=False)],
    treatments: Annotated[str, typer.Argument(metavar="TREATMENTS", help="Comma-separated labels, e.g. P,K,KM.", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print the machine-readable JSON object.")] = False,
) -> None:
    """Print a crossover design's sequences and its properties (balance, efficiency)."""
    if kind not in KINDS:
        raise _fail(f"KIND must be one of {', '.join(KINDS)}, got {kind!r}")
    labels = [t.strip() for t in treatments.split(",")]
    try:
        design = KINDS[kind](labels)
        props = check_design(design)
    except ModelError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        typer.echo(json.dumps({"design": design.to_dict(), "properties": props.to_dict()}, allow_nan=False))
        return
    typer.echo(f"{kind} design, {design.n_treatments} treatments, {design.n_sequences} sequences x {design.n_periods} periods")
    for i, label in enumerate(design.labels, start=1):
        typer.echo(f"  {i:>3}  {label}")
    typer.echo(props.summary())

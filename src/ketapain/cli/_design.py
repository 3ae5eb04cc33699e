"""``ketapain samplesize`` and ``ketapain design``: thin wrappers around :mod:`ketapain.design`.

User errors (impossible inputs, unknown design kind) print ``error: ...`` on stderr and exit 1.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ketapain.cli._common import JsonOption, fail, renamed
from ketapain.errors import ModelError

__all__ = ["design_command", "samplesize_command"]

KINDS = ("williams", "latin", "all-orders")
MULTIPLICITY = ("none", "bonferroni", "sidak")


def samplesize_command(
    diff: Annotated[float, typer.Option("--diff", metavar="D", help="Difference between two treatments to detect.", show_default=False)],
    sd: Annotated[float | None, typer.Option("--sd", metavar="SD", help="SD of one observation (with --rho).", show_default=False)] = None,
    rho: Annotated[
        float | None, typer.Option("--rho", metavar="R", help="Intra-patient correlation (with --sd).", show_default=False)
    ] = None,
    sd_within: Annotated[
        float | None, typer.Option("--sd-within", metavar="SD", help="Within-patient SD (instead of --sd/--rho).", show_default=False)
    ] = None,
    sd_diff: Annotated[
        float | None,
        typer.Option("--sd-diff", metavar="SD", help="SD of a patient's difference between two treatments.", show_default=False),
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", metavar="A", help="Significance level (before multiplicity adjustment).")] = 0.05,
    power: Annotated[float, typer.Option("--power", metavar="P", help="Target power.")] = 0.9,
    sides: Annotated[int, typer.Option("--sides", metavar="1|2", help="2 (two-sided) or 1.")] = 2,
    periods: Annotated[int, typer.Option("--periods", metavar="N", help="Number of periods (= treatments).")] = 2,
    method: Annotated[
        str | None,
        typer.Option(
            "--calculation", metavar="exact|normal", show_default=False, help="exact (noncentral t, the default) or normal approximation."
        ),
    ] = None,
    df_method: Annotated[
        str | None,
        typer.Option(
            "--df-formula",
            metavar="FORMULA",
            show_default=False,
            help="Error df: crossover (n-2)(p-1) (default), rm-anova (n-1)(p-1) or paired n-1.",
        ),
    ] = None,
    multiplicity: Annotated[
        str, typer.Option("--multiplicity", metavar="none|bonferroni|sidak", help="Adjust alpha for several comparisons.")
    ] = "none",
    n_comparisons: Annotated[
        int | None,
        typer.Option("--comparisons", metavar="K", help="Number of comparisons for --multiplicity (default p(p-1)/2).", show_default=False),
    ] = None,
    multiple_of: Annotated[
        int, typer.Option("--multiple-of", metavar="K", help="Round n up to a multiple of this (e.g. the number of sequences).")
    ] = 1,
    json_output: JsonOption = False,
    method_old: Annotated[str | None, typer.Option("--method", hidden=True)] = None,
    df_old: Annotated[str | None, typer.Option("--df", hidden=True)] = None,
) -> None:
    """Total number of patients for a within-patient comparison of two treatments in a crossover.

    \b
    Example:
      ketapain samplesize --diff 57 --sd 38 --rho 0.5 --alpha 0.02 --power 0.9 --periods 3
    """
    from ketapain.design import crossover_sample_size

    method = renamed(method, method_old, new_flag="--calculation", old_flag="--method") or "exact"
    df_method = renamed(df_method, df_old, new_flag="--df-formula", old_flag="--df") or "crossover"
    if multiplicity not in MULTIPLICITY:
        raise fail(f"--multiplicity {multiplicity!r} is not one of {', '.join(MULTIPLICITY)}")
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
            multiplicity=None if multiplicity == "none" else multiplicity,  # type: ignore[arg-type]
            n_comparisons=n_comparisons,
            multiple_of=multiple_of,
        )
    except ModelError as exc:
        raise fail(exc) from None
    if json_output:
        typer.echo(json.dumps(res.to_dict(), allow_nan=False))
    else:
        typer.echo(res.summary())


def design_command(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="williams, latin or all-orders.", show_default=False)],
    treatments: Annotated[str, typer.Argument(metavar="TREATMENTS", help="Comma-separated labels, e.g. P,K,KM.", show_default=False)],
    json_output: JsonOption = False,
) -> None:
    """Print a crossover design's sequences and its properties (balance, efficiency).

    \b
    Example:
      ketapain design williams P,K,KM
    """
    from ketapain.design import all_orders, check_design, latin_square, williams

    if kind not in KINDS:
        raise fail(f"KIND must be one of {', '.join(KINDS)}, got {kind!r}")
    labels = [t.strip() for t in treatments.split(",")]
    try:
        design = {"williams": williams, "latin": latin_square, "all-orders": all_orders}[kind](labels)
        props = check_design(design)
    except ModelError as exc:
        raise fail(exc) from None
    if json_output:
        typer.echo(json.dumps({"design": design.to_dict(), "properties": props.to_dict()}, allow_nan=False))
        return
    typer.echo(f"{kind} design, {design.n_treatments} treatments, {design.n_sequences} sequences x {design.n_periods} periods")
    for i, label in enumerate(design.labels, start=1):
        typer.echo(f"  {i:>3}  {label}")
    typer.echo(props.summary())

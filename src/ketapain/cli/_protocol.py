"""``ketapain protocol show|validate``: print or check a protocol file.

Thin: calls :func:`ketapain.protocol.load_protocol` and prints. Errors print one
``error: <file>: <key path>: <message>`` line each on stderr and exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ketapain.cli._common import Command, console, fail
from ketapain.errors import ProtocolError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ketapain.protocol import Component, Protocol

SHIPPED = sorted(p.stem for p in (Path(__file__).parents[1] / "protocol" / "files").glob("*.toml"))
"""The shipped protocol names, read from the package's files (importing ketapain.protocol takes ~0.2 s)."""

__all__ = ["protocol_app", "show_command", "validate_command"]

protocol_app = typer.Typer(
    help="Show or validate a protocol file (the study as data; see docs/protocol.md).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@protocol_app.command("show", cls=Command)
def show_command(
    source: Annotated[
        str,
        typer.Argument(metavar="FILE_OR_NAME", help=f"A protocol file, or a shipped name ({', '.join(SHIPPED)}).", show_default=False),
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the whole validated protocol as JSON.")] = False,
) -> None:
    """Print a protocol: a readable summary, or every key as JSON.

    \b
    Example:
      ketapain protocol show ketapain
    """
    from ketapain.protocol import load_protocol

    try:
        protocol = load_protocol(source)
    except ProtocolError as exc:
        raise fail(exc) from None
    if json_output:
        typer.echo(json.dumps(protocol.model_dump(mode="json"), allow_nan=False))
        return
    _print_summary(protocol)


@protocol_app.command("validate", cls=Command)
def validate_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The protocol TOML file to check.", show_default=False)],
) -> None:
    """Check a protocol file: print 'OK: FILE', or every problem and exit 1.

    \b
    Example:
      ketapain protocol validate my_protocol.toml
    """
    from ketapain.protocol import load_protocol

    try:
        load_protocol(file)
    except ProtocolError as exc:
        raise fail(exc) from None
    typer.echo(f"OK: {file}")


def _dose_text(component: Component | None, unit: str = "unit") -> str:
    from ketapain.protocol import ActuationDose, FixedDose, PatchDose, PerKgDose, UnitDose

    if component is None:
        return "-"
    dose = component.dose
    if isinstance(dose, PerKgDose):
        text = f"{component.drug} {dose.mg_per_kg:g} mg/kg" + (f" (max {dose.max_mg:g} mg)" if dose.max_mg is not None else "")
    elif isinstance(dose, FixedDose):
        text = f"{component.drug} {dose.mg:g} mg"
    elif isinstance(dose, UnitDose):
        text = f"{component.drug} {dose.mg_per_unit:g} mg per {unit}"
    elif isinstance(dose, PatchDose):
        text = f"{component.drug} {dose.mcg_per_h:g} mcg/h"
    elif isinstance(dose, ActuationDose):
        text = f"{component.drug} {dose.mcg_per_actuation:g} mcg per actuation"
    else:
        return f"placebo (matches {component.drug})"
    if component.stock is not None:
        unit = f" x {component.stock.unit_volume_ml:g} ml" if component.stock.unit_volume_ml is not None else ""
        text += f" [stock {component.stock.strength_mg_per_ml:g} mg/ml{unit}]"
    return text


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def _print_summary(p: Protocol) -> None:
    from rich.text import Text

    out = console()
    out.soft_wrap = True
    d = p.design
    lines = [
        f"{p.study.title}",
        f"id: {p.study.id}" + (f"   registration: {p.study.registration}" if p.study.registration else ""),
    ]
    if p.study.reference:
        lines.append(f"reference: {p.study.reference}")
    washout = f", washout {d.washout_days} days" if d.washout_days else ""
    lines.append(
        f"design: {d.kind}, {len(p.arms)} arms, {d.periods} periods of {d.period_days} days{washout}, "
        f"{p.n_sequences_expected} sequences"
    )
    if d.sequences:
        lines.append("sequences: " + "  ".join("-".join(s) for s in d.sequences))
    r = p.randomisation
    lines.append(
        f"randomisation: blocks of {r.block_size}"
        + (f" (random sizes {', '.join(map(str, r.random_block_sizes))})" if r.random_block_sizes else "")
        + (f", strata: {', '.join(r.strata)}" if r.strata else ", no strata")
        + (f", ratio {r.ratio}" if r.ratio else "")
    )
    lines.append(f"weights: {p.weights.min_kg:g}..{p.weights.max_kg:g} kg")
    if p.gate is not None:
        lines.append(
            f"gate before periods 2+: |pain - inclusion pain| <= {p.gate.tolerance_points:g} points, postpone up to "
            f"{p.gate.max_postpone_days} days"
        )
    lines.append(
        f"diary: {', '.join(p.diary.items)} ({p.diary.scale_min}..{p.diary.scale_max}), {p.diary.days_per_period} days per period; "
        f"AUC time axis: {p.auc.time_axis}, windows {', '.join(map(str, p.auc.windows))}"
    )
    a = p.analysis
    lines.append(
        f"analysis: model {a.model}, carry-over {a.carryover}, df {a.df_method}, multiplicity {a.multiplicity}, "
        f"alpha {a.alpha:g}, confidence {a.conf_level:g}"
    )
    if p.sample_size is not None:
        s = p.sample_size
        lines.append(
            f"sample size as stated: difference {s.difference:g}, SD {s.sd:g}, rho {s.rho:g}, alpha {s.alpha:g}, power {s.power:g}"
            + (f" -> n = {s.n_stated}" if s.n_stated is not None else "")
        )
    for line in lines:
        out.print(Text(line))
    _print_tables(out, p)


def _print_tables(out: Console, p: Protocol) -> None:
    """The protocol's infusions and administrations, arms, eligibility criteria, visits and
    endpoints as tables."""
    from rich.text import Text

    from ketapain.protocol import Injection

    if p.infusions:
        out.print(
            _table(
                "infusions",
                ["id", "volume", "duration", "rate", "diluent"],
                [[i.id, f"{i.final_volume_ml:g} ml", f"{i.duration_min:g} min", f"{i.rate_ml_per_h:g} ml/h", i.diluent]
                 for i in p.infusions],
            )
        )
    if p.administrations:
        out.print(
            _table(
                "administrations",
                ["id", "route", "regimen", "dispensed per period"],
                [[a.id, a.route, a.describe(), f"{a.units_per_period} {a.unit}(s)" if not isinstance(a, Injection) else "-"]
                 for a in p.administrations],
            )
        )
    out.print(
        _table(
            "arms",
            ["code", "name", *(a.id for a in p.slots)],
            [[arm.code, arm.name, *(_dose_text(arm.component(a.id) if arm.has_component(a.id) else None, getattr(a, "unit", "unit"))
                                    for a in p.slots)]
             for arm in p.arms],
        )
    )
    out.print(Text(f"blinding: {p.blinding.masking.replace('_', '-')}" + (", double dummy" if p.double_dummy else "")))
    if p.eligibility.criteria:
        out.print(
            _table(
                "eligibility",
                ["id", "kind", "rule", "text"],
                [[c.id, c.kind, f"{c.source} {c.op} {json.dumps(c.value)}", c.text] for c in p.eligibility.criteria],
            )
        )
    if p.visits:
        out.print(
            _table(
                "visits", ["name", "day", "window", "questionnaires"],
                [[v.name, str(v.day), "-" if v.window_days is None else f"± {v.window_days} days", ", ".join(v.questionnaires) or "-"]
                 for v in p.visits]
            )
        )
    out.print(
        _table(
            "endpoints",
            ["name", "kind", "AUC of", "to day", "impute"],
            [[e.name, e.kind, e.value, str(e.window_day), e.impute] for e in p.endpoints],
        )
    )

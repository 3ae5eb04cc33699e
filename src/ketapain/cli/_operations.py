"""``ketapain dose``, ``eligibility``, ``consort`` and ``gate``: trial operations around each infusion.

Thin: parse, call :mod:`ketapain.operations`, print. User errors print ``error: ...`` on
stderr and exit 1. See docs/operations.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from ketapain.cli._common import name_files
from ketapain.errors import DataError, KetapainError
from ketapain.operations._consort import consort_flow
from ketapain.operations._dosing import parse_strength, prepare_infusions
from ketapain.operations._eligibility import evaluate_eligibility
from ketapain.operations._gate import period_gate
from ketapain.protocol import load_protocol

__all__ = ["consort_command", "dose_command", "eligibility_command", "gate_command"]

_PROTOCOL_HELP = "Shipped protocol name (ketapain, ab_ba_example) or a TOML file."


def _fail(message: str) -> typer.Exit:
    for line in message.splitlines():
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(1)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, allow_nan=False, ensure_ascii=False))


def dose_command(
    weight: Annotated[float, typer.Option("--weight", help="Patient weight, kg.", show_default=False)],
    arm: Annotated[str, typer.Option("--arm", help="The kit's arm code, e.g. KM (from the pharmacy list).", show_default=False)],
    protocol: Annotated[str, typer.Option("--protocol", help=_PROTOCOL_HELP)] = "ketapain",
    ketamine_vial: Annotated[str | None, typer.Option("--ketamine-vial", help="Ketamine vial strength in stock, e.g. 50mg/ml or 10mg/ml (default: the protocol's).", show_default=False)] = None,
    vial: Annotated[list[str] | None, typer.Option("--vial", help="Any drug's stock strength, DRUG=STRENGTH, e.g. 'lidocaine=20mg/ml'; repeatable.", show_default=False)] = None,
    kit: Annotated[str | None, typer.Option("--kit", help="Kit code, printed on the sheet and the label.", show_default=False)] = None,
    patient: Annotated[str | None, typer.Option("--patient", help="Patient id, printed on the sheet and the label.", show_default=False)] = None,
    period: Annotated[int | None, typer.Option("--period", help="Period number, printed on the sheet and the label.", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print every component as JSON (UNBLINDED).")] = False,
) -> None:
    """Prepare the infusions of one kit: doses, volumes to draw, diluent, pump rates.

    Prints the UNBLINDED preparation sheet and the blinded bag label(s).
    """
    try:
        overrides: dict[str, float] = {}
        for item in vial or []:
            drug, sep, strength = item.partition("=")
            if not sep or not drug.strip():
                raise DataError(f"--vial {item!r} is not DRUG=STRENGTH, e.g. 'ketamine=10mg/ml'")
            overrides[drug.strip()] = parse_strength(strength)
        if ketamine_vial is not None:
            overrides["ketamine"] = parse_strength(ketamine_vial)
        proto = load_protocol(protocol)
        plan = prepare_infusions(proto, arm, weight, stock_overrides=overrides)
    except KetapainError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        data = plan.to_dict()
        data.update(kit_code=kit, patient_id=patient, period=period)
        _echo_json(data)
        return
    typer.echo(plan.preparation_sheet(kit_code=kit, patient_id=patient, period=period))
    typer.echo("\n" + "-" * 60 + " cut here " + "-" * 10 + "\n")
    typer.echo(plan.blinded_label(kit_code=kit, patient_id=patient, period=period))


def eligibility_command(
    answers_json: Annotated[Path, typer.Argument(metavar="ANSWERS.json", help="One person's screening answers as a JSON object; DN4 items may go under \"dn4_items\".", show_default=False)],
    protocol: Annotated[str, typer.Option("--protocol", help=_PROTOCOL_HELP)] = "ketapain",
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check one person's screening answers against the protocol's eligibility criteria."""
    try:
        try:
            answers = json.loads(answers_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{answers_json}: cannot read: {exc}") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{answers_json.name}: not valid JSON: {exc}") from None
        if not isinstance(answers, dict):
            raise DataError(f"{answers_json.name}: expected a JSON object of answers, got {type(answers).__name__}")
        items = answers.pop("dn4_items", None)
        if items is not None and not isinstance(items, dict):
            raise DataError(f"{answers_json.name}: dn4_items must be an object like {{\"1\": 1, ..., \"10\": 0}}")
        result = evaluate_eligibility(load_protocol(protocol), answers, dn4_items=items)
    except KetapainError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        _echo_json(result.to_dict())
    else:
        typer.echo(result.summary())


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def consort_command(
    screening_csv: Annotated[Path, typer.Argument(metavar="SCREENING.csv", help="Screening log: screening_id, outcome (randomised/refused/not_eligible/other), eligible, reason, patient_id.", show_default=False)],
    allocation: Annotated[Path | None, typer.Option("--allocation", metavar="ALLOCATION.csv", help="Allocation: patient_id, period, infusion_date (a date = received).", show_default=False)] = None,
    diary: Annotated[Path | None, typer.Option("--diary", metavar="DIARY.csv", help="Diary: patient_id, period, avg_pain (any value = completed).", show_default=False)] = None,
    periods: Annotated[int | None, typer.Option("--periods", help="Number of periods (default: the largest in the allocation).", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Count the CONSORT flow: screened, not eligible (reasons), refused, randomised, per period."""
    files = {"screening": screening_csv.name}
    try:
        screening = _read_csv(screening_csv)
        alloc = None
        if allocation is not None:
            alloc = _read_csv(allocation)
            files["allocation"] = allocation.name
        dia = None
        if diary is not None:
            dia = _read_csv(diary)
            files["diary"] = diary.name
        flow = consort_flow(screening, alloc, diary=dia, periods=periods)
    except KetapainError as exc:
        raise _fail(name_files(str(exc), files)) from exc
    if json_output:
        _echo_json(flow.to_dict())
    else:
        typer.echo(flow.summary())


def gate_command(
    pain_today: Annotated[float, typer.Option("--pain-today", help="Pain today, before the infusion (diary scale, 0-10).", show_default=False)],
    pain_inclusion: Annotated[float, typer.Option("--pain-inclusion", help="Pain at the inclusion visit (same scale).", show_default=False)],
    days_postponed: Annotated[int, typer.Option("--days-postponed", help="Days this infusion has already been postponed.")] = 0,
    period: Annotated[int | None, typer.Option("--period", help="The period about to start (2 or later).", show_default=False)] = None,
    protocol: Annotated[str, typer.Option("--protocol", help=_PROTOCOL_HELP)] = "ketapain",
    json_output: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Gate before periods 2+: proceed, postpone, or escalate (postponement limit reached)."""
    try:
        decision = period_gate(load_protocol(protocol), pain_today=pain_today, pain_at_inclusion=pain_inclusion,
                               days_postponed=days_postponed, period=period)
    except KetapainError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        _echo_json(decision.to_dict())
    else:
        typer.echo(decision.summary())

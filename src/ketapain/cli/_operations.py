"""``ketapain dose``, ``eligibility``, ``consort`` and ``gate``: trial operations around each infusion.

Thin: parse, call :mod:`ketapain.operations`, print. User errors print ``error: ...`` on
stderr and exit 1. See docs/operations.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ketapain.cli._common import JsonOption, ProtocolOption, fail
from ketapain.errors import DataError, KetapainError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["consort_command", "dose_command", "eligibility_command", "gate_command"]

def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, allow_nan=False, ensure_ascii=False))


def dose_command(
    arm_code: Annotated[
        str, typer.Option("--arm", metavar="CODE", help="The kit's arm code, e.g. KM (from the pharmacy list).", show_default=False)
    ],
    weight_kg: Annotated[
        float | None,
        typer.Option("--weight", metavar="KG", help="Patient weight, kg (required when the protocol has per-kg doses).",
                     show_default=False),
    ] = None,
    protocol: ProtocolOption = "ketapain",
    ketamine_vial: Annotated[
        str | None,
        typer.Option(
            "--ketamine-vial",
            metavar="STRENGTH",
            help="Ketamine vial strength in stock, e.g. 50mg/ml or 10mg/ml (default: the protocol's).",
            show_default=False,
        ),
    ] = None,
    stock_overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--vial", metavar="DRUG=STRENGTH", help="Any drug's stock strength, e.g. 'lidocaine=20mg/ml'; repeatable.", show_default=False
        ),
    ] = None,
    kit: Annotated[
        str | None, typer.Option("--kit", metavar="CODE", help="Kit code, printed on the sheet and the label.", show_default=False)
    ] = None,
    patient: Annotated[
        str | None, typer.Option("--patient", metavar="ID", help="Patient id, printed on the sheet and the label.", show_default=False)
    ] = None,
    period: Annotated[
        int | None, typer.Option("--period", metavar="N", help="Period number, printed on the sheet and the label.", show_default=False)
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print every component as JSON (UNBLINDED).")] = False,
) -> None:
    """Prepare the infusions of one kit: doses, volumes to draw, diluent, pump rates.

    Prints the UNBLINDED preparation sheet and the blinded bag label(s). Injections get a
    syringe to prepare; oral, patch and inhaled arms have no infusion preparation: the sheet
    gives the units to dispense per period instead (--weight is then not needed).

    \b
    Example:
      ketapain dose --weight 78 --arm KM --ketamine-vial 50mg/ml
    """
    from ketapain.operations import parse_strength, prepare_infusions
    from ketapain.protocol import load_protocol

    try:
        overrides: dict[str, float] = {}
        for item in stock_overrides or []:
            drug, sep, strength = item.partition("=")
            if not sep or not drug.strip():
                raise DataError(f"--vial {item!r} is not DRUG=STRENGTH, e.g. 'ketamine=10mg/ml'")
            overrides[drug.strip()] = parse_strength(strength)
        if ketamine_vial is not None:
            overrides["ketamine"] = parse_strength(ketamine_vial)
        proto = load_protocol(protocol)
        plan = prepare_infusions(proto, arm_code, weight_kg, stock_overrides=overrides)
    except KetapainError as exc:
        raise fail(exc) from None
    if json_output:
        data = plan.to_dict()
        data.update(kit_code=kit, patient_id=patient, period=period)
        _echo_json(data)
        return
    typer.echo(plan.preparation_sheet(kit_code=kit, patient_id=patient, period=period))
    typer.echo("\n" + "-" * 60 + " cut here " + "-" * 10 + "\n")
    typer.echo(plan.blinded_label(kit_code=kit, patient_id=patient, period=period))


def eligibility_command(
    answers_json: Annotated[
        Path,
        typer.Argument(
            metavar="ANSWERS.json",
            help='One person\'s screening answers as a JSON object; DN4 items may go under "dn4_items".',
            show_default=False,
        ),
    ],
    protocol: ProtocolOption = "ketapain",
    json_output: JsonOption = False,
) -> None:
    """Check one person's screening answers against the protocol's eligibility criteria.

    \b
    Example:
      ketapain eligibility screening_answers.json
    """
    from ketapain.operations import evaluate_eligibility
    from ketapain.protocol import load_protocol

    try:
        from ketapain._json import read_json_file

        answers = read_json_file(answers_json)
        if not isinstance(answers, dict):
            raise DataError(f"{answers_json.name}: expected a JSON object of answers, got {type(answers).__name__}")
        items = answers.pop("dn4_items", None)
        if items is not None and not isinstance(items, dict):
            raise DataError(f'{answers_json.name}: dn4_items must be an object like {{"1": 1, ..., "10": 0}}')
        result = evaluate_eligibility(load_protocol(protocol), answers, dn4_items=items)
    except KetapainError as exc:
        raise fail(exc) from None
    if json_output:
        _echo_json(result.to_dict())
    else:
        typer.echo(result.summary())


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def consort_command(
    screening_csv: Annotated[
        Path | None,
        typer.Argument(
            metavar="[SCREENING.csv]",
            help="Screening log: screening_id, outcome (randomised/refused/not_eligible/other), eligible, reason, patient_id. "
                 "Leave it out when screening was not recorded (then give --allocation).",
            show_default=False,
        ),
    ] = None,
    allocation: Annotated[
        Path | None,
        typer.Option(
            "--allocation",
            metavar="ALLOCATION.csv",
            help="Allocation: patient_id, period, infusion_date (a date = received).",
            show_default=False,
        ),
    ] = None,
    diary: Annotated[
        Path | None,
        typer.Option(
            "--diary", metavar="DIARY.csv", help="Diary: patient_id, period, avg_pain (any value = completed).", show_default=False
        ),
    ] = None,
    periods: Annotated[
        int | None,
        typer.Option("--periods", metavar="N", help="Number of periods (default: the largest in the allocation).", show_default=False),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Count the CONSORT flow: screened, not eligible (reasons), refused, randomised, per period.

    \b
    Example:
      ketapain consort trial/screening.csv --allocation trial/allocation.csv --diary trial/diary.csv
    """
    from ketapain.operations import consort_flow

    files = {"screening": screening_csv.name} if screening_csv is not None else {}
    try:
        screening = _read_csv(screening_csv) if screening_csv is not None else None
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
        raise fail(exc, files) from None
    if json_output:
        _echo_json(flow.to_dict())
    else:
        typer.echo(flow.summary())


def gate_command(
    pain_today: Annotated[
        float,
        typer.Option("--pain-today", metavar="SCORE", help="Pain today, before the infusion (diary scale, 0-10).", show_default=False),
    ],
    pain_at_inclusion: Annotated[
        float, typer.Option("--pain-inclusion", metavar="SCORE", help="Pain at the inclusion visit (same scale).", show_default=False)
    ],
    days_postponed: Annotated[
        int, typer.Option("--days-postponed", metavar="N", help="Days this infusion has already been postponed.")
    ] = 0,
    period: Annotated[
        int | None, typer.Option("--period", metavar="N", help="The period about to start (2 or later).", show_default=False)
    ] = None,
    protocol: ProtocolOption = "ketapain",
    json_output: JsonOption = False,
) -> None:
    """Gate before periods 2+: proceed, postpone, or escalate (postponement limit reached).

    \b
    Example:
      ketapain gate --pain-today 6 --pain-inclusion 7 --period 2
    """
    from ketapain.operations import period_gate
    from ketapain.protocol import load_protocol

    try:
        decision = period_gate(
            load_protocol(protocol),
            pain_today=pain_today,
            pain_at_inclusion=pain_at_inclusion,
            days_postponed=days_postponed,
            period=period,
        )
    except KetapainError as exc:
        raise fail(exc) from None
    if json_output:
        _echo_json(decision.to_dict())
    else:
        typer.echo(decision.summary())

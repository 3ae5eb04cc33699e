"""``ketapain score`` and ``ketapain instruments``: score questionnaire answers, list instruments.

Thin: reads the JSON file, calls :func:`ketapain.instruments.score`, prints a table or JSON that
says which options ran and how incomplete answers were treated (``--incomplete error|missing``,
default error). Errors (unknown instrument, item or option, a bad value, more unanswered items
than the manual allows, unreadable file or JSON) print ``error: ...`` on stderr, naming the file
and, for a list, the entry's 0-based index, and exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ketapain.cli._common import console, error_text, fail
from ketapain.errors import InstrumentError

if TYPE_CHECKING:
    from rich.table import Table

    from ketapain.instruments import Instrument

__all__ = ["instruments_command", "score_command"]


def score_command(
    instrument: Annotated[
        str, typer.Argument(metavar="INSTRUMENT", help="Instrument name (see `ketapain instruments`).", show_default=False)
    ],
    responses_json: Annotated[
        Path,
        typer.Argument(
            metavar="RESPONSES.json",
            help='One JSON object of item -> value ({"1": 3, "2": null}; clock items "HH:MM"), or a list of them.',
            show_default=False,
        ),
    ],
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", metavar="NAME=VALUE", help="A scoring option of the instrument (repeatable).", show_default=False),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help='Print {"instrument", "options", "incomplete", "scores"} (a list for a list).')
    ] = False,
    incomplete: Annotated[
        str,
        typer.Option(
            "--incomplete",
            metavar="error|missing",
            help="More unanswered items than the manual allows for a score (or a blank form): "
            "error = exit 1 naming the score, the items and the rule; missing = print the score as NA (null).",
        ),
    ] = "error",
) -> None:
    """Score questionnaire answers as the instrument's manual defines; the output names the options that ran.

    \b
    Example:
      ketapain score hads hads_answers.json --option coding=agreement --json
    """
    from ketapain.instruments import INCOMPLETE, get_instrument, score

    try:
        if incomplete not in INCOMPLETE:
            raise InstrumentError(f"--incomplete {incomplete!r} is not one of {', '.join(INCOMPLETE)}")
        inst = get_instrument(instrument)
        options = inst.resolve_options(_parse_options(option or []))
        data = _read_json(responses_json)
        entries, is_list = (data, True) if isinstance(data, list) else ([data], False)
        results = []
        for i, entry in enumerate(entries):
            place = f"{responses_json.name} [{i}]" if is_list else responses_json.name
            if not isinstance(entry, dict):
                raise InstrumentError(f"{place}: expected an object of item -> value, got {_json_type(entry)}")
            try:
                results.append(score(inst, entry, incomplete=incomplete, **options))  # type: ignore[arg-type]
            except InstrumentError as exc:
                raise InstrumentError(f"{place}: {error_text(exc)}") from None
    except InstrumentError as exc:
        raise fail(exc) from None

    payloads = [{"instrument": inst.name, "options": options, "incomplete": incomplete, "scores": r} for r in results]
    if json_output:
        typer.echo(json.dumps(payloads if is_list else payloads[0], allow_nan=False))
        return
    out = console()
    for i, result in enumerate(results):
        title = f"{inst.name}: {responses_json.name}" + (f" [{i}]" if is_list else "")
        out.print(_score_table(inst, result, title, options, incomplete))


def instruments_command(
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="Show one instrument in detail (default: list them all).", show_default=False)
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the declarations as JSON.")] = False,
    fhir: Annotated[bool, typer.Option("--fhir", help="Print NAME as a FHIR R4 Questionnaire (JSON).")] = False,
    wording: Annotated[
        Path | None,
        typer.Option(
            "--wording",
            metavar="WORDING.json",
            help='With --fhir: the site\'s licensed item wording, {"instrument", "language", "items": {key: text}}.',
            show_default=False,
        ),
    ] = None,
) -> None:
    """List the instruments, or show one: items (key, label, allowed values), options and scores.

    \b
    Example:
      ketapain instruments hads
    """
    from rich.text import Text

    from ketapain.instruments import get_instrument, instruments, read_wording, to_fhir_questionnaire

    try:
        if (fhir or wording is not None) and name is None:
            raise InstrumentError("--fhir and --wording need an instrument NAME")
        if wording is not None and not fhir:
            raise InstrumentError("--wording goes with --fhir")
        selected = list(instruments().values()) if name is None else [get_instrument(name)]
        if fhir:
            texts, language = (None, None)
            if wording is not None:
                try:
                    texts, language = read_wording(_read_json(wording), selected[0])
                except InstrumentError as exc:
                    raise InstrumentError(str(exc).replace("wording file", wording.name, 1)) from None
            typer.echo(json.dumps(to_fhir_questionnaire(selected[0], wording=texts, language=language), indent=2, ensure_ascii=False))
            return
    except InstrumentError as exc:
        raise fail(exc) from None

    if json_output:
        payload = [inst.to_dict() for inst in selected]
        typer.echo(json.dumps(payload if name is None else payload[0], allow_nan=False))
        return
    out = console()
    if name is None:
        out.print(_overview(selected))
        return
    inst = selected[0]
    out.print(Text(f"{inst.name}: {inst.title}", style="bold"))
    out.print(Text(f"reference: {inst.reference}"))
    out.print(Text(f"licence: {inst.licence}"))
    if inst.notes:
        out.print(Text(inst.notes))
    for table in _detail_tables(inst):
        out.print(table)


def _parse_options(given: list[str]) -> dict[str, str]:
    from ketapain.instruments import INCOMPLETE

    out: dict[str, str] = {}
    for text in given:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise InstrumentError(f"--option {text!r} must be NAME=VALUE, e.g. --option missing=half_rule")
        key = key.strip()
        if key == "incomplete":
            raise InstrumentError(f"--option {text!r}: incomplete is not an instrument option; use --incomplete {'|'.join(INCOMPLETE)}")
        if key in out:
            raise InstrumentError(f"--option {key} is given twice")
        out[key] = value.strip()
    return out


def _read_json(path: Path) -> Any:
    from ketapain._json import read_json_file

    return read_json_file(path, error=InstrumentError, constants_hint="use null for a missing answer")


def _json_type(value: Any) -> str:
    names = {str: "a string", bool: "true/false", int: "a number", float: "a number", list: "a list", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _fmt(value: Any) -> str:
    if value is None:
        return "NA"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _range(minimum: float | None, maximum: float | None, kind: str) -> str:
    if kind == "bool":
        return "yes/no"
    if minimum is None and maximum is None:
        return ""
    return f"{_fmt(minimum) if minimum is not None else ''}..{_fmt(maximum) if maximum is not None else ''}"


def _score_table(inst: Instrument, result: dict[str, Any], title: str, options: dict[str, str], incomplete: str) -> Table:
    from rich.table import Table
    from rich.text import Text

    caption = "options: " + (", ".join(f"{k}={v}" for k, v in options.items()) or "none") + f"\nincomplete: {incomplete}"
    table = Table(title=Text(title), caption=Text(caption))
    table.add_column("score", overflow="fold")
    table.add_column("value", justify="right")
    table.add_column("range")
    for s in inst.scores:
        table.add_row(Text(s.name), Text(_fmt(result[s.name])), Text(_range(s.minimum, s.maximum, s.kind)))
    for s in inst.reports:
        table.add_row(Text(s.name, style="dim"), Text(_fmt(result[s.name])), Text("report", style="dim"))
    return table


def _overview(selected: list[Instrument]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="instruments")
    for col in ("name", "title", "items", "scores", "options"):
        table.add_column(col, overflow="fold")
    for inst in selected:
        table.add_row(
            Text(inst.name),
            Text(inst.title),
            Text(str(len(inst.items))),
            Text(", ".join(inst.score_names)),
            Text(", ".join(o.name for o in inst.options) or "-"),
        )
    return table


def _detail_tables(inst: Instrument) -> list[Table]:
    from rich.table import Table
    from rich.text import Text

    items = Table(title="items")
    for col in ("key", "label", "allowed", "required", "scored"):
        items.add_column(col, overflow="fold")
    for it in inst.items:
        items.add_row(Text(it.key), Text(it.label), Text(it.allowed()), Text(_fmt(it.required)), Text(_fmt(it.scored)))
    tables = [items]
    if inst.options:
        options = Table(title="options")
        for col in ("name", "choices", "default", "meaning"):
            options.add_column(col, overflow="fold")
        for o in inst.options:
            options.add_row(Text(o.name), Text(", ".join(o.choices)), Text(o.default), Text(o.doc))
        tables.append(options)
    scores = Table(title="scores")
    with_rules = any(s.rule for s in inst.scores)  # the missing-item rule of each score, when declared
    for col in ("name", "range", "definition", *(["missing items"] if with_rules else [])):
        scores.add_column(col, overflow="fold")
    for s in inst.scores:
        rule = [Text(s.rule)] if with_rules else []
        scores.add_row(Text(s.name), Text(_range(s.minimum, s.maximum, s.kind)), Text(s.doc), *rule)
    for s in inst.reports:
        scores.add_row(Text(s.name, style="dim"), Text("report"), Text(s.doc), *([Text("")] if with_rules else []))
    tables.append(scores)
    return tables

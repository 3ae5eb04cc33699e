"""``ketapain init``: a new trial folder: a commented protocol, empty table templates, a README.

The protocol is :func:`ketapain.protocol.protocol_template` (or a copy of ``--from-protocol``);
each table template is a CSV file holding only its header, the columns of
:func:`ketapain.data.template_columns` for that protocol (the diary has the protocol's diary
items). ``ketapain check DIR`` accepts the folder as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ketapain.cli._common import PROTOCOL_FILE, fail, os_error_text
from ketapain.errors import DataError, KetapainError

if TYPE_CHECKING:
    from ketapain.protocol import Protocol

__all__ = ["README_FILE", "init_command"]

README_FILE = "README.md"

_README = """\
# {title}

A trial data folder made by `ketapain init` for protocol `{study}` ({design}).

- `{protocol_file}`: the protocol (arms, periods, visits, diary items, endpoints, analysis
  settings). Edit it first; `ketapain protocol validate {protocol_file}` checks it.
- one CSV file per table, holding only its header (the columns are described in
  docs/data-model.md of ketapain); one row per:
{rows}
- in `allocation.csv`, `treatment` is an arm code: {arms}; `period` is 1..{periods}.
- `diary.csv` has one column per diary item of the protocol: {items}, from {scale_min} to
  {scale_max} (an empty cell is a missing day); `day` is 1..{days}.
- in `questionnaires.csv`, `visit` is a visit of the protocol: {visits}; `instrument` is one
  that visit lists; `item` is an item key of the instrument, as `ketapain instruments NAME`
  lists them.

Then:

    ketapain check {folder}          # every problem, by kind; exit 1 on errors
    ketapain analyze {folder} --out report/

Both find the protocol as `{folder}/{protocol_file}` (or give `--protocol FILE`).
"""


def _entries(proto: Protocol, folder: Path, design: str) -> dict[str, str]:
    """File name -> text of every file ``init`` writes, the protocol aside."""
    from ketapain.data import SCHEMAS, template_columns
    from ketapain.protocol import data_contract

    contract = data_contract(proto)
    files = {}
    for name, columns in template_columns(contract).items():
        files[f"{name}.csv"] = ",".join(columns) + "\r\n"
    rows = "\n".join(f"  - `{name}.csv`: {SCHEMAS[name].row}" for name in SCHEMAS)
    files[README_FILE] = _README.format(
        title=proto.study.title, study=proto.study.id, design=design, protocol_file=PROTOCOL_FILE, rows=rows,
        arms=", ".join(proto.arm_codes), periods=proto.design.periods, items=", ".join(proto.diary.items),
        scale_min=proto.diary.scale_min, scale_max=proto.diary.scale_max, days=proto.diary.days_per_period,
        visits=", ".join(v.name for v in proto.visits) or "(none in the protocol)", folder=folder)
    return files


def _protocol_text(from_protocol: Path | None, design: str | None, arms: int | None,
                   route: str | None) -> tuple[str, str]:
    """``(protocol text, design in words)``: a copy of ``from_protocol`` or a template."""
    from ketapain.protocol import Protocol, protocol_template

    if from_protocol is not None:
        if arms is not None or design is not None or route is not None:
            raise DataError(template="{@design}, {@arms} and {@route} make a template; {@from_protocol} copies a "
                                     "protocol: give one or the other")
        text = from_protocol.read_text(encoding="utf-8")
        proto = Protocol.from_toml_text(text, source=str(from_protocol))
        return text, f"from {from_protocol.name}, {proto.design.kind} design"
    design = design or "ab/ba"
    words = design + (f", {arms} arms" if arms else "") + (f", {route.replace('_', ' ')}" if route else "")
    return protocol_template(design, arms=arms, route=route or "iv_infusion"), words


def _check_folder(out: Path, *, overwrite: bool) -> None:
    """Refuse a file, or a non-empty folder without ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise DataError(template="{path} is not empty; pass {@overwrite=True} to write the templates into it",
                        params={"path": out})


def init_command(
    out: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to create (or an empty one).", show_default=False)],
    from_protocol: Annotated[Path | None, typer.Option(
        "--from-protocol", metavar="FILE", show_default=False,
        help="Start from this protocol file (copied as protocol.toml) instead of a template.")] = None,
    design: Annotated[str | None, typer.Option(
        "--design", metavar="DESIGN", show_default=False,
        help="Design of the template protocol: ab/ba (the default), williams (with --arms 3 or 4) or abab/baba.")] = None,
    arms: Annotated[int | None, typer.Option("--arms", metavar="N", show_default=False,
                                             help="Number of arms of a williams design: 3 or 4.")] = None,
    route: Annotated[str | None, typer.Option(
        "--route", metavar="ROUTE", show_default=False,
        help="How every arm is given in the template protocol: iv_infusion (the default: one IV bag per "
             "period, [[infusions]]), or oral, transdermal_patch, injection, inhaled (an [[administrations]] "
             "entry, the placebo a matching dummy).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Write into a folder that is not empty "
                                                                "(replacing files of the same names).")] = False,
) -> None:
    """Start a trial folder: a commented protocol, empty CSV templates for it and a README.

    The templates have the columns the protocol asks for (the diary has the protocol's diary
    items); `ketapain check DIR` accepts the folder as written.

    \b
    Example:
      ketapain init my_trial/ --design williams --arms 3 --route oral
    """
    from ketapain._atomic import entries_write
    from ketapain.protocol import Protocol

    try:
        _check_folder(out, overwrite=overwrite)
        text, words = _protocol_text(from_protocol, design, arms, route)
        proto = Protocol.from_toml_text(text, source=PROTOCOL_FILE)
        files = {PROTOCOL_FILE: text, **_entries(proto, out, words)}
        with entries_write(out, files) as stage:
            for name, content in files.items():
                with (stage / name).open("w", encoding="utf-8", newline="") as f:
                    f.write(content)
    except KetapainError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(os_error_text(exc, from_protocol or out)) from None
    for name in files:
        typer.echo(str(out / name))
    typer.echo(f"Next: edit {out / PROTOCOL_FILE}, fill in the tables, then: ketapain check {out}")

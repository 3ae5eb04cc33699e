"""``ketapain examples``: small example files of every kind the commands read, to try them on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketapain.cli._common import fail
from ketapain.errors import KetapainError

__all__ = ["examples_command"]


def examples_command(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder to write the files into (created).")] = Path("."),
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace example files written before.")] = False,
) -> None:
    """Write small example files (a diary, crossover tables, answers, a protocol) to try the commands on.

    Every file is synthetic; each is described on the line printed for it.

    \b
    Example:
      ketapain examples --out .
    """
    from ketapain.examples import EXAMPLE_FILES, write_examples

    try:
        written = write_examples(out, overwrite=overwrite)
    except KetapainError as exc:
        raise fail(exc) from None
    width = max(len(str(p)) for p in written)
    for path in written:
        typer.echo(f"{str(path).ljust(width)}  {EXAMPLE_FILES[path.name]}")

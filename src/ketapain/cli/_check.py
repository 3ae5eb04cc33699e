"""``ketapain check``: a data folder against its protocol, every problem grouped by kind.

The check itself is :func:`ketapain.data.check_trial` with the protocol's
:func:`~ketapain.protocol.data_contract`; ``ketapain analyze`` runs the same check first
(:func:`checked_folder`) and prints the same listing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ketapain.cli._common import DataProtocolOption, fail, find_protocol
from ketapain.errors import KetapainError

if TYPE_CHECKING:
    from ketapain.data import CheckResult
    from ketapain.protocol import Protocol

__all__ = ["LenientOption", "check_command", "checked_folder", "echo_listing"]

LenientOption = Annotated[str | None, typer.Option(
    "--lenient", metavar="KIND[,KIND]", show_default=False,
    help="Report these kinds of problem as warnings, not errors: unknown_visit, unknown_instrument (their rows "
         "are left out of the questionnaire analysis), no_allocation (such patients are in Table 1 only).")]
"""``--lenient``: ``check`` and ``analyze``."""


def lenient_kinds(lenient: str | None) -> tuple[str, ...]:
    """The kinds ``--lenient`` names (comma-separated; blanks ignored)."""
    return tuple(k.strip() for k in (lenient or "").split(",") if k.strip())


def checked_folder(data_dir: Path, protocol: str | None, lenient: str | None) -> tuple[Protocol, str, CheckResult]:
    """Find the protocol of ``data_dir`` and check the folder against it.

    Returns ``(protocol, how it was found, result)``; never raises for bad data (see
    :func:`ketapain.data.check_trial`).

    Raises
    ------
    KetapainError
        No protocol, a protocol that does not load, or a ``--lenient`` kind that cannot be
        made lenient.
    """
    from ketapain.data import check_trial
    from ketapain.protocol import data_contract

    proto, how = find_protocol(protocol, data_dir)
    result = check_trial(data_dir, data_contract(proto), lenient=lenient_kinds(lenient))
    return proto, how, result


def echo_listing(result: CheckResult, *, err: bool) -> None:
    """Print the problems by kind (:meth:`~ketapain.data.CheckResult.kind_lines`), each line led
    by its kind's severity (``error:``, ``warning:``)."""
    for kind in result.kinds():
        for line in result.kind_lines(kind):
            typer.echo(f"{result.severity(kind)}: {line}", err=err)


def check_command(
    data_dir: Annotated[Path, typer.Argument(metavar="DATA_DIR", help="Trial data folder (CSV or Parquet tables).",
                                             show_default=False)],
    protocol: DataProtocolOption = None,
    lenient: LenientOption = None,
) -> None:
    """Check a trial data folder against its protocol; list every problem by kind.

    Each kind shows how many problems it has and the first ones with their file, row, column
    and value. Exit 1 when a problem is an error; warnings are printed and exit 0. The kinds
    are listed in docs/data-model.md ("Checking a data folder").

    \b
    Example:
      ketapain check trial/
    """
    try:
        proto, how, result = checked_folder(data_dir, protocol, lenient)
    except KetapainError as exc:
        raise fail(exc) from None
    echo_listing(result, err=False)
    n_errors = sum(result.counts[k] for k in result.kinds("error"))
    n_warnings = sum(result.counts[k] for k in result.kinds("warning"))
    where = f"{data_dir} against protocol {proto.study.id!r} ({how})"
    if n_errors:
        raise fail(f"{data_dir}: {n_errors} error(s), {n_warnings} warning(s) against protocol {proto.study.id!r} ({how})")
    typer.echo(f"OK: {where}" + (f"; {n_warnings} warning(s)" if n_warnings else ""))

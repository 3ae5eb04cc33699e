"""What every ``ketapain`` command shares: error output in the user's words, shared options,
seeds, hidden old option spellings, and the console.

Errors speak the user's language. A library error built from a template
(:class:`ketapain.errors.KetapainError`) names the library's parameters; :func:`fail` renders
it with the flags of the command that is running, found by parameter name: a command's Python
parameters are named like the library parameters they feed (``n_patients`` behind
``--patients``, ``df_method`` behind ``--df-method``), so the command's own definition is the
one mapping from parameter to flag. ``tests/cli/test_cli_contract.py`` checks it for every
command.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperOption

from ketapain.cli._interrupt import note_outputs
from ketapain.errors import KetapainError, ParameterNamer

if TYPE_CHECKING:
    from ketapain.data import TrialData
    from ketapain.protocol import Protocol

__all__ = [
    "Command",
    "DataProtocolOption",
    "JsonOption",
    "PROTOCOL_FILE",
    "ProtocolOption",
    "QuietOption",
    "SeedOption",
    "console",
    "echo_error",
    "error_text",
    "fail",
    "find_protocol",
    "flag_namer",
    "fresh_seed",
    "os_error_text",
    "progress",
    "protocol_of",
    "renamed",
    "seed_or_fresh",
]

T = TypeVar("T")

PROTOCOL_HELP = "Protocol: a shipped name (ketapain, ab_ba_example) or a TOML file."

ProtocolOption = Annotated[str, typer.Option("--protocol", metavar="NAME|FILE", help=PROTOCOL_HELP)]
"""``--protocol``, default ``ketapain``: commands that do not read a trial's data."""

DataProtocolOption = Annotated[str | None, typer.Option(
    "--protocol", metavar="NAME|FILE", show_default=False,
    help=PROTOCOL_HELP + " Default: DATA_DIR/protocol.toml, else the protocol meta.json names (protocol_id).")]
"""``--protocol``, default: the data folder's ``protocol.toml``, else the one its meta.json names
(:func:`find_protocol`): commands that read a TrialData folder."""

SeedOption = Annotated[int | None, typer.Option(
    "--seed", metavar="N", show_default=False,
    help="Random seed, an integer >= 0 (default: a fresh one, printed, so the run can be repeated).")]
"""``--seed``: every command that draws random numbers."""

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


_RUNNING: ContextVar[TyperCommand | None] = ContextVar("ketapain_running_command", default=None)
"""The command being run (set by :meth:`Command.invoke`): its flags name the parameters in errors."""


class Command(TyperCommand):
    """Every ketapain command: Typer's, with arguments listed by their metavar (``DATA.csv``)
    instead of Typer's ``NAME <path>`` type placeholders, and known while it runs (for
    :func:`fail`); the paths it writes are noted for the line an interruption prints
    (:mod:`ketapain.cli._interrupt`)."""

    def invoke(self, ctx: Any) -> Any:
        note_outputs(ctx.params)
        token = _RUNNING.set(self)
        try:
            return super().invoke(ctx)
        finally:
            _RUNNING.reset(token)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                arguments.append((param.metavar or (param.name or "").upper(), record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


PROTOCOL_FILE = "protocol.toml"
"""The protocol file a data folder may hold (``ketapain init`` writes it)."""


def protocol_of(data: TrialData | None, name: str | None, where: Path) -> Protocol:
    """The protocol of the data folder ``where``: see :func:`find_protocol`."""
    return find_protocol(name, where, meta=data.meta if data is not None else None)[0]


def find_protocol(name: str | None, where: Path, *, meta: Mapping[str, str] | None = None) -> tuple[Protocol, str]:
    """The protocol of the data folder ``where`` and how it was found, in this order:

    1. ``--protocol NAME|FILE`` (``name``), when given;
    2. the file ``protocol.toml`` in the folder (as ``ketapain init`` writes it);
    3. the protocol the data name in ``meta.json`` (``protocol_id``: a shipped name or a file);

    otherwise an error saying so. ``meta`` is the data's meta, when already read.

    Raises
    ------
    KetapainError
        No protocol found, or the one found does not load.
    """
    from ketapain.data import read_meta
    from ketapain.protocol import load_protocol

    if name is not None:
        return load_protocol(name), f"--protocol {name}"
    own = where / PROTOCOL_FILE
    if own.is_file():
        return load_protocol(str(own)), str(own)
    if meta is None:
        meta = read_meta(where) if where.is_dir() else {}
    protocol_id = meta.get("protocol_id")
    if protocol_id:
        from ketapain.errors import ProtocolError
        from ketapain.protocol import list_protocols

        if protocol_id not in list_protocols() and not Path(protocol_id).is_file():
            raise ProtocolError(template="{where}: meta.json names protocol {id}, which is neither a shipped protocol ({shipped}) "
                                "nor a file; give it with {@protocol} FILE or put it in {where}/" + PROTOCOL_FILE,
                                params={"where": where, "id": repr(protocol_id), "shipped": ", ".join(list_protocols())})
        return load_protocol(protocol_id), f"meta.json protocol_id {protocol_id!r}"
    raise KetapainError(template="{where}: no protocol: give one with {@protocol} NAME|FILE, put it in "
                        "{where}/" + PROTOCOL_FILE + " or name it in meta.json (protocol_id)",
                        params={"where": where})


def console(*, stderr: bool = False) -> Console:
    """A rich console that prints text as given: no emoji codes (``:b:``), no markup, no highlighting."""
    return Console(stderr=stderr, emoji=False, markup=False, highlight=False)


def progress(*columns: Any, quiet: bool = False, transient: bool = True) -> Any:
    """A rich progress bar on stderr, shown only on a terminal and without ``--quiet``."""
    from rich.progress import Progress

    err = console(stderr=True)
    return Progress(*columns, console=err, transient=transient, disable=quiet or not err.is_terminal)


def fresh_seed() -> int:
    """A fresh seed for a run the user did not seed: 63 random bits (``secrets``), printed by the
    command so that the run can be repeated with ``--seed``."""
    return secrets.randbits(63)


def seed_or_fresh(seed: int | None) -> int:
    """``seed`` when given, else :func:`fresh_seed`."""
    return fresh_seed() if seed is None else seed


def renamed(new: T | None, old: T | None, *, new_flag: str, old_flag: str) -> T | None:
    """Merge an option with its old spelling, kept as a hidden alias for one release.

    The old spelling still works, with a warning on stderr; both at once is a usage error.
    """
    if old is None:
        return new
    if new is not None:
        raise typer.BadParameter(f"{old_flag} is the old spelling of {new_flag}; give {new_flag} only",
                                 param_hint=old_flag)
    typer.echo(f"warning: {old_flag} is now spelt {new_flag}; {old_flag} will be removed in a later release", err=True)
    return old


def flag_namer(command: TyperCommand | None) -> ParameterNamer:
    """A :data:`ketapain.errors.ParameterNamer` that names library parameters by ``command``'s
    flags: ``df_method`` -> ``--df-method``; ``overwrite=True`` -> ``--overwrite``;
    ``overwrite=False`` -> ``--no-overwrite`` (or "without --overwrite"); ``seed=-1`` ->
    ``--seed -1``; an argument by its metavar (``DATA.csv``) or its value. A name the command
    does not have keeps the library's spelling."""
    params = {p.name: p for p in command.params} if command is not None else {}

    def name(parameter: str, value: str | None) -> str:
        param = params.get(parameter)
        if isinstance(param, TyperOption) and not param.hidden:
            flag = max(param.opts, key=len)
            if param.is_flag and value is not None:
                if value == "True":
                    return flag
                if value == "False":
                    return param.secondary_opts[0] if param.secondary_opts else f"without {flag}"
            return flag if value is None else f"{flag} {value}"
        if isinstance(param, TyperArgument):
            return value if value is not None else (param.metavar or param.name or parameter).upper()
        return parameter if value is None else f"{parameter}={value}"

    return name


def error_text(error: KetapainError | str, files: dict[str, str] | None = None) -> str:
    """The message of ``error`` in the running command's words: parameters by the command's
    flags, and the tables a located error names (``"diary"``, ``"data"``) by the files they
    were read from (``files``: table label -> file name). Formatted from the error's fields,
    never by editing its text (:mod:`ketapain.errors`, "Located messages")."""
    if not isinstance(error, KetapainError):
        return error
    return error.render(flag_namer(_RUNNING.get()), sources=files)


def echo_error(error: KetapainError | str, files: dict[str, str] | None = None) -> None:
    """Print ``error: ...`` on stderr, one per line of the message; an indented line (the
    detail of the line above, as a list of problems grouped by kind) follows as it is."""
    for line in error_text(error, files).splitlines() or [""]:
        typer.echo(line if line[:1].isspace() else f"error: {line}", err=True)


def fail(error: KetapainError | str, files: dict[str, str] | None = None) -> typer.Exit:
    """Print the error (:func:`echo_error`) and return the ``Exit(1)`` to raise:
    ``raise fail(exc) from None``."""
    echo_error(error, files)
    return typer.Exit(1)


def os_error_text(exc: OSError, default: Path | str) -> str:
    """``PATH: reason`` for a file-system error (no traceback)."""
    return f"{exc.filename or default}: {exc.strerror or exc}"


def set_malloc(*, mmap_threshold: int, trim_threshold: int) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (bytes) of this process with
    ``mallopt``; False where the C library has no ``mallopt`` (not glibc) and nothing was set.
    A command's own tuning (``ketapain fit``: memory back to the system; ``ketapain power``:
    pages reused, :data:`ketapain.simulate.SWEEP_MALLOC_ENV`); results never depend on it."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        mallopt = None
    if mallopt is None:
        return False
    mallopt(-3, int(mmap_threshold))  # M_MMAP_THRESHOLD
    mallopt(-1, int(trim_threshold))  # M_TRIM_THRESHOLD
    return True

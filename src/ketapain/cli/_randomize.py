"""``ketapain randomize``, ``ketapain unblind`` and ``ketapain verify-list``.

Thin: parse the options, call :mod:`ketapain.operations`, print. User errors exit 1 with
``error: ...`` on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer

from ketapain.cli._common import ProtocolOption, fail, renamed
from ketapain.errors import KetapainError

if TYPE_CHECKING:
    from ketapain.operations import RandomisationList
    from ketapain.protocol import Protocol

__all__ = ["parse_strata", "randomize_command", "unblind_command", "verify_command"]

UNBLINDING_LOG = "unblinding_log.jsonl"


def parse_strata(text: str) -> dict[str, int]:
    """``"M=12,F=12"`` -> ``{"M": 12, "F": 12}`` (order kept).

    >>> parse_strata("M=12, F=10")
    {'M': 12, 'F': 10}
    """
    out: dict[str, int] = {}
    for part in text.split(","):
        name, sep, count = part.strip().partition("=")
        name = name.strip()
        if not sep or not name or not count.strip().isdigit():
            raise typer.BadParameter(f"{part.strip()!r}: write each stratum as VALUE=N, e.g. M=12,F=12",
                                     param_hint="--strata")
        if name in out:
            raise typer.BadParameter(f"stratum {name!r} given twice", param_hint="--strata")
        out[name] = int(count)
    return out


OutOption = Annotated[Path, typer.Option("--out", metavar="DIR", help="New folder for the list (never overwritten).", show_default=False)]
PatientsOption = Annotated[int | None, typer.Option(
    "--patients", metavar="N", show_default=False, help="Number of patients (blocks are completed, so there may be spare slots).")]
ListSeedOption = Annotated[int | None, typer.Option(
    "--seed", metavar="N", show_default=False,
    help="Integer seed; omit it for a cryptographically strong one (recorded in list_meta.json; printed for a test list).")]
KindOption = Annotated[str, typer.Option(
    "--kind", metavar="test|production", help="test (training; kit codes start with T-) or production.")]
BlockSizeOption = Annotated[int | None, typer.Option(
    "--block-size", metavar="N", show_default=False,
    help="Fixed block size (a multiple of the number of sequences); overrides the protocol.")]
StrataOption = Annotated[str | None, typer.Option(
    "--strata", metavar="VALUE=N,...", show_default=False,
    help="Patients per stratum value, e.g. M=12,F=12 (the factor is the protocol's, e.g. sex).")]
ImportOption = Annotated[Path | None, typer.Option(
    "--import", metavar="PHARMACY.csv", show_default=False,
    help="Check and import a pharmacy list made elsewhere (CSV) instead of generating one.")]


def randomize_command(
    out: OutOption,
    protocol: ProtocolOption = "ketapain",
    n_patients: PatientsOption = None,
    seed: ListSeedOption = None,
    kind: KindOption = "test",
    block_size: BlockSizeOption = None,
    strata: StrataOption = None,
    import_list: ImportOption = None,
) -> None:
    """Make (or import) a randomisation list: pharmacy.csv, labels.csv/.html, commitment.txt, list_meta.json.

    \b
    Example:
      ketapain randomize --protocol ketapain --patients 24 --kind test --seed 11 --out list/
    """
    from ketapain.operations import write_randomisation_list

    if kind not in ("test", "production"):
        raise typer.BadParameter(f"{kind!r}: allowed test or production", param_hint="--kind")
    list_kind = cast('Literal["test", "production"]', kind)  # checked above
    counts = parse_strata(strata) if strata is not None else None
    try:
        from ketapain.protocol import load_protocol

        proto = load_protocol(protocol)
        if import_list is not None:
            if n_patients is not None or seed is not None or block_size is not None or strata is not None:
                raise typer.BadParameter("--import takes the list as it is: no --patients, --seed, --block-size or --strata")
            rlist = _imported(proto, import_list, list_kind)
        else:
            rlist = _generated(proto, n_patients, counts, list_kind, seed, block_size)
        where = write_randomisation_list(rlist, out)
    except KetapainError as exc:
        raise fail(exc) from None
    _print_list(rlist, where)


def _imported(proto: Protocol, path: Path, kind: Literal["test", "production"]) -> RandomisationList:
    from ketapain.operations import import_pharmacy_list, protocol_sequences

    return import_pharmacy_list(path, protocol_sequences(proto), kind=kind, protocol_id=proto.study.id)


def _generated(proto: Protocol, n_patients: int | None, counts: dict[str, int] | None, kind: Literal["test", "production"],
               seed: int | None, block_size: int | None) -> RandomisationList:
    """The list of ``n_patients`` (or of the ``--strata`` counts) made for ``proto``."""
    from ketapain.operations import randomise_protocol

    if counts is not None:
        if n_patients is not None and n_patients != sum(counts.values()):
            raise typer.BadParameter(f"{n_patients} but --strata adds up to {sum(counts.values())}", param_hint="--patients")
        n: int | dict[str, int] = counts
    elif n_patients is None:
        raise typer.BadParameter("give --patients N (or --strata VALUE=N,...)", param_hint="--patients")
    else:
        n = n_patients
    return randomise_protocol(proto, n_patients=n, kind=kind, seed=seed, block_size=block_size)


def _print_list(rlist: RandomisationList, where: Path) -> None:
    """The list's summary, what may be shared, and its seed when printing it is safe."""
    typer.echo(rlist.summary())
    typer.echo(
        f"written to {where}: pharmacy.csv and list_meta.json are UNBLINDED (pharmacy only); "
        "labels.csv, labels.html and commitment.txt may be shared"
    )
    if rlist.kind == "test":
        if rlist.seed is not None:
            typer.echo(f"seed {rlist.seed}")
        typer.echo("TEST LIST — NOT FOR PATIENT USE")
    elif rlist.seed is not None:
        # The seed reproduces the allocation: it stays with the unblinded list, never on a console.
        typer.echo("seed: recorded in list_meta.json (UNBLINDED: it reproduces the list)")
    typer.echo(f"commitment: {rlist.commitment}")


def unblind_command(
    list_dir: Annotated[Path, typer.Option("--list", metavar="DIR", help="Folder of the randomisation list.", show_default=False)],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why the allocation must be revealed (required).", show_default=False)
    ],
    user: Annotated[str, typer.Option("--user", metavar="NAME", help="Who asks (required).", show_default=False)],
    kit: Annotated[str | None, typer.Option("--kit", metavar="CODE", help="Kit code on the label.", show_default=False)] = None,
    patient: Annotated[
        str | None, typer.Option("--patient", metavar="ID", help="Patient id (with --period), instead of --kit.", show_default=False)
    ] = None,
    period: Annotated[int | None, typer.Option("--period", metavar="N", help="Period (with --patient).", show_default=False)] = None,
    log_path: Annotated[
        Path | None,
        typer.Option(
            "--log-file", metavar="FILE", help=f"Audit log (JSON lines) to append to [default: DIR/{UNBLINDING_LOG}].", show_default=False
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the one allocation as JSON.")] = False,
    log_old: Annotated[Path | None, typer.Option("--log", hidden=True)] = None,
) -> None:
    """Emergency unblinding of one kit (one patient, one period): logged, nothing else revealed.

    \b
    Example:
      ketapain unblind --list list/ --patient P001 --period 2 --reason "suspected anaphylaxis" --user dr-martin
    """
    from ketapain.operations import unblind

    log_path = renamed(log_path, log_old, new_flag="--log-file", old_flag="--log")
    if (kit is None) == (patient is None) or (patient is None) != (period is None):
        raise typer.BadParameter("give either --kit CODE or --patient ID --period N")
    target: str | tuple[str, int] = kit if kit is not None else (str(patient), int(period))  # type: ignore[arg-type]
    try:
        result = unblind(list_dir, target, reason=reason, user=user, log_path=log_path or list_dir / UNBLINDING_LOG)
    except KetapainError as exc:
        raise fail(exc) from None
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False) if json_output else result.summary())


def verify_command(
    list_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Folder of the randomisation list.", show_default=False)],
    commitment: Annotated[
        str | None,
        typer.Option(
            "--commitment",
            metavar="SHA256",
            help="Digest kept elsewhere to compare with (default: DIR/commitment.txt).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Recompute SHA-256 of DIR/pharmacy.csv and compare it with the commitment (exit 1 if they differ).

    \b
    Example:
      ketapain verify-list list/
    """
    from ketapain.operations import verify_list

    try:
        check = verify_list(list_dir, commitment=commitment)
    except KetapainError as exc:
        raise fail(exc) from None
    typer.echo(check.summary())
    if not check.ok:
        raise fail(f"{check.path} does not match the commitment {check.expected}")

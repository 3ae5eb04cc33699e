"""``ketapain randomize``, ``ketapain unblind`` and ``ketapain verify-list``.

Thin: parse the options, call :mod:`ketapain.operations`, print. User errors exit 1 with
``error: ...`` on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ketapain.errors import KetapainError
from ketapain.operations import (
    import_pharmacy_list,
    protocol_sequences,
    randomise_protocol,
    unblind,
    verify_list,
    write_randomisation_list,
)

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


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def randomize_command(
    protocol: Annotated[str, typer.Option("--protocol", help="Shipped protocol name (ketapain, ab_ba_example) or a TOML file.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="New folder for the list (never overwritten).", show_default=False)],
    patients: Annotated[int | None, typer.Option("--patients", help="Number of patients (blocks are completed, so there may be spare slots).", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Integer seed; omit it for a cryptographically strong one (recorded in list_meta.json).", show_default=False)] = None,
    kind: Annotated[str, typer.Option("--kind", help="test (training; kit codes start with T-) or production.")] = "test",
    block_size: Annotated[int | None, typer.Option("--block-size", help="Fixed block size (a multiple of the number of sequences); overrides the protocol.", show_default=False)] = None,
    strata: Annotated[str | None, typer.Option("--strata", help="Patients per stratum value, e.g. M=12,F=12 (the factor is the protocol's, e.g. sex).", show_default=False)] = None,
    import_list: Annotated[Path | None, typer.Option("--import", help="Check and import a pharmacy list made elsewhere (CSV) instead of generating one.", show_default=False)] = None,
) -> None:
    """Make (or import) a randomisation list: pharmacy.csv, labels.csv/.html, commitment.txt, list_meta.json."""
    if kind not in ("test", "production"):
        raise typer.BadParameter(f"{kind!r}: allowed test or production", param_hint="--kind")
    counts = parse_strata(strata) if strata is not None else None
    try:
        from ketapain.protocol import load_protocol

        proto = load_protocol(protocol)
        if import_list is not None:
            if patients is not None or seed is not None or block_size is not None or strata is not None:
                raise typer.BadParameter("--import takes the list as it is: no --patients, --seed, --block-size or --strata")
            rlist = import_pharmacy_list(import_list, protocol_sequences(proto), kind=kind, protocol_id=proto.study.id)
        else:
            if counts is not None:
                if patients is not None and patients != sum(counts.values()):
                    raise typer.BadParameter(f"{patients} but --strata adds up to {sum(counts.values())}",
                                             param_hint="--patients")
                n: int | dict[str, int] = counts
            elif patients is None:
                raise typer.BadParameter("give --patients N (or --strata VALUE=N,...)", param_hint="--patients")
            else:
                n = patients
            rlist = randomise_protocol(proto, n_patients=n, kind=kind, seed=seed,  # type: ignore[arg-type]
                                       block_size=block_size)
        where = write_randomisation_list(rlist, out)
    except KetapainError as exc:
        raise _fail(exc) from exc
    typer.echo(rlist.summary())
    typer.echo(f"written to {where}: pharmacy.csv and list_meta.json are UNBLINDED (pharmacy only); "
               "labels.csv, labels.html and commitment.txt may be shared")
    if rlist.kind == "test":
        typer.echo("TEST LIST — NOT FOR PATIENT USE")
    typer.echo(f"commitment: {rlist.commitment}")


def unblind_command(
    list_dir: Annotated[Path, typer.Option("--list", help="Folder of the randomisation list.", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why the allocation must be revealed (required).", show_default=False)],
    user: Annotated[str, typer.Option("--user", help="Who asks (required).", show_default=False)],
    kit: Annotated[str | None, typer.Option("--kit", help="Kit code on the label.", show_default=False)] = None,
    patient: Annotated[str | None, typer.Option("--patient", help="Patient id (with --period), instead of --kit.", show_default=False)] = None,
    period: Annotated[int | None, typer.Option("--period", help="Period (with --patient).", show_default=False)] = None,
    log: Annotated[Path | None, typer.Option("--log", help=f"Audit log (JSON lines) to append to [default: LIST/{UNBLINDING_LOG}].", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the one allocation as JSON.")] = False,
) -> None:
    """Emergency unblinding of one kit (one patient, one period): logged, nothing else revealed."""
    if (kit is None) == (patient is None) or (patient is None) != (period is None):
        raise typer.BadParameter("give either --kit CODE or --patient ID --period N")
    target: str | tuple[str, int] = kit if kit is not None else (str(patient), int(period))  # type: ignore[arg-type]
    try:
        result = unblind(list_dir, target, reason=reason, user=user, log_path=log or list_dir / UNBLINDING_LOG)
    except KetapainError as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False) if json_output else result.summary())


def verify_command(
    list_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Folder of the randomisation list.", show_default=False)],
    commitment: Annotated[str | None, typer.Option("--commitment", help="Digest kept elsewhere to compare with (default: DIR/commitment.txt).", show_default=False)] = None,
) -> None:
    """Recompute SHA-256 of DIR/pharmacy.csv and compare it with the commitment (exit 1 if they differ)."""
    try:
        check = verify_list(list_dir, commitment=commitment)
    except KetapainError as exc:
        raise _fail(exc) from exc
    typer.echo(check.summary())
    if not check.ok:
        typer.echo(f"error: {check.path} does not match the commitment {check.expected}", err=True)
        raise typer.Exit(1)

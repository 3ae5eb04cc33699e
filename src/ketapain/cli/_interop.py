"""``ketapain export`` and ``ketapain import``: standard formats out of and into TrialData.

Thin wrappers over :mod:`ketapain.interop` (docs/interop-cdisc.md, docs/interop-stata.md,
docs/interop-odm-redcap-fhir.md). Exports read a TrialData folder and its protocol (the one its
``meta`` names, or ``--protocol``); imports write a TrialData folder. Both need the ``[interop]``
extra; without it they say so in one line and exit 1. Every format writes atomically
(:mod:`ketapain._atomic`) and replaces an earlier export only with ``--overwrite``.
"""

from __future__ import annotations

import json
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ketapain._atomic import file_write
from ketapain._extras import missing_extra
from ketapain.cli._common import (
    DataProtocolOption,
    ProtocolOption,
    fail,
    os_error_text,
    protocol_of,
)
from ketapain.errors import ConformanceWarning, DataError, KetapainError

__all__ = ["export_command", "import_command"]


class ExportFormat(StrEnum):
    """Formats of ``ketapain export``."""

    sdtm = "sdtm"
    adam = "adam"
    odm = "odm"
    redcap_dictionary = "redcap-dictionary"
    stata = "stata"
    fhir = "fhir"


class ImportFormat(StrEnum):
    """Formats of ``ketapain import``."""

    redcap = "redcap"
    odm = "odm"
    fhir = "fhir"
    spreadsheet = "spreadsheet"


def _require_exporters(command: str) -> None:
    """Exit 1 with one line naming the extra to install when the interop extra is missing."""
    advice = missing_extra("interop", user=command)
    if advice is not None:
        raise fail(advice)


def _write_bytes(path: Path, payload: bytes, overwrite: bool) -> None:
    """Write one file atomically; an existing one is replaced only with ``overwrite``."""
    if path.exists() and not overwrite:
        raise DataError(template="{path} exists; give {@overwrite=True} to replace it", params={"path": path})
    with file_write(path) as tmp:
        tmp.write_bytes(payload)


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Print the conformance warnings on stderr; re-issue any other warning."""
    for w in caught:
        if issubclass(w.category, ConformanceWarning):
            typer.echo(f"warning: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def export_command(
    data_dir: Annotated[Path, typer.Argument(metavar="DATA_DIR", help="TrialData folder.", show_default=False)],
    fmt: Annotated[ExportFormat, typer.Option("--format", metavar="FORMAT", show_default=False,
                                              help="sdtm, adam, odm, redcap-dictionary, stata or fhir.")],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.", show_default=False)],
    protocol: DataProtocolOption = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier export in DIR.")] = False,
    meddra: Annotated[
        Path | None,
        typer.Option("--meddra", metavar="CSV", show_default=False,
                     help="sdtm: the MedDRA coding of the adverse-event terms, a CSV with columns term, AEDECOD and "
                          "optionally AELLT..AESOCCD (docs/interop-cdisc.md); without it AEDECOD is blank."),
    ] = None,
) -> None:
    """Export a trial as CDISC SDTM or ADaM (SAS XPORT v5 + define.xml), ODM 1.3.2, a REDCap project, Stata or FHIR R4.

    SDTM and ADaM values the standard requires but the data do not hold (DM.COUNTRY, AEDECOD
    without --meddra, ...) are left blank and listed as warnings on stderr.

    \b
    Example:
      ketapain export trial/ --format redcap-dictionary --out redcap/
    """
    _require_exporters("ketapain export")
    from ketapain import interop
    from ketapain.data import TrialData

    if meddra is not None and fmt is not ExportFormat.sdtm:
        raise fail(f"--meddra applies to --format sdtm only, not {fmt.value}")
    try:
        proto = protocol_of(None, protocol, data_dir)  # first: its diary scale bounds the pain columns
        data = TrialData.read(data_dir, diary_scale=proto.diary.scale)
        if fmt is ExportFormat.sdtm:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConformanceWarning)
                package = interop.to_sdtm(data, proto, meddra=meddra)
            _print_warnings(caught)
            interop.write_sdtm(package, out, overwrite=overwrite)
            typer.echo(package.summary())
        elif fmt is ExportFormat.adam:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConformanceWarning)
                adam = interop.to_adam(data, proto)
            _print_warnings(caught)
            interop.write_adam(adam, out, overwrite=overwrite)
            typer.echo(adam.summary())
        elif fmt is ExportFormat.stata:
            interop.write_stata(data, proto, out, overwrite=overwrite)
        elif fmt is ExportFormat.odm:
            _write_bytes(out / f"{proto.study.id}.odm.xml", interop.to_odm(data, proto), overwrite)
        elif fmt is ExportFormat.redcap_dictionary:
            interop.write_redcap_project(proto, out, data=data, overwrite=overwrite)
        else:
            bundle = interop.to_fhir_bundle(data, proto)
            _write_bytes(out / f"{proto.study.id}.fhir.json", json.dumps(bundle, indent=1).encode(), overwrite)
    except KetapainError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(os_error_text(exc, out)) from None
    typer.echo(f"Exported {data_dir} as {fmt.value} to {out}")


def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="File to import (REDCap: the records CSV; spreadsheet: one or more .csv/.xlsx files).",
                       show_default=False),
    ],
    fmt: Annotated[ImportFormat, typer.Option("--format", metavar="FORMAT", help="redcap, odm, fhir or spreadsheet.",
                                              show_default=False)],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="TrialData folder to write.", show_default=False)],
    protocol: ProtocolOption = "ketapain",
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            metavar="FILE",
            help="REDCap mapping file (JSON or TOML; default: ketapain's own dictionary names), or the spreadsheet "
                 "mapping file (TOML, required; docs/import-spreadsheets.md).",
            show_default=False,
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing TrialData folder.")] = False,
) -> None:
    """Import a REDCap record export, an ODM 1.3.2 file, a FHIR R4 Bundle or spreadsheets into a TrialData folder.

    Spreadsheets: one or more .csv or .xlsx files and a --mapping TOML file saying which sheet
    and column holds what (docs/import-spreadsheets.md), e.g. ketapain import trial.xlsx
    --format spreadsheet --mapping mapping.toml --out from-excel/

    \b
    Example:
      ketapain import redcap/records.csv --format redcap --mapping redcap/mapping.json --out from-redcap/
    """
    _require_exporters("ketapain import")
    from ketapain import interop
    from ketapain.protocol import load_protocol

    if len(files) != 1 and fmt is not ImportFormat.spreadsheet:
        raise fail(f"--format {fmt.value} imports one file; got {len(files)}: {', '.join(map(str, files))}")
    if fmt is ImportFormat.spreadsheet and mapping is None:
        raise fail("--format spreadsheet needs --mapping MAPPING.toml (which sheet and column holds what; "
                   "docs/import-spreadsheets.md)")
    source = files[0]
    notes = ""
    try:
        if fmt is ImportFormat.spreadsheet and mapping is not None:
            imported = interop.import_spreadsheet(files, mapping=mapping, protocol=load_protocol(protocol))
            data, notes = imported.data, imported.summary()
        elif fmt is ImportFormat.redcap:
            data = interop.read_redcap(source, protocol=load_protocol(protocol), mapping=mapping)
        elif fmt is ImportFormat.odm:
            data = interop.from_odm(source)
        else:
            from ketapain._json import read_json_file

            data = interop.from_fhir_bundle(read_json_file(source))
        data.write(out, overwrite=overwrite)
    except KetapainError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(os_error_text(exc, source)) from None
    if notes:
        typer.echo(notes)
    # patients counted in the patients table: a FHIR Bundle brings patients and questionnaires
    # but no allocation (counting allocated patients printed "0 patients" for it)
    typer.echo(
        f"Imported {', '.join(map(str, files))} ({fmt.value}) into {out}: {data.patients['patient_id'].nunique()} patients, "
        f"{len(data.diary)} diary rows, {len(data.questionnaires)} questionnaire rows"
    )

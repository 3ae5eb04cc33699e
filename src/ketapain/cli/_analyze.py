"""``ketapain analyze`` and ``ketapain demo``: the analysis plan and its report, from the command line.

``analyze`` checks a TrialData folder against its protocol (as ``ketapain check``), reads it,
runs every analysis of the protocol's plan
(:func:`ketapain.analysis.run_analysis`) and writes the report
(:func:`ketapain.report.write_trial_report`). ``demo`` first simulates the reference study
with the in-silico twin (:func:`ketapain.simulate.simulate_trial`), writes it as ``data/``,
then does the same into ``report/``. Long steps show a rich progress bar on stderr.

Both write atomically: ``demo`` builds ``data/`` and ``report/`` together in a hidden folder
beside ``--out`` and swaps them in at the end; ``analyze`` swaps in the report's entries. An
earlier report or demo is replaced only with ``--overwrite``; other files in the folder stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

from ketapain.cli._check import LenientOption, checked_folder, echo_listing
from ketapain.cli._common import (
    DataProtocolOption,
    QuietOption,
    SeedOption,
    fail,
    os_error_text,
    progress,
    seed_or_fresh,
)
from ketapain.errors import DataError, KetapainError

if TYPE_CHECKING:
    from ketapain.data import CheckResult, TrialData
    from ketapain.protocol import Protocol

__all__ = ["analyze_command", "demo_command"]


@contextmanager
def _progress(total: int, *, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr; yields ``step(description)`` that advances it."""
    bar = progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), quiet=not enabled, transient=False)
    task = bar.add_task("starting", total=total)
    started = [False]

    def step(description: str) -> None:
        if started[0]:
            bar.advance(task)
        started[0] = True
        bar.update(task, description=description)

    with bar:
        yield step
        if started[0]:
            bar.advance(task)
        bar.update(task, description="done", completed=total)


def _report(data: TrialData, protocol: Protocol, out: Path, *, seed: int, pdf: bool, sensitivity: bool,
            quiet: bool, command: str, checked: CheckResult | None = None) -> Path:
    from ketapain.report import report_steps, write_trial_report

    with _progress(len(report_steps(pdf=pdf, sensitivity=sensitivity)), enabled=not quiet) as step:
        made = write_trial_report(
            data, protocol, out, seed=seed, pdf=pdf, sensitivity=sensitivity, on_step=step, command=command,
            data_check=checked,
        )
    return made.files.html


OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace an earlier report in DIR.")]


def _check_report_destination(out: Path, *, overwrite: bool) -> None:
    """Refuse a report folder that is a file, or (without ``overwrite``) holds a report."""
    from ketapain.report import REPORT_ENTRIES

    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    present = [n for n in REPORT_ENTRIES if (out / n).exists()]
    if present and not overwrite:
        raise DataError(template="{path} already holds a report ({names}); pass {@overwrite=True} to replace it",
                        params={"path": out, "names": ", ".join(present)})


def _check_demo_destination(out: Path, *, overwrite: bool) -> None:
    """Refuse a demo folder that is a file, holds a demo (without ``overwrite``), or whose
    ``data/`` or ``report/`` hold files the demo did not write."""
    from ketapain._atomic import check_destination
    from ketapain.data import FORMATS, META_FILE, TABLE_NAMES
    from ketapain.report import REPORT_ENTRIES

    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    present = [f"{n}/" for n in ("data", "report") if (out / n).exists()]
    if present and not overwrite:
        raise DataError(template="{path} already holds a demo ({names}); pass {@overwrite=True} to replace it",
                        params={"path": out, "names": ", ".join(present)})
    trial_files = {f"{t}.{f}" for t in TABLE_NAMES for f in FORMATS} | {META_FILE}
    check_destination(out / "data", overwrite=True, ours=trial_files.__contains__, what="trial files")
    check_destination(out / "report", overwrite=True, ours=set(REPORT_ENTRIES).__contains__, what="report files")


def analyze_command(
    data_dir: Annotated[Path, typer.Argument(metavar="DATA_DIR", help="TrialData folder (CSV or Parquet tables).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", show_default=False,
                                      help="Folder for the report (index.html, report.pdf, tables/, figures/, results.json).")],
    protocol: DataProtocolOption = None,
    seed: SeedOption = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write report.pdf.")] = True,
    sensitivity: Annotated[bool, typer.Option("--sensitivity/--no-sensitivity", help="Run the missing-data sensitivity analyses.")] = True,
    quiet: QuietOption = False,
    overwrite: OverwriteOption = False,
    lenient: LenientOption = None,
) -> None:
    """Check a trial against its protocol, run the protocol's whole analysis plan and write the report.

    The protocol is --protocol, else DATA_DIR/protocol.toml, else the one meta.json names; the
    line 'note: protocol ...' says which. The data are first checked as by `ketapain check`: any
    error stops the analysis (exit 1) with the same listing; warnings are printed and go to
    the report's warnings.

    The seed drives the multiple imputations of the sensitivity analyses; it is printed and
    recorded in the report's provenance.

    \b
    Example:
      ketapain analyze trial/ --out report/
    """
    from ketapain.data import TrialData

    seed = seed_or_fresh(seed)
    try:
        _check_report_destination(out, overwrite=overwrite)
        proto, how, checked = checked_folder(data_dir, protocol, lenient)
        echo_listing(checked, err=True)
        if not checked.ok:
            raise fail(f"{data_dir} does not fit protocol {proto.study.id!r} ({how}); nothing analysed "
                       f"(`ketapain check {data_dir}` lists the same problems)")
        data = TrialData.read(data_dir, treatments=proto.arm_codes,
                              diary_scale=proto.diary.scale)
        typer.echo(f"note: protocol {proto.study.id!r} ({how})", err=True)
        html = _report(data, proto, out, seed=seed, pdf=pdf, sensitivity=sensitivity, quiet=quiet, checked=checked,
                       command=f"ketapain analyze {data_dir} --out {out} --seed {seed}")
    except KetapainError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(os_error_text(exc, data_dir)) from None
    typer.echo(f"seed {seed}")
    typer.echo(f"Report: {html}")


def demo_command(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for data/ and report/.")] = Path("ketapain-demo"),
    seed: SeedOption = None,
    n_patients: Annotated[int, typer.Option("--patients", metavar="N", help="Number of simulated patients.")] = 20,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write report.pdf.")] = True,
    quiet: QuietOption = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier demo in DIR.")] = False,
) -> None:
    """Simulate the reference study (KETAPAIN), analyse it as published and write the report.

    The seed drives the simulated trial and the multiple imputations; it is printed and
    recorded in the report's provenance.

    data/ and report/ are written together: an error or Ctrl-C leaves DIR as it was. An earlier
    demo in DIR is replaced only with --overwrite.

    \b
    Example:
      ketapain demo --out ketapain-demo/ --seed 20200154
    """
    from ketapain._atomic import entries_write
    from ketapain.protocol import load_protocol
    from ketapain.simulate import simulate_trial

    start = time.perf_counter()
    seed = seed_or_fresh(seed)
    try:
        _check_demo_destination(out, overwrite=overwrite)
        proto = load_protocol("ketapain")
        with entries_write(out, ("data", "report")) as stage:
            data = simulate_trial(proto, n_patients=n_patients, seed=seed)
            data.write(stage / "data")
            html = _report(data, proto, stage / "report", seed=seed, pdf=pdf, sensitivity=True, quiet=quiet,
                           command=f"ketapain demo --out {out} --seed {seed}")
        html = out / html.relative_to(stage)
    except KetapainError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(os_error_text(exc, out)) from None
    typer.echo(f"Simulated KETAPAIN ({n_patients} patients, seed {seed}): {out / 'data'}")
    typer.echo(f"Report: {html}  ({time.perf_counter() - start:.1f} s)")

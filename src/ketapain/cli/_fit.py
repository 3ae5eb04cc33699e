"""``ketapain fit``: the crossover mixed model on a long CSV, as text or the JSON contract.

Thin: reads and checks the CSV (errors name file, row, column, value; rows are numbered as
in a spreadsheet, the header being row 1), calls :func:`ketapain.stats.fit_crossover`, prints.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ketapain.cli._common import JsonOption, error_text, fail, renamed, set_malloc
from ketapain.cli._progress import Progress
from ketapain.errors import DataError, KetapainWarning, ModelError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["fit_command", "read_long_csv"]

FACTORS = ("subject", "period", "sequence", "treatment")


def read_long_csv(
    path: Path, *, outcome: str, binary: bool = False, by: str | None = None, delimiter: str = ",", decimal: str = ".",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Read and check a long crossover CSV (:func:`ketapain.data.read_long_csv` and
    :func:`ketapain.data.check_long`): subject, period, sequence, treatment, the outcome,
    optional ``carryover``; other columns are kept but ignored. Empty outcome cells are
    missing. The frame keeps the file's row numbers as its index.

    Raises
    ------
    DataError
        Unreadable file, a missing or repeated column, an empty factor cell, a non-numeric or
        infinite outcome, (``binary``) an outcome other than 0/1, a broken design — every
        problem, grouped by kind, naming file, row, column and value.
    """
    from ketapain.data import check_long
    from ketapain.data import read_long_csv as read_csv

    columns = [*FACTORS, outcome, *([by] if by else [])]
    if progress is not None:
        progress.stage(f"reading {path.name}")
    _lean_memory()
    frame = read_csv(path, columns=columns, numeric=[outcome], delimiter=delimiter, decimal=decimal)
    if progress is not None:
        progress.stage(f"checking {len(frame):,} rows")
    out = check_long(frame, outcome=outcome, by=by, binary=binary, source=path.name)
    if "carryover" in out.columns:
        out["carryover"] = out["carryover"].where(out["carryover"].str.strip() != "", "none")
    return out


def _lean_memory() -> None:
    """Memory settings of this process for a large file (BENCHMARKS.md, "Large fits"): text
    columns in the C library's heap instead of pyarrow's own pool (mimalloc), which would keep
    the memory of freed text columns from the numbers that follow; and, with glibc, large
    arrays always in their own mappings (``M_MMAP_THRESHOLD`` fixed at 128 kB, so it does not
    grow to 32 MB and leave freed arrays in a fragmented heap), returned to the system when
    freed. Each saves ~15% of the peak; results are unchanged."""
    import pyarrow as pa  # type: ignore[import-untyped]

    pa.set_memory_pool(pa.system_memory_pool())
    set_malloc(mmap_threshold=128 * 1024, trim_threshold=128 * 1024)


DataOption = Annotated[Path, typer.Argument(
    metavar="DATA.csv", show_default=False, help="Long CSV: subject, period, sequence, treatment, outcome (empty = missing).")]
OutcomeOption = Annotated[str, typer.Option("--outcome", metavar="COLUMN", help="Outcome column.")]
ModelOption = Annotated[str, typer.Option(
    "--model", metavar="standard|paper", help="standard (treatment + period + sequence) or paper (treatment + sequence).")]
CarryoverOption = Annotated[bool, typer.Option("--carryover", help="Add first-order carry-over terms.")]
TestDropOption = Annotated[bool, typer.Option(
    "--carryover-test-drop", help="The reference study's two-stage strategy: test carry-over, drop it if P >= 0.05 (biased; warns).")]
LogOption = Annotated[bool, typer.Option("--log", help="Fit log(outcome); report ratios.")]
BinaryOption = Annotated[bool, typer.Option("--binary", help="Logistic mixed model for a 0/1 outcome.")]
NagqOption = Annotated[int, typer.Option("--nagq", metavar="N", help="Adaptive Gauss-Hermite points for --binary (1 = Laplace).")]
DfMethodOption = Annotated[str | None, typer.Option(
    "--df-method", metavar="METHOD", show_default=False,
    help="Denominator df of tests and intervals: kenward-roger (default), satterthwaite, containment or normal.")]
MethodOption = Annotated[str, typer.Option("--method", metavar="REML|ML", help="Likelihood: REML or ML.")]
RefOption = Annotated[str | None, typer.Option(
    "--ref", metavar="TREATMENT", show_default=False, help="Reference treatment (default: first in code-point order).")]
ConfLevelOption = Annotated[float, typer.Option("--conf-level", metavar="LEVEL", help="Confidence level of every interval.")]
DelimiterOption = Annotated[str, typer.Option(
    "--delimiter", metavar="CHAR", help="Field delimiter of the CSV: ',' (default), ';' or 'tab'.")]
DecimalOption = Annotated[str, typer.Option(
    "--decimal", metavar=".|,", help="Decimal mark of the outcome: '.' (default) or ',' (European spreadsheets).")]
ByOption = Annotated[str | None, typer.Option(
    "--by", metavar="COLUMN", show_default=False,
    help="Fit every group of this column (one trial or endpoint each); with --json, one JSON object per line.")]
ProgressOption = Annotated[bool | None, typer.Option(
    "--progress/--no-progress", show_default=False,
    help="Stages, times and a memory estimate on stderr (default: on a terminal, for files of ~1 M rows or more).")]


def fit_command(
    data_csv: DataOption,
    outcome: OutcomeOption = "y",
    model: ModelOption = "standard",
    carryover: CarryoverOption = False,
    carryover_test_drop: TestDropOption = False,
    log: LogOption = False,
    binary: BinaryOption = False,
    nagq: NagqOption = 1,
    df_method: DfMethodOption = None,
    method: MethodOption = "REML",
    ref: RefOption = None,
    conf_level: ConfLevelOption = 0.95,
    json_output: JsonOption = False,
    by: ByOption = None,
    delimiter: DelimiterOption = ",",
    decimal: DecimalOption = ".",
    progress: ProgressOption = None,
    df_old: Annotated[str | None, typer.Option("--df", hidden=True)] = None,
) -> None:
    """Fit the crossover mixed model: fixed effects, omnibus test, Sidak pairwise contrasts, effect sizes.

    \b
    Example:
      ketapain fit pain_auc.csv --model paper --df-method satterthwaite --ref P
    """
    from ketapain.stats import fit_crossover

    df_method = renamed(df_method, df_old, new_flag="--df-method", old_flag="--df") or "kenward-roger"
    options = {"outcome": outcome, "model": model, "carryover": "test-drop" if carryover_test_drop else carryover,
               "log": log, "binary": binary, "nagq": nagq, "df_method": df_method, "method": method, "ref": ref,
               "conf_level": conf_level}
    files = {"data": data_csv.name}
    delimiter = "\t" if delimiter.casefold() in ("tab", "\\t") else delimiter
    shown = Progress(data_csv, progress)
    if by is not None:
        try:
            data = read_long_csv(data_csv, outcome=outcome, binary=binary, by=by, delimiter=delimiter, decimal=decimal,
                                 progress=shown)
        except DataError as exc:
            raise fail(exc, files) from None
        _fit_by(data, by, data_csv.name, json_output, options, shown)
        return
    try:
        data = read_long_csv(data_csv, outcome=outcome, binary=binary, delimiter=delimiter, decimal=decimal,
                             progress=shown)
        shown.stage("fitting (the model, its carry-over and sequence x treatment tests)")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", KetapainWarning)
            fit = fit_crossover(data, **options)  # type: ignore[arg-type]
        _estimable(fit)
        shown.done()
    except (DataError, ModelError) as exc:
        msg = error_text(exc, files)  # a located error names the file; any other is about the file
        raise fail(msg if exc.located or exc.source == data_csv.name else f"{data_csv.name}: {msg}") from None
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    if json_output:
        typer.echo(json.dumps(fit.to_dict(), allow_nan=False))
    else:
        typer.echo(fit.summary())


def _estimable(fit: Any) -> None:
    """Refuse to print the numbers of a degenerate fit (:func:`ketapain.stats.check_crossover_fit`:
    a diverging log odds ratio or random-intercept SD, an exact fit, df below 1...): a ModelError
    naming every reason, as the report says "not estimable" (issue 19). A singular fit is printed
    with a warning (its numbers are valid; the between-patient variance is 0)."""
    from ketapain.stats import check_crossover_fit

    check = check_crossover_fit(fit)
    if not check.estimable:
        raise ModelError(f"not estimable (degenerate fit): {check.reason}")
    if check.status == "singular":
        typer.echo(f"warning: {check.reason}", err=True)


def _fit_by(data: pd.DataFrame, by: str, filename: str, json_output: bool, options: dict, shown: Progress) -> None:
    """One fit per value of ``by`` (sorted): JSON lines (``"by": {column: value}`` added to the
    single fit's object, or ``{"by": ..., "error": message}``) or one summary per group.
    Exits 1 after all groups when any group could not be fitted."""
    from ketapain.stats import fit_crossover

    failed = False
    grouped = data.groupby(by, sort=True)
    shown.stage(f"fitting {grouped.ngroups:,} groups of {by}")
    for done, (value, group) in enumerate(grouped, start=1):
        shown.groups(done, grouped.ngroups, f"{by}={value}")
        label = {by: value}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", KetapainWarning)
                fit = fit_crossover(group, **options)
            _estimable(fit)
        except (DataError, ModelError) as exc:
            failed = True
            typer.echo(f"error: {filename}: {by}={value}: {error_text(exc)}", err=True)
            if json_output:
                typer.echo(json.dumps({"by": label, "error": error_text(exc)}, allow_nan=False))
            continue
        for w in caught:
            typer.echo(f"warning: {by}={value}: {w.message}", err=True)
        if json_output:
            typer.echo(json.dumps({"by": label, **fit.to_dict()}, allow_nan=False))
        else:
            typer.echo(f"== {by} = {value} ==")
            typer.echo(fit.summary())
    shown.done()
    if failed:
        raise typer.Exit(1)

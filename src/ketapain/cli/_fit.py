"""``ketapain fit``: the crossover mixed model on a long CSV, as text or the JSON contract.

Thin: reads and checks the CSV (errors name file, row, column, value; rows are numbered as
in a spreadsheet, the header being row 1), calls :func:`ketapain.stats.fit_crossover`, prints.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ketapain.cli._common import JsonOption, error_text, fail, renamed
from ketapain.errors import FIRST_DATA_ROW, DataError, KetapainWarning, ModelError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["fit_command", "read_long_csv"]

FACTORS = ("subject", "period", "sequence", "treatment")


def read_long_csv(path: Path, *, outcome: str, binary: bool = False, by: str | None = None) -> pd.DataFrame:
    """Read a long crossover CSV: subject, period, sequence, treatment, the outcome, optional
    ``carryover``; other columns are kept but ignored. Empty outcome cells are missing.

    Raises
    ------
    DataError
        Unreadable file, missing column, empty factor cell, non-numeric or infinite outcome,
        or (``binary``) an outcome other than 0/1 — naming file, row, column and value.
    """
    import numpy as np
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    name = path.name
    needed = [*FACTORS, outcome, *([by] if by else [])]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: required column(s) {', '.join(map(repr, missing))} missing; "
            f"columns present: {', '.join(frame.columns)}"
        )
    for col in FACTORS:
        empty = frame[col].str.strip() == ""
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0]) + FIRST_DATA_ROW
            raise DataError(f"{name} row {row}: {col} is empty; every row needs a {col}")
    raw = frame[outcome].str.strip()
    values = pd.to_numeric(raw.where(raw != ""), errors="coerce")
    bad = values.isna() & (raw != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{name} row {i + FIRST_DATA_ROW}: {outcome}={raw.iloc[i]!r} is not a number (empty = missing)")
    arr = values.to_numpy(dtype=float)
    if np.isinf(arr).any():
        i = int(np.flatnonzero(np.isinf(arr))[0])
        raise DataError(f"{name} row {i + FIRST_DATA_ROW}: {outcome}={raw.iloc[i]!r} is infinite; allowed: finite numbers or empty")
    if binary:
        not01 = ~np.isnan(arr) & ~np.isin(arr, (0.0, 1.0))
        if not01.any():
            i = int(np.flatnonzero(not01)[0])
            raise DataError(f"{name} row {i + FIRST_DATA_ROW}: {outcome}={raw.iloc[i]!r} is not 0 or 1 (--binary)")
    if by:
        empty = frame[by].str.strip() == ""
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0]) + FIRST_DATA_ROW
            raise DataError(f"{name} row {row}: {by} is empty; every row needs a {by} (--by)")
    dup = frame.duplicated(subset=[*([by] if by else []), "subject", "period"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"{name} row {i + FIRST_DATA_ROW}: subject={frame['subject'].iloc[i]!r} already has a row for "
            f"period={frame['period'].iloc[i]!r}"
        )
    out = frame.assign(**{outcome: arr})
    if "carryover" in out.columns:
        out["carryover"] = out["carryover"].where(out["carryover"].str.strip() != "", "none")
    return out


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
ByOption = Annotated[str | None, typer.Option(
    "--by", metavar="COLUMN", show_default=False,
    help="Fit every group of this column (one trial or endpoint each); with --json, one JSON object per line.")]


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
    if by is not None:
        try:
            data = read_long_csv(data_csv, outcome=outcome, binary=binary, by=by)
        except DataError as exc:
            raise fail(exc, files) from None
        _fit_by(data, by, data_csv.name, json_output, options)
        return
    try:
        data = read_long_csv(data_csv, outcome=outcome, binary=binary)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", KetapainWarning)
            fit = fit_crossover(data, **options)  # type: ignore[arg-type]
    except (DataError, ModelError) as exc:
        msg = error_text(exc, files)
        raise fail(msg if msg.startswith(data_csv.name) else f"{data_csv.name}: {msg}") from None
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    if json_output:
        typer.echo(json.dumps(fit.to_dict(), allow_nan=False))
    else:
        typer.echo(fit.summary())


def _fit_by(data: pd.DataFrame, by: str, filename: str, json_output: bool, options: dict) -> None:
    """One fit per value of ``by`` (sorted): JSON lines (``"by": {column: value}`` added to the
    single fit's object, or ``{"by": ..., "error": message}``) or one summary per group.
    Exits 1 after all groups when any group could not be fitted."""
    from ketapain.stats import fit_crossover

    failed = False
    for value, group in data.groupby(by, sort=True):
        label = {by: value}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", KetapainWarning)
                fit = fit_crossover(group.reset_index(drop=True), **options)
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
    if failed:
        raise typer.Exit(1)

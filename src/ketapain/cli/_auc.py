"""``ketapain auc``: AUCs of a pain diary CSV, as a table or JSON.

Thin: reads the CSV files, calls :func:`ketapain.stats.diary_auc`, prints.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer

from ketapain.cli._common import JsonOption, console, fail
from ketapain.errors import DataError, ImputationWarning

TimeAxis = Literal["infusion", "first_diary_day"]
Impute = Literal["none", "locf", "linear"]

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

__all__ = ["auc_command"]

ANCHOR_VALUE = "pre_infusion_pain"  # the anchor column diary_auc reads
ALLOCATION_FILE = "allocation.csv"  # a TrialData folder's allocation table, beside its diary.csv

SUBJECT = "patient_id"
SUBJECT_ALIAS = "subject"
PERIOD = "period"
JSON_FIELDS = (SUBJECT, PERIOD, "window_day", "auc", "n_observed", "n_imputed")


def auc_command(
    diary_csv: Annotated[
        Path,
        typer.Argument(
            help="Diary CSV, one row per patient x period x day: patient_id (or subject), "
            "period, day (1 = day after the infusion), the score column(s), on --scale or empty.",
            metavar="DIARY.csv",
            show_default=False,
        ),
    ],
    windows: Annotated[
        str, typer.Option("--windows", metavar="DAYS", help="Comma-separated diary days at which the AUCs end.")
    ] = "7,15,21,28,35",
    impute: Annotated[
        str,
        typer.Option(
            "--impute", metavar="none|locf|linear",
            help="Missing days: none, locf (last observation carried forward) or linear."
        ),
    ] = "none",
    time_axis: Annotated[
        str,
        typer.Option(
            "--time-axis", metavar="AXIS",
            help="infusion: the curve starts at day 0 with the pre-infusion score (from --anchor, a "
            "pre_infusion_pain column, or the allocation.csv beside the diary); first_diary_day: the "
            "curve starts at diary day 1.",
        ),
    ] = "infusion",
    value: Annotated[
        str, typer.Option("--value", metavar="COLUMN", help="Score column: avg_pain, max_pain, night_pain...")
    ] = "avg_pain",
    anchor_csv: Annotated[
        Path | None,
        typer.Option(
            "--anchor", metavar="ALLOCATION.csv",
            help="CSV with patient_id, period, pre_infusion_pain. Default: the diary's own "
            "pre_infusion_pain column, else allocation.csv in the diary's folder (a TrialData folder).",
            show_default=False,
        ),
    ] = None,
    scale: Annotated[
        str,
        typer.Option(
            "--scale", metavar="LOW..HIGH",
            help="The pain scale of the scores (the protocol's [diary] scale_min..scale_max), e.g. 0..100 "
            "for a VAS; a score outside it is an error.",
        ),
    ] = "0..10",
    json_output: JsonOption = False,
) -> None:
    """Area under the daily pain curve (trapezoidal rule, score-days) per patient, period and window.

    \b
    Example:
      ketapain auc diary.csv --anchor allocation.csv --windows 7,35 --impute locf
    """
    from ketapain.stats import diary_auc

    files = {"diary": diary_csv.name}
    try:
        window_days = _parse_windows(windows)
        bounds = _parse_scale(scale)
        diary = _read_csv(diary_csv, "diary")
        anchor = _find_anchor(diary, diary_csv, anchor_csv, time_axis, files)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ImputationWarning)
            result = diary_auc(  # time_axis and impute are checked by diary_auc (check_option)
                diary, value=value, windows=window_days, time_axis=cast("TimeAxis", time_axis),
                impute=cast("Impute", impute), anchor=anchor, scale=bounds,
            )
    except DataError as exc:
        raise fail(exc, files) from None
    for warning in caught:
        typer.echo(f"warning: {warning.message}", err=True)

    if json_output:
        typer.echo(json.dumps(_payload(result, time_axis, impute, value, window_days), allow_nan=False))
    else:
        console().print(_table(result, time_axis, impute, value))


def _find_anchor(diary: pd.DataFrame, diary_csv: Path, anchor_csv: Path | None, time_axis: str,
                 files: dict[str, str]) -> pd.DataFrame | None:
    """The pre-infusion scores: ``--anchor``, else the diary's own column, else allocation.csv
    beside the diary (on the infusion axis); records the file in ``files``."""
    beside = diary_csv.parent / ALLOCATION_FILE
    if anchor_csv is not None:
        anchor = _read_csv(anchor_csv, "anchor")
        files["anchor"] = anchor_csv.name
        return anchor
    if time_axis != "infusion":
        return None
    if ANCHOR_VALUE in diary.columns:
        anchor = _anchor_from_diary(diary, diary_csv)
        files["anchor"] = diary_csv.name
        return anchor
    if beside.is_file() and beside.resolve() != diary_csv.resolve():
        anchor = _read_csv(beside, "anchor")
        files["anchor"] = str(beside)
        typer.echo(f"note: day 0 of each curve is {ANCHOR_VALUE} from {beside} (--anchor)", err=True)
        return anchor
    raise DataError(
        "--time-axis infusion starts the curve at day 0 with the pre-infusion score: "
        f"give --anchor (a CSV with {SUBJECT}, {PERIOD}, {ANCHOR_VALUE}) or a {ANCHOR_VALUE} "
        f"column in {diary_csv}, or use --time-axis first_diary_day"
    )


def _parse_scale(text: str) -> tuple[float, float]:
    """``LOW..HIGH`` as two numbers (diary_auc checks them: finite, LOW < HIGH)."""
    low, sep, high = text.partition("..")
    try:
        if not sep:
            raise ValueError(text)
        return float(low), float(high)
    except ValueError:
        raise DataError(f"--scale {text!r} is not LOW..HIGH, e.g. 0..10 or 0..100") from None


def _parse_windows(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise DataError(
            f"--windows {text!r} must be comma-separated whole days, e.g. 7,15,21,28,35"
        ) from None


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read the {what} file {str(path)!r}: {exc}") from None
    if SUBJECT not in frame.columns and SUBJECT_ALIAS in frame.columns:
        frame = frame.rename(columns={SUBJECT_ALIAS: SUBJECT})
    return frame


def _anchor_from_diary(diary: pd.DataFrame, path: Path) -> pd.DataFrame:
    """One pre_infusion_pain per patient x period from the diary's column (blank rows allowed)."""
    import numpy as np
    import pandas as pd

    scores = pd.to_numeric(diary[ANCHOR_VALUE], errors="coerce")
    bad = (scores.isna() & diary[ANCHOR_VALUE].notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path} row {row + 1}: {ANCHOR_VALUE}={diary[ANCHOR_VALUE].iloc[row]!r} is not a number"
        )
    missing = [c for c in (SUBJECT, PERIOD) if c not in diary.columns]
    if missing:
        raise DataError(
            f"{path} has no column {', '.join(map(repr, missing))}; its columns are {list(diary.columns)}"
        )
    grouped = scores.groupby([diary[SUBJECT], diary[PERIOD]], sort=False)
    differ = grouped.nunique() > 1
    if differ.any():
        patient, period = differ.index[np.flatnonzero(differ.to_numpy())[0]]
        raise DataError(
            f"{path}: {ANCHOR_VALUE} takes several values for {SUBJECT}={_plain(patient)!r}, "
            f"{PERIOD}={_plain(period)!r}; "
            "it must be one value per patient x period (or give --anchor)"
        )
    return grouped.first().rename(ANCHOR_VALUE).reset_index()


def _plain(x: Any) -> Any:
    """JSON-ready scalar: numpy scalars to Python, NaN to None."""
    import numpy as np

    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def _payload(
    result: pd.DataFrame, time_axis: str, impute: str, value: str, windows: list[int]
) -> dict[str, Any]:
    rows = result[list(JSON_FIELDS)].to_dict(orient="records")
    return {
        "time_axis": time_axis,
        "impute": impute,
        "value": value,
        "windows": sorted(windows),
        "auc": [{key: _plain(cell) for key, cell in row.items()} for row in rows],
    }


def _table(result: pd.DataFrame, time_axis: str, impute: str, value: str) -> Table:
    from rich.table import Table

    table = Table(title=f"AUC of {value} (score-days), time axis: {time_axis}, impute: {impute}")
    for name in JSON_FIELDS:
        table.add_column(name, justify="left" if name == SUBJECT else "right")
    for row in result[list(JSON_FIELDS)].itertuples(index=False):
        cells = [_plain(cell) for cell in row]
        auc = cells[3]
        cells[3] = "NA" if auc is None else f"{auc:.2f}"
        table.add_row(*(str(cell) for cell in cells))
    return table

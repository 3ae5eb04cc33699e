"""``ketapain demo``: analyse the bundled example crossover trial end to end and print it.

Until the simulator and report exist (later issues), the demo runs on the small synthetic
example shipped in :mod:`ketapain.examples`: diary AUCs (infusion time axis; LOCF at day 35,
no imputation at days 7-28, as the reference study's analysis plan), descriptives per
treatment, and the crossover mixed model (the paper's model with the carry-over pre-test,
then the standard model) with Kenward-Roger df, Sidak pairwise contrasts and effect sizes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from ketapain.errors import KetapainWarning
from ketapain.examples import load_example
from ketapain.stats import describe_by, diary_auc, fit_crossover

__all__ = ["demo_command"]

ENDPOINTS = ((7, "none"), (35, "locf"))  # the reference study's plan: no imputation before day 35


def _endpoint_frame(tables: dict[str, pd.DataFrame], window: int, impute: str) -> pd.DataFrame:
    alloc = tables["allocation"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetapainWarning)  # missing AUCs are counted below
        auc = diary_auc(tables["diary"], windows=[window], impute=impute, anchor=alloc)  # type: ignore[arg-type]
    merged = auc.merge(alloc, on=["patient_id", "period"], validate="one_to_one")
    return merged.rename(columns={"patient_id": "subject", "auc": "y"})


def demo_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as one JSON object.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also write results.json and auc.csv to this folder.", show_default=False)] = None,
) -> None:
    """Analyse the bundled example crossover trial (AUC endpoints, mixed models) and print the results."""
    tables = load_example()
    console = Console()
    results: dict[str, Any] = {"data": "ketapain bundled synthetic example (20 patients, P/K/KM, 3 periods)", "endpoints": []}
    auc_frames = []
    for window, impute in ENDPOINTS:
        frame = _endpoint_frame(tables, window, impute)
        auc_frames.append(frame.assign(window_day=window))
        desc = describe_by(frame, value="y", by="treatment")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", KetapainWarning)
            paper = fit_crossover(frame, model="paper", carryover="test-drop", ref="P")
            standard = fit_crossover(frame, model="standard", ref="P")
        notes = sorted({str(w.message) for w in caught})
        name = f"AUC of average pain, days 0-{window}, impute: {impute}"
        results["endpoints"].append({
            "endpoint": name,
            "n_missing_auc": int(frame["y"].isna().sum()),
            "descriptives": desc.to_dict(orient="records"),
            "paper_model": paper.to_dict(),
            "standard_model": standard.to_dict(),
            "warnings": notes,
        })
        if json_output:
            continue
        console.rule(f"[bold]{name}")
        console.print("Time axis: day 0 = infusion day, anchored by the pre-infusion score; score-days.")
        table = Table(title="Descriptives by treatment (mean ± SD, or median [IQR] if Shapiro-Wilk P < 0.05)")
        for col in ("treatment", "n", "n_missing", "summary"):
            table.add_column(col)
        for row in desc.itertuples(index=False):
            summary = f"{row.mean:.1f} ± {row.sd:.1f}" if row.kind == "mean_sd" else f"{row.median:.1f} [{row.q1:.1f}; {row.q3:.1f}]"
            table.add_row(str(row.treatment), str(row.n), str(row.n_missing), summary)
        console.print(table)
        for label, fit in (("Paper's model (treatment + sequence, carry-over pre-tested)", paper), ("Standard model (treatment + period + sequence)", standard)):
            console.print(f"[bold]{label}[/bold]")
            console.print(fit.summary(), markup=False, highlight=False)
            console.print()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, allow_nan=False, indent=2, default=_jsonable))
        pd.concat(auc_frames).to_csv(out / "auc.csv", index=False)
    if json_output:
        typer.echo(json.dumps(results, allow_nan=False, default=_jsonable))


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")

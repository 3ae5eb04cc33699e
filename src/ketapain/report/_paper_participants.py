"""The paper's Participants section: Table 1 (baseline characteristics, overall and by sex)
and pain before each period (by arm with both models' omnibus P, and by period)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ketapain.analysis import AnalysisResults

from ._document import DisplayTable
from ._format import DIGITS, MISSING, format_describe, format_n_pct, format_p, row_kind, row_of
from ._paper_labels import (
    arm_codes,
    arm_labels,
    df_label,
    display_table,
    fit_value,
    model_name,
    records,
    scale_label,
    used_fits,
)
from ._paper_methods import descriptives_words, table1_definition

__all__ = ["pain_before_tables", "table1"]

_TABLE1_LABELS = {"age_years": "Age, years", "weight_kg": "Weight, kg", "height_m": "Height, m",
                  "bmi": "BMI, kg/m²", "pain_duration_years": "Pain duration, years", "dn4_total": "DN4 score",
                  "baseline_avg_pain": "Average pain (NRS 0-10)", "pain_type": "Pain type, n (%)",
                  "concomitant_baseline": "Concomitant analgesics at baseline, n (%)"}


def _group_header(counts: pd.DataFrame, continuous: pd.DataFrame) -> tuple[list[str], dict[str, Any]]:
    groups = list(pd.unique(continuous["group"])) or list(pd.unique(counts["group"]))
    n_group: dict[str, Any] = {}
    for g in groups:
        c = counts.loc[counts["group"] == g, "n_group"]
        n_group[g] = int(c.iloc[0]) if len(c) else int(continuous.loc[continuous["group"] == g, "n"].max())
    return groups, n_group


def _label(variable: str, study: Mapping[str, Any]) -> str:
    return _TABLE1_LABELS.get(variable, variable.replace("_", " ")).replace("NRS 0-10", scale_label(study))


class _Table1Rows:
    """Rows of Table 1 as they are laid out: continuous variables, count blocks with a group row."""

    def __init__(self, groups: list[str], study: Mapping[str, Any]) -> None:
        self.groups = groups
        self.study = study
        self.rows: list[list[str]] = []
        self.group_rows: list[int] = []
        self.data: list[pd.DataFrame] = []

    def continuous(self, cont: pd.DataFrame, variable: str) -> None:
        block = cont[cont["variable"] == variable].set_index("group")
        digits = 2 if variable == "height_m" else 1
        kind = row_kind(block)
        self.rows.append([_label(variable, self.study), *(format_describe(row_of(block, g), digits, kind=kind) if g in block.index
                                              else MISSING for g in self.groups)])
        self.data.append(cont[cont["variable"] == variable].assign(table="continuous"))

    def counts(self, counts: pd.DataFrame, variable: str) -> None:
        block = counts[counts["variable"] == variable]
        self.group_rows.append(len(self.rows))
        self.rows.append([_label(variable, self.study), *[""] * len(self.groups)])
        for level in pd.unique(block["level"]):
            lv = block[block["level"] == level].set_index("group")
            self.rows.append([f"  {str(level).replace('_', ' ')}",
                              *(format_n_pct(lv["n"].get(g), lv["pct"].get(g)) if g in lv.index else MISSING
                                for g in self.groups)])
        self.data.append(block.assign(table="counts"))


def table1(results: AnalysisResults) -> DisplayTable:
    """Table 1: continuous variables in the paper's order, pain type after BMI, then the counts."""
    cont, counts = results.table1_continuous, results.table1_counts
    groups, n_group = _group_header(counts, cont)
    header = ["Characteristic", *(f"{g.capitalize()} (n = {n_group[g]})" for g in groups)]
    table = _Table1Rows(groups, results.study)
    count_vars = list(pd.unique(counts["variable"]))
    emitted: set[str] = set()
    for var in pd.unique(cont["variable"]):
        table.continuous(cont, var)
        if var == "bmi" and "pain_type" in count_vars:
            table.counts(counts, "pain_type")
            emitted.add("pain_type")
    for var in count_vars:
        if var not in emitted:
            table.counts(counts, var)
    notes = (f"Descriptives: {descriptives_words(results.settings)}.",
             f"Average pain: {table1_definition('baseline_avg_pain', results.study)}.")
    frame = pd.concat(table.data, ignore_index=True) if table.data else pd.DataFrame()
    return display_table("table1", "Characteristics of the patients at baseline", header, table.rows, frame,
                         notes, table.group_rows, numbered=True)


def pain_before_tables(results: AnalysisResults) -> list[DisplayTable]:
    """Pre-infusion pain by arm (with both models' omnibus P) and by period."""
    s, pb = results.settings, results.pain_before
    arms = arm_codes(results)
    used = used_fits(results.models, "pain_before")
    by_arm = pb[pb["by"] == "treatment"].set_index("level")
    models = [s.model, s.other_model]
    ps = [fit_value(used, ("pre_infusion_pain", m), "treatment_p") for m in models]
    header = ["", *arm_labels(results).values(), *(f"P ({model_name(m, results.study)})" for m in models)]
    row = [f"Pre-infusion pain ({scale_label(results.study)})",
           *(format_describe(row_of(by_arm, a), DIGITS["pain"], kind=row_kind(by_arm)) if a in by_arm.index else MISSING
             for a in arms),
           *(format_p(p) for p in ps)]
    data = pb[pb["by"] == "treatment"].assign(**{f"p_{m}": p for m, p in zip(models, ps, strict=True)})
    t1 = display_table("pain_before", "Pain before each period, by arm", header, [row], data,
                       (f"Omnibus treatment P of linear mixed models ({df_label(s)} df).",))
    by_period = pb[pb["by"] == "period"]
    t2 = display_table("pain_before_period", "Pain before each period, by period",
                       ["", *(f"Period {lv}" for lv in by_period["level"])],
                       [[f"Pre-infusion pain ({scale_label(results.study)})", *(format_describe(r, DIGITS["pain"], kind=row_kind(by_period))
                                                        for r in records(by_period))]],
                       by_period)
    return [t1, t2] if len(by_period) else [t1]

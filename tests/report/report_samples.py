"""A sample report document using every block type (shared by the report tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ketapain.report import (
    DisplayTable,
    Document,
    FigureBlock,
    Paragraph,
    Section,
    plot_patient_lines,
)

ORDER = ("P", "K", "KM")


def sample_auc() -> pd.DataFrame:
    """Six patients x three arms of made-up AUC values, one missing (P03 under KM)."""
    values = np.array([[210.0, 150.5, 170.25], [180.0, 120.0, 160.0], [200.0, 140.0, np.nan],
                       [150.0, 149.0, 151.0], [230.0, 120.5, 110.0], [170.0, 165.0, 180.0]])
    patients = [f"P{i:02d}" for i in range(1, 7)]
    return pd.DataFrame({"patient_id": np.repeat(patients, 3), "treatment": list(ORDER) * 6,
                         "auc": values.ravel()})


def table2() -> DisplayTable:
    data = pd.DataFrame({"endpoint": ["avg_pain_d35", "avg_pain_d35", "max_pain_d35"],
                         "treatment": ["P", "K", "P"], "mean": [182.5, 141.0, 201.125],
                         "sd": [27.1, 17.2, 30.0]})
    return DisplayTable(
        key="table2",
        title="Table 2. Area under the curve of pain (0–10 × days), mean ± SD",
        header=("Endpoint", "Placebo", "Ketamine", "P"),
        rows=(("Average pain", "", "", ""), ("Day 35", "182.5 ± 27.1", "141.0 ± 17.2", "0.031"),
              ("Maximum pain", "", "", ""), ("Day 35", "201.1 ± 30.0", "—", "≥ 0.05")),
        data=data,
        notes=("LOCF at day 35.", "Sidak-adjusted pairwise comparisons; café-au-lait note é."),
        group_rows=frozenset({0, 2}),
    )


def lines_figure() -> Figure:
    ax = plot_patient_lines(sample_auc(), order=ORDER, labels={"P": "Placebo", "K": "Ketamine",
                                                               "KM": "Ketamine + MgSO4"},
                            ylabel="AUC of average pain, day 35")
    return ax.figure


def sample_document(*, title: str = "KETAPAIN in silico report") -> Document:
    """A document using every block type, nested sections and Unicode text."""
    auc = sample_auc()
    table1 = DisplayTable(
        key="table1", title="Table 1. Patients", header=("Characteristic", "All (n = 6)"),
        rows=(("Age, years", "54.2 (8.1)"), ("Women", "4 (67%)")),
        data=pd.DataFrame({"variable": ["age_years", "female"], "value": [54.2, 4.0]}),
    )
    return Document(
        title=title,
        subtitle="Ketamine and magnesium for refractory neuropathic pain — a simulated trial",
        sections=(
            Section("Methods", (Paragraph("Randomised, double-blind, three-period crossover."),
                                Section("Statistical analysis", (Paragraph("Mixed model; Kenward–Roger df."),)))),
            Section("Results", (
                table1,
                Section("Primary endpoint", (table2(),
                                              Section("Per patient", (FigureBlock(
                                                  key="auc_day35", title="Figure 2. AUC per patient, day 35",
                                                  caption="Grey lines join a patient's values; black bars are medians.",
                                                  figure=lines_figure(), data=auc),)))),
            ), "results"),
        ),
        provenance={"ketapain": "0.1.0", "date": "2026-01-01T00:00:00+00:00", "data_sha256": "ab" * 32},
        results={"table2": {"p": 0.031, "n": 6, "missing": None, "arms": ["P", "K", "KM"]}},
    )

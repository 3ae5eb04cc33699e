"""The report: a document model, its writers (HTML, PDF, CSV, SVG/PNG, JSON), figures, provenance.

Build a :class:`Document` of :class:`Section` objects holding :class:`Paragraph`,
:class:`DisplayTable` and :class:`FigureBlock` blocks (figures drawn with the ``plot_*``
functions), then :func:`write_report` writes the report folder: a self-contained
``index.html``, ``report.pdf``, ``tables/*.csv``, ``figures/*.svg|png`` and ``results.json``.
The report only formats results; it never computes statistics. ``docs/report.md`` describes
the model and the outputs.

Examples
--------
>>> from ketapain.report import Document, Paragraph, Section, validate_document
>>> doc = Document(title="KETAPAIN", subtitle="in silico", provenance={}, results={},
...                sections=(Section("Methods", (Paragraph("Crossover, three periods."),)),))
>>> validate_document(doc)
"""

from __future__ import annotations

from ._document import (
    MAX_SECTION_DEPTH,
    Block,
    DisplayTable,
    Document,
    FigureBlock,
    Paragraph,
    Section,
    number_document,
    validate_document,
)
from ._figures import (
    ARM_COLOURS,
    arm_colours,
    figure_of,
    plot_consort,
    plot_daily_means,
    plot_forest,
    plot_patient_bars,
    plot_patient_lines,
    plot_tipping_point,
)
from ._format import (
    DIGITS,
    MISSING,
    format_ci,
    format_count,
    format_describe,
    format_estimate_ci,
    format_mean_sd,
    format_median_iqr,
    format_n_of,
    format_n_pct,
    format_number,
    format_p,
    format_ratio,
    oriented_pair,
    plural,
    without_repeats,
)
from ._html import PNG_DPI, render_html
from ._paper import paper_document
from ._pdf import render_pdf
from ._pipeline import TrialReport, report_steps, write_trial_report
from ._power_plot import plot_power
from ._provenance import protocol_hash, provenance, trial_data_hash
from ._write import REPORT_ENTRIES, ReportFiles, write_report

__all__ = [
    "ARM_COLOURS",
    "Block",
    "DIGITS",
    "DisplayTable",
    "Document",
    "FigureBlock",
    "MAX_SECTION_DEPTH",
    "MISSING",
    "PNG_DPI",
    "Paragraph",
    "REPORT_ENTRIES",
    "ReportFiles",
    "Section",
    "TrialReport",
    "arm_colours",
    "figure_of",
    "format_ci",
    "format_count",
    "format_describe",
    "format_estimate_ci",
    "format_mean_sd",
    "format_median_iqr",
    "format_n_of",
    "format_n_pct",
    "format_number",
    "format_p",
    "format_ratio",
    "number_document",
    "oriented_pair",
    "paper_document",
    "plot_consort",
    "plot_daily_means",
    "plot_forest",
    "plot_patient_bars",
    "plot_patient_lines",
    "plot_power",
    "plot_tipping_point",
    "plural",
    "protocol_hash",
    "provenance",
    "render_html",
    "render_pdf",
    "report_steps",
    "trial_data_hash",
    "validate_document",
    "without_repeats",
    "write_report",
    "write_trial_report",
]

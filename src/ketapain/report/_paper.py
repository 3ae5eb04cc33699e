"""The paper's layout: an :class:`~ketapain.analysis.AnalysisResults` laid out as a Document.

:func:`paper_document` arranges the results of the analysis plan like the published KETAPAIN
report (Pickering et al., Anesthesiology 2020): summary, methods generated from the settings,
CONSORT flow, Tables 1-4, pairwise comparisons, effect sizes, the per-patient and daily-pain
figures, responders, adverse events, blinding, missing-data sensitivity analyses, the model
checks of every fit and the warnings. It only formats: every number shown is a field of
``results.to_dict()`` passed through one of the ``format_*`` functions (a contrast shown as
"b vs a" is the negated estimate and the negated, swapped interval of the core's ``a - b``; a
ratio is inverted). The rules are in ``docs/report-layout.md``.

Only the layout follows the reference paper: what it says comes from the results. Tables 1-4
and the CONSORT and per-patient figures are numbered when rendered, in order of appearance
(text refers to them as ``{table:table2}``); the title, arms and subtitle are the protocol's;
the methods describe the analyses that ran; words about the reference paper ("paper's
model") are used for the reference protocol only (``_paper_labels.is_reference_study``).

One module per part of the paper: ``_paper_methods`` (summary and methods, every sentence
from the settings), ``_paper_participants``, ``_paper_outcomes``, ``_paper_secondary``,
``_paper_sensitivity``, ``_paper_warnings``; the names they share in ``_paper_labels``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ketapain.analysis import AnalysisResults

from ._document import Document, FigureBlock, Section
from ._figures import figure_of, plot_consort
from ._paper_checks import fit_checks
from ._paper_methods import methods_section, summary_section
from ._paper_outcomes import (
    effect_sizes,
    model_checks,
    pairwise_table,
    patient_figures,
    table2,
)
from ._paper_participants import pain_before_tables, table1
from ._paper_secondary import (
    adverse_event_blocks,
    blinding_blocks,
    responder_blocks,
    table3,
    table3_pairwise,
    table4,
)
from ._paper_sensitivity import sensitivity_blocks
from ._paper_warnings import warning_blocks

__all__ = ["paper_document"]


def paper_document(results: AnalysisResults, *, provenance: Mapping[str, str]) -> Document:
    """Lay out the results of the analysis plan like the published paper.

    Parameters
    ----------
    results : AnalysisResults
        From :func:`ketapain.analysis.run_analysis` (any protocol: arms, windows and models are
        read from ``results.study`` and ``results.settings``).
    provenance : Mapping[str, str]
        The provenance block (:func:`ketapain.report.provenance`); its ``ketapain`` entry, when
        present, is the version named in the methods.

    Returns
    -------
    Document
        Sections Summary, Methods, Participants (the CONSORT figure when a screening log was
        analysed, Table 1, pain before each period), Pain outcomes (Table 2, pairwise
        comparisons, effect sizes with a forest plot, the per-patient figures and daily
        curves), Responders, Questionnaires (Table 3), Concomitant analgesics (Table 4),
        Adverse events, Blinding, Missing-data sensitivity analyses, Model checks (the status
        of every fit, then the linear models' residual and carry-over checks) and Warnings;
        ``results`` = ``results.to_dict()``. Every table's ``data`` holds the unrounded rows
        it shows (plus the oriented ``shown_*`` numbers of flipped contrasts).

    Notes
    -----
    Numbers are formatted by the ``format_*`` functions of ``_format`` (rules in
    ``docs/report-layout.md``): AUC and score means/SDs 1 decimal, P 3 decimals ("< 0.001"),
    ICC, effect sizes, odds ratios and Bang's index 2 decimals, percentages 1 decimal.
    Contrasts are shown "x vs y" = x - y with the reference arm second
    (:func:`oriented_pair`): the core's ``a - b`` is negated, its interval negated and
    swapped, when the order differs.
    """
    st = results.study
    participants: list[Any] = []
    if results.consort_flow is not None:
        ax = plot_consort(results.consort_flow)
        participants.append(FigureBlock(key="consort", title="CONSORT flow diagram",
                                        caption="Screening, randomisation and follow-up per period of the crossover.",
                                        figure=figure_of(ax), data=pd.DataFrame(results.consort.get("periods", [])),
                                        numbered=True))
    participants.append(table1(results))
    participants.append(Section("Pain before each period", tuple(pain_before_tables(results)), key="pain-before"))
    table, forest = effect_sizes(results)
    outcomes = (
        table2(results),
        Section("Pairwise comparisons", (pairwise_table(results),), key="pairwise"),
        Section("Effect sizes", (table, *((forest,) if forest is not None else ())), key="effect-sizes"),
        Section("Individual patients and daily pain", tuple(patient_figures(results)), key="figures"),
    )
    sections = (
        summary_section(results),
        methods_section(results, provenance),
        Section("Participants", tuple(participants), key="participants"),
        Section("Pain outcomes", outcomes, key="pain-outcomes"),
        Section("Responders", tuple(responder_blocks(results)), key="responders"),
        Section("Questionnaires", (table3(results), *((t3p,) if (t3p := table3_pairwise(results)) is not None else ())),
                key="questionnaires"),
        Section("Concomitant analgesics", (table4(results),), key="analgesics"),
        Section("Adverse events", tuple(adverse_event_blocks(results)), key="adverse-events"),
        Section("Blinding", tuple(blinding_blocks(results)), key="blinding"),
        Section("Missing-data sensitivity analyses", tuple(sensitivity_blocks(results)), key="sensitivity"),
        Section("Model checks", (fit_checks(results), model_checks(results)), key="model-checks"),
        Section("Warnings", tuple(warning_blocks(results)), key="warnings"),
    )
    registration = f" · {st['registration']}" if st.get("registration") else ""
    return Document(title=str(st["title"]), subtitle=f"Analysis report, protocol {st['protocol_id']}{registration}",
                    sections=sections, provenance=dict(provenance), results=results.to_dict())

"""The statistical analysis plan (SAP): a TrialData and its Protocol in, an
:class:`AnalysisResults` out (every number the report shows; no plotting, no formatting).

Sections follow the published analysis of the reference study (docs/analysis.md): CONSORT
flow, Table 1, pain before each period, Table 2 (AUC endpoints with the paper's and the
standard crossover model), responders, consecutive active periods, Table 3 (questionnaires),
adverse events, Table 4 (added analgesics), blinding and daily pain curves. The results carry
the settings as values (:class:`AnalysisSettings`) and every warning as a record
(:class:`AnalysisWarning`).

Examples
--------
>>> from ketapain.analysis import ANALYSIS_STEPS, analysis_steps
>>> len(analysis_steps(sensitivity=False)) == len(ANALYSIS_STEPS) - 1
True
"""

from __future__ import annotations

from ._blinding import bang_index
from ._common import active_arms, reference_arm, visit_periods
from ._results import FRAME_FIELDS, MAPPING_FIELDS, AnalysisResults
from ._run import ANALYSIS_STEPS, analysis_settings, analysis_steps, run_analysis
from ._settings import (
    AnalysisSettings,
    EndpointSetting,
    ModelTerms,
    ResponderDefinition,
    SensitivitySettings,
)
from ._warnings import WARNING_KINDS, WARNING_SECTIONS, AnalysisWarning

__all__ = [
    "ANALYSIS_STEPS",
    "AnalysisResults",
    "AnalysisSettings",
    "AnalysisWarning",
    "EndpointSetting",
    "FRAME_FIELDS",
    "MAPPING_FIELDS",
    "ModelTerms",
    "ResponderDefinition",
    "SensitivitySettings",
    "WARNING_KINDS",
    "WARNING_SECTIONS",
    "active_arms",
    "analysis_settings",
    "analysis_steps",
    "bang_index",
    "reference_arm",
    "run_analysis",
    "visit_periods",
]

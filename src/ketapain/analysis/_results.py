"""The results object of the analysis plan: tidy numeric frames, the settings, a few mappings
and the warning records."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ketapain.operations import ConsortFlow

from ._common import json_safe
from ._settings import AnalysisSettings
from ._warnings import AnalysisWarning

__all__ = ["AnalysisResults", "FRAME_FIELDS", "MAPPING_FIELDS"]

#: The DataFrame fields of :class:`AnalysisResults`, in report order (``tables`` keys).
FRAME_FIELDS = (
    "table1_continuous", "table1_counts", "pain_before", "patient_auc", "table2", "models", "contrasts",
    "effect_sizes", "consecutive_patients", "consecutive_summary", "consecutive_tests", "responder_patients",
    "responders", "responder_models", "questionnaire_scores", "table3", "ae_by_term", "ae_by_arm", "ae_models",
    "added_analgesics", "blinding", "daily_curves", "model_checks",
)
#: The mapping fields (JSON objects in ``to_dict``, after ``settings``).
MAPPING_FIELDS = ("study", "consort", "ae_overall", "blinding_overall")


@dataclass(frozen=True, slots=True)
class AnalysisResults:
    """Every number of the analysis plan, for the report (which never recomputes statistics).

    Frames are tidy and numeric (labels are text columns; no formatted numbers, no rounding);
    their columns are documented in ``docs/analysis.md``. Confidence intervals are at
    ``settings.conf_level``; every p-value is two-sided.

    Attributes
    ----------
    study : Mapping
        The study (protocol id, title, arms, reference arm, active arms, n patients, periods;
        ``diary_scale`` [low, high] when the protocol's diary scale is not the NRS 0..10).
    settings : AnalysisSettings
        Every analysis setting used, as values (models, df method, alpha, imputation per
        endpoint, seed...); the report words them in its methods section.
    consort, consort_flow
        CONSORT counts (``ConsortFlow.to_dict()``) and the object itself (None, and an empty
        mapping, when the screening log is empty).
    table1_continuous, table1_counts : DataFrame
        Table 1: ``describe_by`` columns per variable x group (all/male/female); counts per
        variable x level x group with ``n_group`` and ``pct``.
    pain_before : DataFrame
        Pre-infusion pain described by arm and by period (``by``, ``level`` + describe columns).
    patient_auc, table2 : DataFrame
        AUC per endpoint x patient x period; descriptives per endpoint x arm.
    models, contrasts, effect_sizes : DataFrame
        Crossover models of every section (``section`` = pain_before, table2, table3), one
        row per outcome x model x scale; pairwise contrasts (``shown`` = omnibus P < alpha);
        effect sizes of three kinds (``headline`` marks the one shown first).
    consecutive_patients, consecutive_summary, consecutive_tests : DataFrame
        Sum of the two active arms' primary AUC, consecutive vs separated periods.
    responder_patients, responders, responder_models : DataFrame
        Responder status per patient x period x day; counts per day x definition x arm (and
        ``any_active``); logistic mixed models vs the reference arm.
    questionnaire_scores, table3 : DataFrame
        Scores per patient x visit; descriptives per instrument x score x time point.
    ae_by_term, ae_by_arm, ae_models, ae_overall
        Adverse events per arm x term, per arm, the logistic model of related events, and
        whole-trial counts.
    added_analgesics : DataFrame
        Table 4, patients per drug class x arm.
    blinding, blinding_overall
        Bang's index per arm and whole-trial counts (``recorded`` False when absent).
    daily_curves : DataFrame
        Mean pain per diary item x arm x day with CI.
    model_checks : DataFrame
        The degenerate-fit verdict on every model fitted (``CHECK_COLUMNS``: section, outcome,
        model, scale, day, status ``ok``/``singular``/``not_estimable``, reason), in the order
        the fits ran; a model that could not be fitted at all is ``not_estimable`` with its
        error. The rules: :mod:`ketapain.stats` ``check_crossover_fit`` and
        ``check_logistic_fit`` (docs/glmm.md, "Degenerate fits").
    sensitivity : Mapping[str, DataFrame]
        Missing-data sensitivity analyses (empty when skipped).
    warnings : tuple of AnalysisWarning
        Every warning and note raised while analysing, as records: where it arose (section,
        outcome, model, scale), its kind and its message.
    """

    study: Mapping[str, Any]
    settings: AnalysisSettings
    consort: Mapping[str, Any]
    consort_flow: ConsortFlow | None
    table1_continuous: pd.DataFrame
    table1_counts: pd.DataFrame
    pain_before: pd.DataFrame
    patient_auc: pd.DataFrame
    table2: pd.DataFrame
    models: pd.DataFrame
    contrasts: pd.DataFrame
    effect_sizes: pd.DataFrame
    consecutive_patients: pd.DataFrame
    consecutive_summary: pd.DataFrame
    consecutive_tests: pd.DataFrame
    responder_patients: pd.DataFrame
    responders: pd.DataFrame
    responder_models: pd.DataFrame
    questionnaire_scores: pd.DataFrame
    table3: pd.DataFrame
    ae_by_term: pd.DataFrame
    ae_by_arm: pd.DataFrame
    ae_models: pd.DataFrame
    ae_overall: Mapping[str, Any]
    added_analgesics: pd.DataFrame
    blinding: pd.DataFrame
    blinding_overall: Mapping[str, Any]
    daily_curves: pd.DataFrame
    model_checks: pd.DataFrame
    sensitivity: Mapping[str, pd.DataFrame]
    warnings: tuple[AnalysisWarning, ...]

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every frame by name (``FRAME_FIELDS``, then ``sensitivity_<name>``), as copies."""
        out = {name: getattr(self, name).copy() for name in FRAME_FIELDS}
        out.update({f"sensitivity_{k}": v.copy() for k, v in self.sensitivity.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (``json.dumps(..., allow_nan=False)`` works): NaN, NA and inf -> None.

        Keys: ``study``, ``settings`` (:meth:`AnalysisSettings.to_dict`), the other mappings
        (``MAPPING_FIELDS``), ``tables`` ({name: list of row records}),
        ``sensitivity`` ({name: records}) and ``warnings`` (a list of
        :meth:`AnalysisWarning.to_dict` objects).
        """
        out: dict[str, Any] = {"study": json_safe(self.study), "settings": json_safe(self.settings.to_dict())}
        out.update({name: json_safe(getattr(self, name)) for name in MAPPING_FIELDS[1:]})
        out["tables"] = {name: json_safe(getattr(self, name)) for name in FRAME_FIELDS}
        out["sensitivity"] = {k: json_safe(v) for k, v in self.sensitivity.items()}
        out["warnings"] = [w.to_dict() for w in self.warnings]
        return out

    def to_json(self, **kwargs: Any) -> str:
        """``json.dumps(self.to_dict(), allow_nan=False, **kwargs)``."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    def summary(self) -> str:
        """A plain-text overview: study, primary endpoint, models, responders, safety, warnings."""
        s = self.study
        lines = [f"{s['title']} ({s['protocol_id']})",
                 f"{s['n_patients']} patients, {s['periods']} periods of {s['period_days']} days; arms "
                 + ", ".join(f"{a['code']} ({a['name']})" for a in s["arms"]) + f"; reference {s['reference_arm']}",
                 f"Model: {self.settings.model} (also {self.settings.other_model}); df {self.settings.df_method}; "
                 f"alpha {self.settings.alpha}", ""]
        lines.append("Endpoints (mean ± SD by arm; omnibus P of the protocol's model):")
        used = self.models[(self.models["section"] == "table2") & self.models["used"]
                           & (self.models["model"] == self.settings.model)].set_index("outcome")
        for endpoint, rows in self.table2.groupby("endpoint", sort=False):
            arms = "; ".join(f"{r.treatment} {_n(r.mean)} ± {_n(r.sd)} (n={r.n})" for r in rows.itertuples())
            p = used["treatment_p"].get(endpoint, math.nan)
            icc = used["icc"].get(endpoint, math.nan)
            lines.append(f"  {endpoint}: {arms}; P = {_n(p, '.3g')}, ICC {_n(icc, '.2f')}")
        if len(self.responders):
            lines.append("Responders (the paper's 'improved'):")
            imp = self.responders[self.responders["definition"] == "paper_improved"]
            for day, rows in imp.groupby("day"):
                lines.append(f"  day {day}: " + "; ".join(f"{r.treatment} {r.n_responders}/{r.n_evaluable}"
                                                          for r in rows.itertuples()))
        if len(self.ae_by_arm):
            lines.append("Patients with a treatment-related adverse event: "
                         + "; ".join(f"{r.treatment} {r.n_patients_related}/{r.n_exposed}" for r in self.ae_by_arm.itertuples()))
        if len(self.table3):
            lines.append(f"Table 3: {self.table3[['instrument', 'score']].drop_duplicates().shape[0]} scores")
        lines.append("Blinding: " + ("Bang's index per arm: " + "; ".join(
            f"{r.treatment} {_n(r.bi, '.2f')}" for r in self.blinding.itertuples())
            if self.blinding_overall.get("recorded") else "not recorded"))
        if self.sensitivity:
            lines.append(f"Sensitivity analyses: {', '.join(self.sensitivity)}")
        if len(self.model_checks):
            counts = self.model_checks["status"].value_counts()
            lines.append(f"Model checks: {len(self.model_checks)} fits; " + ", ".join(
                f"{counts.get(s, 0)} {s.replace('_', ' ')}" for s in ("ok", "singular", "not_estimable")))
        lines.append(f"Warnings: {len(self.warnings)}")
        lines.extend(f"  - {w}" for w in self.warnings)
        return "\n".join(lines)


def _n(x: Any, spec: str = ".0f") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "NA"
    return "NA" if not math.isfinite(v) else format(v, spec)


"""The settings of an analysis run as values: what was fitted, tested and imputed, and how.

``_run.analysis_settings`` reads them from the protocol (and the plan's fixed choices) into
an :class:`AnalysisSettings`; ``results.settings`` holds it and ``results.json`` its
:meth:`~AnalysisSettings.to_dict`. Settings are names and numbers (``df_method =
"kenward-roger"``, ``alpha = 0.05``, ``impute = "locf"``), never sentences: the report writes
its methods section from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = [
    "AnalysisSettings",
    "CROSSOVER_MODELS",
    "EFFECT_SIZE_KINDS",
    "EndpointSetting",
    "ModelTerms",
    "RESPONDER_DEFINITIONS",
    "ResponderDefinition",
    "SensitivitySettings",
]


@dataclass(frozen=True, slots=True)
class ModelTerms:
    """The terms of a mixed model: fixed effects and random intercepts (by grouping)."""

    fixed: tuple[str, ...]
    random: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"fixed": list(self.fixed), "random": list(self.random)}


@dataclass(frozen=True, slots=True)
class EndpointSetting:
    """One ``[[endpoints]]`` entry: the AUC of diary item ``value`` up to ``window_day``."""

    name: str
    value: str
    window_day: int
    impute: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "window_day": self.window_day, "impute": self.impute, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class ResponderDefinition:
    """A responder: mean pain of the window's diary days (days 1..W, without the pre-infusion
    anchor) below the period's pre-infusion pain, by at least ``min_reduction_pct`` percent (None:
    by any amount); ``source`` names the convention (docs/responders.md)."""

    name: str
    min_reduction_pct: float | None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"min_reduction_pct": self.min_reduction_pct, "source": self.source}


#: The responder definitions, in report order (``_responders`` computes them).
RESPONDER_DEFINITIONS = (
    ResponderDefinition("paper_improved", None),
    ResponderDefinition("immpact30", 30.0, "IMMPACT moderate"),
    ResponderDefinition("immpact50", 50.0, "IMMPACT substantial"),
)
#: The effect sizes of every pairwise contrast (:func:`ketapain.stats.fit_crossover`).
EFFECT_SIZE_KINDS = ("total_sd", "d_z", "g_av", "d_model")
#: The model terms of the two crossover models the plan fits (random intercept per patient).
CROSSOVER_MODELS: Mapping[str, ModelTerms] = MappingProxyType({
    "paper": ModelTerms(("treatment", "sequence"), ("patient",)),
    "standard": ModelTerms(("treatment", "period", "sequence"), ("patient",)),
})


@dataclass(frozen=True, slots=True)
class SensitivitySettings:
    """The choices of the missing-data sensitivity section (module ``_sensitivity``).

    ``mar_model`` and ``imputation_model`` are the daily models (terms; ``treatment x day``
    = cell means per arm and day); ``pooling`` names Rubin's rules with Barnard-Rubin df and
    the D1 omnibus; ``tipping_*`` describe the delta-adjusted analysis of the primary
    endpoint (None when it is not imputed by LOCF).
    """

    endpoints: tuple[str, ...]
    mar_model: ModelTerms
    mar_estimation: str
    mar_df_method: str
    imputation_model: ModelTerms
    n_imputations: int
    analysis_model: str
    analysis_df_method: str
    pooling: str
    tipping_endpoint: str | None
    tipping_deltas: tuple[float, ...]
    tipping_shift_arms: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoints": list(self.endpoints), "mar_model": self.mar_model.to_dict(),
            "mar_estimation": self.mar_estimation, "mar_df_method": self.mar_df_method,
            "imputation_model": self.imputation_model.to_dict(), "n_imputations": self.n_imputations,
            "analysis_model": self.analysis_model, "analysis_df_method": self.analysis_df_method,
            "pooling": self.pooling, "tipping_endpoint": self.tipping_endpoint,
            "tipping_deltas": list(self.tipping_deltas), "tipping_shift_arms": list(self.tipping_shift_arms),
        }


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """Every setting of an analysis run (the report's methods section is written from these).

    Attributes
    ----------
    model, other_model : str
        The protocol's crossover model and the other one (both fitted); ``models`` gives
        their terms, ``table3_model`` the one of Table 3.
    carryover, df_method, estimation, alpha, conf_level, multiplicity : str or float
        The ``[analysis]`` settings: carry-over strategy (``none``, ``include``,
        ``test-drop``), df method, ``REML``, two-sided alpha (also the pairwise gate, the
        carry-over pre-test and the Shapiro-Wilk rules), CI level, ``sidak`` or ``none``.
    log_rule : bool
        Refit on log(outcome) when Shapiro-Wilk rejects the residuals (P < alpha).
    descriptives : str
        ``mean_sd_or_median_iqr``: mean ± SD, median [IQR] when Shapiro-Wilk rejects.
    auc_method, auc_units, auc_time_axis : str
        ``trapezoid``, ``score-days`` and the protocol's time axis (``infusion`` or
        ``diary``).
    endpoints, primary_endpoint
        The AUC endpoints (:class:`EndpointSetting`, protocol order) and the primary's name.
    table1_variables, responder_days, responder_definitions, logistic_nagq
        Table 1's continuous variables; responder days and definitions; Gauss-Hermite points
        of the logistic mixed models.
    effect_sizes, headline_effect_size, consecutive_tests, related_causalities, blinding_index
        Effect-size kinds and the one shown first; the tests of consecutive versus separated
        active periods (``welch_t`` first, the headline); causalities counted as
        treatment-related; ``bang`` (Bang, Ni & Davis 2004).
    seed : int
        Seed of the random parts; ``sensitivity`` the sensitivity section's choices.
    """

    model: str
    other_model: str
    models: Mapping[str, ModelTerms]
    carryover: str
    df_method: str
    estimation: str
    alpha: float
    conf_level: float
    multiplicity: str
    log_rule: bool
    descriptives: str
    auc_method: str
    auc_units: str
    auc_time_axis: str
    endpoints: tuple[EndpointSetting, ...]
    primary_endpoint: str
    table1_variables: tuple[str, ...]
    responder_days: tuple[int, ...]
    responder_definitions: tuple[ResponderDefinition, ...]
    logistic_nagq: int
    effect_sizes: tuple[str, ...]
    headline_effect_size: str
    consecutive_tests: tuple[str, ...]
    related_causalities: tuple[str, ...]
    table3_model: str
    blinding_index: str
    seed: int
    sensitivity: SensitivitySettings

    def endpoint(self, name: str) -> EndpointSetting | None:
        """The endpoint called ``name`` (None for another outcome, e.g. ``pre_infusion_pain``)."""
        return next((e for e in self.endpoints if e.name == name), None)

    @property
    def primary(self) -> EndpointSetting:
        """The primary endpoint."""
        found = self.endpoint(self.primary_endpoint)
        if found is None:
            raise LookupError(f"the primary endpoint {self.primary_endpoint!r} is not among the endpoints")
        return found

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: every field, endpoints and responder definitions as objects by name."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "models":
                value = {k: v.to_dict() for k, v in value.items()}
            elif name in ("endpoints", "responder_definitions"):
                value = {v.name: v.to_dict() for v in value}
            elif name == "sensitivity":
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

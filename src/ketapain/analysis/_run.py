"""``run_analysis``: the whole statistical analysis plan, section by section."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from ketapain._options import SEED, check_option
from ketapain.data import TrialData
from ketapain.errors import DataError
from ketapain.operations import consort_flow
from ketapain.protocol import Protocol

from ._baseline import TABLE1_VARIABLES, pain_before, table1
from ._blinding import blinding
from ._common import active_arms, check_inputs, reference_arm
from ._daily import daily_curves
from ._endpoints import consecutive_active, endpoint_aucs, model_order, table2
from ._fits import HEADLINE_EFFECT, frames
from ._questionnaires import questionnaires
from ._responders import DEFINITIONS, responder_days, responders
from ._results import AnalysisResults
from ._safety import RELATED, added_analgesics, adverse_events
from ._sensitivity import sensitivity_settings
from ._warnings import WarningLog

__all__ = ["ANALYSIS_STEPS", "analysis_steps", "run_analysis"]

#: The steps of :func:`run_analysis`, in order: ``on_step`` receives exactly these strings.
#: The last one runs only with ``sensitivity=True``.
ANALYSIS_STEPS = (
    "Study, settings and CONSORT flow",
    "Table 1 and pain before each period",
    "AUC endpoints and Table 2 models",
    "Responders and consecutive active periods",
    "Table 3 questionnaires",
    "Adverse events and Table 4",
    "Blinding and daily pain curves",
    "Missing-data sensitivity analyses",
)

EFFECT_SIZE_DEFINITIONS = {
    "total_sd": "model contrast / sqrt(between-patient + residual variance): the difference in units of the SD of "
                "one measurement; CI by the delta method including the variance components' sampling variance",
    "d_z": "Cohen's d_z: mean / SD of the within-patient differences a - b (patients observed on both); exact CI "
           "from the noncentral t distribution",
    "g_av": "Hedges' g_av: mean within-patient difference / sqrt((s_a^2 + s_b^2) / 2), small-sample corrected; "
            "CI from Bonett's (2015) variance",
}


def analysis_steps(*, sensitivity: bool = True) -> tuple[str, ...]:
    """The step descriptions ``run_analysis`` will report (size a progress bar with it)."""
    return ANALYSIS_STEPS if sensitivity else ANALYSIS_STEPS[:-1]


def _study(data: TrialData, protocol: Protocol) -> dict[str, Any]:
    return {
        "protocol_id": protocol.study.id,
        "title": protocol.study.title,
        "registration": protocol.study.registration,
        "reference": protocol.study.reference,
        "arms": [{"code": a.code, "name": a.name, "placebo": a.is_placebo, "active": a.code in active_arms(protocol)}
                 for a in protocol.arms],
        "reference_arm": reference_arm(protocol),
        "active_arms": list(active_arms(protocol)),
        "n_patients": int(data.allocation["patient_id"].nunique()),
        "periods": protocol.design.periods,
        "period_days": protocol.design.period_days,
        "design": protocol.design.kind,
    }


def _settings(protocol: Protocol, seed: int) -> dict[str, Any]:
    a = protocol.analysis
    primary, other = model_order(protocol)
    axis = protocol.auc.time_axis
    time_axis = (
        "day 0 = infusion day, anchored by the period's pre-infusion pain; diary day d = d days after the "
        "infusion; an AUC up to day W covers W one-day intervals (W + 1 points)"
        if axis == "infusion" else
        "the curve starts at diary day 1 (no pre-infusion anchor); an AUC up to day W covers W - 1 intervals"
    )
    imputation_words = {"none": "no imputation (AUC missing if any day of the window is missing)",
                        "locf": "last observation carried forward (the pre-infusion pain counts as an observation)",
                        "linear": "linear interpolation between observed days"}
    return {
        "model": primary,
        "other_model": other,
        "models": {"paper": "treatment + sequence + (1 | patient) (the published specification)",
                   "standard": "treatment + period + sequence + (1 | patient)"},
        "carryover": a.carryover,
        "carryover_words": {"none": "no carry-over term",
                            "include": "first-order carry-over terms in the model",
                            "test-drop": f"first-order carry-over tested (P < {a.alpha} keeps it) and dropped when "
                                         "not significant (two-stage testing, Freeman 1989)"}[a.carryover],
        "df_method": a.df_method,
        "estimation": "REML",
        "alpha": a.alpha,
        "conf_level": a.conf_level,
        "multiplicity": a.multiplicity,
        "pairwise_rule": f"pairwise comparisons ({a.multiplicity}-adjusted) are shown when the omnibus "
                         f"treatment P < {a.alpha}; all are computed",
        "log_rule": f"when Shapiro-Wilk rejects normality of the conditional residuals (P < {a.alpha}) the model "
                    "is refitted on log(outcome) and that fit is used (contrasts become ratios of geometric means)",
        "descriptives": f"mean ± SD, or median [IQR] when Shapiro-Wilk rejects normality (P < {a.alpha})",
        "auc_method": "trapezoidal rule",
        "auc_units": "score-days",
        "auc_time_axis": axis,
        "auc_time_axis_words": time_axis,
        "imputation": {e.name: {"value": e.value, "window_day": e.window_day, "impute": e.impute,
                                "words": imputation_words[e.impute], "kind": e.kind} for e in protocol.endpoints},
        "primary_endpoint": protocol.primary_endpoint.name,
        "baseline_avg_pain": "pre-infusion pain (NRS 0-10) on the day of the first infusion (period 1)",
        "table1_variables": list(TABLE1_VARIABLES),
        "responder_days": [d for d, _ in responder_days(protocol)],
        "responder_definitions": dict(DEFINITIONS),
        "responder_model": "logistic mixed model, responder ~ treatment (+ period in the standard model) + "
                           "(1 | patient), adaptive Gauss-Hermite quadrature, Wald z tests; odds ratios vs the "
                           "reference arm",
        "effect_size_definitions": dict(EFFECT_SIZE_DEFINITIONS),
        "headline_effect_size": HEADLINE_EFFECT,
        "consecutive_test": "Welch two-sample t-test (headline) and Mann-Whitney U test on the per-patient sum "
                            "of the two active arms' primary-endpoint AUC",
        "related_causalities": list(RELATED),
        "table3_model": primary,
        "blinding_index": "Bang, Ni & Davis (2004): BI = (n correct - n incorrect) / n guesses incl. don't know",
        "seed": seed,
        "sensitivity": sensitivity_settings(protocol),
    }


def run_analysis(
    data: TrialData,
    protocol: Protocol,
    *,
    seed: int = 20200154,
    sensitivity: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> AnalysisResults:
    """Run the statistical analysis plan of ``protocol`` on ``data``.

    Parameters
    ----------
    data : TrialData
        The trial (allocation and diary required; other tables may be empty).
    protocol : Protocol
        Arms, time axis, endpoints and ``[analysis]`` settings.
    seed : int, default 20200154
        Seed of the random parts (the missing-data sensitivity analyses); recorded in
        ``settings["seed"]``.
    sensitivity : bool, default True
        Run the missing-data sensitivity analyses (likelihood-based MAR analysis, multiple
        imputation, tipping point). ``False`` skips them: ``results.sensitivity`` is empty.
    on_step : callable, optional
        Called with each step's description (:data:`ANALYSIS_STEPS`) before it runs.

    Returns
    -------
    AnalysisResults

    Raises
    ------
    DataError
        Data that do not fit the protocol (an allocation arm that is not a protocol arm, a
        period above the protocol's periods, a missing diary item), an empty allocation, or
        invalid blinding guesses.

    Notes
    -----
    Every warning raised by the statistics (carry-over pre-test, singular fits, missing
    AUCs) and every note of the plan (a model not fitted, an inestimable logistic model, rows
    left out) is a record in ``results.warnings`` (:class:`AnalysisWarning`: section,
    outcome, model, kind, message); nothing is dropped silently. See ``docs/analysis.md``.
    """
    check_inputs(data, protocol)
    steps = iter(analysis_steps(sensitivity=sensitivity))

    def step() -> None:
        name = next(steps)
        if on_step is not None:
            on_step(name)

    check_option("seed", seed, SEED, error=DataError)
    log = WarningLog()
    step()
    study = _study(data, protocol)
    settings = _settings(protocol, seed)
    screening = data.screening
    flow = None
    consort: dict[str, Any] = {}
    if screening.empty:
        log.note("no_screening_log", "the screening log is empty; no flow diagram", section="consort")
    else:
        try:
            with log.catch(section="consort"):
                flow = consort_flow(screening, data.allocation, diary=data.diary, periods=protocol.design.periods)
            consort = flow.to_dict()
        except DataError as exc:
            log.note("consort_not_computed", f"not computed: {exc}", section="consort")

    step()
    t1_cont, t1_counts = table1(data)
    before, before_fits = pain_before(data, protocol, log)

    step()
    aucs = endpoint_aucs(data, protocol, log)
    t2, t2_fits = table2(aucs, protocol, log)

    step()
    resp = responders(aucs, data.allocation, protocol, log)
    consec = consecutive_active(aucs, protocol, log)

    step()
    scores, t3, t3_fits = questionnaires(data, protocol, log)

    step()
    safety = adverse_events(data, protocol, log)
    table4 = added_analgesics(data, protocol)

    step()
    blind, blind_overall = blinding(data, protocol)
    curves = daily_curves(data, protocol)

    sens: Mapping[str, pd.DataFrame] = {}
    if sensitivity:
        step()
        sens = _sensitivity(data, protocol, settings, seed)

    models, contrasts, effects = frames([*before_fits, *t2_fits, *t3_fits])
    return AnalysisResults(
        study=MappingProxyType(study),
        settings=MappingProxyType(settings),
        consort=MappingProxyType(consort),
        consort_flow=flow,
        table1_continuous=t1_cont,
        table1_counts=t1_counts,
        pain_before=before,
        patient_auc=aucs,
        table2=t2,
        models=models,
        contrasts=contrasts,
        effect_sizes=effects,
        consecutive_patients=consec["consecutive_patients"],
        consecutive_summary=consec["consecutive_summary"],
        consecutive_tests=consec["consecutive_tests"],
        responder_patients=resp["responder_patients"],
        responders=resp["responders"],
        responder_models=resp["responder_models"],
        questionnaire_scores=scores,
        table3=t3,
        ae_by_term=safety["ae_by_term"],
        ae_by_arm=safety["ae_by_arm"],
        ae_models=safety["ae_models"],
        ae_overall=MappingProxyType(safety["ae_overall"]),
        added_analgesics=table4,
        blinding=blind,
        blinding_overall=MappingProxyType(blind_overall),
        daily_curves=curves,
        sensitivity=MappingProxyType(dict(sens)),
        warnings=log.records,
    )


def _sensitivity(data: TrialData, protocol: Protocol, settings: Mapping[str, Any], seed: int) -> Mapping[str, pd.DataFrame]:
    """The missing-data sensitivity section (module ``_sensitivity``, written separately)."""
    from ._sensitivity import _sensitivity_section  # the one place the section plugs in

    return _sensitivity_section(data, protocol, settings, seed)

"""``run_analysis``: the whole statistical analysis plan, section by section."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from ketapain._options import SEED, check_option
from ketapain.data import CheckResult, TrialData
from ketapain.errors import DataError
from ketapain.operations import consort_flow
from ketapain.protocol import Protocol

from ._baseline import TABLE1_VARIABLES, pain_before, table1
from ._binary import NAGQ
from ._blinding import blinding
from ._common import active_arms, check_inputs, numeric_diary_items, reference_arm
from ._daily import daily_curves
from ._endpoints import (
    CONSECUTIVE_TESTS,
    consecutive_active,
    endpoint_aucs,
    model_order,
    table2,
)
from ._fits import HEADLINE_EFFECT, frames
from ._questionnaires import questionnaires
from ._responders import responder_days, responders
from ._results import AnalysisResults
from ._safety import RELATED, added_analgesics, adverse_events
from ._sensitivity import sensitivity_settings
from ._settings import (
    CROSSOVER_MODELS,
    EFFECT_SIZE_KINDS,
    RESPONDER_DEFINITIONS,
    AnalysisSettings,
    EndpointSetting,
)
from ._warnings import CHECK_COLUMNS, ModelCheckRecord, WarningLog

__all__ = ["ANALYSIS_STEPS", "analysis_settings", "analysis_steps", "run_analysis"]

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

def analysis_steps(*, sensitivity: bool = True) -> tuple[str, ...]:
    """The step descriptions ``run_analysis`` will report (size a progress bar with it)."""
    return ANALYSIS_STEPS if sensitivity else ANALYSIS_STEPS[:-1]


def _study(data: TrialData, protocol: Protocol) -> dict[str, Any]:
    """``results.study``; ``diary_scale`` ([low, high]) only when the protocol's is not the NRS 0..10
    (absent: 0..10, so the reference study's results are as they were)."""
    scale = {} if protocol.diary.scale == (0.0, 10.0) else {"diary_scale": list(protocol.diary.scale)}
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
        **scale,
    }


def analysis_settings(protocol: Protocol, *, seed: int) -> AnalysisSettings:
    """The settings of the plan for ``protocol``: the ``[analysis]``, ``[auc]`` and
    ``[[endpoints]]`` values and the plan's fixed choices (``results.settings``).

    Parameters
    ----------
    protocol : Protocol
        The protocol whose analysis plan is described.
    seed : int
        Seed of the random parts, recorded as ``settings.seed``.

    Returns
    -------
    AnalysisSettings
        Values only (names and numbers); the report words them.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> s = analysis_settings(load_protocol("ketapain"), seed=1)
    >>> s.model, s.df_method, s.alpha, s.endpoint("auc_avg_pain_d35").impute
    ('paper', 'kenward-roger', 0.05, 'locf')
    >>> s.models["paper"].fixed, s.responder_days
    (('treatment', 'sequence'), (7, 35))
    """
    a = protocol.analysis
    primary, other = model_order(protocol)
    return AnalysisSettings(
        model=primary, other_model=other, models=CROSSOVER_MODELS, carryover=a.carryover, df_method=a.df_method,
        estimation="REML", alpha=a.alpha, conf_level=a.conf_level, multiplicity=a.multiplicity, log_rule=True,
        descriptives="mean_sd_or_median_iqr", auc_method="trapezoid", auc_units="score-days",
        auc_time_axis=protocol.auc.time_axis,
        endpoints=tuple(EndpointSetting(e.name, e.value, e.window_day, e.impute, e.kind) for e in protocol.endpoints),
        primary_endpoint=protocol.primary_endpoint.name, table1_variables=TABLE1_VARIABLES,
        responder_days=tuple(d for d, _ in responder_days(protocol)), responder_definitions=RESPONDER_DEFINITIONS,
        logistic_nagq=NAGQ, effect_sizes=EFFECT_SIZE_KINDS, headline_effect_size=HEADLINE_EFFECT,
        consecutive_tests=CONSECUTIVE_TESTS, related_causalities=RELATED, table3_model=primary,
        blinding_index="bang", seed=seed, sensitivity=sensitivity_settings(protocol),
    )


def run_analysis(
    data: TrialData,
    protocol: Protocol,
    *,
    seed: int = 20200154,
    sensitivity: bool = True,
    on_step: Callable[[str], None] | None = None,
    data_check: CheckResult | None = None,
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
        ``results.settings.seed``.
    sensitivity : bool, default True
        Run the missing-data sensitivity analyses (likelihood-based MAR analysis, multiple
        imputation, tipping point). ``False`` skips them: ``results.sensitivity`` is empty.
    on_step : callable, optional
        Called with each step's description (:data:`ANALYSIS_STEPS`) before it runs.
    data_check : CheckResult, optional
        The data check of ``data`` against ``protocol`` (:func:`ketapain.data.check_trial`,
        as ``ketapain analyze`` runs it first): its warnings (including the kinds made lenient)
        become records of section ``data``, kind ``data_check``. Its errors are refused.

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
    check_option("seed", seed, SEED, error=DataError)
    data = numeric_diary_items(data, protocol)
    step = _stepper(analysis_steps(sensitivity=sensitivity), on_step)
    log = WarningLog()
    if data_check is not None:
        data_check.raise_if_errors()
        for problem in data_check.warnings():
            log.note("data_check", str(problem), section="data", outcome=problem.kind)
    step()
    settings = analysis_settings(protocol, seed=seed)
    parts: dict[str, Any] = {"study": MappingProxyType(_study(data, protocol)), "settings": settings,
                             **_consort(data, protocol, log)}
    step()
    parts["table1_continuous"], parts["table1_counts"] = table1(data)
    parts["pain_before"], before_fits = pain_before(data, protocol, log)
    step()
    aucs = parts["patient_auc"] = endpoint_aucs(data, protocol, log)
    parts["table2"], t2_fits = table2(aucs, protocol, log)
    step()
    parts.update(responders(aucs, data.allocation, data.diary, protocol, log))
    parts.update(consecutive_active(aucs, protocol, log))
    step()
    parts["questionnaire_scores"], parts["table3"], t3_fits = questionnaires(data, protocol, log)
    step()
    safety = adverse_events(data, protocol, log)
    parts.update(safety, ae_overall=MappingProxyType(safety["ae_overall"]))
    parts["added_analgesics"] = added_analgesics(data, protocol)
    step()
    parts["blinding"], overall = blinding(data, protocol)
    parts["blinding_overall"] = MappingProxyType(overall)
    parts["daily_curves"] = daily_curves(data, protocol)
    sens: Mapping[str, pd.DataFrame] = {}
    if sensitivity:
        step()
        sens = _sensitivity(data, protocol, settings, seed)
    parts["models"], parts["contrasts"], parts["effect_sizes"] = frames([*before_fits, *t2_fits, *t3_fits])
    parts["model_checks"] = model_checks_frame(log.checks)
    return AnalysisResults(**parts, sensitivity=MappingProxyType(dict(sens)), warnings=log.records)


def model_checks_frame(checks: tuple[ModelCheckRecord, ...]) -> pd.DataFrame:
    """``results.model_checks``: one row per checked fit (``CHECK_COLUMNS``; ``day`` nullable)."""
    frame = pd.DataFrame([c.to_dict() for c in checks], columns=list(CHECK_COLUMNS))
    frame["day"] = frame["day"].astype("Int64")
    return frame


def _stepper(steps: tuple[str, ...], on_step: Callable[[str], None] | None) -> Callable[[], None]:
    """A function that reports the next of ``steps`` to ``on_step`` each time it is called."""
    names = iter(steps)

    def step() -> None:
        name = next(names)
        if on_step is not None:
            on_step(name)

    return step


def _consort(data: TrialData, protocol: Protocol, log: WarningLog) -> dict[str, Any]:
    """``consort`` and ``consort_flow``: the flow of the screening log; without one (screening
    not recorded) the flow starts at randomisation and its screening counts are None."""
    screening: pd.DataFrame | None = data.screening
    if data.screening.empty:
        log.note("no_screening_log", "the screening log is empty; the flow diagram says screening was not recorded",
                 section="consort")
        screening = None
    try:
        with log.catch(section="consort"):
            flow = consort_flow(screening, data.allocation, diary=data.diary, periods=protocol.design.periods)
    except DataError as exc:
        log.note("consort_not_computed", f"not computed: {exc}", section="consort")
        return {"consort": MappingProxyType({}), "consort_flow": None}
    return {"consort": MappingProxyType(flow.to_dict()), "consort_flow": flow}


def _sensitivity(data: TrialData, protocol: Protocol, settings: AnalysisSettings, seed: int) -> Mapping[str, pd.DataFrame]:
    """The missing-data sensitivity section (module ``_sensitivity``, written separately)."""
    from ._sensitivity import _sensitivity_section  # the one place the section plugs in

    return _sensitivity_section(data, protocol, settings, seed)

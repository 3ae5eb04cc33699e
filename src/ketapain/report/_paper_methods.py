"""The report's sentences about methods, written from the analysis settings (values, never
sentences: :class:`~ketapain.analysis.AnalysisSettings`), and the Summary and
Methods sections made of them. Table notes use the same sentences, so a rule reads the same
everywhere.

The Methods section describes exactly the analyses whose results are in the
:class:`~ketapain.analysis.AnalysisResults`: a paragraph appears only when its analysis ran
(crossover models when fits are present, the comparison model only when it was fitted,
effect sizes, responders and their logistic mixed models, consecutive periods, questionnaires,
the adverse-event model, blinding, each missing-data sensitivity analysis, the seed only when
a randomised step ran), and lists what ran (the endpoints of Table 2, the effect-size kinds,
responder days and definitions, tests) as the results frames hold them.

Examples
--------
>>> from ketapain.analysis import analysis_settings
>>> from ketapain.protocol import load_protocol
>>> s = analysis_settings(load_protocol("ketapain"), seed=1)
>>> model_formula(s, "paper", {"protocol_id": "ketapain"})
'treatment + sequence + (1 | patient) (the published specification)'
>>> model_formula(s, "paper", {"protocol_id": "other"})
'treatment + sequence + (1 | patient)'
>>> carryover_words(s)
'first-order carry-over tested (P < 0.05 keeps it) and dropped when not significant (two-stage testing, Freeman 1989)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import pandas as pd

from ketapain.analysis import AnalysisResults, AnalysisSettings, ResponderDefinition

from ._document import Paragraph, Section
from ._format import DIGITS, _p_text, format_count, format_describe, plural, row_kind
from ._paper_labels import (
    df_label,
    df_method_label,
    endpoint_label,
    endpoint_order,
    fit_value,
    is_reference_study,
    model_name,
    records,
    scale_label,
    sentence,
    used_fits,
)

__all__ = [
    "auc_method_words",
    "blinding_index_words",
    "carryover_words",
    "consecutive_test_words",
    "descriptives_words",
    "effect_size_words",
    "glmm_rows_left_out",
    "imputation_words",
    "log_rule_words",
    "methods_section",
    "model_formula",
    "pairwise_rule_words",
    "seq_by_treatment_words",
    "responder_definition_words",
    "responder_model_words",
    "summary_section",
    "time_axis_words",
]

_TIME_AXIS = {
    "infusion": "day 0 = infusion day, anchored by the period's pre-infusion pain; diary day d = d days after the "
                "infusion; an AUC up to day W covers W one-day intervals (W + 1 points)",
    "diary": "the curve starts at diary day 1 (no pre-infusion anchor); an AUC up to day W covers W - 1 intervals",
}
_IMPUTATION = {"none": "no imputation (AUC missing if any day of the window is missing)",
               "locf": "last observation carried forward (the pre-infusion pain counts as an observation)",
               "linear": "linear interpolation between observed days"}
_EFFECT_SIZES = {
    "total_sd": "model contrast / sqrt(between-patient + residual variance): the difference in units of the SD of "
                "one measurement; CI by the delta method including the variance components' sampling variance",
    "d_z": "Cohen's d_z: mean / SD of the within-patient differences a - b (patients observed on both); exact CI "
           "from the noncentral t distribution",
    "d_model": "model-based standardised difference d_model: the mixed model's treatment contrast / sqrt(between-"
               "patient + residual variance of that model), the difference in units of the SD of one measurement; "
               "CI = the model's CI of the contrast divided by the same SD (taken as fixed), so it excludes 0 exactly "
               "when the model's CI does",
    "g_av": "Hedges' g_av: mean within-patient difference / sqrt((s_a^2 + s_b^2) / 2), small-sample corrected; "
            "CI from Bonett's (2015) variance",
}
_CONSECUTIVE_TESTS = {"welch_t": "Welch two-sample t-test", "mann_whitney_u": "Mann-Whitney U test"}
_BLINDING_INDEX = {"bang": "Bang, Ni & Davis (2004): BI = (n correct - n incorrect) / n guesses incl. don't know"}
_AUC_METHODS = {"trapezoid": "trapezoidal rule"}
#: What the Table 1 variables that are not plain columns of ``patients`` are.
TABLE1_DEFINITIONS = {"baseline_avg_pain": "pre-infusion pain (NRS 0-10) on the day of the first infusion (period 1)"}


def table1_definition(variable: str, study: Mapping[str, Any]) -> str:
    """:data:`TABLE1_DEFINITIONS` of ``variable`` on the study's diary scale (:func:`scale_label`)."""
    return TABLE1_DEFINITIONS[variable].replace("NRS 0-10", scale_label(study))


def _tipping_unit(study: Mapping[str, Any]) -> str:
    """Nothing on the NRS 0..10 (the deltas' own unit); else the scale they were rescaled to."""
    label = scale_label(study)
    return "" if label == "NRS 0-10" else (f" on the {label} (the -3 to +3 NRS points of the plan times the "
                                           "scale's range / 10)")


def model_formula(settings: AnalysisSettings, model: str, study: Mapping[str, Any]) -> str:
    """A crossover model's terms as a formula (``treatment + sequence + (1 | patient)``); the
    reference study's ``paper`` model is marked as the published specification."""
    terms = settings.models[model]
    text = " + ".join([*terms.fixed, *(f"(1 | {r})" for r in terms.random)])
    return text + " (the published specification)" if model == "paper" and is_reference_study(study) else text


def carryover_words(settings: AnalysisSettings) -> str:
    """The carry-over strategy in words."""
    return {"none": "no carry-over term",
            "include": "first-order carry-over terms in the model",
            "test-drop": f"first-order carry-over tested (P < {settings.alpha} keeps it) and dropped when not "
                         "significant (two-stage testing, Freeman 1989)"}.get(settings.carryover, settings.carryover)


def pairwise_rule_words(settings: AnalysisSettings) -> str:
    """When pairwise comparisons are shown."""
    adjusted = "unadjusted" if settings.multiplicity == "none" else f"{settings.multiplicity}-adjusted"
    return (f"pairwise comparisons ({adjusted}) are shown when the omnibus treatment "
            f"P < {settings.alpha}; all are computed")


def _multiplicity_words(settings: AnalysisSettings) -> str:
    if settings.multiplicity == "sidak":
        return ("Sidak adjustment over the m pairwise comparisons of an outcome: P_adj = 1 - (1 - P)^m, intervals at "
                "level conf_level^(1/m)")
    return f"multiplicity adjustment: {settings.multiplicity}"


def log_rule_words(settings: AnalysisSettings) -> str:
    """The log-transform rule in words."""
    if not settings.log_rule:
        return "not applied (every model is fitted on the outcome as recorded)"
    return (f"when Shapiro-Wilk rejects normality of the conditional residuals (P < {settings.alpha}) the model is "
            "refitted on log(outcome) and that fit is used (contrasts become ratios of geometric means)")


def descriptives_words(settings: AnalysisSettings) -> str:
    """How groups are described."""
    if settings.descriptives == "mean_sd_or_median_iqr":
        return (f"mean ± SD, or median [IQR] when Shapiro-Wilk rejects normality (P < {settings.alpha}) in any group "
                "of a table row (then for every group of that row)")
    return settings.descriptives


def auc_method_words(settings: AnalysisSettings) -> str:
    """``trapezoidal rule``."""
    return _AUC_METHODS.get(settings.auc_method, settings.auc_method)


def time_axis_words(settings: AnalysisSettings) -> str:
    """What the AUC's time axis means."""
    return _TIME_AXIS.get(settings.auc_time_axis, settings.auc_time_axis)


def imputation_words(impute: str) -> str:
    """What an endpoint's imputation does with missing diary days."""
    return _IMPUTATION.get(impute, impute)


def effect_size_words(kind: str) -> str:
    """The definition of an effect size."""
    return _EFFECT_SIZES.get(kind, kind)


def responder_definition_words(definition: ResponderDefinition) -> str:
    """A responder definition in words."""
    source = f" ({definition.source})" if definition.source else ""
    if definition.min_reduction_pct is None:
        return ("mean pain of the window's diary days (days 1 to W, without the pre-infusion score) below the period's "
                f"pre-infusion pain{source}")
    return (f"mean pain of the window's diary days at least {definition.min_reduction_pct:g}% below the period's "
            f"pre-infusion pain{source}")


def responder_model_words(settings: AnalysisSettings, outcome: str = "responder", *, left_out: bool = False) -> str:
    """The logistic mixed model of responders (``outcome`` names the binary outcome of another
    such model: the adverse events'), with the linear models' fixed effects
    (``settings.models[m].fixed``); ``left_out`` adds that the rows of sequences whose patients
    all had the same outcome were left out (it happened in at least one fit)."""
    terms = {m: settings.models[m].fixed for m in (settings.model, settings.other_model) if m in settings.models}
    base = terms.get(settings.model, ("treatment",))
    extra = [t for t in terms.get(settings.other_model, ()) if t not in base]
    fixed = " + ".join(base) + (f" (+ {' + '.join(extra)} in the {settings.other_model} model)" if extra else "")
    nagq = settings.logistic_nagq
    text = (f"logistic mixed model, {outcome} ~ {fixed} + (1 | patient), the fixed effects of the linear models, "
            f"adaptive Gauss-Hermite quadrature with {nagq} points (nAGQ {nagq}), Wald z tests; odds ratios vs the "
            "reference arm")
    if left_out:
        text += ("; the rows of a sequence (or period) whose patients all had the same outcome are left out of that "
                 "fit (their coefficient would diverge; the treatment odds ratios are the limit of the fit)")
    return text


def glmm_rows_left_out(frame: pd.DataFrame) -> bool:
    """Whether a fit of a GLMM results frame (``responder_models``, ``ae_models``) left rows out
    (its note says "left out": a ``rows_left_out`` note of the analysis)."""
    return "note" in frame.columns and bool(frame["note"].astype(str).str.contains("left out", regex=False).any())


def consecutive_test_words(settings: AnalysisSettings, tests: Sequence[str] | None = None) -> str:
    """The tests of consecutive versus separated active periods (the first is the headline);
    ``tests`` (default: the settings') names those that ran."""
    first, *others = (_CONSECUTIVE_TESTS.get(t, t) for t in (settings.consecutive_tests if tests is None else tests))
    rest = "".join(f" and {t}" for t in others)
    return f"{first} (headline){rest} on the per-patient sum of the two active arms' primary-endpoint AUC"


def blinding_index_words(settings: AnalysisSettings) -> str:
    """The blinding index and its formula."""
    return _BLINDING_INDEX.get(settings.blinding_index, settings.blinding_index)


# --------------------------------------------------------------------------- summary

def _primary_sentence(results: AnalysisResults) -> str:
    s = results.settings
    t2 = results.table2
    rows = t2[t2["endpoint"] == s.primary_endpoint]
    arms = ", ".join(f"{r['treatment']} {format_describe(r, DIGITS['auc'], kind=row_kind(rows))}" for r in records(rows))
    p = fit_value(used_fits(results.models, "table2"), (s.primary_endpoint, s.model), "treatment_p")
    return (f"{endpoint_label(s, s.primary_endpoint, impute=False)}: {arms} {s.auc_units}; omnibus {_p_text(p)} "
            f"({model_name(s.model, results.study)}, {df_label(s)} df).")


def _analysed(n: Any) -> str:
    return f"{format_count(n, 'patient')} {plural(n, 'was', 'were')} analysed"


def summary_section(results: AnalysisResults) -> Section:
    """Design, n, the primary endpoint in one sentence, the pairwise gate, the warnings count."""
    st, s = results.study, results.settings
    arms = ", ".join(f"{a['code']} = {a['name']}" for a in st["arms"])
    text = [f"{st['title']}. Randomised {st['periods']}-period crossover ({st['design'].replace('_', ' ')} design), "
            f"periods of {format_count(st['period_days'], 'day')}; arms {arms}; reference arm {st['reference_arm']}. "
            f"{sentence(_analysed(st['n_patients']))}.", _primary_sentence(results)]
    c = results.contrasts
    shown = c[(c["section"] == "table2") & (c["outcome"] == s.primary_endpoint) & (c["model"] == s.model)
              & c["used"].astype(bool)]
    if len(shown) and bool(shown["shown"].any()):
        text.append(f"The omnibus test passed the gate (P < {s.alpha}): pairwise comparisons are reported.")
    else:
        text.append(f"The omnibus test did not pass the gate (P < {s.alpha}): pairwise comparisons are computed "
                    "but not interpreted.")
    if results.warnings:
        n = len(results.warnings)
        text.append(f"{format_count(n, 'warning or note', 'warnings or notes')} {plural(n, 'was', 'were')} raised during "
                    "the analysis (see Warnings).")
    return Section("Summary", tuple(Paragraph(t) for t in text), key="summary")


# --------------------------------------------------------------------------- methods

def _design_paragraph(results: AnalysisResults) -> str:
    st = results.study
    arms = "; ".join(f"{a['code']} ({a['name']}{', placebo' if a['placebo'] and 'placebo' not in a['name'].lower() else ''})"
                     for a in st["arms"])
    return (f"Design. {st['design'].replace('_', ' ').capitalize()} crossover with {format_count(st['periods'], 'period')} "
            f"of {format_count(st['period_days'], 'day')}; arms: {arms}. Reference arm {st['reference_arm']}; active arms: "
            f"{', '.join(st['active_arms']) or 'none'}. {sentence(_analysed(st['n_patients']))}.")


def _other_df(results: AnalysisResults) -> str:
    """The tests that ran without the linear mixed models' df method, each named with its own."""
    others = []
    if not results.responder_models.empty or not results.ae_models.empty:
        others.append("the logistic mixed models use Wald z tests")
    if "welch_t" in set(results.consecutive_tests.get("test", ())):
        others.append("the Welch t-test, Welch-Satterthwaite df")
    if results.sensitivity:
        others.append("the missing-data sensitivity analyses state their own df below")
    return f" ({'; '.join(others)})" if others else ""


def seq_by_treatment_words(settings: AnalysisSettings, study: Mapping[str, Any]) -> str:
    """What the sequence x treatment check tests: with no period term it contains the period effect."""
    without = [model_name(m, study) for m, terms in settings.models.items() if "period" not in terms.fixed]
    text = ("the sequence × treatment interaction was tested by adding it to each model; in a crossover, sequence and "
            "treatment together fix the period")
    if without:
        text += (f", so in a model without a period term ({', '.join(without)}) this test contains the period effect "
                 "and is mostly a test of period")
    return text


def _in_order(values: pd.Series, order: Sequence[Any]) -> list[Any]:
    """The distinct ``values``, in ``order`` first (then in order of appearance)."""
    present = list(pd.unique(values))
    return [v for v in order if v in present] + [v for v in present if v not in order]


def _model_paragraphs(results: AnalysisResults, conf: str) -> list[str]:
    """Crossover models, pairwise comparisons, log rule and ICC: only when crossover fits ran."""
    s, st, models = results.settings, results.study, results.models
    if models.empty:
        return []
    fitted = set(models["model"])
    also = (f" Also fitted, for comparison ({model_name(s.other_model, st)}): {model_formula(s, s.other_model, st)}."
            if s.other_model in fitted else "")
    out = [
        f"Models. Treatments were compared with linear mixed models for crossover designs fitted by "
        f"{s.estimation}. The protocol's model ({model_name(s.model, st)}): {model_formula(s, s.model, st)}.{also} "
        f"Degrees of freedom of these models' F and t tests and intervals: {df_label(s)} method{_other_df(results)}. "
        f"Carry-over: {carryover_words(s)}. {sentence(seq_by_treatment_words(s, st))}. "
        f"Two-sided tests at alpha {s.alpha}; {conf} confidence intervals."]
    if not results.contrasts.empty:
        out.append(f"Pairwise comparisons. {sentence(pairwise_rule_words(s))}; {_multiplicity_words(s)}. Contrasts are "
                   f"shown as 'x vs y' = x - y with the reference arm second.")
    out.append(f"Log rule: {log_rule_words(s)}.")
    if models["icc"].notna().any():
        out.append("Intraclass correlation (ICC) = between-patient variance / (between-patient + residual variance) of "
                   "the fitted model.")
    return out


def _endpoint_paragraphs(results: AnalysisResults, conf: str) -> list[str]:
    """AUC, imputation per endpoint and effect sizes of the endpoints of Table 2."""
    s = results.settings
    if results.table2.empty:
        return []
    ran = endpoint_order(results)
    imput = "; ".join(f"{endpoint_label(s, e.name, impute=False)} ({e.kind}): {imputation_words(e.impute)}"
                      for e in s.endpoints if e.name in ran)
    out = [f"Area under the curve (AUC): {auc_method_words(s)}, in {s.auc_units}. Time axis ({s.auc_time_axis}): "
           f"{time_axis_words(s)}. Primary endpoint: {endpoint_label(s, s.primary_endpoint)}.",
           f"Missing diary days, per endpoint: {imput}."]
    if not results.effect_sizes.empty:
        kinds = _in_order(results.effect_sizes["kind"], s.effect_sizes)
        effects = "; ".join(f"{k}: {effect_size_words(k)}" for k in kinds)
        headline = f"; headline: {s.headline_effect_size}" if s.headline_effect_size in kinds else ""
        out.append(f"Effect sizes ({conf} CI{headline}): {effects}.")
    return out


def _secondary_paragraphs(results: AnalysisResults) -> list[str]:
    """Responders, consecutive periods, baseline pain, questionnaires, adverse events, blinding."""
    s, st = results.settings, results.study
    out: list[str] = []
    resp = results.responders
    if not resp.empty:
        days = _in_order(resp["day"], s.responder_days)
        ran = set(resp["definition"])
        definitions = "; ".join(f"{d.name}: {responder_definition_words(d)}" for d in s.responder_definitions
                                if d.name in ran)
        rm = results.responder_models
        left_out = glmm_rows_left_out(rm)
        model = f" Model: {responder_model_words(s, left_out=left_out)}." if not rm.empty else ""
        out.append(f"Responders at {plural(len(days), 'day')} {', '.join(map(str, days))}: {definitions}.{model}")
    if not results.consecutive_tests.empty:
        tests = _in_order(results.consecutive_tests["test"], s.consecutive_tests)
        out.append(f"Consecutive versus separated active periods: {consecutive_test_words(s, tests)}.")
    table3_fits = results.models[results.models["section"] == "table3"] if not results.models.empty else results.models
    texts = []
    if "baseline_avg_pain" in set(results.table1_continuous.get("variable", ())):
        texts.append(f"Baseline average pain: {table1_definition('baseline_avg_pain', st)}.")
    if not results.table3.empty and not table3_fits.empty:
        texts.append(f"Questionnaire scores ({{table:table3}}) were compared with the {model_name(s.table3_model, st)}.")
    if texts:
        out.append(" ".join(texts))
    texts = []
    if not results.ae_by_arm.empty:
        texts.append(f"Adverse events counted as treatment-related: causality {', '.join(s.related_causalities)}.")
    if not results.ae_models.empty:
        ae_left_out = glmm_rows_left_out(results.ae_models)
        texts.append(f"Treatment-related adverse events per patient and period: "
                     f"{responder_model_words(s, 'any treatment-related adverse event', left_out=ae_left_out)}.")
    if results.blinding_overall.get("recorded"):
        texts.append(f"Blinding index: {blinding_index_words(s)}.")
    if texts:
        out.append(" ".join(texts))
    return out


_SENSITIVITY_ANALYSES = ("mar_daily_model", "multiple_imputation", "tipping_point")
"""The sensitivity frames that are analyses (the others describe them: missing days, notes)."""


def _terms(terms: Any) -> str:
    return " + ".join([*terms.fixed, *(f"(1 | {r})" for r in terms.random)])


def _sensitivity_paragraph(results: AnalysisResults) -> list[str]:
    """The missing-data sensitivity analyses that ran, each on the endpoints it ran for."""
    s, sens = results.settings, results.settings.sensitivity
    frames = results.sensitivity

    def endpoints(name: str) -> str:
        frame = frames[name]
        names = _in_order(frame["endpoint"], [e.name for e in s.endpoints]) if "endpoint" in frame.columns else []
        return ", ".join(endpoint_label(s, str(e), impute=False) for e in names)

    parts = []
    if "mar_daily_model" in frames:
        parts.append(f"a likelihood-based analysis of the daily pain, valid under missing at random (daily pain ~ "
                     f"{_terms(sens.mar_model)}, {sens.mar_estimation}, {df_method_label(sens.mar_df_method)} "
                     f"df), of {endpoints('mar_daily_model')}")
    if "multiple_imputation" in frames:
        parts.append(f"multiple imputation of the missing diary days under a daily model ({_terms(sens.imputation_model)}; "
                     f"{sens.n_imputations} imputations, each analysed with the {model_name(sens.analysis_model, results.study)}, "
                     f"{df_method_label(sens.analysis_df_method)} df, pooled by "
                     f"{_POOLING.get(sens.pooling, sens.pooling)}), of {endpoints('multiple_imputation')}")
    if "tipping_point" in frames:
        deltas = sens.tipping_deltas
        span = f"{min(deltas):g} to {max(deltas):g}" if deltas else ""
        parts.append(f"a delta-adjusted tipping-point analysis (missing not at random) of {endpoints('tipping_point')}: "
                     f"the imputed days of arms {', '.join(sens.tipping_shift_arms)} shifted by delta = {span} pain points"
                     + _tipping_unit(results.study))
    if not parts:
        return []
    return [f"Missing-data sensitivity analyses: {'; '.join(parts)}."]


_POOLING = {"rubin": "Rubin's rules with Barnard-Rubin df (D1 omnibus test)"}


def _randomised(results: AnalysisResults) -> bool:
    """Whether a randomised step ran (multiple imputation, the tipping point's imputations)."""
    return any(name in results.sensitivity for name in ("multiple_imputation", "tipping_point"))


def methods_section(results: AnalysisResults, provenance: Mapping[str, str]) -> Section:
    """The methods: one paragraph per analysis that ran, each written from ``results.study``,
    ``results.settings`` and what the results frames hold."""
    s = results.settings
    conf = f"{100 * s.conf_level:g}%"
    version = provenance.get("ketapain") or _version()
    seed = f"; random seed {s.seed}" if _randomised(results) else ""
    text = [_design_paragraph(results), *_model_paragraphs(results, conf),
            f"Descriptive statistics: {descriptives_words(s)}.", *_endpoint_paragraphs(results, conf),
            *_secondary_paragraphs(results), *_sensitivity_paragraph(results),
            f"Software: ketapain {version} (Python){seed}."]
    return Section("Methods", tuple(Paragraph(t) for t in text), key="methods")


def _version() -> str:
    try:
        return metadata.version("ketapain")
    except metadata.PackageNotFoundError:  # pragma: no cover - the package is installed in development
        return "unknown"

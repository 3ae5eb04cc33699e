"""Every public function refuses a bad option with an error that names the parameter
(issue 15: "one option validator module ... with one parametrised test that every public
function rejects a bad option naming the parameter").

``BAD`` holds, for every option name used by the public API, a value no function accepts.
``CALLS`` holds, for every public function that has one of those parameters, a call with valid
other arguments. The test then calls each function once per option it has, with the bad value,
and asserts a :class:`~ketapain.errors.KetapainError` whose message names ``<param>=``, as
:func:`ketapain._options.check_option` words it (the CLI renders the same template as a flag).
``test_every_public_function_with_an_option_is_listed`` keeps ``CALLS`` complete.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ketapain.errors import KetapainError, KetapainWarning

PACKAGES = ("stats", "design", "simulate", "operations", "analysis", "report", "instruments", "data", "protocol", "interop")

BAD: dict[str, Any] = {
    "df_method": "bogus",
    "conf_level": 1.5,
    "method": "bogus",
    "model": "bogus",
    "analysis_model": "bogus",
    "seed": -1,
    "missing": "bogus",
    "impute": "bogus",
    "time_axis": "bogus",
    "on_error": "bogus",
    "nagq": 0,
    "alpha": 1.5,
    "power": 1.5,
    "kind": "bogus",
    "carryover": "bogus",
    "sims": 0,
    "n_imputations": 0,
    "quantile_method": "bogus",
    "sides": 3,
    "dropout": 1.5,
    "trials": 0,
    "scale": (10.0, 0.0),
}
"""A value outside every function's allowed set, by parameter name."""


@cache
def pain_auc() -> pd.DataFrame:
    from importlib import resources

    with resources.files("ketapain.examples").joinpath("pain_auc.csv").open(encoding="utf-8") as fh:
        return pd.read_csv(fh)


@cache
def example() -> dict[str, pd.DataFrame]:
    from ketapain.examples import load_example

    return load_example()


@cache
def protocol() -> Any:
    from ketapain.protocol import load_protocol

    return load_protocol("ketapain")


def _stats() -> dict[str, Callable[[dict[str, Any]], Any]]:
    import ketapain.stats as st

    diary, alloc = example()["diary"], example()["allocation"]
    y = np.random.default_rng(1).normal(size=(2, 6, 2))
    trt = np.array([[0, 1], [1, 0]] * 3)
    seq = np.array([0, 1] * 3)
    ya, yb = np.arange(6.0), np.arange(6.0)[::-1] + 1
    mi = {"seed": 1, "n_imputations": 2}
    return {
        "stats.fit_crossover": lambda o: st.fit_crossover(pain_auc(), **o),
        "stats.fit_crossover_batch": lambda o: st.fit_crossover_batch(pain_auc().assign(trial=1), outcome="y", by="trial", **o),
        "stats.fit_crossover_arrays": lambda o: st.fit_crossover_arrays(y, trt, seq, levels=["A", "B"], **o),
        "stats.fit_daily_model": lambda o: st.fit_daily_model(diary, alloc, ref="P", **o),
        "stats.multiple_imputation_auc": lambda o: st.multiple_imputation_auc(diary, alloc, ref="P", **{**mi, **o}),
        "stats.tipping_point_auc": lambda o: st.tipping_point_auc(diary, alloc, ref="P", shift_arms=["K"], deltas=(0.0,),
                                                                  **{**mi, **o}),
        "stats.impute_diary": lambda o: st.impute_diary(diary, alloc, **{**mi, **o}),
        "stats.diary_auc": lambda o: st.diary_auc(diary, **{"time_axis": "first_diary_day", **o}),
        "stats.auc_arrays": lambda o: st.auc_arrays(np.ones((2, 35)), windows=[35], **{"time_axis": "first_diary_day", **o}),
        "stats.auc_day_major": lambda o: st.auc_day_major(np.ones((35, 2)), window=35, **{"time_axis": "first_diary_day", **o}),
        "stats.cohens_dz": lambda o: st.cohens_dz("A", "B", ya, yb, **o),
        "stats.hedges_g_av": lambda o: st.hedges_g_av("A", "B", ya, yb, **o),
        "stats.describe": lambda o: st.describe(ya, **o),
        "stats.describe_by": lambda o: st.describe_by(pain_auc(), value="y", by="treatment", **o),
        "stats.sidak_critical_value": lambda o: st.sidak_critical_value(o.get("conf_level", 0.95), 3, 10.0),
    }


def _other() -> dict[str, Callable[[dict[str, Any]], Any]]:
    import ketapain.analysis as an
    import ketapain.design as de
    import ketapain.operations as op
    import ketapain.report as rp
    import ketapain.simulate as si

    return {
        "design.crossover_power": lambda o: de.crossover_power(12, diff=1.0, sd_within=1.0, **o),
        "design.crossover_sample_size": lambda o: de.crossover_sample_size(1.0, sd_within=1.0, **o),
        "simulate.simulate_trial": lambda o: si.simulate_trial(protocol(), **{"seed": 1, "n_patients": 6, **o}),
        "simulate.simulate_power": lambda o: si.simulate_power(protocol(), **{"n": [6], "sims": 2, "seed": 1, **o}),
        "simulate.calibrate": lambda o: si.calibrate(protocol(), **{"seed": 1, "trials": 2, **o}),
        "operations.kit_codes": lambda o: op.kit_codes(4, **{"seed": 1, "kind": "test", "protocol_id": "x", **o}),
        "operations.make_randomisation_list": lambda o: op.make_randomisation_list(
            [("A", "B"), ("B", "A")], n_patients=4, protocol_id="x", **{"seed": 1, **o}),
        "operations.randomise_protocol": lambda o: op.randomise_protocol(protocol(), n_patients=6, **{"seed": 1, **o}),
        "report.format_describe": lambda o: rp.format_describe(
            {"mean": 6.0, "sd": 2.0, "median": 6.0, "q1": 5.0, "q3": 8.0, "kind": "mean_sd"}, **o),
        "analysis.bang_index": lambda o: an.bang_index(np.array([3]), np.array([2]), np.array([10]), **o),
        "report.plot_daily_means": lambda o: rp.plot_daily_means(
            pd.DataFrame({"treatment": ["A"], "day": [0], "mean": [5.0], "ci_low": [4.0], "ci_high": [6.0]}),
            order=["A"], ylabel="y", **o),
    }


@cache
def calls() -> dict[str, Callable[[dict[str, Any]], Any]]:
    return {**_stats(), **_other()}


EXEMPT: dict[str, str] = {
    "stats.contrast": "takes a fitted model; conf_level is checked by fit_logistic_glmm (listed through fit_crossover --binary)",
    "stats.fit_logistic_glmm": "low-level engine on a design matrix; its options reach it through fit_crossover (listed)",
    "stats.fit_random_intercept": "low-level engine on a design matrix; its options reach it through fit_crossover (listed)",
    "stats.logistic_glmm_loglik": "low-level likelihood of the engine; nagq is checked by fit_crossover (listed)",
    "stats.total_sd_effect": "internal effect-size step fed by fit_crossover (listed)",
    "stats.model_d_effect": "internal effect-size step fed by fit_crossover (listed)",
    "simulate.simulate_diary": "kernel fed by simulate_trial and simulate_power, which check missing (listed)",
    "operations.check_kit_code_kind": "its kind is the kind of a code to check against, validated by the same OneOf",
    "operations.import_pharmacy_list": "reads a file; kind is checked as in make_randomisation_list (listed)",
    "operations.load_randomisation_list": "reads a file; kind is checked as in make_randomisation_list (listed)",
    "operations.resolve_seed": "the seed helper itself (its refusals are tested in tests/operations)",
    "analysis.run_analysis": "seed comes from the protocol-driven pipeline; checked by the functions it calls (listed)",
    "analysis.analysis_settings": "records the settings of run_analysis",
    "report.provenance": "records the seed of a finished run",
    "report.write_trial_report": "writes the report of a finished run",
    "report.plot_tipping_point": "draws a finished tipping-point result (alpha and conf_level refused: tests/report/test_figures.py)",
}
"""Public functions with an option-named parameter that are not called here, and why."""


def public_functions_with_options() -> dict[str, list[str]]:
    out = {}
    for pkg in PACKAGES:
        module = importlib.import_module(f"ketapain.{pkg}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                options = [p for p in inspect.signature(obj).parameters if p in BAD]
                if options:
                    out[f"{pkg}.{name}"] = options
    return out


def test_every_public_function_with_an_option_is_listed() -> None:
    found = public_functions_with_options()
    assert sorted(set(found) - set(calls()) - set(EXEMPT)) == []
    assert sorted((set(calls()) | set(EXEMPT)) - set(found)) == []  # no stale entry


def test_the_calls_are_valid_as_given() -> None:
    """Without a bad option each call succeeds, so a refusal below is the option's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetapainWarning)  # a singular fit of the tiny array example
        for call in calls().values():
            call({})


CASES = [(name, option) for name, options in sorted(public_functions_with_options().items()) if name not in EXEMPT
         for option in options]


@pytest.mark.parametrize(("function", "option"), CASES, ids=[f"{f}-{o}" for f, o in CASES])
def test_a_bad_option_is_refused_naming_the_parameter(function: str, option: str) -> None:
    with pytest.raises(KetapainError) as err:
        calls()[function]({option: BAD[option]})
    assert f"{option}=" in str(err.value), str(err.value)

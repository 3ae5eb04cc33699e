"""The missing-data sensitivity section reproduces the statistics core on the same data.

Reference values are the stats functions called directly (whose own R references live in
tests/reference/daily_lmm) and, for complete data, the primary crossover analysis: with no
missing day, LOCF imputes nothing, so multiple imputation must give back the complete-data
fit exactly (Rubin's rules with B = 0; Barnard-Rubin df = complete-data df).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from threadpoolctl import threadpool_limits

from ketapain.analysis._sensitivity import (
    N_IMPUTATIONS,
    TIPPING_DELTAS,
    _orient,
    _sensitivity_section,
    sensitivity_settings,
)
from ketapain.data import TrialData
from ketapain.errors import KetapainWarning
from ketapain.protocol import Protocol
from ketapain.stats import diary_auc, fit_crossover, fit_daily_model


@pytest.fixture(scope="module")
def section(trial: TrialData, protocol: Protocol) -> dict[str, pd.DataFrame]:
    return _sensitivity_section(trial, protocol, {}, 11)


def test_frames_present_and_for_locf_endpoints_only(section: dict[str, pd.DataFrame], protocol: Protocol) -> None:
    locf = sorted(e.name for e in protocol.endpoints if e.impute == "locf")
    assert locf == ["auc_avg_pain_d35", "auc_max_pain_d35", "auc_night_pain_d35"]
    for name in ("mar_daily_model", "multiple_imputation"):
        frame = section[name]
        assert sorted(frame["endpoint"].unique()) == locf
        assert len(frame) == 3 * len(locf)  # three pairs of arms per endpoint
    assert set(section["tipping_point"]["endpoint"]) == {protocol.primary_endpoint.name}
    assert sorted(section["tipping_point"]["delta"].unique()) == sorted(TIPPING_DELTAS)
    assert (section["multiple_imputation"]["n_imputations"] == N_IMPUTATIONS).all()


def test_daily_model_rows_equal_the_stats_function_oriented_active_minus_reference(
    section: dict[str, pd.DataFrame], trial: TrialData, protocol: Protocol
) -> None:
    # the section limits BLAS to one thread: do the same so the summation order is the same
    with threadpool_limits(limits=1):
        fit = fit_daily_model(trial.diary, trial.allocation, value="night_pain", window=35, ref="P",
                              model=protocol.analysis.model, df_method="satterthwaite")
    direct = fit.auc_contrasts().set_index("contrast")
    mine = section["mar_daily_model"].query("endpoint == 'auc_night_pain_d35'").set_index("contrast")
    # the core reports P - K and P - KM (reference first); the report shows K - P, KM - P
    assert list(mine.index) == ["K - P", "KM - P", "K - KM"]
    for arm in ("K", "KM"):
        assert_allclose(mine.loc[f"{arm} - P", "estimate"], -direct.loc[f"P - {arm}", "estimate"], rtol=1e-8)
        assert_allclose(mine.loc[f"{arm} - P", ["ci_low", "ci_high"]].to_numpy(float),
                        -direct.loc[f"P - {arm}", ["ci_high", "ci_low"]].to_numpy(float), rtol=1e-8)
        assert_allclose(mine.loc[f"{arm} - P", "p_value"], direct.loc[f"P - {arm}", "p_value"], rtol=1e-8)
    assert_allclose(mine.loc["K - KM", "estimate"], direct.loc["K - KM", "estimate"], rtol=1e-8)


def test_complete_data_multiple_imputation_equals_the_primary_analysis(trial: TrialData, protocol: Protocol) -> None:
    diary = trial.diary
    # fill every missing day by its patient-period mean: a complete data set
    for col in ("avg_pain", "max_pain", "night_pain"):
        diary[col] = diary[col].fillna(diary.groupby(["patient_id", "period"])[col].transform("mean")).round()
    complete = TrialData.from_tables(**{**trial.to_tables(), "diary": diary}, meta=dict(trial.meta),
                                     treatments=("P", "K", "KM"))
    out = _sensitivity_section(complete, protocol, {}, 3)
    assert (out["missing_days"]["n_missing_days"] == 0).all()
    auc = diary_auc(complete.diary, windows=[35], impute="none", anchor=complete.allocation)
    frame = auc.merge(complete.allocation, on=["patient_id", "period"]).rename(
        columns={"patient_id": "subject", "auc": "y"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetapainWarning)
        fit = fit_crossover(frame, model=protocol.analysis.model, ref="P", df_method=protocol.analysis.df_method)
    pairs = {f"{c.a} - {c.b}": c for c in fit.contrasts}
    mi = out["multiple_imputation"].query("endpoint == 'auc_avg_pain_d35'").set_index("contrast")
    assert_allclose(mi.loc["K - P", "estimate"], -pairs["P - K"].estimate, rtol=1e-10)
    assert_allclose(mi.loc["K - P", "se"], pairs["P - K"].se, rtol=1e-10)
    assert_allclose(mi.loc["K - KM", "p_value"], pairs["K - KM"].p_value, rtol=1e-8)
    assert (mi["fmi"].abs() < 1e-12).all()


def test_orient_flips_reference_first_contrasts_only() -> None:
    frame = pd.DataFrame({"contrast": ["P - K", "K - KM"], "estimate": [2.0, -1.0], "statistic": [1.5, -0.5],
                          "ci_low": [-1.0, -3.0], "ci_high": [5.0, 1.0], "conclusion": [1, 0]})
    out = _orient(frame, "P")
    assert list(out["contrast"]) == ["K - P", "K - KM"]
    assert list(out["estimate"]) == [-2.0, -1.0]
    assert list(out["statistic"]) == [-1.5, -0.5]
    assert list(out["ci_low"]) == [-5.0, -3.0] and list(out["ci_high"]) == [1.0, 1.0]
    assert list(out["conclusion"]) == [-1, 0]


def test_settings_name_every_choice(protocol: Protocol) -> None:
    s = sensitivity_settings(protocol)
    assert s.tipping_endpoint == "auc_avg_pain_d35"
    assert s.tipping_shift_arms == ("K", "KM")
    assert s.n_imputations == N_IMPUTATIONS
    # the protocol's (paper's) model has sequence, not period; the imputation model has period
    assert s.mar_model.fixed == ("treatment x day", "sequence") and "period" not in s.mar_model.fixed
    assert s.imputation_model.fixed == ("treatment x day", "period")
    assert s.mar_model.random == s.imputation_model.random == ("patient", "patient:period")
    assert np.isclose(min(s.tipping_deltas), -3.0) and np.isclose(max(s.tipping_deltas), 3.0)
    d = s.to_dict()
    assert d["mar_model"] == {"fixed": ["treatment x day", "sequence"], "random": ["patient", "patient:period"]}
    assert d["tipping_shift_arms"] == ["K", "KM"] and d["pooling"] == "rubin"


def test_every_sensitivity_fit_has_a_model_check(section: dict[str, pd.DataFrame], protocol: Protocol) -> None:
    # issue 19: the MAR daily model of every LOCF endpoint, the per-imputation crossover fits of
    # its multiple imputation and (primary endpoint) of the tipping point are checked by the
    # shared degenerate-fit rules: one row each
    checks = section["model_checks"]
    locf = [e.name for e in protocol.endpoints if e.impute == "locf"]
    daily = checks[checks["analysis"] == "mar_daily_model"]
    mi = checks[checks["analysis"] == "multiple_imputation"]
    tipping = checks[checks["analysis"] == "tipping_point"]
    assert list(daily["endpoint"]) == locf and (daily["model"] == "daily").all()
    assert list(mi["endpoint"]) == locf and (mi["model"] == "per_imputation").all()
    assert list(tipping["endpoint"]) == [protocol.primary_endpoint.name]
    assert len(checks) == 2 * len(locf) + 1
    assert (checks["status"] == "ok").all() and (checks["reason"] == "").all()


def test_a_degenerate_imputation_fit_voids_the_pooled_result(trial: TrialData, protocol: Protocol,
                                                            monkeypatch) -> None:
    # one imputation's fit not estimable: Rubin's rules have no valid input, so no MI rows
    # (never a pool of the other imputations), a model-check row and a note naming it
    import ketapain.stats._imputation as imp
    from ketapain.stats import ModelCheck

    real = imp.check_linear_numbers
    calls = {"n": 0}

    def third_fails(**kw):
        calls["n"] += 1
        return ModelCheck("not_estimable", ("a rule tripped",)) if calls["n"] == 3 else real(**kw)

    monkeypatch.setattr(imp, "check_linear_numbers", third_fails)
    import ketapain.analysis._sensitivity as sens

    monkeypatch.setattr(sens, "_tipping_point", lambda run, rows: None)
    out = _sensitivity_section(trial, protocol, {}, 11)
    mi = out["model_checks"][out["model_checks"]["analysis"] == "multiple_imputation"]
    assert mi["status"].iloc[0] == "not_estimable"
    assert mi["reason"].iloc[0] == f"1 of {N_IMPUTATIONS} imputation fits not estimable: imputation 3: a rule tripped"
    assert (mi["status"].iloc[1:] == "ok").all()  # later endpoints: the counter is past 3
    first = next(e.name for e in protocol.endpoints if e.impute == "locf")
    assert first not in set(out["multiple_imputation"]["endpoint"])
    notes = out["notes"][(out["notes"]["analysis"] == "multiple_imputation") & (out["notes"]["endpoint"] == first)]
    assert notes["note"].str.startswith(f"not estimable: 1 of {N_IMPUTATIONS} imputation fits").all() and len(notes) == 1


def test_a_degenerate_daily_model_gives_a_note_and_no_rows(trial: TrialData, protocol: Protocol, monkeypatch) -> None:
    import ketapain.analysis._sensitivity as sens
    from ketapain.stats import ModelCheck

    monkeypatch.setattr(sens, "check_daily_fit", lambda fit: ModelCheck("not_estimable", ("a rule tripped",)))
    monkeypatch.setattr(sens, "_multiple_imputation", lambda run, rows: None)
    monkeypatch.setattr(sens, "_tipping_point", lambda run, rows: None)
    out = _sensitivity_section(trial, protocol, {}, 11)
    assert "mar_daily_model" not in out
    assert (out["model_checks"]["status"] == "not_estimable").all()
    notes = out["notes"][out["notes"]["analysis"] == "mar_daily_model"]
    assert len(notes) == 3 and notes["note"].str.startswith("not estimable: a rule tripped").all()

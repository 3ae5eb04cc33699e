"""ADaM export: ADSL/ADAUC/ADQS content, XPT round trip, and the analysis reproduced from
the re-read ADAUC."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ketapain.analysis import run_analysis
from ketapain.errors import DataError
from ketapain.interop import AdamPackage, read_adam, to_adam, write_adam
from ketapain.interop._adam import auc_paramcds, sas_date
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial
from ketapain.stats import fit_crossover


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial(protocol, completed):
    return completed(simulate_trial(protocol, n_patients=12, seed=5), protocol)


@pytest.fixture(scope="module")
def results(trial, protocol):
    return run_analysis(trial, protocol, sensitivity=False)


@pytest.fixture(scope="module")
def package(trial, protocol) -> AdamPackage:
    return to_adam(trial, protocol)


@pytest.fixture(scope="module")
def reread(package, tmp_path_factory) -> AdamPackage:
    folder = write_adam(package, tmp_path_factory.mktemp("adam") / "adam")
    return read_adam(folder)


def test_round_trip_is_exact(package, reread):
    assert reread.equals(package)
    assert reread.names == ("ADSL", "ADAUC", "ADQS")


def test_adsl_one_row_per_patient_with_period_treatments(package, trial):
    adsl = package["ADSL"].set_index("SUBJID")
    assert len(adsl) == len(trial.patients) and adsl.index.is_unique
    alloc = trial.allocation
    for k in (1, 2, 3):
        got = alloc[alloc["period"] == k].set_index("patient_id")["treatment"]
        assert (adsl.loc[got.index, f"TRT0{k}A"] == got).all()
        assert (adsl.loc[got.index, f"TRT0{k}P"] == got).all()  # simulated: planned = received
    assert (adsl["TRTSEQP"] == adsl["TRT01P"] + "-" + adsl["TRT02P"] + "-" + adsl["TRT03P"]).all()
    # SAS date: 2016-12-13 is 20801 days after 1960-01-01 (hand: 56 years incl. 14 leap days = 20454, + 347)
    assert sas_date(pd.Series(pd.to_datetime(["2016-12-13"]))).iloc[0] == 20801.0
    first = alloc.groupby("patient_id")["infusion_date"].min()
    assert (adsl.loc[first.index, "TRTSDT"] == sas_date(first).to_numpy()).all()
    assert set(adsl["SAFFL"]) == set(adsl["ITTFL"]) == {"Y"}


def test_adauc_equals_the_analysis_auc(package, results):
    adauc = package["ADAUC"]
    codes = auc_paramcds(load_protocol("ketapain"))
    assert codes["auc_avg_pain_d35"] == "AUCAVD35" and len(set(codes.values())) == len(codes)
    ours = adauc.assign(patient_id=adauc["USUBJID"].str.removeprefix("KETAPAIN-"), period=adauc["APERIOD"])
    merged = results.patient_auc.merge(ours, left_on=["endpoint", "patient_id", "period"],
                                       right_on=["ENDPOINT", "patient_id", "period"], validate="one_to_one")
    assert len(merged) == len(results.patient_auc) == len(adauc)
    np.testing.assert_array_equal(merged["AVAL"].to_numpy(), merged["auc"].to_numpy(dtype=float))
    assert (merged["NIMPDAY"] == merged["n_imputed"]).all()
    locf = merged["impute"].eq("locf") & (merged["n_imputed"] > 0)
    assert (merged.loc[locf, "DTYPE"] == "LOCF").all() and (merged.loc[~locf, "DTYPE"] == "").all()
    assert (merged["TRTA"] == merged["treatment"]).all()


def test_fit_on_reread_adauc_equals_fit_on_trialdata(reread, results, protocol):
    """The published model fitted on ADAUC.AVAL read back from XPT gives the same estimates,
    to the last digit, as on run_analysis(...).patient_auc (XPT v5 IBM floats hold IEEE doubles
    of this size exactly: 56-bit mantissa)."""
    adauc = reread["ADAUC"]
    options = protocol.analysis.fit_options()
    for endpoint in ("auc_avg_pain_d35", "auc_avg_pain_d7"):
        a = adauc[adauc["ENDPOINT"] == endpoint]
        mine = pd.DataFrame({"subject": a["USUBJID"], "period": a["APERIOD"].astype(int).astype(str),
                             "sequence": a["TRTSEQP"], "treatment": a["TRTA"], "y": a["AVAL"]})
        b = results.patient_auc[results.patient_auc["endpoint"] == endpoint]
        ref = pd.DataFrame({"subject": "KETAPAIN-" + b["patient_id"], "period": b["period"].astype(str),
                            "sequence": b["sequence"], "treatment": b["treatment"], "y": b["auc"].astype(float)})
        kw = {**options, "carryover": False, "model": "paper", "ref": "P"}
        f1, f2 = fit_crossover(mine, outcome="y", **kw), fit_crossover(ref, outcome="y", **kw)
        pd.testing.assert_frame_equal(f1.to_frame(), f2.to_frame(), check_exact=True)


def test_results_are_used_when_given(trial, protocol, results, package):
    with_results = to_adam(trial, protocol, results=results)
    assert with_results["ADAUC"].equals(package["ADAUC"])
    # ADQS from the analysis' scores holds the same values as the package's own scoring
    a, b = with_results["ADQS"], package["ADQS"]
    key = ["USUBJID", "PARAMCD", "AVISIT"]
    m = a.merge(b, on=key, validate="one_to_one")
    assert len(m) == len(a) == len(b)
    np.testing.assert_array_equal(m["AVAL_x"].to_numpy(), m["AVAL_y"].to_numpy())


def test_adqs_baseline_and_change(package):
    adqs = package["ADQS"]
    base = adqs[adqs["ABLFL"] == "Y"]
    assert set(base["AVISIT"]) == {"INCLUSION"} and (base["CHG"].fillna(0) == 0).all()
    post = adqs[adqs["ABLFL"] == ""]
    np.testing.assert_array_equal(post["CHG"].to_numpy(), (post["AVAL"] - post["BASE"]).to_numpy())
    assert set(post["TRTA"]) == {"P", "K", "KM"}
    assert adqs["PARAMCD"].str.len().max() <= 8


def test_read_adam_errors(tmp_path, package):
    with pytest.raises(DataError, match="no such folder"):
        read_adam(tmp_path / "nothing")
    folder = write_adam(package, tmp_path / "a")
    (folder / "adqs.xpt").unlink()
    with pytest.raises(DataError, match=re.escape("adqs.xpt is missing")):
        read_adam(folder)
    (folder / "adqs.xpt").write_bytes(b"not an xport file at all")
    with pytest.raises(DataError, match="cannot be read as SAS XPORT"):
        read_adam(folder)


def test_results_must_be_analysis_results(trial, protocol):
    with pytest.raises(DataError, match="results must be an AnalysisResults"):
        to_adam(trial, protocol, results={"patient_auc": None})

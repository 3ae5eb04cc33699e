"""Stata export: .dta files read back with their types, labels and values; the do-file names
variables of the .dta."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from ketapain.errors import DataError
from ketapain.interop import write_stata
from ketapain.interop._adam import endpoint_aucs
from ketapain.interop._stata import AUC_FILE, DO_FILE, SCORES_FILE
from ketapain.operations import protocol_sequences, sequence_label
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial(protocol):
    return simulate_trial(protocol, n_patients=8, seed=3)


@pytest.fixture(scope="module")
def folder(trial, protocol, tmp_path_factory):
    return write_stata(trial, protocol, tmp_path_factory.mktemp("stata") / "out")


def test_auc_dta_values_types_and_labels(folder, trial, protocol):
    with pd.io.stata.StataReader(folder / AUC_FILE) as reader:
        frame = reader.read(convert_categoricals=False)
        var_labels = reader.variable_labels()
        value_labels = reader.value_labels()
    assert len(frame) == len(trial.allocation)
    assert pd.api.types.is_integer_dtype(frame["treatment"]) and pd.api.types.is_integer_dtype(frame["period"])
    assert value_labels["treatment"] == {1: "P", 2: "K", 3: "KM"}
    assert len(value_labels["sequence"]) == 6
    assert var_labels["auc_avg_pain_d35"] == "AUC avg_pain d35 locf (score-days)"
    # treatment labels decode back to the allocation
    got = frame.assign(trt=frame["treatment"].map(value_labels["treatment"]))
    alloc = trial.allocation.sort_values(["patient_id", "period"]).reset_index(drop=True)
    assert got["trt"].tolist() == alloc["treatment"].tolist()
    # carry-over: previous period's treatment; period 1 coded as the reference P (= 1)
    assert (frame.loc[frame["period"] == 1, "carryover"] == 1).all()
    prev = got.groupby("patient_id")["treatment"].shift(1)
    later = frame["period"] > 1
    assert (frame.loc[later, "carryover"] == prev[later]).all()
    # AUC values equal the analysis' AUCs exactly
    aucs = endpoint_aucs(trial, protocol)
    for e in protocol.endpoints:
        ref = aucs[aucs["endpoint"] == e.name].set_index(["patient_id", "period"])["auc"]
        ours = frame.set_index(["patient_id", "period"])[e.name]
        np.testing.assert_array_equal(ours.to_numpy(), ref.reindex(ours.index).to_numpy(dtype=float))


def test_scores_dta(folder):
    scores = pd.read_stata(folder / SCORES_FILE)
    assert isinstance(scores["treatment"].dtype, pd.CategoricalDtype)
    assert set(scores["treatment"].dropna()) == {"P", "K", "KM"}
    assert scores.loc[scores["baseline"] == 1, "treatment"].isna().all()
    assert {"bpi", "hads", "sf36"} <= set(scores["instrument"])


def test_do_file_names_variables_of_the_dta(folder, protocol):
    text = (folder / DO_FILE).read_text()
    columns = set(pd.read_stata(folder / AUC_FILE).columns)
    models = [line for line in text.splitlines() if line.startswith("mixed ") and "if outcome" not in line]
    assert len(models) == 3 * len(protocol.endpoints)  # carry-over fit, paper's, standard
    for line in models:
        fixed = line.split("||")[0].split()[1:]
        names = {re.sub(r"^(ib\d+|i)\.", "", tok) for tok in fixed}
        assert names <= columns, line
        assert "|| patient:, reml dfmethod(kroger)" in line
    assert "pwcompare treatment, mcompare(sidak) effects level(95)" in text
    assert all(line.startswith("*") or not line or line.split()[0] in
               {"version", "clear", "set", "use", "describe", "mixed", "contrast", "pwcompare", "estat"}
               for line in text.splitlines())


def test_refuses_foreign_folder(trial, protocol, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.do").write_text("x")
    with pytest.raises(DataError, match="not Stata export files"):
        write_stata(trial, protocol, tmp_path / "out", overwrite=True)
    assert (tmp_path / "out" / "mine.do").read_text() == "x"


# The value labels docs/interop-stata.md promises, per file (issue 20: the scores' sequence had none).
PROMISED_LABELS = {AUC_FILE: ("patient", "sequence", "treatment", "carryover"),
                   SCORES_FILE: ("patient", "treatment", "sequence")}


@pytest.mark.parametrize("name", [AUC_FILE, SCORES_FILE])
def test_value_labels_read_by_pyreadstat(folder, trial, protocol, name):
    """Read with ReadStat (pyreadstat), a reader independent of the pandas writer: every
    categorical variable the docs list carries its value labels, and they decode to the trial."""
    frame, meta = pyreadstat.read_dta(str(folder / name))
    arms = {1: "P", 2: "K", 3: "KM"}  # protocol order of the KETAPAIN arms (docs/interop-stata.md)
    sequences = {i: sequence_label(s) for i, s in enumerate(protocol_sequences(protocol), start=1)}
    patients = dict(enumerate(sorted(trial.patients["patient_id"]), start=1))
    expected = {"patient": patients, "sequence": sequences, "treatment": arms, "carryover": arms}
    for var in PROMISED_LABELS[name]:
        assert meta.variable_to_label.get(var), f"{name}: {var} has no value label"
        labels = {int(k): v for k, v in meta.variable_value_labels[var].items()}
        assert labels == expected[var], f"{name}: {var}"
    # decoded, the labelled variables give back the trial's identifiers
    assert (frame["patient"].map(patients) == frame["patient_id"]).all()
    allocated = trial.allocation.groupby("patient_id")["sequence"].first()
    decoded = frame["sequence"].map(sequences)
    assert decoded.notna().all() and (decoded == frame["patient_id"].map(allocated)).all()

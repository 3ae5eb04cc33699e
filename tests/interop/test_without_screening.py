"""A trial whose screening was not recorded (empty screening table) goes through every exporter,
and its REDCap export imports back with the screening still empty."""

from __future__ import annotations

import pandas as pd
import pytest

from ketapain import interop
from ketapain.data import TrialData
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

# the trial has no site, country, race or questionnaire dates: SDTM/ADaM say so (tested in
# test_sdtm.py); here only the empty screening table matters
pytestmark = pytest.mark.filterwarnings("ignore::ketapain.errors.ConformanceWarning")


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial(protocol):
    full = simulate_trial(protocol, n_patients=4, seed=3)
    return TrialData.from_tables(**{**full.to_tables(), "screening": None}, meta=full.meta)


def test_sdtm_screening_element_has_no_start_date(trial, protocol) -> None:
    se = interop.to_sdtm(trial, protocol)["SE"]
    scrn = se[se["ETCD"] == "SCRN"]
    assert len(scrn) == 4 and (scrn["SESTDTC"].astype(str) == "").all()
    assert (se.loc[se["ETCD"] != "SCRN", "SESTDTC"].astype(str) != "").all()


def test_every_other_export_and_the_redcap_round_trip(trial, protocol, tmp_path) -> None:
    interop.write_adam(interop.to_adam(trial, protocol), tmp_path / "adam")
    interop.write_stata(trial, protocol, tmp_path / "stata")
    assert interop.from_odm(interop.to_odm(trial, protocol)).screening.empty
    assert interop.from_fhir_bundle(interop.to_fhir_bundle(trial, protocol)).screening.empty
    interop.write_redcap_project(protocol, tmp_path / "rc", data=trial)
    back = interop.read_redcap(tmp_path / "rc" / "records.csv", protocol=protocol, mapping=tmp_path / "rc" / "mapping.json")
    expected = interop.canonical_order(trial)
    for name, table in expected.to_tables().items():
        pd.testing.assert_frame_equal(back.table(name), table, obj=name)

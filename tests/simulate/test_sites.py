"""Site, country, race and questionnaire dates of a simulated trial (issue 20)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketapain.protocol import Protocol, load_protocol
from ketapain.simulate import simulate_trial


def with_sites(sites: list[dict[str, str]], *, race_collected: bool = False) -> Protocol:
    d = load_protocol("ketapain").model_dump(mode="json")
    d["sites"] = sites
    d["study"]["race_collected"] = race_collected
    return Protocol.from_dict(d)


def test_ketapain_patients_are_all_at_clermont_and_race_is_not_reported() -> None:
    data = simulate_trial("ketapain", n_patients=6, seed=3)
    assert data.patients["site_id"].tolist() == ["CFD"] * 6
    assert data.patients["country"].tolist() == ["FRA"] * 6
    assert data.patients["race"].tolist() == ["NOT REPORTED"] * 6


def test_patients_are_dealt_to_the_sites_in_turn() -> None:
    p = with_sites([{"id": "CFD", "name": "CHU Clermont-Ferrand", "country": "FRA"},
                    {"id": "GVA", "name": "HUG Geneva", "country": "CHE"}])
    data = simulate_trial(p, n_patients=5, seed=3)
    assert data.patients["site_id"].tolist() == ["CFD", "GVA", "CFD", "GVA", "CFD"]
    assert data.patients["country"].tolist() == ["FRA", "CHE", "FRA", "CHE", "FRA"]


def test_no_sites_and_race_collected_leave_the_columns_missing() -> None:
    # race_collected = true: no parameter file defines a race distribution, so race stays missing
    data = simulate_trial(with_sites([], race_collected=True), n_patients=4, seed=3)
    assert data.patients[["site_id", "country", "race"]].isna().all().all()


def test_questionnaires_are_dated_on_their_visit() -> None:
    p = load_protocol("ketapain")
    data = simulate_trial(p, n_patients=20, seed=1)
    q = data.questionnaires
    assert q["completed_date"].notna().all()
    # one date per patient and visit
    assert (q.groupby(["patient_id", "visit"])["completed_date"].nunique() == 1).all()
    inf = data.allocation.pivot(index="patient_id", columns="period", values="infusion_date")
    got = q.groupby(["patient_id", "visit"])["completed_date"].first().unstack()
    days = {v.name: v.day for v in p.visits}
    # inclusion: 14 days before the first infusion = the screening date
    pd.testing.assert_series_equal(got["inclusion"], inf[1] - pd.Timedelta(days=14), check_names=False)
    screened = data.screening.dropna(subset=["patient_id"]).set_index("patient_id")["screening_date"]
    assert (got["inclusion"] == screened.reindex(got.index)).all()
    # end of period k: 35 days after period k's infusion (postponements move it with the period)
    for k in (1, 2, 3):
        expected = inf[k] + pd.Timedelta(days=days[f"end_period_{k}"] - (k - 1) * 35)
        pd.testing.assert_series_equal(got[f"end_period_{k}"], expected, check_names=False)
    gaps = pd.concat([inf[2] - inf[1], inf[3] - inf[2]])
    assert (gaps != pd.Timedelta(days=35)).any(), "no postponed infusion: the test does not test the anchor"


def test_the_new_columns_draw_nothing() -> None:
    # the same seed with and without sites: every other value is the same
    a = simulate_trial("ketapain", n_patients=8, seed=11)
    b = simulate_trial(with_sites([]), n_patients=8, seed=11)
    cols = [c for c in a.patients.columns if c not in ("site_id", "country")]
    pd.testing.assert_frame_equal(a.patients[cols], b.patients[cols])
    pd.testing.assert_frame_equal(a.diary, b.diary)
    assert np.array_equal(a.questionnaires["value"].to_numpy(), b.questionnaires["value"].to_numpy(), equal_nan=True)

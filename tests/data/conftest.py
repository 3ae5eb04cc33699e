"""Fixtures for the data-model tests: a small valid trial, built fresh for every test.

The trial: 3 patients (P01..P03), 3 periods each (a Williams-type set of sequences of
P, K, KM), 5 diary days per period (45 diary rows, a few missing values), questionnaire
answers, adverse events, concomitant drugs and a 5-person screening log.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from ketapain.data import TrialData

TREATMENTS = ("P", "K", "KM")
SEQUENCES = {"P01": ("P", "K", "KM"), "P02": ("K", "KM", "P"), "P03": ("KM", "P", "K")}
N_DAYS = 5
META = {"study": "KETAPAIN-test", "protocol_id": "ketapain-2017", "source": "tests"}


def build_tables() -> dict[str, pd.DataFrame]:
    """Return the seven tables of a valid 3-patient, 3-period trial (fresh frames)."""
    patients = pd.DataFrame(
        {
            "patient_id": ["P01", "P02", "P03"],
            "sex": ["F", "M", "F"],
            "age_years": [54, 61, 47],
            "weight_kg": [61.5, 82.0, np.nan],
            "height_m": [1.62, 1.78, 1.70],
            "pain_type": ["radiculopathy", "postsurgery", "other"],
            "pain_duration_years": [4.5, 2.0, 10.25],
            "dn4_total": [6, 5, 7],
        }
    )
    rows = []
    for pid, seq in SEQUENCES.items():
        for period, treatment in enumerate(seq, start=1):
            rows.append(
                {
                    "patient_id": pid,
                    "period": period,
                    "sequence": "-".join(seq),
                    "treatment": treatment,
                    "kit_code": f"KIT-{pid}-{period}",
                    "infusion_date": pd.Timestamp("2016-01-04") + pd.Timedelta(days=35 * period),
                    "pre_infusion_pain": 6.0 + period / 2,
                }
            )
    allocation = pd.DataFrame(rows)
    keys = [(pid, period, day) for pid in SEQUENCES for period in (1, 2, 3)
            for day in range(1, N_DAYS + 1)]
    diary = pd.DataFrame(keys, columns=["patient_id", "period", "day"])
    rng = np.random.default_rng(20200701)
    for col in ("avg_pain", "max_pain", "night_pain"):
        diary[col] = np.round(rng.uniform(0, 10, len(diary)), 1)
    diary.loc[[4, 20], ["avg_pain", "max_pain", "night_pain"]] = np.nan
    diary["extra_analgesics"] = pd.array([i % 7 == 0 for i in range(len(diary))],
                                         dtype="boolean")
    diary.loc[4, "extra_analgesics"] = pd.NA
    questionnaires = pd.DataFrame(
        {
            "patient_id": ["P01", "P01", "P02", "P03"],
            "visit": ["baseline", "baseline", "end_period_1", "baseline"],
            "instrument": ["bpi", "bpi", "pgic", "hads"],
            "item": ["3", "4", "1", "a1"],
            "value": [7.0, 5.0, 4.0, np.nan],
        }
    )
    adverse_events = pd.DataFrame(
        {
            "event_id": ["AE1", "AE2", "AE3"],
            "patient_id": ["P01", "P02", "P02"],
            "period": [1, 2, 0],
            "term": ["dizziness", "nausea", "headache"],
            "severity": ["mild", "moderate", "mild"],
            "serious": [False, False, False],
            "causality": ["probably", "possibly", "unrelated"],
            "onset_date": pd.to_datetime(["2016-02-09", "2016-03-16", None]),
        }
    )
    concomitant = pd.DataFrame(
        {
            "patient_id": ["P01", "P01", "P02", "P03"],
            "period": [0, 2, 0, 0],
            "drug_class": ["antiepileptics", "tramadol", "antidepressants", "paracetamol_nsaids"],
            "status": ["baseline", "added", "baseline", "baseline"],
        }
    )
    screening = pd.DataFrame(
        {
            "screening_id": ["S1", "S2", "S3", "S4", "S5"],
            "dn4_total": [6, 5, 3, 7, None],
            "eligible": [True, True, False, True, True],
            "outcome": ["randomised", "randomised", "not_eligible", "randomised", "refused"],
            "reason": [None, None, "DN4 < 4", None, "travel"],
            "patient_id": ["P01", "P02", None, "P03", None],
        }
    )
    return {
        "patients": patients,
        "allocation": allocation,
        "diary": diary,
        "questionnaires": questionnaires,
        "adverse_events": adverse_events,
        "concomitant": concomitant,
        "screening": screening,
    }


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    """The raw tables of a valid trial (fresh for each test, safe to modify)."""
    return build_tables()


@pytest.fixture
def make_trial() -> Callable[..., TrialData]:
    """Build a TrialData from the valid tables, with some tables replaced or dropped.

    ``make_trial(diary=frame)`` replaces a table; ``make_trial(diary=None)`` drops it.
    """

    def make(**changes: pd.DataFrame | None) -> TrialData:
        frames = {**build_tables(), **changes}
        return TrialData.from_tables(**frames, meta=META, treatments=TREATMENTS)

    return make


@pytest.fixture
def trial(make_trial: Callable[..., TrialData]) -> TrialData:
    """A valid 3-patient, 3-period TrialData."""
    return make_trial()

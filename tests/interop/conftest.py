"""Fixtures of the CDISC tests: a trial completed with the optional fields SDTM needs.

The simulator does not fill ``patients.site_id``, ``country``, ``race`` or
``questionnaires.completed_date`` (yet); the tests set them on the TrialData tables, so that a
complete trial exports without a ConformanceWarning.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from ketapain.data import RACES, TrialData
from ketapain.protocol import Protocol

# a user-supplied term -> MedDRA preferred-term mapping, as the hook takes it (test data, not a
# MedDRA extract: only the preferred-term names, no codes)
MEDDRA_PT = {
    "fatigue": "Fatigue", "nausea": "Nausea", "vomiting": "Vomiting", "dizziness": "Dizziness",
    "hot_flushes": "Hot flush", "feeling_drunk": "Feeling drunk", "headache": "Headache", "insomnia": "Insomnia",
    "hypertension": "Hypertension", "high_blood_pressure": "Hypertension", "breathing_difficulty": "Dyspnoea",
}


def complete(trial: TrialData, protocol: Protocol) -> TrialData:
    """``trial`` with site (two sites ``01``/``02``), country ``FRA``, a race (cycling through
    the CDISC RACE values) and each questionnaire dated on its visit's protocol day after the
    first infusion (visit day 0 = first infusion)."""
    tables = trial.to_tables()
    pat = tables["patients"].copy()
    n = len(pat)
    pat["site_id"] = np.where(np.arange(n) % 2 == 0, "01", "02")
    pat["country"] = "FRA"
    pat["race"] = np.asarray(RACES, dtype=object)[np.arange(n) % 5]
    q = tables["questionnaires"].copy()
    first = trial.allocation.groupby("patient_id")["infusion_date"].min()
    day = {v.name: v.day for v in protocol.visits}
    q["completed_date"] = (pd.to_datetime(q["patient_id"].map(first))
                           + pd.to_timedelta(q["visit"].map(day).astype("float64"), unit="D"))
    return TrialData.from_tables(**{**tables, "patients": pat, "questionnaires": q}, meta=trial.meta)


@pytest.fixture(scope="session")
def completed() -> Callable[[TrialData, Protocol], TrialData]:
    """:func:`complete` as a fixture."""
    return complete


@pytest.fixture(scope="session")
def meddra_pt() -> dict[str, str]:
    """The test's term -> preferred term mapping."""
    return dict(MEDDRA_PT)

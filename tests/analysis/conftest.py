"""A small, complete TrialData for the analysis tests.

The shipped example (``ketapain.examples``: allocation and 35-day diaries of 20 patients) plus
hand-made patients, screening log, questionnaires (HADS, PGIC and the blinding guesses),
adverse events and concomitant analgesics, all from one seeded generator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketapain.data import TrialData
from ketapain.examples import load_example
from ketapain.protocol import Protocol, load_protocol


def make_trial(seed: int = 7) -> TrialData:
    """The example allocation and diary plus hand-made tables (deterministic for ``seed``)."""
    rng = np.random.default_rng(seed)
    ex = load_example()
    alloc, diary = ex["allocation"], ex["diary"]
    ids = sorted(alloc["patient_id"].unique())
    n = len(ids)
    patients = pd.DataFrame({
        "patient_id": ids,
        "sex": ["M" if i % 2 == 0 else "F" for i in range(n)],
        "age_years": rng.integers(30, 80, n),
        "weight_kg": np.round(rng.normal(75, 12, n), 1),
        "height_m": np.round(rng.normal(1.70, 0.08, n), 2),
        "pain_type": rng.choice(["postsurgery", "radiculopathy", "posttraumatic"], n),
        "pain_duration_years": np.round(rng.lognormal(1.6, 0.7, n), 1),
        "dn4_total": rng.integers(4, 10, n),
    })
    screening = pd.DataFrame({
        "screening_id": [f"S{i:02d}" for i in range(1, n + 4)],
        "dn4_total": [5] * n + [6, 6, 2],
        "eligible": [True] * (n + 2) + [False],
        "outcome": ["randomised"] * n + ["refused", "refused", "not_eligible"],
        "reason": [None] * n + ["travel", "travel", "DN4 < 4"],
        "patient_id": [*ids, None, None, None],
    })
    visits = ["inclusion", "end_period_1", "end_period_2", "end_period_3"]
    q = []
    for v in visits:
        hads = pd.DataFrame({"patient_id": np.repeat(ids, 14), "visit": v, "instrument": "hads",
                             "item": np.tile([str(k) for k in range(1, 15)], n),
                             "value": rng.integers(0, 4, 14 * n).astype(float)})
        q.append(hads)
        if v != "inclusion":
            q.append(pd.DataFrame({"patient_id": ids, "visit": v, "instrument": "pgic", "item": "1",
                                   "value": rng.integers(1, 8, n).astype(float)}))
    q.append(pd.DataFrame({"patient_id": np.repeat(ids, 3), "visit": "end_period_3", "instrument": "blinding",
                           "item": np.tile(["period_1", "period_2", "period_3"], n),
                           "value": rng.integers(0, 3, 3 * n).astype(float)}))
    questionnaires = pd.concat(q, ignore_index=True)
    ae = pd.DataFrame({
        "event_id": [f"E{i}" for i in range(1, 9)],
        "patient_id": [ids[0], ids[0], ids[1], ids[2], ids[3], ids[3], ids[4], ids[5]],
        "period": [1, 2, 1, 3, 2, 2, 0, 1],
        "term": ["fatigue", "nausea", "fatigue", "dizziness", "nausea", "fatigue", "headache", "insomnia"],
        "severity": ["mild"] * 8,
        "serious": [False] * 7 + [True],
        "causality": ["possibly", "probably", "unrelated", "certainly", "possibly", "unlikely", "possibly", "unrelated"],
    })
    conc = pd.DataFrame({
        "patient_id": [ids[0], ids[0], ids[1], ids[2], ids[0], ids[1], ids[3]],
        "period": [0, 0, 0, 0, 1, 2, 3],
        "drug_class": ["antidepressants", "anxiolytics", "antidepressants", "tramadol", "nefopam", "nefopam", "adjuvants"],
        "status": ["baseline"] * 4 + ["added"] * 3,
    })
    return TrialData.from_tables(patients=patients, allocation=alloc, diary=diary, questionnaires=questionnaires,
                                 adverse_events=ae, concomitant=conc, screening=screening,
                                 meta={"study": "KETAPAIN", "source": "tests"}, treatments=("P", "K", "KM"))


@pytest.fixture(scope="session")
def protocol() -> Protocol:
    return load_protocol("ketapain")


@pytest.fixture(scope="session")
def trial() -> TrialData:
    return make_trial()

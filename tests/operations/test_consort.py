"""CONSORT flow counts: the reference study's published flow, definitions, and bad logs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ketapain.errors import DataError
from ketapain.operations._consort import consort_flow

# The reference study's published flow, as in ../shared/reference/ketapain_2020_published.json
# "design" (copied so that the test runs without the shared folder; checked against it below
# when the folder is there): 23 screened, 2 refused, 1 not eligible, 20 randomised, 20 completed
# and analysed, 3 periods.
DESIGN = {"n_screened": 23, "n_refused": 2, "n_not_eligible": 1, "n_randomized": 20, "n_completed": 20, "n_analysed": 20, "periods": 3}
PUBLISHED_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "ketapain_2020_published.json"


def reference_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A screening log, allocation and diary shaped like the reference study's flow."""
    patients = [f"P{i:02d}" for i in range(1, 21)]
    screening = pd.DataFrame({
        "screening_id": [f"S{i:02d}" for i in range(1, 24)],
        "eligible": [True] * 22 + [False],
        "outcome": ["randomised"] * 20 + ["refused", "refused", "not_eligible"],
        "reason": [None] * 20 + ["distance to the centre", None, "DN4 < 4"],
        "patient_id": [*patients, None, None, None],
    })
    start = pd.Timestamp("2016-01-04")
    allocation = pd.DataFrame([
        {"patient_id": p, "period": k, "infusion_date": (start + pd.Timedelta(days=35 * (k - 1))).date().isoformat()}
        for p in patients for k in (1, 2, 3)
    ])
    rng = np.random.default_rng(1)
    diary = pd.DataFrame([
        {"patient_id": p, "period": k, "day": d, "avg_pain": float(rng.integers(0, 11))}
        for p in patients for k in (1, 2, 3) for d in range(1, 36)
    ])
    return screening, allocation, diary


def test_reference_study_flow() -> None:
    design = DESIGN
    if PUBLISHED_FILE.exists():
        published = json.loads(PUBLISHED_FILE.read_text())["design"]
        assert {k: published[k] for k in DESIGN} == DESIGN
    screening, allocation, diary = reference_tables()
    flow = consort_flow(screening, allocation, diary=diary)
    assert flow.n_screened == design["n_screened"] == 23
    assert flow.n_refused == design["n_refused"] == 2
    assert flow.n_not_eligible == design["n_not_eligible"] == 1
    assert flow.n_randomised == design["n_randomized"] == 20
    assert flow.n_completed == design["n_completed"] == 20
    assert flow.n_analysed == design["n_analysed"] == 20
    assert len(flow.periods) == design["periods"] == 3
    assert all((p.allocated, p.received, p.completed, p.analysed) == (20, 20, 20, 20) for p in flow.periods)
    assert flow.not_eligible_reasons == (("DN4 < 4", 1),)
    assert flow.refused_reasons == (("distance to the centre", 1), ("not stated", 1))
    assert flow.n_other == 0


def test_summary_and_to_dict() -> None:
    flow = consort_flow(*reference_tables()[:2], diary=reference_tables()[2])
    text = flow.summary()
    for line in ("Screened: 23", "  Not eligible: 1", "      - DN4 < 4: 1", "  Refused: 2", "Randomised: 20",
                 "  Period 1: allocated 20, received 20, completed 20, analysed 20", "Completed every period: 20",
                 "Analysed (at least one period): 20"):
        assert line in text.splitlines(), line
    d = json.loads(json.dumps(flow.to_dict(), allow_nan=False))
    assert d["n_screened"] == 23 and d["refused_reasons"] == {"distance to the centre": 1, "not stated": 1}
    assert d["periods"][2] == {"period": 3, "allocated": 20, "received": 20, "completed": 20, "analysed": 20}
    frame = flow.to_frame()
    assert list(frame.columns) == ["period", "allocated", "received", "completed", "analysed"]
    assert all(str(t) == "Int64" for t in frame.dtypes)


def test_received_completed_analysed_definitions() -> None:
    screening, allocation, diary = reference_tables()
    # P20 withdraws after period 2: no infusion date in period 3 (and no diary)
    allocation.loc[(allocation.patient_id == "P20") & (allocation.period == 3), "infusion_date"] = None
    diary = diary[~((diary.patient_id == "P20") & (diary.period == 3))]
    # P19 received period 2 but every diary value of it is missing
    diary.loc[(diary.patient_id == "P19") & (diary.period == 2), "avg_pain"] = np.nan
    # P18 kept a diary for one day only in period 1: still completed (one value is enough)
    diary = diary[~((diary.patient_id == "P18") & (diary.period == 1) & (diary.day > 1))]
    flow = consort_flow(screening, allocation, diary=diary)
    p1, p2, p3 = flow.periods
    assert (p1.allocated, p1.received, p1.completed, p1.analysed) == (20, 20, 20, 20)
    assert (p2.allocated, p2.received, p2.completed, p2.analysed) == (20, 20, 19, 19)
    assert (p3.allocated, p3.received, p3.completed, p3.analysed) == (20, 19, 19, 19)
    assert flow.n_completed == 18  # P19 and P20 miss a period
    assert flow.n_analysed == 20  # everyone contributes at least one period


def test_analysed_override() -> None:
    screening, allocation, diary = reference_tables()
    analysed = {(f"P{i:02d}", k) for i in range(1, 18) for k in (1, 2, 3)}
    flow = consort_flow(screening, allocation, diary=diary, analysed=analysed)
    assert [p.analysed for p in flow.periods] == [17, 17, 17] and flow.n_analysed == 17
    assert [p.completed for p in flow.periods] == [20, 20, 20]


def test_without_diary_completion_is_unknown() -> None:
    screening, allocation, _ = reference_tables()
    flow = consort_flow(screening, allocation)
    assert [p.received for p in flow.periods] == [20, 20, 20]
    assert {p.completed for p in flow.periods} == {None} and flow.n_completed is None and flow.n_analysed is None
    assert "completed n/a" in flow.summary()


def test_without_allocation_or_dates() -> None:
    screening, allocation, _ = reference_tables()
    flow = consort_flow(screening)
    assert flow.periods == () and flow.n_randomised == 20
    # no infusion_date column (simulated data): every allocation row counts as received
    flow = consort_flow(screening, allocation.drop(columns="infusion_date"), periods=4)
    assert [p.received for p in flow.periods] == [20, 20, 20, 0]


def test_text_cells_as_read_from_csv() -> None:
    screening, allocation, diary = reference_tables()
    as_text = [f.astype(str).replace({"None": "", "nan": ""}) for f in (screening, allocation, diary)]
    as_text[0]["eligible"] = as_text[0]["eligible"].str.lower()
    flow = consort_flow(as_text[0], as_text[1], diary=as_text[2])
    assert (flow.n_screened, flow.n_randomised, flow.n_completed) == (23, 20, 20)
    assert flow.refused_reasons == (("distance to the centre", 1), ("not stated", 1))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda s: s.assign(outcome=s.outcome.replace("refused", "declined")),
            r"screening row 22: outcome='declined' is not one of randomised, refused, not_eligible, other",
        ),
        (lambda s: s.assign(eligible=[False] + [True] * 22), r"screening row 2: outcome='randomised' but eligible=false"),
        (lambda s: s.assign(eligible=[True] * 23), r"screening row 24: outcome='not_eligible' but eligible=true"),
        (lambda s: s.assign(eligible=["maybe"] * 23), r"screening row 2: eligible='maybe' is not a boolean"),
        (lambda s: s.assign(screening_id=["S01"] * 23), r"screening row 3: screening_id='S01' is empty or appears more than once"),
        (lambda s: s.drop(columns="outcome"), r"screening: required column\(s\) 'outcome' missing"),
        (
            lambda s: s.assign(patient_id=[f"Q{i}" for i in range(20)] + [None] * 3),
            r"allocation: patient_id 'P01', .* not randomised in the screening log",
        ),
    ],
)
def test_bad_screening_logs(edit, match: str) -> None:
    screening, allocation, _ = reference_tables()
    with pytest.raises(DataError, match=match):
        consort_flow(edit(screening), allocation)


def test_bad_allocation() -> None:
    screening, allocation, diary = reference_tables()
    with pytest.raises(DataError, match="allocation: period 3 is above periods=2"):
        consort_flow(screening, allocation, periods=2)
    with pytest.raises(DataError, match=r"allocation row 2: period='x' is not an integer >= 1"):
        consort_flow(screening, allocation.assign(period=["x"] + [1] * 59))
    with pytest.raises(DataError, match=r"diary: required column\(s\) 'avg_pain' missing"):
        consort_flow(screening, allocation, diary=diary.drop(columns="avg_pain"))


def test_patients_per_sequence() -> None:
    screening, allocation, diary = reference_tables()
    # 20 patients over the 6 Williams sequences in blocks of 6: 4, 4, 3, 3, 3, 3 (hand count)
    orders = ["P-K-KM", "K-KM-P", "KM-P-K", "P-KM-K", "KM-K-P", "K-P-KM"]
    seq = {f"P{i:02d}": orders[(i - 1) % 6] for i in range(1, 21)}
    allocation = allocation.assign(sequence=allocation["patient_id"].map(seq))
    flow = consort_flow(screening, allocation, diary=diary)
    assert flow.sequences == (("P-K-KM", 4), ("K-KM-P", 4), ("KM-P-K", 3), ("P-KM-K", 3), ("KM-K-P", 3), ("K-P-KM", 3))
    assert flow.to_dict()["sequences"]["P-K-KM"] == 4
    assert "Sequence KM-K-P: 3" in flow.summary()
    assert consort_flow(screening, allocation.drop(columns="sequence"), diary=diary).sequences == ()


@pytest.mark.parametrize("empty_log", [False, True])
def test_screening_not_recorded_counts_are_unknown(empty_log) -> None:
    screening, allocation, diary = reference_tables()
    log = screening.iloc[:0] if empty_log else None
    flow = consort_flow(log, allocation.assign(sequence="P-K-KM"), diary=diary)
    assert not flow.screening_recorded
    assert (flow.n_screened, flow.n_not_eligible, flow.n_refused, flow.n_other) == (None, None, None, None)
    assert flow.not_eligible_reasons == flow.refused_reasons == flow.other_reasons == ()
    assert flow.n_randomised == 20 and flow.n_completed == 20 and flow.n_analysed == 20
    assert flow.sequences == (("P-K-KM", 20),)
    assert [(p.allocated, p.received) for p in flow.periods] == [(20, 20)] * 3
    d = json.loads(json.dumps(flow.to_dict()))
    assert d["n_screened"] is None and d["n_refused"] is None and d["n_randomised"] == 20
    text = flow.summary()
    assert text.startswith("Screened: not recorded\n") and "Randomised: 20" in text and "Refused" not in text


def test_screening_recorded_flag_and_nothing_to_count() -> None:
    screening, allocation, _ = reference_tables()
    assert consort_flow(screening, allocation).screening_recorded
    assert consort_flow(screening.iloc[:0]).n_screened == 0  # a log with nobody in it, and nothing else
    with pytest.raises(DataError, match="neither a screening log nor an allocation"):
        consort_flow(None)

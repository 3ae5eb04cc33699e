"""A small hand-written AB/BA trial, as the statistician of issue 18 made one (nothing simulated).

Eight patients, drug A against placebo B, two 21-day periods with a 7-day washout (the
``ketapain init --design ab/ba`` protocol), a diary of ``avg_pain`` and ``max_pain`` only, BPI
and HADS at inclusion, BPI, HADS and PGIC at the end of each period, three adverse events.

Every value comes from the literal tables below: ``COURSE`` gives each patient's average pain
in each week of each period; a diary day is its week's value plus a fixed wobble (-0.5, 0,
+0.5 by day), ``max_pain`` is two points above (at most 10); two diary days are blank.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ketapain.protocol import protocol_template

PATIENTS = """\
patient_id,sex,age_years,weight_kg,height_m,pain_type,pain_duration_years,dn4_total
P01,F,54,61.5,1.62,radiculopathy,4.5,6
P02,M,61,82.0,1.78,postsurgery,2.0,5
P03,F,47,,1.70,posttraumatic,10.25,7
P04,M,66,90.5,1.81,postdiabetic,6.0,4
P05,F,39,58.0,1.60,postchemotherapy,1.5,6
P06,M,72,77.0,1.69,radiculopathy,12.0,5
P07,F,58,70.0,1.66,other,3.0,8
P08,M,45,85.0,1.84,postsurgery,0.75,4
"""

# weekly average pain (weeks 1-3) of period 1 and period 2, and pain before each period
COURSE = """\
patient_id,sequence,p1_w1,p1_w2,p1_w3,p2_w1,p2_w2,p2_w3,pre1,pre2
P01,AB,5,4,4,7,7,6,7,7
P02,BA,6,6,7,5,4,3,7,7
P03,AB,4,3,3,6,6,6,6,6
P04,BA,7,7,6,6,5,5,8,7
P05,AB,6,5,5,7,8,7,7,8
P06,BA,5,6,6,4,4,4,6,6
P07,AB,3,3,2,5,5,6,5,5
P08,BA,8,7,7,7,6,6,8,8
"""

ADVERSE_EVENTS = """\
event_id,patient_id,period,term,severity,serious,causality
AE1,P01,1,dizziness,mild,False,probably
AE2,P04,2,nausea,moderate,False,possibly
AE3,P06,1,headache,mild,False,unrelated
"""

BLANK_DAYS = {("P03", 2, 10), ("P05", 1, 21)}
"""(patient, period, day) whose diary is blank: missing days."""

PROTOCOL_ID = "handmade_ab_ba"


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype={"patient_id": str})


def tables() -> dict[str, pd.DataFrame]:
    """The trial's tables (patients, allocation, diary, questionnaires, adverse_events)."""
    course = _csv(COURSE)
    alloc, diary, answers = [], [], []
    for r in course.itertuples(index=False):
        for period in (1, 2):
            alloc.append({"patient_id": r.patient_id, "period": period, "sequence": r.sequence,
                          "treatment": r.sequence[period - 1], "pre_infusion_pain": float(getattr(r, f"pre{period}"))})
            for day in range(1, 22):
                week = getattr(r, f"p{period}_w{(day - 1) // 7 + 1}")
                avg = min(10.0, max(0.0, week + (day % 3 - 1) * 0.5))
                blank = (r.patient_id, period, day) in BLANK_DAYS
                diary.append({"patient_id": r.patient_id, "period": period, "day": day,
                              "avg_pain": None if blank else avg, "max_pain": None if blank else min(10.0, avg + 2)})
        visits = {"inclusion": r.pre1, "end_period_1": r.p1_w3, "end_period_2": r.p2_w3}
        for k, (visit, level) in enumerate(visits.items()):
            answers += _visit_answers(r.patient_id, visit, int(level), k)
    return {"patients": _csv(PATIENTS), "allocation": pd.DataFrame(alloc), "diary": pd.DataFrame(diary),
            "questionnaires": pd.DataFrame(answers), "adverse_events": _csv(ADVERSE_EVENTS)}


def _visit_answers(patient: str, visit: str, level: int, k: int) -> list[dict[str, object]]:
    """BPI from the pain level of the visit; HADS by a fixed pattern; PGIC after a period."""
    bpi = {"3": min(10, level + 2), "4": max(0, level - 2), "5": level, "6": level, "8": 10 * (k + 2)}
    bpi |= {f"9{c}": max(0, level - 1 - i % 2) for i, c in enumerate("abcdefg")}
    rows = [("bpi", key, value) for key, value in bpi.items()]
    rows += [("hads", str(i), (i + k + int(patient[1:])) % 4) for i in range(1, 15)]
    if visit != "inclusion":
        rows.append(("pgic", "1", 2 + level % 5))
    return [{"patient_id": patient, "visit": visit, "instrument": inst, "item": item, "value": float(value)}
            for inst, item, value in rows]


def protocol_text() -> str:
    """The ``ketapain init`` AB/BA protocol, with this trial's id."""
    return protocol_template("ab/ba").replace('id = "my_trial"', f'id = "{PROTOCOL_ID}"', 1)


def write(folder: Path, *, changes: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write the trial (its tables, ``changes`` replacing some) and its ``protocol.toml`` to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (tables() | (changes or {})).items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "protocol.toml").write_text(protocol_text(), encoding="utf-8")
    return folder

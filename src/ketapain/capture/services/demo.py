"""``--demo``: import a simulated trial (``simulate.simulate_trial``) through the services.

Dates are shifted so that the trial ends yesterday; every row is written through the audit
write path with reason ``demo import``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ketapain.capture import audit
from ketapain.capture.audit import Actor
from ketapain.capture.models import Allocation, Screening, Study
from ketapain.capture.schemas import (AdverseEventCreate, ConcomitantCreate, DiaryEntryCreate, InfusionCreate, PatientCreate,
                                      QuestionnaireCreate)
from ketapain.capture.services import adverse_events, diary, infusions, patients, questionnaires
from ketapain.capture.services._context import Context
from ketapain.data import TrialData

__all__ = ["DEMO_REASON", "import_trial"]

DEMO_REASON = "demo import"


def _v(x: object) -> object:
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return None
    return x.item() if hasattr(x, "item") else x  # numpy scalar -> Python


def import_trial(ctx: Context, data: TrialData, *, commitment: str = "demo") -> int:
    """Load ``data`` into an empty database as the site staff would have entered it; returns
    the number of diary entries. ``ctx.actor`` must be an entry role (investigator)."""
    s, actor = ctx.session, ctx.actor
    shift = dt.date.today() - dt.timedelta(days=1) - (data.allocation["infusion_date"].max() + pd.Timedelta(days=ctx.protocol.diary.days_per_period)).date()
    day = lambda x: None if pd.isna(x) else (pd.Timestamp(x).date() + shift)  # noqa: E731
    audit.create(s, actor, Study(protocol_id=ctx.protocol.study.id, list_kind="test", list_commitment=commitment, locked=False),
                 reason=DEMO_REASON)
    for r in data.screening.itertuples(index=False):
        audit.create(s, actor, Screening(screening_id=r.screening_id, screening_date=day(r.screening_date), answers={},
                                         dn4_items=None, dn4_total=_v(r.dn4_total), eligible=bool(r.eligible), failed=[],
                                         outcome=r.outcome, reason=_v(r.reason), patient_id=_v(r.patient_id), status="active"),
                     reason=DEMO_REASON)
    scr = data.screening.set_index("patient_id")["screening_id"].to_dict() if len(data.screening) else {}
    for r in data.patients.to_dict("records"):
        patients.enrol(ctx, PatientCreate(**{k: _v(v) for k, v in r.items() if k in PatientCreate.model_fields},
                                          screening_id=scr.get(r["patient_id"])))
    now = audit.utc_now()
    for k, r in enumerate(data.allocation.itertuples(index=False)):
        audit.create(s, actor, Allocation(slot=r.patient_id, slot_number=int(r.patient_id.lstrip("P") or k), stratum=None,
                                          period=int(r.period), sequence=r.sequence, treatment=r.treatment, kit_code=r.kit_code,
                                          patient_id=r.patient_id, randomised_at=now, status="active"), reason=DEMO_REASON)
        if not pd.isna(r.infusion_date):
            infusions.record_infusion(ctx, InfusionCreate(patient_id=r.patient_id, period=int(r.period), infusion_date=day(r.infusion_date),
                                                          pre_infusion_pain=_v(r.pre_infusion_pain)), reason=DEMO_REASON)
    n = 0
    inf = data.allocation.set_index(["patient_id", "period"])["infusion_date"]
    for r in data.diary.itertuples(index=False):
        if pd.isna(r.avg_pain) and pd.isna(r.max_pain) and pd.isna(r.night_pain):
            continue  # a missing day is no entry
        date = day(inf[(r.patient_id, r.period)]) + dt.timedelta(days=int(r.day))
        when = dt.datetime.combine(date, dt.time(20, 0), tzinfo=dt.UTC)
        diary.submit_entry(ctx, r.patient_id, DiaryEntryCreate(period=int(r.period), day=int(r.day), avg_pain=_v(r.avg_pain),
                                                               max_pain=_v(r.max_pain), night_pain=_v(r.night_pain),
                                                               extra_analgesics=_v(r.extra_analgesics),
                                                               extra_analgesics_detail=_v(r.extra_analgesics_detail), device_time=when),
                           received_at=when, reason=DEMO_REASON)
        n += 1
    q = data.questionnaires
    for (pid, visit, inst), grp in q.groupby(["patient_id", "visit", "instrument"], sort=False):
        questionnaires.save_response(ctx, QuestionnaireCreate(patient_id=pid, visit=visit, instrument=inst,
                                                              answers={str(i): _v(v) for i, v in zip(grp["item"], grp["value"], strict=True)}),
                                     reason=DEMO_REASON)
    for r in data.adverse_events.to_dict("records"):
        adverse_events.create_event(ctx, AdverseEventCreate(**{k: _v(v) if k != "onset_date" else day(v) for k, v in r.items() if k != "event_id"}),
                                    event_id=r["event_id"], reason=DEMO_REASON)
    for r in data.concomitant.to_dict("records"):
        adverse_events.add_concomitant(ctx, ConcomitantCreate(patient_id=r["patient_id"], period=int(r["period"]), drug_class=r["drug_class"],
                                                              drug_name=_v(r["drug_name"])), reason=DEMO_REASON)
    return n

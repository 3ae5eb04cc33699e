"""``--demo``: import a simulated trial (``simulate.simulate_trial``) through the services.

Dates are shifted so that the trial ends yesterday; every row is written through the audit
write path with reason ``demo import``. The large tables go through the bulk write path
(:func:`ketapain.capture.audit.audited_bulk_insert`): screenings, allocations, the diary
(:func:`ketapain.capture.services.diary.submit_entries`, one call per patient) and the
questionnaires (scored per instrument with the vectorised
:func:`ketapain.instruments.score_frame`); the default 12-patient trial (~1,260 diary
entries, ~350 questionnaires, ~18,300 audit rows) imports in about 2 s (29 s before).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Allocation, QuestionnaireResponse, Screening, Study
from ketapain.capture.schemas import (
    AdverseEventCreate,
    ConcomitantCreate,
    DiaryEntryCreate,
    InfusionCreate,
    PatientCreate,
    QuestionnaireCreate,
)
from ketapain.capture.services import adverse_events, diary, infusions, patients
from ketapain.capture.services import questionnaires as questionnaires_service
from ketapain.capture.services._context import Context
from ketapain.capture.services.randomisation_list import DEMO_COMMITMENT
from ketapain.data import TrialData
from ketapain.errors import Conflict, DataError
from ketapain.instruments import score_frame

__all__ = ["DEMO_REASON", "import_trial", "save_responses"]

DEMO_REASON = "demo import"


def _v(x: Any) -> Any:
    """A table cell as a plain Python value (NA -> None); its type is the column's, checked by
    the schema model or the audit write path it goes to."""
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return None
    return x.item() if hasattr(x, "item") else x  # numpy scalar -> Python


def import_trial(ctx: Context, data: TrialData, *, commitment: str = DEMO_COMMITMENT) -> int:
    """Load ``data`` into an empty database as the site staff would have entered it; returns
    the number of diary entries. ``ctx.actor`` must be an entry role (investigator).

    Dates move so that the last diary day is yesterday (the study runs "now")."""
    shift = (
        dt.date.today()
        - dt.timedelta(days=1)
        - (data.allocation["infusion_date"].max() + pd.Timedelta(days=ctx.protocol.diary.days_per_period)).date()
    )

    def day(x: Any) -> dt.date | None:
        return None if pd.isna(x) else (pd.Timestamp(x).date() + shift)

    audit.create(
        ctx.session,
        ctx.actor,
        Study(protocol_id=ctx.protocol.study.id, list_kind="test", list_commitment=commitment, locked=False),
        reason=DEMO_REASON,
    )
    _import_screening_and_patients(ctx, data, day)
    _import_allocation_and_infusions(ctx, data, day)
    n = _import_diary(ctx, data, day)
    q = data.questionnaires
    if "completed_date" in q.columns:
        q = q.assign(completed_date=q["completed_date"].map(day))
    save_responses(ctx, q, reason=DEMO_REASON)
    _import_safety(ctx, data, day)
    return n


def _import_screening_and_patients(ctx: Context, data: TrialData, day: Callable[[Any], dt.date | None]) -> None:
    audit.audited_bulk_insert(
        ctx.session,
        ctx.actor,
        Screening,
        [
            {
                "screening_id": r.screening_id,
                "screening_date": day(r.screening_date),
                "answers": {},
                "dn4_items": None,
                "dn4_total": _v(r.dn4_total),
                "eligible": bool(r.eligible),
                "failed": [],
                "outcome": r.outcome,
                "reason": _v(r.reason),
                "patient_id": _v(r.patient_id),
                "status": "active",
            }
            for r in data.screening.itertuples(index=False)
        ],
        reason=DEMO_REASON,
    )
    scr = data.screening.set_index("patient_id")["screening_id"].to_dict() if len(data.screening) else {}
    for r in data.patients.to_dict("records"):
        fields = {k: _v(v) for k, v in r.items() if k in PatientCreate.model_fields}
        patients.enrol(ctx, PatientCreate(**fields, screening_id=scr.get(r["patient_id"])))


def _import_allocation_and_infusions(ctx: Context, data: TrialData, day: Callable[[Any], dt.date | None]) -> None:
    now = audit.utc_now()
    audit.audited_bulk_insert(
        ctx.session,
        ctx.actor,
        Allocation,
        [
            {
                "slot": r["patient_id"],
                "slot_number": int(r["patient_id"].lstrip("P") or k),
                "stratum": None,
                "period": int(r["period"]),
                "sequence": r["sequence"],
                "treatment": r["treatment"],
                "kit_code": r["kit_code"],
                "patient_id": r["patient_id"],
                "randomised_at": now,
                "status": "active",
            }
            for k, r in enumerate(data.allocation.to_dict("records"))
        ],
        reason=DEMO_REASON,
    )
    for r in data.allocation.to_dict("records"):
        infused = day(r["infusion_date"])  # None: not infused
        if infused is not None:
            infusions.record_infusion(
                ctx,
                InfusionCreate(
                    patient_id=r["patient_id"],
                    period=int(r["period"]),
                    infusion_date=infused,
                    pre_infusion_pain=_v(r["pre_infusion_pain"]),
                ),
                reason=DEMO_REASON,
            )


def _import_diary(ctx: Context, data: TrialData, day: Callable[[Any], dt.date | None]) -> int:
    """Submit every filled diary day as the patient's phone would have (at 20:00 UTC); returns
    the number of entries. A day with no rating at all is no entry."""
    n = 0
    inf = data.allocation.set_index(["patient_id", "period"])["infusion_date"]
    filled = data.diary.loc[data.diary[["avg_pain", "max_pain", "night_pain"]].notna().any(axis=1)]
    for pid, grp in filled.groupby("patient_id", sort=False):
        entries, times = [], []
        for r in grp.to_dict("records"):
            start = day(inf[(r["patient_id"], r["period"])])
            assert start is not None  # a patient with diary days in a period was infused in it
            when = dt.datetime.combine(start + dt.timedelta(days=int(r["day"])), dt.time(20, 0), tzinfo=dt.UTC)
            entries.append(
                DiaryEntryCreate(
                    period=int(r["period"]),
                    day=int(r["day"]),
                    avg_pain=_v(r["avg_pain"]),
                    max_pain=_v(r["max_pain"]),
                    night_pain=_v(r["night_pain"]),
                    extra_analgesics=_v(r["extra_analgesics"]),
                    extra_analgesics_detail=_v(r["extra_analgesics_detail"]),
                    device_time=when,
                )
            )
            times.append(when)
        n += len(diary.submit_entries(ctx, str(pid), entries, received_at=times, reason=DEMO_REASON))
    return n


def _import_safety(ctx: Context, data: TrialData, day: Callable[[Any], dt.date | None]) -> None:
    for r in data.adverse_events.to_dict("records"):
        adverse_events.create_event(
            ctx,
            AdverseEventCreate.model_validate({k: _v(v) if k != "onset_date" else day(v) for k, v in r.items() if k != "event_id"}),
            event_id=r["event_id"],
            reason=DEMO_REASON,
        )
    for r in data.concomitant.to_dict("records"):
        adverse_events.add_concomitant(
            ctx,
            ConcomitantCreate(
                patient_id=r["patient_id"], period=int(r["period"]), drug_class=r["drug_class"], drug_name=_v(r["drug_name"])
            ),
            reason=DEMO_REASON,
        )


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return value


def save_responses(ctx: Context, questionnaires: pd.DataFrame, *, reason: str | None = None) -> list[int]:
    """Save many questionnaire responses at once: the ``questionnaires`` table of TrialData
    (``patient_id, visit, instrument, item, value`` and optionally ``completed_date``, one date
    per response; absent or missing: today; one response per patient x visit x
    instrument), checked as :func:`ketapain.capture.services.questionnaires.save_response`
    checks one, scored per instrument with :func:`ketapain.instruments.score_frame`
    (``incomplete="missing"``) and written with one bulk write. Returns the new ids.

    The vectorised scores equal the one-at-a-time :func:`ketapain.instruments.score` up to
    floating-point summation order (SF-36 PCS/MCS differ in the last bit); like there, the
    scores are stored for display only, the answers are the record.
    """
    ctx.require("questionnaires.write")
    if questionnaires.empty:
        return []
    visits = {v.name for v in ctx.protocol.visits}
    bad = sorted(set(questionnaires["visit"]) - visits)
    if bad:
        raise DataError(
            f"visit={bad[0]!r} is not a visit of the protocol; allowed: {', '.join(visits)}",
            source="questionnaires",
            column="visit",
            value=bad[0],
            allowed=tuple(sorted(visits)),
        )
    pids = sorted(set(questionnaires["patient_id"]))
    for pid in pids:
        ctx.patient(pid)
    keys = ["patient_id", "visit", "instrument"]
    stored = set(
        ctx.session.execute(
            select(QuestionnaireResponse.patient_id, QuestionnaireResponse.visit, QuestionnaireResponse.instrument).where(
                QuestionnaireResponse.patient_id.in_(pids)
            )
        ).all()
    )
    scores: dict[tuple[Hashable, Hashable, Hashable], dict[str, Any]] = {}  # keyed as groupby(keys) yields them
    for instrument, grp in questionnaires.groupby("instrument", sort=False):
        frame = score_frame(str(instrument), grp, incomplete="missing")  # InstrumentError -> 422
        cols = [c for c in frame.columns if c not in ("patient_id", "visit")]
        for rec in frame.to_dict("records"):
            scores[(rec["patient_id"], rec["visit"], str(instrument))] = {c: _plain(rec[c]) for c in cols}
    rows = []
    included = {pid: questionnaires_service.inclusion_date(ctx, pid) for pid in pids}
    dated = "completed_date" in questionnaires.columns
    for (pid, visit, inst), grp in questionnaires.groupby(keys, sort=False):
        if (pid, visit, inst) in stored:
            raise Conflict(f"{inst} at {visit} of patient {pid} is already saved")
        when = _v(grp["completed_date"].iloc[0]) if dated else None
        body = QuestionnaireCreate.model_validate(
            {"patient_id": pid, "visit": visit, "instrument": inst,
             "answers": {str(i): _v(v) for i, v in zip(grp["item"], grp["value"], strict=True)},
             "completed_date": pd.Timestamp(when).date() if when is not None else None}
        )
        completed = questionnaires_service.check_completed_date(ctx, body.patient_id, body.completed_date,
                                                                included=included[pid])
        clean = {k: v for k, v in scores[(pid, visit, inst)].items() if v is None or isinstance(v, bool | int | float | str)}
        rows.append(
            {
                "patient_id": body.patient_id,
                "visit": body.visit,
                "instrument": body.instrument,
                "answers": dict(body.answers),
                "scores": clean,
                "status": "active",
                "completed_date": completed,
            }
        )
    return audit.audited_bulk_insert(ctx.session, ctx.actor, QuestionnaireResponse, rows, reason=reason)

"""Export the database as a :class:`~ketapain.data.TrialData` (what ``ketapain analyze`` reads).

Only for a viewer who may see allocations (pharmacist; admin and statistician after lock):
TrialData's ``allocation`` table holds sequence and treatment.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from ketapain import __version__
from ketapain.capture import audit
from ketapain.capture.models import AdverseEvent, Allocation, Concomitant, DiaryEntry, Infusion, Patient, QuestionnaireResponse, Screening
from ketapain.capture.services._context import Context
from ketapain.capture.services.corrections import ENTERED_IN_ERROR
from ketapain.data import SCHEMAS, TrialData
from ketapain.errors import PermissionDenied

__all__ = ["export_trial"]


def _frame(ctx: Context, model: Any, cols: list[str], *where: Any) -> pd.DataFrame:
    rows = ctx.session.execute(select(*[getattr(model, c) for c in cols]).where(*where)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=cols)


def export_trial(ctx: Context) -> TrialData:
    """All seven tables from the active records (records entered in error, and every record of
    a patient entered in error, are left out); recorded in the audit trail as ``export``.
    ``patients`` carries ``site_id``, ``country`` and ``race`` as recorded at enrolment, and
    ``questionnaires`` each response's ``completed_date`` on every item row."""
    ctx.require("export")
    if ctx.blinded:
        raise PermissionDenied(f"the {ctx.actor.role} role may export only after database lock")
    cols = lambda t: [c.name for c in SCHEMAS[t].columns]  # noqa: E731
    gone = select(Patient.patient_id).where(Patient.status == ENTERED_IN_ERROR).scalar_subquery()
    patients = _frame(ctx, Patient, cols("patients"), Patient.status.not_in(("deleted", ENTERED_IN_ERROR)))
    alloc = _frame(ctx, Allocation, ["patient_id", "period", "sequence", "treatment", "kit_code"], Allocation.patient_id.is_not(None))
    inf = _frame(ctx, Infusion, ["patient_id", "period", "infusion_date", "pre_infusion_pain"], Infusion.status == "active")
    allocation = alloc.merge(inf, on=["patient_id", "period"], how="left")
    diary = _frame(ctx, DiaryEntry, cols("diary"), DiaryEntry.status == "active", DiaryEntry.patient_id.not_in(gone))
    qr = ctx.session.execute(select(QuestionnaireResponse.patient_id, QuestionnaireResponse.visit, QuestionnaireResponse.instrument,
                                    QuestionnaireResponse.answers, QuestionnaireResponse.completed_date).where(
        QuestionnaireResponse.status == "active", QuestionnaireResponse.patient_id.not_in(gone))).all()
    questionnaires = pd.DataFrame(
        [(p, v, i, k, val, when) for p, v, i, ans, when in qr for k, val in ans.items()],
        columns=["patient_id", "visit", "instrument", "item", "value", "completed_date"])
    questionnaires["value"] = pd.to_numeric(questionnaires["value"], errors="coerce")
    aes = _frame(ctx, AdverseEvent, cols("adverse_events"), AdverseEvent.status == "active", AdverseEvent.patient_id.not_in(gone))
    cm = _frame(ctx, Concomitant, ["patient_id", "period", "drug_class", "drug_name"], Concomitant.status == "active",
                Concomitant.patient_id.not_in(gone))
    cm.insert(3, "status", cm["period"].gt(0).map({True: "added", False: "baseline"}))
    scr = ctx.session.execute(select(Screening).where(Screening.status == "active").order_by(Screening.id)).scalars().all()
    screening = pd.DataFrame([{"screening_id": s.screening_id, "screening_date": s.screening_date, "dn4_total": s.dn4_total,
                               "eligible": s.eligible, "outcome": s.outcome, "reason": s.reason, "patient_id": s.patient_id,
                               **{k: v for k, v in s.answers.items() if k not in SCHEMAS["screening"].names}}
                              for s in scr], columns=None if scr else cols("screening"))
    audit.event(ctx.session, ctx.actor, table="study", record_id="export", action="export",
                detail=f"{len(patients)} patients, {len(diary)} diary rows")
    meta = {"study": ctx.protocol.study.title, "protocol_id": ctx.protocol.study.id, "source": f"ketapain.capture {__version__}",
            "exported_by": ctx.actor.username, "exported_at": audit.utc_now()}
    return TrialData.from_tables(patients=patients, allocation=allocation, diary=diary, questionnaires=questionnaires,
                                 adverse_events=aes, concomitant=cm, screening=screening, meta=meta,
                                 treatments=ctx.protocol.arm_codes, diary_scale=ctx.protocol.diary.scale)

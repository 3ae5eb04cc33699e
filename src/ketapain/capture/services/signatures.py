"""Electronic signatures of a patient's casebook (password re-entry and a stated meaning).

A signature is voided by the write path itself (:mod:`ketapain.capture.audit`) as soon as
any casebook record of the patient is added or changed; its ``void_reason`` says what changed.
"""

from __future__ import annotations

from sqlalchemy import select

from ketapain.capture import audit
from ketapain.capture.models import Signature
from ketapain.capture.services._context import Context

__all__ = ["list_signatures", "sign_casebook"]


def sign_casebook(ctx: Context, patient_id: str, *, password: str, meaning: str) -> Signature:
    ctx.require("sign")
    user = ctx.check_password(password)
    ctx.patient(patient_id)
    return audit.create(ctx.session, ctx.actor, Signature(patient_id=patient_id, signed_by=user.username, full_name=user.full_name,
                                                          meaning=meaning, signed_at=audit.utc_now(), status="valid"),
                        reason=f"electronic signature: {meaning}")


def list_signatures(ctx: Context, patient_id: str) -> list[Signature]:
    ctx.require("patients.read")
    return list(ctx.session.execute(select(Signature).where(Signature.patient_id == patient_id).order_by(Signature.id)).scalars())

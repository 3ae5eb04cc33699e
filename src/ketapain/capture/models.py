"""The capture database: SQLAlchemy 2 typed ORM models (one class per table).

Every table a user can change is *audited*: it is written only through
:mod:`ketapain.capture.audit`, which records each field's old and new value in
``audit_log`` in the same transaction. Nothing is ever deleted: records carry a
``status`` (``active`` / ``deleted`` / ...) instead. Blinded columns (``sequence``,
``treatment`` of ``allocations`` and ``spare_kits``) are listed in
:data:`ketapain.capture.roles.BLINDED_FIELDS` and never leave the server for a blinded role.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AUDITED_TABLES",
    "AdverseEvent",
    "Allocation",
    "AuditLog",
    "Base",
    "ChangeRequest",
    "Concomitant",
    "DataQuery",
    "DiaryEntry",
    "Infusion",
    "Notification",
    "Patient",
    "PatientToken",
    "QuestionnaireResponse",
    "RandomisationListRecord",
    "Screening",
    "Signature",
    "SpareKit",
    "Study",
    "Unblinding",
    "User",
    "UserSession",
    "VisitRecord",
]


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` is what the Alembic revision creates."""

    type_annotation_map: ClassVar[dict[type, Any]] = {dict: JSON, list: JSON}

    if TYPE_CHECKING:  # for the type checker only; each model declares its own columns
        # Every model below is a ``__tablename__`` model (so its ``__table__`` is a Table, not
        # just a FromClause) with an integer primary key ``id``; the audit write path relies on both.
        __table__: ClassVar[Table]
        id: Mapped[int]


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")


class UserSession(Base):
    """A staff login session (not audited: logins and logouts are audit *events*)."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Study(Base):
    """One row: the protocol in use, the randomisation list's commitment and the lock."""

    __tablename__ = "study"
    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[str] = mapped_column(String(100))
    list_kind: Mapped[str] = mapped_column(String(20))
    list_commitment: Mapped[str] = mapped_column(String(64))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Screening(Base):
    __tablename__ = "screenings"
    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[str] = mapped_column(String(32), unique=True)
    screening_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    dn4_items: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    dn4_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    eligible: Mapped[bool] = mapped_column(Boolean)
    failed: Mapped[list] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    patient_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active")


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(32), unique=True)
    screening_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sex: Mapped[str] = mapped_column(String(1))
    age_years: Mapped[int] = mapped_column(Integer)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    height_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    pain_type: Mapped[str] = mapped_column(String(32))
    pain_duration_years: Mapped[float | None] = mapped_column(Float, nullable=True)
    dn4_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pain_type_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    site_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    country: Mapped[str | None] = mapped_column(String(3), nullable=True)
    """ISO 3166-1 alpha-3 of the patient's site (follows ``site_id``; ``services.patients``)."""
    race: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """CDISC RACE term; 'NOT REPORTED' when the protocol does not collect race."""
    status: Mapped[str] = mapped_column(String(20), default="active")


class Allocation(Base):
    """The randomisation list, one row per list slot x period (UNBLINDED columns:
    ``sequence``, ``treatment``). ``patient_id`` is set when a patient is randomised."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("slot", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    slot: Mapped[str] = mapped_column(String(32))
    slot_number: Mapped[int] = mapped_column(Integer)
    stratum: Mapped[str | None] = mapped_column(String(32), nullable=True)
    period: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[str] = mapped_column(String(64))
    treatment: Mapped[str] = mapped_column(String(16))
    kit_code: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    randomised_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active")


class RandomisationListRecord(Base):
    """One loaded randomisation list (pharmacy list made by ``ketapain randomize``): its kind,
    SHA-256 commitment, file, number of slots and block size. The slots are in ``allocations``."""

    __tablename__ = "randomisation_lists"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    list_kind: Mapped[str] = mapped_column(String(20))
    commitment: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(200))
    slots: Mapped[int] = mapped_column(Integer)
    block_size: Mapped[int] = mapped_column(Integer)
    first_slot_number: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))
    loaded_at: Mapped[str] = mapped_column(String(40))


class SpareKit(Base):
    """Spare kits for replacements (damaged kit); ``treatment`` is UNBLINDED."""

    __tablename__ = "spare_kits"
    id: Mapped[int] = mapped_column(primary_key=True)
    kit_code: Mapped[str] = mapped_column(String(32), unique=True)
    treatment: Mapped[str] = mapped_column(String(16))
    used_for: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="available")


class Infusion(Base):
    __tablename__ = "infusions"
    __table_args__ = (UniqueConstraint("patient_id", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(32), index=True)
    period: Mapped[int] = mapped_column(Integer)
    infusion_date: Mapped[dt.date] = mapped_column(Date)
    pre_infusion_pain: Mapped[float | None] = mapped_column(Float, nullable=True)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    kit_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active")


class DiaryEntry(Base):
    __tablename__ = "diary_entries"
    __table_args__ = (UniqueConstraint("patient_id", "period", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(32), index=True)
    period: Mapped[int] = mapped_column(Integer)
    day: Mapped[int] = mapped_column(Integer)
    avg_pain: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_pain: Mapped[float | None] = mapped_column(Float, nullable=True)
    night_pain: Mapped[float | None] = mapped_column(Float, nullable=True)
    extra_analgesics: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    extra_analgesics_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    device_time: Mapped[str | None] = mapped_column(String(40), nullable=True)
    server_time: Mapped[str] = mapped_column(String(40))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="active")


class VisitRecord(Base):
    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("patient_id", "visit"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(32), index=True)
    visit: Mapped[str] = mapped_column(String(64))
    visit_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active")
    out_of_window: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Recorded outside the protocol's window (``services.visits``): allowed only with a reason."""
    out_of_window_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class QuestionnaireResponse(Base):
    __tablename__ = "questionnaire_responses"
    __table_args__ = (UniqueConstraint("patient_id", "visit", "instrument"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(32), index=True)
    visit: Mapped[str] = mapped_column(String(64))
    instrument: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict] = mapped_column(JSON)
    scores: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="active")
    completed_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    """When the questionnaire was completed (None for responses saved before migration 0006)."""


class AdverseEvent(Base):
    __tablename__ = "adverse_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[str] = mapped_column(String(32), index=True)
    period: Mapped[int] = mapped_column(Integer)
    term: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    serious: Mapped[bool] = mapped_column(Boolean)
    causality: Mapped[str] = mapped_column(String(16))
    onset_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active")


class Concomitant(Base):
    __tablename__ = "concomitant"
    __table_args__ = (UniqueConstraint("patient_id", "period", "drug_class"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(32), index=True)
    period: Mapped[int] = mapped_column(Integer)
    drug_class: Mapped[str] = mapped_column(String(32))
    drug_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active")


class DataQuery(Base):
    __tablename__ = "data_queries"
    id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    patient_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    raised_by: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")


class Signature(Base):
    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(32), index=True)
    signed_by: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="valid")
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class PatientToken(Base):
    __tablename__ = "patient_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="active")


class Unblinding(Base):
    """An emergency unblinding: who, which patient-period, why. The treatment is not stored
    here (the audit row stays blinded); it is read from ``allocations`` for that user only."""

    __tablename__ = "unblindings"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="active")


class ChangeRequest(Base):
    """A change under the two-person rule (lock, unlock, giving a user a role that sees the
    allocation, resetting such a user's or another admin's password): requested by one admin,
    applied only when another admin or the statistician approves it (``services.approvals``).
    ``target_user``/``role``: the grant's user and role; a reset's user (no role)."""

    __tablename__ = "change_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    target_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="unread")


class AuditLog(Base):
    """One audit row per changed field (or one per event). ``seq`` numbers the chain; ``hash``
    = SHA-256 of the row's content and ``prev_hash`` (see :mod:`ketapain.capture.audit`)."""

    __tablename__ = "audit_log"
    __table_args__ = (  # the audit listing (services.audit_log): a table's or a record's rows, newest first
        Index("ix_audit_log_table_seq", "table_name", "seq"),
        Index("ix_audit_log_table_record_seq", "table_name", "record_id", "seq"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[str] = mapped_column(String(40))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    table_name: Mapped[str] = mapped_column(String(64), index=True)
    record_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


AUDITED_TABLES: dict[str, type[Base]] = {
    m.__tablename__: m
    for m in (User, Study, Screening, Patient, Allocation, RandomisationListRecord, SpareKit, Infusion, DiaryEntry, VisitRecord,
              QuestionnaireResponse, AdverseEvent, Concomitant, DataQuery, Signature, PatientToken,
              Unblinding, Notification, ChangeRequest)
}
"""Tables written only through the audit write path (all but sessions and the log itself)."""

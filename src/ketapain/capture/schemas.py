"""Request and response schemas (pydantic): ``*Create`` / ``*Update`` in, ``*Public`` out.

In an ``*Update`` model a field left out keeps the stored value; ``null`` clears a value that
may be empty (a weight, an onset date) and is refused (422) for one that may not (a status,
a severity, a user's name).

Bad input is refused by these models with one message per field (HTTP 422). Allocation data
never appear in a ``*Public`` model: they are added, for unblinded viewers only, by
:func:`ketapain.capture.roles.allocation_view`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ketapain.data import CAUSALITIES, DRUG_CLASSES, PAIN_TYPES, RACES, SEVERITIES

__all__ = [
    "AdverseEventCreate",
    "AdverseEventPublic",
    "AdverseEventUpdate",
    "ChangeApproval",
    "ChangeRejection",
    "ChangeRequestCreate",
    "ChangeRequestPublic",
    "ConcomitantCreate",
    "ConcomitantPublic",
    "ConcomitantUpdate",
    "DB_INT_MAX",
    "DiaryChange",
    "DiaryEntryCreate",
    "DiaryEntryPublic",
    "EmergencyUnblind",
    "EnteredInError",
    "EnteredInErrorPublic",
    "FIRST_DATE",
    "InfusionChange",
    "InfusionCreate",
    "InfusionPublic",
    "KitReplace",
    "LAST_DATE",
    "LockRequest",
    "LoginRequest",
    "NO_NUL",
    "PasswordChange",
    "PasswordResetRedeem",
    "PatientCreate",
    "PatientPublic",
    "PatientUpdate",
    "QueryAnswer",
    "QueryClose",
    "QueryCreate",
    "QueryPublic",
    "QuestionnaireChange",
    "QuestionnaireCreate",
    "QuestionnairePublic",
    "RandomisationListImport",
    "ScreeningChange",
    "ScreeningCreate",
    "ScreeningPublic",
    "SignRequest",
    "SignaturePublic",
    "UnlockRequest",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "VisitChange",
    "VisitCreate",
    "VisitPublic",
]

DB_INT_MAX = 2**31 - 1
"""Largest value of an INTEGER column (PostgreSQL's 32-bit ``integer``). Periods, days and
record ids above it are refused with 422; unbounded, they overflowed in the database driver
(SQLite: above 2**63 - 1; PostgreSQL: above 2**31 - 1) and the request failed with a 500."""

NO_NUL = r"^[^\x00]*$"
"""Pattern of every stored or looked-up string: no NUL character. PostgreSQL text cannot hold
one (the driver raised, a 500); it is refused with 422 on both databases."""

FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2100, 12, 31)
"""Clinical dates (screening, infusion, visit, onset) lie in FIRST_DATE..LAST_DATE: the
schedule, diary days and exports add days to them (and pandas holds dates only up to
2262-04-11); a date near the calendar's ends overflowed there (a 500)."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=NO_NUL)]
Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)]
Detail = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]
FullName = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
Date = Annotated[dt.date, Field(ge=FIRST_DATE, le=LAST_DATE, description="1900-01-01..2100-12-31")]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Pain = Annotated[float, Field(ge=0, le=10)]
Period = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
PeriodOrBaseline = Annotated[int, Field(ge=0, le=DB_INT_MAX, description="0 = baseline (before the first period)")]
Day = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
RecordId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
Role = Literal["admin", "investigator", "nurse", "pharmacist", "statistician", "monitor"]


class _In(BaseModel):
    # NaN and infinities (JSON's non-standard NaN/Infinity, which the body parser reads) are
    # refused: PostgreSQL's json refuses them and a stored one broke the response and export
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _omit_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _keep() -> Any:
    """Default of an ``*Update`` field whose column is never empty: left out, the stored value
    is kept; sent as ``null``, the request is refused with 422 (the document says: not null)."""
    return Field(None, json_schema_extra=_omit_default)


class LoginRequest(_In):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class UserCreate(_In):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    full_name: FullName = ""
    role: Role
    password: Annotated[str, StringConstraints(min_length=10, max_length=1000)]


class UserUpdate(_In):
    full_name: FullName = _keep()
    role: Role = _keep()
    password: Annotated[str, StringConstraints(min_length=10, max_length=1000)] | None = None
    status: Literal["active", "disabled"] = _keep()
    reason: Text


class UserPublic(_Out):
    id: int
    username: str
    full_name: str
    role: str
    status: str


class ScreeningCreate(_In):
    screening_date: Date | None = None
    answers: dict[str, bool | int | float | str | None] = Field(description="Screening answers by protocol field name.")
    dn4_items: dict[str, Literal[0, 1]] | None = Field(None, description="The ten DN4 answers ('1'..'10' -> 0/1).")
    outcome: Literal["refused", "other"] | None = Field(None, description="Set only when an eligible person is not randomised.")
    reason: Text | None = None


class ScreeningChange(_In):
    """A correction of a screening: the date, answers (merged into the stored ones: a key sent
    replaces that answer, ``null`` clears it) and/or the ten DN4 answers; eligibility is
    evaluated again. ``reason`` is mandatory."""

    screening_date: Date | None = None
    answers: dict[str, bool | int | float | str | None] | None = Field(None, description="Answers to change, by protocol field name.")
    dn4_items: dict[str, Literal[0, 1]] | None = Field(None, description="The ten DN4 answers ('1'..'10' -> 0/1).")
    reason: Text


class ScreeningPublic(_Out):
    id: int
    screening_id: str
    screening_date: dt.date | None
    dn4_total: int | None
    eligible: bool
    failed: list[Any]
    outcome: str
    reason: str | None
    patient_id: str | None
    status: str


class PatientCreate(_In):
    patient_id: Id | None = Field(None, description="Default: the next free P001, P002...")
    screening_id: Id | None = None
    sex: Literal["M", "F"]
    age_years: Annotated[int, Field(ge=18, le=120)]
    weight_kg: Annotated[float, Field(ge=20, le=300)] | None = None
    height_m: Annotated[float, Field(ge=1, le=2.5)] | None = None
    pain_type: Literal[PAIN_TYPES]  # type: ignore[valid-type]
    pain_duration_years: Annotated[float, Field(ge=0)] | None = None
    dn4_total: Annotated[int, Field(ge=0, le=10)] | None = None
    pain_type_detail: Text | None = None
    site_id: Id | None = Field(None, description="One of the protocol's [[sites]] ids; required when it has several, "
                                                 "its only site when omitted; none without sites.")
    race: Literal[RACES] | None = Field(  # type: ignore[valid-type]
        None, description="CDISC RACE term; only when the protocol collects race (required then); otherwise "
                          "'NOT REPORTED' is recorded.")


class PatientUpdate(_In):
    """A correction of a patient's demographics (omitted: unchanged); ``reason`` is mandatory.
    ``status`` withdrawn/deleted as before; "entered in error" has its own endpoint."""

    sex: Literal["M", "F"] = _keep()
    age_years: Annotated[int, Field(ge=18, le=120)] = _keep()
    pain_type: Literal[PAIN_TYPES] = _keep()  # type: ignore[valid-type]
    dn4_total: Annotated[int, Field(ge=0, le=10)] | None = None
    weight_kg: Annotated[float, Field(ge=20, le=300)] | None = None
    height_m: Annotated[float, Field(ge=1, le=2.5)] | None = None
    pain_duration_years: Annotated[float, Field(ge=0)] | None = None
    pain_type_detail: Text | None = None
    site_id: Id | None = None
    race: Literal[RACES] = _keep()  # type: ignore[valid-type]
    status: Literal["active", "withdrawn", "deleted"] = _keep()
    reason: Text


class PatientPublic(_Out):
    id: int
    patient_id: str
    screening_id: str | None
    sex: str
    age_years: int
    weight_kg: float | None
    height_m: float | None
    pain_type: str
    pain_duration_years: float | None
    dn4_total: int | None
    site_id: str | None
    country: str | None
    race: str | None
    status: str


class KitReplace(_In):
    reason: Text


class InfusionCreate(_In):
    patient_id: Id
    period: Period
    infusion_date: Date
    pre_infusion_pain: Pain | None = None
    weight_kg: Annotated[float, Field(ge=20, le=300)] | None = None
    kit_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    notes: Text | None = None


class InfusionChange(_In):
    """A correction of an infusion: the fields to change (omitted: unchanged), a mandatory
    reason, and ``confirm`` (true: move the period's diary entries with a new date)."""

    infusion_date: Date | None = None
    pre_infusion_pain: Pain | None = None
    reason: Text
    confirm: bool = Field(False, description="Confirm moving the diary entries of the period with the infusion date.")


class InfusionPublic(_Out):
    patient_id: str
    period: int
    infusion_date: dt.date
    pre_infusion_pain: float | None
    weight_kg: float | None
    kit_code: str | None


class DiaryEntryCreate(_In):
    period: Period
    day: Day
    avg_pain: Pain | None = None
    max_pain: Pain | None = None
    night_pain: Pain | None = None
    extra_analgesics: bool | None = None
    extra_analgesics_detail: Detail | None = None
    device_time: dt.datetime | None = Field(None, description="The phone's clock when the entry was made (ISO 8601).")


class DiaryChange(_In):
    avg_pain: Pain | None = None
    max_pain: Pain | None = None
    night_pain: Pain | None = None
    extra_analgesics: bool | None = None
    extra_analgesics_detail: Detail | None = None
    reason: Text


class DiaryEntryPublic(_Out):
    patient_id: str
    period: int
    day: int
    avg_pain: float | None
    max_pain: float | None
    night_pain: float | None
    extra_analgesics: bool | None
    extra_analgesics_detail: str | None
    device_time: str | None
    server_time: str
    late: bool


class VisitCreate(_In):
    patient_id: Id
    visit: Id
    visit_date: Date
    out_of_window_reason: Text | None = Field(
        None, description="Why the visit is outside its protocol window; needed (and only stored) when it is.")


class VisitPublic(_Out):
    id: int
    patient_id: str
    visit: str
    visit_date: dt.date
    out_of_window: bool
    out_of_window_reason: str | None
    status: str


class VisitChange(_In):
    """A correction of a visit's date; ``reason`` is mandatory."""

    visit_date: Date = _keep()
    reason: Text


class QuestionnaireCreate(_In):
    patient_id: Id
    visit: Id
    instrument: Id
    answers: dict[str, float | str | None]
    completed_date: Date | None = Field(None, description="When the questionnaire was completed; default today "
                                                          "(UTC); not in the future, not before the inclusion.")


class QuestionnaireChange(_In):
    """A correction of a questionnaire response: the answers to change (merged into the stored
    ones: an item sent replaces that answer, ``null`` clears it); scores are computed again.
    ``reason`` is mandatory."""

    answers: dict[str, float | str | None] = Field(default_factory=dict)
    completed_date: Date = _keep()
    reason: Text


class QuestionnairePublic(_Out):
    id: int
    patient_id: str
    visit: str
    instrument: str
    answers: dict[str, Any]
    scores: dict[str, Any]
    completed_date: dt.date | None
    status: str


class AdverseEventCreate(_In):
    patient_id: Id
    period: PeriodOrBaseline
    term: Term
    severity: Literal[SEVERITIES]  # type: ignore[valid-type]
    serious: bool
    causality: Literal[CAUSALITIES]  # type: ignore[valid-type]
    onset_date: Date | None = None


class AdverseEventUpdate(_In):
    period: PeriodOrBaseline = _keep()
    term: Term = _keep()
    severity: Literal[SEVERITIES] = _keep()  # type: ignore[valid-type]
    serious: bool = _keep()
    causality: Literal[CAUSALITIES] = _keep()  # type: ignore[valid-type]
    onset_date: Date | None = None
    status: Literal["active", "deleted"] = _keep()
    reason: Text


class AdverseEventPublic(_Out):
    id: int
    event_id: str
    patient_id: str
    period: int
    term: str
    severity: str
    serious: bool
    causality: str
    onset_date: dt.date | None
    status: str


class ConcomitantCreate(_In):
    patient_id: Id
    period: PeriodOrBaseline
    drug_class: Literal[DRUG_CLASSES]  # type: ignore[valid-type]
    drug_name: Text | None = None


class ConcomitantUpdate(_In):
    period: PeriodOrBaseline = _keep()
    drug_class: Literal[DRUG_CLASSES] = _keep()  # type: ignore[valid-type]
    drug_name: Text | None = None
    status: Literal["active", "deleted"] = _keep()
    reason: Text


class ConcomitantPublic(_Out):
    id: int
    patient_id: str
    period: int
    drug_class: str
    drug_name: str | None
    status: str


class EnteredInError(_In):
    """Mark a record as entered in error (soft: the record and its audit trail stay)."""

    reason: Text


class EnteredInErrorPublic(BaseModel):
    table_name: str
    record_id: int
    status: str
    queries_closed: list[int]


class QueryCreate(_In):
    table_name: Id
    record_id: RecordId
    field: Id | None = None
    text: Text


class QueryAnswer(_In):
    answer: Text


class QueryClose(_In):
    reason: Text | None = None


class QueryPublic(_Out):
    id: int
    table_name: str
    record_id: int
    field: str | None
    patient_id: str | None
    text: str
    raised_by: str
    answer: str | None
    answered_by: str | None
    closed_by: str | None
    status: str


class RandomisationListImport(_In):
    """A pharmacy list made by ``ketapain randomize`` (the text of ``pharmacy.csv``) and its
    SHA-256 commitment (``commitment.txt``); the digest is checked on the exact UTF-8 text."""

    file_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)] = "pharmacy.csv"
    pharmacy_csv: Annotated[str, StringConstraints(min_length=1, max_length=5_000_000, pattern=NO_NUL)]
    commitment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)]


class LockRequest(_In):
    reason: Text


class UnlockRequest(_In):
    password: Annotated[str, StringConstraints(min_length=1)]
    reason: Text


class ChangeRequestCreate(_In):
    action: Literal["lock", "unlock", "grant_role", "reset_password"] = Field(description="The change asked for (two-person rule).")
    reason: Text
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    target_user: Annotated[str, StringConstraints(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")] | None = Field(
        None, description="grant_role: the user given the role; reset_password: the user whose password is reset.")
    role: Role | None = Field(None, description="grant_role: the role given (one that sees the allocation).")

    @model_validator(mode="after")
    def _grant_needs_user_and_role(self) -> ChangeRequestCreate:
        if (self.action == "grant_role") != (self.role is not None):
            raise ValueError("role is given with action grant_role, and only with it")
        if (self.action in ("grant_role", "reset_password")) != (self.target_user is not None):
            raise ValueError("target_user is given with actions grant_role and reset_password, and only with them")
        return self


class ChangeApproval(_In):
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    reason: Text | None = None


class ChangeRejection(_In):
    reason: Text


NewPassword = Annotated[str, StringConstraints(min_length=10, max_length=1000)]


class PasswordChange(_In):
    """One's own new password, with the current one."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    new_password: NewPassword


class PasswordResetRedeem(_In):
    """The one-time reset code of an approved ``reset_password`` request and the user's own new password."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
    code: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
    new_password: NewPassword


class ChangeRequestPublic(_Out):
    id: int
    action: str
    reason: str
    target_user: str | None
    role: str | None
    requested_by: str
    requested_at: str
    status: str
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None
    reset_code: str | None = Field(None, description="An approved password reset: the one-time code, in the approver's "
                                   "answer only (never stored, never listed).")


class SignRequest(_In):
    password: Annotated[str, StringConstraints(min_length=1)]
    meaning: Text


class SignaturePublic(_Out):
    id: int
    patient_id: str
    signed_by: str
    full_name: str
    meaning: str
    signed_at: str
    status: str
    void_reason: str | None


class EmergencyUnblind(_In):
    patient_id: Id
    period: Period
    reason: Text
    password: Annotated[str, StringConstraints(min_length=1)]

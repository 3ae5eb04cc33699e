"""Request and response schemas (pydantic): ``*Create`` / ``*Update`` in, ``*Public`` out.

Bad input is refused by these models with one message per field (HTTP 422). Allocation data
never appear in a ``*Public`` model: they are added, for unblinded viewers only, by
:func:`ketapain.capture.roles.allocation_view`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ketapain.data import CAUSALITIES, DRUG_CLASSES, PAIN_TYPES, SEVERITIES

__all__ = [
    "AdverseEventCreate", "AdverseEventPublic", "AdverseEventUpdate", "ConcomitantCreate", "ConcomitantPublic",
    "ConcomitantUpdate", "DiaryChange", "DiaryEntryCreate", "DiaryEntryPublic", "EmergencyUnblind", "InfusionCreate",
    "InfusionPublic", "KitReplace", "LockRequest", "LoginRequest", "PatientCreate", "PatientPublic", "PatientUpdate",
    "QueryAnswer", "QueryClose", "QueryCreate", "QueryPublic", "QuestionnaireCreate", "QuestionnairePublic",
    "ScreeningCreate", "ScreeningPublic", "SignRequest", "SignaturePublic", "UnlockRequest", "UserCreate", "UserPublic",
    "UserUpdate", "VisitCreate",
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Pain = Annotated[float, Field(ge=0, le=10)]
Role = Literal["admin", "investigator", "nurse", "pharmacist", "statistician", "monitor"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LoginRequest(_In):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class UserCreate(_In):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    full_name: Annotated[str, StringConstraints(max_length=200)] = ""
    role: Role
    password: Annotated[str, StringConstraints(min_length=10, max_length=1000)]


class UserUpdate(_In):
    full_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    role: Role | None = None
    password: Annotated[str, StringConstraints(min_length=10, max_length=1000)] | None = None
    status: Literal["active", "disabled"] | None = None
    reason: Text


class UserPublic(_Out):
    id: int
    username: str
    full_name: str
    role: str
    status: str


class ScreeningCreate(_In):
    screening_date: dt.date | None = None
    answers: dict[str, bool | int | float | str | None] = Field(description="Screening answers by protocol field name.")
    dn4_items: dict[str, Literal[0, 1]] | None = Field(None, description="The ten DN4 answers ('1'..'10' -> 0/1).")
    outcome: Literal["refused", "other"] | None = Field(None, description="Set only when an eligible person is not randomised.")
    reason: Text | None = None


class ScreeningPublic(_Out):
    screening_id: str
    screening_date: dt.date | None
    dn4_total: int | None
    eligible: bool
    failed: list[Any]
    outcome: str
    reason: str | None
    patient_id: str | None


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
    site_id: Id | None = None


class PatientUpdate(_In):
    weight_kg: Annotated[float, Field(ge=20, le=300)] | None = None
    height_m: Annotated[float, Field(ge=1, le=2.5)] | None = None
    pain_duration_years: Annotated[float, Field(ge=0)] | None = None
    pain_type_detail: Text | None = None
    site_id: Id | None = None
    status: Literal["active", "withdrawn", "deleted"] | None = None
    reason: Text


class PatientPublic(_Out):
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
    status: str


class KitReplace(_In):
    reason: Text


class InfusionCreate(_In):
    patient_id: Id
    period: Annotated[int, Field(ge=1)]
    infusion_date: dt.date
    pre_infusion_pain: Pain | None = None
    weight_kg: Annotated[float, Field(ge=20, le=300)] | None = None
    kit_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    notes: Text | None = None


class InfusionPublic(_Out):
    patient_id: str
    period: int
    infusion_date: dt.date
    pre_infusion_pain: float | None
    weight_kg: float | None
    kit_code: str | None


class DiaryEntryCreate(_In):
    period: Annotated[int, Field(ge=1)]
    day: Annotated[int, Field(ge=1)]
    avg_pain: Pain | None = None
    max_pain: Pain | None = None
    night_pain: Pain | None = None
    extra_analgesics: bool | None = None
    extra_analgesics_detail: Annotated[str, StringConstraints(max_length=500)] | None = None
    device_time: dt.datetime | None = Field(None, description="The phone's clock when the entry was made (ISO 8601).")


class DiaryChange(_In):
    avg_pain: Pain | None = None
    max_pain: Pain | None = None
    night_pain: Pain | None = None
    extra_analgesics: bool | None = None
    extra_analgesics_detail: Annotated[str, StringConstraints(max_length=500)] | None = None
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
    visit_date: dt.date


class QuestionnaireCreate(_In):
    patient_id: Id
    visit: Id
    instrument: Id
    answers: dict[str, float | str | None]


class QuestionnairePublic(_Out):
    patient_id: str
    visit: str
    instrument: str
    answers: dict[str, Any]
    scores: dict[str, Any]


class AdverseEventCreate(_In):
    patient_id: Id
    period: Annotated[int, Field(ge=0)]
    term: Text
    severity: Literal[SEVERITIES]  # type: ignore[valid-type]
    serious: bool
    causality: Literal[CAUSALITIES]  # type: ignore[valid-type]
    onset_date: dt.date | None = None


class AdverseEventUpdate(_In):
    term: Text | None = None
    severity: Literal[SEVERITIES] | None = None  # type: ignore[valid-type]
    serious: bool | None = None
    causality: Literal[CAUSALITIES] | None = None  # type: ignore[valid-type]
    onset_date: dt.date | None = None
    status: Literal["active", "deleted"] | None = None
    reason: Text


class AdverseEventPublic(_Out):
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
    period: Annotated[int, Field(ge=0)]
    drug_class: Literal[DRUG_CLASSES]  # type: ignore[valid-type]
    drug_name: Text | None = None


class ConcomitantUpdate(_In):
    drug_name: Text | None = None
    status: Literal["active", "deleted"] | None = None
    reason: Text


class ConcomitantPublic(_Out):
    id: int
    patient_id: str
    period: int
    drug_class: str
    drug_name: str | None
    status: str


class QueryCreate(_In):
    table_name: Id
    record_id: int
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


class LockRequest(_In):
    reason: Text


class UnlockRequest(_In):
    password: Annotated[str, StringConstraints(min_length=1)]
    reason: Text


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
    period: Annotated[int, Field(ge=1)]
    reason: Text
    password: Annotated[str, StringConstraints(min_length=1)]

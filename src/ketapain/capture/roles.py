"""Roles, what each may do, and the blinding rule — the one place both are decided.

==============  =========================================================  ==================
role            may                                                        blinded
==============  =========================================================  ==================
admin           users, lock/unlock**, raise/close queries, audit, export*,  until lock
                import randomisation lists
investigator    all data entry, randomise, sign casebooks, emergency        always
                unblinding, answer queries, patient links, audit
nurse           data entry, randomise, answer queries, patient links        always
pharmacist      allocations, kits, preparation sheets, kit replacement,     never
                export*, audit
statistician    read, raise queries, audit, export*, approve lock/unlock**  until lock
monitor         read, raise and close queries, audit                        always
patient         own diary only (personal link token)                        always
==============  =========================================================  ==================

\\* export needs an unblinded view at the time of the request.
\\** under the protocol's two-person rule (``[blinding] two_person_rule``, default on), one
admin requests a lock, an unlock or a role that sees the allocation, and another admin or the
statistician approves it (:mod:`ketapain.capture.services.approvals`); nobody changes their
own role.

Blinded data are the columns in :data:`BLINDED_FIELDS` (arm, sequence; kit-to-arm links).
Services return them only through :func:`allocation_view`, and the audit trail is filtered by
:func:`visible_audit_row`, so no response, export, error message or audit listing of a
blinded role ever holds them.

>>> can("nurse", "randomise"), can("monitor", "diary.write")
(True, False)
>>> is_blinded("statistician", locked=False), is_blinded("statistician", locked=True)
(True, False)
"""

from __future__ import annotations

from typing import Any

from ketapain.errors import PermissionDenied

__all__ = [
    "BLINDED_FIELDS",
    "PERMISSIONS",
    "ROLES",
    "STAFF_ROLES",
    "allocation_view",
    "can",
    "is_blinded",
    "require",
    "visible_audit_row",
]

ROLES = ("admin", "investigator", "nurse", "pharmacist", "statistician", "monitor", "patient")
STAFF_ROLES = ROLES[:-1]
_ENTRY = frozenset({"investigator", "nurse"})
_READ = frozenset(STAFF_ROLES)

PERMISSIONS: dict[str, frozenset[str]] = {
    "users.manage": frozenset({"admin"}),
    "randomisation_list.import": frozenset({"admin"}),
    "patients.read": _READ,
    "patients.write": _ENTRY,
    "screening.write": _ENTRY,
    "randomise": _ENTRY,
    "allocations.read": _READ,
    "pharmacy": frozenset({"pharmacist"}),
    "kits.replace": _ENTRY | {"pharmacist"},
    "infusions.write": _ENTRY,
    "diary.write": _ENTRY,
    "diary.read": _READ,
    "tokens.manage": _ENTRY,
    "visits.write": _ENTRY,
    "questionnaires.write": _ENTRY,
    "adverse_events.write": _ENTRY,
    "concomitant.write": _ENTRY,
    "queries.raise": frozenset({"monitor", "statistician", "admin"}),
    "queries.answer": _ENTRY,
    "queries.close": frozenset({"monitor", "admin"}),
    "lock": frozenset({"admin"}),
    "changes.request": frozenset({"admin"}),
    "changes.approve": frozenset({"admin", "statistician"}),
    "export": frozenset({"admin", "statistician", "pharmacist"}),
    "audit.read": frozenset({"admin", "investigator", "pharmacist", "statistician", "monitor"}),
    "sign": frozenset({"investigator"}),
    "unblind.emergency": frozenset({"investigator"}),
}
"""Action -> roles allowed. Every service calls :func:`require` with one of these actions."""

BLINDED_FIELDS: dict[str, frozenset[str]] = {
    "allocations": frozenset({"sequence", "treatment"}),
    "spare_kits": frozenset({"treatment", "used_for"}),
}
"""Columns a blinded role never receives."""

_ALWAYS_UNBLINDED = frozenset({"pharmacist"})
_UNBLINDED_AFTER_LOCK = frozenset({"statistician", "admin"})


def can(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action`` (a key of :data:`PERMISSIONS`)."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")
    return role in PERMISSIONS[action]


def require(role: str, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` may perform ``action``."""
    if not can(role, action):
        raise PermissionDenied(f"the {role} role may not do this ({action})")


def is_blinded(role: str, *, locked: bool) -> bool:
    """Whether ``role`` must not see allocation data now (pharmacist never; statistician and
    admin until the database is locked; everyone else always)."""
    return not (role in _ALWAYS_UNBLINDED or (locked and role in _UNBLINDED_AFTER_LOCK))


def allocation_view(row: Any, *, blinded: bool, infusion: Any = None) -> dict[str, Any]:
    """The JSON view of one ``allocations`` row: patient, period, kit code (what the blinded
    labels show) and infusion; plus ``sequence`` and ``treatment`` only when not ``blinded``."""
    out: dict[str, Any] = {"patient_id": row.patient_id, "period": row.period, "kit_code": row.kit_code,
                           "infusion_date": getattr(infusion, "infusion_date", None),
                           "pre_infusion_pain": getattr(infusion, "pre_infusion_pain", None)}
    if not blinded:
        out["sequence"] = row.sequence
        out["treatment"] = row.treatment
        out["slot"] = row.slot
    return out


def visible_audit_row(table_name: str, field: str | None, *, blinded: bool) -> bool:
    """Whether an audit row on ``table_name.field`` may be shown to a (blinded) viewer.

    Blinded viewers see no audit row of ``spare_kits`` at all: even without the treatment
    field, the order and ids of the spare-kit records, joined with a kit replacement, could
    point to an arm.
    """
    if blinded and table_name == "spare_kits":
        return False
    return not (blinded and table_name in BLINDED_FIELDS and (field is None or field in BLINDED_FIELDS[table_name]))

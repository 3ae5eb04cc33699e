"""Services of the capture app: one module per resource, free of HTTP.

Each takes a :class:`Context` (session, actor, settings, protocol), checks the role, writes
through :mod:`ketapain.capture.audit` and flushes; the caller commits once. Signatures are
listed in ``docs/capture.md``.
"""

from __future__ import annotations

from ketapain.capture.services import (
    adverse_events,
    approvals,
    audit_log,
    casebook,
    corrections,
    demo,
    diary,
    export,
    infusions,
    lock,
    patients,
    queries,
    questionnaires,
    randomisation,
    randomisation_list,
    screening,
    signatures,
    study,
    unblinding,
    users,
    visits,
)
from ketapain.capture.services._context import Context

__all__ = [
    "Context",
    "adverse_events",
    "approvals",
    "audit_log",
    "casebook",
    "corrections",
    "demo",
    "diary",
    "export",
    "infusions",
    "lock",
    "patients",
    "queries",
    "questionnaires",
    "randomisation",
    "randomisation_list",
    "screening",
    "signatures",
    "study",
    "unblinding",
    "users",
    "visits",
]

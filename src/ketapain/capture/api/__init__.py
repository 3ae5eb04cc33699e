"""The JSON API under ``/api/v1``: one router per resource (see ``docs/capture.md``).

=======================  ==================================================================
module                   routes (under ``/api/v1``)
=======================  ==================================================================
``auth``                 ``/auth/login``, ``/auth/logout``, ``/auth/me``
``users``                ``/users``, ``/users/{username}``
``screenings``           ``/screenings``, ``/screenings/{screening_id}``
``patients``             ``/patients``, ``/patients/{patient_id}``
``diary_links``          ``/patients/{patient_id}/diary-link``, ``…/diary-link/revoke``
``signatures``           ``/patients/{patient_id}/signatures``
``randomisation``        ``/patients/{patient_id}/randomise``, ``/allocations``,
                         ``/allocations/{patient_id}/{period}/replace-kit``
``randomisation_list``   ``/randomisation-list`` (status; import: admin)
``pharmacy``             ``/pharmacy/{patient_id}/{period}``
``unblindings``          ``/unblindings``, ``/unblindings/{unblinding_id}``
``notifications``        ``/notifications``
``infusions``            ``/infusions``
``diary``                ``/diary``, ``/diary/{period}/{day}`` (patient token);
                         ``/patients/{patient_id}/diary``, ``…/diary/{period}/{day}`` (staff)
``compliance``           ``/compliance``, ``/diary-missing-today``
``visits``               ``/visits``, ``/patients/{patient_id}/schedule``, ``…/visits/{visit}``
``casebook``             ``/patients/{patient_id}/casebook`` (the visit x form grid)
``questionnaires``       ``/questionnaires``, ``/patients/{patient_id}/questionnaires/{visit}/{instrument}``
``adverse_events``       ``/adverse-events``, ``/adverse-events/{event_id}``
``concomitant``          ``/concomitant``, ``/concomitant/{record_id}``
``corrections``          ``/records/{table_name}/{record_id}/entered-in-error``
``queries``              ``/queries``, ``/queries/{query_id}/answer``, ``…/close``
``lock``                 ``/lock``, ``/unlock`` (refused under the two-person rule)
``change_requests``      ``/change-requests``, ``…/{request_id}/approve``, ``…/reject``
``export``               ``/export``
``audit``                ``/audit``
=======================  ==================================================================

Dependencies (settings, session, staff or patient context) are in :mod:`.deps`.
"""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api import (
    adverse_events,
    audit,
    auth,
    casebook,
    change_requests,
    compliance,
    concomitant,
    corrections,
    diary,
    diary_links,
    export,
    infusions,
    lock,
    notifications,
    patients,
    pharmacy,
    queries,
    questionnaires,
    randomisation,
    randomisation_list,
    screenings,
    signatures,
    unblindings,
    users,
    visits,
)

__all__ = ["api_router"]

_ROUTERS = (auth, users, screenings, patients, diary_links, signatures, randomisation, randomisation_list, pharmacy, unblindings,
            notifications, infusions, diary, compliance, visits, casebook, questionnaires, adverse_events, concomitant, corrections,
            queries, lock, change_requests, export, audit)

api_router = APIRouter(prefix="/api/v1")
for _m in _ROUTERS:
    api_router.include_router(_m.router)

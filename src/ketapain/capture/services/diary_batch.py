"""The patients' own diary posts of one group-commit batch, checked and stored together (issue 17).

:func:`submit_own_posts` gives every post of a batch the answer :func:`diary.submit_entry
<ketapain.capture.services.diary.submit_entry>` would give it, run one after another in the
order given, inside one transaction (:mod:`ketapain.capture.writer`), but with a fixed number
of statements per batch instead of per post: one query for all the link tokens, one for the
periods' infusions, one for the days already stored, one multi-row insert and one executemany
of the audit rows (:func:`ketapain.capture.audit.audited_bulk_insert`, each row's audit rows
written by its patient). The checks are the single post's own (:func:`diary.new_entry_row`);
a second post of one day in the same batch meets the first as a day already filled in, as it
would one after another.

What the single path does and this reproduces: the link check's two messages, the bounds,
"not started", "in the future" and "already filled in" errors, a locked study refusing every
post that passed its checks, a signed casebook voided by the patient's post (a batch with a signed patient raises
:class:`RunAlone` before writing: the single post's void reason names the entry). When the bulk
insert itself is refused (a day stored meanwhile by a writer outside the batch, on
PostgreSQL), the function raises and the caller runs the posts one by one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from ketapain.capture import audit
from ketapain.capture.config import Settings
from ketapain.capture.models import DiaryEntry, Infusion, Patient, PatientToken
from ketapain.capture.schemas import DiaryEntryCreate
from ketapain.capture.security import token_digest
from ketapain.capture.services.diary import link_owner, new_entry_row
from ketapain.errors import AuthenticationFailed, StudyLocked
from ketapain.protocol import Protocol

__all__ = ["RunAlone", "submit_own_posts"]


class RunAlone(Exception):
    """The batch must be run one post at a time (:func:`submit_own_posts` wrote nothing)."""


def submit_own_posts(session: Session, settings: Settings, protocol: Protocol,
                     posts: Sequence[tuple[str, DiaryEntryCreate]], *,
                     now: dt.datetime | None = None) -> list[dict[str, Any] | Exception]:
    """Check and store a batch of ``(link token, entry)`` posts in the caller's transaction.

    Returns, per post in order, the stored row (field -> value, ``id`` included) or the error
    the single post would raise (nothing of it stored). ``now`` (UTC) is the batch's server
    time (default: the clock). Raises when the bulk write fails as a whole (the caller rolls
    back to its savepoint and runs the posts one by one)."""
    now = now or dt.datetime.now(dt.UTC)
    owners = _owners(session, settings.secret_key, [token for token, _ in posts])
    pids = {pid for pid in owners if isinstance(pid, str)}
    starts, taken = _known_days(session, pids, [(o, d) for o, (_, d) in zip(owners, posts, strict=True) if isinstance(o, str)])
    if pids & audit.signed_patients(session):
        raise RunAlone("a patient of the batch has a signed casebook (the single post voids it, with its own reason)")
    out: list[dict[str, Any] | Exception] = []
    rows: list[dict[str, Any]] = []
    mine: set[tuple[str, int, int]] = set()  # days stored by this batch
    again: list[int] = []  # posts refused because a post before them in the batch stored their day
    for owner, (_, data) in zip(owners, posts, strict=True):
        if isinstance(owner, Exception):
            out.append(owner)
            continue
        key = (owner, data.period, data.day)
        if key in mine:
            again.append(len(out))
        try:
            row = new_entry_row(protocol, settings, f"patient:{owner}", owner, data, start=starts.get(key[:2]),
                                taken=key in taken, now=now)
        except Exception as exc:  # the single post's own error (422 / 409)
            out.append(exc)
            continue
        taken.add(key)
        mine.add(key)
        out.append(row)
        rows.append(row)
    if rows:
        actors = [audit.Actor(row["entered_by"], "patient") for row in rows]
        try:
            ids = audit.audited_bulk_insert(session, actors[0], DiaryEntry, rows, reason=None, actors=actors)
        except StudyLocked as exc:  # every post that passed its checks meets the lock, as one by one (nothing stored,
            # so a second post of a day meets the lock too, not the first)
            return [exc if isinstance(o, dict) or k in again else o for k, o in enumerate(out)]
        for row, rid in zip(rows, ids, strict=True):
            row["id"] = rid
    return out


def _owners(session: Session, secret_key: str, tokens: Sequence[str]) -> list[str | Exception]:
    """The patient of every link token (one query), or the link check's error
    (:func:`ketapain.capture.services.diary.link_owner`, as the single post's)."""
    digests = [token_digest(secret_key, token) for token in tokens]
    found = {
        row[0]: (row[1], row[2], row[3])
        for row in session.execute(
            select(PatientToken.token_hash, PatientToken.status, Patient.patient_id, Patient.status)
            .outerjoin(Patient, Patient.patient_id == PatientToken.patient_id)
            .where(PatientToken.token_hash.in_(set(digests)))
        )
    }
    owners: list[str | Exception] = []
    for digest in digests:
        try:
            owners.append(link_owner(found.get(digest)))
        except AuthenticationFailed as exc:
            owners.append(exc)
    return owners


def _known_days(session: Session, pids: set[str], posts: list[tuple[str, DiaryEntryCreate]]
                ) -> tuple[dict[tuple[str, int], dt.date], set[tuple[str, int, int]]]:
    """The active infusion date of every (patient, period) of ``pids`` and the (patient,
    period, day) already stored among ``posts``' days (any status, as the single post's
    check): two queries."""
    if not posts:
        return {}, set()
    starts = {
        (pid, period): date
        for pid, period, date in session.execute(
            select(Infusion.patient_id, Infusion.period, Infusion.infusion_date).where(
                Infusion.patient_id.in_(pids), Infusion.status == "active"
            )
        )
    }
    keys = sorted({(pid, data.period, data.day) for pid, data in posts})
    taken = {
        (pid, period, day)
        for pid, period, day in session.execute(
            select(DiaryEntry.patient_id, DiaryEntry.period, DiaryEntry.day).where(
                tuple_(DiaryEntry.patient_id, DiaryEntry.period, DiaryEntry.day).in_(keys)
            )
        )
    }
    return starts, taken

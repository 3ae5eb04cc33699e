"""Study setup: the study's kind, its first randomisation list and the spare kits.

A new database becomes a study of the kind of the list it starts with (``ketapain serve
--randomisation-list DIR``), else of ``settings.list_kind``: a ``test`` study without a list
gets a generated test list of ``settings.randomisation_patients`` patients; a ``production``
study without a list waits for the administrator to import one (the server never makes a
production list). A demo database (created by :func:`ketapain.capture.services.demo.import_trial`)
gets a test list of ``demo_room`` new patients after its simulated ones, so new patients can
be randomised.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketapain.capture import audit
from ketapain.capture.audit import Actor
from ketapain.capture.config import Settings
from ketapain.capture.models import Allocation, RandomisationListRecord, SpareKit, Study
from ketapain.capture.services._context import Context
from ketapain.capture.services.randomisation_list import NO_LIST, ListFiles, load_list, parse_list
from ketapain.operations import (
    RandomisationList,
    kit_codes,
    randomise_protocol,
    resolve_seed,
)
from ketapain.protocol import Protocol

__all__ = ["setup_study"]


def _generated(protocol: Protocol, settings: Settings, n: int) -> RandomisationList:
    """A test list of ``n`` patients (stratified protocols: split evenly between M and F)."""
    counts: int | dict[str, int] = n
    if protocol.randomisation.strata:
        counts = {"M": (n + 1) // 2, "F": n // 2}
    return randomise_protocol(protocol, n_patients=counts, kind="test", seed=settings.randomisation_seed)


def setup_study(session: Session, actor: Actor, settings: Settings, protocol: Protocol, *,
                list_files: ListFiles | None = None, demo_room: int = 0) -> Study:
    """Create the study once and load its randomisation list (audited, caller commits).

    ``list_files``: a list made by ``ketapain randomize``, loaded after its commitment is
    verified unless the same list is loaded already. ``demo_room``: in a demo database with no
    list yet, the number of new patients a generated test list makes room for. Spare kits
    (``settings.spare_kits_per_arm`` per arm, kit codes from
    :func:`ketapain.operations.kit_codes` with a seed drawn from the list's seed) are loaded
    when there are none.

    Raises
    ------
    CommitmentMismatchError, ListKindMismatchError, DataError, Conflict
        As :func:`ketapain.capture.services.randomisation_list.import_list`.
    """
    ctx = Context(session, actor, settings, protocol)
    rlist = parse_list(ctx, list_files) if list_files is not None else None
    study = session.execute(select(Study).limit(1)).scalars().first()
    has_list = bool(session.execute(select(func.count()).select_from(RandomisationListRecord)).scalar_one())
    if study is None:
        kind = rlist.kind if rlist is not None else settings.list_kind
        study = audit.create(session, actor, Study(protocol_id=protocol.study.id, list_kind=kind,
                                                   list_commitment=NO_LIST, locked=False), reason="study setup")
        if rlist is None and kind == "test":
            rlist = _generated(protocol, settings, settings.randomisation_patients)
    elif rlist is None and demo_room and not has_list:
        rlist = _generated(protocol, settings, demo_room)
    if rlist is not None:
        commitment = list_files.commitment.strip().lower() if list_files is not None else rlist.commitment
        known = session.execute(select(RandomisationListRecord.id).where(RandomisationListRecord.commitment == commitment)).first()
        if known is None:
            name = list_files.file_name if list_files is not None else "generated test list"
            load_list(ctx, rlist, file_name=name, commitment=commitment, source="serve" if list_files else "generated")
    if not session.execute(select(func.count()).select_from(SpareKit)).scalar_one():
        _spare_kits(session, actor, settings, protocol, kind=study.list_kind, seed=None if rlist is None else rlist.seed)
    return study


def _spare_kits(session: Session, actor: Actor, settings: Settings, protocol: Protocol, *, kind: str, seed: int | None) -> None:
    spare_seed, _ = resolve_seed(None if seed is None else seed + 1)
    arms = protocol.arm_codes
    codes = kit_codes(settings.spare_kits_per_arm * len(arms), seed=spare_seed, kind=kind,  # type: ignore[arg-type]
                      protocol_id=protocol.study.id)
    used = set(session.execute(select(Allocation.kit_code)).scalars())
    free = [c for c in codes if c not in used]
    # arms in a random order (from the list's seed), so that the order of the spare-kit records
    # says nothing about their arms
    order = np.random.default_rng(spare_seed).permutation(len(free))
    for i, code in zip(order, free, strict=True):
        audit.create(session, actor, SpareKit(kit_code=code, treatment=arms[int(i) % len(arms)], used_for=None,
                                              status="available"), reason="spare kits loaded")

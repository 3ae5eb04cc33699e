"""Study setup: the randomisation list (``operations.randomise_protocol``) and spare kits."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketapain.capture import audit
from ketapain.capture.audit import Actor
from ketapain.capture.config import Settings
from ketapain.capture.models import Allocation, SpareKit, Study
from ketapain.operations import (
    RandomisationList,
    kit_codes,
    randomise_protocol,
    resolve_seed,
)
from ketapain.protocol import Protocol

__all__ = ["setup_study"]


def setup_study(session: Session, actor: Actor, settings: Settings, protocol: Protocol, *,
                rlist: RandomisationList | None = None) -> Study:
    """Load the randomisation list and spare kits once (no-op when the study exists).

    Without ``rlist`` a list of ``settings.randomisation_patients`` patients is made by
    :func:`ketapain.operations.randomise_protocol` (stratified protocols: split evenly).
    Spare kits (``settings.spare_kits_per_arm`` per arm) have kit codes from
    :func:`ketapain.operations.kit_codes` with a seed drawn from the list's seed.
    """
    study = session.execute(select(Study).limit(1)).scalars().first()
    if study is not None:
        return study
    if rlist is None:
        n = settings.randomisation_patients
        counts: int | dict[str, int] = n
        if protocol.randomisation.strata:
            counts = {"M": (n + 1) // 2, "F": n // 2}
        rlist = randomise_protocol(protocol, n_patients=counts, kind=settings.list_kind,  # type: ignore[arg-type]
                                   seed=settings.randomisation_seed)
    study = audit.create(session, actor, Study(protocol_id=protocol.study.id, list_kind=rlist.kind,
                                               list_commitment=rlist.commitment, locked=False), reason="study setup")
    table = rlist.table
    slots = list(dict.fromkeys(table["patient_id"]))
    number = {s: i + 1 for i, s in enumerate(slots)}
    for row in table.to_dict("records"):
        audit.create(session, actor, Allocation(
            slot=row["patient_id"], slot_number=number[row["patient_id"]], period=int(row["period"]),
            stratum=row.get("stratum"), sequence=row["sequence"], treatment=row["treatment"],
            kit_code=row["kit_code"], patient_id=None, status="active"), reason="randomisation list loaded")
    seed, _ = resolve_seed(None if rlist.seed is None else rlist.seed + 1)
    arms = protocol.arm_codes
    codes = kit_codes(settings.spare_kits_per_arm * len(arms), seed=seed, kind=rlist.kind, protocol_id=protocol.study.id)
    used = set(table["kit_code"])
    free = [c for c in codes if c not in used]
    # arms in a random order (from the list's seed), so that the order of the spare-kit records
    # says nothing about their arms
    order = np.random.default_rng(seed).permutation(len(free))
    for i, code in zip(order, free, strict=True):
        audit.create(session, actor, SpareKit(kit_code=code, treatment=arms[int(i) % len(arms)], used_for=None,
                                              status="available"), reason="spare kits loaded")
    return study

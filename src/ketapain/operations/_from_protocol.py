"""Randomisation lists from a protocol file: its design's sequences (:func:`ketapain.design.protocol_sequences`)
and its block settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ketapain.design import protocol_sequences
from ketapain.errors import ProtocolError
from ketapain.operations._kits import ListKind
from ketapain.operations._randomisation import (
    RandomisationList,
    make_randomisation_list,
)

if TYPE_CHECKING:
    from ketapain.protocol import Protocol

__all__ = ["randomise_protocol"]


def randomise_protocol(
    protocol: Protocol,
    *,
    n_patients: int | Mapping[str, int],
    kind: ListKind = "test",
    seed: int | np.random.Generator | None = None,
    block_size: int | None = None,
) -> RandomisationList:
    """:func:`make_randomisation_list` with the protocol's sequences, block sizes and strata.

    ``block_size`` overrides the protocol (fixed blocks of that size); otherwise the
    protocol's ``random_block_sizes`` are used when given, else its ``block_size``. A protocol
    with ``strata`` needs ``n_patients`` as a mapping ``stratum value -> n`` (e.g.
    ``{"M": 12, "F": 12}``); the factor name (``sex``) is recorded.

    >>> from ketapain.protocol import load_protocol
    >>> rl = randomise_protocol(load_protocol("ketapain"), n_patients=20, seed=1)
    >>> rl.n_patients, rl.block_sizes, rl.protocol_id
    (24, (6,), 'ketapain')
    """
    r = protocol.randomisation
    if block_size is not None:
        fixed, random = block_size, None
    elif r.random_block_sizes:
        fixed, random = None, r.random_block_sizes
    else:
        fixed, random = r.block_size, None
    if r.strata and not isinstance(n_patients, Mapping):
        raise ProtocolError(
            f"randomisation.strata: the protocol stratifies on {', '.join(r.strata)}; give the number of "
            "patients per stratum value (e.g. M=12,F=12)"
        )
    factor = " x ".join(r.strata) if r.strata else ("stratum" if isinstance(n_patients, Mapping) else None)
    return make_randomisation_list(
        protocol_sequences(protocol),
        n_patients=n_patients,
        protocol_id=protocol.study.id,
        kind=kind,
        block_size=fixed,
        random_block_sizes=random,
        stratum_factor=factor,
        seed=seed,
    )

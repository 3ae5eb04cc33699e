"""Seeds and random streams, defined once for every random function of ketapain.

At the bottom of the layers with :mod:`ketapain.errors` and :mod:`ketapain._options`: every
package may import it, it imports nothing of ours but those two.

A public random function takes ``seed: int | numpy.random.Generator | None``:

* an integer ``>= 0`` is used as it is (``source="given"``);
* a :class:`numpy.random.Generator` gives an integer drawn from its stream
  (``source="generator"``), so the caller's generator advances and the run is reproducible
  from the recorded integer. How many bits are drawn is part of each function's documented
  algorithm and never changes (a change would give other results for the same generator):
  ``"128 bits"`` (``int.from_bytes(rng.bytes(16), "big")``: randomisation lists) or
  ``"63 bits"`` (``rng.integers(0, 2**63 - 1)``: the simulator and simulation-based power);
* ``None`` draws a fresh 128-bit integer with :func:`secrets.randbits` (``source="generated"``),
  which the caller records so that the run can be repeated.

Work split into parts derives child streams with :meth:`numpy.random.SeedSequence.spawn`
(:func:`spawn_generators`): children are deterministic by index, so a result never depends on
how the work was split, and each part gets its own stream (never a shared one).

>>> resolve_seed(7)
ResolvedSeed(value=7, source='given')
>>> resolve_seed(np.random.default_rng(1), generator_bits=63).source
'generator'
>>> resolve_seed(-1)
Traceback (most recent call last):
...
ketapain.errors.ModelError: seed=-1 must be an integer >= 0
>>> [g.integers(10) for g in spawn_generators(np.random.SeedSequence(3), 2)]
[np.int64(6), np.int64(7)]
"""

from __future__ import annotations

import secrets
from typing import Literal, NamedTuple

import numpy as np

from ketapain._options import SEED, check_option
from ketapain.errors import KetapainError, ModelError

__all__ = ["GeneratorBits", "ResolvedSeed", "SeedLike", "SeedSource", "check_seed", "resolve_seed",
           "seed_sequence", "spawn_generators"]

SeedLike = int | np.integer | np.random.Generator | None
"""What a public random function accepts as ``seed``."""
SeedSource = Literal["given", "generator", "generated"]
GeneratorBits = Literal[63, 128]


class ResolvedSeed(NamedTuple):
    """The integer a run is seeded with, and where it came from (both are recorded).

    A named tuple, so ``value, source = resolve_seed(seed)`` works.

    Attributes
    ----------
    value : int
        An integer >= 0, the entropy of the run's :class:`numpy.random.SeedSequence`.
    source : {"given", "generator", "generated"}
        The caller's integer, drawn from the caller's Generator, or drawn fresh for ``None``.
    """

    value: int
    source: SeedSource


def check_seed(seed: object, *, error: type[KetapainError] = ModelError) -> None:
    """Raise ``error`` naming ``seed`` unless it is an integer >= 0, a numpy Generator or None.

    The integer rule is :data:`ketapain._options.SEED` (never a bool, never a float).
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return
    check_option("seed", seed, SEED, error=error)


def resolve_seed(seed: SeedLike, *, generator_bits: GeneratorBits = 128,
                 error: type[KetapainError] = ModelError) -> ResolvedSeed:
    """The integer seed of a run and its source (see the module docstring).

    Parameters
    ----------
    seed : int, numpy Generator or None
    generator_bits : {128, 63}, default 128
        What a Generator gives: ``int.from_bytes(seed.bytes(16), "big")`` (128) or
        ``seed.integers(0, 2**63 - 1)`` (63).
    error : KetapainError subclass, default ModelError
        Raised for a bad seed (the caller's layer: ``ProtocolError`` for protocol-level tools).

    Returns
    -------
    ResolvedSeed

    Raises
    ------
    KetapainError
        ``error``, when ``seed`` is not an integer >= 0, a Generator or None.
    """
    if seed is None:
        return ResolvedSeed(secrets.randbits(128), "generated")
    if isinstance(seed, np.random.Generator):
        if generator_bits == 128:
            return ResolvedSeed(int.from_bytes(seed.bytes(16), "big"), "generator")
        return ResolvedSeed(int(seed.integers(0, 2**63 - 1)), "generator")
    check_seed(seed, error=error)
    return ResolvedSeed(int(seed), "given")


def seed_sequence(seed: SeedLike, *, generator_bits: GeneratorBits = 63,
                  error: type[KetapainError] = ModelError) -> tuple[np.random.SeedSequence, ResolvedSeed]:
    """``SeedSequence(resolve_seed(seed).value)`` and the resolved seed (to record).

    >>> ss, how = seed_sequence(5)
    >>> ss.entropy, how.source
    (5, 'given')
    """
    resolved = resolve_seed(seed, generator_bits=generator_bits, error=error)
    return np.random.SeedSequence(resolved.value), resolved


def spawn_generators(parent: np.random.SeedSequence | np.random.Generator, n: int) -> tuple[np.random.Generator, ...]:
    """``n`` independent PCG64 generators: the next ``n`` children of ``parent``'s SeedSequence.

    ``parent`` is a SeedSequence, or a Generator made from one (``default_rng(seed)``); child
    ``k`` is ``default_rng(seed_sequence.spawn(...)[k])``, the same whatever else is spawned
    later. Spawn exactly the streams a task uses.

    Raises
    ------
    ModelError
        ``parent`` is a Generator without a SeedSequence (it cannot give independent children).
    """
    ss = parent if isinstance(parent, np.random.SeedSequence) else getattr(parent.bit_generator, "seed_seq", None)
    if not isinstance(ss, np.random.SeedSequence):
        raise ModelError("a numpy Generator made from a SeedSequence (numpy.random.default_rng(seed)) is needed "
                         "to derive independent child streams")
    return tuple(np.random.default_rng(child) for child in ss.spawn(n))

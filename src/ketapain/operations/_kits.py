"""Kit codes: random, unique, treatment-blind; test kits carry a prefix production kits never have.

A kit code is drawn from a keyed cryptographic stream (HMAC-SHA-256 in counter mode, keyed by
the list's seed, its kind and its protocol id). The stream never sees a treatment: the codes
of a list are drawn first, made unique, shuffled with the same stream, and only then handed
to the patient x period slots in list order. No checksum, no counter, no ordering: a code
tells nothing about the treatment, the sequence, the block or the other codes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Literal

from ketapain._options import SEED, Number, OneOf, check_option
from ketapain.errors import DataError, ListKindMismatchError

__all__ = [
    "KIT_ALPHABET",
    "KIT_CODE_LENGTH",
    "ListKind",
    "TEST_PREFIX",
    "check_kit_code_kind",
    "kit_codes",
    "normalise_kit_code",
]

ListKind = Literal["test", "production"]
LIST_KINDS: tuple[str, ...] = ("test", "production")
LIST_KIND = OneOf(*LIST_KINDS)
"""The ``kind`` option of every list function."""

KIT_ALPHABET = "ACDEFHJKMNPRUVWXY3479"
"""21 symbols nobody confuses when reading a label aloud or typing it: no 0/O/Q/D-lookalikes
beyond D, no 1/I/L, 2/Z, 5/S, 6/G, 8/B, and no T (so a production code never even starts
like a test code)."""

KIT_CODE_LENGTH = 6
TEST_PREFIX = "T-"
"""Every kit code of a *test* list starts with this; no production code contains ``-``."""


def _byte_stream(key: bytes, domain: bytes) -> Iterator[int]:
    counter = 0
    while True:
        yield from hmac.new(key, domain + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1


def _below(stream: Iterator[int], n: int) -> int:
    """Uniform integer in ``0..n-1`` from 8 stream bytes, by rejection (no modulo bias)."""
    span = 1 << 64
    limit = span - span % n
    while True:
        x = int.from_bytes(bytes(next(stream) for _ in range(8)), "big")
        if x < limit:
            return x % n


def kit_codes(n: int, *, seed: int, kind: ListKind, protocol_id: str, length: int = KIT_CODE_LENGTH) -> list[str]:
    """``n`` unique kit codes in random order, a function of ``(seed, kind, protocol_id, n)`` only.

    Each code is ``length`` symbols of :data:`KIT_ALPHABET` (uniform, by rejection sampling of
    the bytes of HMAC-SHA-256(key = seed, message = domain | counter)); a test list's codes
    are prefixed with :data:`TEST_PREFIX`. Duplicates are redrawn, then the codes are shuffled
    (Fisher-Yates) with the same stream.

    Examples
    --------
    >>> codes = kit_codes(3, seed=1, kind="test", protocol_id="demo")
    >>> [c[:2] for c in codes], len(set(codes)), all(len(c) == 8 for c in codes)
    (['T-', 'T-', 'T-'], 3, True)
    >>> codes == kit_codes(3, seed=1, kind="test", protocol_id="demo")
    True
    >>> any("-" in c for c in kit_codes(50, seed=1, kind="production", protocol_id="demo"))
    False
    """
    check_option("kind", kind, LIST_KIND, error=DataError)
    check_option("n", n, Number(low=0, integer=True), error=DataError)
    check_option("seed", seed, SEED, error=DataError)
    space = len(KIT_ALPHABET) ** length
    if n > space // 100:
        raise DataError(f"{n} kit codes of length {length} would crowd the code space ({space}); use a longer code")
    key = str(int(seed)).encode("ascii")
    domain = f"ketapain/kit-codes/v1|{kind}|{protocol_id}|".encode()
    stream = _byte_stream(key, domain)
    m = len(KIT_ALPHABET)
    cutoff = 256 - 256 % m
    prefix = TEST_PREFIX if kind == "test" else ""
    seen: set[str] = set()
    codes: list[str] = []
    while len(codes) < n:
        symbols: list[str] = []
        while len(symbols) < length:
            b = next(stream)
            if b < cutoff:
                symbols.append(KIT_ALPHABET[b % m])
        code = prefix + "".join(symbols)
        if code not in seen:
            seen.add(code)
            codes.append(code)
    for i in range(n - 1, 0, -1):
        j = _below(stream, i + 1)
        codes[i], codes[j] = codes[j], codes[i]
    return codes


def normalise_kit_code(code: str) -> str:
    """A kit code as typed (spaces, lower case) in its printed form.

    >>> normalise_kit_code(" t-ac3 4x9 ")
    'T-AC34X9'
    """
    return "".join(str(code).split()).upper()


def check_kit_code_kind(code: str, kind: str, *, where: str = "kit code") -> None:
    """Raise :class:`ListKindMismatchError` unless ``code`` has the form of a ``kind`` list's kit.

    >>> check_kit_code_kind("T-ACDEFH", "test")
    >>> try:
    ...     check_kit_code_kind("T-ACDEFH", "production")
    ... except ListKindMismatchError as exc:
    ...     print(exc)
    kit code 'T-ACDEFH' is a TEST kit (prefix 'T-') but this is a PRODUCTION list; test and production kits are never mixed
    """
    is_test = code.startswith(TEST_PREFIX)
    if kind == "production" and is_test:
        raise ListKindMismatchError(
            f"{where} {code!r} is a TEST kit (prefix {TEST_PREFIX!r}) but this is a PRODUCTION list; "
            "test and production kits are never mixed"
        )
    if kind == "test" and not is_test:
        raise ListKindMismatchError(
            f"{where} {code!r} is not a TEST kit (no prefix {TEST_PREFIX!r}) but this is a TEST list; "
            "test and production kits are never mixed"
        )

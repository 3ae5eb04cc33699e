"""The sequences a protocol randomises: the protocol's design kind mapped to a design builder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ketapain.design._designs import CrossoverDesign, all_orders, latin_square, williams
from ketapain.errors import ProtocolError

if TYPE_CHECKING:
    from ketapain.protocol import Protocol

__all__ = ["DESIGN_BUILDERS", "protocol_sequences"]

DESIGN_BUILDERS: dict[str, Callable[[Sequence[str]], CrossoverDesign]] = {
    "williams": williams,
    "latin_square": latin_square,
    "all_orders": all_orders,
}
"""``design.kind`` of a protocol file -> the function that builds that design from the arm codes
(``custom`` designs list their sequences instead)."""


def protocol_sequences(protocol: Protocol) -> tuple[tuple[str, ...], ...]:
    """The sequences a protocol randomises: its custom ``design.sequences``, or the
    ``williams`` / ``latin_square`` / ``all_orders`` design of its arm codes.

    Raises
    ------
    ProtocolError
        ``design.kind`` is none of ``williams``, ``latin_square``, ``all_orders``, ``custom``.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> len(protocol_sequences(load_protocol("ketapain")))
    6
    """
    kind = protocol.design.kind
    if kind == "custom":
        return tuple(tuple(s) for s in protocol.design.sequences or ())
    if kind not in DESIGN_BUILDERS:
        raise ProtocolError(f"design.kind={kind!r}: allowed williams, latin_square, all_orders, custom")
    return tuple(tuple(s) for s in DESIGN_BUILDERS[kind](protocol.arm_codes).sequences)

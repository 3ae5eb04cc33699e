"""Rule failures found while validating a protocol, each at its key path.

The bottom of the protocol package: :mod:`ketapain.protocol._models` raises :class:`Problems`
inside its validators and :mod:`ketapain.protocol._messages` turns them into one message per
problem; neither imports the other's names for it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Problems", "dotted"]


def dotted(path: Iterable[str | int]) -> str:
    """A key path as written in messages: dotted keys, 0-based array indices in brackets.

    >>> dotted(("arms", 2, "components", 0, "dose")), dotted(())
    ('arms[2].components[0].dose', '')
    """
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Problems(ValueError):
    r"""Several rule failures found by one validator, each at a key path relative to it.

    Raised inside validators only; :func:`ketapain.protocol._messages.format_errors` expands
    it into one message per problem (``str()`` lists them one per line, for the
    ``pydantic.ValidationError`` seen when a model is built directly).

    >>> str(Problems([(("max_kg",), "10 is not > min_kg = 20"), ((), "whole-table problem")]))
    'max_kg: 10 is not > min_kg = 20\nwhole-table problem'
    """

    def __init__(self, problems: Iterable[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{dotted(path)}: {msg}" if path else msg for path, msg in self.problems))

"""Ctrl-C (SIGINT) and SIGTERM for every command: one line saying what was kept, exit 128 + N.

:func:`handling_interrupts` wraps the whole command line (``ketapain.cli.main``). The first
signal raises :class:`Interrupted` (not ``KeyboardInterrupt``, which Click would turn into
"Aborted!"); it unwinds through the atomic writers (:mod:`ketapain._atomic`), which remove their
temporary siblings and leave the destination as it was; a second signal during that clean-up is
ignored. The line printed names the writes that completed and the outputs left as they were::

    interrupted: nothing was written; out/ is as it was
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from ketapain._atomic import Journal, recording

__all__ = ["Interrupted", "handling_interrupts", "interrupt_message", "note_outputs"]

_OUTPUT_PARAMS = ("out", "plot", "log_path")
"""Parameters of a command that name what it writes."""

_outputs: list[Path] = []


class Interrupted(BaseException):
    """A SIGINT or SIGTERM arrived; ``signum`` is which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def note_outputs(params: dict[str, Any]) -> None:
    """Remember the paths a command is about to write (its ``--out``, ``--plot``, ``--log-file``)."""
    _outputs[:] = [Path(params[name]) for name in _OUTPUT_PARAMS if params.get(name) is not None]


def _signals() -> list[int]:
    return [s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None]


def _raise(signum: int, _frame: FrameType | None) -> None:
    for s in _signals():  # clean-up runs undisturbed by a second signal
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


def interrupt_message(journal: Journal, outputs: list[Path]) -> str:
    """The one line: the writes that completed, then each output as the interruption left it."""
    done = journal.kept()
    parts = [("wrote " + ", ".join(map(str, done)) + " completely") if done else "nothing was written"]
    for path in outputs:
        if any(path == d or path in d.parents for d in done):
            continue
        parts.append(f"{path} is as it was" if path.exists() else f"{path} was not created")
    return "interrupted: " + "; ".join(parts)


@contextmanager
def handling_interrupts() -> Iterator[None]:
    """Run the block with SIGINT and SIGTERM raising :class:`Interrupted`; on one, print the
    line on stderr and exit 130 (SIGINT) or 143 (SIGTERM)."""
    previous = {s: signal.signal(s, _raise) for s in _signals()}
    _outputs.clear()
    try:
        with recording() as journal:
            try:
                yield
            except Interrupted as exc:
                print(interrupt_message(journal, _outputs), file=sys.stderr, flush=True)
                raise SystemExit(128 + exc.signum) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

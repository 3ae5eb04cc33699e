"""Progress and a memory estimate on stderr for large inputs of ``ketapain fit`` (issue 14).

When it shows: ``--progress`` always; ``--no-progress`` never; by default only when stderr is
a terminal and the file holds about :data:`LARGE_ROWS` rows or more (estimated from its size
and its first lines, before anything is read). Everything goes to stderr, so stdout (the text
summary or the JSON) is the same with or without it, ``--json`` included.

What it shows: first the estimate (``rows ~ ..., peak memory ~ ...``), then each stage —
reading, checking, fitting — with the time elapsed, and with ``--by`` the group being fitted
(the first, about every 5% of them, and the last).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

__all__ = ["LARGE_ROWS", "Progress", "estimate_rows", "memory_estimate"]

LARGE_ROWS = 1_000_000
"""Inputs of about this many rows or more get progress output by default (on a terminal)."""

SAMPLE_BYTES = 1 << 20
"""How much of the file the row estimate reads."""

BASE_MB = 450.0
"""Memory of the interpreter with ketapain, numpy, pandas, pyarrow and scipy loaded (measured
~170 MB), plus what a fit holds whatever its size, plus slack."""

BYTES_PER_ROW = 280.0
"""Peak memory per row of ``ketapain fit`` on a long crossover file, fitted to the peak RSS of
BENCHMARKS.md, "Large fits" (0.71 GB on 1 M rows, 1.77 GB on 5 M rows; kB / 10^6): the
estimate is ~3% above both."""


def estimate_rows(path: Path) -> int | None:
    """Data rows of ``path`` estimated from its size and the line length of its first
    :data:`SAMPLE_BYTES` (None when the file cannot be read)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
    except OSError:
        return None
    lines = sample.count(b"\n")
    if len(sample) >= size:  # the whole file was read: count, less the header
        return max(lines + (not sample.endswith(b"\n") and bool(sample)) - 1, 0)
    return int(size / (len(sample) / max(lines, 1))) - 1


def memory_estimate(rows: int) -> float:
    """Expected peak memory (bytes) of ``ketapain fit`` on ``rows`` rows."""
    return BASE_MB * 2**20 + BYTES_PER_ROW * rows


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MB"


class Progress:
    """Stage lines on stderr, or nothing (``enabled`` False)."""

    def __init__(self, path: Path, flag: bool | None) -> None:
        self.rows = estimate_rows(path)
        large = self.rows is not None and self.rows >= LARGE_ROWS
        self.enabled = flag if flag is not None else (large and sys.stderr.isatty())
        self._t0 = self._t = time.perf_counter()
        if self.enabled and self.rows is not None:
            self.say(f"{path.name}: ~{self.rows:,} rows; expected peak memory ~{_size(memory_estimate(self.rows))}")

    def say(self, text: str) -> None:
        if self.enabled:
            typer.echo(f"progress: {text}", err=True)

    def stage(self, name: str) -> None:
        """Start stage ``name`` (the previous one ends)."""
        now = time.perf_counter()
        self.say(f"{name} ({now - self._t0:.1f} s elapsed)")
        self._t = now

    def groups(self, number: int, total: int, label: str) -> None:
        """Group ``number`` (from 1) of ``total`` is being fitted; shown for the first, about
        every 5% and the last."""
        step = max(total // 20, 1)
        if number in (1, total) or number % step == 0:
            self.say(f"group {number}/{total}: {label} ({time.perf_counter() - self._t0:.1f} s elapsed)")

    def done(self) -> None:
        self.say(f"done in {time.perf_counter() - self._t0:.1f} s")

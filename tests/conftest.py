"""Shared test set-up: makes ``tests/`` importable for the shared helper modules
(``strategies`` = every Hypothesis strategy, ``r_compare`` = running and reading R)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

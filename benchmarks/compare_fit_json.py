"""Compare two ``ketapain fit --json`` outputs number by number (BENCHMARKS.md, "Large fits").

Run::

    python benchmarks/compare_fit_json.py BEFORE.json AFTER.json

Prints how many numbers differ, the largest relative differences (``|a - b| / max(|a|, |b|)``)
with their paths, and any non-numeric difference (keys, lengths, text). Exit 0 either way.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def differences(a: Any, b: Any, path: str = "") -> tuple[list[tuple[float, str, float, float]], list[str]]:
    """(numeric differences as (relative, path, a, b), other differences as text)."""
    numeric: list[tuple[float, str, float, float]] = []
    other: list[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            other.append(f"{path}: keys {sorted(set(a) ^ set(b))}")
        for key in a.keys() & b.keys():
            n, o = differences(a[key], b[key], f"{path}.{key}")
            numeric += n
            other += o
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            other.append(f"{path}: lengths {len(a)} and {len(b)}")
        for i, (u, v) in enumerate(zip(a, b, strict=False)):  # a length difference is reported above
            n, o = differences(u, v, f"{path}[{i}]")
            numeric += n
            other += o
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        if a != b:
            numeric.append((abs(a - b) / max(abs(a), abs(b)), path, a, b))
    elif a != b:
        other.append(f"{path}: {a!r} and {b!r}")
    return numeric, other


def main() -> None:
    with open(sys.argv[1]) as fa, open(sys.argv[2]) as fb:
        numeric, other = differences(json.load(fa), json.load(fb))
    numeric.sort(reverse=True)
    print(f"{len(numeric)} numbers differ; largest relative difference {numeric[0][0] if numeric else 0.0:.3g}")
    for rel, path, a, b in numeric[:10]:
        print(f"  {rel:.3g}  {path}: {a!r} -> {b!r}")
    for line in other:
        print(f"  {line}")


if __name__ == "__main__":
    main()

"""Number formatting of the report: one function per kind of cell, one rule each.

Every number the report shows goes through one of these functions, so a test can re-derive
each displayed cell from ``results.json`` (``docs/report-layout.md`` lists the rules).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ketapain._json import json_number
from ketapain._options import DESCRIBE_KIND, check_option
from ketapain.errors import DataError

__all__ = [
    "DIGITS",
    "MISSING",
    "format_ci",
    "format_count",
    "format_describe",
    "format_estimate_ci",
    "format_mean_sd",
    "format_median_iqr",
    "format_n_of",
    "format_n_pct",
    "format_number",
    "format_p",
    "format_ratio",
    "oriented_pair",
    "plural",
    "row_kind",
    "row_of",
    "without_repeats",
]

MISSING = "–"
"""Shown for a missing number (NaN, None)."""

DIGITS: Mapping[str, int] = {
    "auc": 1, "score": 1, "pain": 1, "p": 3, "icc": 2, "ratio": 2, "effect_size": 2, "pct": 1,
    "bi": 2, "df": 1, "statistic": 2, "estimate": 1,
}
"""Decimals per kind of number (``docs/report-layout.md``); ``height_m`` in Table 1 uses 2."""

SIGNIFICANT = 12
"""Display rounding works on the number first rounded to this many significant digits: a value
on a rounding tie (an AUC difference of exactly -21.05, computed as -21.049999999999997 on one
machine and -21.050000000000001 on another by BLAS's last bits) is shown as the double nearest
the true value is, the same on every machine and as R's ``sprintf`` shows that value (-21.05 ->
"-21.1" but 8.25 -> "8.2": the binary value, not a decimal tie rule). Twelve digits keep every
displayed digit of any value the report shows."""


def _stable(v: float) -> float:
    """``v`` rounded to :data:`SIGNIFICANT` significant digits (see there)."""
    return float(f"{v:.{SIGNIFICANT}g}")


def format_number(x: Any, digits: int = 1) -> str:
    """``x`` rounded to ``digits`` decimals (``"-0.0"`` shown as ``"0.0"``); :data:`MISSING` if missing.

    Examples
    --------
    >>> format_number(187.449, 1), format_number(float("nan")), format_number(-0.04, 1)
    ('187.4', '–', '0.0')

    A tie shows the same digits whatever the last bits of ``x`` (:data:`SIGNIFICANT`):

    >>> format_number(-21.049999999999997, 1), format_number(-21.050000000000001, 1), format_number(18.75, 1)
    ('-21.1', '-21.1', '18.8')
    """
    v = json_number(x)
    if v is None:
        return MISSING
    text = f"{_stable(v):.{digits}f}"
    return text[1:] if re.fullmatch(r"-0\.?0*", text) else text


def format_mean_sd(mean: Any, sd: Any, digits: int = 1) -> str:
    """``"mean ± SD"``; :data:`MISSING` when the mean is missing.

    Examples
    --------
    >>> format_mean_sd(187.04, 90.26)
    '187.0 ± 90.3'
    """
    if json_number(mean) is None:
        return MISSING
    return f"{format_number(mean, digits)} ± {format_number(sd, digits)}"


def format_median_iqr(median: Any, q1: Any, q3: Any, digits: int = 1) -> str:
    """``"median [Q1; Q3]"``; :data:`MISSING` when the median is missing.

    Examples
    --------
    >>> format_median_iqr(5, 3, 12)
    '5.0 [3.0; 12.0]'
    """
    if json_number(median) is None:
        return MISSING
    return f"{format_number(median, digits)} [{format_number(q1, digits)}; {format_number(q3, digits)}]"


def row_of(frame: pd.DataFrame, key: str) -> pd.Series:
    """The one row of ``frame`` labelled ``key`` (a results table indexed by arm, group or time).

    Raises
    ------
    DataError
        ``key`` labels several rows: the table is not keyed as the report expects.
    """
    row = frame.loc[key]
    if isinstance(row, pd.DataFrame):
        raise DataError(f"report: {len(row)} rows are labelled {key!r}; expected one per label")
    return row


def row_kind(rows: Iterable[Mapping[str, Any] | pd.Series] | pd.DataFrame) -> str:
    """``"median_iqr"`` when any of the ``describe_by`` rows shown side by side in one table row is
    non-normal (``kind == "median_iqr"``), else ``"mean_sd"``: a table row never mixes mean ± SD
    with median [IQR] (issue 19).

    Examples
    --------
    >>> row_kind([{"kind": "mean_sd"}, {"kind": "median_iqr"}]), row_kind([{"kind": "mean_sd"}])
    ('median_iqr', 'mean_sd')
    """
    items = (r for _, r in rows.iterrows()) if isinstance(rows, pd.DataFrame) else rows
    return "median_iqr" if any(r.get("kind") == "median_iqr" for r in items) else "mean_sd"


def format_describe(row: Mapping[str, Any] | pd.Series, digits: int = 1, *, kind: str | None = None) -> str:
    """A ``describe_by`` row as mean ± SD, or median [IQR] when ``kind`` (default: the row's own
    ``kind``; a table row passes :func:`row_kind` of its cells) is ``median_iqr``.

    Examples
    --------
    >>> format_describe({"mean": 6.0, "sd": 2.0, "median": 6.0, "q1": 5.0, "q3": 8.0, "kind": "median_iqr"})
    '6.0 [5.0; 8.0]'
    >>> format_describe({"mean": 6.0, "sd": 2.0, "median": 6.0, "q1": 5.0, "q3": 8.0, "kind": "mean_sd"}, kind="median_iqr")
    '6.0 [5.0; 8.0]'
    """
    if kind is not None:
        check_option("kind", kind, DESCRIBE_KIND, error=DataError)
    if (row.get("kind") if kind is None else kind) == "median_iqr":
        return format_median_iqr(row.get("median"), row.get("q1"), row.get("q3"), digits)
    return format_mean_sd(row.get("mean"), row.get("sd"), digits)


def format_p(p: Any) -> str:
    """A p-value to 3 decimals, ``"< 0.001"`` below 0.001; :data:`MISSING` if missing.

    Examples
    --------
    >>> format_p(0.2961), format_p(0.0004), format_p(None)
    ('0.296', '< 0.001', '–')
    """
    v = json_number(p)
    if v is None:
        return MISSING
    v = _stable(v)
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def format_ci(low: Any, high: Any, digits: int = 1) -> str:
    """``"[low; high]"``.

    Examples
    --------
    >>> format_ci(-0.61, 0.27, 2)
    '[-0.61; 0.27]'
    """
    return f"[{format_number(low, digits)}; {format_number(high, digits)}]"


def format_estimate_ci(estimate: Any, low: Any, high: Any, digits: int = 1) -> str:
    """``"estimate [low; high]"``; :data:`MISSING` when the estimate is missing.

    Examples
    --------
    >>> format_estimate_ci(-11.1, -33.6, 11.3)
    '-11.1 [-33.6; 11.3]'
    """
    if json_number(estimate) is None:
        return MISSING
    return f"{format_number(estimate, digits)} {format_ci(low, high, digits)}"


def format_ratio(x: Any) -> str:
    """An odds ratio or ratio: 2 decimals within [0.01, 1000), else 3 significant digits (``2.04e+35``).

    Examples
    --------
    >>> format_ratio(4.6643), format_ratio(2.0357e35), format_ratio(None)
    ('4.66', '2.04e+35', '–')
    """
    v = json_number(x)
    if v is None:
        return MISSING
    v = _stable(v)
    return f"{v:.2f}" if 0.01 <= abs(v) < 1000 else f"{v:.2e}"


def format_n_pct(n: Any, pct: Any) -> str:
    """``"n (pct%)"`` with the percentage to 1 decimal.

    Examples
    --------
    >>> format_n_pct(9, 45.0), format_n_pct(0, None)
    ('9 (45.0%)', '0')
    """
    if json_number(n) is None:
        return MISSING
    if json_number(pct) is None:
        return f"{int(n)}"
    return f"{int(n)} ({format_number(pct, DIGITS['pct'])}%)"


def format_n_of(n: Any, total: Any, pct: Any) -> str:
    """``"n/N (pct%)"``.

    Examples
    --------
    >>> format_n_of(10, 20, 50.0)
    '10/20 (50.0%)'
    """
    if json_number(n) is None or json_number(total) is None:
        return MISSING
    tail = f" ({format_number(pct, DIGITS['pct'])}%)" if json_number(pct) is not None else ""
    return f"{int(n)}/{int(total)}{tail}"


def plural(n: Any, singular: str, plural_form: str | None = None) -> str:
    """``singular`` when ``n`` is 1, else ``plural_form`` (default: ``singular + "s"``).

    The one rule of the report for a word that follows a count (nouns and verbs alike).

    Examples
    --------
    >>> plural(1, "event"), plural(0, "event"), plural(2, "analysis", "analyses"), plural(1, "was", "were")
    ('event', 'events', 'analyses', 'was')
    """
    return singular if json_number(n) == 1 else (plural_form if plural_form is not None else singular + "s")


def format_count(n: Any, singular: str, plural_form: str | None = None) -> str:
    """``"n noun"`` with the noun in the singular for 1 and in the plural otherwise (:func:`plural`).

    Examples
    --------
    >>> format_count(1, "serious event"), format_count(3, "patient"), format_count(0, "patient")
    ('1 serious event', '3 patients', '0 patients')
    >>> format_count(1, "warning or note", "warnings or notes"), format_count(None, "patient")
    ('1 warning or note', '– patients')
    """
    v = json_number(n)
    count = MISSING if v is None else f"{int(v)}" if float(v).is_integer() else f"{v:g}"
    return f"{count} {plural(n, singular, plural_form)}"


def without_repeats(text: str) -> str:
    """``text`` with a word sequence that repeats the one just before it said once.

    Labels are often joined from parts (an instrument's label and its score's label); when a
    part already starts with the end of the one before, the join repeats words
    (``"PGIC PGIC (1-7)"``). Words compare case-insensitively; a repeat counts only when it
    holds a letter (``"7 7"`` in a list of numbers is kept). Text without a repeat is returned
    as it is; otherwise the kept words are joined by single spaces, after the text's leading
    spaces (a row label's indent).

    Examples
    --------
    >>> without_repeats("PGIC PGIC (1-7)"), without_repeats("BPI brief pain BPI brief pain severity")
    ('PGIC (1-7)', 'BPI brief pain severity')
    >>> without_repeats("HADS anxiety"), without_repeats("Day 7 7 (LOCF)"), without_repeats("  a A a")
    ('HADS anxiety', 'Day 7 7 (LOCF)', '  a')
    """
    words = text.split()
    folded = [w.casefold() for w in words]
    i, changed = 0, False
    while i < len(words):
        for size in range((len(words) - i) // 2, 0, -1):
            first = folded[i:i + size]
            if first == folded[i + size:i + 2 * size] and any(c.isalpha() for w in first for c in w):
                del words[i + size:i + 2 * size], folded[i + size:i + 2 * size]
                changed, i = True, 0     # a deletion can make a repeat that starts earlier
                break
        else:
            i += 1
    return text[:len(text) - len(text.lstrip())] + " ".join(words) if changed else text


def _p_text(p: Any) -> str:
    text = format_p(p)
    return f"P {text}" if text.startswith("<") else f"P = {text}"


def oriented_pair(a: str, b: str, *, reference: str, arms: Sequence[str]) -> tuple[str, str, bool]:
    """How the report shows the core's contrast ``a - b``: ``(x, y, flipped)`` for "x vs y" = x - y.

    The reference arm comes second ("K vs P" = K - P); between two other arms the one listed
    first in the protocol comes first. ``flipped`` is True when x - y = -(a - b).

    Examples
    --------
    >>> oriented_pair("P", "K", reference="P", arms=["P", "K", "KM"])
    ('K', 'P', True)
    >>> oriented_pair("K", "KM", reference="P", arms=["P", "K", "KM"])
    ('K', 'KM', False)
    """
    if a == reference or (b != reference and arms.index(a) > arms.index(b)):
        return b, a, True
    return a, b, False


def _flip(frame: pd.DataFrame, pairs: Sequence[tuple[str, str]], reference: str, arms: Sequence[str],
          estimate: str = "estimate", low: str = "ci_low", high: str = "ci_high",
          ratio: tuple[str, str, str] | None = None) -> pd.DataFrame:
    """Add ``shown_a``, ``shown_b``, ``flipped`` and the oriented ``shown_*`` numbers to ``frame``."""
    orient = [oriented_pair(a, b, reference=reference, arms=arms) for a, b in pairs]
    out = frame.copy()
    out["shown_a"] = [o[0] for o in orient]
    out["shown_b"] = [o[1] for o in orient]
    flipped = np.array([o[2] for o in orient], dtype=bool)
    out["flipped"] = flipped
    sign = np.where(flipped, -1.0, 1.0)
    est, lo, hi = (out[c].to_numpy(dtype=float, na_value=np.nan) for c in (estimate, low, high))
    out["shown_estimate"] = sign * est
    out["shown_ci_low"] = np.where(flipped, -hi, lo)
    out["shown_ci_high"] = np.where(flipped, -lo, hi)
    if ratio is not None:
        r, rl, rh = (out[c].to_numpy(dtype=float, na_value=np.nan) for c in ratio)
        with np.errstate(divide="ignore"):
            out["shown_ratio"] = np.where(flipped, 1.0 / r, r)
            out["shown_ratio_ci_low"] = np.where(flipped, 1.0 / rh, rl)
            out["shown_ratio_ci_high"] = np.where(flipped, 1.0 / rl, rh)
    return out

"""Provenance: hashes of the data and the protocol, and the software that made a report."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata

import pandas as pd

import ketapain
from ketapain.data import SCHEMAS, TABLE_NAMES, TrialData
from ketapain.errors import DataError

__all__ = ["protocol_hash", "provenance", "trial_data_hash"]

_SOFTWARE = ("numpy", "scipy", "pandas", "matplotlib", "fpdf2")


def _canonical_table(frame: pd.DataFrame, key: tuple[str, ...]) -> str:
    """One table as canonical CSV text: columns sorted by name, rows sorted by the key."""
    frame = frame.reindex(columns=sorted(frame.columns, key=str))
    by = [c for c in key if c in frame.columns] or list(frame.columns)
    if len(frame):
        frame = frame.sort_values(by, kind="stable", na_position="last")
    # floats: the shortest text that reads back to the same number (Python repr);
    # dates YYYY-MM-DD; missing values as \N; LF line ends.
    return frame.to_csv(index=False, lineterminator="\n", na_rep="\\N", date_format="%Y-%m-%d")


def trial_data_hash(data: TrialData) -> str:
    """SHA-256 (hex) of a canonical serialisation of the seven tables of a trial.

    Each table, in the canonical order of :data:`ketapain.data.TABLE_NAMES`, is written as
    ``# <name>`` followed by CSV text with its columns sorted by name and its rows sorted by
    the table's key (:data:`ketapain.data.SCHEMAS`), floats as the shortest round-trip
    text, dates as ``YYYY-MM-DD``, missing values as ``\\N``; the UTF-8 bytes are hashed.
    The row order and index of the tables and ``meta`` do not enter the hash, so a trial
    read from CSV and the same trial read from Parquet hash alike.

    Parameters
    ----------
    data : TrialData

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> import pandas as pd
    >>> from ketapain.data import TrialData
    >>> patients = pd.DataFrame({"patient_id": ["P01", "P02"], "sex": ["F", "M"],
    ...     "age_years": [54, 61], "weight_kg": [61.5, 82.0], "height_m": [1.62, 1.78],
    ...     "pain_type": ["radiculopathy", "other"], "pain_duration_years": [4.5, 2.0],
    ...     "dn4_total": [6, 5]})
    >>> a = TrialData.from_tables(patients=patients)
    >>> b = TrialData.from_tables(patients=patients.iloc[::-1])   # same rows, other order
    >>> h = trial_data_hash(a)
    >>> len(h), h == trial_data_hash(b), h == trial_data_hash(TrialData.from_tables())
    (64, True, False)
    """
    if not isinstance(data, TrialData):
        raise TypeError(f"data must be a ketapain.data.TrialData, got {type(data).__name__}")
    digest = hashlib.sha256()
    for name in TABLE_NAMES:
        digest.update(f"# {name}\n".encode())
        digest.update(_canonical_table(data.table(name), SCHEMAS[name].key).encode("utf-8"))
    return digest.hexdigest()


def protocol_hash(protocol: object) -> str:
    """SHA-256 (hex) of a protocol's canonical JSON.

    The JSON is ``protocol.model_dump(mode="json")`` dumped with sorted keys, no spaces and
    non-ASCII characters kept (UTF-8).

    Parameters
    ----------
    protocol : pydantic model (e.g. :class:`ketapain.protocol.Protocol`)

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> len(protocol_hash(load_protocol("ketapain")))
    64
    """
    dump = getattr(protocol, "model_dump", None)
    if dump is None:
        raise TypeError(f"protocol must be a pydantic model (a ketapain.protocol.Protocol), got {type(protocol).__name__}")
    text = json.dumps(dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance(
    *,
    data_hash: str,
    protocol_hash: str,
    seed: int | None = None,
    command: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The provenance block of a report: what was analysed, with what, when.

    Parameters
    ----------
    data_hash : str
        :func:`trial_data_hash` of the data analysed.
    protocol_hash : str
        :func:`protocol_hash` of the protocol.
    seed : int, optional
        The seed of a simulation or a randomised analysis step.
    command : str, optional
        The command line that made the report.
    extra : mapping of str to str, optional
        More entries (added last; they may not replace the standard ones).

    Returns
    -------
    dict of str to str
        ``ketapain``, ``date`` (UTC, ISO 8601, seconds), ``data_sha256``,
        ``protocol_sha256``, ``seed`` and ``command`` when given, ``python``, ``numpy``,
        ``scipy``, ``pandas``, ``matplotlib``, ``fpdf2``, ``platform``, then ``extra``.

    Raises
    ------
    DataError
        If ``extra`` repeats a standard key.

    Examples
    --------
    >>> p = provenance(data_hash="ab" * 32, protocol_hash="cd" * 32, seed=7)
    >>> list(p)[:5]
    ['ketapain', 'date', 'data_sha256', 'protocol_sha256', 'seed']
    """
    out: dict[str, str] = {
        "ketapain": ketapain.__version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_sha256": str(data_hash),
        "protocol_sha256": str(protocol_hash),
    }
    if seed is not None:
        out["seed"] = str(seed)
    if command is not None:
        out["command"] = str(command)
    out["python"] = sys.version.split()[0]
    for name in _SOFTWARE:
        out[name] = _version(name)
    out["platform"] = platform.platform()
    for k, v in (extra or {}).items():
        if k in out:
            raise DataError(f"provenance extra key {k!r} would replace a standard entry; use another name")
        out[str(k)] = str(v)
    return out

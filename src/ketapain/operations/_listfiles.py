"""A list on disk: atomic writing, loading with its commitment checked, verification, import."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ketapain._options import check_option
from ketapain.errors import (
    FIRST_DATA_ROW,
    CommitmentMismatchError,
    DataError,
    ListKindMismatchError,
)
from ketapain.operations._kits import LIST_KIND, LIST_KINDS, check_kit_code_kind
from ketapain.operations._randomisation import (
    PHARMACY_COLUMNS,
    RandomisationList,
    _check_sequences,
    sequence_label,
)

__all__ = [
    "COMMITMENT_FILE",
    "LABELS_CSV",
    "LABELS_HTML",
    "LIST_FILES",
    "ListVerification",
    "META_FILE",
    "PHARMACY_CSV",
    "import_pharmacy_list",
    "load_randomisation_list",
    "verify_list",
    "write_randomisation_list",
]

PHARMACY_CSV = "pharmacy.csv"
LABELS_CSV = "labels.csv"
LABELS_HTML = "labels.html"
COMMITMENT_FILE = "commitment.txt"
META_FILE = "list_meta.json"
LIST_FILES = (PHARMACY_CSV, LABELS_CSV, LABELS_HTML, COMMITMENT_FILE, META_FILE)


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_randomisation_list(rlist: RandomisationList, out_dir: str | os.PathLike[str]) -> Path:
    """Write the list's five files into the new folder ``out_dir``, atomically; never overwrite.

    Files: ``pharmacy.csv`` (UNBLINDED), ``list_meta.json`` (UNBLINDED: holds the seed),
    ``commitment.txt`` (SHA-256 hex digest of ``pharmacy.csv`` and a newline),
    ``labels.csv`` and ``labels.html`` (blinded). Everything is written to a hidden temporary
    folder next to ``out_dir`` and renamed into place at the end, so ``out_dir`` either holds
    the complete list or does not exist.

    Raises
    ------
    DataError
        ``out_dir`` already exists (lists are never overwritten) or cannot be created.
    """
    out = Path(out_dir)
    if out.exists():
        raise DataError(f"{out}: already exists; a randomisation list is never overwritten — choose a new folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise DataError(f"{out}: cannot create the folder: {exc}") from None
    try:
        pharmacy = rlist.pharmacy_csv_bytes()
        digest = hashlib.sha256(pharmacy).hexdigest()
        _fsync_write(tmp / PHARMACY_CSV, pharmacy)
        _fsync_write(tmp / COMMITMENT_FILE, (digest + "\n").encode("ascii"))
        _fsync_write(tmp / LABELS_CSV, rlist.labels_csv_bytes())
        _fsync_write(tmp / LABELS_HTML, rlist.labels_html().encode("utf-8"))
        _fsync_write(tmp / META_FILE, (json.dumps(rlist.meta(), indent=2) + "\n").encode("utf-8"))
        if out.exists():
            raise DataError(f"{out}: appeared while the list was being written; nothing was overwritten")
        os.rename(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise DataError(f"{out}: cannot write the list: {exc}") from None
        raise
    return out


def _read_commitment(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if not text or len(text[0]) != 64 or any(c not in "0123456789abcdef" for c in text[0].lower()):
        raise DataError(f"{path}: does not start with a SHA-256 hex digest (64 hex digits)")
    return text[0].lower()


@dataclass(frozen=True, slots=True)
class ListVerification:
    """Result of :func:`verify_list`: the recomputed digest and the commitment it was held against."""

    path: str
    actual: str
    expected: str
    expected_from: str

    @property
    def ok(self) -> bool:
        return self.actual == self.expected

    def summary(self) -> str:
        verdict = "OK: pharmacy.csv matches the commitment" if self.ok else \
            "MISMATCH: pharmacy.csv does NOT match the commitment — the list was changed or is not the committed one"
        return "\n".join([verdict, f"  file:       {self.path}", f"  sha256:     {self.actual}",
                          f"  commitment: {self.expected} ({self.expected_from})"])

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "actual": self.actual, "expected": self.expected,
                "expected_from": self.expected_from, "ok": self.ok}


def verify_list(list_dir: str | os.PathLike[str], *, commitment: str | None = None) -> ListVerification:
    """Recompute SHA-256 of ``list_dir/pharmacy.csv`` and compare it with a commitment.

    The commitment is ``commitment`` when given (e.g. the digest printed when the list was
    made and kept elsewhere — the strongest check), else the one in ``commitment.txt``.
    A mismatch is reported in the result (``.ok`` false), not raised.

    Raises
    ------
    DataError
        A file is missing or unreadable, or ``commitment`` is not 64 hex digits.
    """
    d = Path(list_dir)
    path = d / PHARMACY_CSV
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if commitment is not None:
        expected = commitment.strip().lower()
        if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
            raise DataError(template="{@commitment=}: a SHA-256 hex digest has 64 hex digits", params={"commitment": commitment})
        source = "given"
    else:
        expected = _read_commitment(d / COMMITMENT_FILE)
        source = str(d / COMMITMENT_FILE)
    return ListVerification(path=str(path), actual=hashlib.sha256(data).hexdigest(), expected=expected,
                            expected_from=source)


def load_randomisation_list(list_dir: str | os.PathLike[str], *, kind: str | None = None) -> RandomisationList:
    """Load a list written by :func:`write_randomisation_list`, refusing a changed one.

    Parameters
    ----------
    list_dir
        The list's folder.
    kind
        When given (``"test"`` or ``"production"``), the list must be of that kind.

    Raises
    ------
    CommitmentMismatchError
        ``pharmacy.csv`` does not hash to ``commitment.txt`` or to the metadata's commitment.
    ListKindMismatchError
        The list is not of ``kind``, or its rows or kit codes disagree with its kind.
    DataError
        Missing or malformed files.
    """
    d = Path(list_dir)
    try:
        data = (d / PHARMACY_CSV).read_bytes()
        meta = json.loads((d / META_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{d}: not a readable randomisation list folder: {exc}") from None
    actual = hashlib.sha256(data).hexdigest()
    committed = _read_commitment(d / COMMITMENT_FILE)
    if actual != committed or actual != meta.get("commitment_sha256"):
        raise CommitmentMismatchError(
            f"{d / PHARMACY_CSV}: SHA-256 {actual} does not match the commitment {committed} in "
            f"{COMMITMENT_FILE} (metadata: {meta.get('commitment_sha256')}); the list was changed — do not use it"
        )
    list_kind = meta.get("list_kind")
    if list_kind not in LIST_KINDS:
        raise DataError(f"{d / META_FILE}: list_kind={list_kind!r}; allowed 'test' or 'production'")
    if kind is not None and kind != list_kind:
        raise ListKindMismatchError(f"{d}: this is a {list_kind.upper()} list; a {str(kind).upper()} list was required")
    try:
        table = pd.read_csv(d / PHARMACY_CSV, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read {d / PHARMACY_CSV}: {exc}") from None
    for col in ("block", "block_size", "period"):
        table[col] = table[col].astype(np.int64)
    _check_kinds(table, list_kind, d / PHARMACY_CSV)
    sequences = _check_sequences(meta["sequences"])
    seed = meta.get("seed")
    return RandomisationList(
        kind=list_kind,
        protocol_id=str(meta["protocol_id"]),
        sequences=sequences,
        table=table,
        seed=None if seed is None else int(seed),
        seed_source=str(meta.get("seed_source")),
        block_sizes=tuple(meta.get("block_sizes") or ()),
        strata=meta.get("strata"),
        stratum_factor=meta.get("stratum_factor"),
        n_requested=int(meta.get("n_requested", 0)),
        created=str(meta.get("created_utc")),
        source=meta.get("source"),
    )


def _check_kinds(table: pd.DataFrame, kind: str, path: Path) -> None:
    name = path.name
    if "list_kind" in table.columns:
        bad = table["list_kind"] != kind
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ListKindMismatchError(
                f"{name} row {i + FIRST_DATA_ROW}: list_kind={table['list_kind'].iloc[i]!r} in a {kind} list; "
                "test and production rows are never mixed"
            )
    for i, code in enumerate(table["kit_code"]):
        check_kit_code_kind(code, kind, where=f"{name} row {i + FIRST_DATA_ROW}: kit_code")


# --------------------------------------------------------------------------- import

_REQUIRED = ("patient_id", "block", "sequence", "period", "treatment", "kit_code")


def import_pharmacy_list(
    path: str | os.PathLike[str],
    sequences: Sequence[Sequence[str]],
    *,
    kind: str | None = None,
    protocol_id: str | None = None,
) -> RandomisationList:
    """Import a pharmacy list made elsewhere, after checking it completely.

    The CSV needs the columns ``patient_id, block, sequence, period, treatment, kit_code``;
    ``stratum``, ``block_size``, ``list_kind`` and ``protocol_id`` are used when present.
    ``sequence`` names a sequence as ``P-K-KM`` (or ``PKKM``/``P/K/KM`` when unambiguous).

    Checks: columns present, no empty cell; periods ``1..n_periods``, each exactly once per
    patient; one sequence, block and stratum per patient; the sequence is one of ``sequences``
    and ``treatment`` is that sequence's treatment in the period; kit codes unique and of the
    list's kind (``T-`` prefix exactly for a test list); blocks contiguous; every complete
    block balanced (each sequence ``block_size / n_sequences`` times). Only the last block of
    each stratum may be incomplete (with ``block_size``: fewer patients than it, no sequence
    more than its share; without: every other block defines completeness, and the last one is
    complete when it is balanced).

    Parameters
    ----------
    path
        The CSV file.
    sequences
        The allowed sequences (tuples of treatment codes).
    kind
        ``"test"`` or ``"production"``; required unless the file has a ``list_kind`` column
        (then both must agree).
    protocol_id
        Study identifier; required unless the file has a ``protocol_id`` column.

    Raises
    ------
    DataError
        Naming file, row (header = row 1), column and value.
    ListKindMismatchError
        The file's kind disagrees with ``kind``, or a kit code has the other kind's form.
    """
    p = Path(path)
    raw, frame = _read_list_csv(p)
    name = p.name
    if kind is not None:
        check_option("kind", kind, LIST_KIND, error=DataError)
    list_kind = _uniform(frame, name, "list_kind", kind, LIST_KINDS)
    pid_study = _uniform(frame, name, "protocol_id", protocol_id)
    seqs = _check_sequences(sequences)
    _check_kit_codes(frame, name, list_kind)
    ints = _integer_columns(frame, name, n_periods=len(seqs[0]))
    patients = _patients_of(frame, name, ints, seqs)
    sizes = _block_sizes(patients, name, seqs, stratified="stratum" in frame.columns)
    table, counts_by_stratum = _imported_table(frame, patients, sizes, seqs, list_kind=list_kind, protocol_id=pid_study)
    return RandomisationList(
        kind=list_kind,  # type: ignore[arg-type]
        protocol_id=pid_study,
        sequences=seqs,
        table=table,
        seed=None,
        seed_source="imported",
        block_sizes=(),
        strata=counts_by_stratum,
        stratum_factor=None,
        n_requested=len(patients),
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        source={"file": name, "sha256": hashlib.sha256(raw).hexdigest()},
    )


def _row(i: int) -> int:
    """Spreadsheet row of 0-based table row ``i`` (the header is row 1)."""
    return i + FIRST_DATA_ROW


def _read_list_csv(p: Path) -> tuple[bytes, pd.DataFrame]:
    """The file's bytes and its table of stripped text cells: required columns, no empty cell."""
    name = p.name
    try:
        raw = p.read_bytes()
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read {p}: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(lambda col: col.str.strip())
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{name}: required column(s) {', '.join(map(repr, missing))} missing; "
                        f"columns present: {', '.join(frame.columns)}")
    optional = [c for c in ("stratum", "block_size", "list_kind", "protocol_id") if c in frame.columns]
    for col in (*_REQUIRED, *optional):
        empty = frame[col] == ""
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise DataError(f"{name} row {_row(i)}: {col} is empty; every row needs a {col}")
    if len(frame) == 0:
        raise DataError(f"{name}: no rows")
    return raw, frame


def _uniform(frame: pd.DataFrame, name: str, col: str, arg: str | None, allowed: tuple[str, ...] | None = None) -> str:
    """The one value of a whole-list column (``list_kind``, ``protocol_id``), agreeing with ``arg``."""
    if col in frame.columns:
        values = frame[col]
        first = values.iloc[0]
        if allowed is not None and first not in allowed:
            raise DataError(f"{name} row {_row(0)}: {col}={first!r}; allowed: {', '.join(allowed)}")
        err = ListKindMismatchError if col == "list_kind" else DataError
        bad = values != first
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise err(f"{name} row {_row(i)}: {col}={values.iloc[i]!r} but row {_row(0)} has {first!r}; "
                      "one list has one value")
        if arg is not None and arg != first:
            raise err(f"{name}: {col}={first!r} in the file but {arg!r} was asked for")
        return str(first)
    if arg is None:
        raise DataError(f"{name}: no {col} column; pass {'kind' if col == 'list_kind' else col}= to say it")
    return arg


def _spellings(seqs: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    """Sequence index of each accepted spelling (``P-K-KM``, ``PKKM``, ``P/K/KM``), ambiguous ones dropped."""
    spellings: dict[str, int] = {}
    clashes: set[str] = set()
    for k, s in enumerate(seqs):
        for spelled in {"-".join(s), "".join(s), "/".join(s)}:
            if spelled in spellings and spellings[spelled] != k:
                clashes.add(spelled)
            spellings[spelled] = k
    for c in clashes:
        spellings.pop(c)
    return spellings


def _check_kit_codes(frame: pd.DataFrame, name: str, list_kind: str) -> None:
    """Kit codes are unique and have the form of the list's kind."""
    dup = frame["kit_code"].duplicated(keep=False)
    if dup.any():
        idx = np.flatnonzero(dup.to_numpy())
        code = frame["kit_code"].iloc[idx[0]]
        rows = [_row(int(i)) for i in idx if frame["kit_code"].iloc[i] == code]
        raise DataError(f"{name} rows {', '.join(map(str, rows))}: kit_code={code!r} appears more than once; "
                        "kit codes must be unique")
    for i, code in enumerate(frame["kit_code"]):
        check_kit_code_kind(code, list_kind, where=f"{name} row {_row(i)}: kit_code")


def _integer_columns(frame: pd.DataFrame, name: str, *, n_periods: int) -> dict[str, np.ndarray]:
    """``block``, ``period`` (and ``block_size``) as integers >= 1; periods within 1..n_periods."""
    ints: dict[str, np.ndarray] = {}
    for col in ("block", "period", *(["block_size"] if "block_size" in frame.columns else [])):
        try:
            vals = [int(v) for v in frame[col]]
        except ValueError:
            i = next(j for j, v in enumerate(frame[col]) if not v.lstrip("+-").isdigit())
            raise DataError(f"{name} row {_row(i)}: {col}={frame[col].iloc[i]!r} is not a whole number") from None
        arr = np.asarray(vals, dtype=np.int64)
        if (arr < 1).any():
            i = int(np.flatnonzero(arr < 1)[0])
            raise DataError(f"{name} row {_row(i)}: {col}={frame[col].iloc[i]!r} must be >= 1")
        ints[col] = arr
    period = ints["period"]
    if (period > n_periods).any():
        i = int(np.flatnonzero(period > n_periods)[0])
        raise DataError(f"{name} row {_row(i)}: period={frame['period'].iloc[i]!r} is outside 1..{n_periods}")
    return ints


@dataclass(slots=True)
class _Patient:
    """A patient of an imported list: first row, sequence index, block, stratum, block size, rows by period."""

    first: int
    seq: int
    block: int
    stratum: str | None
    size: int | None
    periods: dict[int, int]


def _patients_of(frame: pd.DataFrame, name: str, ints: dict[str, np.ndarray],
                 seqs: tuple[tuple[str, ...], ...]) -> dict[str, _Patient]:
    """One entry per patient (file order): one sequence, block, stratum and block size each; every
    period once, with the treatment its sequence gives."""
    spellings = _spellings(seqs)
    allowed_labels = ", ".join(sequence_label(s) for s in seqs)
    stratified = "stratum" in frame.columns
    patients: dict[str, _Patient] = {}
    for i in range(len(frame)):
        pid = frame["patient_id"].iloc[i]
        label = frame["sequence"].iloc[i]
        if label not in spellings:
            raise DataError(f"{name} row {_row(i)}: sequence={label!r} is not one of the design's sequences "
                            f"({allowed_labels})")
        k = spellings[label]
        mine = _Patient(first=i, seq=k, block=int(ints["block"][i]),
                        stratum=frame["stratum"].iloc[i] if stratified else None,
                        size=int(ints["block_size"][i]) if "block_size" in ints else None, periods={})
        info = patients.setdefault(pid, mine)
        for col, key in (("sequence", "seq"), ("block", "block"), ("stratum", "stratum"), ("block_size", "size")):
            if getattr(info, key) != getattr(mine, key):
                raise DataError(f"{name} row {_row(i)}: {col}={frame[col].iloc[i]!r} for patient {pid!r}, whose "
                                f"row {_row(info.first)} has {frame[col].iloc[info.first]!r}; one per patient")
        per = int(ints["period"][i])
        if per in info.periods:
            raise DataError(f"{name} row {_row(i)}: patient {pid!r} already has period {per} "
                            f"(row {_row(info.periods[per])})")
        info.periods[per] = i
        expected = seqs[k][per - 1]
        if frame["treatment"].iloc[i] != expected:
            raise DataError(f"{name} row {_row(i)}: treatment={frame['treatment'].iloc[i]!r} but sequence "
                            f"{sequence_label(seqs[k])} gives {expected!r} in period {per}")
    n_periods = len(seqs[0])
    for pid, info in patients.items():
        if len(info.periods) != n_periods:
            lacking = sorted(set(range(1, n_periods + 1)) - set(info.periods))
            raise DataError(f"{name} row {_row(info.first)}: patient {pid!r} has no row for period(s) "
                            f"{', '.join(map(str, lacking))}; every patient needs periods 1..{n_periods}")
    return patients


def _block_sizes(patients: dict[str, _Patient], name: str, seqs: tuple[tuple[str, ...], ...], *,
                 stratified: bool) -> dict[tuple[str | None, int], int]:
    """Size of every block (stratum, block): contiguous within its stratum, balanced when complete."""
    blocks: dict[tuple[str | None, int], list[str]] = {}
    last_block: dict[str | None, tuple[str | None, int]] = {}
    for pid, info in patients.items():
        key = (info.stratum, info.block)
        if key in blocks and last_block[info.stratum] != key:
            raise DataError(f"{name} row {_row(info.first)}: patient {pid!r} is in block {info.block}"
                            + (f" of stratum {info.stratum!r}" if stratified else "")
                            + ", which another block interrupted; a block's patients are consecutive")
        blocks.setdefault(key, []).append(pid)
        last_block[info.stratum] = key
    final = set(last_block.values())
    where = {key: (f"{name} row {_row(patients[pids[0]].first)}: block {key[1]}"
                   + (f" of stratum {key[0]!r}" if stratified else "")) for key, pids in blocks.items()}
    return {key: _block_size([patients[p] for p in pids], seqs, where=where[key], last=key in final)
            for key, pids in blocks.items()}


def _block_size(members: list[_Patient], seqs: tuple[tuple[str, ...], ...], *, where: str, last: bool) -> int:
    """The size of one block: its ``block_size`` (checked) or, without one, the balanced size."""
    n_seq = len(seqs)
    counts = np.bincount([m.seq for m in members], minlength=n_seq)
    tally = ", ".join(f"{sequence_label(s)}×{int(c)}" for s, c in zip(seqs, counts, strict=True))
    size = members[0].size
    n = len(members)
    balanced = n % n_seq == 0 and bool((counts == n // n_seq).all())
    if size is None:
        if not balanced and not last:
            raise DataError(f"{where}: not balanced ({tally}); every complete block holds each of the "
                            f"{n_seq} sequences equally often")
        return n if balanced else n_seq * int(counts.max())
    if size % n_seq:
        raise DataError(f"{where}: block_size={size} is not a multiple of the number of sequences ({n_seq})")
    if n > size:
        raise DataError(f"{where}: {n} patients but block_size={size}")
    if n < size and not last:
        raise DataError(f"{where}: {n} patients but block_size={size}; only the last block may be incomplete")
    if (counts > size // n_seq).any() or (n == size and not balanced):
        raise DataError(f"{where}: not balanced ({tally}); a block of {size} holds each sequence "
                        f"{size // n_seq} times")
    return size


def _imported_table(frame: pd.DataFrame, patients: dict[str, _Patient], sizes: dict[tuple[str | None, int], int],
                    seqs: tuple[tuple[str, ...], ...], *, list_kind: str,
                    protocol_id: str) -> tuple[pd.DataFrame, dict[str, int] | None]:
    """The pharmacy table in the list's own layout, and the patients per stratum (None unstratified)."""
    stratified = "stratum" in frame.columns
    rows = []
    for pid, info in patients.items():
        for per in range(1, len(seqs[0]) + 1):
            i = info.periods[per]
            r: dict[str, Any] = {"patient_id": pid}
            if stratified:
                r["stratum"] = info.stratum
            r.update(block=info.block, block_size=sizes[(info.stratum, info.block)],
                     sequence=sequence_label(seqs[info.seq]), period=per, treatment=seqs[info.seq][per - 1],
                     kit_code=frame["kit_code"].iloc[i], list_kind=list_kind, protocol_id=protocol_id)
            rows.append(r)
    table = pd.DataFrame(rows, columns=[c for c in PHARMACY_COLUMNS if stratified or c != "stratum"])
    if not stratified:
        return table, None
    counts: dict[str, int] = {}
    for info in patients.values():
        counts[str(info.stratum)] = counts.get(str(info.stratum), 0) + 1
    return table, counts

"""Sequence lists by permuted blocks, optionally stratified, reproducible from a recorded seed.

Algorithm ``ketapain-permuted-blocks/1`` (see ``docs/randomisation.md``):

1. The seed is an integer >= 0: given, drawn from a given :class:`numpy.random.Generator`
   (128 bits), or — when none is given — ``secrets.randbits(128)``. It is recorded.
2. ``root = SeedSequence(seed, spawn_key=(k,))`` with ``k = 0`` for a test list and ``1`` for
   the production list (the same seed never gives a test list equal to the production
   list), then ``root.spawn(n_strata)``: one independent PCG64 stream per stratum.
3. Per stratum, blocks are made until they hold at least the requested number of patients
   (the list always ends on a complete block; extra slots are spares). A block's size is
   the fixed size, or one of the allowed sizes drawn uniformly per block; a block of size
   ``b`` holds every sequence ``b / n_sequences`` times, in an order drawn by Fisher-Yates.
   Integers are drawn from PCG64's raw 64-bit output by rejection, so the list depends only
   on the seed and the inputs — not on numpy's sampling routines.
4. Kit codes come from a separate keyed stream (:func:`ketapain.operations.kit_codes`).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ketapain._options import check_option
from ketapain._seeds import resolve_seed
from ketapain.errors import ProtocolError, parameter
from ketapain.operations._kits import LIST_KIND, TEST_PREFIX, ListKind, kit_codes

__all__ = [
    "ALGORITHM",
    "LABEL_COLUMNS",
    "MAX_LIST_KITS",
    "MAX_LIST_PATIENTS",
    "PHARMACY_COLUMNS",
    "RandomisationList",
    "make_randomisation_list",
    "sequence_label",
]

ALGORITHM = "ketapain-permuted-blocks/1"
PHARMACY_COLUMNS = ("patient_id", "stratum", "block", "block_size", "sequence", "period", "treatment",
                    "kit_code", "list_kind", "protocol_id")
"""Columns of ``pharmacy.csv`` in order (``stratum`` only when the list is stratified)."""
LABEL_COLUMNS = ("protocol_id", "list_kind", "stratum", "patient_id", "period", "kit_code")
"""Columns of the blinded ``labels.csv`` (``stratum`` only when stratified): no treatment,
no sequence, no block."""

_KIND_KEY = {"test": 0, "production": 1}
_NAME = re.compile(r"^[A-Za-z0-9_.]+$")


def sequence_label(sequence: Sequence[str]) -> str:
    """The printed name of a sequence: its treatments joined by ``-``.

    >>> sequence_label(("P", "KM", "K"))
    'P-KM-K'
    """
    return "-".join(sequence)


class _Stream:
    """Uniform integers from PCG64's raw output (stable across numpy versions)."""

    def __init__(self, seed_sequence: np.random.SeedSequence) -> None:
        self._bits = np.random.Generator(np.random.PCG64(seed_sequence)).bit_generator

    def below(self, n: int) -> int:
        span = 1 << 64
        limit = span - span % n
        while True:
            x = int(self._bits.random_raw())
            if x < limit:
                return x % n

    def shuffle(self, items: list[Any]) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def _check_sequences(sequences: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    seqs = tuple(tuple(str(t) for t in s) for s in sequences)
    if len(seqs) < 2:
        raise ProtocolError(f"sequences: {len(seqs)} given; a randomised list needs at least 2")
    lengths = {len(s) for s in seqs}
    if len(lengths) != 1 or 0 in lengths:
        raise ProtocolError(f"sequences: all must have the same number (>= 1) of periods; lengths {sorted(lengths)}")
    for s in seqs:
        for t in s:
            if not t or not _NAME.match(t):
                raise ProtocolError(f"sequences: treatment code {t!r} in {s}: allowed letters, digits, '_' and '.'")
    if len(set(seqs)) != len(seqs):
        dup = next(s for s in seqs if seqs.count(s) > 1)
        raise ProtocolError(f"sequences: {sequence_label(dup)} appears twice; sequences must be distinct")
    return seqs


def _check_block_sizes(n_seq: int, block_size: int | None, random_block_sizes: Sequence[int] | None) -> tuple[int, ...]:
    if random_block_sizes is not None and len(random_block_sizes) > 0:
        sizes = tuple(random_block_sizes)
        if block_size is not None and block_size not in sizes:
            raise ProtocolError(
                template="{@block_size=} and {@random_block_sizes=}: give one, or a {@block_size} among the random sizes",
                params={"block_size": block_size, "random_block_sizes": list(sizes)})
        name = "random_block_sizes"
    else:
        sizes = (n_seq if block_size is None else block_size,)
        name = "block_size"
    for b in sizes:
        if isinstance(b, bool) or not isinstance(b, int | np.integer) or b < n_seq or b % n_seq:
            raise ProtocolError(
                template=parameter(name) + ": {b} is not a positive multiple of the number of sequences ({n_seq}); "
                "allowed: {n_seq}, {n2}, {n3}, ...",
                params={"b": repr(b), "n_seq": n_seq, "n2": 2 * n_seq, "n3": 3 * n_seq})
    if len(set(sizes)) != len(sizes):
        raise ProtocolError(template=parameter(name, valued=True) + ": sizes must be distinct", params={name: list(sizes)})
    return tuple(int(b) for b in sizes)


def _check_counts(n_patients: int | Mapping[str, int]) -> dict[str, int] | None:
    def _ok(n: object) -> bool:
        return not isinstance(n, bool) and isinstance(n, int | np.integer) and int(n) >= 1

    if isinstance(n_patients, Mapping):
        if not n_patients:
            raise ProtocolError(template="{@n_patients}: empty mapping of strata; give at least one stratum")
        out: dict[str, int] = {}
        for name, n in n_patients.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise ProtocolError(f"stratum {name!r}: allowed letters, digits, '_' and '.'")
            if not _ok(n):
                raise ProtocolError(f"n_patients[{name!r}]={n!r}: must be an integer >= 1")
            out[name] = int(n)
        return out
    if not _ok(n_patients):
        raise ProtocolError(template="{@n_patients=}: must be an integer >= 1 (or a mapping stratum -> n)",
                            params={"n_patients": n_patients})
    return None


MAX_LIST_PATIENTS = 10_000
"""Most patients one list may be asked for (summed over strata; docs/randomisation.md, "Limits")."""
MAX_LIST_KITS = 200_000
"""Most kits one list may hold, spare slots of the last blocks included (checked before any is made)."""


def _check_size(counts: Sequence[int], sizes: Sequence[int], n_periods: int, block_name: str) -> None:
    """Refuse a list too large to make, before making any of it: the patients requested, and
    the kits of the worst case (each stratum's last block all spares)."""
    total = sum(counts)
    if total > MAX_LIST_PATIENTS:
        raise ProtocolError(
            template="{@n_patients}: {total} patients requested; at most {most} in one list",
            params={"total": total, "most": MAX_LIST_PATIENTS}, column="n_patients", value=total,
            allowed=f"1..{MAX_LIST_PATIENTS}")
    kits = sum(n + max(sizes) - 1 for n in counts) * n_periods
    if kits > MAX_LIST_KITS:
        raise ProtocolError(
            template=parameter(block_name) + ": blocks of up to {b} patients for {total} patients{strata} may need "
            "{kits} kits ({p} periods); at most {most} in one list: use smaller blocks",
            params={"b": max(sizes), "total": total, "strata": f" in {len(counts)} strata" if len(counts) > 1 else "",
                    "kits": kits, "p": n_periods, "most": MAX_LIST_KITS},
            column=block_name, value=max(sizes), allowed=f"a list of at most {MAX_LIST_KITS} kits")


@dataclass(frozen=True, slots=True, eq=False)
class RandomisationList:
    """A randomisation list: the unblinded pharmacy table plus what is needed to reproduce it.

    Attributes
    ----------
    kind
        ``"test"`` (training, rehearsal) or ``"production"``; in every output.
    protocol_id
        Study identifier printed on every label.
    sequences
        The sequences randomised (tuples of treatment codes, one per period).
    seed
        The integer seed (``None`` for an imported list); with the same inputs it reproduces
        ``pharmacy.csv`` byte for byte.
    seed_source
        ``"given"``, ``"generator"``, ``"generated"`` (``secrets.randbits(128)``) or ``"imported"``.
    block_sizes
        Allowed block sizes (one = fixed blocks); empty for an imported list.
    strata
        Requested patients per stratum, or ``None`` (unstratified).
    stratum_factor
        Name of the stratification factor (e.g. ``"sex"``), or ``None``.
    n_requested
        Patients requested (sum over strata); the list may hold more (complete last blocks).
    created
        UTC time the list was made (metadata only: not in ``pharmacy.csv``).
    source
        For an imported list: the file and the SHA-256 of its bytes.
    """

    kind: ListKind
    protocol_id: str
    sequences: tuple[tuple[str, ...], ...]
    table: pd.DataFrame = field(repr=False)
    seed: int | None
    seed_source: str
    block_sizes: tuple[int, ...]
    strata: dict[str, int] | None
    stratum_factor: str | None
    n_requested: int
    created: str
    source: dict[str, str] | None = None

    @property
    def stratified(self) -> bool:
        """Whether the list has a ``stratum`` column."""
        return "stratum" in self.table.columns

    @property
    def n_periods(self) -> int:
        return len(self.sequences[0])

    @property
    def n_patients(self) -> int:
        """Patient slots in the list (>= ``n_requested``)."""
        return int(self.table["patient_id"].nunique())

    def to_frame(self) -> pd.DataFrame:
        """The pharmacy table (UNBLINDED), one row per patient x period; a copy."""
        return self.table.copy()

    def pharmacy_csv_bytes(self) -> bytes:
        """The exact bytes of ``pharmacy.csv`` (UTF-8, ``\\n`` line ends, no index)."""
        return _csv_bytes(self.table)

    @property
    def commitment(self) -> str:
        """SHA-256 hex digest of :meth:`pharmacy_csv_bytes` (what ``sha256sum pharmacy.csv`` prints)."""
        return hashlib.sha256(self.pharmacy_csv_bytes()).hexdigest()

    def labels(self) -> pd.DataFrame:
        """The blinded label table: protocol id, list kind, (stratum), patient, period, kit code."""
        cols = [c for c in LABEL_COLUMNS if c in self.table.columns]
        return self.table[cols].reset_index(drop=True)

    def labels_csv_bytes(self) -> bytes:
        """The exact bytes of ``labels.csv``."""
        return _csv_bytes(self.labels())

    def labels_html(self) -> str:
        """Printable labels, one per kit (study, kit code, patient, period, blinding notice)."""
        return _labels_html(self)

    def block_summary(self) -> pd.DataFrame:
        """One row per block: stratum, block, block_size, n_patients, complete, balanced.

        ``balanced`` is true when every sequence appears equally often (complete blocks) or
        at most ``block_size / n_sequences`` times (the incomplete last block of a list).
        """
        per_patient = self.table.drop_duplicates("patient_id")
        keys = ["stratum", "block"] if self.stratified else ["block"]
        rows = []
        n_seq = len(self.sequences)
        labels = [sequence_label(s) for s in self.sequences]
        for _, grp in per_patient.groupby(keys, sort=False):
            size = int(grp["block_size"].iloc[0])
            counts = grp["sequence"].value_counts().reindex(labels, fill_value=0)
            complete = len(grp) == size
            balanced = bool((counts == size // n_seq).all()) if complete else bool((counts <= size // n_seq).all())
            # the group's keys, read off its first row (every row of the group shares them)
            rows.append({**({"stratum": grp["stratum"].iloc[0]} if self.stratified else {}),
                         "block": int(grp["block"].iloc[0]),
                         "block_size": size, "n_patients": len(grp), "complete": complete, "balanced": balanced})
        return pd.DataFrame(rows)

    def meta(self) -> dict[str, Any]:
        """The content of ``list_meta.json`` (JSON-safe; the seed as a decimal string)."""
        from ketapain import __version__

        return {
            "format": "ketapain-randomisation-list/1",
            "list_kind": self.kind,
            "protocol_id": self.protocol_id,
            "created_utc": self.created,
            "seed": None if self.seed is None else str(self.seed),
            "seed_source": self.seed_source,
            "algorithm": ALGORITHM if self.seed is not None else "imported",
            "sequences": [list(s) for s in self.sequences],
            "block_sizes": list(self.block_sizes),
            "stratum_factor": self.stratum_factor,
            "strata": self.strata,
            "n_requested": self.n_requested,
            "n_patients": self.n_patients,
            "n_kits": len(self.table),
            "kit_code_prefix": TEST_PREFIX if self.kind == "test" else "",
            "commitment_sha256": self.commitment,
            "source": self.source,
            "software": f"ketapain {__version__}",
            "files": {
                "pharmacy.csv": "UNBLINDED allocation: pharmacy only",
                "list_meta.json": "UNBLINDED (the seed reproduces the list): pharmacy only",
                "commitment.txt": "SHA-256 of pharmacy.csv: may be shared",
                "labels.csv": "blinded labels",
                "labels.html": "blinded printable labels",
            },
        }

    def summary(self) -> str:
        """A short text description (no allocation)."""
        kind = self.kind.upper() + (" — NOT FOR PATIENT USE" if self.kind == "test" else "")
        strata = (f"{self.stratum_factor or 'stratum'}: " + ", ".join(f"{k}={v}" for k, v in self.strata.items())
                  if self.strata else "none")
        return "\n".join([
            f"Randomisation list ({kind})",
            f"  protocol: {self.protocol_id}",
            f"  sequences: {', '.join(sequence_label(s) for s in self.sequences)}",
            f"  block sizes: {', '.join(map(str, self.block_sizes)) or 'as imported'}",
            f"  strata: {strata}",
            f"  patients: {self.n_patients} slots for {self.n_requested} requested; kits: {len(self.table)}",
            f"  seed source: {self.seed_source}",
            f"  commitment (SHA-256 of pharmacy.csv): {self.commitment}",
        ])


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(frame.columns))
    for row in frame.itertuples(index=False, name=None):
        writer.writerow([str(v) for v in row])
    return buf.getvalue().encode("utf-8")


_HTML_STYLE = """
body { font-family: Arial, Helvetica, sans-serif; margin: 8mm; }
.sheet { display: flex; flex-wrap: wrap; gap: 4mm; }
.label { border: 1px solid #000; width: 62mm; padding: 3mm; box-sizing: border-box;
         page-break-inside: avoid; break-inside: avoid; }
.label .study { font-size: 9pt; }
.label .kit { font-family: 'Courier New', monospace; font-size: 16pt; font-weight: bold; margin: 1mm 0; }
.label .who { font-size: 10pt; }
.label .use { font-size: 8pt; margin-top: 1mm; }
.label.test { border: 2px dashed #000; }
.label .banner { font-weight: bold; font-size: 9pt; border: 1px solid #000; text-align: center; }
"""


def _labels_html(rlist: RandomisationList) -> str:
    test = rlist.kind == "test"
    esc = html.escape
    title = f"{esc(rlist.protocol_id)} — kit labels ({'TEST list — NOT FOR PATIENT USE' if test else 'production list'})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        f"<style>{_HTML_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        '<div class="sheet">',
    ]
    for r in rlist.labels().to_dict(orient="records"):
        stratum = f" · {esc(str(r['stratum']))}" if "stratum" in r else ""
        parts.append(
            f'<div class="label{" test" if test else ""}" data-list-kind="{rlist.kind}">'
            + ('<div class="banner">TEST — NOT FOR PATIENT USE</div>' if test else "")
            + f'<div class="study">Study {esc(rlist.protocol_id)} · clinical trial</div>'
            + f'<div class="kit">{esc(str(r["kit_code"]))}</div>'
            + f'<div class="who">Patient {esc(str(r["patient_id"]))}{stratum} · Period {esc(str(r["period"]))}</div>'
            + '<div class="use">For IV use only — blinded</div>'
            + "</div>"
        )
    parts += ["</div>", "</body></html>", ""]
    return "\n".join(parts)


def make_randomisation_list(
    sequences: Sequence[Sequence[str]],
    *,
    n_patients: int | Mapping[str, int],
    protocol_id: str,
    kind: ListKind = "test",
    block_size: int | None = None,
    random_block_sizes: Sequence[int] | None = None,
    stratum_factor: str | None = None,
    seed: int | np.random.Generator | None = None,
) -> RandomisationList:
    """Make a permuted-block randomisation list of crossover sequences, with kit codes.

    Parameters
    ----------
    sequences
        The sequences to allocate (e.g. the 6 of a 3-treatment Williams design), each a tuple
        of treatment codes, one per period.
    n_patients
        Number of patients, or a mapping ``stratum -> number`` for a stratified list (one
        independent block stream per stratum; patient slots are pre-labelled ``M-001``...).
        Blocks are completed, so the list can hold more slots than asked (spares).
    protocol_id
        Study identifier written in every output and on every label.
    kind
        ``"test"`` (default: training and rehearsal; kit codes start with ``T-``) or
        ``"production"`` (must be asked for explicitly).
    block_size
        Fixed block size, a multiple of the number of sequences (default: that number).
    random_block_sizes
        Allowed block sizes (each a multiple), one drawn uniformly per block.
    stratum_factor
        Name of the stratification factor, e.g. ``"sex"`` (metadata only).
    seed
        Integer >= 0, a Generator (128 bits are drawn from it) or ``None`` (then
        ``secrets.randbits(128)``). Recorded in :attr:`RandomisationList.seed`.

    Raises
    ------
    ProtocolError
        Fewer than two or unequal-length sequences, a block size that is not a multiple of
        the number of sequences, bad counts, strata or seed; more than
        :data:`MAX_LIST_PATIENTS` patients, or blocks that may need more than
        :data:`MAX_LIST_KITS` kits (checked before the list is made).

    Examples
    --------
    >>> rl = make_randomisation_list([("A", "B"), ("B", "A")], n_patients=4, protocol_id="AB",
    ...                              block_size=4, seed=7)
    >>> rl.table.columns.tolist()
    ['patient_id', 'block', 'block_size', 'sequence', 'period', 'treatment', 'kit_code', 'list_kind', 'protocol_id']
    >>> rl.table.drop_duplicates("patient_id")["sequence"].value_counts().tolist()
    [2, 2]
    >>> rl.commitment == make_randomisation_list([("A", "B"), ("B", "A")], n_patients=4,
    ...                                          protocol_id="AB", block_size=4, seed=7).commitment
    True
    """
    check_option("kind", kind, LIST_KIND, error=ProtocolError)
    if not isinstance(protocol_id, str) or not protocol_id.strip():
        raise ProtocolError(f"protocol_id={protocol_id!r}: a non-empty study identifier is required")
    seqs = _check_sequences(sequences)
    n_seq = len(seqs)
    sizes = _check_block_sizes(n_seq, block_size, random_block_sizes)
    strata = _check_counts(n_patients)
    _check_size(list(strata.values()) if strata else [int(n_patients)], sizes, len(seqs[0]),  # type: ignore[arg-type]
                "random_block_sizes" if random_block_sizes else "block_size")
    seed_int, seed_source = resolve_seed(seed, generator_bits=128, error=ProtocolError)

    root = np.random.SeedSequence(seed_int, spawn_key=(_KIND_KEY[kind],))
    groups: list[tuple[str | None, int]] = list(strata.items()) if strata else [(None, int(n_patients))]  # type: ignore[arg-type]
    children = root.spawn(len(groups))
    labels = [sequence_label(s) for s in seqs]
    total = sum(n for _, n in groups)
    width = max(3, len(str(max(n for _, n in groups) + max(sizes))))

    patients: list[tuple[str | None, str, int, int, int]] = []  # stratum, id, block, size, seq index
    for (stratum, n), child in zip(groups, children, strict=True):
        stream = _Stream(child)
        count, block = 0, 0
        while count < n:
            block += 1
            size = sizes[0] if len(sizes) == 1 else sizes[stream.below(len(sizes))]
            content = [i for i in range(n_seq) for _ in range(size // n_seq)]
            stream.shuffle(content)
            for s in content:
                count += 1
                pid = f"P{count:0{width}d}" if stratum is None else f"{stratum}-{count:0{width}d}"
                patients.append((stratum, pid, block, size, s))

    n_periods = len(seqs[0])
    codes = kit_codes(len(patients) * n_periods, seed=seed_int, kind=kind, protocol_id=protocol_id)
    rows = []
    k = 0
    for stratum, pid, block, size, s in patients:
        for period in range(1, n_periods + 1):
            row: dict[str, Any] = {"patient_id": pid}
            if strata is not None:
                row["stratum"] = stratum
            row.update(block=block, block_size=size, sequence=labels[s], period=period,
                       treatment=seqs[s][period - 1], kit_code=codes[k], list_kind=kind, protocol_id=protocol_id)
            rows.append(row)
            k += 1
    table = pd.DataFrame(rows, columns=[c for c in PHARMACY_COLUMNS if strata is not None or c != "stratum"])
    return RandomisationList(
        kind=kind,
        protocol_id=protocol_id,
        sequences=seqs,
        table=table,
        seed=seed_int,
        seed_source=seed_source,
        block_sizes=sizes,
        strata=strata,
        stratum_factor=stratum_factor if strata is not None else None,
        n_requested=total,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )

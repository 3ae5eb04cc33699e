"""TrialData: the validated, immutable container of the seven tidy trial tables."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import pandas as pd

from ..errors import DataError
from ._io import read_frames, write_frames
from ._schema import TABLE_NAMES
from ._validate import validate_tables

__all__ = ["DEFAULT_MAX_ERRORS", "TrialData", "read_trial", "write_trial"]

DEFAULT_MAX_ERRORS = 20
"""How many problems a validation error lists by default."""

# pandas >= 3 is always copy-on-write: a shallow copy is an independent object whose
# writes never reach the original. Older pandas needs a deep copy for the same guarantee.
_DEEP_COPY = int(pd.__version__.split(".", 1)[0]) < 3

_TOKEN = object()


def check_meta(meta: Mapping[str, str] | None) -> Mapping[str, str]:
    """Validate ``meta`` (text keys and values) and return a read-only copy.

    Raises
    ------
    DataError
        If a key or value is not text.
    """
    if meta is None:
        return MappingProxyType({})
    if not isinstance(meta, Mapping):
        raise DataError(f"meta must be a mapping of text to text, got {type(meta).__name__}")
    for k, v in meta.items():
        if not isinstance(k, str):
            raise DataError(f"meta: key {k!r} is not text")
        if not isinstance(v, str):
            raise DataError(f"meta[{k!r}]: value {v!r} is not text ({type(v).__name__})")
    return MappingProxyType(dict(meta))


# Not slots=True: on Python 3.11 assigning an attribute of a frozen slots dataclass whose
# __init__ is our own fails with a TypeError instead of FrozenInstanceError.
@dataclass(frozen=True, init=False, eq=False, repr=False)
class TrialData:
    """The seven tidy tables of one trial, validated, plus a few facts about it.

    Build one with :meth:`from_tables` (from DataFrames) or :meth:`read` (from a folder);
    both validate every table and every cross-table reference. A TrialData never changes:
    each table attribute returns a fresh copy, so modifying it leaves the container intact.
    To change data, build a new one (``TrialData.from_tables(**data.to_tables(), ...)``).

    Attributes
    ----------
    patients, allocation, diary, questionnaires, adverse_events, concomitant, screening : DataFrame
        The tables (copies), with the columns and dtypes described in
        ``docs/data-model.md`` and :data:`~ketapain.data.SCHEMAS`.
    meta : Mapping[str, str]
        Read-only facts about the data: conventionally ``study`` (study name),
        ``protocol_id`` and ``source`` (what produced the data: simulator, capture app,
        import...). The protocol object itself (arms, schedule, time axis, SAP settings)
        is not stored yet: it will be attached to TrialData, next to ``meta``, once the
        ``protocol`` package exists; until then ``protocol_id`` names it.

    Examples
    --------
    >>> import pandas as pd
    >>> patients = pd.DataFrame({"patient_id": ["P01"], "sex": ["F"], "age_years": [54],
    ...     "weight_kg": [61.0], "height_m": [1.62], "pain_type": ["radiculopathy"],
    ...     "pain_duration_years": [4.5], "dn4_total": [6]})
    >>> allocation = pd.DataFrame({"patient_id": ["P01"], "period": [1],
    ...     "sequence": ["P-K-KM"], "treatment": ["P"], "pre_infusion_pain": [7.0]})
    >>> diary = pd.DataFrame({"patient_id": ["P01"] * 2, "period": [1, 1], "day": [1, 2],
    ...     "avg_pain": [6.0, None], "max_pain": [8.0, None], "night_pain": [5.0, None]})
    >>> data = TrialData.from_tables(patients=patients, allocation=allocation,
    ...     diary=diary, meta={"study": "demo"})
    >>> data
    TrialData(study='demo', patients=1, allocation=1, diary=2, questionnaires=0,
              adverse_events=0, concomitant=0, screening=0)
    >>> int(data.diary["avg_pain"].isna().sum())
    1
    """

    _tables: Mapping[str, pd.DataFrame]
    meta: Mapping[str, str]

    def __init__(
        self,
        tables: Mapping[str, pd.DataFrame],
        meta: Mapping[str, str],
        *,
        _token: object = None,
    ) -> None:
        if _token is not _TOKEN:
            raise TypeError("build TrialData with TrialData.from_tables(...) or read_trial(...)")
        object.__setattr__(self, "_tables", MappingProxyType(dict(tables)))
        object.__setattr__(self, "meta", meta)

    @classmethod
    def from_tables(
        cls,
        *,
        patients: pd.DataFrame | None = None,
        allocation: pd.DataFrame | None = None,
        diary: pd.DataFrame | None = None,
        questionnaires: pd.DataFrame | None = None,
        adverse_events: pd.DataFrame | None = None,
        concomitant: pd.DataFrame | None = None,
        screening: pd.DataFrame | None = None,
        meta: Mapping[str, str] | None = None,
        treatments: Collection[str] | None = None,
        max_errors: int = DEFAULT_MAX_ERRORS,
        diary_scale: tuple[float, float] | None = None,
    ) -> TrialData:
        """Validate the tables and wrap them in a TrialData.

        Parameters
        ----------
        patients, allocation, diary, questionnaires : DataFrame or None
            The tables; None (the default) means an empty table. Values may be typed or
            text (as read from CSV); they are converted to the schema's dtypes. The index
            is discarded. Columns not in the schema are kept, unchanged, after the schema
            columns. The frames passed in are never modified.
        adverse_events, concomitant, screening : DataFrame or None
            Likewise.
        meta : Mapping[str, str] or None
            Facts about the data (``study``, ``protocol_id``, ``source``...).
        treatments : collection of str or None
            The treatment codes of the protocol (e.g. ``("P", "K", "KM")``); when given,
            ``allocation.treatment`` must be one of them.
        max_errors : int, default 20
            How many problems the error message lists (all are counted).
        diary_scale : (float, float) or None
            The protocol's diary scale ``(scale_min, scale_max)`` (e.g. ``(0, 100)`` for a VAS);
            when given, the pain columns (``diary.avg_pain``, ``max_pain``, ``night_pain`` and
            ``allocation.pre_infusion_pain``) must lie in it, inclusive. None (the default): the
            schema's 0..10, the reference study's NRS. The scale is not stored in the TrialData:
            the analysis checks the values against its protocol again.

        Returns
        -------
        TrialData

        Raises
        ------
        DataError
            Listing every problem: missing required columns, unparseable or out-of-range
            values (the pain columns against ``diary_scale``), missing required values,
            duplicated keys and broken cross-table
            references, each as ``<table> row <n>: <what is wrong>``. Row n is the
            spreadsheet row: the header is row 1, the frame's first row (``iloc[0]``) is
            row 2.
        TypeError
            If a table is not a DataFrame or ``treatments`` is a single string.

        Examples
        --------
        >>> import pandas as pd
        >>> alloc = pd.DataFrame({"patient_id": ["P1"], "period": [1], "sequence": ["A"],
        ...                       "treatment": ["A"], "pre_infusion_pain": [72]})
        >>> patients = pd.DataFrame({"patient_id": ["P1"], "sex": ["F"], "age_years": [50],
        ...     "weight_kg": [None], "height_m": [None], "pain_type": ["other"],
        ...     "pain_duration_years": [None], "dn4_total": [None]})
        >>> data = TrialData.from_tables(patients=patients, allocation=alloc, diary_scale=(0, 100))
        >>> TrialData.from_tables(patients=patients, allocation=alloc)
        Traceback (most recent call last):
        ...
        ketapain.errors.DataError: invalid trial data: 1 problem
          allocation row 2: pre_infusion_pain=72 is outside 0..10
        """
        frames = {
            "patients": patients,
            "allocation": allocation,
            "diary": diary,
            "questionnaires": questionnaires,
            "adverse_events": adverse_events,
            "concomitant": concomitant,
            "screening": screening,
        }
        return cls._build(frames, meta=meta, treatments=treatments, max_errors=max_errors,
                          labels={}, where="", diary_scale=diary_scale)

    @classmethod
    def _build(
        cls,
        frames: Mapping[str, pd.DataFrame | None],
        *,
        meta: Mapping[str, str] | None,
        treatments: Collection[str] | None,
        max_errors: int,
        labels: Mapping[str, str],
        where: str,
        diary_scale: tuple[float, float] | None = None,
    ) -> TrialData:
        """Validate raw frames (labelled ``labels`` in messages) into a TrialData."""
        if isinstance(treatments, str):
            raise TypeError(f"treatments must be a collection of codes, not the string "
                            f"{treatments!r}")
        if treatments is not None:
            treatments = tuple(treatments)
            bad = [t for t in treatments if not isinstance(t, str)]
            if bad:
                raise TypeError(f"treatments must be text codes, got {bad!r}")
        checked_meta = check_meta(meta)
        tables = validate_tables(frames, labels=labels, treatments=treatments,
                                 max_errors=max_errors, where=where, diary_scale=diary_scale)
        return cls(tables, checked_meta, _token=_TOKEN)

    @classmethod
    def read(
        cls,
        folder: str | PathLike[str],
        *,
        treatments: Collection[str] | None = None,
        max_errors: int = DEFAULT_MAX_ERRORS,
        diary_scale: tuple[float, float] | None = None,
    ) -> TrialData:
        """Read and validate a trial folder; same as :func:`~ketapain.data.read_trial`."""
        return read_trial(folder, treatments=treatments, max_errors=max_errors, diary_scale=diary_scale)

    def write(
        self,
        folder: str | PathLike[str],
        *,
        format: Literal["csv", "parquet"] = "csv",
        overwrite: bool = False,
    ) -> Path:
        """Write the trial to a folder; same as :func:`~ketapain.data.write_trial`."""
        return write_trial(self, folder, format=format, overwrite=overwrite)

    def table(self, name: str) -> pd.DataFrame:
        """Return a copy of the table called ``name``.

        Raises
        ------
        KeyError
            If ``name`` is not one of the seven table names.
        """
        if name not in self._tables:
            raise KeyError(f"no table {name!r}; the tables are {list(TABLE_NAMES)}")
        return self._tables[name].copy(deep=_DEEP_COPY)

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """Return copies of all seven tables, by name, in canonical order.

        ``TrialData.from_tables(**data.to_tables(), meta=data.meta)`` rebuilds an equal
        TrialData.
        """
        return {name: self.table(name) for name in TABLE_NAMES}

    @property
    def patients(self) -> pd.DataFrame:
        """One row per patient (a copy)."""
        return self.table("patients")

    @property
    def allocation(self) -> pd.DataFrame:
        """One row per patient x period (a copy)."""
        return self.table("allocation")

    @property
    def diary(self) -> pd.DataFrame:
        """One row per patient x period x day (a copy)."""
        return self.table("diary")

    @property
    def questionnaires(self) -> pd.DataFrame:
        """One row per patient x visit x instrument x item (a copy)."""
        return self.table("questionnaires")

    @property
    def adverse_events(self) -> pd.DataFrame:
        """One row per adverse event (a copy)."""
        return self.table("adverse_events")

    @property
    def concomitant(self) -> pd.DataFrame:
        """One row per patient x period x drug class (a copy)."""
        return self.table("concomitant")

    @property
    def screening(self) -> pd.DataFrame:
        """One row per screened person (a copy)."""
        return self.table("screening")

    def equals(self, other: object) -> bool:
        """True if ``other`` is a TrialData with equal meta and equal tables (and dtypes)."""
        if not isinstance(other, TrialData):
            return False
        return dict(self.meta) == dict(other.meta) and all(
            self._tables[n].equals(other._tables[n])
            and list(self._tables[n].columns) == list(other._tables[n].columns)
            and (self._tables[n].dtypes == other._tables[n].dtypes).all()
            for n in TABLE_NAMES
        )

    def __repr__(self) -> str:
        head = [f"study={self.meta['study']!r}"] if "study" in self.meta else []
        counts = [f"{n}={len(self._tables[n])}" for n in TABLE_NAMES]
        return f"TrialData({', '.join(head + counts)})"

    def __copy__(self) -> TrialData:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> TrialData:
        return self

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (dict(self._tables), dict(self.meta)))


def _rebuild(tables: dict[str, pd.DataFrame], meta: dict[str, str]) -> TrialData:
    """Unpickle a TrialData (its tables were valid when pickled)."""
    return TrialData(tables, MappingProxyType(meta), _token=_TOKEN)


def read_trial(
    folder: str | PathLike[str],
    *,
    treatments: Collection[str] | None = None,
    max_errors: int = DEFAULT_MAX_ERRORS,
    diary_scale: tuple[float, float] | None = None,
) -> TrialData:
    """Read a trial folder and validate it into a :class:`TrialData`.

    Parameters
    ----------
    folder : str or path-like
        Folder holding ``<table>.csv`` (or ``<table>.parquet``) files and, optionally,
        ``meta.json``. A missing table file means an empty table; a missing
        ``meta.json`` means empty meta.
    treatments : collection of str or None
        Allowed ``allocation.treatment`` codes (None: any text).
    max_errors : int, default 20
        How many problems the error message lists.
    diary_scale : (float, float) or None
        The protocol's diary scale; the pain columns must lie in it (None: 0..10), as in
        :meth:`TrialData.from_tables`.

    Returns
    -------
    TrialData

    Raises
    ------
    DataError
        If the folder is missing, mixes CSV and Parquet, holds a table file with an
        unknown name, a file cannot be parsed, or the data are invalid. Messages name the
        file, the row (header = row 1, first data row = row 2), the column, the value and
        what is allowed, e.g. ``diary.csv row 17: avg_pain=11 is outside 0..10`` (``101 is
        outside 0..100`` with ``diary_scale=(0, 100)``). ``diary_scale`` that is not two finite
        numbers ``low < high``.

    Examples
    --------
    >>> import tempfile
    >>> data = TrialData.from_tables(meta={"study": "empty"})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_trial(data, f"{tmp}/trial", format="parquet")
    ...     again = read_trial(path)
    >>> again.equals(data)
    True
    """
    path = Path(folder)
    frames, meta, fmt = read_frames(path)
    labels = {name: f"{name}.{fmt}" for name in TABLE_NAMES}
    return TrialData._build(frames, meta=meta, treatments=treatments, max_errors=max_errors,
                            labels=labels, where=f" in {path}", diary_scale=diary_scale)


def write_trial(
    data: TrialData,
    folder: str | PathLike[str],
    *,
    format: Literal["csv", "parquet"] = "csv",
    overwrite: bool = False,
) -> Path:
    """Write ``data`` to ``folder``: all seven table files and ``meta.json``.

    The files are written to a temporary folder next to ``folder`` which is then renamed,
    so an error never leaves a half-written trial behind.

    Parameters
    ----------
    data : TrialData
        The trial to write.
    folder : str or path-like
        Destination; created (with its parents) if needed. It may already exist only if
        it is empty, or if ``overwrite`` is True and it holds nothing but trial files
        (``<table>.csv``, ``<table>.parquet``, ``meta.json``) and the companions
        ``protocol.toml`` and ``README.md`` (as ``ketapain init`` writes them); the trial
        files are then replaced (those of the other format removed), the companions stay.
    format : {"csv", "parquet"}, default "csv"
        File format of the tables.
    overwrite : bool, default False
        Replace an existing trial folder.

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    DataError
        If ``folder`` exists and may not be replaced, or a table cannot be written (an
        extra column that Parquet cannot store, for instance).
    OSError
        If the file system fails (no space, no permission); nothing is left behind.
    TypeError
        If ``data`` is not a TrialData.
    ValueError
        If ``format`` is not "csv" or "parquet".
    """
    if not isinstance(data, TrialData):
        raise TypeError(f"data must be a TrialData, got {type(data).__name__}")
    path = Path(folder)
    write_frames({name: data.table(name) for name in TABLE_NAMES}, data.meta, path, format=format, overwrite=overwrite)
    return path

"""Datasets with variable metadata, written as SAS XPORT v5 files (shared by SDTM and ADaM).

A package is a set of named datasets (DataFrames whose columns are SAS variables) plus one
metadata table, one row per dataset x variable. Character variables hold text, a missing
value being blank (``""``, as in SAS); numeric variables are ``float64`` (NaN = missing).
XPORT v5 stores numbers as IBM hexadecimal floats with a 56-bit mantissa, which holds every
IEEE double of the range used here exactly (tested), so values read back are identical.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from ketapain._atomic import check_destination, folder_write
from ketapain.errors import DataError

__all__ = [
    "DatasetPackage",
    "METADATA_COLUMNS",
    "METADATA_FILE",
    "Var",
    "build_dataset",
    "read_package",
    "sas_text",
    "utf8_lengths",
    "write_package",
]

METADATA_FILE = "define_variables.csv"
"""Name of the variable-metadata table written next to the ``.xpt`` files."""

METADATA_COLUMNS = ("dataset", "order", "variable", "label", "type", "length", "role", "codelist", "origin")
"""Columns of the metadata table (``type`` is ``Char`` or ``Num``; ``length`` in bytes)."""

_MAX_NAME = 8
_MAX_LABEL = 40
_MAX_CHAR = 200


@dataclass(frozen=True, slots=True)
class Var:
    """One variable of a dataset: name, label, type, role, controlled terms, origin."""

    name: str
    label: str
    type: Literal["Char", "Num"]
    role: str = ""
    codelist: str = ""
    origin: str = "Derived"
    format: str = ""


def sas_text(values: Any) -> pd.Series:
    """Text for a character variable: missing values become blank (``""``) and trailing
    blanks are dropped (SAS pads character values with blanks, so they are not kept)."""
    s = pd.Series(values, dtype="object")
    return s.where(s.notna(), "").astype(str).str.rstrip(" ").astype("str")


def build_dataset(name: str, columns: Mapping[str, Any], spec: Sequence[Var]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A dataset in ``spec`` order with SAS types, and its metadata rows.

    ``columns`` maps variable names to values (arrays, Series or scalars); every variable of
    ``spec`` must be given. Character values are converted with :func:`sas_text`, numeric
    values to ``float64``. Lengths are the longest value in UTF-8 bytes (at least 1) for
    character variables and 8 for numeric ones.
    """
    n = max((len(v) for v in columns.values() if not np.isscalar(v) and v is not None), default=0)
    data: dict[str, pd.Series] = {}
    for var in spec:
        raw = columns[var.name]
        if np.isscalar(raw) or raw is None:
            raw = [raw] * n
        values = np.asarray(raw, dtype=object) if not isinstance(raw, pd.Series) else raw.to_numpy(dtype=object)
        if var.type == "Char":
            data[var.name] = sas_text(values)
        else:
            data[var.name] = pd.Series(pd.to_numeric(pd.Series(values, dtype="object"), errors="raise"),
                                       dtype="float64")
    frame = pd.DataFrame(data, columns=[v.name for v in spec])
    meta = metadata_rows(name, frame, spec)
    return frame, meta


def utf8_lengths(values: pd.Series) -> pd.Series:
    """The length in bytes of each value's UTF-8 encoding (missing stays missing)."""
    # pandas-stubs type .str.len() for str values only; pandas takes the len() of any sequence, bytes included
    return values.str.encode("utf-8").str.len()  # type: ignore[misc]


def metadata_rows(name: str, frame: pd.DataFrame, spec: Sequence[Var]) -> pd.DataFrame:
    """The metadata table rows of one dataset (``METADATA_COLUMNS``)."""
    lengths = []
    for var in spec:
        if var.type == "Char":
            col = frame[var.name]
            longest = int(utf8_lengths(col).max()) if len(col) else 0
            lengths.append(max(1, longest))
        else:
            lengths.append(8)
    return pd.DataFrame({
        "dataset": name,
        "order": np.arange(1, len(spec) + 1, dtype="int64"),
        "variable": [v.name for v in spec],
        "label": [v.label for v in spec],
        "type": [v.type for v in spec],
        "length": np.asarray(lengths, dtype="int64"),
        "role": [v.role for v in spec],
        "codelist": [v.codelist for v in spec],
        "origin": [v.origin for v in spec],
    }, columns=list(METADATA_COLUMNS))


@dataclass(frozen=True, slots=True)
class DatasetPackage:
    """Named datasets with their variable metadata (base of the SDTM and ADaM packages).

    Attributes
    ----------
    study_id : str
        STUDYID of every record.
    datasets : Mapping[str, pandas.DataFrame]
        Dataset name (upper case, at most 8 characters) -> dataset, in writing order.
    labels : Mapping[str, str]
        Dataset name -> dataset label (at most 40 characters).
    variables : pandas.DataFrame
        One row per dataset x variable, columns ``METADATA_COLUMNS``.
    """

    study_id: str
    datasets: Mapping[str, pd.DataFrame]
    labels: Mapping[str, str]
    variables: pd.DataFrame

    @property
    def names(self) -> tuple[str, ...]:
        """Dataset names in writing order."""
        return tuple(self.datasets)

    def __getitem__(self, name: str) -> pd.DataFrame:
        """A copy of dataset ``name`` (e.g. ``"DM"``)."""
        try:
            return self.datasets[name.upper()].copy()
        except KeyError:
            raise KeyError(f"no dataset {name!r}; datasets: {', '.join(self.datasets)}") from None

    def to_frame(self) -> pd.DataFrame:
        """The variable metadata (``METADATA_COLUMNS``), one row per dataset x variable."""
        return self.variables.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description: study, datasets (label, rows) and variable metadata."""
        return {
            "study_id": self.study_id,
            "datasets": {n: {"label": self.labels.get(n, ""), "n_rows": len(d)} for n, d in self.datasets.items()},
            "variables": [{k: (int(v) if isinstance(v, (np.integer,)) else v) for k, v in r.items()}
                          for r in self.variables.to_dict(orient="records")],
        }

    def summary(self) -> str:
        """One line per dataset: name, label, rows and variables."""
        lines = [f"{type(self).__name__} for study {self.study_id}"]
        for n, d in self.datasets.items():
            lines.append(f"  {n:<8} {self.labels.get(n, ''):<40} {len(d):>7} rows {d.shape[1]:>3} variables")
        return "\n".join(lines)

    def equals(self, other: object) -> bool:
        """Same class, study, labels, metadata and datasets (values and dtypes)."""
        if type(other) is not type(self):
            return False
        assert isinstance(other, DatasetPackage)
        return (self.study_id == other.study_id and dict(self.labels) == dict(other.labels)
                and tuple(self.datasets) == tuple(other.datasets)
                and self.variables.reset_index(drop=True).equals(other.variables.reset_index(drop=True))
                and all(self.datasets[n].equals(other.datasets[n]) for n in self.datasets))


def make_package(cls: type, study_id: str, parts: Iterable[tuple[str, str, pd.DataFrame, pd.DataFrame]]) -> Any:
    """Build ``cls`` from ``(name, label, dataset, metadata)`` parts."""
    parts = list(parts)
    datasets = MappingProxyType({n: d.reset_index(drop=True) for n, _, d, _ in parts})
    labels = MappingProxyType({n: lab for n, lab, _, _ in parts})
    variables = pd.concat([m for _, _, _, m in parts], ignore_index=True) if parts else pd.DataFrame(
        columns=list(METADATA_COLUMNS))
    return cls(study_id=study_id, datasets=datasets, labels=labels, variables=variables)


def _check(package: DatasetPackage) -> None:
    """Refuse what XPORT v5 cannot hold, naming the dataset and variable."""
    problems = []
    for name, frame in package.datasets.items():
        if not (name.isascii() and name.isalnum() and name[:1].isalpha() and len(name) <= _MAX_NAME):
            problems.append(f"dataset {name!r}: a name must be 1-8 letters or digits, starting with a letter")
        label = package.labels.get(name, "")
        if len(label) > _MAX_LABEL:
            problems.append(f"dataset {name}: label {label!r} is longer than {_MAX_LABEL} characters")
        meta = package.variables[package.variables["dataset"] == name]
        if list(meta["variable"]) != list(frame.columns):
            problems.append(f"dataset {name}: metadata variables {list(meta['variable'])} do not match the "
                            f"columns {list(frame.columns)}")
            continue
        for row in meta.itertuples(index=False):
            var = str(row.variable)
            ok = var.isascii() and var[:1].isalpha() and var.replace("_", "").isalnum() and len(var) <= _MAX_NAME
            if not ok:
                problems.append(f"{name}.{var}: a variable name must be 1-8 letters, digits or _, "
                                "starting with a letter")
            if len(str(row.label)) > _MAX_LABEL:
                problems.append(f"{name}.{var}: label {row.label!r} is longer than {_MAX_LABEL} characters")
            if row.type == "Char":
                longest = int(utf8_lengths(frame[var].astype(str)).max()) if len(frame) else 0
                if longest > _MAX_CHAR:
                    at = int(np.argmax(utf8_lengths(frame[var].astype(str)).to_numpy()))
                    problems.append(f"{name}.{var} record {at + 1}: a value of {longest} bytes is longer than "
                                    f"the {_MAX_CHAR} bytes allowed")
            elif not pd.api.types.is_float_dtype(frame[var]):
                problems.append(f"{name}.{var}: a numeric variable must be float64, got {frame[var].dtype}")
    if problems:
        raise DataError("cannot write the package as SAS XPORT v5:\n  " + "\n  ".join(problems[:20]))


def write_package(package: DatasetPackage, folder: str | os.PathLike[str], *, overwrite: bool = False,
                  extra: Mapping[str, bytes] | None = None) -> Path:
    """Write every dataset as ``<name>.xpt`` (XPORT v5), the metadata CSV and the ``extra``
    files (name -> content: ``define.xml``), atomically.

    The files go to a temporary folder next to ``folder`` which is then renamed into place;
    on any failure nothing is left behind and an existing ``folder`` is untouched. An
    existing non-empty ``folder`` is replaced only with ``overwrite=True`` and only if it
    holds nothing but ``.xpt`` files and the metadata CSV.
    """
    import pyreadstat

    if not isinstance(package, DatasetPackage):
        raise TypeError(f"package must be an SdtmPackage or AdamPackage, got {type(package).__name__}")
    _check(package)
    path = Path(folder)
    _check_destination(path, overwrite=overwrite)
    with folder_write(path) as tmp:
        for name, frame in package.datasets.items():
            meta = package.variables[package.variables["dataset"] == name]
            formats = {r.variable: r.format for r in _formats(meta, package)}
            pyreadstat.write_xport(
                frame, tmp / f"{name.lower()}.xpt", file_label=package.labels.get(name, ""),
                column_labels=dict(zip(meta["variable"], meta["label"], strict=True)), table_name=name,
                file_format_version=5, variable_format=formats or None,
            )
        out = package.variables.copy()
        out.to_csv(tmp / METADATA_FILE, index=False, lineterminator="\r\n")
        labels = pd.DataFrame({"dataset": list(package.labels), "label": list(package.labels.values()),
                               "study_id": package.study_id})
        labels.to_csv(tmp / _DATASETS_FILE, index=False, lineterminator="\r\n")
        for name, payload in (extra or {}).items():
            if name not in _EXTRA_FILES:
                raise ValueError(f"extra file {name!r} is not one of {', '.join(_EXTRA_FILES)}")
            (tmp / name).write_bytes(payload)
    return path


_DATASETS_FILE = "define_datasets.csv"
_EXTRA_FILES = ("define.xml",)


@dataclass(frozen=True, slots=True)
class _Fmt:
    variable: str
    format: str


def _formats(meta: pd.DataFrame, package: DatasetPackage) -> list[_Fmt]:
    """SAS display formats: numeric dates (``*DT``, ``*SDT``, ``*EDT`` of ADaM) get DATE9."""
    return [_Fmt(str(v), "DATE9") for v, t, c in zip(meta["variable"], meta["type"], meta["codelist"], strict=True)
            if t == "Num" and c == "SAS date"]


def read_package(cls: type, folder: str | os.PathLike[str]) -> Any:
    """Read a folder written by :func:`write_package` back into ``cls``."""
    import pyreadstat

    path = Path(folder)
    if not path.is_dir():
        raise DataError(f"{path}: no such folder")
    for needed in (METADATA_FILE, _DATASETS_FILE):
        if not (path / needed).is_file():
            raise DataError(f"{path}: {needed} is missing (it lists the datasets and their variables)")
    variables = pd.read_csv(path / METADATA_FILE, dtype={c: "str" for c in METADATA_COLUMNS if c not in
                                                          ("order", "length")}, keep_default_na=False)
    if list(variables.columns) != list(METADATA_COLUMNS):
        raise DataError(f"{path / METADATA_FILE}: expected the columns {', '.join(METADATA_COLUMNS)}")
    variables = variables.astype({"order": "int64", "length": "int64"})
    info = pd.read_csv(path / _DATASETS_FILE, dtype="str", keep_default_na=False)
    parts = []
    for name, label in zip(info["dataset"], info["label"], strict=True):
        file = path / f"{name.lower()}.xpt"
        if not file.is_file():
            raise DataError(f"{path}: {file.name} is missing (listed in {_DATASETS_FILE})")
        try:
            frame, _ = pyreadstat.read_xport(file, disable_datetime_conversion=True)
        except Exception as exc:  # pyreadstat raises its own types for a damaged file
            raise DataError(f"{file}: cannot be read as SAS XPORT: {exc}") from exc
        meta = variables[variables["dataset"] == name].reset_index(drop=True)
        if list(frame.columns) != list(meta["variable"]):
            raise DataError(f"{file.name}: variables {list(frame.columns)} do not match {METADATA_FILE} "
                            f"({list(meta['variable'])})")
        for var, typ in zip(meta["variable"], meta["type"], strict=True):
            frame[var] = sas_text(frame[var]) if typ == "Char" else frame[var].astype("float64")
        parts.append((name, label, frame, meta))
    study = info["study_id"].iloc[0] if len(info) else ""
    return make_package(cls, study, parts)


def _check_destination(path: Path, *, overwrite: bool) -> None:
    def ours(name: str) -> bool:
        return name in (METADATA_FILE, _DATASETS_FILE, *_EXTRA_FILES) or name.endswith(".xpt")

    check_destination(path, overwrite=overwrite, ours=ours, what="package files")

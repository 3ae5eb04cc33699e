"""SF-36 norm sets and factor score coefficients, read from the package's CSV files.

The constants are data, not code, so that another country's norms can be added without
touching the scorer:

* ``data/sf36_norms.csv`` — one row per norm set x scale: ``norm_set, scale, mean, sd,
  coefficient_set, source``. ``coefficient_set`` names the factor score coefficients the norm
  set is combined with.
* ``data/sf36_coefficients.csv`` — one row per coefficient set x scale: ``coefficient_set,
  scale, pcs, mcs, source``.

Every norm set becomes a choice of the ``sf36`` option ``norms``. To add one (e.g. French
general-population norms, Leplège 1998), append its 8 rows to ``sf36_norms.csv`` and, if it
has its own coefficients, their 8 rows to ``sf36_coefficients.csv``.

Examples
--------
>>> norms = norm_set("1998")
>>> norms.coefficient_set, float(norms.mean[0]), float(norms.pcs[0])
('us1990', 83.29094, 0.42402)
>>> sorted(norm_set_names())
['1990', '1998', '1998-acute']
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["NormSet", "SCALES", "norm_set", "norm_set_names"]

SCALES: tuple[str, ...] = ("PF", "RP", "BP", "GH", "VT", "SF", "RE", "MH")
"""The eight SF-36 scales, in the order of every array below."""

_NORMS_FILE = "sf36_norms.csv"
_COEF_FILE = "sf36_coefficients.csv"


@dataclass(frozen=True, slots=True)
class NormSet:
    """One norm set with the factor score coefficients it is combined with.

    Attributes
    ----------
    name : the ``norms`` option value (``"1990"``, ``"1998"``, ...).
    coefficient_set : name of the factor score coefficients used with these norms.
    mean, sd : general-population mean and SD of each 0-100 scale, in :data:`SCALES` order.
    pcs, mcs : factor score coefficients of each scale's z-score, in :data:`SCALES` order.
    source : where the norms come from.
    """

    name: str
    coefficient_set: str
    mean: np.ndarray
    sd: np.ndarray
    pcs: np.ndarray
    mcs: np.ndarray
    source: str


def _read(filename: str) -> list[dict[str, str]]:
    text = resources.files("ketapain.instruments").joinpath("data", filename).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _by_scale(
    rows: list[dict[str, str]], key: str, name: str, filename: str, columns: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """``{column: array over SCALES}`` for the rows of one set, checking every scale appears once."""
    mine = [r for r in rows if r[key] == name]
    scales = [r["scale"] for r in mine]
    if sorted(scales) != sorted(SCALES):
        raise ValueError(f"{filename}: {key}={name!r} must have one row per scale {', '.join(SCALES)}; has {scales}")
    row = {r["scale"]: r for r in mine}
    out = {}
    for col in columns:
        vals = np.array([float(row[s][col]) for s in SCALES])
        if not np.isfinite(vals).all():
            raise ValueError(f"{filename}: {key}={name!r} column {col} has a non-finite value")
        out[col] = vals
    return out


@functools.cache
def _load() -> dict[str, NormSet]:
    norms = _read(_NORMS_FILE)
    coefs = _read(_COEF_FILE)
    out: dict[str, NormSet] = {}
    for name in dict.fromkeys(r["norm_set"] for r in norms):  # file order, unique
        stats = _by_scale(norms, "norm_set", name, _NORMS_FILE, ("mean", "sd"))
        if (stats["sd"] <= 0).any():
            raise ValueError(f"{_NORMS_FILE}: norm_set={name!r} has an SD <= 0")
        linked = {r["coefficient_set"] for r in norms if r["norm_set"] == name}
        if len(linked) != 1:
            raise ValueError(f"{_NORMS_FILE}: norm_set={name!r} names several coefficient sets {sorted(linked)}")
        coef_name = linked.pop()
        if not any(r["coefficient_set"] == coef_name for r in coefs):
            raise ValueError(
                f"{_NORMS_FILE}: norm_set={name!r} uses coefficient_set={coef_name!r}, not in {_COEF_FILE}"
            )
        weights = _by_scale(coefs, "coefficient_set", coef_name, _COEF_FILE, ("pcs", "mcs"))
        source = next(r["source"] for r in norms if r["norm_set"] == name)
        out[name] = NormSet(name, coef_name, stats["mean"], stats["sd"], weights["pcs"], weights["mcs"], source)
        for arr in (stats["mean"], stats["sd"], weights["pcs"], weights["mcs"]):
            arr.setflags(write=False)
    return out


def norm_set_names() -> tuple[str, ...]:
    """Names of the available norm sets, in file order (the choices of option ``norms``)."""
    return tuple(_load())


def norm_set(name: str) -> NormSet:
    """The norm set called ``name`` with its coefficients.

    Raises
    ------
    KeyError
        No such norm set (the ``sf36`` option check normally catches this first).
    """
    sets = _load()
    if name not in sets:
        raise KeyError(f"no SF-36 norm set {name!r}; available: {', '.join(sets)}")
    return sets[name]


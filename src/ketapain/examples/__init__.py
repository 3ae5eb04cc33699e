"""The small synthetic example trial shipped with ketapain (see ``tools/make_examples.py``), and
the example input files of ``ketapain examples``.

20 patients, treatments P/K/KM in a 3-period Williams crossover, 35-day daily diaries with
~3% missing days. Synthetic, seeded data: not the KETAPAIN study's data. The other example
files are derived from it (AUC tables, responders) or written by hand (answers); each is
described in :data:`EXAMPLE_FILES`.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pandas as pd

from ketapain._atomic import file_write
from ketapain.errors import DataError

__all__ = ["EXAMPLE_FILES", "load_example", "write_examples"]

EXAMPLE_FILES: dict[str, str] = {
    "diary.csv": "a pain diary: one row per patient x period x day (patient_id, period, day 1..35, "
                 "avg_pain, max_pain, night_pain on 0-10, empty = missing)",
    "allocation.csv": "the allocation: one row per patient x period (patient_id, period, sequence, treatment, "
                      "pre_infusion_pain)",
    "pain_auc.csv": "a long crossover table: one row per patient x period (subject, period, sequence, treatment, "
                    "y = AUC of average pain to day 35, score-days)",
    "auc_by_window.csv": "the same with a window column: one AUC per window 7, 15, 21, 28, 35 days",
    "responders.csv": "a 0/1 outcome per patient x period (y = 1: improved in the first week)",
    "hads_answers.json": "one patient's HADS answers (items 1-14, each 0..3)",
    "screening_answers.json": "one person's screening answers for the reference protocol (with the DN4 items)",
    "my_protocol.toml": "a protocol file to edit for your own study (a copy of the shipped AB/BA example)",
}
"""File name -> what it holds, for every file :func:`write_examples` writes."""


def load_example() -> dict[str, pd.DataFrame]:
    """Return ``{"allocation": ..., "diary": ...}`` as tidy frames (docs/data-model.md columns).

    Examples
    --------
    >>> tables = load_example()
    >>> tables["diary"].shape, sorted(tables["allocation"]["treatment"].unique())
    ((2100, 6), ['K', 'KM', 'P'])
    """
    root = resources.files(__package__)
    out = {}
    for name in ("allocation", "diary"):
        with root.joinpath(f"{name}.csv").open("r", encoding="utf-8") as fh:
            out[name] = pd.read_csv(fh, dtype={"patient_id": str, "sequence": str, "treatment": str})
    return out


def _source(name: str) -> bytes:
    if name == "my_protocol.toml":
        return resources.files("ketapain.protocol").joinpath("files", "ab_ba_example.toml").read_bytes()
    return resources.files(__package__).joinpath(name).read_bytes()


def write_examples(folder: str | os.PathLike[str], *, overwrite: bool = False) -> list[Path]:
    """Write every file of :data:`EXAMPLE_FILES` into ``folder`` (created if needed).

    Nothing is written when one of them exists already, unless ``overwrite``; each file is
    written to a temporary name and renamed into place. Returns the paths written.

    Raises
    ------
    DataError
        A file exists (without ``overwrite``), or the folder cannot be written.
    """
    root = Path(folder)
    targets = [root / name for name in EXAMPLE_FILES]
    existing = [p.name for p in targets if p.exists()]
    if existing and not overwrite:
        raise DataError(template="{folder} already holds {names}; pass {@overwrite=True} to replace them",
                        params={"folder": root, "names": ", ".join(existing)})
    try:
        root.mkdir(parents=True, exist_ok=True)
        for path in targets:
            with file_write(path) as tmp:
                tmp.write_bytes(_source(path.name))
    except OSError as exc:
        raise DataError(f"{exc.filename or root}: cannot write the example files ({exc.strerror or exc})") from None
    return targets

"""The MedDRA coding hook of the SDTM AE domain: a user-supplied term -> MedDRA mapping.

ketapain ships no MedDRA dictionary (MedDRA needs a licence from the MSSO). AEDECOD is left
blank unless the caller gives a mapping from reported terms to MedDRA preferred terms (and,
optionally, the rest of the hierarchy); :func:`load_meddra_mapping` reads and checks one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ketapain.data import FIRST_DATA_ROW
from ketapain.errors import DataError

__all__ = ["MEDDRA_COLUMNS", "MEDDRA_NUMERIC", "MeddraSource", "load_meddra_mapping"]

MEDDRA_COLUMNS = ("AELLT", "AELLTCD", "AEDECOD", "AEPTCD", "AEHLT", "AEHLTCD", "AEHLGT", "AEHLGTCD",
                  "AEBODSYS", "AEBDSYCD", "AESOC", "AESOCCD")
"""The AE variables a mapping may fill (SDTMIG 3.4 AE order); ``AEDECOD`` is required."""

MEDDRA_NUMERIC = frozenset({"AELLTCD", "AEPTCD", "AEHLTCD", "AEHLGTCD", "AEBDSYCD", "AESOCCD"})
"""The MedDRA codes, numeric variables in SDTM."""

MeddraSource = pd.DataFrame | Mapping[str, str] | str | os.PathLike[str]
"""A mapping: a table (``term`` + MedDRA columns), ``{term: preferred term}``, or a CSV file."""


def load_meddra_mapping(source: MeddraSource) -> pd.DataFrame:
    """Read and check a term -> MedDRA mapping.

    Parameters
    ----------
    source : DataFrame, mapping or path
        A CSV file or table with a ``term`` column (the reported term, as in
        ``adverse_events.term``, or its AETERM text) and ``AEDECOD`` (the MedDRA preferred
        term), optionally any of :data:`MEDDRA_COLUMNS`; or a dict ``{term: AEDECOD}``.

    Returns
    -------
    pandas.DataFrame
        ``term`` and every column of :data:`MEDDRA_COLUMNS` (blank / NaN when not given),
        one row per term.

    Raises
    ------
    DataError
        No ``term`` or ``AEDECOD`` column, an unknown column, a blank term or AEDECOD, a term
        given twice, a non-numeric MedDRA code (named by row, column and value).

    >>> load_meddra_mapping({"nausea": "Nausea"})[["term", "AEDECOD"]].values.tolist()
    [['nausea', 'Nausea']]
    """
    where = "meddra mapping"
    if isinstance(source, pd.DataFrame):
        table = source.copy()
    elif isinstance(source, Mapping):
        table = pd.DataFrame({"term": list(source), "AEDECOD": list(source.values())})
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise DataError(f"{path}: no such MedDRA mapping file")
        table = pd.read_csv(path, dtype="str", keep_default_na=False)
    unknown = [c for c in table.columns if c != "term" and c not in MEDDRA_COLUMNS]
    if "term" not in table.columns or "AEDECOD" not in table.columns or unknown:
        raise DataError(f"{where}: needs the columns term and AEDECOD, optionally "
                        f"{', '.join(c for c in MEDDRA_COLUMNS if c != 'AEDECOD')}"
                        + (f"; unknown column(s): {', '.join(map(str, unknown))}" if unknown else ""))
    text = table.astype("object").where(table.notna(), "").astype(str).apply(lambda c: c.str.strip())
    for col in ("term", "AEDECOD"):
        blank = text[col] == ""
        if blank.any():
            row = int(blank.to_numpy().nonzero()[0][0]) + FIRST_DATA_ROW
            raise DataError(f"{where} row {row}: {col} is blank; every row needs a term and its MedDRA "
                            "preferred term (AEDECOD)", source=where, row=row, column=col)
    dup = text["term"].duplicated()
    if dup.any():
        row = int(dup.to_numpy().nonzero()[0][0]) + FIRST_DATA_ROW
        raise DataError(f"{where} row {row}: term={text['term'].iloc[row - FIRST_DATA_ROW]!r} is given twice; "
                        "a term maps to one preferred term", source=where, row=row, column="term")
    out = pd.DataFrame({"term": text["term"]})
    for col in MEDDRA_COLUMNS:
        values = text[col] if col in text.columns else pd.Series("", index=text.index)
        if col in MEDDRA_NUMERIC:
            number = pd.to_numeric(values.where(values != ""), errors="coerce")
            bad = (values != "") & number.isna()
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0]) + FIRST_DATA_ROW
                raise DataError(f"{where} row {row}: {col}={values.iloc[row - FIRST_DATA_ROW]!r} is not a MedDRA "
                                "code (a whole number)", source=where, row=row, column=col)
            out[col] = number.astype("float64")
        else:
            out[col] = values
    return out.reset_index(drop=True)

"""``Length`` and ``SignificantDigits`` of ODM 1.3.2 ``ItemDef`` elements, from the values written.

ODM 1.3.2, section 3.1.4.1.1.3.1 (ItemDef): "The Length attribute is required when DataType is
text or string, optional when DataType is integer or float, and should not be given for the
other datatypes. The SignificantDigits attribute is optional when DataType is float [...].
When DataType is float both Length and SignificantDigits must be given or both be absent."
Their meaning: for integer, the receiver must store every whole number of magnitude below
10^Length; for float, every multiple of 10^-S below 10^(Length-S) in magnitude; for text,
every string of at most Length characters.

The sizes are computed from the text of every value the document holds for the item (as
``_odm_values.to_text`` writes it) plus the texts that bound it (code-list values, range
bounds), so that each of them fits; an item with no such text gets Length 1 (text) or no
size (integer, float).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketapain.errors import DataError

__all__: list[str] = []

_NUMBER = r"^[+-]?(?P<int>\d+)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?$"


def item_sizes(texts: pd.Series, keys: pd.Series, datatype: str) -> pd.DataFrame:
    """Per item key: ``length`` and ``significant_digits`` (``<NA>`` where not given).

    Parameters
    ----------
    texts
        Non-missing value texts (decimal numbers for integer and float items).
    keys
        The item each text belongs to, aligned with ``texts``.
    datatype
        The ODM DataType: ``text``, ``integer`` or ``float`` (others get no size).

    Returns
    -------
    pandas.DataFrame
        Indexed by key; ``length`` (characters for text; the digits of the largest
        magnitude for integer; integer digits plus ``significant_digits`` for float, at least
        1) and ``significant_digits`` (float only: the most decimals any value needs, counting
        an exponent, so that every value is a multiple of 10^-S).

    Raises
    ------
    DataError
        An integer or float text that is not a decimal number (``inf``).
    """
    frame = pd.DataFrame({"key": keys.to_numpy(dtype=object), "text": texts.astype(str).to_numpy(dtype=object)})
    out = pd.DataFrame(index=pd.Index(pd.unique(frame["key"]), name="key"))
    out["length"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out["significant_digits"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    if frame.empty or datatype not in ("text", "integer", "float"):
        return out
    if datatype == "text":
        out["length"] = frame["text"].str.len().groupby(frame["key"]).max().clip(lower=1).astype("Int64")
        return out
    parts = frame["text"].str.extract(_NUMBER)
    bad = parts["int"].isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"ODM export: value {frame['text'].iloc[i]!r} of item {frame['key'].iloc[i]!r} is not a decimal number "
                        f"(DataType {datatype})")
    exp = parts["exp"].fillna("0").astype("int64")
    int_digits = parts["int"].str.lstrip("0").str.len() + exp
    if datatype == "integer":
        out["length"] = int_digits.clip(lower=1).groupby(frame["key"]).max().astype("Int64")
        return out
    decimals = (parts["frac"].fillna("").str.rstrip("0").str.len() - exp).clip(lower=0)
    whole = np.where(parts["int"].str.lstrip("0").str.len() == 0, 0, int_digits.clip(lower=0))
    sig = decimals.groupby(frame["key"]).max()
    whole_max = pd.Series(whole, index=frame.index).groupby(frame["key"]).max()
    out["significant_digits"] = sig.astype("Int64")
    out["length"] = (whole_max + sig).clip(lower=1).astype("Int64")
    return out

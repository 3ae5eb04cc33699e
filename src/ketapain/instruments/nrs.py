"""Pain NRS: the daily 0-10 numeric rating scale (0 = no pain ... 10 = worst imaginable).

One item, ``"1"``, an integer 0-10; the score ``nrs`` is the rating itself. A blank rating
raises :class:`~ketapain.errors.InstrumentError` by default (``incomplete="error"``) and gives
None with ``incomplete="missing"``. Diary-level quantities (means over days, AUC, percent
reduction) live in :mod:`ketapain.stats`.

Examples
--------
>>> from ketapain.instruments import score
>>> score("nrs", {"1": 6})
{'nrs': 6.0}
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ketapain.instruments._spec import Instrument, Item, Score

__all__ = ["INSTRUMENT"]


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"nrs": items["1"]}, index=items.index)


INSTRUMENT = Instrument(
    name="nrs",
    label="NRS",
    title="Pain numeric rating scale, 0-10",
    reference="Public-domain 11-point numeric rating scale (e.g. Farrar JT et al. Pain 2001;94:149-58).",
    licence="Public domain.",
    items=(Item("1", "pain intensity, 0 (no pain) to 10 (worst imaginable)", minimum=0, maximum=10),),
    scores=(Score("nrs", "the rating", 0, 10, items=("1",), rule="needs item 1", label="pain rating"),),
    scorer=_score,
)

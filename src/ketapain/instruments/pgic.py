"""PGIC: Patient Global Impression of Change, bipolar 7-point form (Guy 1976; Farrar 2001).

One item, ``"1"``: 1 very much improved ... 4 no change ... 7 very much worse (the bipolar
wording used in pain trials). Scores: ``pgic`` (the category), ``responder`` (1-2: much or very
much improved; Farrar et al., Pain 2001;94:149-58, ~30% pain reduction) and
``any_improvement`` (1-3). Do not mix with Hurst & Bolton's unipolar PGIC (1 = no change or
worse ... 7 = a great deal better): its direction is reversed.

A blank answer raises :class:`~ketapain.errors.InstrumentError` by default
(``incomplete="error"``) and gives None for all three scores with ``incomplete="missing"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ketapain.instruments._spec import Instrument, Item, Score

__all__ = ["INSTRUMENT"]


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    value = items["1"]
    known = value.notna()
    return pd.DataFrame(
        {
            "pgic": value,
            "responder": (value <= 2).astype("boolean").where(known),
            "any_improvement": (value <= 3).astype("boolean").where(known),
        },
        index=items.index,
    )


INSTRUMENT = Instrument(
    name="pgic",
    label="PGIC",
    title="Patient Global Impression of Change (bipolar, 7 points)",
    reference="Guy W. ECDEU Assessment Manual, 1976 (CGI-I); Farrar JT et al. Pain 2001;94:149-58.",
    licence="Derived from a US government publication (CGI-I); generally free to use.",
    items=(Item("1", "global impression of change since the start of treatment", minimum=1, maximum=7),),
    scores=(
        Score("pgic", "the category, 1 (very much improved) .. 7 (very much worse)", 1, 7,
              items=("1",), rule="needs item 1", label="rating (1-7)"),
        Score("responder", "PGIC 1 or 2 (much or very much improved)", kind="bool", items=("1",), rule="needs item 1",
              label="responder"),
        Score("any_improvement", "PGIC 1, 2 or 3", kind="bool", items=("1",), rule="needs item 1",
              label="any improvement"),
    ),
    scorer=_score,
)

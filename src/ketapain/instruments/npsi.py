"""NPSI: Neuropathic Pain Symptom Inventory (Bouhassira et al., Pain 2004;108:248-57).

Twelve items. Ten are intensity ratings 0-10 (``"1"`` burning; ``"2"`` squeezing and ``"3"``
pressure, deep spontaneous pain; ``"5"`` electric shocks and ``"6"`` stabbing, paroxysms;
``"8"`` brushing, ``"9"`` pressure and ``"10"`` cold, evoked pain; ``"11"`` pins and needles and
``"12"`` tingling). ``"4"`` (duration of spontaneous pain) and ``"7"`` (number of paroxysms) are
descriptive categories 1-5, recorded but not scored.

Scores (unrounded):

* ``total`` = Q1+Q2+Q3+Q5+Q6+Q8+Q9+Q10+Q11+Q12, 0-100;
* ``burning_spontaneous`` = Q1; ``pressing_spontaneous`` = (Q2+Q3)/2;
  ``paroxysmal`` = (Q5+Q6)/2; ``evoked`` = (Q8+Q9+Q10)/3;
  ``paresthesia_dysesthesia`` = (Q11+Q12)/2; each 0-10.

Missing items: the paper has no rule; each score needs all of its own items (a convention).
An unanswered item raises :class:`~ketapain.errors.InstrumentError` for the scores it belongs to
by default (``incomplete="error"``); with ``incomplete="missing"`` those scores are None.

Examples
--------
>>> from ketapain.instruments import score
>>> out = score("npsi", {"1": 6, "2": 4, "3": 5, "5": 8, "6": 7, "8": 3, "9": 2, "10": 0, "11": 5, "12": 6})
>>> out["total"], out["pressing_spontaneous"], out["evoked"]
(46.0, 4.5, 1.6666666666666667)
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ketapain.instruments._spec import Instrument, Item, Score

__all__ = ["INSTRUMENT"]

_INTENSITY = ("1", "2", "3", "5", "6", "8", "9", "10", "11", "12")
_SUBSCORES = {
    "burning_spontaneous": ("1",),
    "pressing_spontaneous": ("2", "3"),
    "paroxysmal": ("5", "6"),
    "evoked": ("8", "9", "10"),
    "paresthesia_dysesthesia": ("11", "12"),
}


def _all_of(keys: tuple[str, ...]) -> str:
    if len(keys) == 1:
        return f"needs item {keys[0]} (no published missing-item rule)"
    if len(keys) == 2:
        return f"needs both items {keys[0]} and {keys[1]} (no published missing-item rule)"
    return f"needs all {len(keys)} items {', '.join(keys)} (no published missing-item rule)"


def _complete_sum(items: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    block = items[list(keys)]
    return block.sum(axis=1).where(block.notna().all(axis=1))


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    out = {"total": _complete_sum(items, _INTENSITY)}
    for name, keys in _SUBSCORES.items():
        out[name] = _complete_sum(items, keys) / len(keys)
    return pd.DataFrame(out, index=items.index)


def _intensity(key: str, label: str) -> Item:
    return Item(key, label, minimum=0, maximum=10)


INSTRUMENT = Instrument(
    name="npsi",
    label="NPSI",
    title="Neuropathic Pain Symptom Inventory (total intensity and five sub-scores)",
    reference="Bouhassira D, Attal N, Fermanian J, et al. Pain 2004;108:248-57.",
    licence="Copyright Bouhassira et al.; licensed through Mapi Research Trust. No item wording is stored here.",
    items=(
        _intensity("1", "burning spontaneous pain"),
        _intensity("2", "squeezing (deep spontaneous pain)"),
        _intensity("3", "pressure (deep spontaneous pain)"),
        Item("4", "duration of spontaneous pain, category 1-5 (not scored)", minimum=1, maximum=5, scored=False),
        _intensity("5", "electric shocks (paroxysmal pain)"),
        _intensity("6", "stabbing (paroxysmal pain)"),
        Item("7", "number of pain attacks, category 1-5 (not scored)", minimum=1, maximum=5, scored=False),
        _intensity("8", "pain provoked by brushing"),
        _intensity("9", "pain provoked by pressure"),
        _intensity("10", "pain provoked by contact with cold"),
        _intensity("11", "pins and needles"),
        _intensity("12", "tingling"),
    ),
    scores=(
        Score("total", "sum of the 10 intensity items (all needed)", 0, 100, items=_INTENSITY,
              rule="needs all 10 intensity items 1, 2, 3, 5, 6, 8-12 (no published missing-item rule)", label="total"),
        *(
            Score(name, doc, 0, 10, items=_SUBSCORES[name], rule=_all_of(_SUBSCORES[name]), label=label)
            for name, doc, label in (
                ("burning_spontaneous", "Q1", "burning spontaneous pain"),
                ("pressing_spontaneous", "(Q2+Q3)/2", "pressing spontaneous pain"),
                ("paroxysmal", "(Q5+Q6)/2", "paroxysmal pain"),
                ("evoked", "(Q8+Q9+Q10)/3", "evoked pain"),
                ("paresthesia_dysesthesia", "(Q11+Q12)/2", "paraesthesia/dysaesthesia"),
            )
        ),
    ),
    scorer=_score,
    notes="Items 4 and 7 are descriptive and not scored. Sub-scores are unrounded, on the 0-10 scale.",
)

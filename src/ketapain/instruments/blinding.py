"""Blinding questionnaire: the patient's end-of-study guess of the treatment of each period.

Items ``"period_1"``, ``"period_2"``, ``"period_3"``: what the patient believes they received
in that period, coded 0 = don't know, 1 = placebo, 2 = active treatment. Asked once, at the
last visit (KETAPAIN: end of period 3; docs/reference-study.md, "Blinding": 50-75% of the patients could
not guess their order). The form has three items, the number of periods of the reference
study; the items are optional, so a study with fewer periods leaves the extra ones blank. A
study with more periods needs more items (a new version of this module).

Scores, over the answered items (all missing for a blank form):

* ``n_dont_know``, ``n_placebo``, ``n_active``: how many periods were answered 0, 1, 2;
* ``n_answered``: how many periods were answered;
* ``guessed_all``: true when no answered period is "don't know" (the patient states a full
  order).

The blinding index (Bang et al. 2004) compares guesses with the allocation; it belongs to the
analysis, which knows the allocation. The scorer never sees it.

Examples
--------
>>> from ketapain.instruments import score
>>> score("blinding", {"period_1": 0, "period_2": 2, "period_3": 1})
{'n_dont_know': 1, 'n_placebo': 1, 'n_active': 1, 'n_answered': 3, 'guessed_all': False}
>>> score("blinding", {"period_1": 1, "period_2": 2})["guessed_all"]
True
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ketapain.instruments._spec import Instrument, Item, Score

__all__ = ["INSTRUMENT", "ITEMS"]

ITEMS = ("period_1", "period_2", "period_3")
"""Item keys, one per period."""

_RULE = "needs at least one period answered (a blank form is missing)"


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    block = items[list(ITEMS)]
    answered = block.notna().sum(axis=1)
    any_answer = answered > 0

    def count(code: int) -> pd.Series:
        return (block == code).sum(axis=1).astype("Int64").where(any_answer)

    dont_know = count(0)
    return pd.DataFrame(
        {
            "n_dont_know": dont_know,
            "n_placebo": count(1),
            "n_active": count(2),
            "n_answered": answered.astype("Int64").where(any_answer),
            "guessed_all": (dont_know == 0).astype("boolean").where(any_answer),
        },
        index=items.index,
    )


def _count(name: str, doc: str, label: str) -> Score:
    return Score(name, doc, 0, len(ITEMS), kind="count", items=ITEMS, rule=_RULE, label=label)


INSTRUMENT = Instrument(
    name="blinding",
    label="Blinding",
    title="Blinding questionnaire: end-of-study guess of the treatment of each period",
    reference="Bang H, Ni L, Davis CE. Assessment of blinding in clinical trials. Control Clin Trials "
    "2004;25:143-56 (the guess coding); KETAPAIN protocol, Trials 2017;18:517.",
    licence="Written for ketapain; free to use.",
    items=tuple(
        Item(key, f"guess for period {key.removeprefix('period_')}: 0 don't know, 1 placebo, 2 active",
             values=(0.0, 1.0, 2.0), required=False)
        for key in ITEMS
    ),
    scores=(
        _count("n_dont_know", "number of periods answered 0 (don't know)", "periods not guessed"),
        _count("n_placebo", "number of periods answered 1 (placebo)", "periods guessed placebo"),
        _count("n_active", "number of periods answered 2 (active)", "periods guessed active"),
        _count("n_answered", "number of periods answered", "periods answered"),
        Score("guessed_all", "no answered period is 'don't know'", kind="bool", items=ITEMS, rule=_RULE,
              label="every answered period guessed"),
    ),
    scorer=_score,
    notes="One item per period of the reference study (3); the items are optional.",
)

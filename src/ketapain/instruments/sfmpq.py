"""SF-MPQ: the short-form McGill Pain Questionnaire (Melzack 1987).

Items (keys are the form's own order; neutral labels only, no descriptor is reproduced):

* ``"1"`` .. ``"11"`` sensory descriptors and ``"12"`` .. ``"15"`` affective descriptors, each
  rated 0 (none) .. 3 (the most intense);
* ``"ppi"`` present pain intensity, 0 .. 5 (the MPQ's PPI);
* ``"vas"`` pain visual analogue scale, 0 .. 100 (mm on a 10 cm line).

Scores: ``sensory`` = sum of items 1-11 (0-33), ``affective`` = sum of items 12-15 (0-12),
``total`` = sensory + affective (0-45), ``ppi`` and ``vas`` as recorded. Report:
``n_descriptors_missing`` (blank descriptors among the 15).

Missing items: Melzack 1987 publishes no imputation rule, so none is applied: ``sensory`` needs
all of items 1-11, ``affective`` all of items 12-15 and ``total`` all 15; otherwise that score
is missing. ``ppi`` and ``vas`` are missing when their item is. By default
(``incomplete="error"``) a missing score raises :class:`~ketapain.errors.InstrumentError`
naming it, its unanswered items and the rule; with ``incomplete="missing"`` it is None.

The SF-MPQ-2 (Dworkin et al. 2009; 22 items rated 0-10) is a different instrument and is not
scored by this module.

References
----------
Melzack R. The short-form McGill Pain Questionnaire. Pain 1987;30:191-7.

Examples
--------
>>> from ketapain.instruments import score
>>> answers = {str(k): 1 for k in range(1, 16)} | {"ppi": 2, "vas": 45}
>>> score("sfmpq", answers)
{'sensory': 11.0, 'affective': 4.0, 'total': 15.0, 'ppi': 2.0, 'vas': 45.0, 'n_descriptors_missing': 0}
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ketapain.instruments._spec import Instrument, Item, Score

__all__ = ["INSTRUMENT"]

SENSORY_ITEMS = tuple(str(k) for k in range(1, 12))
AFFECTIVE_ITEMS = tuple(str(k) for k in range(12, 16))
DESCRIPTORS = SENSORY_ITEMS + AFFECTIVE_ITEMS


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    sensory = items[list(SENSORY_ITEMS)].sum(axis=1, min_count=len(SENSORY_ITEMS))
    affective = items[list(AFFECTIVE_ITEMS)].sum(axis=1, min_count=len(AFFECTIVE_ITEMS))
    missing = items[list(DESCRIPTORS)].isna().sum(axis=1).astype("Int64")
    return pd.DataFrame(
        {
            "sensory": sensory,
            "affective": affective,
            "total": sensory + affective,  # NaN unless all 15 are present
            "ppi": items["ppi"],
            "vas": items["vas"],
            "n_descriptors_missing": missing,
        },
        index=items.index,
    )


_RATING = "0 none .. 3 most intense"

INSTRUMENT = Instrument(
    name="sfmpq",
    label="SF-MPQ (McGill)",
    title="Short-form McGill Pain Questionnaire (SF-MPQ)",
    reference="Melzack R. The short-form McGill Pain Questionnaire. Pain 1987;30:191-7.",
    licence=(
        "(c) R. Melzack; the SF-MPQ is licensed through Mapi Research Trust. Descriptors are not "
        "reproduced; a site supplies its licensed wording."
    ),
    items=(
        *(Item(k, f"sensory descriptor {k} of 11 ({_RATING})", minimum=0, maximum=3) for k in SENSORY_ITEMS),
        *(
            Item(k, f"affective descriptor {int(k) - 11} of 4 ({_RATING})", minimum=0, maximum=3)
            for k in AFFECTIVE_ITEMS
        ),
        Item("ppi", "present pain intensity (MPQ PPI), 0 none .. 5 most intense", minimum=0, maximum=5),
        Item("vas", "pain visual analogue scale, mm 0 .. 100 (higher = more pain)", kind="number",
             minimum=0, maximum=100),
    ),
    scores=(
        Score("sensory", "sum of items 1-11 (all required)", 0, 33, items=SENSORY_ITEMS,
              rule="needs all 11 items 1-11 (no published imputation rule)", label="sensory"),
        Score("affective", "sum of items 12-15 (all required)", 0, 12, items=AFFECTIVE_ITEMS,
              rule="needs all 4 items 12-15 (no published imputation rule)", label="affective"),
        Score("total", "sensory + affective (all 15 required)", 0, 45, items=DESCRIPTORS,
              rule="needs all 15 descriptors 1-15 (no published imputation rule)", label="total"),
        Score("ppi", "present pain intensity as recorded", 0, 5, items=("ppi",), rule="needs item ppi",
              label="present pain intensity"),
        Score("vas", "visual analogue scale as recorded (mm)", 0, 100, items=("vas",), rule="needs item vas", label="VAS"),
    ),
    reports=(Score("n_descriptors_missing", "blank descriptors among items 1-15", 0, 15, kind="count"),),
    scorer=_score,
    notes="No imputation (none published): a score is missing if any of its descriptors is.",
)

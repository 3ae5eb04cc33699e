"""QDSA: Questionnaire Douleur Saint-Antoine (Boureau, Luu, Doubrere 1984), the French MPQ.

58 pain descriptors in 16 subclasses lettered A-P. Item keys are the subclass letter and the
word's position in form order (``"A1"`` .. ``"A6"``, ``"B1"``, ``"B2"``, ... ``"P2"``); no
descriptor is reproduced. Subclass sizes (**to be verified against the licensed form**; medium
confidence, they only affect input validation and the maxima):

* sensory A-I (35 words): A6 B2 C5 D6 E6 F2 G2 H3 I3;
* affective J-P (23 words): J3 K3 L3 M5 N4 O3 P2 (the evaluative-type words of N count here).

Every answer is an intensity 0 (absent) .. 4 (the highest); a blank word counts 0 (not
selected). Scores: ``sensory`` = sum over A-I, ``affective`` = sum over J-P, ``total`` =
sensory + affective. Report: ``n_words_rated`` (answers > 0).

Modes (option ``mode``):

* ``"all_words"`` (default; research form): every word may be rated. Ranges sensory 0-140,
  affective 0-92, total 0-232 (the declared score ranges).
* ``"one_per_subclass"`` (classical form): the respondent picks the best-fitting word of each
  subclass and rates it, so at most one word per subclass may be non-zero; more is rejected,
  naming the subclass and its rated items. Ranges sensory 0-36, affective 0-28, total 0-64
  (the QDSA abrege, 16 words, has the same ranges).

A respondent with every one of the 58 words blank has all scores missing (a form not filled
in cannot be told from "no word chosen"; record zeros explicitly for the latter). Such a blank
form raises :class:`~ketapain.errors.InstrumentError` by default (``incomplete="error"``);
with ``incomplete="missing"`` its scores are None.

Which scoring the reference study used (Pickering et al., Anesthesiology 2020): its means of
about 99 (global), 53 (sensory) and 47 (affective) are only reachable with the all-words QDSA.
The MPQ pain rating index cannot produce them (PRI-T max 78, PRI-A max 14 < 47), nor can the
classical one-word-per-subclass QDSA (total max 64 < 99, affective max 28 < 47). With every
word rated 0-4 they are plausible fractions of the maxima, 53/140 = 38 % and 47/92 = 51 %, and
global = sensory + affective holds to rounding (53 + 47 = 100 ~ 99 after averaging and
rounding). Hence ``mode="all_words"`` is the default; to be confirmed from the trial CRF/SAP.

References
----------
Boureau F, Luu M, Doubrere JF, Gay C. Elaboration d'un questionnaire d'auto-evaluation de la
douleur par liste de qualificatifs. Comparaison avec le McGill Pain Questionnaire de Melzack.
Therapie 1984;39:119-29. Melzack R. The McGill Pain Questionnaire: major properties and
scoring methods. Pain 1975;1:277-99.

Examples
--------
>>> from ketapain.instruments import score
>>> score("qdsa", {"A1": 3, "A4": 2, "J2": 4})
{'sensory': 5.0, 'affective': 4.0, 'total': 9.0, 'n_words_rated': 3}
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ketapain.errors import InstrumentError
from ketapain.instruments._spec import Instrument, Item, Option, Score, respondent

__all__ = ["INSTRUMENT"]

NAME = "qdsa"
SENSORY = {"A": 6, "B": 2, "C": 5, "D": 6, "E": 6, "F": 2, "G": 2, "H": 3, "I": 3}
AFFECTIVE = {"J": 3, "K": 3, "L": 3, "M": 5, "N": 4, "O": 3, "P": 2}
SUBCLASSES = {**SENSORY, **AFFECTIVE}
SENSORY_ITEMS = tuple(f"{s}{i}" for s, n in SENSORY.items() for i in range(1, n + 1))
AFFECTIVE_ITEMS = tuple(f"{s}{i}" for s, n in AFFECTIVE.items() for i in range(1, n + 1))
MAX_RATING = 4


def _check_one_per_subclass(items: pd.DataFrame) -> None:
    for letter, size in SUBCLASSES.items():
        cols = [f"{letter}{i}" for i in range(1, size + 1)]
        rated = items[cols].to_numpy() > 0  # NaN compares False
        many = rated.sum(axis=1) > 1
        if many.any():
            pos = int(np.flatnonzero(many)[0])
            words = ", ".join(
                f"{c} = {items[c].iloc[pos]:g}" for c, r in zip(cols, rated[pos], strict=True) if r
            )
            raise InstrumentError(
                f"{NAME}{respondent(items, pos)}: subclass {letter} has {int(rated[pos].sum())} rated "
                f"words ({words}); allowed in mode one_per_subclass: at most one word per subclass "
                "rated above 0 (use mode='all_words' for the research form)"
            )


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    if options["mode"] == "one_per_subclass":
        _check_one_per_subclass(items)
    answered = items.notna().any(axis=1)
    ratings = items.fillna(0.0)  # a blank word counts 0 (not selected)
    sensory = ratings[list(SENSORY_ITEMS)].sum(axis=1).where(answered)
    affective = ratings[list(AFFECTIVE_ITEMS)].sum(axis=1).where(answered)
    n_rated = (ratings > 0).sum(axis=1).astype("Int64").where(answered)
    return pd.DataFrame(
        {
            "sensory": sensory,
            "affective": affective,
            "total": sensory + affective,
            "n_words_rated": n_rated,
        },
        index=items.index,
    )


def _items() -> tuple[Item, ...]:
    out = []
    for letter, size in SUBCLASSES.items():
        part = "sensory" if letter in SENSORY else "affective"
        for i in range(1, size + 1):
            out.append(
                Item(
                    f"{letter}{i}",
                    f"{part} subclass {letter}, word {i} of {size}: intensity 0 absent .. 4 highest",
                    minimum=0,
                    maximum=MAX_RATING,
                    required=False,
                )
            )
    return tuple(out)


_RULE = "needs at least one of the form's 58 words answered (a blank word counts 0; an all-blank form is missing)"

INSTRUMENT = Instrument(
    name=NAME,
    label="QDSA (McGill)",
    title="Questionnaire Douleur Saint-Antoine (QDSA), French adaptation of the MPQ",
    reference=(
        "Boureau F, Luu M, Doubrere JF, Gay C. Therapie 1984;39:119-29; "
        "after Melzack R. Pain 1975;1:277-99."
    ),
    licence=(
        "Treat as copyrighted (Boureau et al. 1984; adapted from the MPQ, (c) R. Melzack 1975): "
        "descriptors are not reproduced; a site supplies its licensed wording."
    ),
    items=_items(),
    scores=(
        Score(
            "sensory",
            "sum of subclasses A-I (all_words 0-140; one_per_subclass 0-36)",
            0,
            MAX_RATING * len(SENSORY_ITEMS),
            items=SENSORY_ITEMS,
            rule=_RULE,
            label="sensory",
        ),
        Score(
            "affective",
            "sum of subclasses J-P (all_words 0-92; one_per_subclass 0-28)",
            0,
            MAX_RATING * len(AFFECTIVE_ITEMS),
            items=AFFECTIVE_ITEMS,
            rule=_RULE,
            label="affective",
        ),
        Score(
            "total",
            "sensory + affective (all_words 0-232; one_per_subclass 0-64)",
            0,
            MAX_RATING * (len(SENSORY_ITEMS) + len(AFFECTIVE_ITEMS)),
            items=SENSORY_ITEMS + AFFECTIVE_ITEMS,
            rule=_RULE,
            label="total",
        ),
    ),
    scorer=_score,
    reports=(Score("n_words_rated", "number of words rated above 0", 0, 58, kind="count"),),
    options=(
        Option(
            "mode",
            ("all_words", "one_per_subclass"),
            "all_words",
            "all_words: every word may be rated 0-4 (research form; fits the reference study's "
            "~99/53/47); one_per_subclass: at most one rated word per subclass (classical form)",
        ),
    ),
    notes=(
        "A blank word counts 0; a respondent with all 58 words blank has missing scores. "
        "Subclass sizes to be verified against the licensed form."
    ),
)

"""DN4: Douleur Neuropathique en 4 questions (Bouhassira et al., Pain 2005;114:29-36).

Ten yes/no items (yes = 1, no = 0): items ``"1"``-``"7"`` come from the interview (pain
characteristics 1-3, symptoms in the same area 4-7), items ``"8"``-``"10"`` from a clinical
examination. ``total`` is the number of positive items and the pain is ``neuropathic`` when
``total >= 4`` (sensitivity 82.9%, specificity 89.9% in the validation study).

Option ``version``:

* ``"full"`` (default): all 10 items, total 0-10, cut-off >= 4;
* ``"interview"``: the self-report DN4-interview, items 1-7 only, total 0-7, cut-off >= 3.
  Examination items 8-10 are refused in this version (they do not belong to the form).

Missing items: the paper gives no rule, so ``total`` and ``neuropathic`` need every item of
the version: an unanswered item raises :class:`~ketapain.errors.InstrumentError` by default
(``incomplete="error"``), or leaves both None with ``incomplete="missing"``. Reported
separately, never folded into the total: ``neuropathic_deduced`` is True when the positives
among the answered items already reach the cut-off, False when even all missing items positive
could not reach it, None otherwise (it equals ``neuropathic`` on a complete form);
``n_positive`` and ``n_missing`` count answered positives and missing items of the version.

Examples
--------
>>> from ketapain.instruments import score
>>> answers = {"1": 1, "2": 0, "3": 1, "4": 1, "5": 0, "6": 0, "7": 0, "8": 1, "9": 0, "10": 0}
>>> score("dn4", answers)
{'total': 4.0, 'neuropathic': True, 'neuropathic_deduced': True, 'n_positive': 4, 'n_missing': 0}
>>> score("dn4", {"1": 1, "2": 1, "3": 1}, version="interview", incomplete="missing")["neuropathic_deduced"]
True
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ketapain.errors import InstrumentError
from ketapain.instruments._spec import Instrument, Item, Option, Score, respondent

__all__ = ["INSTRUMENT"]

_LABELS = (
    "burning (pain characteristic)",
    "painful cold (pain characteristic)",
    "electric shocks (pain characteristic)",
    "tingling (symptom in the painful area)",
    "pins and needles (symptom in the painful area)",
    "numbness (symptom in the painful area)",
    "itching (symptom in the painful area)",
    "hypoesthesia to touch (examination)",
    "hypoesthesia to pinprick (examination)",
    "pain caused or increased by brushing (examination)",
)
_KEYS = tuple(str(i) for i in range(1, 11))
_VERSION_KEYS = {"full": _KEYS, "interview": _KEYS[:7]}
_EXAMINATION = _KEYS[7:]
_CUTOFF = {"full": 4, "interview": 3}


def _needs(options: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    keys = _VERSION_KEYS[options["version"]]
    return keys, f"needs all {len(keys)} items of version={options['version']!r} (the paper has no missing-item rule)"


_DEDUCED = " (the report neuropathic_deduced says whether the answered items already decide it)"


def _needs_neuropathic(options: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    keys, rule = _needs(options)
    return keys, rule + _DEDUCED


_RULE = (
    "needs every item of the version: all 10 (version='full') or items 1-7 (version='interview'); "
    "the paper has no missing-item rule"
)


def _reject_examination(items: pd.DataFrame) -> None:
    """Examination items answered under ``version="interview"`` -> InstrumentError."""
    given = items[list(_EXAMINATION)].notna().to_numpy()
    if not given.any():
        return
    row, col = (int(i) for i in np.argwhere(given)[0])
    key = _EXAMINATION[col]
    value = float(items[key].iloc[row])
    shown = str(int(value)) if value.is_integer() else f"{value:g}"
    place = respondent(items, row)
    raise InstrumentError(
        f"dn4{place}: item {key} = {shown} is an examination item, not part of "
        f"version='interview'; allowed: items 1-7 only (leave 8-10 blank, or use version='full')"
    )


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    version = options["version"]
    if version == "interview":
        _reject_examination(items)
    answers = items[list(_VERSION_KEYS[version])]
    cutoff = _CUTOFF[version]
    n_missing = answers.isna().sum(axis=1).astype("int64")
    n_positive = answers.sum(axis=1).astype("int64")  # NaN skipped
    complete = n_missing == 0
    total = n_positive.astype(float).where(complete)
    reached = n_positive >= cutoff
    decided = reached | (n_positive + n_missing < cutoff)
    return pd.DataFrame(
        {
            "total": total,
            "neuropathic": reached.astype("boolean").where(complete),
            "neuropathic_deduced": reached.astype("boolean").where(decided),
            "n_positive": n_positive,
            "n_missing": n_missing,
        },
        index=items.index,
    )


INSTRUMENT = Instrument(
    name="dn4",
    label="DN4",
    title="DN4 neuropathic pain diagnostic questionnaire (10 items; 7-item interview version)",
    reference="Bouhassira D, Attal N, Alchaar H, et al. Pain 2005;114:29-36.",
    licence="Copyright Bouhassira et al. (French Neuropathic Pain Group); licensed through Mapi Research "
    "Trust (ePROVIDE). No item wording is stored here.",
    items=tuple(Item(key, label, values=(0.0, 1.0)) for key, label in zip(_KEYS, _LABELS, strict=True)),
    options=(
        Option(
            "version",
            ("full", "interview"),
            "full",
            "full: items 1-10, total 0-10, neuropathic if >= 4; interview: items 1-7 (self-report "
            "DN4-interview), total 0-7, neuropathic if >= 3; examination items 8-10 are refused",
        ),
    ),
    scores=(
        Score("total", "number of positive items (needs every item of the version)", 0, 10,
              items=_KEYS, rule=_RULE, needs=_needs, label="total"),
        Score("neuropathic", "total >= 4 (full) or >= 3 (interview); needs every item of the version", kind="bool",
              items=_KEYS, rule=_RULE + _DEDUCED, needs=_needs_neuropathic, label="neuropathic pain"),
    ),
    reports=(
        Score(
            "neuropathic_deduced",
            "True if the answered positives reach the cut-off, False if positives + missing stay "
            "below it, else None (convention, not in the paper)",
            kind="bool",
        ),
        Score("n_positive", "positive items among those answered", 0, 10, kind="count"),
        Score("n_missing", "items of the version left unanswered", 0, 10, kind="count"),
    ),
    scorer=_score,
    notes="Yes = 1, no = 0. No missing-item rule in the paper; the deduction is reported separately.",
)

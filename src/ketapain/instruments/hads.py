"""HADS: Hospital Anxiety and Depression Scale (Zigmond & Snaith, Acta Psychiatr Scand 1983).

Fourteen items, each recorded 0-3. Odd items 1, 3, ..., 13 make ``anxiety`` (HADS-A) and even
items 2, 4, ..., 14 make ``depression`` (HADS-D), each 0-21, 3 per item always the most
symptomatic. Bands (Zigmond & Snaith): 0-7 normal, 8-10 borderline, 11-21 case; reported as
``*_borderline_or_case`` (>= 8) and ``*_case`` (>= 11).

Option ``coding`` — what the recorded number means (which items are reversed):

* ``"scored"`` (default): the scoring key's own 0-3 score; nothing is reversed.
* ``"position"``: 0 = first printed response option. The English form prints options 3->0 for
  items 1, 3, 5, 6, 8, 10, 11, 13, so those are reversed (score = 3 - value). Check the layout
  of the form actually used (e.g. French, Lepine 1985) before choosing this.
* ``"agreement"``: 0 = "not at all / never" ... 3 = "most / definitely"; the positively worded
  items 2, 4, 6, 7, 12, 14 are reversed (score = 3 - value).

Option ``missing``:

* ``"none"`` (default): a subscale needs all 7 of its items, else None;
* ``"half_rule"`` (Bell et al., BMC Res Notes 2016;9:479): with >= 4 of 7 items answered the
  subscale is the mean of the answered items x 7, unrounded (round in the SAP if at all);
  with fewer, None. ``n_imputed_*`` counts the items filled in this way.

A subscale left missing by its rule raises :class:`~ketapain.errors.InstrumentError` by
default (``incomplete="error"``, naming the subscale, its unanswered items and the rule); with
``incomplete="missing"`` it is None.

Examples
--------
>>> from ketapain.instruments import score
>>> answers = {str(k): 2 for k in range(1, 15)} | {"1": 3, "2": 0}
>>> out = score("hads", answers)
>>> out["anxiety"], out["depression"], out["anxiety_case"]
(15.0, 12.0, True)
>>> score("hads", {"1": 3, "3": 2, "5": 2, "7": 1}, missing="half_rule", incomplete="missing")["anxiety"]
14.0
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ketapain.instruments._spec import Instrument, Item, Option, Score

__all__ = ["INSTRUMENT"]

_ANXIETY = tuple(str(i) for i in range(1, 15, 2))
_DEPRESSION = tuple(str(i) for i in range(2, 15, 2))
_REVERSED = {
    "scored": (),
    "position": ("1", "3", "5", "6", "8", "10", "11", "13"),
    "agreement": ("2", "4", "6", "7", "12", "14"),
}
_HALF_RULE_MIN = 4
_BORDERLINE, _CASE = 8, 11


def _needs(options: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    if options["missing"] == "half_rule":
        return _ANXIETY, f"needs at least {_HALF_RULE_MIN} of its 7 items (missing='half_rule', Bell et al. 2016)"
    return _ANXIETY, f"needs all 7 items (missing='none'; missing='half_rule' allows up to {7 - _HALF_RULE_MIN} unanswered)"


def _needs_depression(options: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    return _DEPRESSION, _needs(options)[1]


_RULE = f"needs all 7 items (missing='none') or at least {_HALF_RULE_MIN} of 7 (missing='half_rule')"


def _subscale(scored: pd.DataFrame, keys: tuple[str, ...], missing: str) -> tuple[pd.Series, pd.Series]:
    """Subscale score and the number of items imputed for it."""
    block = scored[list(keys)]
    answered = block.notna().sum(axis=1)
    total = block.sum(axis=1)
    if missing == "none":
        return total.where(answered == len(keys)), pd.Series(0, index=scored.index, dtype="int64")
    usable = answered >= _HALF_RULE_MIN
    value = (total * len(keys) / answered.where(usable)).where(usable)  # = mean x 7; exact when complete
    imputed = (len(keys) - answered).where(usable, 0).astype("int64")
    return value, imputed


def _flag(value: pd.Series, cut: int) -> pd.Series:
    return (value >= cut).astype("boolean").where(value.notna(), pd.NA)


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    scored = items.copy()
    reversed_ = list(_REVERSED[options["coding"]])
    scored[reversed_] = 3 - scored[reversed_]
    anxiety, n_anx = _subscale(scored, _ANXIETY, options["missing"])
    depression, n_dep = _subscale(scored, _DEPRESSION, options["missing"])
    return pd.DataFrame(
        {
            "anxiety": anxiety,
            "depression": depression,
            "anxiety_case": _flag(anxiety, _CASE),
            "anxiety_borderline_or_case": _flag(anxiety, _BORDERLINE),
            "depression_case": _flag(depression, _CASE),
            "depression_borderline_or_case": _flag(depression, _BORDERLINE),
            "n_imputed_anxiety": n_anx,
            "n_imputed_depression": n_dep,
        },
        index=items.index,
    )


def _item(key: str) -> Item:
    scale = "anxiety" if int(key) % 2 else "depression"
    printed = "3->0" if key in _REVERSED["position"] else "0->3"
    positive = ", positively worded" if key in _REVERSED["agreement"] else ""
    return Item(key, f"{scale} subscale item (printed options {printed}{positive})", minimum=0, maximum=3)


INSTRUMENT = Instrument(
    name="hads",
    label="HADS",
    title="Hospital Anxiety and Depression Scale (anxiety and depression, 0-21 each)",
    reference="Zigmond AS, Snaith RP. Acta Psychiatr Scand 1983;67:361-70; half rule: Bell ML et al. "
    "BMC Res Notes 2016;9:479.",
    licence="Copyright Zigmond & Snaith 1983; published by GL Assessment, translations via Mapi; commercial "
    "licence and fees apply. No item wording is stored here.",
    items=tuple(_item(str(i)) for i in range(1, 15)),
    options=(
        Option(
            "coding",
            ("scored", "position", "agreement"),
            "scored",
            "scored: values are the scoring key's 0-3 scores (no reversal); position: 0 = first printed "
            "option, items 1, 3, 5, 6, 8, 10, 11, 13 reversed; agreement: 0 = not at all/never, items 2, "
            "4, 6, 7, 12, 14 reversed",
        ),
        Option(
            "missing",
            ("none", "half_rule"),
            "none",
            "none: a subscale needs all 7 items; half_rule: >= 4 of 7 answered -> mean x 7 (unrounded)",
        ),
    ),
    scores=(
        Score("anxiety", "HADS-A: sum of the odd items 1-13", 0, 21, items=_ANXIETY, rule=_RULE, needs=_needs,
              label="anxiety"),
        Score("depression", "HADS-D: sum of the even items 2-14", 0, 21, items=_DEPRESSION, rule=_RULE,
              needs=_needs_depression, label="depression"),
    ),
    reports=(
        Score("anxiety_case", "anxiety >= 11 (definite case)", kind="bool"),
        Score("anxiety_borderline_or_case", "anxiety >= 8 (borderline or case)", kind="bool"),
        Score("depression_case", "depression >= 11 (definite case)", kind="bool"),
        Score("depression_borderline_or_case", "depression >= 8 (borderline or case)", kind="bool"),
        Score("n_imputed_anxiety", "anxiety items imputed by the half rule", 0, 3, kind="count"),
        Score("n_imputed_depression", "depression items imputed by the half rule", 0, 3, kind="count"),
    ),
    scorer=_score,
    notes="Bands apply to the unrounded score. Position coding assumes the English printed order.",
)

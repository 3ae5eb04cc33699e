"""BPI-SF: Brief Pain Inventory, short form (Cleeland & Ryan 1994; BPI User Guide, 2009).

Scored items (the form's own numbers; 1, 2 and 7 — screening question, body map, list of
treatments — are not scored and not accepted):

* ``"3"`` worst, ``"4"`` least, ``"5"`` average, ``"6"`` now: pain in the last 24 h, 0-10;
* ``"8"`` relief from treatment or medication, 0-100 % in steps of 10;
* ``"9a"``-``"9g"`` interference, 0-10: a general activity, b mood, c walking ability,
  d normal work, e relations with other people, f sleep, g enjoyment of life.

Scores: the four severity items as they are; ``severity_mean`` = mean of 3-6 (needs all 4,
a convention); ``interference_mean`` = mean of the *answered* interference items when at least
4 of 7 are answered (User Guide: "more than 50%"); ``interference_affective`` = mean of 9b, 9e,
9g and ``interference_activity`` = mean of 9a, 9c, 9d (walking, activity, work), each needing
at least 2 of its 3 items; ``relief_pct`` = item 8.

Option ``sleep`` (sleep 9f loads on both factors): ``"excluded"`` (default) leaves it out of
both subscores (it stays in ``interference_mean``); ``"in_activity"`` adds it to the activity
subscore, which then needs at least 3 of its 4 items.

Reported: ``least_gt_worst`` (item 4 > item 3: scored as given, but flagged) and
``n_interference_answered``.

A score whose minimum is not met (a blank severity or relief item, too few interference items)
raises :class:`~ketapain.errors.InstrumentError` by default (``incomplete="error"``), naming the
score, the unanswered items and the minimum; with ``incomplete="missing"`` it is None.

Examples
--------
>>> from ketapain.instruments import score
>>> answers = {"3": 8, "4": 2, "5": 5, "6": 3, "8": 40, "9a": 6, "9b": 4, "9c": 7, "9d": 5}
>>> out = score("bpi", answers, incomplete="missing")
>>> out["severity_mean"], out["interference_mean"], out["interference_activity"]
(4.5, 5.5, 6.0)
>>> out["interference_affective"] is None, out["n_interference_answered"]
(True, 4)
>>> score("bpi", answers)
Traceback (most recent call last):
...
ketapain.errors.InstrumentError: bpi: interference_affective cannot be scored: items 9e, 9g unanswered;
interference_affective needs at least 2 of its 3 items 9b, 9e, 9g; pass incomplete='missing' to get the score as missing
instead
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ketapain.instruments._spec import Instrument, Item, Option, Score

__all__ = ["INSTRUMENT"]

_SEVERITY = ("3", "4", "5", "6")
_INTERFERENCE = ("9a", "9b", "9c", "9d", "9e", "9f", "9g")
_AFFECTIVE = ("9b", "9e", "9g")
_ACTIVITY = {"excluded": ("9a", "9c", "9d"), "in_activity": ("9a", "9c", "9d", "9f")}
_ACTIVITY_NEEDED = {"excluded": 2, "in_activity": 3}
_INTERFERENCE_NEEDED = 4


def _activity_needs(options: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    keys, needed = _ACTIVITY[options["sleep"]], _ACTIVITY_NEEDED[options["sleep"]]
    return keys, f"needs at least {needed} of its {len(keys)} items {', '.join(keys)} (sleep={options['sleep']!r})"


def _mean_if(items: pd.DataFrame, keys: Sequence[str], needed: int) -> pd.Series:
    """Mean of the answered ``keys`` where at least ``needed`` are answered, else NaN."""
    block = items[list(keys)]
    return block.mean(axis=1).where(block.notna().sum(axis=1) >= needed)


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    sleep = options["sleep"]
    worst, least = items["3"], items["4"]
    n_interference = items[list(_INTERFERENCE)].notna().sum(axis=1).astype("int64")
    return pd.DataFrame(
        {
            "worst": worst,
            "least": least,
            "average": items["5"],
            "now": items["6"],
            "severity_mean": _mean_if(items, _SEVERITY, len(_SEVERITY)),
            "interference_mean": _mean_if(items, _INTERFERENCE, _INTERFERENCE_NEEDED),
            "interference_affective": _mean_if(items, _AFFECTIVE, 2),
            "interference_activity": _mean_if(items, _ACTIVITY[sleep], _ACTIVITY_NEEDED[sleep]),
            "relief_pct": items["8"],
            "least_gt_worst": (least > worst).astype("boolean").where(least.notna() & worst.notna()),
            "n_interference_answered": n_interference,
        },
        index=items.index,
    )


def _rating(key: str, label: str) -> Item:
    return Item(key, label, minimum=0, maximum=10)


INSTRUMENT = Instrument(
    name="bpi",
    label="BPI",
    title="Brief Pain Inventory, short form (severity, interference, relief)",
    reference="Cleeland CS. The Brief Pain Inventory User Guide, 2009; Cleeland CS, Ryan KM. Ann Acad Med Singapore 1994;23:129-38.",
    licence="Copyright Charles S. Cleeland 1991 (MD Anderson); permission needed, fees depend on use; "
    "French version QCD. No item wording is stored here.",
    items=(
        _rating("3", "worst pain in the last 24 hours"),
        _rating("4", "least pain in the last 24 hours"),
        _rating("5", "average pain"),
        _rating("6", "pain right now"),
        Item("8", "relief from treatment or medication, percent", minimum=0, maximum=100, step=10),
        _rating("9a", "interference: general activity"),
        _rating("9b", "interference: mood"),
        _rating("9c", "interference: walking ability"),
        _rating("9d", "interference: normal work"),
        _rating("9e", "interference: relations with other people"),
        _rating("9f", "interference: sleep"),
        _rating("9g", "interference: enjoyment of life"),
    ),
    options=(
        Option(
            "sleep",
            ("excluded", "in_activity"),
            "excluded",
            "excluded: sleep (9f) is in neither subscore, activity = 9a, 9c, 9d (>= 2 of 3); "
            "in_activity: activity = 9a, 9c, 9d, 9f (>= 3 of 4)",
        ),
    ),
    scores=(
        Score("worst", "item 3", 0, 10, items=("3",), rule="needs item 3", label="worst pain"),
        Score("least", "item 4", 0, 10, items=("4",), rule="needs item 4", label="least pain"),
        Score("average", "item 5", 0, 10, items=("5",), rule="needs item 5", label="average pain"),
        Score("now", "item 6", 0, 10, items=("6",), rule="needs item 6", label="pain now"),
        Score(
            "severity_mean",
            "mean of items 3-6 (all 4 needed)",
            0,
            10,
            items=_SEVERITY,
            rule="needs all 4 severity items 3, 4, 5, 6 (convention)",
            label="pain severity",
        ),
        Score(
            "interference_mean",
            "mean of the answered items 9a-9g (>= 4 of 7 needed)",
            0,
            10,
            items=_INTERFERENCE,
            rule=f"needs at least {_INTERFERENCE_NEEDED} of the 7 interference items 9a-9g (User Guide: more than 50%)",
            label="pain interference",
        ),
        Score(
            "interference_affective",
            "mean of the answered 9b, 9e, 9g (>= 2 of 3 needed)",
            0,
            10,
            items=_AFFECTIVE,
            rule="needs at least 2 of its 3 items 9b, 9e, 9g",
            label="interference with affect",
        ),
        Score(
            "interference_activity",
            "mean of the answered 9a, 9c, 9d (>= 2 of 3), or 9a, 9c, 9d, 9f (>= 3 of 4) with sleep='in_activity'",
            0,
            10,
            items=_ACTIVITY["in_activity"],
            rule="needs at least 2 of 9a, 9c, 9d (sleep='excluded') or 3 of 9a, 9c, 9d, 9f (sleep='in_activity')",
            needs=_activity_needs,
            label="interference with activity",
        ),
        Score("relief_pct", "item 8, percent relief", 0, 100, items=("8",), rule="needs item 8", label="% relief with treatment"),
    ),
    reports=(
        Score("least_gt_worst", "least pain (4) above worst pain (3): scored, but check the form", kind="bool"),
        Score("n_interference_answered", "interference items answered (of 7)", 0, 7, kind="count"),
    ),
    scorer=_score,
    notes="Interference >= 4 of 7 answered is the User Guide's rule; the subscore minimums extend it.",
)

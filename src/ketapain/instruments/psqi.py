"""PSQI: Pittsburgh Sleep Quality Index (Buysse et al. 1989), 7 components and the global score.

Items (keys are the form's own numbers; neutral labels only, no licensed wording):

* ``"1"`` usual bedtime and ``"3"`` usual getting-up time, clock items (``"HH:MM"``, or minutes
  after midnight 0..1439 as in the long TrialData table);
* ``"2"`` minutes to fall asleep (0..1440); ``"4"`` hours of actual sleep (0..24);
* ``"5a"`` .. ``"5j"`` frequency of sleep troubles, 0..3 (``"5j"`` "other reason" is optional:
  a blank counts 0);
* ``"6"`` overall sleep quality, ``"7"`` sleep medication, ``"8"`` trouble staying awake,
  ``"9"`` keeping up enthusiasm, all 0..3. Item 10 and the bed-partner items are not scored
  and not accepted.

Components (Buysse 1989, scoring appendix), each 0..3:

* ``c1_quality`` = item 6.
* ``c2_latency``: item 2 scores 0 (<= 15 min), 1 (16..30, i.e. <= 30), 2 (31..60, <= 60),
  3 (> 60); plus item 5a; the sum 0 -> 0, 1-2 -> 1, 3-4 -> 2, 5-6 -> 3 (= ceil(sum / 2)).
* ``c3_duration`` from item 4 (hours). ``duration="half_open"`` (default): >= 7 -> 0,
  [6, 7) -> 1, [5, 6) -> 2, < 5 -> 3. ``duration="literal"`` (the appendix's "> 7", "6-7"):
  > 7 -> 0, [6, 7] -> 1, [5, 6) -> 2, < 5 -> 3. They differ only at exactly 7 h.
* ``c4_efficiency``: efficiency % = item 4 / hours in bed x 100, hours in bed = (item 3 -
  item 1) as a clock difference across midnight (23:00 -> 07:00 = 8 h). ``efficiency=
  "inclusive"`` (default): >= 85 -> 0, >= 75 -> 1, >= 65 -> 2, < 65 -> 3.
  ``efficiency="rounded"``: the percentage is first rounded to a whole number (half up:
  84.5 -> 85) and the appendix's integer bands (> 85 read as >= 85, 75-84, 65-74, < 65)
  applied to it. They differ only for percentages in [84.5, 85), [74.5, 75), [64.5, 65).
* ``c5_disturbances``: sum of 5b..5j (0..27) -> 0 (0), 1 (1..9), 2 (10..18), 3 (19..27).
* ``c6_medication`` = item 7.
* ``c7_daytime``: item 8 + item 9, 0 -> 0, 1-2 -> 1, 3-4 -> 2, 5-6 -> 3.

``global`` = c1 + ... + c7 (0..21). Report columns: ``hours_in_bed``, ``efficiency_pct`` (the
value C4 used; 100 where capped), ``efficiency_capped`` and ``poor_sleeper`` (global > 5).

Missing items: a blank 5j counts 0; any other missing item leaves its component missing, and
then the global score is missing (no imputation). By default (``incomplete="error"``) such a
respondent raises :class:`~ketapain.errors.InstrumentError` naming the components, their
unanswered items and the rule; with ``incomplete="missing"`` they are None.

Rejected (``InstrumentError`` naming the respondent and the values): a time in bed of 0 (same
bedtime and getting-up time), and hours slept greater than the time in bed unless
``sleep_exceeds_bed="cap"``, which caps the efficiency at 100 % instead.

References
----------
Buysse DJ, Reynolds CF, Monk TH, Berman SR, Kupfer DJ. The Pittsburgh Sleep Quality Index: a new
instrument for psychiatric practice and research. Psychiatry Res 1989;28:193-213 (scoring
appendix). French version: Blais FC et al., Encephale 1997;23:447-53 (same scoring).

Examples
--------
>>> from ketapain.instruments import score
>>> answers = {"1": "23:00", "2": 20, "3": "07:00", "4": 7, "5a": 1, "5b": 1, "5c": 0,
...            "5d": 0, "5e": 0, "5f": 0, "5g": 0, "5h": 2, "5i": 0, "6": 1, "7": 0,
...            "8": 0, "9": 1}
>>> result = score("psqi", answers)
>>> result["global"], result["hours_in_bed"], result["efficiency_pct"]
(4.0, 8.0, 87.5)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ketapain.errors import InstrumentError
from ketapain.instruments._spec import Instrument, Item, Option, Score, respondent

__all__ = ["INSTRUMENT"]

NAME = "psqi"
TROUBLES = tuple(f"5{c}" for c in "abcdefghij")
DISTURBANCES = TROUBLES[1:]  # 5b..5j
_TOL = 1e-9  # float noise in hours x 60 / minutes (e.g. 6.8 h of 8 h is 85 % exactly)


def _band_sum(total: pd.Series) -> pd.Series:
    """0 -> 0, 1-2 -> 1, 3-4 -> 2, 5-6 -> 3 (NaN stays NaN)."""
    return pd.Series(np.ceil(total.to_numpy(dtype=float) / 2.0), index=total.index)


def _clock(minutes: float) -> str:
    m = int(minutes)
    return f"{m // 60:02d}:{m % 60:02d}"


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    bed, latency, up, slept = items["1"], items["2"], items["3"], items["4"]

    # Time in bed, across midnight.
    minutes_in_bed = (up - bed) % 1440.0  # numpy's mod: the sign of 1440, NaN stays NaN
    zero = (minutes_in_bed == 0).to_numpy()
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        raise InstrumentError(
            f"{NAME}{respondent(items, i)}: item 1 = {_clock(bed.iloc[i])} and item 3 = "
            f"{_clock(up.iloc[i])} give a time in bed of 0 h; allowed: a getting-up time "
            "different from the bedtime"
        )
    hours_in_bed = minutes_in_bed / 60.0
    efficiency: pd.Series = 100.0 * slept * 60.0 / minutes_in_bed
    exceeds = (slept * 60.0 > minutes_in_bed + _TOL).to_numpy()  # NaN compares False
    if exceeds.any():
        if options["sleep_exceeds_bed"] == "reject":
            i = int(np.flatnonzero(exceeds)[0])
            raise InstrumentError(
                f"{NAME}{respondent(items, i)}: item 4 = {slept.iloc[i]:g} h slept exceeds the time "
                f"in bed of {hours_in_bed.iloc[i]:g} h (item 1 = {_clock(bed.iloc[i])}, item 3 = "
                f"{_clock(up.iloc[i])}); allowed: hours slept <= time in bed (or option "
                "sleep_exceeds_bed='cap' to cap the efficiency at 100 %)"
            )
        efficiency = efficiency.where(~exceeds, 100.0)
    efficiency = efficiency.clip(upper=100.0)  # float noise only: real excesses are handled above
    capped = pd.Series(exceeds, index=items.index).astype("boolean").where(efficiency.notna())

    c1 = items["6"]

    lat_pts = pd.Series(
        np.select([latency <= 15, latency <= 30, latency <= 60], [0.0, 1.0, 2.0], 3.0),
        index=items.index,
    ).where(latency.notna())
    c2 = _band_sum(lat_pts + items["5a"])

    if options["duration"] == "half_open":  # noqa: SIM108 - each branch carries its rule's comment
        dur_conds = [slept >= 7, slept >= 6, slept >= 5]
    else:  # literal: > 7 -> 0, 6..7 inclusive -> 1
        dur_conds = [slept > 7, slept >= 6, slept >= 5]
    c3 = pd.Series(np.select(dur_conds, [0.0, 1.0, 2.0], 3.0), index=items.index).where(slept.notna())

    if options["efficiency"] == "rounded":  # noqa: SIM108 - whole percent, half up
        pct = np.floor(efficiency + 0.5 + _TOL)
    else:  # exact boundaries survive float noise (84.99999999999999 counts as 85)
        pct = efficiency + _TOL
    c4 = pd.Series(np.select([pct >= 85, pct >= 75, pct >= 65], [0.0, 1.0, 2.0], 3.0), index=items.index)
    c4 = c4.where(efficiency.notna())

    required = list(DISTURBANCES[:-1])  # 5b..5i; a blank 5j counts 0
    disturbance = items[required].sum(axis=1, min_count=len(required)) + items["5j"].fillna(0.0)
    c5 = np.ceil(disturbance / 9.0)  # 0 -> 0, 1-9 -> 1, 10-18 -> 2, 19-27 -> 3

    c6 = items["7"]
    c7 = _band_sum(items["8"] + items["9"])

    comps = pd.DataFrame(
        {
            "c1_quality": c1,
            "c2_latency": c2,
            "c3_duration": c3,
            "c4_efficiency": c4,
            "c5_disturbances": c5,
            "c6_medication": c6,
            "c7_daytime": c7,
        },
        index=items.index,
    )
    total = comps.sum(axis=1, min_count=7).where(comps.notna().all(axis=1))
    return comps.assign(
        **{
            "global": total,
            "hours_in_bed": hours_in_bed,
            "efficiency_pct": efficiency,
            "efficiency_capped": capped,
            "poor_sleeper": (total > 5).astype("boolean").where(total.notna()),
        }
    )


_COMPONENT = "0 (best) .. 3 (worst)"
_REQUIRED = ("1", "2", "3", "4", *TROUBLES[:-1], "6", "7", "8", "9")  # every item but the optional 5j

INSTRUMENT = Instrument(
    name=NAME,
    label="PSQI",
    title="Pittsburgh Sleep Quality Index",
    reference=(
        "Buysse DJ, Reynolds CF, Monk TH, Berman SR, Kupfer DJ. Psychiatry Res 1989;28:193-213 "
        "(scoring appendix); French version Blais FC et al. Encephale 1997;23:447-53."
    ),
    licence=(
        "(c) 1989 University of Pittsburgh. Free for non-commercial research use; commercial use "
        "licensed by the University. No item wording is stored here."
    ),
    items=(
        Item("1", "usual bedtime in the past month", kind="clock"),
        Item("2", "usual minutes to fall asleep", kind="number", minimum=0, maximum=1440),
        Item("3", "usual getting-up time in the past month", kind="clock"),
        Item("4", "hours of actual sleep per night", kind="number", minimum=0, maximum=24),
        Item("5a", "trouble: cannot fall asleep within 30 minutes (frequency)", minimum=0, maximum=3),
        Item("5b", "trouble: waking in the night or early morning (frequency)", minimum=0, maximum=3),
        Item("5c", "trouble: getting up to use the bathroom (frequency)", minimum=0, maximum=3),
        Item("5d", "trouble: breathing (frequency)", minimum=0, maximum=3),
        Item("5e", "trouble: coughing or snoring (frequency)", minimum=0, maximum=3),
        Item("5f", "trouble: feeling too cold (frequency)", minimum=0, maximum=3),
        Item("5g", "trouble: feeling too hot (frequency)", minimum=0, maximum=3),
        Item("5h", "trouble: bad dreams (frequency)", minimum=0, maximum=3),
        Item("5i", "trouble: pain (frequency)", minimum=0, maximum=3),
        Item("5j", "trouble: other reason (frequency; optional)", minimum=0, maximum=3, required=False),
        Item("6", "overall sleep quality (0 best .. 3 worst)", minimum=0, maximum=3),
        Item("7", "sleep medication (frequency)", minimum=0, maximum=3),
        Item("8", "trouble staying awake during the day (frequency)", minimum=0, maximum=3),
        Item("9", "problem keeping up enthusiasm (0 none .. 3 greatest)", minimum=0, maximum=3),
    ),
    scores=(
        Score("c1_quality", f"C1 subjective sleep quality = item 6, {_COMPONENT}", 0, 3,
              items=("6",), rule="needs item 6", label="subjective sleep quality"),
        Score("c2_latency", f"C2 sleep latency from item 2 and item 5a, {_COMPONENT}", 0, 3,
              items=("2", "5a"), rule="needs both items 2 and 5a (no imputation)", label="sleep latency"),
        Score("c3_duration", f"C3 sleep duration from item 4 (option duration), {_COMPONENT}", 0, 3,
              items=("4",), rule="needs item 4", label="sleep duration"),
        Score("c4_efficiency", f"C4 habitual sleep efficiency (option efficiency), {_COMPONENT}", 0, 3,
              items=("1", "3", "4"), rule="needs all 3 items 1, 3 and 4 (bedtime, getting-up time, hours slept)",
              label="sleep efficiency"),
        Score("c5_disturbances", f"C5 sleep disturbances from items 5b-5j, {_COMPONENT}", 0, 3,
              items=DISTURBANCES[:-1], rule="needs all 8 items 5b-5i (a blank 5j counts 0; no imputation)",
              label="sleep disturbances"),
        Score("c6_medication", f"C6 use of sleep medication = item 7, {_COMPONENT}", 0, 3,
              items=("7",), rule="needs item 7", label="sleep medication"),
        Score("c7_daytime", f"C7 daytime dysfunction from items 8 and 9, {_COMPONENT}", 0, 3,
              items=("8", "9"), rule="needs both items 8 and 9 (no imputation)", label="daytime dysfunction"),
        Score("global", "global PSQI = C1 + ... + C7, 0 .. 21 (missing if any component is)", 0, 21,
              items=_REQUIRED, rule="needs all 7 components, i.e. every item except the optional 5j (no imputation)",
              label="global"),
    ),
    scorer=_score,
    reports=(
        Score("hours_in_bed", "item 3 - item 1 in hours, across midnight", 0, 24),
        Score("efficiency_pct", "item 4 / hours in bed x 100 (100 where capped)", 0, 100),
        Score("efficiency_capped", "hours slept exceeded the time in bed and were capped", kind="bool"),
        Score("poor_sleeper", "global > 5 (Buysse 1989)", kind="bool"),
    ),
    options=(
        Option(
            "duration",
            ("half_open", "literal"),
            "half_open",
            "C3 bands: half_open >= 7 h -> 0, [6, 7) -> 1; literal > 7 h -> 0, [6, 7] -> 1 "
            "(they differ only at exactly 7 h)",
        ),
        Option(
            "efficiency",
            ("inclusive", "rounded"),
            "inclusive",
            "C4 bands: inclusive >= 85 / >= 75 / >= 65 %; rounded: round the percentage to a "
            "whole number (half up) first, then the same bands",
        ),
        Option(
            "sleep_exceeds_bed",
            ("reject", "cap"),
            "reject",
            "hours slept > time in bed: reject the respondent, or cap the efficiency at 100 %",
        ),
    ),
    notes=(
        "A blank 5j counts 0; any other missing item leaves its component and the global score "
        "missing (no imputation). A time in bed of 0 is rejected."
    ),
)

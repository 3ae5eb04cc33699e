"""SF-36 Health Survey: 8 scales (0-100) and the norm-based PCS/MCS summaries.

Items ``"1"`` .. ``"36"`` in the standard order (item 1 = Q1 general health, 2 = Q2 health
transition, 3-12 = Q3a-j, 13-16 = Q4a-d, 17-19 = Q5a-c, 20 = Q6, 21 = Q7, 22 = Q8,
23-31 = Q9a-i, 32 = Q10, 33-36 = Q11a-d). Scores ``PF RP BP GH VT SF RE MH`` (0-100, higher =
better health) and ``PCS``, ``MCS`` (norm-based, mean 50 and SD 10 in the norm population).

Options (keyword-only, see docs/instruments/sf36.md):

* ``version="v1"`` (default) or ``"v2"``: the form's response sets. v1 role items (13-19) are
  1 = yes (limited), 2 = no; v2 role items 1-5; vitality/mental health items (23-31) have six
  levels in v1 and five in v2. Each item is checked against the range of the chosen version.
* ``method="ware"`` (default; QualityMetric/Ware "standard" scoring: recalibrated general
  health item 1, conditional bodily pain recode, half-scale missing rule) or ``"rand"``
  (RAND-36 1.0: every item recoded linearly to 0-100, a scale is the mean of its answered
  items with no minimum). RAND-36 exists only for the v1 item set, so ``method="rand"`` with
  ``version="v2"`` raises :class:`~ketapain.errors.InstrumentError`. RAND-36 defines no
  PCS/MCS, so with ``method="rand"`` the norm-based outputs are None.
* ``norms="1998"`` (default; US 1998 general population, SF-36v2 standard recall), ``"1990"``
  (US 1990, the v1 manual's norms) or ``"1998-acute"`` (SF-36v2 acute, 1-week recall); every
  set is combined with the US 1990 factor score coefficients. The norm sets are data
  (``data/sf36_norms.csv``), so other countries' norms can be added. The default pairing
  for v1 answers, v1 + 1998 norms, is an approximation (the v1 role items are dichotomous);
  use ``norms="1990"`` to reproduce the v1 manual.

Missing items: a scale with fewer answered items than its method allows (Ware: half of its
items; RAND: one) raises :class:`~ketapain.errors.InstrumentError` by default
(``incomplete="error"``), naming the scale, its unanswered items and the rule; with
``incomplete="missing"`` the scale is None, and so are PCS and MCS, which need all 8 scales.

Report columns: ``n_missing`` (scored items left blank; item 2 is not scored), ``n_imputed``
(blank items inside a scale that was scored, i.e. filled with the respondent's mean of the
answered items of that scale — explicitly by Ware's half-scale rule and bodily-pain rule,
implicitly by RAND's mean of answered items) and the scale T-scores ``PF_T`` .. ``MH_T``
(50 + 10 z under the chosen norms).

Examples
--------
The response vector of the SF36HealthSurvey.jl test suite (v1, Ware, 1990 norms):

>>> from ketapain.instruments import score
>>> answers = [1, 2, 3, 2, 3, 2, 3, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 3,
...            3, 2, 3, 2, 1, 2, 1, 2, 1, 2, 3, 2, 1, 1, 2, 3]
>>> s = score("sf36", {str(i): v for i, v in enumerate(answers, start=1)}, norms="1990")
>>> s["PF"], s["BP"], s["GH"], s["MH"]
(55.0, 62.0, 55.0, 40.0)
>>> round(s["PCS"], 5), round(s["MCS"], 5)
(44.4028, 32.31105)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ketapain.errors import InstrumentError
from ketapain.instruments._sf36_norms import SCALES, norm_set, norm_set_names
from ketapain.instruments._spec import (
    Instrument,
    Item,
    Option,
    Requirement,
    Score,
    respondent,
)

__all__ = ["INSTRUMENT"]

NAME = "sf36"
KEYS: tuple[str, ...] = tuple(str(i) for i in range(1, 37))

# Items of each scale (standard numbering), in SCALES order.
SCALE_ITEMS: dict[str, tuple[int, ...]] = {
    "PF": (3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
    "RP": (13, 14, 15, 16),
    "BP": (21, 22),
    "GH": (1, 33, 34, 35, 36),
    "VT": (23, 27, 29, 31),
    "SF": (20, 32),
    "RE": (17, 18, 19),
    "MH": (24, 25, 26, 28, 30),
}
SCORED_ITEMS: tuple[int, ...] = tuple(sorted(i for items in SCALE_ITEMS.values() for i in items))
ROLE_ITEMS = tuple(range(13, 20))

# ---------------------------------------------------------------------------------------------
# Recode tables: row = item (1..36, row 0 unused), column = raw answer 0..6 (0 = missing).
# A NaN entry for a raw value >= 1 means the value is not allowed in that version.
_NAN = np.nan


def _table(recodes: Mapping[int, Mapping[int, float]]) -> np.ndarray:
    out = np.full((37, 7), _NAN)
    for item, mapping in recodes.items():
        for raw, value in mapping.items():
            out[item, raw] = value
    out.setflags(write=False)
    return out


def _as_is(n: int) -> dict[int, float]:
    return {k: float(k) for k in range(1, n + 1)}


def _reversed(n: int) -> dict[int, float]:
    return {k: float(n + 1 - k) for k in range(1, n + 1)}


def _linear(n: int, *, reverse: bool) -> dict[int, float]:
    """RAND-36: 1..n spread evenly over 0..100 (1 -> 100 when ``reverse``)."""
    step = 100.0 / (n - 1)
    return {k: (n - k) * step if reverse else (k - 1) * step for k in range(1, n + 1)}


def _ware_table(version: str) -> np.ndarray:
    """Ware/QualityMetric item recodes (higher = better), docs/instruments/scoring-notes.md section 6."""
    role = 2 if version == "v1" else 5
    vtmh = 6 if version == "v1" else 5
    rec: dict[int, Mapping[int, float]] = {
        1: {1: 5.0, 2: 4.4, 3: 3.4, 4: 2.0, 5: 1.0},  # GH1 recalibrated
        2: _as_is(5),  # health transition: validated, not scored
        20: _reversed(5),
        32: _as_is(5),
        33: _as_is(5),
        34: _reversed(5),
        35: _as_is(5),
        36: _reversed(5),
        # Bodily pain: validity only here; the conditional recode is done in _ware_bp.
        21: _as_is(6),
        22: _as_is(5),
    }
    rec.update({i: _as_is(3) for i in SCALE_ITEMS["PF"]})
    rec.update({i: _as_is(role) for i in ROLE_ITEMS})
    rec.update({i: _reversed(vtmh) for i in (23, 27, 26, 30)})
    rec.update({i: _as_is(vtmh) for i in (29, 31, 24, 25, 28)})
    return _table(rec)


def _rand_table() -> np.ndarray:
    """RAND-36 1.0 item recodes to 0-100 (Hays, Sherbourne & Mazel 1993); v1 items only."""
    rec: dict[int, Mapping[int, float]] = {}
    rec.update({i: _linear(5, reverse=True) for i in (1, 2, 20, 22, 34, 36)})
    rec.update({i: _linear(3, reverse=False) for i in SCALE_ITEMS["PF"]})
    rec.update({i: _linear(2, reverse=False) for i in ROLE_ITEMS})
    rec.update({i: _linear(6, reverse=True) for i in (21, 23, 26, 27, 30)})
    rec.update({i: _linear(6, reverse=False) for i in (24, 25, 28, 29, 31)})
    rec.update({i: _linear(5, reverse=False) for i in (32, 33, 35)})
    return _table(rec)


_WARE = {"v1": _ware_table("v1"), "v2": _ware_table("v2")}
_RAND = _rand_table()

# Ware bodily pain (items 21 = Q7 intensity, 22 = Q8 interference), indexed by raw answer.
_BP21 = np.array([_NAN, 6.0, 5.4, 4.2, 3.1, 2.2, 1.0])  # item 21, whether or not 22 is answered
_BP22_WITH_21 = np.array([_NAN, _NAN, 4.0, 3.0, 2.0, 1.0, _NAN])  # 22 = 1 handled apart (6 or 5)
_BP22_ALONE = np.array([_NAN, 6.0, 4.75, 3.5, 2.25, 1.0, _NAN])  # item 22 when 21 is blank


def _allowed_text(version: str, item: int) -> str:
    hi = int(np.nanmax(_WARE[version][item, 1:]))
    return f"an integer 1..{hi} in SF-36 {version}"


# ---------------------------------------------------------------------------------------------
def _check_version(idx: np.ndarray, items: pd.DataFrame, version: str) -> None:
    """Reject answers allowed by the widest declared range but not by ``version``."""
    present = idx > 0
    invalid = present & np.isnan(_WARE[version][np.arange(1, 37)[None, :], idx])
    if not invalid.any():
        return
    col = int(np.flatnonzero(invalid.any(axis=0))[0])
    pos = int(np.flatnonzero(invalid[:, col])[0])
    place = respondent(items, pos)
    raise InstrumentError(
        f"{NAME}{place}: item {col + 1} = {idx[pos, col]} is out of range for version={version!r}; "
        f"allowed: {_allowed_text(version, col + 1)}"
    )


def _ware_bp(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ware's conditional bodily-pain recode: (item 21, item 22) recoded, NaN if both blank.

    Both answered: 21 -> 6, 5.4, 4.2, 3.1, 2.2, 1; 22 -> 6 if 22 = 1 and 21 = 1, 5 if 22 = 1 and
    21 > 1, else 2 -> 4, 3 -> 3, 4 -> 2, 5 -> 1. Only 21: 22 takes 21's recoded value. Only 22:
    22 -> 6, 4.75, 3.5, 2.25, 1 and 21 takes that value.
    """
    x21, x22 = idx[:, 20], idx[:, 21]
    has21, has22 = x21 > 0, x22 > 0
    r21_own = _BP21[x21]
    r22_alone = _BP22_ALONE[x22]
    r22_with = np.where(x22 == 1, np.where(x21 == 1, 6.0, 5.0), _BP22_WITH_21[x22])
    r21 = np.where(has21, r21_own, r22_alone)
    r22 = np.where(has22, np.where(has21, r22_with, r22_alone), r21_own)
    return r21, r22


def _score(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    """Score every respondent at once (the framework has validated the widest item ranges).

    Notes
    -----
    Ware: recode (tables above; bodily pain by :func:`_ware_bp`), score a scale when at least
    half its items are answered, fill each blank with the mean of the answered recoded items,
    then ``100 * (raw - min) / (max - min)``. RAND: ``mean`` of the answered 0-100 recodes.
    Norm-based (Ware only): ``z = (scale - mean) / sd``, ``T = 50 + 10 z``,
    ``PCS = 50 + 10 * z @ pcs``, ``MCS = 50 + 10 * z @ mcs`` (NaN unless all 8 scales).
    """
    version, method = options["version"], options["method"]
    if method == "rand" and version != "v1":
        raise InstrumentError(
            f"{NAME}: method='rand' (RAND-36 1.0) scores the v1 item set only, not version={version!r}; "
            "allowed: method='ware' with version='v2', or version='v1' with either method"
        )
    values = items.loc[:, list(KEYS)].to_numpy(dtype=float)
    idx = np.nan_to_num(values, nan=0.0).astype(np.intp)  # validated integers 1..6; 0 = blank
    _check_version(idx, items, version)
    n = len(items)
    cols = np.arange(1, 37)[None, :]
    table = _WARE[version] if method == "ware" else _RAND
    recoded = table[cols, idx]  # (n, 36), NaN = blank
    if method == "ware":
        recoded[:, 20], recoded[:, 21] = _ware_bp(idx)

    scales = np.full((n, len(SCALES)), np.nan)
    n_imputed = np.zeros(n, dtype=np.int64)
    for j, name in enumerate(SCALES):  # 8 scales, each vectorised over respondents
        members = [i - 1 for i in SCALE_ITEMS[name]]
        k = len(members)
        answered = (idx[:, members] > 0).sum(axis=1)
        block = recoded[:, members]
        filled = (~np.isnan(block)).sum(axis=1)  # = answered, except BP whose pair rule fills both
        total = np.nansum(block, axis=1)
        if method == "ware":
            # Half-scale rule: >= half the items answered; blanks take the mean of the answered
            # recoded items (the BP pair rule above has already filled its blank item).
            ok = 2 * answered >= k
            with np.errstate(invalid="ignore", divide="ignore"):
                raw = np.where(filled == k, total, total + (k - filled) * total / filled)
            lo, hi = _ware_raw_range(version, name)
            scales[:, j] = np.where(ok, 100.0 * (raw - lo) / (hi - lo), np.nan)
        else:
            ok = answered > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                scales[:, j] = np.where(ok, total / answered, np.nan)
        n_imputed += np.where(ok, k - answered, 0)

    out = {name: scales[:, j] for j, name in enumerate(SCALES)}
    if method == "ware":
        ns = norm_set(options["norms"])
        z = (scales - ns.mean) / ns.sd
        pcs, mcs = 50.0 + 10.0 * (z @ ns.pcs), 50.0 + 10.0 * (z @ ns.mcs)  # NaN unless all 8 scales
        t = 50.0 + 10.0 * z
    else:
        pcs, mcs = np.full(n, np.nan), np.full(n, np.nan)  # RAND-36 1.0 defines no PCS/MCS
        t = np.full_like(scales, np.nan)
    out["PCS"], out["MCS"] = pcs, mcs
    out["n_missing"] = (idx[:, [i - 1 for i in SCORED_ITEMS]] == 0).sum(axis=1).astype(np.int64)
    out["n_imputed"] = n_imputed
    out.update({f"{name}_T": t[:, j] for j, name in enumerate(SCALES)})
    return pd.DataFrame(out, index=items.index)


def _ware_raw_range(version: str, scale: str) -> tuple[float, float]:
    """(min, max) of a scale's raw sum under Ware scoring, from the recode table."""
    if scale == "BP":
        return 2.0, 12.0
    rows = _WARE[version][list(SCALE_ITEMS[scale]), 1:]
    return float(np.nanmin(rows, axis=1).sum()), float(np.nanmax(rows, axis=1).sum())


# ---------------------------------------------------------------------------------------------
_LABELS: dict[int, str] = {
    1: "GH (Q1): self-rated general health",
    2: "HT (Q2): health now compared with one year ago (not in any scale)",
    3: "PF (Q3a): limitation in vigorous activities",
    4: "PF (Q3b): limitation in moderate activities",
    5: "PF (Q3c): limitation lifting or carrying shopping",
    6: "PF (Q3d): limitation climbing several flights of stairs",
    7: "PF (Q3e): limitation climbing one flight of stairs",
    8: "PF (Q3f): limitation bending or kneeling",
    9: "PF (Q3g): limitation walking a long distance",
    10: "PF (Q3h): limitation walking a medium distance",
    11: "PF (Q3i): limitation walking a short distance",
    12: "PF (Q3j): limitation in self-care (washing, dressing)",
    13: "RP (Q4a): physical health - less time on work or activities",
    14: "RP (Q4b): physical health - achieved less",
    15: "RP (Q4c): physical health - limited in kind of work",
    16: "RP (Q4d): physical health - difficulty performing work",
    17: "RE (Q5a): emotional problems - less time on work or activities",
    18: "RE (Q5b): emotional problems - achieved less",
    19: "RE (Q5c): emotional problems - less careful work",
    20: "SF (Q6): extent health interfered with social activities",
    21: "BP (Q7): bodily pain intensity",
    22: "BP (Q8): pain interference with normal work",
    23: "VT (Q9a): energy, positive wording",
    24: "MH (Q9b): nervousness, negative wording",
    25: "MH (Q9c): severe low mood, negative wording",
    26: "MH (Q9d): calm, positive wording",
    27: "VT (Q9e): energy level, positive wording",
    28: "MH (Q9f): low mood, negative wording",
    29: "VT (Q9g): exhaustion, negative wording",
    30: "MH (Q9h): happiness, positive wording",
    31: "VT (Q9i): tiredness, negative wording",
    32: "SF (Q10): time health interfered with social activities",
    33: "GH (Q11a): falls ill more easily, negative wording",
    34: "GH (Q11b): as healthy as others, positive wording",
    35: "GH (Q11c): expects health to worsen, negative wording",
    36: "GH (Q11d): health excellent, positive wording",
}
# Widest range over v1 and v2 (the framework checks this; _check_version narrows it).
_WIDEST = {i: int(max(np.nanmax(_WARE["v1"][i, 1:]), np.nanmax(_WARE["v2"][i, 1:]))) for i in range(1, 37)}

def _half(k: int) -> int:
    return (k + 1) // 2  # Ware's half-scale rule: 2 x answered >= k


def _scale_needs(scale: str) -> Requirement:
    keys = tuple(str(i) for i in SCALE_ITEMS[scale])
    k = len(keys)

    def needs(options: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
        if options["method"] == "rand":
            return keys, f"needs at least 1 of its {k} items (method='rand': mean of the answered items)"
        return keys, f"needs at least {_half(k)} of its {k} items (method='ware': half-scale rule)"

    return needs


def _scale_score(scale: str, doc: str, label: str) -> Score:
    keys = tuple(str(i) for i in SCALE_ITEMS[scale])
    k = len(keys)
    rule = f"needs at least half of its items, {_half(k)} of {k} (method='ware'), or 1 of {k} (method='rand')"
    return Score(scale, doc, 0, 100, items=keys, rule=rule, needs=_scale_needs(scale), label=label)


#: Report labels of the scales: the scale names of the published scoring manuals.
_SCALE_LABELS = {
    "PF": "physical functioning", "RP": "role physical", "BP": "bodily pain", "GH": "general health",
    "VT": "vitality", "SF": "social functioning", "RE": "role emotional", "MH": "mental health",
}

_SCALE_DOCS = {
    "PF": "physical functioning, 0-100 (items 3-12)",
    "RP": "role limitations due to physical health, 0-100 (items 13-16)",
    "BP": "bodily pain, 0-100, higher = less pain (items 21-22)",
    "GH": "general health, 0-100 (items 1, 33-36)",
    "VT": "vitality (energy/fatigue), 0-100 (items 23, 27, 29, 31)",
    "SF": "social functioning, 0-100 (items 20, 32)",
    "RE": "role limitations due to emotional problems, 0-100 (items 17-19)",
    "MH": "mental health (emotional well-being), 0-100 (items 24-26, 28, 30)",
}

INSTRUMENT = Instrument(
    name=NAME,
    label="SF-36",
    title="SF-36 Health Survey (v1 / SF-36v2; Ware-QualityMetric or RAND-36 scoring)",
    reference=(
        "Ware JE, Sherbourne CD. Med Care 1992;30:473-83; Ware JE et al. SF-36 Health Survey Manual and "
        "Interpretation Guide, 1993; Ware JE, Kosinski M, Keller SD. SF-36 Physical and Mental Health Summary "
        "Scales: A User's Manual, 1994; Ware JE, Kosinski M, Dewey JE. How to Score Version 2 of the SF-36 Health "
        "Survey, 2000; Hays RD, Sherbourne CD, Mazel RM. Health Econ 1993;2:217-27 (RAND-36 1.0)."
    ),
    licence=(
        "SF-36 and SF-36v2 are trademarks of, and licensed by, QualityMetric (Optum), including translations; "
        "a licence is needed to use the forms and the norm-based scoring. RAND-36 1.0 (same items as SF-36 v1) "
        "is free to use with the credit 'developed at RAND as part of the Medical Outcomes Study'. "
        "No item or response wording is stored here."
    ),
    items=tuple(
        Item(str(i), _LABELS[i], minimum=1, maximum=_WIDEST[i], scored=i != 2) for i in range(1, 37)
    ),
    scores=(
        *(_scale_score(s, _SCALE_DOCS[s], _SCALE_LABELS[s]) for s in SCALES),
        Score("PCS", "physical component summary, 50 + 10 * sum(z * PCS coefficient); None unless all 8 scales "
              "are scored, and with method='rand'", label="physical component summary"),
        Score("MCS", "mental component summary, 50 + 10 * sum(z * MCS coefficient); None unless all 8 scales "
              "are scored, and with method='rand'", label="mental component summary"),
    ),
    reports=(
        Score("n_missing", "scored items left blank (0-35; item 2 is not scored)", 0, 35, kind="count"),
        Score("n_imputed", "blank items in scored scales, given the mean of the answered items of their scale",
              0, 35, kind="count"),
        *(Score(f"{s}_T", f"{s} T-score, 50 + 10 (score - norm mean) / norm SD; None with method='rand'")
          for s in SCALES),
    ),
    options=(
        Option("version", ("v1", "v2"), "v1",
               "form version: v1 (role items yes/no, 6-level vitality/mental health) or v2 (5 levels)"),
        Option("method", ("ware", "rand"), "ware",
               "ware = QualityMetric/Ware scoring (recalibrated GH1 and BP, half-scale rule); "
               "rand = RAND-36 1.0 (linear items, mean of answered items; v1 only; no PCS/MCS)"),
        Option("norms", norm_set_names(), "1998",
               "norm set for T-scores and PCS/MCS (data/sf36_norms.csv), all with the US 1990 factor score "
               "coefficients: 1998 = US 1998 (SF-36v2 standard), 1990 = US 1990 (SF-36 v1 manual), "
               "1998-acute = US 1998 SF-36v2 acute form"),
    ),
    notes=(
        "Defaults: version='v1', method='ware', norms='1998'. v1 answers with 1998 norms are an approximation "
        "(the 1998 norms were derived from SF-36v2, whose role items have 5 levels); norms='1990' reproduces the "
        "v1 manual. Out-of-range answers are rejected, not set to missing as in the SAS code."
    ),
    scorer=_score,
)

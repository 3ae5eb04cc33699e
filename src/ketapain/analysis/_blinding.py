r"""Blinding: Bang's blinding index per arm from the end-of-study guesses of the treatment order.

The ``blinding`` instrument holds, per patient, items ``period_1`` .. ``period_k`` coded 0 =
don't know, 1 = placebo, 2 = active. A guess is *correct* when it names the kind of arm given
in that period (placebo arm -> 1, active arm -> 2) and *incorrect* when it names the other kind.

Notes
-----
Bang, Ni & Davis (2004), for one arm with ``n`` guesses (don't know included), of which
:math:`n_c` correct and :math:`n_i` incorrect, :math:`p_c = n_c / n`, :math:`p_i = n_i / n`:

.. math:: BI = p_c - p_i, \qquad
          \widehat{\mathrm{Var}}(BI) = \frac{p_c (1 - p_c) + p_i (1 - p_i) + 2 p_c p_i}{n},

the multinomial variance of the difference; CI :math:`BI \pm z_{1-\alpha/2} SE`. BI = 1: every
guess correct (unblinded); 0: guesses no better than chance or all "don't know"; -1: every
guess wrong. Bang H, Ni L, Davis CE. Assessment of blinding in clinical trials. *Control Clin
Trials* 2004;25:143-56.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain._options import CONF_LEVEL, check_option
from ketapain.data import TrialData
from ketapain.errors import DataError
from ketapain.protocol import Protocol

from ._common import protocol_order

__all__ = ["BLINDING_COLUMNS", "GUESS_CODES", "bang_index", "blinding"]

GUESS_CODES = {0: "dont_know", 1: "placebo", 2: "active"}
BLINDING_COLUMNS = ("treatment", "n", "n_correct", "n_incorrect", "n_dont_know", "bi", "se", "ci_low", "ci_high",
                    "conf_level")


def bang_index(n_correct: Any, n_incorrect: Any, n: Any, *, conf_level: float = 0.95) -> tuple[Any, Any, Any, Any]:
    """Bang's blinding index, its SE and CI (vectorised over arrays).

    Examples
    --------
    12 guesses: 6 correct, 2 incorrect, 4 don't know:

    >>> bi, se, lo, hi = bang_index(6, 2, 12)
    >>> round(float(bi), 4), round(float(se), 4)
    (0.3333, 0.2152)
    """
    check_option("conf_level", conf_level, CONF_LEVEL)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        pc = np.asarray(n_correct, dtype=float) / n
        pi = np.asarray(n_incorrect, dtype=float) / n
        bi = pc - pi
        se = np.sqrt((pc * (1 - pc) + pi * (1 - pi) + 2 * pc * pi) / n)
    z = sps.norm.ppf(0.5 + conf_level / 2)
    return bi, se, bi - z * se, bi + z * se


def blinding(data: TrialData, protocol: Protocol) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(blinding frame, blinding_overall mapping)``; ``recorded`` False when no guesses exist."""
    q = data.questionnaires
    q = q[q["instrument"].astype(str).str.lower() == "blinding"]
    if q.empty:
        return pd.DataFrame(columns=list(BLINDING_COLUMNS)), {
            "recorded": False, "note": "end-of-study treatment guesses (instrument 'blinding') were not recorded"}
    bad = q["value"].notna() & ~q["value"].isin(list(GUESS_CODES))
    if bad.any():
        r = q[bad].iloc[0]
        raise DataError(f"questionnaires: blinding item {r['item']} of patient {r['patient_id']!r} = {r['value']:g}; "
                        "allowed: 0 (don't know), 1 (placebo), 2 (active)")
    item = q["item"].astype(str)
    period = pd.to_numeric(item.str.removeprefix("period_"), errors="coerce")
    if period.isna().any() or not item.str.startswith("period_").all():
        raise DataError(f"questionnaires: blinding item {item[period.isna()].iloc[0]!r} is not period_<k>")
    day = {v.name: v.day for v in protocol.visits}
    guesses = q.assign(period=period.astype("int64"), _d=q["visit"].map(day).fillna(np.inf)).sort_values("_d")
    guesses = guesses.drop_duplicates(["patient_id", "period"], keep="last").dropna(subset=["value"])
    guesses = guesses.merge(data.allocation[["patient_id", "period", "treatment"]], on=["patient_id", "period"])
    placebo = {a.code for a in protocol.arms if a.is_placebo}
    truth = np.where(guesses["treatment"].isin(placebo), 1, 2)
    g = guesses["value"].to_numpy(int)
    guesses = guesses.assign(correct=g == truth, incorrect=(g != 0) & (g != truth), dont_know=g == 0)
    per = guesses.groupby("treatment", as_index=False).agg(
        n=("value", "size"), n_correct=("correct", "sum"), n_incorrect=("incorrect", "sum"),
        n_dont_know=("dont_know", "sum"))
    conf = protocol.analysis.conf_level
    bi, se, lo, hi = bang_index(per["n_correct"], per["n_incorrect"], per["n"], conf_level=conf)
    per = per.assign(bi=bi, se=se, ci_low=lo, ci_high=hi, conf_level=conf)
    per = protocol_order(per, protocol, ("treatment",))[list(BLINDING_COLUMNS)]
    by_patient = guesses.groupby("patient_id")["dont_know"].agg(["all", "any"])
    n_pat = len(by_patient)
    overall = {
        "recorded": True,
        "n_patients": int(n_pat),
        "n_unable_to_guess": int(by_patient["all"].sum()),
        "pct_unable_to_guess": 100.0 * float(by_patient["all"].mean()) if n_pat else None,
        "n_any_dont_know": int(by_patient["any"].sum()),
        "codes": {str(k): v for k, v in GUESS_CODES.items()},
    }
    return per, overall

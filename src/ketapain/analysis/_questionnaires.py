"""Table 3: every numeric score of every instrument in the questionnaires table, at baseline
and after each arm, with the crossover model's omnibus P across arms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketapain.data import TrialData
from ketapain.errors import InstrumentError
from ketapain.instruments import get_instrument, score_frame
from ketapain.protocol import Protocol
from ketapain.stats import describe_by

from ._common import BASELINE, reference_arm, visit_periods
from ._fits import FitRows, fit_rows
from ._warnings import WarningLog

__all__ = ["BLINDING", "SCORE_COLUMNS", "questionnaires"]

#: Instrument holding the end-of-study treatment guesses (analysed in the blinding section).
BLINDING = "blinding"
SCORE_COLUMNS = ("instrument", "score", "patient_id", "visit", "period", "timepoint", "value")


def _instrument_order(protocol: Protocol, present: set[str]) -> list[str]:
    order: list[str] = []
    for v in sorted(protocol.visits, key=lambda v: v.day):
        order.extend(i for i in v.questionnaires if i in present and i not in order)
    return order + sorted(present - set(order))


def questionnaires(data: TrialData, protocol: Protocol, log: WarningLog) -> tuple[pd.DataFrame, pd.DataFrame, list[FitRows]]:
    """``(questionnaire_scores, table3, fit rows)``; columns in docs/analysis.md.

    Scores come from :func:`ketapain.instruments.score_frame` with ``incomplete="missing"``
    (a score the manual's missing-item rule leaves undefined is NaN and counted in
    ``n_missing``). Visits map to time points from the protocol's visit days
    (:func:`visit_periods`): the baseline visit is ``"baseline"``; the visit ending period
    ``k`` is the arm the patient received in period ``k``. Rows of other visits, and of
    instruments no visit of the protocol lists, are left out with a warning.
    """
    q = data.questionnaires
    q = q[q["instrument"].astype(str).str.lower() != BLINDING]
    empty_scores = pd.DataFrame(columns=list(SCORE_COLUMNS))
    if q.empty:
        return empty_scores, pd.DataFrame(), []
    baseline, ends = visit_periods(protocol)
    known = set(ends) | ({baseline} if baseline else set())
    other = sorted(set(q["visit"].astype(str)) - known)
    if other:
        log.note("rows_left_out", f"visit(s) {', '.join(map(repr, other))} are neither the baseline visit "
                 f"{baseline!r} nor an end-of-period visit of the protocol; their rows are left out of Table 3",
                 section="questionnaires")
        q = q[q["visit"].astype(str).isin(known)]
    listed = {i for v in protocol.visits for i in v.questionnaires}
    unlisted = sorted(set(q["instrument"].astype(str).str.lower()) - listed)
    if unlisted:
        log.note("rows_left_out", f"instrument(s) {', '.join(map(repr, unlisted))} are listed by no visit of the "
                 "protocol; their rows are left out of Table 3", section="questionnaires")
        q = q[~q["instrument"].astype(str).str.lower().isin(unlisted)]
    parts = []
    for name in _instrument_order(protocol, set(q["instrument"].astype(str).str.lower())):
        try:
            inst = get_instrument(name)
        except InstrumentError as exc:
            log.note("rows_left_out", f"instrument {name!r} left out: {exc}", section="questionnaires", outcome=name)
            continue
        scores = [s.name for s in inst.scores if s.kind == "number"]
        with log.catch(section="questionnaires", outcome=name):
            scored = score_frame(inst, q, incomplete="missing")
        long = scored.melt(id_vars=["patient_id", "visit"], value_vars=scores, var_name="score", value_name="value")
        long.insert(0, "instrument", name)
        long["value"] = pd.to_numeric(long["value"], errors="coerce").astype("float64")
        long["_rank"] = long["score"].map({s: i for i, s in enumerate(scores)})
        parts.append(long)
    if not parts:
        return empty_scores, pd.DataFrame(), []
    scores_frame = pd.concat(parts, ignore_index=True)
    scores_frame["period"] = scores_frame["visit"].map(ends).astype("Int64")
    alloc = data.allocation.set_index(["patient_id", "period"])
    key = pd.MultiIndex.from_arrays([scores_frame["patient_id"], scores_frame["period"].astype("float64")
                                     .fillna(-1).astype("int64")])
    treatment = alloc["treatment"].reindex(key).to_numpy()
    scores_frame["timepoint"] = np.where(scores_frame["visit"] == baseline, BASELINE, treatment)
    unmatched = scores_frame["period"].notna() & pd.isna(scores_frame["timepoint"])
    if unmatched.any():
        log.note("rows_left_out", f"{int(unmatched.sum())} score(s) of an end-of-period visit without an "
                 "allocation row for that patient and period are left out", section="questionnaires")
        scores_frame = scores_frame[~unmatched]
    inst_rank = {n: i for i, n in enumerate(dict.fromkeys(scores_frame["instrument"]))}
    scores_frame = scores_frame.assign(_i=scores_frame["instrument"].map(inst_rank)).sort_values(
        ["_i", "_rank", "patient_id", "visit"], kind="stable").drop(columns=["_i"])

    tp_rank = {BASELINE: -1, **{c: i for i, c in enumerate(protocol.arm_codes)}}
    table = describe_by(scores_frame, value="value", by=["instrument", "score", "timepoint"])
    ranks = scores_frame.drop_duplicates(["instrument", "score"])[["instrument", "score", "_rank"]]
    table = table.merge(ranks, on=["instrument", "score"]).assign(
        _i=lambda f: f["instrument"].map(inst_rank), _t=lambda f: f["timepoint"].map(tp_rank))
    table = table.sort_values(["_i", "_rank", "_t"], kind="stable").drop(columns=["_i", "_rank", "_t"]).reset_index(drop=True)
    scores_frame = scores_frame.drop(columns=["_rank"])[list(SCORE_COLUMNS)].reset_index(drop=True)

    seq = data.allocation.drop_duplicates("patient_id").set_index("patient_id")["sequence"]
    fits = []
    options = protocol.analysis.fit_options()
    post = scores_frame[scores_frame["timepoint"] != BASELINE]
    for (inst_name, score), rows in post.groupby(["instrument", "score"], sort=False):
        frame = pd.DataFrame({"patient_id": rows["patient_id"].to_numpy(), "period": rows["period"].astype("int64").to_numpy(),
                              "treatment": rows["timepoint"].to_numpy(), "value": rows["value"].to_numpy(),
                              "sequence": rows["patient_id"].map(seq).to_numpy()})
        if frame["value"].notna().sum() == 0 or frame.dropna(subset=["value"])["treatment"].nunique() < 2:
            log.note("no_model", "fewer than two arms with values, no model", section="table3",
                     outcome=f"{inst_name}.{score}")
            continue
        fits.append(fit_rows(frame, section="table3", outcome=f"{inst_name}.{score}", column="value",
                             model=protocol.analysis.model, options=options, alpha=protocol.analysis.alpha,
                             ref=reference_arm(protocol), log_rule=True, log=log))
    return scores_frame, table, fits

"""Stata export: the analysis datasets as ``.dta`` files with variable and value labels, and a
generated do-file that fits the protocol's crossover models (docs/interop-stata.md)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ketapain._atomic import check_destination, folder_write
from ketapain.analysis import AnalysisResults, reference_arm, visit_periods
from ketapain.data import TrialData
from ketapain.errors import DataError
from ketapain.operations import protocol_sequences, sequence_label
from ketapain.protocol import Protocol

from ._adam import endpoint_aucs
from ._sdtm_qs import scored

__all__ = ["AUC_FILE", "DO_FILE", "SCORES_FILE", "stata_frames", "write_stata"]

AUC_FILE = "ketapain_auc.dta"
SCORES_FILE = "ketapain_scores.dta"
DO_FILE = "ketapain_models.do"
_DF = {"kenward-roger": "kroger", "satterthwaite": "satterthwaite"}


def stata_frames(data: TrialData, protocol: Protocol, *, results: AnalysisResults | None = None,
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[int, str]], dict[str, str]]:
    """``(auc, scores, value labels, variable labels)`` as written by :func:`write_stata`.

    ``auc``: one row per patient x period with ``patient`` (1..n), ``patient_id``,
    ``period``, ``sequence``, ``treatment``, ``carryover`` (value-labelled integers) and one
    column per protocol endpoint (its AUC) plus ``nimp_<endpoint>`` (imputed days).
    ``scores``: one row per instrument x score x patient x visit.
    """
    if not isinstance(data, TrialData):
        raise DataError(f"data must be a TrialData, got {type(data).__name__}")
    if results is not None and not isinstance(results, AnalysisResults):
        raise DataError(f"results must be an AnalysisResults, got {type(results).__name__}")
    arms = list(protocol.arm_codes)
    alloc = data.allocation.sort_values(["patient_id", "period"], kind="stable").reset_index(drop=True)
    bad = ~alloc["treatment"].isin(arms)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"allocation row {i + 2}: treatment={alloc['treatment'].iloc[i]!r} is not an arm of "
                        f"protocol {protocol.study.id!r} (arms: {', '.join(arms)})")
    seqs = [sequence_label(s) for s in protocol_sequences(protocol)]
    seqs += sorted(set(alloc["sequence"]) - set(seqs))
    ids = sorted(data.patients["patient_id"])
    trt_code = {c: i for i, c in enumerate(arms, start=1)}
    ref = reference_arm(protocol)
    prev = alloc.groupby("patient_id")["treatment"].shift(1)
    # ketapain's coding (stats/_design.py): period 1 has no carry-over, coded as the reference arm
    carry = prev.where(prev.notna(), ref)
    auc_long = (results.patient_auc if results is not None else endpoint_aucs(data, protocol))
    names = [e.name for e in protocol.endpoints]
    wide = auc_long.pivot(index=["patient_id", "period"], columns="endpoint", values="auc").reindex(columns=names)
    nimp = auc_long.pivot(index=["patient_id", "period"], columns="endpoint", values="n_imputed").reindex(columns=names)
    key = pd.MultiIndex.from_frame(alloc[["patient_id", "period"]])
    auc = pd.DataFrame({
        "patient": alloc["patient_id"].map({p: i for i, p in enumerate(ids, start=1)}).astype("int32"),
        "patient_id": alloc["patient_id"].astype(object),
        "period": alloc["period"].astype("int8"),
        "sequence": alloc["sequence"].map({s: i for i, s in enumerate(seqs, start=1)}).astype("int8"),
        "treatment": alloc["treatment"].map(trt_code).astype("int8"),
        "carryover": carry.map(trt_code).astype("int8"),
    })
    for n in names:
        auc[n] = wide[n].reindex(key).to_numpy(dtype="float64")
    for n in names:
        auc[f"nimp_{n}"[:32]] = nimp[n].reindex(key).to_numpy(dtype="float64")
    value_labels = {"treatment": dict(enumerate(arms, start=1)), "carryover": dict(enumerate(arms, start=1)),
                    "sequence": dict(enumerate(seqs, start=1)),
                    "patient": dict(enumerate(ids, start=1))}
    info = {e.name: e for e in protocol.endpoints}
    labels = {"patient": "patient (numbered; value label = patient_id)", "patient_id": "patient identifier",
              "period": "treatment period (1 = first)", "sequence": "randomised sequence",
              "treatment": "treatment received in the period",
              "carryover": "treatment of the previous period (period 1: the reference arm)"}
    for n in names:
        e = info[n]
        labels[n] = f"AUC {e.value} d{e.window_day} {e.impute} (score-days)"[:80]
        labels[f"nimp_{n}"[:32]] = f"imputed diary days in {n}"[:80]
    # questionnaire scores
    q = data.questionnaires
    q = q[q["instrument"].str.lower() != "blinding"]
    baseline, ends = visit_periods(protocol)
    if results is not None:
        s = results.questionnaire_scores[["instrument", "score", "patient_id", "visit", "value"]]
    else:
        parts = [scored(q, n, kinds=("number",)).assign(instrument=n) for n in sorted(q["instrument"].unique())]
        s = (pd.concat(parts, ignore_index=True)[["instrument", "score", "patient_id", "visit", "value"]] if parts
             else pd.DataFrame(columns=["instrument", "score", "patient_id", "visit", "value"]))
        s = s[s["visit"].isin(set(ends) | {baseline})]
    s = s.reset_index(drop=True)
    period = s["visit"].map(ends)
    akey = alloc.set_index(["patient_id", "period"])["treatment"]
    trt = pd.Series(akey.reindex(pd.MultiIndex.from_arrays([s["patient_id"], period.fillna(-1).astype("int64")]))
                    .to_numpy(), index=s.index)
    scores = pd.DataFrame({
        "patient": s["patient_id"].map({p: i for i, p in enumerate(ids, start=1)}).astype("int32"),
        "patient_id": s["patient_id"].astype(object), "instrument": s["instrument"].astype(object),
        "score": s["score"].astype(object), "outcome": (s["instrument"] + "_" + s["score"]).astype(object),
        "visit": s["visit"].astype(object), "baseline": (s["visit"] == baseline).astype("int8"),
        "period": period.astype("float64"), "treatment": trt.map(trt_code).astype("float64"),
        "sequence": s["patient_id"].map(alloc.groupby("patient_id")["sequence"].first()).map(
            {q_: i for i, q_ in enumerate(seqs, start=1)}).astype("float64"),
        "value": s["value"].astype("float64"),
    })
    labels.update({"instrument": "questionnaire", "score": "score of the questionnaire",
                   "outcome": "instrument_score", "visit": "visit", "baseline": "1 = baseline visit",
                   "value": "score value"})
    return auc, scores, value_labels, labels


def write_stata(data: TrialData, protocol: Protocol, folder: str | os.PathLike[str], *,
                results: AnalysisResults | None = None, overwrite: bool = False) -> Path:
    """Write ``ketapain_auc.dta``, ``ketapain_scores.dta`` and ``ketapain_models.do``.

    Parameters
    ----------
    data, protocol
        The trial and its protocol.
    folder : path
        Destination folder, written atomically (temporary folder renamed into place); an
        existing non-empty folder is replaced only with ``overwrite=True`` and only if it
        holds nothing but these three files.
    results : AnalysisResults, optional
        Use their ``patient_auc`` and ``questionnaire_scores``; otherwise computed as the
        analysis does.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    DataError
        A treatment that is not an arm of the protocol; a destination that may not be
        replaced.

    Notes
    -----
    Stata 13 format (``version=117``, as the published analysis used Stata 13), variable
    labels and value labels for patient, treatment, sequence and carry-over (in both files
    where the variable exists: the scores have patient, treatment and sequence). The do-file
    fits, per endpoint, the paper's model (treatment + sequence [+ carry-over], random
    intercept per patient, REML) and the standard one (with period), then the omnibus test
    (``contrast``) and Sidak-adjusted pairwise comparisons (``pwcompare``).
    """
    auc, scores, value_labels, labels = stata_frames(data, protocol, results=results)
    path = Path(folder)
    _check_destination(path, overwrite=overwrite)
    with folder_write(path) as tmp:
        auc.to_stata(tmp / AUC_FILE, write_index=False, version=117,
                     variable_labels={k: v for k, v in labels.items() if k in auc.columns},
                     # pandas-stubs want dict[float, str] (invariant) per column; pandas takes the int codes as they are
                     value_labels={k: v for k, v in value_labels.items() if k in auc.columns},  # type: ignore[misc]
                     data_label=f"{protocol.study.id}: AUC endpoints per patient x period")
        scores.to_stata(tmp / SCORES_FILE, write_index=False, version=117,
                        variable_labels={k: v for k, v in labels.items() if k in scores.columns},
                        value_labels={k: v for k, v in value_labels.items() if k in scores.columns},  # type: ignore[misc]
                        data_label=f"{protocol.study.id}: questionnaire scores")
        (tmp / DO_FILE).write_text(do_file(protocol, auc), encoding="utf-8")
    return path


def _check_destination(path: Path, *, overwrite: bool) -> None:
    check_destination(path, overwrite=overwrite, ours=(AUC_FILE, SCORES_FILE, DO_FILE).__contains__, what="Stata export files")


def do_file(protocol: Protocol, auc: pd.DataFrame) -> str:
    """The do-file text: every model line names variables of ``ketapain_auc.dta``."""
    a = protocol.analysis
    ref = protocol.arm_codes.index(reference_arm(protocol)) + 1
    df = _DF.get(a.df_method)
    dfopt = f" dfmethod({df})" if df else ""
    level = f"{a.conf_level * 100:g}"
    out = [
        f"* {DO_FILE}: crossover models of study {protocol.study.id}, generated by ketapain.",
        "* Run it in the folder holding ketapain_auc.dta (Stata 14 or later for dfmethod()).",
        f"* Protocol settings: model = {a.model}, carry-over = {a.carryover}, df = {a.df_method},",
        f"* multiplicity = {a.multiplicity}, alpha = {a.alpha}, confidence level = {a.conf_level}.",
        ("* treatment, sequence and carryover are value-labelled integers; "
         f"ib{ref}. makes {reference_arm(protocol)} the reference."),
        "* carryover = treatment of the previous period; period 1 is coded as the reference arm,",
        "* as in ketapain (stats/_design.py), so its carry-over effects are differences from it.",
        "version 14",
        "clear all",
        "set more off",
        f"use \"{AUC_FILE}\", clear",
        "* one row per patient x period: patient (random intercept), period, sequence, treatment",
        "describe",
        "",
    ]
    fixed_paper = f"ib{ref}.treatment i.sequence"
    fixed_std = f"ib{ref}.treatment i.period i.sequence"
    carry = f" ib{ref}.carryover"
    for e in protocol.endpoints:
        y = e.name
        out += [
            f"* ---- {y} ({e.kind}): AUC of {e.value} to day {e.window_day}, imputation {e.impute}",
        ]
        if a.carryover in ("include", "test-drop"):
            out += [
                "* paper's model with first-order carry-over: REML, random intercept per patient",
                f"mixed {y} {fixed_paper}{carry} || patient:, reml{dfopt} level({level})",
                "* joint test of the carry-over effects"
                + ("; the protocol drops carry-over when P >= alpha" if a.carryover == "test-drop" else ""),
                "contrast carryover",
            ]
        out += [
            "* paper's model (Pickering et al. 2020): treatment + sequence, random intercept, REML",
            f"mixed {y} {fixed_paper} || patient:, reml{dfopt} level({level})",
            "* omnibus test of treatment (F test)",
            "contrast treatment",
            "* pairwise treatment differences with Sidak-adjusted P values and intervals",
            f"pwcompare treatment, mcompare(sidak) effects level({level})",
            "* intraclass correlation (between-patient share of the variance)",
            "estat icc",
            "* standard crossover model: treatment + period + sequence, random intercept, REML",
            f"mixed {y} {fixed_std} || patient:, reml{dfopt} level({level})",
            "contrast treatment",
            f"pwcompare treatment, mcompare(sidak) effects level({level})",
            "",
        ]
    out += [
        "* ---- questionnaire scores: one outcome at a time (the baseline visit has no treatment)",
        f"use \"{SCORES_FILE}\", clear",
        "* e.g. levelsof outcome, then for one of them:",
        "* mixed value " + fixed_paper + " if outcome == \"bpi_severity_mean\" & baseline == 0 || patient:, reml",
        "",
    ]
    return "\n".join(out)

"""CDISC ADaM from a TrialData and its Protocol: ADSL (one row per patient), ADAUC (BDS: the
protocol's AUC endpoints per patient x period) and ADQS (BDS: questionnaire scores), written
as SAS XPORT v5 files with a variable-metadata table, and read back.

The mapping is in docs/interop-cdisc.md.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ketapain.analysis import AnalysisResults, visit_periods
from ketapain.data import TrialData
from ketapain.errors import DataError, ImputationWarning
from ketapain.protocol import Endpoint, Impute, Protocol
from ketapain.stats import diary_auc

from ._define import define_xml
from ._sdtm import check_trial
from ._sdtm_context import column_or_blank, warn_blank
from ._sdtm_qs import qs_codes, score_description, scored
from ._sdtm_terms import sas_code
from ._xpt import (
    DatasetPackage,
    Var,
    build_dataset,
    make_package,
    read_package,
    write_package,
)

__all__ = ["AdamPackage", "auc_paramcds", "endpoint_aucs", "read_adam", "sas_date", "to_adam", "write_adam"]

_SAS_EPOCH = pd.Timestamp("1960-01-01")
_DTYPE = {"locf": "LOCF", "linear": "INTERP", "none": ""}


@dataclass(frozen=True, slots=True)
class AdamPackage(DatasetPackage):
    """ADaM datasets of one trial (ADSL, ADAUC, ADQS) with their variable metadata.

    Attributes are those of the SDTM package: ``study_id``, ``datasets`` (``package["ADAUC"]``
    gives a copy), ``labels`` and ``variables`` (``to_frame()``).

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> from ketapain.simulate import simulate_trial
    >>> import warnings
    >>> p = load_protocol("ketapain")
    >>> with warnings.catch_warnings(record=True) as caught:  # the simulated trial has its sites
    ...     warnings.simplefilter("always")
    ...     package = to_adam(simulate_trial(p, n_patients=6, seed=1), p)
    >>> sorted({str(w.message).split(" is blank")[0] for w in caught})
    []
    >>> package.names
    ('ADSL', 'ADAUC', 'ADQS')
    >>> package["ADAUC"]["PARAMCD"].unique().tolist()[:2]
    ['AUCAVD35', 'AUCAVD7']
    """


def sas_date(dates: Any) -> pd.Series:
    """SAS dates: days since 1960-01-01 as float (NaN when missing).

    >>> sas_date(pd.Series(pd.to_datetime(["1960-01-02", None]))).tolist()
    [1.0, nan]
    """
    d = pd.to_datetime(pd.Series(dates))
    return (d - _SAS_EPOCH).dt.days.astype("float64")


def auc_paramcds(protocol: Protocol) -> dict[str, str]:
    """Endpoint name -> PARAMCD: ``AUC`` + the first two letters of the diary item + ``D`` +
    the window day (``AUCAVD35``); ``AUCEP`` + position when that is longer than 8 characters
    or not unique.

    >>> from ketapain.protocol import load_protocol
    >>> auc_paramcds(load_protocol("ketapain"))["auc_night_pain_d35"]
    'AUCNID35'
    """
    cand = [f"AUC{sas_code(e.value)[:2]}D{e.window_day}" for e in protocol.endpoints]
    return {e.name: (c if len(c) <= 8 and cand.count(c) == 1 else f"AUCEP{i:02d}")
            for i, (e, c) in enumerate(zip(protocol.endpoints, cand, strict=True), start=1)}


def endpoint_aucs(data: TrialData, protocol: Protocol) -> pd.DataFrame:
    """AUC of every protocol endpoint per patient x period, as the analysis computes it.

    One :func:`ketapain.stats.diary_auc` call per (diary item, imputation) on the protocol's
    time axis, anchored at day 0 by ``allocation.pre_infusion_pain`` on the infusion axis
    (docs/analysis.md). Columns: ``endpoint, patient_id, period, auc, n_points, n_observed,
    n_imputed, n_missing``. An AUC that cannot be computed is NaN; the
    :class:`~ketapain.errors.ImputationWarning` of ``diary_auc`` is not repeated.
    """
    alloc = data.allocation
    anchor = alloc[["patient_id", "period", "pre_infusion_pain"]] if protocol.auc.time_axis == "infusion" else None
    parts = []
    groups: dict[tuple[str, Impute], list[Endpoint]] = {}
    for e in protocol.endpoints:
        groups.setdefault((e.value, e.impute), []).append(e)
    for (value, impute), endpoints in groups.items():
        with warnings.catch_warnings():
            # an AUC that cannot be computed is a missing AVAL in the dataset, not a caveat
            warnings.simplefilter("ignore", ImputationWarning)
            auc = diary_auc(data.diary, value=value, windows=sorted({e.window_day for e in endpoints}),
                            time_axis=protocol.auc.time_axis, impute=impute, anchor=anchor,
                            scale=protocol.diary.scale)
        names = pd.DataFrame({"endpoint": [e.name for e in endpoints], "window_day": [e.window_day for e in endpoints]})
        parts.append(names.merge(auc, on="window_day"))
    out = pd.concat(parts, ignore_index=True)
    return out[["endpoint", "patient_id", "period", "auc", "n_points", "n_observed", "n_imputed", "n_missing"]]


def to_adam(data: TrialData, protocol: Protocol, *, results: AnalysisResults | None = None,
            study_id: str | None = None) -> AdamPackage:
    """Map a trial to ADaM: ADSL, ADAUC and ADQS (ADaMIG 1.3 variables).

    Parameters
    ----------
    data : TrialData
        The trial; every allocation row needs its ``infusion_date``.
    protocol : Protocol
        Its protocol (arms, periods, endpoints, visits).
    results : AnalysisResults, optional
        Results of :func:`ketapain.analysis.run_analysis` on the same data: their
        ``patient_auc`` and ``questionnaire_scores`` are used as they are. Without them the
        AUCs are computed as the analysis does (:func:`endpoint_aucs`) and the scores with
        :func:`ketapain.instruments.score_frame` (``incomplete="missing"``).
    study_id : str, optional
        STUDYID; default the protocol's ``study.id`` in upper case.

    Returns
    -------
    AdamPackage

    Raises
    ------
    DataError
        As :func:`ketapain.interop.to_sdtm` (missing infusion dates, unknown treatments or
        sequences), or ``results`` that is not an AnalysisResults.

    Warns
    -----
    ConformanceWarning
        ADSL.SITEID or ADSL.RACE (ADaMIG 1.3: required) blank because ``patients.site_id`` /
        ``patients.race`` is missing, naming the subjects.

    Notes
    -----
    ADAUC: one record per endpoint (PARAMCD, :func:`auc_paramcds`) x patient x period;
    AVAL = the trapezoidal AUC in score-days (missing when it cannot be computed);
    DTYPE = ``LOCF`` (``INTERP`` for linear imputation) when at least one day of the window
    was imputed, NIMPDAY the number of imputed days. TRTP is the arm the sequence plans for
    the period, TRTA the arm received; CARRYOV the arm received in the previous period
    (blank in period 1). Dates (TRTSDT, APxxSDT, ...) are SAS dates (days since 1960-01-01).
    Period k runs from its infusion (APxxSDT) to the day before the next infusion (APxxEDT),
    so consecutive periods never share a day; the last period ends ``period_days`` after its
    infusion (the last diary day).
    """
    check_trial(data, protocol)
    if results is not None and not isinstance(results, AnalysisResults):
        raise DataError(f"results must be an AnalysisResults, got {type(results).__name__}")
    sid = (study_id if study_id is not None else protocol.study.id).upper()
    ctx = _Adam(data, protocol, sid, results)
    return make_package(AdamPackage, sid, [ctx.adsl(), ctx.adauc(), ctx.adqs()])


def write_adam(package: AdamPackage, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``adsl.xpt``, ``adauc.xpt``, ``adqs.xpt`` (XPORT v5), ``define.xml`` (Define-XML
    2.0) and the metadata CSVs, atomically (as :func:`ketapain.interop.write_sdtm`)."""
    if not isinstance(package, AdamPackage):
        raise TypeError(f"package must be an AdamPackage, got {type(package).__name__}")
    return write_package(package, folder, overwrite=overwrite, extra={"define.xml": define_xml(package, standard="adam")})


def read_adam(folder: str | os.PathLike[str]) -> AdamPackage:
    """Read a folder written by :func:`write_adam`; ``read_adam(f).equals(package)`` holds.

    Raises
    ------
    DataError
        No such folder, a missing metadata CSV or ``.xpt`` file, a damaged file, or
        variables that do not match the metadata.
    """
    return read_package(AdamPackage, folder)


_COMMON = [Var("STUDYID", "Study Identifier", "Char", "Identifier", origin="DM.STUDYID"),
           Var("USUBJID", "Unique Subject Identifier", "Char", "Identifier", origin="DM.USUBJID")]


class _Adam:
    def __init__(self, data: TrialData, protocol: Protocol, study_id: str, results: AnalysisResults | None) -> None:
        self.data = data
        self.protocol = protocol
        self.study_id = study_id
        self.results = results
        self.alloc = data.allocation.sort_values(["patient_id", "period"], kind="stable").reset_index(drop=True)
        self.codes = {c: float(i) for i, c in enumerate(protocol.arm_codes, start=1)}
        self.usubjid = lambda ids: (study_id + "-" + pd.Series(ids, dtype="str")).to_numpy(dtype=object)
        seqs = self.alloc.groupby("patient_id")["sequence"].first()
        self.seq = seqs
        alloc = self.alloc
        planned = alloc["sequence"].str.split("-")
        idx = (alloc["period"] - 1).to_numpy()
        alloc["trtp"] = [s[i] if i < len(s) else "" for s, i in zip(planned, idx, strict=True)]
        alloc["carry"] = alloc.groupby("patient_id")["treatment"].shift(1).fillna("")
        self.alloc = alloc

    def adsl(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        pat = self.data.patients
        ids = pat["patient_id"]
        alloc = self.alloc
        n = self.protocol.design.periods
        usubjid = self.usubjid(ids)
        site, country, race = (column_or_blank(pat, c) for c in ("site_id", "country", "race"))
        who = ("USUBJID=" + pd.Series(usubjid, index=ids.index).astype(str))
        for var, values, src in (("ADSL.SITEID", site, "patients.site_id"), ("ADSL.RACE", race, "patients.race")):
            warn_blank(var, who[values.isna() | (values.astype("object") == "")].tolist(),
                       f"{src} is missing (ADaMIG 1.3 ADSL: {var.split('.')[1]} is required)")
        actual = ids.map(alloc.groupby("patient_id")["treatment"].agg("-".join))
        describe = {a.code: a.name for a in self.protocol.arms}

        def arm_text(seq: pd.Series) -> pd.Series:
            return seq.map(lambda s: ", then ".join(describe.get(c, c) for c in s.split("-"))
                           if isinstance(s, str) else "")

        cols: dict[str, Any] = {
            "STUDYID": self.study_id, "USUBJID": usubjid, "SUBJID": ids, "SITEID": site, "COUNTRY": country,
            "AGE": pat["age_years"], "AGEU": "YEARS", "SEX": pat["sex"], "RACE": race,
            "WEIGHTBL": pat["weight_kg"], "HEIGHTBL": pat["height_m"], "DN4BL": pat["dn4_total"].astype("float64"),
            "ARM": arm_text(ids.map(self.seq)), "ACTARM": arm_text(actual), "ARMCD": ids.map(self.seq),
            "ACTARMCD": actual, "TRTSEQP": ids.map(self.seq), "TRTSEQA": actual,
        }
        spec = [*_COMMON,
                Var("SUBJID", "Subject Identifier for the Study", "Char", "Identifier", origin="DM.SUBJID"),
                Var("SITEID", "Study Site Identifier", "Char", "Record Qualifier", origin="DM.SITEID"),
                Var("COUNTRY", "Country", "Char", "Record Qualifier", "COUNTRY", "DM.COUNTRY"),
                Var("AGE", "Age", "Num", "Record Qualifier", origin="DM.AGE"),
                Var("AGEU", "Age Units", "Char", "Variable Qualifier", "AGEU", "DM.AGEU"),
                Var("SEX", "Sex", "Char", "Record Qualifier", "SEX", "DM.SEX"),
                Var("RACE", "Race", "Char", "Record Qualifier", "RACE", "DM.RACE"),
                Var("WEIGHTBL", "Baseline Weight (kg)", "Num", "Record Qualifier", origin="patients.weight_kg"),
                Var("HEIGHTBL", "Baseline Height (m)", "Num", "Record Qualifier", origin="patients.height_m"),
                Var("DN4BL", "Baseline DN4 Total Score", "Num", "Record Qualifier", origin="patients.dn4_total"),
                Var("ARM", "Description of Planned Arm", "Char", "Record Qualifier", origin="DM.ARM"),
                Var("ACTARM", "Description of Actual Arm", "Char", "Record Qualifier", origin="DM.ACTARM"),
                Var("ARMCD", "Planned Arm Code", "Char", "Record Qualifier", "sequence", "DM.ARMCD"),
                Var("ACTARMCD", "Actual Arm Code", "Char", "Record Qualifier", "sequence", "DM.ACTARMCD"),
                Var("TRTSEQP", "Planned Sequence of Treatments", "Char", "Record Qualifier", "sequence"),
                Var("TRTSEQA", "Actual Sequence of Treatments", "Char", "Record Qualifier", "sequence")]
        by = alloc.set_index(["patient_id", "period"])
        for k in range(1, n + 1):
            rows = alloc[alloc["period"] == k].set_index("patient_id")
            start = rows["infusion_date"]
            nxt = by["infusion_date"].reindex(pd.MultiIndex.from_arrays([rows.index, np.full(len(rows), k + 1)]))
            # a period ends the day before the next infusion (the last one period_days after its infusion)
            end = pd.Series(nxt.to_numpy(), index=rows.index) - pd.Timedelta(days=1)
            end = end.where(end.notna(), start + pd.Timedelta(days=self.protocol.design.period_days))
            kk = f"{k:02d}"
            cols.update({
                f"TRT{kk}P": ids.map(rows["trtp"]), f"TRT{kk}PN": ids.map(rows["trtp"].map(self.codes)),
                f"TRT{kk}A": ids.map(rows["treatment"]), f"TRT{kk}AN": ids.map(rows["treatment"].map(self.codes)),
                f"AP{kk}SDT": sas_date(ids.map(start)), f"AP{kk}EDT": sas_date(ids.map(end)),
            })
            spec += [Var(f"TRT{kk}P", f"Planned Treatment for Period {kk}", "Char", "Record Qualifier", "arm code"),
                     Var(f"TRT{kk}PN", f"Planned Treatment for Period {kk} (N)", "Num", "Record Qualifier",
                         "arm order"),
                     Var(f"TRT{kk}A", f"Actual Treatment for Period {kk}", "Char", "Record Qualifier", "arm code"),
                     Var(f"TRT{kk}AN", f"Actual Treatment for Period {kk} (N)", "Num", "Record Qualifier",
                         "arm order"),
                     Var(f"AP{kk}SDT", f"Period {kk} Start Date", "Num", "Timing", "SAS date"),
                     Var(f"AP{kk}EDT", f"Period {kk} End Date", "Num", "Timing", "SAS date")]
        first = alloc.groupby("patient_id")["infusion_date"].min()
        last = alloc.groupby("patient_id")["infusion_date"].max()
        randomised = ids.isin(alloc["patient_id"])
        cols.update({"TRTSDT": sas_date(ids.map(first)), "TRTEDT": sas_date(ids.map(last)),
                     "RANDFL": np.where(randomised, "Y", "N"), "ITTFL": np.where(randomised, "Y", "N"),
                     "SAFFL": np.where(ids.map(first).notna(), "Y", "N")})
        spec += [Var("TRTSDT", "Date of First Exposure to Treatment", "Num", "Timing", "SAS date"),
                 Var("TRTEDT", "Date of Last Exposure to Treatment", "Num", "Timing", "SAS date"),
                 Var("RANDFL", "Randomized Population Flag", "Char", "Record Qualifier", "NY"),
                 Var("ITTFL", "Intent-To-Treat Population Flag", "Char", "Record Qualifier", "NY"),
                 Var("SAFFL", "Safety Population Flag", "Char", "Record Qualifier", "NY")]
        frame, meta = build_dataset("ADSL", cols, spec)
        return "ADSL", "Subject-Level Analysis Dataset", frame, meta

    def _period_columns(self, frame: pd.DataFrame) -> dict[str, Any]:
        """APERIOD, APERIODC, TRTP/TRTPN, TRTA/TRTAN, TRTSEQP, CARRYOV of each row's patient x period."""
        key = pd.MultiIndex.from_arrays([frame["patient_id"], frame["period"].astype("float64").fillna(-1)
                                         .astype("int64")])
        alloc = self.alloc.set_index(["patient_id", "period"])
        got = {c: pd.Series(alloc[c].reindex(key).to_numpy(), index=frame.index) for c in ("trtp", "treatment", "carry")}
        return {
            "APERIOD": frame["period"].astype("float64"),
            "APERIODC": np.where(
                frame["period"].notna(), "PERIOD " + frame["period"].astype("Float64").astype("Int64").astype("string").fillna(""), ""
            ),
            "TRTP": got["trtp"],
            "TRTPN": got["trtp"].map(self.codes),
            "TRTA": got["treatment"],
            "TRTAN": got["treatment"].map(self.codes),
            "TRTSEQP": frame["patient_id"].map(self.seq),
            "CARRYOV": got["carry"],
        }

    _PERIOD_SPEC: tuple[Var, ...] = (
        Var("APERIOD", "Period", "Num", "Timing"),
        Var("APERIODC", "Period (C)", "Char", "Timing"),
        Var("TRTP", "Planned Treatment", "Char", "Record Qualifier", "arm code"),
        Var("TRTPN", "Planned Treatment (N)", "Num", "Record Qualifier", "arm order"),
        Var("TRTA", "Actual Treatment", "Char", "Record Qualifier", "arm code"),
        Var("TRTAN", "Actual Treatment (N)", "Num", "Record Qualifier", "arm order"),
        Var("TRTSEQP", "Planned Sequence of Treatments", "Char", "Record Qualifier", "sequence"),
        Var("CARRYOV", "Treatment in the Previous Period", "Char", "Record Qualifier", "arm code"),
    )

    def adauc(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        p = self.protocol
        if self.results is not None:
            auc = self.results.patient_auc[["endpoint", "patient_id", "period", "auc", "n_points", "n_observed", "n_imputed", "n_missing"]]
        else:
            auc = endpoint_aucs(self.data, p)
        info = {e.name: e for e in p.endpoints}
        unknown = sorted(set(auc["endpoint"]) - set(info))
        if unknown:
            raise DataError(f"results.patient_auc: endpoint {unknown[0]!r} is not an endpoint of protocol {p.study.id!r}")
        order = {e.name: i for i, e in enumerate(p.endpoints, start=1)}
        auc = auc.assign(_o=auc["endpoint"].map(order)).sort_values(["patient_id", "_o", "period"], kind="stable")
        auc = auc.reset_index(drop=True)
        codes = auc_paramcds(p)
        impute = auc["endpoint"].map({n: e.impute for n, e in info.items()})
        imputed = auc["n_imputed"].astype("float64") > 0
        param = auc["endpoint"].map(
            {n: (f"AUC of {e.value} to day {e.window_day}, impute {e.impute} (score-days)") for n, e in info.items()}
        )
        cols = {
            "STUDYID": self.study_id,
            "USUBJID": self.usubjid(auc["patient_id"]),
            "PARAMCD": auc["endpoint"].map(codes),
            "PARAM": param,
            "PARAMN": auc["_o"].astype("float64"),
            "PARCAT1": auc["endpoint"].map({n: e.kind.upper() for n, e in info.items()}),
            "ENDPOINT": auc["endpoint"],
            **self._period_columns(auc),
            "AVAL": auc["auc"].astype("float64"),
            "DTYPE": np.where(imputed, impute.map(_DTYPE), ""),
            "NIMPDAY": auc["n_imputed"],
            "NOBSDAY": auc["n_observed"],
            "NMISDAY": auc["n_missing"],
            "NPOINTS": auc["n_points"],
            "WINDOWDY": auc["endpoint"].map({n: float(e.window_day) for n, e in info.items()}),
        }
        spec = [
            *_COMMON,
            Var("PARAMCD", "Parameter Code", "Char", "Topic", "see docs/interop-cdisc.md"),
            Var("PARAM", "Parameter", "Char", "Synonym Qualifier"),
            Var("PARAMN", "Parameter (N)", "Num", "Synonym Qualifier"),
            Var("PARCAT1", "Parameter Category 1", "Char", "Grouping Qualifier", "PRIMARY, SECONDARY", "Protocol"),
            Var("ENDPOINT", "Protocol Endpoint Name", "Char", "Synonym Qualifier", origin="Protocol"),
            *self._PERIOD_SPEC,
            Var("AVAL", "Analysis Value (score-days)", "Num", "Result Qualifier"),
            Var("DTYPE", "Derivation Type", "Char", "Record Qualifier", "DTYPE"),
            Var("NIMPDAY", "Number of Imputed Diary Days", "Num", "Record Qualifier"),
            Var("NOBSDAY", "Number of Observed Diary Days", "Num", "Record Qualifier"),
            Var("NMISDAY", "Number of Missing Diary Days", "Num", "Record Qualifier"),
            Var("NPOINTS", "Number of Curve Points Used", "Num", "Record Qualifier"),
            Var("WINDOWDY", "Last Day of the AUC Window", "Num", "Timing", origin="Protocol"),
        ]
        frame, meta = build_dataset("ADAUC", cols, spec)
        return "ADAUC", "AUC Endpoints Analysis Dataset", frame, meta

    def adqs(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        q = self.data.questionnaires
        q = q[q["instrument"].str.lower() != "blinding"]
        baseline, ends = visit_periods(self.protocol)
        if self.results is not None:
            s = self.results.questionnaire_scores[["instrument", "score", "patient_id", "visit", "value"]]
        else:
            parts = [scored(q, name, kinds=("number",)).assign(instrument=name) for name in sorted(q["instrument"].unique())]
            s = (
                pd.concat(parts, ignore_index=True)
                if parts
                else pd.DataFrame(columns=["instrument", "score", "patient_id", "visit", "value"])
            )
            s = s[s["visit"].isin(set(ends) | {baseline})]
        s = s.reset_index(drop=True)
        paramcd = pd.Series("", index=s.index, dtype="object")
        param = pd.Series("", index=s.index, dtype="object")
        for name in s["instrument"].unique():
            codes = qs_codes(name)
            rows = s["instrument"] == name
            paramcd[rows] = s.loc[rows, "score"].map({k: v[0] for k, v in codes.scores.items()})
            words = {score: score_description(name, score) for score in s.loc[rows, "score"].unique()}
            param[rows] = s.loc[rows, "score"].map(words)
        visits = sorted(self.protocol.visits, key=lambda v: v.day)
        vnum = {v.name: float(i) for i, v in enumerate(visits, start=1)}
        s = s.assign(PARAMCD=paramcd, PARAM=param, period=s["visit"].map(ends).astype("Float64"), _v=s["visit"].map(vnum))
        s = s.sort_values(["patient_id", "instrument", "PARAMCD", "_v"], kind="stable").reset_index(drop=True)
        base = s[s["visit"] == baseline].set_index(["patient_id", "PARAMCD"])["value"]
        bval = pd.Series(base.reindex(pd.MultiIndex.from_frame(s[["patient_id", "PARAMCD"]])).to_numpy(), index=s.index).astype("float64")
        aval = s["value"].astype("float64")
        completed = pd.to_datetime(column_or_blank(q, "completed_date"))
        when = (pd.DataFrame({"patient_id": q["patient_id"], "visit": q["visit"], "instrument": q["instrument"],
                              "d": completed}).dropna(subset=["d"])
                .groupby(["patient_id", "visit", "instrument"])["d"].max())
        adt = pd.Series(when.reindex(pd.MultiIndex.from_frame(s[["patient_id", "visit", "instrument"]])).to_numpy(),
                        index=s.index, dtype="datetime64[ns]")
        first = self.alloc.groupby("patient_id")["infusion_date"].min()
        ady = (adt - pd.to_datetime(s["patient_id"].map(first)).astype("datetime64[ns]")).dt.days.astype("float64")
        cols = {
            "STUDYID": self.study_id,
            "USUBJID": self.usubjid(s["patient_id"]),
            "PARAMCD": s["PARAMCD"],
            "PARAM": s["PARAM"],
            "PARCAT1": s["instrument"].str.upper(),
            "AVISIT": s["visit"].str.replace("_", " ").str.upper(),
            "AVISITN": s["_v"],
            "ADT": sas_date(adt),
            "ADY": ady.where(ady < 0, ady + 1),
            **self._period_columns(s.assign(period=s["period"].astype("float64"))),
            "AVAL": aval,
            "ABLFL": np.where(s["visit"] == baseline, "Y", ""),
            "BASE": bval,
            "CHG": aval - bval,
        }
        spec = [
            *_COMMON,
            Var("PARAMCD", "Parameter Code", "Char", "Topic", "QS score codes"),
            Var("PARAM", "Parameter", "Char", "Synonym Qualifier"),
            Var("PARCAT1", "Parameter Category 1 (Instrument)", "Char", "Grouping Qualifier"),
            Var("AVISIT", "Analysis Visit", "Char", "Timing"),
            Var("AVISITN", "Analysis Visit (N)", "Num", "Timing"),
            Var("ADT", "Analysis Date", "Num", "Timing", "SAS date", "QS.QSDTC"),
            Var("ADY", "Analysis Relative Day", "Num", "Timing"),
            *self._PERIOD_SPEC,
            Var("AVAL", "Analysis Value", "Num", "Result Qualifier"),
            Var("ABLFL", "Baseline Record Flag", "Char", "Record Qualifier", "NY"),
            Var("BASE", "Baseline Value", "Num", "Record Qualifier"),
            Var("CHG", "Change from Baseline", "Num", "Result Qualifier"),
        ]
        frame, meta = build_dataset("ADQS", cols, spec)
        return "ADQS", "Questionnaire Scores Analysis Dataset", frame, meta

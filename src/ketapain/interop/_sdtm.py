"""CDISC SDTM from a TrialData and its Protocol: DM, EX, AE, CM, QS (questionnaires and the
pain diary), SE, TA, TE, TV; written as SAS XPORT v5 files with a variable-metadata table.

The mapping of every table and column is in docs/interop-cdisc.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ketapain.data import FIRST_DATA_ROW, TrialData
from ketapain.errors import DataError
from ketapain.operations import protocol_sequences, sequence_label
from ketapain.protocol import FixedDose, PerKgDose, Protocol

from ._define import define_xml
from ._meddra import MEDDRA_COLUMNS, MEDDRA_NUMERIC, MeddraSource, load_meddra_mapping
from ._sdtm_context import SdtmContext, column_or_blank, iso_dates, seq_numbers, study_day, visit_label, warn_blank
from ._sdtm_qs import qs_domain
from ._sdtm_terms import AEREL_MAP, DRUG_CLASS_LABELS, SEVERITY_MAP, ae_verbatim, epoch_label
from ._xpt import DatasetPackage, Var, build_dataset, make_package, write_package

__all__ = ["SdtmPackage", "check_trial", "study_day", "to_sdtm", "write_sdtm"]

@dataclass(frozen=True, slots=True)
class SdtmPackage(DatasetPackage):
    """SDTM domains of one trial with their variable metadata.

    Attributes
    ----------
    study_id : str
        STUDYID.
    datasets : Mapping[str, pandas.DataFrame]
        Domain code -> domain (``DM, EX, AE, CM, QS, SE, TA, TE, TV``); ``package["DM"]``
        gives a copy. Character variables are text with blank = missing; numeric ones
        ``float64``.
    labels : Mapping[str, str]
        Domain code -> dataset label.
    variables : pandas.DataFrame
        The metadata table (``dataset, order, variable, label, type, length, role,
        codelist, origin``); ``to_frame()`` returns it.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> from ketapain.simulate import simulate_trial
    >>> import warnings
    >>> p = load_protocol("ketapain")
    >>> with warnings.catch_warnings(record=True) as caught:  # no MedDRA mapping given
    ...     warnings.simplefilter("always")
    ...     package = to_sdtm(simulate_trial(p, n_patients=6, seed=1), p)
    >>> sorted({str(w.message).split(" is blank")[0] for w in caught})
    ['AE.AEDECOD']
    >>> package.names
    ('DM', 'EX', 'AE', 'CM', 'QS', 'SE', 'TA', 'TE', 'TV')
    >>> package["EX"][["EXTRT", "EXDOSU", "EXROUTE"]].drop_duplicates().shape[0]
    3
    """


def check_trial(data: TrialData, protocol: Protocol) -> None:
    """Refuse data that SDTM (and ADaM) cannot map: not a TrialData/Protocol, a treatment,
    sequence or period not in the protocol, an allocation row without its infusion date."""
    if not isinstance(data, TrialData):
        raise DataError(f"data must be a TrialData, got {type(data).__name__}")
    if not isinstance(protocol, Protocol):
        raise DataError(f"protocol must be a Protocol, got {type(protocol).__name__}")
    alloc = data.allocation
    codes = protocol.arm_codes
    bad = ~alloc["treatment"].isin(codes)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"allocation row {i + FIRST_DATA_ROW}: treatment={alloc['treatment'].iloc[i]!r} is not an "
                        f"arm of protocol {protocol.study.id!r} (arms: {', '.join(codes)})")
    labels = {sequence_label(s) for s in protocol_sequences(protocol)}
    bad = ~alloc["sequence"].isin(labels)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"allocation row {i + FIRST_DATA_ROW}: sequence={alloc['sequence'].iloc[i]!r} is not a "
                        f"sequence of protocol {protocol.study.id!r} (sequences: {', '.join(sorted(labels))})")
    late = alloc["period"] > protocol.design.periods
    if late.any():
        i = int(np.flatnonzero(late.to_numpy())[0])
        raise DataError(f"allocation row {i + FIRST_DATA_ROW}: period={int(alloc['period'].iloc[i])} is above the "
                        f"protocol's {protocol.design.periods} periods")
    missing = alloc["infusion_date"].isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        shown = ", ".join(f"row {r + FIRST_DATA_ROW} (patient_id={alloc['patient_id'].iloc[r]!r}, "
                          f"period={int(alloc['period'].iloc[r])})" for r in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        raise DataError(f"allocation: infusion_date is missing in {shown}{more}; SDTM needs the date of every "
                        "infusion (EXSTDTC, SESTDTC, RFSTDTC)")


def to_sdtm(data: TrialData, protocol: Protocol, *, study_id: str | None = None,
            meddra: MeddraSource | None = None) -> SdtmPackage:
    """Map a trial to CDISC SDTM domains (SDTMIG 3.4 variables, CDISC CT 2024-03-29 terms).

    Parameters
    ----------
    data : TrialData
        The trial; every allocation row needs its ``infusion_date``.
    protocol : Protocol
        The protocol the data belong to (arms, doses, infusions, periods, visits).
    study_id : str, optional
        STUDYID; default the protocol's ``study.id`` in upper case.
    meddra : DataFrame, dict or CSV path, optional
        The MedDRA coding of the adverse-event terms (:func:`ketapain.interop.load_meddra_mapping`:
        ``term`` -> ``AEDECOD`` and optionally the rest of the hierarchy). ketapain ships no
        MedDRA dictionary; without a mapping AEDECOD is blank (and a warning says so).

    Returns
    -------
    SdtmPackage
        Domains DM, EX, AE, CM, QS, SE, TA, TE, TV and the variable metadata.

    Raises
    ------
    DataError
        An allocation row without ``infusion_date`` (named by row, patient and period); a
        treatment or sequence that is not in the protocol; a period above the protocol's; a
        malformed MedDRA mapping.

    Warns
    -----
    ConformanceWarning
        One per variable that SDTMIG requires or expects but the data cannot fill, naming
        the records: DM.SITEID, DM.COUNTRY (Req), DM.RACE, QS.QSDTC (Exp; from
        ``questionnaires.completed_date``), AE.AEDECOD (Req; MedDRA). The value stays blank.

    Notes
    -----
    USUBJID = ``STUDYID-patient_id``. Study days (--DY) count from RFSTDTC, the first
    infusion (day 1; the day before is -1). EPOCH is ``SCREENING`` before the first
    infusion and ``TREATMENT k`` in period k. Doses (EXDOSE, mg) follow the protocol:
    per kg = min(weight_kg x mg_per_kg, max_mg), fixed = mg, placebo = 0; a per-kg dose of
    a patient without weight is missing. The pain diary is in QS with QSCAT ``PAIN DIARY``
    (docs/interop-cdisc.md explains why).
    """
    check_trial(data, protocol)
    sid = (study_id if study_id is not None else protocol.study.id).upper()
    if not sid:
        raise DataError("study_id must not be empty")
    coding = load_meddra_mapping(meddra) if meddra is not None else None
    ctx = _Domains(data, protocol, sid)
    parts = [ctx.dm(), ctx.ex(), ctx.ae(coding), ctx.cm(), qs_domain(ctx), ctx.se(), ctx.ta(), ctx.te(), ctx.tv()]
    return make_package(SdtmPackage, sid, parts)


def write_sdtm(package: SdtmPackage, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write the domains as ``dm.xpt``, ``ex.xpt``, ... (SAS XPORT v5) plus ``define.xml``
    (Define-XML 2.0), ``define_variables.csv`` (variable metadata) and ``define_datasets.csv``.

    Writing is atomic (a temporary folder renamed into place); an existing non-empty folder
    is replaced only with ``overwrite=True`` and only if it holds package files alone.

    Raises
    ------
    DataError
        A name, label or value XPORT v5 cannot hold (names <= 8 characters, labels <= 40,
        character values <= 200 bytes), or a destination that may not be replaced.
    """
    if not isinstance(package, SdtmPackage):
        raise TypeError(f"package must be an SdtmPackage, got {type(package).__name__}")
    return write_package(package, folder, overwrite=overwrite, extra={"define.xml": define_xml(package, standard="sdtm")})


_ID = [Var("STUDYID", "Study Identifier", "Char", "Identifier", origin="Assigned"),
       Var("DOMAIN", "Domain Abbreviation", "Char", "Identifier", "DOMAIN", "Assigned")]
_USUBJID = Var("USUBJID", "Unique Subject Identifier", "Char", "Identifier")
_EPOCH = Var("EPOCH", "Epoch", "Char", "Timing", "EPOCH")


class _Domains(SdtmContext):
    """The domains other than QS, one method each, over the trial's context."""

    # ------------------------------------------------------------------ DM
    def dm(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        pat = self.patients
        alloc = self.alloc
        planned = alloc.groupby("patient_id")["sequence"].first()
        actual = alloc.groupby("patient_id")["treatment"].agg("-".join)
        last = alloc.groupby("patient_id")["infusion_date"].max()
        ids = pat["patient_id"]
        arm = ids.map(planned)
        act = ids.map(actual)
        has = arm.notna()
        usubjid = self.usubjid(ids)
        spec = [*_ID, _USUBJID,
                Var("SUBJID", "Subject Identifier for the Study", "Char", "Topic", origin="CRF"),
                Var("RFSTDTC", "Subject Reference Start Date/Time", "Char", "Record Qualifier"),
                Var("RFENDTC", "Subject Reference End Date/Time", "Char", "Record Qualifier"),
                Var("RFXSTDTC", "Date/Time of First Study Treatment", "Char", "Record Qualifier"),
                Var("RFXENDTC", "Date/Time of Last Study Treatment", "Char", "Record Qualifier"),
                Var("RFICDTC", "Date/Time of Informed Consent", "Char", "Record Qualifier", origin="CRF"),
                Var("RFPENDTC", "Date/Time of End of Participation", "Char", "Record Qualifier"),
                Var("DTHDTC", "Date/Time of Death", "Char", "Record Qualifier", origin="CRF"),
                Var("DTHFL", "Subject Death Flag", "Char", "Record Qualifier", "NY", "CRF"),
                Var("SITEID", "Study Site Identifier", "Char", "Record Qualifier", origin="CRF"),
                Var("AGE", "Age", "Num", "Record Qualifier", origin="CRF"),
                Var("AGEU", "Age Units", "Char", "Variable Qualifier", "AGEU", "Assigned"),
                Var("SEX", "Sex", "Char", "Record Qualifier", "SEX", "CRF"),
                Var("RACE", "Race", "Char", "Record Qualifier", "RACE", "CRF"),
                Var("ARMCD", "Planned Arm Code", "Char", "Record Qualifier", "sequence", "Assigned"),
                Var("ARM", "Description of Planned Arm", "Char", "Synonym Qualifier", "", "Assigned"),
                Var("ACTARMCD", "Actual Arm Code", "Char", "Record Qualifier", "sequence"),
                Var("ACTARM", "Description of Actual Arm", "Char", "Synonym Qualifier"),
                Var("ARMNRS", "Reason Arm and/or Actual Arm is Null", "Char", "Record Qualifier", "ARMNULRS"),
                Var("ACTARMUD", "Description of Unplanned Actual Arm", "Char", "Record Qualifier"),
                Var("COUNTRY", "Country", "Char", "Record Qualifier", "COUNTRY", "CRF")]
        end = ids.map(last) + pd.Timedelta(days=self.period_days)
        site, country, race = (column_or_blank(pat, c) for c in ("site_id", "country", "race"))
        who = pd.Series("USUBJID=" + pd.Series(usubjid, index=ids.index).astype(str), index=ids.index)
        for var, values, why in (
                ("DM.SITEID", site, "patients.site_id is missing (SDTMIG 3.4 DM: SITEID is required)"),
                ("DM.COUNTRY", country, "patients.country is missing (SDTMIG 3.4 DM: COUNTRY is required)"),
                ("DM.RACE", race, "patients.race is missing (SDTMIG 3.4 DM: RACE is expected)")):
            warn_blank(var, who[values.isna() | (values.astype("object") == "")].tolist(), why)
        cols = {
            "STUDYID": self.study_id, "DOMAIN": "DM", "USUBJID": usubjid, "SUBJID": ids,
            "RFSTDTC": iso_dates(ids.map(self.rfstdtc)), "RFENDTC": iso_dates(end),
            "RFXSTDTC": iso_dates(ids.map(self.rfstdtc)), "RFXENDTC": iso_dates(ids.map(last)),
            "RFICDTC": "", "RFPENDTC": iso_dates(end), "DTHDTC": "", "DTHFL": "",
            "SITEID": site, "AGE": pat["age_years"], "AGEU": "YEARS", "SEX": pat["sex"], "RACE": race,
            "ARMCD": arm, "ARM": arm.map(self.describe), "ACTARMCD": act, "ACTARM": act.map(self.describe),
            "ARMNRS": np.where(has, "", "NOT ASSIGNED"), "ACTARMUD": "", "COUNTRY": country,
        }
        frame, meta = build_dataset("DM", cols, spec)
        return "DM", "Demographics", frame, meta

    # ------------------------------------------------------------------ EX
    def ex(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        alloc = self.alloc
        weight = alloc["patient_id"].map(self.patients.set_index("patient_id")["weight_kg"]).astype("float64")
        parts = []
        for order, infusion in enumerate(self.protocol.infusions):
            trt = pd.Series("", index=alloc.index, dtype="object")
            dose = pd.Series(np.nan, index=alloc.index, dtype="float64")
            for arm in self.protocol.arms:
                comp = arm.component(infusion.id)
                rows = alloc["treatment"] == arm.code
                d = comp.dose
                trt[rows] = "PLACEBO" if comp.is_placebo else comp.drug.upper()
                if isinstance(d, PerKgDose):
                    value = weight[rows] * d.mg_per_kg
                    dose[rows] = value if d.max_mg is None else np.minimum(value, d.max_mg)
                elif isinstance(d, FixedDose):
                    dose[rows] = d.mg
                else:
                    dose[rows] = 0.0
            parts.append(pd.DataFrame({"patient_id": alloc["patient_id"], "period": alloc["period"],
                                       "infusion_date": alloc["infusion_date"], "kit": alloc["kit_code"],
                                       "trt": trt, "dose": dose, "bag": infusion.id, "order": order,
                                       "volume": float(infusion.final_volume_ml)}))
        ex = pd.concat(parts, ignore_index=True).sort_values(["patient_id", "period", "order"], kind="stable")
        ex = ex.reset_index(drop=True)
        ex["USUBJID"] = self.usubjid(ex["patient_id"])
        spec = [*_ID, _USUBJID,
                Var("EXSEQ", "Sequence Number", "Num", "Identifier"),
                Var("EXREFID", "Reference ID", "Char", "Identifier", origin="CRF"),
                Var("EXSPID", "Sponsor-Defined Identifier", "Char", "Identifier", origin="Protocol"),
                Var("EXTRT", "Name of Treatment", "Char", "Topic", origin="Protocol"),
                Var("EXDOSE", "Dose", "Num", "Record Qualifier"),
                Var("EXDOSU", "Dose Units", "Char", "Variable Qualifier", "UNIT", "Protocol"),
                Var("EXDOSFRM", "Dose Form", "Char", "Variable Qualifier", "FRM", "Protocol"),
                Var("EXROUTE", "Route of Administration", "Char", "Variable Qualifier", "ROUTE", "Protocol"),
                Var("EXVAMT", "Treatment Vehicle Amount", "Num", "Record Qualifier", origin="Protocol"),
                Var("EXVAMTU", "Treatment Vehicle Amount Units", "Char", "Variable Qualifier", "UNIT", "Protocol"),
                _EPOCH,
                Var("EXSTDTC", "Start Date/Time of Treatment", "Char", "Timing", origin="CRF"),
                Var("EXENDTC", "End Date/Time of Treatment", "Char", "Timing", origin="CRF"),
                Var("EXSTDY", "Study Day of Start of Treatment", "Num", "Timing"),
                Var("EXENDY", "Study Day of End of Treatment", "Num", "Timing")]
        cols = {
            "STUDYID": self.study_id, "DOMAIN": "EX", "USUBJID": ex["USUBJID"], "EXSEQ": seq_numbers(ex),
            "EXREFID": ex["kit"], "EXSPID": ex["bag"], "EXTRT": ex["trt"], "EXDOSE": ex["dose"], "EXDOSU": "mg",
            "EXDOSFRM": "SOLUTION", "EXROUTE": "INTRAVENOUS", "EXVAMT": ex["volume"], "EXVAMTU": "mL",
            "EPOCH": self.epoch_at(ex["patient_id"], ex["infusion_date"], ex["period"].map(epoch_label)),
            "EXSTDTC": iso_dates(ex["infusion_date"]), "EXENDTC": iso_dates(ex["infusion_date"]),
            "EXSTDY": study_day(ex["infusion_date"], self.ref_date(ex["patient_id"])),
            "EXENDY": study_day(ex["infusion_date"], self.ref_date(ex["patient_id"])),
        }
        frame, meta = build_dataset("EX", cols, spec)
        return "EX", "Exposure", frame, meta

    # ------------------------------------------------------------------ AE
    def ae(self, coding: pd.DataFrame | None) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        ae = self.data.adverse_events.sort_values(["patient_id", "onset_date", "event_id"], kind="stable")
        ae = ae.reset_index(drop=True)
        ae["USUBJID"] = self.usubjid(ae["patient_id"])
        verbatim = ae_verbatim(ae["term"])
        coded = _meddra_columns(ae["term"], verbatim, coding)
        text = {"AELLT": "Lowest Level Term", "AELLTCD": "Lowest Level Term Code",
                "AEDECOD": "Dictionary-Derived Term", "AEPTCD": "Preferred Term Code",
                "AEHLT": "High Level Term", "AEHLTCD": "High Level Term Code",
                "AEHLGT": "High Level Group Term", "AEHLGTCD": "High Level Group Term Code",
                "AEBODSYS": "Body System or Organ Class", "AEBDSYCD": "Body System or Organ Class Code",
                "AESOC": "Primary System Organ Class", "AESOCCD": "Primary System Organ Class Code"}
        meddra = {c: Var(c, text[c], "Num" if c in MEDDRA_NUMERIC else "Char",
                         "Synonym Qualifier" if c == "AEDECOD" else "Variable Qualifier",
                         "" if c in MEDDRA_NUMERIC else "MedDRA", "Assigned")
                  for c in MEDDRA_COLUMNS}
        spec = [*_ID, _USUBJID,
                Var("AESEQ", "Sequence Number", "Num", "Identifier"),
                Var("AESPID", "Sponsor-Defined Identifier", "Char", "Identifier", origin="CRF"),
                Var("AETERM", "Reported Term for the Adverse Event", "Char", "Topic", origin="CRF"),
                meddra["AELLT"], meddra["AELLTCD"], meddra["AEDECOD"], meddra["AEPTCD"], meddra["AEHLT"],
                meddra["AEHLTCD"], meddra["AEHLGT"], meddra["AEHLGTCD"], meddra["AEBODSYS"], meddra["AEBDSYCD"],
                meddra["AESOC"], meddra["AESOCCD"],
                Var("AESEV", "Severity/Intensity", "Char", "Record Qualifier", "AESEV", "CRF"),
                Var("AESER", "Serious Event", "Char", "Record Qualifier", "NY", "CRF"),
                Var("AEACN", "Action Taken with Study Treatment", "Char", "Record Qualifier", origin="CRF"),
                Var("AEREL", "Causality", "Char", "Record Qualifier", "AEREL (sponsor)", "CRF"),
                _EPOCH,
                Var("AESTDTC", "Start Date/Time of Adverse Event", "Char", "Timing", origin="CRF"),
                Var("AEENDTC", "End Date/Time of Adverse Event", "Char", "Timing", origin="CRF"),
                Var("AESTDY", "Study Day of Start of Adverse Event", "Num", "Timing")]
        blank = coded["AEDECOD"] == ""
        warn_blank("AE.AEDECOD", [f"AESPID={e} (AETERM={t!r})" for e, t in zip(ae.loc[blank, "event_id"],
                                                                            verbatim[blank], strict=True)],
                   "no MedDRA coding was given for the term (SDTMIG 3.4 AE: AEDECOD is required; pass a "
                   "term -> MedDRA mapping, docs/interop-cdisc.md)")
        cols = {
            "STUDYID": self.study_id, "DOMAIN": "AE", "USUBJID": ae["USUBJID"], "AESEQ": seq_numbers(ae),
            "AESPID": ae["event_id"], "AETERM": verbatim, **{c: coded[c] for c in MEDDRA_COLUMNS},
            "AESEV": ae["severity"].map(SEVERITY_MAP), "AESER": np.where(ae["serious"].astype(bool), "Y", "N"),
            "AEACN": "", "AEREL": ae["causality"].map(AEREL_MAP),
            "EPOCH": self.epoch_at(ae["patient_id"], ae["onset_date"], ae["period"].map(epoch_label)),
            "AESTDTC": iso_dates(ae["onset_date"]), "AEENDTC": "",
            "AESTDY": study_day(ae["onset_date"], self.ref_date(ae["patient_id"])),
        }
        frame, meta = build_dataset("AE", cols, spec)
        return "AE", "Adverse Events", frame, meta

    # ------------------------------------------------------------------ CM
    def cm(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        cm = self.data.concomitant.sort_values(["patient_id", "period", "drug_class"], kind="stable")
        cm = cm.reset_index(drop=True)
        cm["USUBJID"] = self.usubjid(cm["patient_id"])
        klass = cm["drug_class"].map(DRUG_CLASS_LABELS)
        name = cm["drug_name"].where(cm["drug_name"].notna() & (cm["drug_name"] != ""), klass)
        spec = [*_ID, _USUBJID,
                Var("CMSEQ", "Sequence Number", "Num", "Identifier"),
                Var("CMTRT", "Reported Name of Drug, Med, or Therapy", "Char", "Topic", origin="CRF"),
                Var("CMCAT", "Category for Medication", "Char", "Grouping Qualifier", "BASELINE, ADDED", "CRF"),
                Var("CMCLAS", "Medication Class", "Char", "Variable Qualifier", "drug class (sponsor)", "CRF"),
                _EPOCH]
        cols = {
            "STUDYID": self.study_id, "DOMAIN": "CM", "USUBJID": cm["USUBJID"], "CMSEQ": seq_numbers(cm),
            "CMTRT": name.str.upper(), "CMCAT": cm["status"].str.upper(), "CMCLAS": klass,
            "EPOCH": cm["period"].map(epoch_label),
        }
        frame, meta = build_dataset("CM", cols, spec)
        return "CM", "Concomitant Medications", frame, meta

    # ------------------------------------------------------------------ SE
    def se(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        se = self.elements.copy()
        se["USUBJID"] = self.usubjid(se["patient_id"])
        element = se["ETCD"].map({**self.arm_names, "SCRN": "Screening", "WASH": "Washout"})
        spec = [*_ID, _USUBJID,
                Var("SESEQ", "Sequence Number", "Num", "Identifier"),
                Var("ETCD", "Element Code", "Char", "Topic", "ETCD (TE)"),
                Var("ELEMENT", "Description of Element", "Char", "Synonym Qualifier"),
                Var("TAETORD", "Planned Order of Element within Arm", "Num", "Timing"),
                _EPOCH,
                Var("SESTDTC", "Start Date/Time of Element", "Char", "Timing"),
                Var("SEENDTC", "End Date/Time of Element", "Char", "Timing"),
                Var("SESTDY", "Study Day of Start of Element", "Num", "Timing"),
                Var("SEENDY", "Study Day of End of Element", "Num", "Timing")]
        cols = {
            "STUDYID": self.study_id, "DOMAIN": "SE", "USUBJID": se["USUBJID"], "SESEQ": seq_numbers(se),
            "ETCD": se["ETCD"], "ELEMENT": element, "TAETORD": se["TAETORD"], "EPOCH": se["EPOCH"],
            "SESTDTC": iso_dates(se["start"]), "SEENDTC": iso_dates(se["end"]),
            "SESTDY": study_day(se["start"], self.ref_date(se["patient_id"])),
            "SEENDY": study_day(se["end"], self.ref_date(se["patient_id"])),
        }
        frame, meta = build_dataset("SE", cols, spec)
        return "SE", "Subject Elements", frame, meta

    # ------------------------------------------------------------------ TA / TE / TV
    def ta(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        rows = []
        for seq in protocol_sequences(self.protocol):
            label = sequence_label(seq)
            rows.append((label, 1, "SCRN", "Screening", f"Randomised to {label}", "SCREENING"))
            order = 2
            for k, code in enumerate(seq, start=1):
                rows.append((label, order, code, self.arm_names[code], "", epoch_label(k)))
                order += 1
                if self.washout and k < len(seq):
                    rows.append((label, order, "WASH", "Washout", "", f"WASHOUT {k}"))
                    order += 1
        ta = pd.DataFrame(rows, columns=["ARMCD", "TAETORD", "ETCD", "ELEMENT", "TABRANCH", "EPOCH"])
        spec = [*_ID,
                Var("ARMCD", "Planned Arm Code", "Char", "Topic", "sequence", "Protocol"),
                Var("ARM", "Description of Planned Arm", "Char", "Synonym Qualifier", origin="Protocol"),
                Var("TAETORD", "Planned Order of Element within Arm", "Num", "Timing", origin="Protocol"),
                Var("ETCD", "Element Code", "Char", "Record Qualifier", "ETCD (TE)", "Protocol"),
                Var("ELEMENT", "Description of Element", "Char", "Synonym Qualifier", origin="Protocol"),
                Var("TABRANCH", "Branch", "Char", "Rule", origin="Protocol"),
                Var("TATRANS", "Transition Rule", "Char", "Rule", origin="Protocol"),
                Var("EPOCH", "Epoch", "Char", "Timing", "EPOCH", "Protocol")]
        cols = {"STUDYID": self.study_id, "DOMAIN": "TA", "ARMCD": ta["ARMCD"], "ARM": ta["ARMCD"].map(self.describe),
                "TAETORD": ta["TAETORD"], "ETCD": ta["ETCD"], "ELEMENT": ta["ELEMENT"], "TABRANCH": ta["TABRANCH"],
                "TATRANS": "", "EPOCH": ta["EPOCH"]}
        frame, meta = build_dataset("TA", cols, spec)
        return "TA", "Trial Arms", frame, meta

    def te(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        p = self.protocol
        rows = [("SCRN", "Screening", "Informed consent", "First infusion", "")]
        for arm in p.arms:
            content = "; ".join(
                f"{c.drug} {'placebo' if c.is_placebo else _dose_words(c.dose)} in {c.infusion}" for c in arm.components)
            end = "Next infusion" if not self.washout else f"{p.design.period_days} days after the infusion"
            rows.append((arm.code, arm.name, f"Infusion of {arm.code} ({content})"[:200], end,
                         f"P{p.design.period_days}D"))
        if self.washout:
            rows.append(("WASH", "Washout", f"{p.design.period_days} days after an infusion", "Next infusion",
                         f"P{self.washout}D"))
        te = pd.DataFrame(rows, columns=["ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"])
        spec = [*_ID,
                Var("ETCD", "Element Code", "Char", "Topic", origin="Protocol"),
                Var("ELEMENT", "Description of Element", "Char", "Synonym Qualifier", origin="Protocol"),
                Var("TESTRL", "Rule for Start of Element", "Char", "Rule", origin="Protocol"),
                Var("TEENRL", "Rule for End of Element", "Char", "Rule", origin="Protocol"),
                Var("TEDUR", "Planned Duration of Element", "Char", "Timing", "ISO 8601 duration", "Protocol")]
        cols = {"STUDYID": self.study_id, "DOMAIN": "TE", **{c: te[c] for c in te.columns}}
        frame, meta = build_dataset("TE", cols, spec)
        return "TE", "Trial Elements", frame, meta

    def tv(self) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
        visits = sorted(self.protocol.visits, key=lambda v: v.day)
        tv = pd.DataFrame({"VISITNUM": np.arange(1, len(visits) + 1, dtype=float),
                           "VISIT": [visit_label(v.name) for v in visits],
                           "VISITDY": [float(v.day + 1 if v.day >= 0 else v.day) for v in visits],
                           "TVSTRL": [f"Day {v.day} relative to the first infusion (day 0)" for v in visits]})
        spec = [*_ID,
                Var("VISITNUM", "Visit Number", "Num", "Topic", origin="Protocol"),
                Var("VISIT", "Visit Name", "Char", "Synonym Qualifier", origin="Protocol"),
                Var("VISITDY", "Planned Study Day of Visit", "Num", "Timing", origin="Protocol"),
                Var("ARMCD", "Planned Arm Code", "Char", "Record Qualifier", "sequence", "Protocol"),
                Var("TVSTRL", "Visit Start Rule", "Char", "Rule", origin="Protocol")]
        # ARMCD blank: every visit is planned for every arm (SDTMIG 3.4 TV assumption 3)
        frame, meta = build_dataset("TV", {"STUDYID": self.study_id, "DOMAIN": "TV", "ARMCD": "",
                                           **{c: tv[c] for c in tv.columns}}, spec)
        return "TV", "Trial Visits", frame, meta

def _meddra_columns(terms: pd.Series, verbatim: pd.Series, coding: pd.DataFrame | None) -> pd.DataFrame:
    """The MedDRA variables of each AE: looked up by the term as recorded, else by AETERM;
    blank (NaN for codes) when the term is not in ``coding`` or no coding is given."""
    out = pd.DataFrame({c: (np.nan if c in MEDDRA_NUMERIC else "") for c in MEDDRA_COLUMNS}, index=terms.index)
    if coding is None or not len(terms):
        return out
    table = coding.set_index("term")
    raw = terms.astype(str)
    key = raw.where(raw.isin(table.index), verbatim.astype(str))
    found = key.isin(table.index)
    for c in MEDDRA_COLUMNS:
        got = key[found].map(table[c])
        out.loc[found, c] = got.to_numpy()
    return out


def _dose_words(dose: object) -> str:
    kind = getattr(dose, "kind", "")
    if kind == "per_kg":
        cap = getattr(dose, "max_mg", None)
        return f"{dose.mg_per_kg:g} mg/kg" + (f" (max {cap:g} mg)" if cap else "")  # type: ignore[attr-defined]
    if kind == "fixed":
        return f"{dose.mg:g} mg"  # type: ignore[attr-defined]
    return "placebo"

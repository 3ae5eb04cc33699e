"""HL7 FHIR R4: the trial as ResearchStudy, Patient and ResearchSubject resources, its
questionnaires as Questionnaire / QuestionnaireResponse, all in one collection Bundle.

The per-instrument Questionnaire and QuestionnaireResponse builders stay in
:mod:`ketapain.instruments` (they need only the instrument declaration, and ``instruments``
must not depend on ``interop``); this module builds the trial-level resources on top of them.

Resources (ids are FHIR ids: letters, digits, ``-`` and ``.``):

* ``ResearchStudy/<study id>``: title, identifier (the registration, system
  ``https://clinicaltrials.gov``), status ``completed``, phase (``phase-3`` by default), one
  ``arm`` per randomised sequence (name ``P-K-KM``, type ``experimental``, the description
  lists the treatment of each period); R4's ``arm.name/type/description``.
* ``Patient/<patient_id>``: gender (M -> male, F -> female), ``birthDate`` = the birth year
  (year of the first infusion, else of screening, minus age: an approximation, the exact
  age is kept), and one extension per other ``patients`` column,
  ``<base>/StructureDefinition/patient-<column>``, so that the import is exact.
* ``ResearchSubject/<patient_id>``: study, individual (the Patient), ``assignedArm`` = the
  randomised sequence, ``actualArm`` = the treatments received by period joined with ``-``,
  status ``off-study`` when every period of the design was given, ``on-study`` when some
  were, ``candidate`` otherwise.
* ``Questionnaire/<instrument>`` for every instrument of the design and
  ``QuestionnaireResponse/<patient>-<visit>-<instrument>`` per patient x visit x instrument,
  with the visit in the extension ``<base>/StructureDefinition/visit`` and ``authored`` the
  questionnaire's ``completed_date`` (read back by :func:`from_fhir_bundle`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ketapain.data import SCHEMAS, TrialData
from ketapain.errors import DataError, InstrumentError
from ketapain.instruments import (
    CANONICAL_BASE,
    get_instrument,
    responses_from_fhir,
    to_fhir_questionnaire,
    to_fhir_questionnaire_response,
)
from ketapain.interop._odm_values import canonical_order
from ketapain.protocol import Protocol

__all__ = ["fhir_patients", "from_fhir_bundle", "research_study", "research_subjects", "to_fhir_bundle", "validate_fhir"]

VISIT_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/visit"
_PATIENT_EXT = f"{CANONICAL_BASE}/StructureDefinition/patient-"
_BAD = re.compile(r"[^A-Za-z0-9\-.]")


def _fid(text: str) -> str:
    return _BAD.sub("-", str(text))[:64]


def research_study(protocol: Protocol, *, phase: str = "phase-3", status: str = "completed") -> dict[str, Any]:
    """The protocol as a FHIR R4 ``ResearchStudy`` (JSON-ready dict).

    Parameters
    ----------
    protocol
        The study: title, registration, arms, design.
    phase
        A code of http://terminology.hl7.org/CodeSystem/research-study-phase (the protocol
        file does not state the phase; KETAPAIN was a phase 3 trial).
    status
        ResearchStudy.status (R4 codes, e.g. ``active``, ``completed``).

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> rs = research_study(load_protocol("ketapain"))
    >>> rs["identifier"][0]["value"], len(rs["arm"]), rs["arm"][0]["name"]
    ('NCT02467517', 6, 'P-K-KM')
    """
    from ketapain.operations import protocol_sequences

    names = {a.code: a.name for a in protocol.arms}
    out: dict[str, Any] = {"resourceType": "ResearchStudy", "id": _fid(protocol.study.id)}
    if protocol.study.registration:
        out["identifier"] = [{"system": "https://clinicaltrials.gov", "value": protocol.study.registration}]
    out |= {
        "title": protocol.study.title,
        "status": status,
        "primaryPurposeType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/research-study-prim-purp-type",
                                           "code": "treatment"}]},
        "phase": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/research-study-phase", "code": phase}]},
        "description": f"{protocol.design.kind} crossover, {protocol.design.periods} periods of {protocol.design.period_days} days; "
                       f"arms: {', '.join(f'{a.code} = {a.name}' for a in protocol.arms)}",
        "arm": [{"name": "-".join(seq), "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/research-study-arm-type",
                                                             "code": "experimental"}]},
                 "description": "; ".join(f"period {k}: {names[c]}" for k, c in enumerate(seq, start=1))}
                for seq in protocol_sequences(protocol)],
    }
    if protocol.study.reference:
        out["relatedArtifact"] = [{"type": "citation", "citation": protocol.study.reference}]
    return out


def _reference_years(data: TrialData) -> pd.Series:
    al = data.allocation.dropna(subset=["infusion_date"]).groupby("patient_id")["infusion_date"].min()
    scr = data.screening.dropna(subset=["patient_id", "screening_date"]).set_index("patient_id")["screening_date"]
    ref = al.combine_first(scr)
    return ref.dt.year


def fhir_patients(data: TrialData) -> list[dict[str, Any]]:
    """One FHIR R4 ``Patient`` per row of ``data.patients`` (see the module docstring)."""
    pat = data.patients
    years = _reference_years(data)
    out = []
    for rec in pat.to_dict("records"):
        res: dict[str, Any] = {"resourceType": "Patient", "id": _fid(rec["patient_id"]),
                               "identifier": [{"system": f"{CANONICAL_BASE}/patient-id", "value": rec["patient_id"]}],
                               "gender": {"M": "male", "F": "female"}[rec["sex"]]}
        year = years.get(rec["patient_id"])
        if year is not None and not pd.isna(year):
            res["birthDate"] = f"{int(year) - int(rec['age_years']):04d}"
        ext = []
        for col in pat.columns:
            if col in ("patient_id", "sex") or pd.isna(rec[col]):
                continue
            v = rec[col]
            kind = {c.name: c.dtype for c in SCHEMAS["patients"].columns}.get(col, "str")
            if kind == "int":
                ext.append({"url": _PATIENT_EXT + col, "valueInteger": int(v)})
            elif kind == "float":
                ext.append({"url": _PATIENT_EXT + col, "valueDecimal": float(v)})
            else:
                ext.append({"url": _PATIENT_EXT + col, "valueString": str(v)})
        if ext:
            res["extension"] = ext
        out.append(res)
    return out


def research_subjects(data: TrialData, protocol: Protocol) -> list[dict[str, Any]]:
    """One FHIR R4 ``ResearchSubject`` per patient (see the module docstring).

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> from ketapain.simulate import simulate_trial
    >>> p = load_protocol("ketapain")
    >>> s = research_subjects(simulate_trial(p, n_patients=2, seed=1), p)[0]
    >>> s["individual"], s["assignedArm"], s["actualArm"], s["status"]
    ({'reference': 'Patient/P001'}, 'P-KM-K', 'P-KM-K', 'off-study')
    """
    al = data.allocation.sort_values(["patient_id", "period"])
    seq = al.groupby("patient_id")["sequence"].first()
    actual = al.groupby("patient_id")["treatment"].agg("-".join)
    n = al.groupby("patient_id")["period"].nunique()
    out = []
    for pid in data.patients["patient_id"]:
        res: dict[str, Any] = {"resourceType": "ResearchSubject", "id": _fid(pid),
                               "status": "candidate" if pid not in n.index else
                               "off-study" if n[pid] >= protocol.design.periods else "on-study",
                               "study": {"reference": f"ResearchStudy/{_fid(protocol.study.id)}"},
                               "individual": {"reference": f"Patient/{_fid(pid)}"}}
        if pid in seq.index:
            res["assignedArm"] = seq[pid]
            res["actualArm"] = actual[pid]
        out.append(res)
    return out


def to_fhir_bundle(data: TrialData, protocol: Protocol) -> dict[str, Any]:
    """The trial as a FHIR R4 ``Bundle`` of type ``collection``.

    Entries: the ResearchStudy, a Questionnaire per instrument of the design (protocol
    visits and the data), then per patient its Patient, ResearchSubject and
    QuestionnaireResponses (one per visit x instrument; unanswered items are left out).

    Raises
    ------
    InstrumentError
        A questionnaire answer that its instrument does not allow.
    """
    q = data.questionnaires
    names = list(dict.fromkeys([i for v in protocol.visits for i in v.questionnaires] + q["instrument"].unique().tolist()))
    resources: list[dict[str, Any]] = [research_study(protocol)]
    resources += [to_fhir_questionnaire(n) for n in names]
    responses: dict[str, list[dict[str, Any]]] = {}
    q = q.dropna(subset=["value"])
    for (pid_key, visit, inst_key), grp in q.groupby(["patient_id", "visit", "instrument"], sort=False):
        pid, inst = str(pid_key), str(inst_key)  # text columns of TrialData
        item = get_instrument(inst)
        answers = {k: (v if item.item(k).kind != "clock" else int(v)) for k, v in zip(grp["item"], grp["value"], strict=True)}
        qr = to_fhir_questionnaire_response(inst, answers, subject=f"Patient/{_fid(pid)}",
                                            authored=_completed(grp, pid, str(visit), inst))
        qr = {"resourceType": "QuestionnaireResponse", "id": _fid(f"{pid}-{visit}-{inst}"),
              "extension": [{"url": VISIT_EXTENSION, "valueString": visit}]} | {k: v for k, v in qr.items() if k != "resourceType"}
        responses.setdefault(pid, []).append(qr)
    for patient, subject in zip(fhir_patients(data), research_subjects(data, protocol), strict=True):
        pid = patient["identifier"][0]["value"]
        resources += [patient, subject, *responses.get(pid, [])]
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"{CANONICAL_BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}


def _completed(grp: pd.DataFrame, pid: str, visit: str, inst: str) -> dt.date | None:
    """The one ``completed_date`` of a questionnaire's rows (FHIR ``authored``), None when
    not recorded; rows of one response with different dates are an error."""
    dates: Any = grp["completed_date"].dropna().unique() if "completed_date" in grp else []
    if len(dates) > 1:
        raise DataError(f"FHIR export: questionnaires of patient {pid}, visit {visit}, instrument {inst} have "
                        f"{len(dates)} completed_date values ({', '.join(str(pd.Timestamp(d).date()) for d in dates)}); "
                        "one QuestionnaireResponse has one authored date")
    return pd.Timestamp(dates[0]).date() if len(dates) else None


def validate_fhir(resource: Mapping[str, Any]) -> None:
    """Validate a resource (or a Bundle and all its entries) with ``fhir.resources`` (R4B
    models, the R4-compatible release that fhir.resources 8 ships).

    Raises
    ------
    DataError
        The resource type is unknown or the resource does not validate (pydantic's message).
    """
    import importlib

    from pydantic import ValidationError

    kind = resource.get("resourceType") if isinstance(resource, Mapping) else None
    if not isinstance(kind, str):
        raise DataError("FHIR resource: resourceType is missing")
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
        model = getattr(module, kind)
    except (ImportError, AttributeError):
        raise DataError(f"FHIR resource: unknown resourceType {kind!r}") from None
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        raise DataError(f"FHIR {kind}/{resource.get('id', '?')} does not validate (R4B):\n{exc}") from None
    if kind == "Bundle":
        for i, entry in enumerate(resource.get("entry", [])):
            try:
                validate_fhir(entry["resource"])
            except DataError as exc:
                raise DataError(f"Bundle.entry[{i}]: {exc}") from None


def from_fhir_bundle(bundle: Mapping[str, Any]) -> TrialData:
    """Read the patients and questionnaires of a FHIR Bundle into a (partial) TrialData.

    ``Patient`` resources give the ``patients`` table (gender male/female -> M/F; the other
    columns from the ``patient-<column>`` extensions written by :func:`to_fhir_bundle`);
    ``QuestionnaireResponse`` resources give ``questionnaires`` rows (patient from
    ``subject``, visit from the visit extension, items via
    :func:`ketapain.instruments.responses_from_fhir`, clock answers as minutes after
    midnight). Other resources are ignored; the other tables are empty.

    Raises
    ------
    DataError
        Not a Bundle; an entry without a resource; a Patient without gender male/female or
        without the required patient columns; a QuestionnaireResponse without subject or
        visit, or whose answers cannot be read — naming ``entry[i]``.
    """
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise DataError("FHIR import: expected a Bundle resource")
    patients: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for i, entry in enumerate(bundle.get("entry", [])):
        res = entry.get("resource") if isinstance(entry, Mapping) else None
        where = f"Bundle.entry[{i}]"
        if not isinstance(res, Mapping):
            raise DataError(f"FHIR import: {where}: no resource")
        kind = res.get("resourceType")
        if kind == "Patient":
            sex = res.get("gender")
            gender = {"male": "M", "female": "F"}.get(sex) if isinstance(sex, str) else None
            if gender is None:
                raise DataError(f"FHIR import: {where} (Patient/{res.get('id')}): gender {res.get('gender')!r} is not male or female")
            given = (x.get("value") for x in res.get("identifier", []) if x.get("system") == f"{CANONICAL_BASE}/patient-id")
            ident = next(given, res.get("id"))
            rec: dict[str, Any] = {"patient_id": ident, "sex": gender}
            for ext in res.get("extension", []):
                url = ext.get("url", "")
                if url.startswith(_PATIENT_EXT):
                    rec[url[len(_PATIENT_EXT) :]] = next(v for k, v in ext.items() if k.startswith("value"))
            patients.append(rec)
        elif kind == "QuestionnaireResponse":
            ref = (res.get("subject") or {}).get("reference", "")
            visit = next((x.get("valueString") for x in res.get("extension", []) if x.get("url") == VISIT_EXTENSION), None)
            if not ref.startswith("Patient/") or visit is None:
                raise DataError(
                    f"FHIR import: {where} (QuestionnaireResponse/{res.get('id')}): needs subject Patient/<id> "
                    f"and the visit extension {VISIT_EXTENSION}"
                )
            try:
                inst, answers = responses_from_fhir(res)
            except InstrumentError as exc:
                raise DataError(f"FHIR import: {where}: {exc}") from None
            item_of = get_instrument(inst)
            for key, answer in answers.items():
                value = answer
                if item_of.item(key).kind == "clock" and isinstance(answer, str):
                    h, m = answer.split(":")
                    value = int(h) * 60 + int(m)
                rows.append(
                    {"patient_id": ref.removeprefix("Patient/"), "visit": visit, "instrument": inst, "item": key, "value": float(value),
                     "completed_date": str(res["authored"])[:10] if res.get("authored") else None}
                )
    ids = {p["patient_id"] for p in patients}
    fixed = {r["patient_id"]: r["patient_id"] for r in rows}
    for r in rows:  # subject references use FHIR ids; map back to patient_id when they differ
        r["patient_id"] = next((p for p in ids if _fid(p) == r["patient_id"]), fixed[r["patient_id"]])
    pat = pd.DataFrame(
        patients, columns=list(dict.fromkeys([c.name for c in SCHEMAS["patients"].columns] + [k for p in patients for k in p]))
    )
    qs = pd.DataFrame(rows, columns=["patient_id", "visit", "instrument", "item", "value", "completed_date"])
    try:
        data = TrialData.from_tables(patients=pat, questionnaires=qs, meta={"source": "fhir-import"})
    except DataError as exc:
        raise DataError(f"FHIR import: the bundle does not form valid trial data:\n{exc}") from None
    return canonical_order(data)

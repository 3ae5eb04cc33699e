"""Define-XML 2.0 for an SDTM or ADaM package: datasets, variables, codelists, origins.

:func:`define_xml` builds the document from a package's variable metadata and its data (the
data give the lengths, the integer/float types and the codelist values actually used). It
holds one ItemGroupDef per dataset (with its ``def:leaf`` pointing at ``<name>.xpt``), one
ItemDef per dataset x variable, and one CodeList per CDISC codelist used (the values found in
the data, with their NCI codes as ``nci:ExtCodeID`` aliases; a sponsor extension carries
``def:ExtendedValue="Yes"``); COUNTRY and the MedDRA variables point at external dictionaries.
Value-level metadata (QSORRES per QSTESTCD), methods and comments are not written
(docs/interop-cdisc.md lists what is out of scope).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from ketapain import __version__

from ._sdtm_terms import ct_codelists
from ._xpt import DatasetPackage
from ._xpt import utf8_lengths as _utf8_lengths

__all__ = ["DATASET_CLASSES", "DEFINE_NAMESPACE", "KEYS", "ORIGIN_TYPES", "REQUIRED", "define_xml"]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEFINE_NAMESPACE = "http://www.cdisc.org/ns/def/v2.0"
"""The Define-XML 2.0 namespace (prefix ``def``)."""
XLINK_NS = "http://www.w3.org/1999/xlink"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

ORIGIN_TYPES = ("CRF", "Derived", "Assigned", "Protocol", "eDT", "Predecessor")
"""The origin types Define-XML 2.0 allows (section 5.3.11, def:Origin/@Type)."""

_STANDARDS = {"sdtm": ("SDTM-IG", "3.4", "Tabulation"), "adam": ("ADaM-IG", "1.3", "Analysis")}

DATASET_CLASSES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "DM": ("SPECIAL PURPOSE", "One record per subject"),
    "EX": ("INTERVENTIONS", "One record per constant-dosing interval per subject"),
    "AE": ("EVENTS", "One record per adverse event per subject"),
    "CM": ("INTERVENTIONS", "One record per recorded medication class per period per subject"),
    "QS": ("FINDINGS", "One record per questionnaire per question per time point per visit per subject"),
    "SE": ("SPECIAL PURPOSE", "One record per actual Element per subject"),
    "TA": ("TRIAL DESIGN", "One record per planned Element per Arm"),
    "TE": ("TRIAL DESIGN", "One record per planned Element"),
    "TV": ("TRIAL DESIGN", "One record per planned Visit per Arm"),
    "ADSL": ("SUBJECT LEVEL ANALYSIS DATASET", "One record per subject"),
    "ADAUC": ("BASIC DATA STRUCTURE", "One record per subject per parameter per analysis period"),
    "ADQS": ("BASIC DATA STRUCTURE", "One record per subject per parameter per analysis visit"),
})
"""Dataset -> (def:Class, def:Structure) (SDTMIG 3.4 domain classes; ADaMIG 1.3 classes)."""

KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "DM": ("STUDYID", "USUBJID"),
    "EX": ("STUDYID", "USUBJID", "EXTRT", "EXSTDTC"),
    "AE": ("STUDYID", "USUBJID", "AETERM", "AESTDTC", "AESPID"),
    "CM": ("STUDYID", "USUBJID", "CMTRT", "CMCAT", "EPOCH"),
    "QS": ("STUDYID", "USUBJID", "QSCAT", "QSTESTCD", "VISITNUM", "QSTPTREF", "QSTPTNUM"),
    "SE": ("STUDYID", "USUBJID", "ETCD", "SESTDTC"),
    "TA": ("STUDYID", "ARMCD", "TAETORD"),
    "TE": ("STUDYID", "ETCD"),
    "TV": ("STUDYID", "VISITNUM", "ARMCD"),
    "ADSL": ("STUDYID", "USUBJID"),
    "ADAUC": ("STUDYID", "USUBJID", "PARAMCD", "APERIOD"),
    "ADQS": ("STUDYID", "USUBJID", "PARAMCD", "AVISITN"),
})
"""Dataset -> its key variables, in KeySequence order."""

REQUIRED: Mapping[str, frozenset[str]] = MappingProxyType({
    "DM": frozenset({"STUDYID", "DOMAIN", "USUBJID", "SUBJID", "SITEID", "SEX", "COUNTRY"}),
    "EX": frozenset({"STUDYID", "DOMAIN", "USUBJID", "EXSEQ", "EXTRT"}),
    "AE": frozenset({"STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDECOD"}),
    "CM": frozenset({"STUDYID", "DOMAIN", "USUBJID", "CMSEQ", "CMTRT"}),
    "QS": frozenset({"STUDYID", "DOMAIN", "USUBJID", "QSSEQ", "QSTESTCD", "QSTEST", "QSCAT"}),
    "SE": frozenset({"STUDYID", "DOMAIN", "USUBJID", "SESEQ", "ETCD", "SESTDTC"}),
    "TA": frozenset({"STUDYID", "DOMAIN", "ARMCD", "ARM", "TAETORD", "ETCD", "EPOCH"}),
    "TE": frozenset({"STUDYID", "DOMAIN", "ETCD", "ELEMENT", "TESTRL"}),
    "TV": frozenset({"STUDYID", "DOMAIN", "VISITNUM", "TVSTRL"}),
    "ADSL": frozenset({"STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "AGEU", "SEX", "RACE", "ARM", "ACTARM"}),
    "ADAUC": frozenset({"STUDYID", "USUBJID", "PARAM", "PARAMCD"}),
    "ADQS": frozenset({"STUDYID", "USUBJID", "PARAM", "PARAMCD"}),
})
"""Dataset -> the variables SDTMIG 3.4 / ADaMIG 1.3 mark Req (``Mandatory="Yes"``); ADSL's
TRTxxP are required too (added by pattern)."""

_EXTERNAL = {"COUNTRY": ("ISO 3166-1 alpha-3", ""), "MedDRA": ("MEDDRA", "")}


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    node = ET.SubElement(parent, _q(ODM_NS, tag))
    t = ET.SubElement(node, _q(ODM_NS, "TranslatedText"), {_XML_LANG: "en"})
    t.text = text
    return node


def _numeric_type(values: pd.Series) -> tuple[str, int, int | None]:
    """``("integer", digits, None)`` or ``("float", length, decimals)`` of a numeric column."""
    v = values.to_numpy(dtype="float64")
    v = v[np.isfinite(v)]
    if not len(v):
        return "integer", 1, None
    whole = int(np.max(np.floor(np.log10(np.maximum(np.abs(v), 1))))) + 1 + int(np.any(v < 0))
    if np.all(v == np.round(v)):
        return "integer", whole, None
    decimals = next((d for d in range(1, 16) if np.all(np.round(v, d) == v)), 15)
    return "float", whole + 1 + decimals, decimals


def _origin(item: ET.Element, origin: str) -> None:
    if origin in ORIGIN_TYPES:
        ET.SubElement(item, _q(DEFINE_NAMESPACE, "Origin"), {"Type": origin})
        return
    predecessor = "." in origin and origin.split(".", 1)[0].isupper()
    node = ET.SubElement(item, _q(DEFINE_NAMESPACE, "Origin"), {"Type": "Predecessor" if predecessor else "Derived"})
    _text(node, "Description", origin if predecessor else f"From ketapain {origin}")


def define_xml(package: DatasetPackage, *, standard: Literal["sdtm", "adam"],
               created: dt.datetime | None = None) -> bytes:
    """The Define-XML 2.0 document (UTF-8 bytes) describing ``package``.

    Parameters
    ----------
    package : SdtmPackage or AdamPackage
        The datasets and their variable metadata.
    standard : {"sdtm", "adam"}
        ``def:StandardName`` / ``def:StandardVersion``: SDTM-IG 3.4 or ADaM-IG 1.3.
    created : datetime, optional
        ``CreationDateTime``; default now (UTC).

    Notes
    -----
    DataType: ``--DTC`` variables holding full dates are ``date``; other character variables
    ``text`` with Length = the longest value in bytes; numeric variables ``integer`` (Length =
    digits) or ``float`` (Length and SignificantDigits = decimals) from their values; ADaM
    SAS dates ``integer`` with ``def:DisplayFormat="DATE9."``. Mandatory is ``Yes`` for the
    variables SDTMIG/ADaMIG mark required (:data:`REQUIRED`); KeySequence follows :data:`KEYS`.
    Role is written for SDTM only (Define-XML 2.0 section 5.3.5).
    """
    if standard not in _STANDARDS:
        raise ValueError(f"standard must be 'sdtm' or 'adam', got {standard!r}")
    name, version, purpose = _STANDARDS[standard]
    ET.register_namespace("", ODM_NS)
    ET.register_namespace("def", DEFINE_NAMESPACE)
    ET.register_namespace("xlink", XLINK_NS)
    when = (created or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    sid = package.study_id
    root = ET.Element(_q(ODM_NS, "ODM"), {
        "FileType": "Snapshot", "FileOID": f"DEFINE.{sid}.{standard.upper()}", "ODMVersion": "1.3.2",
        "CreationDateTime": when.isoformat(), "Originator": "ketapain", "SourceSystem": "ketapain",
        "SourceSystemVersion": __version__})
    study = ET.SubElement(root, _q(ODM_NS, "Study"), {"OID": f"STUDY.{sid}"})
    glob = ET.SubElement(study, _q(ODM_NS, "GlobalVariables"))
    for tag, value in (("StudyName", sid), ("StudyDescription", f"{sid} {name} {version} datasets"),
                       ("ProtocolName", sid)):
        ET.SubElement(glob, _q(ODM_NS, tag)).text = value
    mdv = ET.SubElement(study, _q(ODM_NS, "MetaDataVersion"), {
        "OID": f"MDV.{sid}.{standard.upper()}", "Name": f"{sid} {name} {version}",
        _q(DEFINE_NAMESPACE, "DefineVersion"): "2.0.0", _q(DEFINE_NAMESPACE, "StandardName"): name,
        _q(DEFINE_NAMESPACE, "StandardVersion"): version})
    meta = package.variables
    groups, items = [], []
    used: dict[str, set[str]] = {}
    for ds, frame in package.datasets.items():
        klass, structure = DATASET_CLASSES.get(ds, ("", "One record per row"))
        attrs = {"OID": f"IG.{ds}", "Name": ds, "Repeating": "No" if ds in ("DM", "ADSL") else "Yes",
                 "IsReferenceData": "Yes" if ds in ("TA", "TE", "TV") else "No", "SASDatasetName": ds,
                 "Purpose": purpose, _q(DEFINE_NAMESPACE, "Structure"): structure,
                 _q(DEFINE_NAMESPACE, "ArchiveLocationID"): f"LF.{ds}"}
        if standard == "sdtm":
            attrs["Domain"] = ds
        if klass:
            attrs[_q(DEFINE_NAMESPACE, "Class")] = klass
        group = ET.Element(_q(ODM_NS, "ItemGroupDef"), attrs)
        _text(group, "Description", package.labels.get(ds, ds))
        rows = meta[meta["dataset"] == ds]
        keys = KEYS.get(ds, ())
        required = REQUIRED.get(ds, frozenset())
        for row in rows.itertuples(index=False):
            var = str(row.variable)
            mandatory = var in required or (ds == "ADSL" and var.startswith("TRT") and var.endswith("P")
                                            and var[3:-1].isdigit())
            ref = {"ItemOID": f"IT.{ds}.{var}", "OrderNumber": str(row.order),
                   "Mandatory": "Yes" if mandatory else "No"}
            if var in keys:
                ref["KeySequence"] = str(keys.index(var) + 1)
            if standard == "sdtm" and row.role:
                ref["Role"] = str(row.role)
            ET.SubElement(group, _q(ODM_NS, "ItemRef"), ref)
            items.append(_item_def(ds, var, row, frame[var], used))
        leaf = ET.SubElement(group, _q(DEFINE_NAMESPACE, "leaf"), {"ID": f"LF.{ds}",
                                                                   _q(XLINK_NS, "href"): f"{ds.lower()}.xpt"})
        ET.SubElement(leaf, _q(DEFINE_NAMESPACE, "title")).text = f"{ds.lower()}.xpt"
        groups.append(group)
    mdv.extend(groups)
    mdv.extend(items)
    mdv.extend(_codelists(used))
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def _item_def(ds: str, var: str, row: object, values: pd.Series, used: dict[str, set[str]]) -> ET.Element:
    """The ItemDef of ``ds.var``; records the codelist values it uses in ``used``."""
    label, typ, codelist, origin = (str(getattr(row, k)) for k in ("label", "type", "codelist", "origin"))
    attrs = {"OID": f"IT.{ds}.{var}", "Name": var, "SASFieldName": var}
    if typ == "Num":
        kind, length, decimals = _numeric_type(values)
        attrs.update({"DataType": kind, "Length": str(length)})
        if decimals is not None:
            attrs["SignificantDigits"] = str(decimals)
        if codelist == "SAS date":
            attrs[_q(DEFINE_NAMESPACE, "DisplayFormat")] = "DATE9."
    else:
        text = values.astype(str)
        present = text[text != ""]
        if var.endswith("DTC") and present.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all():
            attrs["DataType"] = "date"
        else:
            longest = int(_utf8_lengths(present).max()) if len(present) else 1
            attrs.update({"DataType": "text", "Length": str(max(1, longest))})
    item = ET.Element(_q(ODM_NS, "ItemDef"), attrs)
    _text(item, "Description", label)
    ct = ct_codelists()
    if codelist in ct or codelist in _EXTERNAL:
        ET.SubElement(item, _q(ODM_NS, "CodeListRef"), {"CodeListOID": f"CL.{codelist}"})
        present = values.astype(str)
        used.setdefault(codelist, set()).update(present[present != ""].unique().tolist()
                                                if typ == "Char" else [])
    _origin(item, origin)
    return item


def _codelists(used: Mapping[str, set[str]]) -> list[ET.Element]:
    """One CodeList per codelist used, CT ones with the values found, in the subset's order."""
    ct = ct_codelists()
    out = []
    for short in sorted(used):
        if short in _EXTERNAL or (ct.get(short) is not None and ct[short].external):
            dictionary, version = _EXTERNAL.get(short, (ct[short].external if short in ct else short, ""))
            node = ET.Element(_q(ODM_NS, "CodeList"), {"OID": f"CL.{short}", "Name": short, "DataType": "text"})
            ET.SubElement(node, _q(ODM_NS, "ExternalCodeList"),
                          {"Dictionary": dictionary, **({"Version": version} if version else {})})
            if short in ct and ct[short].code:  # blank: no NCI code confirmed (COUNTRY)
                ET.SubElement(node, _q(ODM_NS, "Alias"), {"Context": "nci:ExtCodeID", "Name": ct[short].code})
            out.append(node)
            continue
        cl = ct[short]
        node = ET.Element(_q(ODM_NS, "CodeList"), {"OID": f"CL.{short}", "Name": cl.name, "DataType": "text"})
        order = list(cl.terms)
        # no value used (e.g. ARMNRS when every subject was assigned): the codelist's own terms
        found = used[short] or {v for v in order if v not in cl.extended}
        values = sorted(found, key=lambda v: (order.index(v) if v in order else len(order), v))
        for rank, value in enumerate(values, start=1):
            attrs = {"CodedValue": value, "OrderNumber": str(rank)}
            if value in cl.extended or value not in cl.terms:
                attrs[_q(DEFINE_NAMESPACE, "ExtendedValue")] = "Yes"
            enum = ET.SubElement(node, _q(ODM_NS, "EnumeratedItem"), attrs)
            if cl.terms.get(value):
                ET.SubElement(enum, _q(ODM_NS, "Alias"), {"Context": "nci:ExtCodeID", "Name": cl.terms[value]})
        if cl.code:
            ET.SubElement(node, _q(ODM_NS, "Alias"), {"Context": "nci:ExtCodeID", "Name": cl.code})
        out.append(node)
    return out

"""CDISC ODM 1.3.2: the study design and the clinical data of a trial as one XML file, and back.

How TrialData maps onto ODM
---------------------------
Metadata (``Study/MetaDataVersion``):

====================  ==============================================================  ==========
StudyEventDef          holds (FormRef)                                                  repeating
====================  ==============================================================  ==========
``SE.SCREENING``       screening form (F.SCREENING), demographics (F.DM)                No
``SE.V.<visit>``       one questionnaire form per instrument given at that visit       No
``SE.P<k>``            allocation of period k (F.ALLOCATION), pain diary (F.DIARY)      No
``SE.LOG``             adverse events (F.AE), concomitant analgesics (F.CM)            No
====================  ==============================================================  ==========

Visits are the protocol's ``[[visits]]`` plus any other visit found in the data; periods are
1..``design.periods`` plus any other period found. Repeating item groups hold the rows of
one table that share an event: diary days (``ItemGroupRepeatKey`` = day), adverse events
and concomitant rows (repeat key = 1, 2, ...). Every ``ItemDef`` carries its ``DataType``
(integer, float, text, boolean, date), its range as ``RangeCheck`` elements
(``GE``/``LE``, hard; for the pain columns the protocol's diary scale, which :func:`from_odm`
reads back as the ``diary_scale`` the values are checked against), a ``CodeListRef`` for closed sets (sex, pain types, severity,
causality, drug classes, screening outcome, concomitant status, and the options of each
questionnaire item) and an ``Alias Context="ketapain"`` naming the TrialData column
(``diary.avg_pain``) or questionnaire item (``questionnaires:bpi:5a``). When the data have
``questionnaires.completed_date``, each questionnaire group also holds a date item
``IT.QSDATE.<instrument>`` (alias ``questionnaires.completed_date``): the date of the form,
which all its rows must share. Forms and events
carry an alias too (``table:diary``, ``instrument:bpi``, ``visit:inclusion``,
``period:2``); the importer reads only these aliases, so OIDs are free to change.
``ItemRef Mandatory="Yes"`` marks a non-nullable column. The ``meta`` mapping of the
TrialData is kept as JSON in ``MetaDataVersion/@Description``.

Clinical data: one ``SubjectData`` per patient (``SubjectKey`` = patient_id) and one per
screened person who is not a patient (``SubjectKey`` = screening_id; such a subject has a
screening form only). Only collected values are written (ODM 1.3.2, ItemData: "one should not
use ItemData elements with IsNull set to "Yes" to indicate uncollected data. The better
practice is to transmit only collected data"): a missing cell of a table has no ``ItemData``.
The one recorded null is a ``questionnaires`` row whose ``value`` is missing (the row says
the item was given): ``ItemData IsNull="Yes"``. ``ItemDef`` sizes follow ODM 1.3.2: ``Length`` on every text
item (the longest value or code), on integer items (digits of the largest magnitude) and,
with ``SignificantDigits``, on float items (``_odm_sizes``).
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ketapain.data import FIRST_DATA_ROW, PAIN_COLUMNS, SCHEMAS, TABLE_NAMES, TrialData
from ketapain.errors import DataError
from ketapain.instruments import Instrument, instruments
from ketapain.interop._odm_sizes import item_sizes
from ketapain.interop._odm_values import (
    canonical_order,
    column_kinds,
    form_dates,
    from_named_tables,
    from_text,
    to_text,
    visit_rank,
)
from ketapain.protocol import Protocol

__all__ = ["ODM_NAMESPACE", "from_odm", "to_odm"]

ODM_NAMESPACE = "http://www.cdisc.org/ns/odm/v1.3"
"""XML namespace of ODM 1.3 (1.3.2 documents use it, with ``ODMVersion="1.3.2"``)."""
_NS = f"{{{ODM_NAMESPACE}}}"
_CONTEXT = "ketapain"
_DATATYPE = {"int": "integer", "float": "float", "str": "text", "bool": "boolean", "date": "date"}
_KIND = {v: k for k, v in _DATATYPE.items()}

# table -> (form OID, item-group OID, item OID prefix, event placement, repeating group)
_FORMS = {
    "screening": ("F.SCREENING", "IG.SCREENING", "SCR", "screening", False),
    "patients": ("F.DM", "IG.DM", "DM", "screening", False),
    "allocation": ("F.ALLOCATION", "IG.ALLOCATION", "ALLOC", "period", False),
    "diary": ("F.DIARY", "IG.DIARY", "DIARY", "period", True),
    "adverse_events": ("F.AE", "IG.AE", "AE", "log", True),
    "concomitant": ("F.CM", "IG.CM", "CM", "log", True),
}
_NAMES = {
    "screening": "Screening and eligibility", "patients": "Demographics", "allocation": "Allocation and infusion",
    "diary": "Daily pain diary", "adverse_events": "Adverse events", "concomitant": "Concomitant analgesics",
}
# columns given by the structure (subject, event), not written as items
_IMPLIED = {"patients": {"patient_id"}, "allocation": {"patient_id", "period"}, "diary": {"patient_id", "period"},
            "adverse_events": {"patient_id"}, "concomitant": {"patient_id"}, "screening": set()}

def _completed_oid(instrument: str) -> str:
    return f"IT.QSDATE.{_oid_part(instrument)}"


_Texts = dict[str, dict[str, list[str | None]]]
"""Table -> column -> its cells as text (None = missing), as the ``ItemData`` values are written."""


def _el(parent: ET.Element, tag: str, **attrs: Any) -> ET.Element:
    full = tag if tag.startswith("{") else f"{_NS}{tag}"
    return ET.SubElement(parent, full, {k: str(v) for k, v in attrs.items() if v is not None})


def _alias(parent: ET.Element, name: str) -> None:
    _el(parent, "Alias", Context=_CONTEXT, Name=name)


def _text_el(parent: ET.Element, tag: str, text: str) -> None:
    _el(_el(parent, tag), "TranslatedText").text = text


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _oid_part(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)


def to_odm(data: TrialData, protocol: Protocol) -> bytes:
    """The trial as a CDISC ODM 1.3.2 document: study metadata and all clinical data.

    Parameters
    ----------
    data
        The trial; every table is exported, extra columns included.
    protocol
        The protocol the data belong to: visits, periods and questionnaires of the design.

    Returns
    -------
    bytes
        UTF-8 XML (``FileType="Snapshot"``); the mapping is described in the module docstring
        and in ``docs/interop-odm-redcap-fhir.md``.

    Raises
    ------
    DataError
        A screening_id of a screened person who is not a patient equals a patient_id (both
        would be the same ``SubjectKey``).

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> from ketapain.simulate import simulate_trial
    >>> protocol = load_protocol("ketapain")
    >>> data = simulate_trial(protocol, n_patients=2, seed=1)
    >>> xml = to_odm(data, protocol)
    >>> xml[:38]
    b"<?xml version='1.0' encoding='UTF-8'?>"
    >>> canonical_order(data).equals(from_odm(xml))
    True
    """
    tables = data.to_tables()
    visits = visit_rank(tables["questionnaires"]["visit"].unique().tolist(), [v.name for v in protocol.visits])
    periods = sorted(set(range(1, protocol.design.periods + 1)) | set(tables["allocation"]["period"].tolist())
                     | set(tables["diary"]["period"].tolist()))
    visit_instruments = _visit_instruments(protocol, tables["questionnaires"], visits)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    root = ET.Element(f"{_NS}ODM", {"ODMVersion": "1.3.2", "FileType": "Snapshot",
                                    "FileOID": f"ketapain.{_oid_part(protocol.study.id)}", "CreationDateTime": now})
    study = _el(root, f"{_NS}Study", OID=protocol.study.id)
    gv = _el(study, f"{_NS}GlobalVariables")
    _el(gv, f"{_NS}StudyName").text = data.meta.get("study", protocol.study.title)
    _el(gv, f"{_NS}StudyDescription").text = protocol.study.title
    _el(gv, f"{_NS}ProtocolName").text = protocol.study.registration or protocol.study.id
    mdv = _el(study, f"{_NS}MetaDataVersion", OID="MDV.1", Name=f"{protocol.study.id} data model",
              Description=json.dumps({"ketapain_meta": dict(data.meta)}, sort_keys=True))
    # ODM children must come in schema order: Protocol, StudyEventDef, FormDef, ItemGroupDef, ItemDef, CodeList
    _event_defs(mdv, visits, periods, visit_instruments)
    defs = _Defs()
    texts = _cell_texts(tables)
    item_oids = {table: _table_form(mdv, defs, table, tables[table], texts[table], protocol.diary.scale)
                 for table in _FORMS}
    all_instruments = list(dict.fromkeys(i for lst in visit_instruments.values() for i in lst))
    registry = instruments()
    q = tables["questionnaires"]
    _check_finite(q, "questionnaires", "value")
    q_text = pd.Series(to_text(q["value"], "float"), index=q.index, dtype=object)
    qs_items = {name: _instrument_form(mdv, defs, name, registry.get(name), q, q_text) for name in all_instruments}
    defs.write(mdv)
    _clinical(root, tables, texts, q_text, protocol, visits, periods, item_oids, qs_items)
    ET.register_namespace("", ODM_NAMESPACE)  # ODM as the default namespace (no ns0: prefixes)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _visit_instruments(protocol: Protocol, q: pd.DataFrame, visits: Mapping[str, int]) -> dict[str, list[str]]:
    """Visit -> the instruments given there: the protocol's, then any other found in the data."""
    visit_instruments: dict[str, list[str]] = {v: [] for v in visits}
    for v in protocol.visits:
        visit_instruments[v.name] = list(v.questionnaires)
    for v, inst in q[["visit", "instrument"]].drop_duplicates().itertuples(index=False):
        if inst not in visit_instruments[v]:
            visit_instruments[v].append(inst)
    return visit_instruments


def _event_defs(mdv: ET.Element, visits: Mapping[str, int], periods: list[int],
                visit_instruments: Mapping[str, list[str]]) -> None:
    """``Protocol`` (the event order) and one ``StudyEventDef`` per event, with its forms."""
    events: list[tuple[str, str, str, list[str]]] = [("SE.SCREENING", "Screening and inclusion", "screening", ["F.SCREENING", "F.DM"])]
    events += [(f"SE.V.{_oid_part(v)}", f"Visit {v}", f"visit:{v}", [f"F.QS.{_oid_part(i)}" for i in visit_instruments[v]]) for v in visits]
    events += [(f"SE.P{k}", f"Period {k}", f"period:{k}", ["F.ALLOCATION", "F.DIARY"]) for k in periods]
    events.append(("SE.LOG", "Adverse events and concomitant analgesics", "log", ["F.AE", "F.CM"]))
    proto = _el(mdv, f"{_NS}Protocol")
    for n, (oid, *_rest) in enumerate(events, start=1):
        _el(proto, f"{_NS}StudyEventRef", StudyEventOID=oid, OrderNumber=n, Mandatory="No")
    for oid, name, alias, forms in events:
        se = _el(mdv, f"{_NS}StudyEventDef", OID=oid, Name=name, Repeating="No",
                 Type="Common" if alias == "log" else "Scheduled")
        for n, f in enumerate(forms, start=1):
            _el(se, f"{_NS}FormRef", FormOID=f, OrderNumber=n, Mandatory="No")
        _alias(se, alias)


@dataclass
class _Defs:
    """The item groups, items and code lists gathered while the forms are written (ODM puts
    them after every ``FormDef``, in this order)."""

    groups: list[ET.Element] = field(default_factory=list)
    items: list[ET.Element] = field(default_factory=list)
    codelists: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)  # oid -> name, DataType, coded values

    def write(self, mdv: ET.Element) -> None:
        mdv.extend(self.groups)
        mdv.extend(self.items)
        for cl_oid, (name, dtype, values) in self.codelists.items():
            cl = _el(mdv, f"{_NS}CodeList", OID=cl_oid, Name=name, DataType=dtype)
            for v in values:
                cli = _el(cl, f"{_NS}CodeListItem", CodedValue=v)
                _text_el(cli, f"{_NS}Decode", v)


def _range_checks(idef: ET.Element, lo: float | None, hi: float | None) -> None:
    for comp, bound in (("GE", lo), ("LE", hi)):
        if bound is not None:
            rc = _el(idef, f"{_NS}RangeCheck", Comparator=comp, SoftHard="Hard")
            _el(rc, f"{_NS}CheckValue").text = _fmt(bound)


def _cell_texts(tables: Mapping[str, pd.DataFrame]) -> _Texts:
    """Every cell of the tables but ``questionnaires`` as text; a float that is not finite is
    refused (an ODM float is a decimal number)."""
    out: _Texts = {}
    for table in _FORMS:
        frame = tables[table]
        out[table] = {}
        for col, kind, _nullable in column_kinds(frame, table):
            if kind == "float":
                _check_finite(frame, table, col)
            out[table][col] = to_text(frame[col], kind)
    return out


def _check_finite(frame: pd.DataFrame, table: str, col: str) -> None:
    bad = np.isinf(frame[col].to_numpy(dtype="float64", na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"ODM export: {table} row {i + FIRST_DATA_ROW}: {col}={float(frame[col].iloc[i])} is not a finite number; "
                        "an ODM float is a decimal number")


def _set_sizes(idef: ET.Element, sizes: pd.DataFrame, key: str | int) -> None:
    """``Length`` and ``SignificantDigits`` of an ``ItemDef`` from :func:`item_sizes`; a text
    item with no value and no code still gets ``Length="1"`` (ODM 1.3.2 requires it)."""
    length = sizes["length"].get(key, pd.NA)
    digits = sizes["significant_digits"].get(key, pd.NA)
    if pd.notna(length):
        idef.set("Length", str(length))
    elif idef.get("DataType") == "text":
        idef.set("Length", "1")
    if pd.notna(digits):
        idef.set("SignificantDigits", str(digits))


def _sizes_of(texts: list[str | None], datatype: str) -> pd.DataFrame:
    """:func:`item_sizes` of one item (key 0) from the texts that must fit (missing ones left out)."""
    values = pd.Series(texts, dtype=object).dropna()
    return item_sizes(values, pd.Series(0, index=values.index, dtype=object), datatype)


def _table_form(mdv: ET.Element, defs: _Defs, table: str, frame: pd.DataFrame, texts: Mapping[str, list[str | None]],
                scale: tuple[float, float]) -> dict[str, str]:
    """The ``FormDef`` of one TrialData table, its item group and items; column -> item OID."""
    form_oid, group_oid, prefix, _place, repeating = _FORMS[table]
    fd = _el(mdv, f"{_NS}FormDef", OID=form_oid, Name=_NAMES[table], Repeating="No")
    _el(fd, f"{_NS}ItemGroupRef", ItemGroupOID=group_oid, Mandatory="Yes")
    _alias(fd, f"table:{table}")
    ig = ET.Element(f"{_NS}ItemGroupDef", {"OID": group_oid, "Name": _NAMES[table], "Repeating": "Yes" if repeating else "No"})
    defs.groups.append(ig)
    oids: dict[str, str] = {}
    schema_cols = {c.name: c for c in SCHEMAS[table].columns}
    for n, (col, kind, nullable) in enumerate(column_kinds(frame, table), start=1):
        if col in _IMPLIED[table]:
            continue
        oid = f"IT.{prefix}.{_oid_part(col)}"
        oids[col] = oid
        _el(ig, f"{_NS}ItemRef", ItemOID=oid, OrderNumber=n, Mandatory="No" if nullable else "Yes")
        idef = ET.Element(f"{_NS}ItemDef", {"OID": oid, "Name": col, "DataType": _DATATYPE[kind]})
        c = schema_cols.get(col)
        fit = list(texts[col])
        if c is not None:
            _text_el(idef, f"{_NS}Description", c.description)
            lo, hi = scale if (table, col) in PAIN_COLUMNS else (c.min, c.max)  # the protocol's diary scale
            _range_checks(idef, lo, hi)
            fit += [_fmt(b) for b in (lo, hi) if b is not None and kind in ("int", "float")]
            if c.allowed:
                cl_oid = f"CL.{_oid_part(col).upper()}"
                defs.codelists[cl_oid] = (col, "text", list(c.allowed))
                _el(idef, f"{_NS}CodeListRef", CodeListOID=cl_oid)
                fit += [str(v) for v in c.allowed]
        _set_sizes(idef, _sizes_of(fit, _DATATYPE[kind]), 0)
        _alias(idef, f"{table}.{col}")
        defs.items.append(idef)
    return oids


def _instrument_form(mdv: ET.Element, defs: _Defs, inst_name: str, known: Instrument | None,
                     q: pd.DataFrame, q_text: pd.Series) -> dict[str, str]:
    """The ``FormDef`` of one questionnaire (its items, then any other item found in the
    data), its item group and items; item key -> item OID. ``q_text``: the values of ``q``
    as written."""
    form_oid = f"F.QS.{_oid_part(inst_name)}"
    group_oid = f"IG.QS.{_oid_part(inst_name)}"
    fd = _el(mdv, f"{_NS}FormDef", OID=form_oid, Name=known.title if known else inst_name, Repeating="No")
    _el(fd, f"{_NS}ItemGroupRef", ItemGroupOID=group_oid, Mandatory="Yes")
    _alias(fd, f"instrument:{inst_name}")
    ig = ET.Element(f"{_NS}ItemGroupDef", {"OID": group_oid, "Name": inst_name, "Repeating": "No"})
    defs.groups.append(ig)
    keys = list(known.item_keys) if known else []
    keys += [k for k in q.loc[q["instrument"] == inst_name, "item"].unique().tolist() if k not in keys]
    oids: dict[str, str] = {}
    idefs: dict[str, ET.Element] = {}
    bounds: list[tuple[str, str]] = []  # (item key, text) of the range bounds and codes each item must fit
    for n, key in enumerate(keys, start=1):
        oid = f"IT.QS.{_oid_part(inst_name)}.{_oid_part(key)}"
        oids[key] = oid
        _el(ig, f"{_NS}ItemRef", ItemOID=oid, OrderNumber=n, Mandatory="No")
        idef = ET.Element(f"{_NS}ItemDef", {"OID": oid, "Name": f"{inst_name} item {key}", "DataType": "float"})
        item = known.item(key) if known and key in known.item_keys else None
        if item is not None:
            _text_el(idef, f"{_NS}Description", item.label + (" (minutes after midnight)" if item.kind == "clock" else ""))
            if item.values is None:
                lo, hi = (0.0, 1439.0) if item.kind == "clock" else (item.minimum, item.maximum)
                _range_checks(idef, lo, hi)
                bounds += [(key, _fmt(b)) for b in (lo, hi) if b is not None]
            else:
                cl_oid = f"CL.QS.{_oid_part(inst_name)}.{_oid_part(key)}"
                codes = [_fmt(v) for v in item.values]
                defs.codelists[cl_oid] = (f"{inst_name} item {key} options", "float", codes)
                _el(idef, f"{_NS}CodeListRef", CodeListOID=cl_oid)
                bounds += [(key, c) for c in codes]
        _alias(idef, f"questionnaires:{inst_name}:{key}")
        defs.items.append(idef)
        idefs[key] = idef
    if q["completed_date"].notna().any():
        date_oid = _completed_oid(inst_name)
        _el(ig, f"{_NS}ItemRef", ItemOID=date_oid, OrderNumber=len(keys) + 1, Mandatory="No")
        ddef = ET.Element(f"{_NS}ItemDef", {"OID": date_oid, "Name": f"{inst_name} completed_date", "DataType": "date"})
        _text_el(ddef, f"{_NS}Description", "date the questionnaire was completed (questionnaires.completed_date)")
        _alias(ddef, "questionnaires.completed_date")
        defs.items.append(ddef)
    mine = (q["instrument"] == inst_name).to_numpy() & q_text.notna().to_numpy()
    fit = pd.concat([q_text[mine], pd.Series([b for _k, b in bounds], dtype=object)], ignore_index=True)
    fit_keys = pd.concat([q["item"][mine].astype(object), pd.Series([k for k, _b in bounds], dtype=object)], ignore_index=True)
    sizes = item_sizes(fit, fit_keys, "float")
    for key, idef in idefs.items():
        _set_sizes(idef, sizes, key)
    return oids


def _clinical(root: ET.Element, tables: Mapping[str, pd.DataFrame], texts: _Texts, q_text: pd.Series, protocol: Protocol,
              visits: Mapping[str, int], periods: list[int], item_oids: Mapping[str, Mapping[str, str]],
              qs_items: Mapping[str, Mapping[str, str]]) -> None:
    """``ClinicalData``: the collected values only (a missing table cell has no ``ItemData``);
    a questionnaire row without a value is ``IsNull="Yes"``."""
    cd = _el(root, f"{_NS}ClinicalData", StudyOID=protocol.study.id, MetaDataVersionOID="MDV.1")
    patient_ids = tables["patients"]["patient_id"].tolist()
    scr = tables["screening"]
    loose = scr[~scr["patient_id"].isin(patient_ids)]
    clash = sorted(set(loose["screening_id"]) & set(patient_ids))
    if clash:
        raise DataError(f"ODM export: screening_id {clash[0]!r} of a screened person who is not a patient is also a patient_id; "
                        f"both would be SubjectKey {clash[0]!r}")
    # every table's rows as text, grouped by subject key
    rows: dict[str, dict[str, list[tuple[Any, dict[str, str | None]]]]] = {}

    def collect(table: str, frame: pd.DataFrame, subject: pd.Series, event: pd.Series) -> None:
        cols = list(item_oids[table])
        cells = [texts[table][c] for c in cols]
        oids = [item_oids[table][c] for c in cols]
        for i, (s, e) in enumerate(zip(subject.tolist(), event.tolist(), strict=True)):
            record = {oid: col[i] for oid, col in zip(oids, cells, strict=True) if col[i] is not None}
            rows.setdefault(s, {}).setdefault(table, []).append((e, record))

    collect("patients", tables["patients"], tables["patients"]["patient_id"], pd.Series(["SE.SCREENING"] * len(tables["patients"])))
    subj = scr["patient_id"].where(scr["patient_id"].isin(patient_ids), scr["screening_id"])
    collect("screening", scr, subj, pd.Series(["SE.SCREENING"] * len(scr)))
    for table in ("allocation", "diary"):
        t = tables[table]
        collect(table, t, t["patient_id"], "SE.P" + t["period"].astype(str))
    for table in ("adverse_events", "concomitant"):
        t = tables[table]
        collect(table, t, t["patient_id"], pd.Series(["SE.LOG"] * len(t)))
    q = tables["questionnaires"]
    completed = form_dates(q, "ODM")
    qrows: dict[str, dict[str, dict[str, list[tuple[str, str | None]]]]] = {}
    keys = q[["patient_id", "visit", "instrument", "item"]].itertuples(index=False)
    for (pid, visit, inst, item), value in zip(keys, q_text.tolist(), strict=True):
        qrows.setdefault(pid, {}).setdefault(visit, {}).setdefault(inst, []).append((qs_items[inst][item], value))

    event_order = ["SE.SCREENING"] + [f"SE.V.{_oid_part(v)}" for v in visits] + [f"SE.P{k}" for k in periods] + ["SE.LOG"]
    visit_of = {f"SE.V.{_oid_part(v)}": v for v in visits}
    order = patient_ids + [s for s in subj.tolist() if s not in set(patient_ids)]
    for key in dict.fromkeys(order):
        sd = _el(cd, f"{_NS}SubjectData", SubjectKey=key)
        per = rows.get(key, {})
        for ev in event_order:
            forms: list[tuple[str, str, list[dict[str, str | None]], bool]] = []
            if ev in visit_of:
                for inst, answers in qrows.get(key, {}).get(visit_of[ev], {}).items():
                    record = dict(answers)
                    date = completed.get((key, visit_of[ev], inst))
                    if date is not None:
                        record[_completed_oid(inst)] = date
                    forms.append((f"F.QS.{_oid_part(inst)}", f"IG.QS.{_oid_part(inst)}", [record], False))
            else:
                for table, (form_oid, group_oid, _p, _place, repeating) in _FORMS.items():
                    recs = [r for e, r in per.get(table, []) if e == ev]
                    if recs:
                        forms.append((form_oid, group_oid, recs, repeating))
            if not forms:
                continue
            sed = _el(sd, f"{_NS}StudyEventData", StudyEventOID=ev)
            for form_oid, group_oid, recs, repeating in forms:
                fdat = _el(sed, f"{_NS}FormData", FormOID=form_oid)
                for n, rec in enumerate(recs, start=1):
                    igd = _el(fdat, f"{_NS}ItemGroupData", ItemGroupOID=group_oid, ItemGroupRepeatKey=n if repeating else None)
                    for oid, value in rec.items():
                        if value is None:
                            _el(igd, f"{_NS}ItemData", ItemOID=oid, IsNull="Yes")
                        else:
                            _el(igd, f"{_NS}ItemData", ItemOID=oid, Value=value)


# --- import ------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Path:
    """Readable element paths for error messages: ODM/ClinicalData/SubjectData[@SubjectKey='P01']/..."""

    KEYS = ("SubjectKey", "StudyEventOID", "FormOID", "ItemGroupOID", "ItemOID", "OID")

    @staticmethod
    def step(el: ET.Element) -> str:
        for k in _Path.KEYS:
            if k in el.attrib:
                extra = "".join(f"[@{r}='{el.attrib[r]}']" for r in ("ItemGroupRepeatKey",) if r in el.attrib)
                return f"{_local(el.tag)}[@{k}='{el.attrib[k]}']{extra}"
        return _local(el.tag)


def _need(el: ET.Element, attr: str, where: str) -> str:
    value = el.attrib.get(attr)
    if value is None or not value.strip():
        raise DataError(f"{where}: required attribute {attr} is missing")
    return value


def _aliases(el: ET.Element) -> str | None:
    for a in el.findall(f"{_NS}Alias"):
        if a.attrib.get("Context") == _CONTEXT:
            return a.attrib.get("Name")
    return None


def from_odm(xml: bytes | str | PathLike[str]) -> TrialData:
    """Read an ODM 1.3.2 document written by :func:`to_odm` back into a TrialData.

    Parameters
    ----------
    xml
        The document as bytes, or the path of an ``.xml`` file.

    Returns
    -------
    TrialData
        All seven tables in :func:`canonical_order`, with the dtypes of the exported data
        (extra columns typed from their ``DataType`` and ``Mandatory`` flag) and the exported
        ``meta``.

    Raises
    ------
    DataError
        Not well-formed XML (line and column), not an ODM 1.3.x document, an element missing
        a required part, an OID that is not defined in the metadata, a value that does not
        fit its ``DataType``, each naming the element path (e.g.
        ``ODM/ClinicalData/SubjectData[@SubjectKey='P01']/StudyEventData[@StudyEventOID='SE.P1']``);
        or data that do not form a valid TrialData (the validation message, prefixed with the
        source).
    """
    root, source = _parse(xml)
    meta, events, forms, items, mandatory = _read_metadata(root, source)
    records = _read_clinical(root, source, events, forms, items)
    return _build(records, items, mandatory, meta, source, _pain_scale(root, source))


def _pain_scale(root: ET.Element, source: str) -> tuple[float, float] | None:
    """The diary scale :func:`to_odm` wrote as the hard ``RangeCheck`` of the pain items (the
    protocol's ``[diary] scale_min``/``scale_max``); None (the schema's 0..10) when there is none."""
    found = set()
    for idef in root.iter(f"{_NS}ItemDef"):
        alias = _aliases(idef)
        if alias is None or tuple(alias.partition(".")[::2]) not in PAIN_COLUMNS:
            continue
        bounds = {rc.attrib.get("Comparator"): rc.findtext(f"{_NS}CheckValue") for rc in idef.findall(f"{_NS}RangeCheck")}
        if bounds.get("GE") is not None and bounds.get("LE") is not None:
            try:
                found.add((float(bounds["GE"] or ""), float(bounds["LE"] or "")))
            except ValueError:
                raise DataError(f"{source}: ItemDef {idef.attrib.get('OID')!r}: a RangeCheck value is not a number") from None
    if len(found) > 1:
        raise DataError(f"{source}: the pain items have different RangeChecks {sorted(found)}: one diary scale is expected")
    return found.pop() if found else None


def _parse(xml: bytes | str | PathLike[str]) -> tuple[ET.Element, str]:
    """The ``ODM`` root element of a 1.3.x document, and how messages name the document."""
    source = "ODM document"
    if isinstance(xml, bytes | bytearray):
        raw = bytes(xml)
    else:
        source = str(xml)
        try:
            raw = Path(xml).read_bytes()
        except OSError as exc:
            raise DataError(f"{source}: cannot read the ODM file: {exc.strerror or exc}") from None
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        line, col = exc.position
        raise DataError(
            f"{source}: not well-formed XML at line {line}, column {col + 1}: {exc.msg if hasattr(exc, 'msg') else exc}"
        ) from None
    if root.tag != f"{_NS}ODM":
        raise DataError(f"{source}: root element is {root.tag!r}, expected ODM in namespace {ODM_NAMESPACE}")
    version = root.attrib.get("ODMVersion", "")
    if not version.startswith("1.3"):
        raise DataError(f"{source}: ODM/@ODMVersion is {version!r}; this reader reads ODM 1.3.x (1.3.2)")
    return root, source


_Items = dict[str, tuple[str, str, str]]
"""Item OID -> (table or ``questionnaires:<instrument>``, column or item key, kind)."""


def _read_metadata(root: ET.Element, source: str) -> tuple[dict[str, str], dict[str, str], dict[str, str], _Items, dict[str, bool]]:
    """``(meta, event OID -> alias, form OID -> alias, items, item OID -> mandatory)``."""
    study = root.find(f"{_NS}Study")
    if study is None:
        raise DataError(f"{source}: ODM: element Study is missing")
    mdv = study.find(f"{_NS}MetaDataVersion")
    if mdv is None:
        raise DataError(f"{source}: ODM/Study: element MetaDataVersion is missing")
    mdv_path = f"ODM/Study/{_Path.step(mdv)}"
    meta: dict[str, str] = {}
    if "Description" in mdv.attrib:
        try:
            meta = dict(json.loads(mdv.attrib["Description"])["ketapain_meta"])
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{source}: {mdv_path}/@Description is not the ketapain meta JSON written by to_odm") from None
    aliases: dict[str, dict[str, str]] = {}
    for tag, what in (("StudyEventDef", "which visit or period is it?"), ("FormDef", "which table or instrument is it?")):
        aliases[tag] = {}
        for el in mdv.findall(f"{_NS}{tag}"):
            where = f"{mdv_path}/{_Path.step(el)}"
            alias = _aliases(el)
            if alias is None:
                raise DataError(f"{source}: {where}: no Alias with Context='ketapain' ({what})")
            aliases[tag][_need(el, "OID", where)] = alias
    mandatory: dict[str, bool] = {}
    for ig in mdv.findall(f"{_NS}ItemGroupDef"):
        for ref in ig.findall(f"{_NS}ItemRef"):
            mandatory[ref.attrib.get("ItemOID", "")] = ref.attrib.get("Mandatory") == "Yes"
    items = {}
    for idef in mdv.findall(f"{_NS}ItemDef"):
        oid, item = _item_def(idef, f"{mdv_path}/{_Path.step(idef)}", source)
        items[oid] = item
    return meta, aliases["StudyEventDef"], aliases["FormDef"], items, mandatory


def _item_def(idef: ET.Element, where: str, source: str) -> tuple[str, tuple[str, str, str]]:
    """One ``ItemDef``: its OID and what it holds (table, column, kind)."""
    oid = _need(idef, "OID", where)
    dtype = _need(idef, "DataType", where)
    if dtype not in _KIND:
        raise DataError(f"{source}: {where}: DataType {dtype!r} is not one of {', '.join(_KIND)}")
    alias = _aliases(idef)
    if alias is None:
        raise DataError(f"{source}: {where}: no Alias with Context='ketapain' naming its column")
    if alias.startswith("questionnaires:"):
        _, inst, item = alias.split(":", 2)
        return oid, (f"questionnaires:{inst}", item, _KIND[dtype])
    table, _, col = alias.partition(".")
    if table not in TABLE_NAMES or not col:
        raise DataError(f"{source}: {where}: alias {alias!r} does not name a table column (table.column)")
    return oid, (table, col, _KIND[dtype])


def _read_clinical(
    root: ET.Element, source: str, events: Mapping[str, str], forms: Mapping[str, str], items: _Items
) -> dict[str, list[dict[str, str | None]]]:
    """Table -> its rows as text (None = missing), from ``ClinicalData``."""
    records: dict[str, list[dict[str, str | None]]] = {t: [] for t in TABLE_NAMES}
    clinical = root.find(f"{_NS}ClinicalData")
    for sd in clinical.findall(f"{_NS}SubjectData") if clinical is not None else []:
        s_where = f"ODM/ClinicalData/{_Path.step(sd)}"
        subject = _need(sd, "SubjectKey", s_where)
        for sed in sd.findall(f"{_NS}StudyEventData"):
            e_where = f"{s_where}/{_Path.step(sed)}"
            ev_oid = _need(sed, "StudyEventOID", e_where)
            if ev_oid not in events:
                raise DataError(
                    f"{source}: {e_where}: StudyEventOID {ev_oid!r} is not defined in the metadata (defined: {', '.join(events)})"
                )
            for fdat in sed.findall(f"{_NS}FormData"):
                f_where = f"{e_where}/{_Path.step(fdat)}"
                form_oid = _need(fdat, "FormOID", f_where)
                if form_oid not in forms:
                    raise DataError(f"{source}: {f_where}: FormOID {form_oid!r} is not defined in the metadata")
                for igd in fdat.findall(f"{_NS}ItemGroupData"):
                    g_where = f"{f_where}/{_Path.step(igd)}"
                    values = _item_values(igd, g_where, items, source)
                    _store(records, forms[form_oid], events[ev_oid], subject, values, items, f"{source}: {g_where}")
    return records


def _item_values(igd: ET.Element, g_where: str, items: _Items, source: str) -> dict[str, str | None]:
    """Item OID -> value (None for ``IsNull="Yes"``) of one ``ItemGroupData``, each checked
    against its DataType."""
    values: dict[str, str | None] = {}
    for idat in igd.findall(f"{_NS}ItemData"):
        i_where = f"{g_where}/{_Path.step(idat)}"
        oid = _need(idat, "ItemOID", i_where)
        if oid not in items:
            raise DataError(f"{source}: {i_where}: ItemOID {oid!r} is not defined in the metadata")
        if idat.attrib.get("IsNull") == "Yes":
            value = None
        elif "Value" in idat.attrib:
            value = idat.attrib["Value"]
        else:
            raise DataError(f"{source}: {i_where}: neither Value nor IsNull='Yes'")
        _check_value(value, items[oid][2], f"{source}: {i_where}")
        values[oid] = value
    return values


def _check_value(value: str | None, kind: str, where: str) -> None:
    if value is None or kind == "str":
        return
    ok = True
    try:
        if kind == "int":
            ok = float(value).is_integer()
        elif kind == "float":
            ok = pd.notna(float(value))
        elif kind == "bool":
            ok = value.strip().lower() in ("true", "false", "1", "0")
        elif kind == "date":
            dt.date.fromisoformat(value)
    except ValueError:
        ok = False
    if not ok:
        raise DataError(f"{where}: Value {value!r} is not of DataType {_DATATYPE[kind]}")


def _store(
    records: dict[str, list[dict[str, str | None]]],
    form: str,
    event: str,
    subject: str,
    values: Mapping[str, str | None],
    items: Mapping[str, tuple[str, str, str]],
    where: str,
) -> None:
    if form.startswith("instrument:"):
        if not event.startswith("visit:"):
            raise DataError(f"{where}: a questionnaire form outside a visit event ({event})")
        # the form's completion date (item aliased questionnaires.completed_date) goes on each of its rows
        dates = [v for oid, v in values.items() if items[oid][:2] == ("questionnaires", "completed_date")]
        for oid, value in values.items():
            if not items[oid][0].startswith("questionnaires:"):
                if items[oid][:2] != ("questionnaires", "completed_date"):
                    raise DataError(f"{where}: item {oid!r} belongs to {items[oid][0]}, not to a questionnaire")
                continue
            _, inst = items[oid][0].split(":", 1)
            records["questionnaires"].append({"patient_id": subject, "visit": event[6:], "instrument": inst,
                                              "item": items[oid][1], "value": value,
                                              "completed_date": dates[0] if dates else None})
        return
    table = form.removeprefix("table:")
    if table not in records:
        raise DataError(f"{where}: form alias {form!r} is not a table")
    row: dict[str, str | None] = {}
    for oid, value in values.items():
        t, col, _k = items[oid]
        if t != table:
            raise DataError(f"{where}: item {oid!r} belongs to {t}, not to {table}")
        row[col] = value
    if "patient_id" in _IMPLIED[table]:
        row["patient_id"] = subject
    if "period" in _IMPLIED[table]:
        if not event.startswith("period:"):
            raise DataError(f"{where}: {table} form outside a period event ({event})")
        row["period"] = event.split(":", 1)[1]
    records[table].append(row)


def _build(
    records: Mapping[str, list[dict[str, str | None]]],
    items: Mapping[str, tuple[str, str, str]],
    mandatory: Mapping[str, bool],
    meta: Mapping[str, str],
    source: str,
    diary_scale: tuple[float, float] | None = None,
) -> TrialData:
    kinds = {(t, c): (k, not mandatory.get(oid, False)) for oid, (t, c, k) in items.items()}
    frames: dict[str, pd.DataFrame] = {}
    for table in TABLE_NAMES:
        rows = records[table]
        schema_cols = [c.name for c in SCHEMAS[table].columns]
        cols = list(dict.fromkeys(schema_cols + [c for (t, c) in kinds if t == table]))
        if table == "questionnaires":
            cols = schema_cols
        frame: dict[str, Any] = {}
        for col in cols:
            values = [r.get(col) for r in rows]
            if col in schema_cols:
                frame[col] = pd.Series(values, dtype=object)
            else:
                kind, nullable = kinds[(table, col)]
                frame[col] = from_text(values, kind, nullable)
        frames[table] = pd.DataFrame(frame)
    try:
        data = from_named_tables(frames, meta=meta, diary_scale=diary_scale)
    except DataError as exc:
        raise DataError(f"{source}: the clinical data do not form valid trial data:\n{exc}") from None
    return canonical_order(data)

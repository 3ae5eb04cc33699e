"""REDCap: the study as a REDCap project (data dictionary, events, instrument-event mapping),
a trial as a REDCap flat record export, and the default field mapping the importer uses.

The project is longitudinal with one arm. Events and their instruments (forms):

==========================  ===========================================================
event label                 instruments
==========================  ===========================================================
``Screening``               screening (eligibility answers), demographics,
                            concomitant (baseline analgesics: period 0)
``<Visit name>``            one questionnaire form ``q_<instrument>`` per instrument the
                            protocol gives at that visit (visits without any are left out)
``Period <k>``              allocation, daily_diary (repeating: one instance per day),
                            concomitant (analgesics added during period k)
``Adverse events``          adverse_events (repeating: one instance per event)
==========================  ===========================================================

REDCap names each event itself, from its label (:func:`_unique_event_names`: e.g. ``End
period 1`` -> ``end_period_1_arm_1``); every file written here uses those names. Categorical
fields are radio buttons or drop-downs coded ``1..n`` (the mapping's ``codes`` decode them);
field names longer than REDCap's recommended 26 characters are shortened (the mapping keeps
the TrialData column).

A record is a patient (``record_id`` = patient_id) or a screened person who never became
one (``record_id`` = screening_id). Questionnaire fields are ``<instrument>_<item>`` (item
key in lower case) with neutral labels only; concomitant drug classes are a checkbox
(``cm_classes___<class>`` in exports) with one drug-name field per class shown by branching
logic. See ``docs/interop-redcap.md``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ketapain._atomic import entries_write
from ketapain.data import DEFAULT_DIARY_SCALE, DRUG_CLASSES, FIRST_DATA_ROW, PAIN_COLUMNS, SCHEMAS, TrialData
from ketapain.errors import DataError, ProtocolError
from ketapain.instruments import get_instrument
from ketapain.interop._odm_values import column_kinds, form_dates, to_text, visit_rank
from ketapain.protocol import Protocol

__all__ = [
    "DICTIONARY_COLUMNS",
    "REDCAP_ID_COLUMNS",
    "redcap_dictionary",
    "redcap_instrument_events",
    "redcap_mapping",
    "to_redcap_records",
    "write_redcap_project",
]

DICTIONARY_COLUMNS = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
)
"""The columns of a REDCap data-dictionary CSV, in REDCap's order."""

REDCAP_ID_COLUMNS = ("record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")
"""The leading columns of a REDCap flat record export of a longitudinal project with repeating instruments."""

ARM_NUM = 1
FIELD_NAME_MAX = 26
"""REDCap's recommended maximum length of a field (variable) name."""
_EVENT_BASE_MAX = 18
_VALIDATION = {"int": "integer", "float": "number", "date": "date_ymd"}
_LABELS = {
    "patients": {"sex": "Sex", "age_years": "Age (years)", "weight_kg": "Body weight (kg)", "height_m": "Height (m)",
                 "pain_type": "Pain aetiology", "pain_duration_years": "Duration of chronic pain (years)",
                 "dn4_total": "DN4 total score at inclusion", "pain_type_detail": "Pain aetiology, details",
                 "site_id": "Recruiting centre", "country": "Country of the centre (ISO 3166-1 alpha-3)",
                 "race": "Race (CDISC terms)"},
    "allocation": {"sequence": "Randomised sequence", "treatment": "Treatment received this period",
                   "kit_code": "Treatment kit code", "infusion_date": "Infusion date",
                   "pre_infusion_pain": "Pain on the infusion day, before the infusion (NRS 0-10)"},
    "diary": {"day": "Day of the period (1 = day after the infusion)", "extra_analgesics": "Extra analgesics taken",
              "extra_analgesics_detail": "Which extra analgesics"},
    "adverse_events": {"event_id": "Adverse event identifier", "period": "Period of onset (0 = before the first infusion)",
                       "term": "Reported term", "severity": "Severity", "serious": "Serious adverse event",
                       "causality": "Relation to the study treatment", "onset_date": "Date of onset"},
    "screening": {"screening_id": "Screening-log identifier", "screening_date": "Date of screening",
                  "dn4_total": "DN4 total score at screening", "eligible": "Meets every eligibility criterion",
                  "outcome": "Outcome of screening", "reason": "Why not randomised", "patient_id": "Patient identifier once randomised"},
}
# table -> (form, field name of each column); columns left out are given by the record/event
_FIELDS = {
    "screening": ("screening", {"screening_id": "screening_id", "screening_date": "screening_date", "dn4_total": "scr_dn4_total",
                                "eligible": "eligible", "outcome": "outcome", "reason": "reason", "patient_id": "patient_id"}),
    "patients": ("demographics", {c: c for c in _LABELS["patients"]}),
    "allocation": ("allocation", {c: c for c in _LABELS["allocation"]}),
    "diary": ("daily_diary", {"day": "diary_day"}),
    "adverse_events": ("adverse_events", {c: f"ae_{c.removeprefix('event_')}" if c != "event_id" else "ae_event_id"
                                          for c in _LABELS["adverse_events"]}),
}
REPEATING = {"daily_diary": "diary", "adverse_events": "adverse_events"}


class _Event(NamedTuple):
    key: str  # what the event holds: "screening", "visit:<name>", "period:<k>" or "adverse_events"
    name: str  # REDCap's unique event name
    label: str  # the event name shown in REDCap (what REDCap derives ``name`` from)
    forms: list[str]


def _unique_event_names(labels: list[str], *, arm: int = ARM_NUM) -> list[str]:
    """The unique event names REDCap gives events created in this order with these labels.

    REDCap derives the name from the label: lower case, every run of characters other than
    a-z and 0-9 becomes one ``_`` (none at either end), cut to 18 characters (a trailing
    ``_`` dropped), then ``_arm_<arm>``; a name already taken gets the letter ``b``, then
    ``c``... appended (``testing_long_name_arm_1`` and ``testing_long_name_arm_1b``).
    Sources are listed in docs/interop-redcap.md.
    """
    out: list[str] = []
    for label in labels:
        base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:_EVENT_BASE_MAX].rstrip("_")
        if not base:
            raise ProtocolError(f"REDCap event label {label!r} has no letter or digit to name the event by")
        name = f"{base}_arm_{arm}"
        for letter in "bcdefghijklmnopqrstuvwxyz":
            if name not in out:
                break
            name = f"{base}_arm_{arm}{letter}"
        if name in out:
            raise ProtocolError(f"REDCap event label {label!r}: more than 25 events would share the name {base}_arm_{arm}")
        out.append(name)
    return out


def _events(protocol: Protocol, data: TrialData | None) -> list[_Event]:
    """The project's events in order, named as REDCap names them."""
    qs = data.questionnaires if data is not None else pd.DataFrame(columns=["visit", "instrument"])
    by_visit = _visit_instruments(protocol, qs)
    periods = sorted(set(range(1, protocol.design.periods + 1))
                     | (set(data.allocation["period"].tolist()) if data is not None else set()))
    fixed = {"Screening", "Adverse events"} | {f"Period {k}" for k in periods}

    def visit_label(v: str) -> str:  # a visit named like another event (e.g. "period_1") is "Visit period 1"
        label = v.replace("_", " ").capitalize()
        return f"Visit {label.lower()}" if label in fixed else label

    plan = [("screening", "Screening", ["screening", "demographics", "concomitant"])]
    plan += [(f"visit:{v}", visit_label(v), [f"q_{i}" for i in insts]) for v, insts in by_visit.items() if insts]
    plan += [(f"period:{k}", f"Period {k}", ["allocation", "daily_diary", "concomitant"]) for k in periods]
    plan.append(("adverse_events", "Adverse events", ["adverse_events"]))
    names = _unique_event_names([label for _k, label, _f in plan])
    return [_Event(key, name, label, forms) for (key, label, forms), name in zip(plan, names, strict=True)]


def _event_names(protocol: Protocol, data: TrialData | None) -> dict[str, str]:
    """Event key (``screening``, ``visit:<name>``, ``period:<k>``, ``adverse_events``) -> unique event name."""
    return {e.key: e.name for e in _events(protocol, data)}


def _visit_instruments(protocol: Protocol, qs: pd.DataFrame) -> dict[str, list[str]]:
    rank = visit_rank(qs["visit"].unique().tolist(), [v.name for v in protocol.visits])
    out: dict[str, list[str]] = {v: [] for v in rank}
    for v in protocol.visits:
        out[v.name] = list(v.questionnaires)
    for v, inst in qs[["visit", "instrument"]].drop_duplicates().itertuples(index=False):
        if inst not in out[v]:
            out[v].append(inst)
    return out


class _Extra(NamedTuple):
    column: str  # the screening table's column
    field: str  # its REDCap field name (at most FIELD_NAME_MAX characters)
    kind: str  # int, float, str, bool or date
    values: tuple[str, ...]  # the choices of a categorical answer, else ()


def _screening_extras(protocol: Protocol, data: TrialData | None) -> list[_Extra]:
    """The eligibility answers: the protocol's criteria, typed by the data when given. A text
    answer whose criterion lists its values (``in`` / ``not in``) is categorical: those
    values, then any other value the data hold, sorted."""
    kinds: dict[str, str] = {}
    listed: dict[str, tuple[str, ...]] = {}
    for c in protocol.eligibility.criteria:
        if c.field is None:
            continue
        v = c.value[0] if isinstance(c.value, tuple) else c.value
        kinds[c.field] = "bool" if isinstance(v, bool) else "float" if isinstance(v, int | float) else "str"
        if isinstance(c.value, tuple) and all(isinstance(x, str) for x in c.value):
            listed[c.field] = tuple(str(x) for x in c.value)
    scr = data.screening if data is not None else None
    if scr is not None:
        for col, kind, _nullable in column_kinds(scr, "screening"):
            if col not in _FIELDS["screening"][1]:
                kinds[col] = kind
    taken = set(_FIELDS["screening"][1].values())
    out = []
    for col, col_kind in kinds.items():
        values: tuple[str, ...] = ()
        if col_kind == "str" and col in listed:
            seen = scr[col].dropna().astype(str).unique().tolist() if scr is not None and col in scr.columns else []
            values = listed[col] + tuple(sorted(set(seen) - set(listed[col])))
        field = _short_name(col, taken)
        taken.add(field)
        out.append(_Extra(col, field, col_kind, values))
    return out


def _short_name(name: str, taken: set[str]) -> str:
    """``name`` as a REDCap field name of at most :data:`FIELD_NAME_MAX` characters: kept
    when short enough, else cut (a trailing ``_`` dropped), then ``_2``, ``_3``... while taken."""
    if len(name) <= FIELD_NAME_MAX:
        return name
    short = name[:FIELD_NAME_MAX].rstrip("_")
    k = 2
    while short in taken:
        tail = f"_{k}"
        short = name[: FIELD_NAME_MAX - len(tail)].rstrip("_") + tail
        k += 1
    return short


def _cm_name_field(drug_class: str) -> str:
    """The field holding the drug names of one concomitant drug class (``cm_name_<class>``, shortened)."""
    return _short_name(f"cm_name_{drug_class}", set())


def _categories(protocol: Protocol, data: TrialData | None) -> dict[str, list[tuple[str, str]]]:
    """Categorical field -> its choices as (TrialData value, label), in code order 1..n."""
    out: dict[str, list[tuple[str, str]]] = {}
    for table, (_form, fields) in _FIELDS.items():
        cols = {c.name: c for c in SCHEMAS[table].columns}
        for col, field in fields.items():
            c = cols.get(col)
            if c is not None and c.allowed:
                labels = {"M": "Male", "F": "Female"} if col == "sex" else {}
                out[field] = [(v, labels.get(v, v.replace("_", " "))) for v in c.allowed]
    out[_FIELDS["allocation"][1]["treatment"]] = [(a.code, a.name) for a in protocol.arms]
    for extra in _screening_extras(protocol, data):
        if extra.values:
            out[extra.field] = [(v, v.replace("_", " ")) for v in extra.values]
    return out


def _codes(protocol: Protocol, data: TrialData | None) -> dict[str, dict[str, str]]:
    """Categorical field -> TrialData value -> REDCap code (``1``..``n``)."""
    return {f: {v: str(i) for i, (v, _label) in enumerate(ch, start=1)} for f, ch in _categories(protocol, data).items()}


def _row(field: str, form: str, ftype: str, label: str, *, choices: str = "", validation: str = "", vmin: Any = None,
         vmax: Any = None, required: bool = False, branching: str = "", note: str = "", identifier: bool = False,
         header: str = "") -> dict[str, str]:
    def num(x: Any) -> str:
        return "" if x is None else str(int(x)) if float(x).is_integer() else repr(float(x))

    return dict(zip(DICTIONARY_COLUMNS, [field, form, header, ftype, label, choices, note, validation, num(vmin), num(vmax),
                                         "y" if identifier else "", branching, "y" if required else "", "", "", "", "", ""], strict=True))


def _choices(values: Any, labels: Mapping[str, str] | None = None) -> str:
    return " | ".join(f"{v}, {(labels or {}).get(v, str(v).replace('_', ' '))}" for v in values)


def _coded_choices(choices: list[tuple[str, str]]) -> str:
    """REDCap's choices string ``1, Label | 2, Label``."""
    return " | ".join(f"{i}, {label}" for i, (_v, label) in enumerate(choices, start=1))


def _scale_words(protocol: Protocol) -> str:
    """The diary scale in a field label: ``NRS 0-10`` (the reference study's), else ``0-100 scale``."""
    lo, hi = protocol.diary.scale_min, protocol.diary.scale_max
    return f"NRS {lo}-{hi}" if protocol.diary.scale == DEFAULT_DIARY_SCALE else f"{lo}-{hi} scale"


def _column_row(table: str, col: str, field: str, form: str, kind: str, nullable: bool,
                categories: Mapping[str, list[tuple[str, str]]],
                scale: tuple[float, float] = DEFAULT_DIARY_SCALE) -> dict[str, str]:
    c = SCHEMAS[table].column(col) if col in {x.name for x in SCHEMAS[table].columns} else None
    label = _LABELS.get(table, {}).get(col) or (c.description if c else col.replace("_", " "))
    if c is not None and (table, col) in PAIN_COLUMNS:  # on the protocol's diary scale
        c = replace(c, min=scale[0], max=scale[1])
        if scale != DEFAULT_DIARY_SCALE:
            label = label.replace("NRS 0-10", f"{scale[0]:g}-{scale[1]:g} scale")
    required = not nullable
    if kind == "bool":
        return _row(field, form, "yesno", label, required=required)
    if field in categories:
        ch = categories[field]
        return _row(field, form, "dropdown" if len(ch) > 2 else "radio", label, choices=_coded_choices(ch), required=required)
    if kind == "str":
        return _row(field, form, "notes" if col in ("reason",) else "text", label, required=required, identifier=col in ("patient_id",))
    return _row(
        field, form, "text", label, validation=_VALIDATION[kind], vmin=c.min if c else None, vmax=c.max if c else None, required=required
    )


def _extra_row(extra: _Extra, form: str, protocol: Protocol, categories: Mapping[str, list[tuple[str, str]]]) -> dict[str, str]:
    """The dictionary row of one eligibility answer, labelled by its criterion's text."""
    crit = next((c for c in protocol.eligibility.criteria if c.field == extra.column), None)
    label = crit.text if crit else extra.column.replace("_", " ")
    if extra.kind == "bool":
        return _row(extra.field, form, "yesno", label)
    if extra.field in categories:
        ch = categories[extra.field]
        return _row(extra.field, form, "dropdown" if len(ch) > 2 else "radio", label, choices=_coded_choices(ch))
    if extra.kind == "str":
        return _row(extra.field, form, "text", label)
    return _row(extra.field, form, "text", label, validation=_VALIDATION[extra.kind])


def _date_field(inst_name: str) -> str:
    """The field of form ``q_<instrument>`` holding the questionnaire's completion date
    (``questionnaires.completed_date``): ``<instrument>_date``, shortened to 26 characters."""
    return _short_name(f"{inst_name}_date", set())


def _item_row(inst_name: str, item: Any, form: str) -> dict[str, str]:
    field = f"{inst_name}_{item.key.lower()}"
    label = f"{item.label} ({inst_name} item {item.key})"
    if item.kind == "clock":
        return _row(field, form, "text", label, validation="time", required=item.required, note="HH:MM")
    if item.values is not None and all(float(v).is_integer() for v in item.values):
        return _row(field, form, "dropdown", label, choices=" | ".join(f"{int(v)}, {int(v)}" for v in item.values), required=item.required)
    note = f"in steps of {item.step:g}" if item.step is not None else ""
    return _row(
        field,
        form,
        "text",
        label,
        validation="integer" if item.kind == "integer" else "number",
        vmin=item.minimum,
        vmax=item.maximum,
        required=item.required,
        note=note,
    )


def redcap_dictionary(protocol: Protocol, *, data: TrialData | None = None) -> pd.DataFrame:
    """The REDCap data dictionary of the study: one row per field, REDCap's 18 columns.

    Parameters
    ----------
    protocol
        The study: eligibility criteria (screening fields), arms (treatment choices), diary
        items, visits and their questionnaires.
    data
        Optional trial whose extra screening columns (eligibility answers) give the field
        types and whose visits x instruments are added to the design (e.g. an instrument
        given at a visit the protocol does not list).

    Returns
    -------
    DataFrame
        Columns :data:`DICTIONARY_COLUMNS`; ``record_id`` first; forms screening,
        demographics, allocation, daily_diary, adverse_events, concomitant, then
        ``q_<instrument>`` for every instrument of the design. Questionnaire items carry
        neutral labels only (no licensed wording). Categorical fields are radio (two
        choices) or dropdown fields coded ``1..n`` in the order of their allowed values
        (``1, Male | 2, Female``); field names longer than 26 characters are cut to 26
        (:func:`redcap_mapping` maps them back to their columns).

    Raises
    ------
    ProtocolError
        An eligibility field name collides with another field of the project.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> d = redcap_dictionary(load_protocol("ketapain"))
    >>> d.iloc[0, :4].tolist()
    ['record_id', 'screening', '', 'text']
    >>> d.loc[d["Variable / Field Name"] == "avg_pain", ["Form Name", "Text Validation Max"]].values.tolist()
    [['daily_diary', '10']]
    """
    rows = [_row("record_id", "screening", "text", "Record ID (patient_id, or screening_id if never randomised)")]
    kinds_of = {t: {c: (k, n) for c, k, n in column_kinds(SCHEMAS_EMPTY[t], t)} for t in _FIELDS}
    categories = _categories(protocol, data)
    form, fields = _FIELDS["screening"]
    for col, field in fields.items():
        k, n = kinds_of["screening"][col]
        rows.append(_column_row("screening", col, field, form, k, n, categories))
    rows += [_extra_row(extra, form, protocol, categories) for extra in _screening_extras(protocol, data)]
    for table in ("patients", "allocation"):
        form, fields = _FIELDS[table]
        for col, field in fields.items():
            k, n = kinds_of[table][col]
            rows.append(_column_row(table, col, field, form, k, n, categories, protocol.diary.scale))
    rows.append(
        _row(
            "diary_day",
            "daily_diary",
            "text",
            _LABELS["diary"]["day"],
            validation="integer",
            vmin=1,
            vmax=protocol.diary.days_per_period,
            required=True,
        )
    )
    for item in protocol.diary.items:
        rows.append(
            _row(
                item,
                "daily_diary",
                "text",
                f"{item.replace('_', ' ')} ({_scale_words(protocol)})",
                validation="number",
                vmin=protocol.diary.scale_min,
                vmax=protocol.diary.scale_max,
            )
        )
    rows.append(_column_row("diary", "extra_analgesics", "extra_analgesics", "daily_diary", "bool", True, categories))
    rows.append(_column_row("diary", "extra_analgesics_detail", "extra_analgesics_detail", "daily_diary", "str", True, categories))
    form, fields = _FIELDS["adverse_events"]
    for col, field in fields.items():
        k, n = kinds_of["adverse_events"][col]
        rows.append(_column_row("adverse_events", col, field, form, k, n, categories))
    rows.append(
        _row(
            "cm_classes",
            "concomitant",
            "checkbox",
            "Analgesic drug classes (baseline at screening; added during the period otherwise)",
            choices=_choices(DRUG_CLASSES),
        )
    )
    for cls in DRUG_CLASSES:
        rows.append(
            _row(_cm_name_field(cls), "concomitant", "text", f"Drug name(s): {cls.replace('_', ' ')}",
                 branching=f"[cm_classes({cls})] = '1'")
        )
    qs = data.questionnaires if data is not None else pd.DataFrame(columns=["visit", "instrument"])
    for inst_name in dict.fromkeys(i for lst in _visit_instruments(protocol, qs).values() for i in lst):
        inst = get_instrument(inst_name)
        rows.append(_row(_date_field(inst_name), f"q_{inst_name}", "text", f"Date the {inst_name} questionnaire was completed",
                         validation="date_ymd", header=f"{inst.title} (neutral item labels; no licensed wording)"))
        rows += [_item_row(inst_name, inst_item, f"q_{inst_name}") for inst_item in inst.items]
    out = pd.DataFrame(rows, columns=list(DICTIONARY_COLUMNS))
    dup = out["Variable / Field Name"][out["Variable / Field Name"].duplicated()].tolist()
    if dup:
        raise ProtocolError(
            f"REDCap dictionary: field name(s) {', '.join(sorted(set(dup)))} used twice; rename the eligibility field(s) of the protocol"
        )
    return out


SCHEMAS_EMPTY = {t: TrialData.from_tables().table(t) for t in ("screening", "patients", "allocation", "diary", "adverse_events")}


def redcap_instrument_events(protocol: Protocol, *, data: TrialData | None = None) -> pd.DataFrame:
    """REDCap's instrument-event mapping (``arm_num, unique_event_name, form``) of the project.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> m = redcap_instrument_events(load_protocol("ketapain"))
    >>> m[m["unique_event_name"] == "period_1_arm_1"]["form"].tolist()
    ['allocation', 'daily_diary', 'concomitant']
    """
    rows = [(ARM_NUM, e.name, form) for e in _events(protocol, data) for form in e.forms]
    return pd.DataFrame(rows, columns=["arm_num", "unique_event_name", "form"])


def redcap_mapping(protocol: Protocol, *, data: TrialData | None = None) -> dict[str, Any]:
    """The default mapping from the project of :func:`redcap_dictionary` to TrialData.

    Returns
    -------
    dict
        JSON-ready: ``events`` (unique event name -> ``"screening"``, ``"visit:<name>"``,
        ``"period:<k>"`` or ``"adverse_events"``), ``repeating`` (repeat instrument ->
        table), ``fields`` (field -> ``{"table", "column"}``; questionnaire items
        ``{"table": "questionnaires", "instrument", "item"}``, each form's date
        ``{"table": "questionnaires", "instrument", "column": "completed_date"}``; eligibility answers add
        ``"type"``: int, float, str, bool or date; the checkbox ``cm_classes`` and the
        ``cm_name_<class>`` fields map onto ``concomitant``) and ``codes`` (categorical field
        -> REDCap code -> TrialData value, e.g. ``codes["sex"] == {"1": "M", "2": "F"}``). The same
        structure in a TOML or JSON file is what :func:`read_redcap` takes as ``mapping``.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> m = redcap_mapping(load_protocol("ketapain"))
    >>> m["events"]["period_2_arm_1"], m["fields"]["bpi_9a"]
    ('period:2', {'table': 'questionnaires', 'instrument': 'bpi', 'item': '9a'})
    """
    events = {e.name: e.key for e in _events(protocol, data)}
    fields: dict[str, dict[str, Any]] = {}
    for table, (_form, cols) in _FIELDS.items():
        for col, field in cols.items():
            fields[field] = {"table": table, "column": col}
    for extra in _screening_extras(protocol, data):
        fields[extra.field] = {"table": "screening", "column": extra.column, "type": extra.kind}
    for item in protocol.diary.items:
        fields[item] = {"table": "diary", "column": item}
    for col in ("extra_analgesics", "extra_analgesics_detail"):
        fields[col] = {"table": "diary", "column": col}
    fields["cm_classes"] = {"table": "concomitant", "column": "drug_class"}
    for cls in DRUG_CLASSES:
        fields[_cm_name_field(cls)] = {"table": "concomitant", "column": "drug_name", "drug_class": cls}
    qs = data.questionnaires if data is not None else pd.DataFrame(columns=["visit", "instrument"])
    for inst_name in dict.fromkeys(i for lst in _visit_instruments(protocol, qs).values() for i in lst):
        fields[_date_field(inst_name)] = {"table": "questionnaires", "instrument": inst_name, "column": "completed_date"}
        for inst_item in get_instrument(inst_name).items:
            fields[f"{inst_name}_{inst_item.key.lower()}"] = {"table": "questionnaires", "instrument": inst_name,
                                                              "item": inst_item.key}
    codes = {f: {code: value for value, code in by_value.items()} for f, by_value in _codes(protocol, data).items()}
    return {"events": events, "repeating": dict(REPEATING), "fields": fields, "codes": codes}


def _clock(minutes: pd.Series) -> pd.Series:
    m = minutes.round().astype("Int64")
    return (m // 60).astype(str).str.zfill(2) + ":" + (m % 60).astype(str).str.zfill(2)


def to_redcap_records(data: TrialData, protocol: Protocol) -> pd.DataFrame:
    """The trial as a REDCap flat record export (what REDCap's "export records" gives).

    One row per record x event for the non-repeating forms, one per repeating instance
    (diary day, adverse event); columns :data:`REDCAP_ID_COLUMNS` then every field of
    ``redcap_dictionary(protocol, data=data)`` in its order (checkbox ``cm_classes`` as
    ``cm_classes___<class>`` with 1/0), each form followed by ``<form>_complete`` (2 =
    complete; only on the forms designated for the row's event). All cells are text; blank
    = no value. Yes/no fields are 1/0, categorical fields their codes (``1..n``, see
    :func:`redcap_dictionary`), clock items ``HH:MM``; ``redcap_event_name`` is the unique
    event name REDCap derives from the event's label.

    Each questionnaire form's ``<instrument>_date`` holds its ``completed_date`` (blank when
    it has none).

    Raises
    ------
    DataError
        A categorical value has no code (a treatment that is not an arm of the protocol);
        the items of one questionnaire form have different completion dates (REDCap holds one
        per form).

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> from ketapain.simulate import simulate_trial
    >>> p = load_protocol("ketapain")
    >>> rec = to_redcap_records(simulate_trial(p, n_patients=2, seed=1), p)
    >>> rec.iloc[0, :4].tolist()
    ['P001', 'screening_arm_1', '', '']
    >>> rec.loc[rec["redcap_event_name"] == "inclusion_arm_1", ["record_id", "bpi_date", "bpi_3"]].values.tolist()[0]
    ['P001', '2016-11-29', '7']
    """
    dictionary = redcap_dictionary(protocol, data=data)
    fields = dictionary["Variable / Field Name"].tolist()
    mapping = redcap_mapping(protocol, data=data)["fields"]
    codes = _codes(protocol, data)
    columns = _record_columns(fields, dictionary["Form Name"].tolist())
    pids = set(data.patients["patient_id"])
    ev = _event_names(protocol, data)

    def block(
        frame: pd.DataFrame, table: str, record: pd.Series, event: pd.Series, form: str, instance: pd.Series | None = None
    ) -> pd.DataFrame:
        return _table_block(frame, table, record, event, form, instance, fields=fields, mapping=mapping, codes=codes)

    def at(key: str, frame: pd.DataFrame) -> pd.Series:
        return pd.Series([ev[key]] * len(frame), dtype=object)

    def period_event(period: pd.Series) -> pd.Series:
        return ("period:" + period.astype(str)).map(ev)

    scr, pat, al, di, ae = data.screening, data.patients, data.allocation, data.diary, data.adverse_events
    pieces = [
        block(
            scr,
            "screening",
            scr["patient_id"].where(scr["patient_id"].isin(pids), scr["screening_id"]),
            at("screening", scr),
            "screening",
        ),
        block(pat, "patients", pat["patient_id"], at("screening", pat), "demographics"),
        block(al, "allocation", al["patient_id"], period_event(al["period"]), "allocation"),
        block(
            di,
            "diary",
            di["patient_id"],
            period_event(di["period"]),
            "daily_diary",
            di.groupby(["patient_id", "period"]).cumcount() + 1,
        ),
        block(
            ae,
            "adverse_events",
            ae["patient_id"],
            at("adverse_events", ae),
            "adverse_events",
            ae.groupby("patient_id").cumcount() + 1,
        ),
    ]
    if len(data.concomitant):
        cm = data.concomitant
        cm_event = period_event(cm["period"]).where(cm["period"] != 0, ev["screening"])
        pieces.append(_concomitant_block(cm, cm_event))
    if len(data.questionnaires):
        q = data.questionnaires
        pieces.append(_questionnaire_block(q, ("visit:" + q["visit"]).map(ev), mapping))
    records = pd.concat([p.astype(object) for p in pieces], ignore_index=True).reindex(columns=columns).astype(object)
    records = records.where(records.notna(), "")
    # merge the non-repeating pieces of one record x event into one row
    plain = records[records["redcap_repeat_instrument"] == ""]
    plain = plain.replace("", np.nan).groupby(["record_id", "redcap_event_name"], sort=False, dropna=False).first().copy().reset_index()
    plain = plain.astype(object).where(plain.notna(), "")
    rep = records[records["redcap_repeat_instrument"] != ""]
    out = pd.concat([plain, rep], ignore_index=True).copy()
    event_order = {e.name: i for i, e in enumerate(_events(protocol, data))}
    out = out.assign(
        _r=out["record_id"].map({r: i for i, r in enumerate(dict.fromkeys(out["record_id"]))}),
        _e=out["redcap_event_name"].map(event_order),
        _i=pd.to_numeric(out["redcap_repeat_instance"], errors="coerce").fillna(0),
    )
    out = out.sort_values(["_r", "_e", "redcap_repeat_instrument", "_i"], kind="stable").drop(columns=["_r", "_e", "_i"])
    return out.reset_index(drop=True)[columns]


def _record_columns(fields: list[str], forms: list[str]) -> list[str]:
    """The export's columns: the id columns, every field in dictionary order (``cm_classes``
    as one checkbox column per drug class), each form followed by ``<form>_complete``."""
    columns = list(REDCAP_ID_COLUMNS)
    for i, (f, form) in enumerate(zip(fields, forms, strict=True)):
        if f == "record_id":
            continue
        if f == "cm_classes":
            columns += [f"cm_classes___{c}" for c in DRUG_CLASSES]
        else:
            columns.append(f)
        if i + 1 == len(fields) or forms[i + 1] != form:
            columns.append(f"{form}_complete")
    return columns


def _table_block(
    frame: pd.DataFrame,
    table: str,
    record: pd.Series,
    event: pd.Series,
    form: str,
    instance: pd.Series | None,
    *,
    fields: list[str],
    mapping: Mapping[str, Any],
    codes: Mapping[str, Mapping[str, str]],
) -> pd.DataFrame:
    """The rows of one TrialData table as REDCap records of ``form`` (repeating when
    ``instance`` numbers them); categorical values as their codes, yes/no as 1/0."""
    cols: dict[str, Any] = {
        "record_id": record.to_numpy(),
        "redcap_event_name": event.to_numpy(),
        "redcap_repeat_instrument": form if instance is not None else "",
        "redcap_repeat_instance": instance.astype(str).to_numpy() if instance is not None else "",
    }
    for col, kind, _n in column_kinds(frame, table):
        field = next((f for f, m in mapping.items() if m.get("table") == table and m.get("column") == col and "drug_class" not in m), None)
        if field is None or field not in fields:
            continue
        text = pd.Series(to_text(frame[col], kind), dtype=object)
        if kind == "bool":
            text = text.map({"true": "1", "false": "0"})
        elif field in codes:
            coded = text.map(dict(codes[field]))
            bad = text.notna() & coded.isna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(f"REDCap export: {table} row {i + FIRST_DATA_ROW}: {col}={text.iloc[i]!r} has no REDCap code "
                                f"(field {field}); allowed: {', '.join(codes[field])}")
            text = coded
        cols[field] = text.where(text.notna(), "").to_numpy()
    cols[f"{form}_complete"] = "2"
    return pd.DataFrame(cols, index=range(len(frame)))


def _concomitant_block(cm: pd.DataFrame, cm_event: pd.Series) -> pd.DataFrame:
    """Concomitant analgesics: one record per patient x event, a checkbox and a name per class."""
    wide = pd.DataFrame(
        {"record_id": cm["patient_id"], "redcap_event_name": cm_event.to_numpy(), "cls": cm["drug_class"],
         "name": cm["drug_name"].fillna("")}
    )
    ticks = pd.crosstab([wide["record_id"], wide["redcap_event_name"]], wide["cls"]).reindex(columns=list(DRUG_CLASSES), fill_value=0)
    names = wide.pivot(index=["record_id", "redcap_event_name"], columns="cls", values="name").reindex(columns=list(DRUG_CLASSES))
    out = pd.DataFrame(index=ticks.index)
    for c in DRUG_CLASSES:
        out[f"cm_classes___{c}"] = ticks[c].clip(upper=1).astype(str)
        out[_cm_name_field(c)] = names[c].astype(object).where(names[c].notna(), "")
    out["concomitant_complete"] = "2"
    out = out.copy().reset_index()
    return pd.concat([out, pd.DataFrame({"redcap_repeat_instrument": "", "redcap_repeat_instance": ""}, index=out.index)], axis=1)


def _questionnaire_block(q: pd.DataFrame, event: pd.Series, mapping: Mapping[str, Any]) -> pd.DataFrame:
    """Questionnaire answers: one record per patient x visit (``event``: each row's unique
    event name), a field per item (clock items ``HH:MM``) and the form's date;
    ``q_<instrument>_complete`` only for the instruments answered at that visit (the forms of
    that event)."""
    qmap = {f: m for f, m in mapping.items() if m.get("table") == "questionnaires"}
    items = {(m["instrument"], m["item"]): f for f, m in qmap.items() if "item" in m}
    date_of = {m["instrument"]: f for f, m in qmap.items() if m.get("column") == "completed_date"}
    dates = form_dates(q, "REDCap")
    field = [items.get(k) for k in zip(q["instrument"], q["item"], strict=True)]
    missing = sorted({f"{i}/{k}" for (i, k), f in zip(zip(q["instrument"], q["item"], strict=True), field, strict=True) if f is None})
    if missing:
        raise DataError(f"REDCap export: questionnaire items without a REDCap field: {', '.join(missing[:10])}")
    kind = [get_instrument(i).item(k).kind for i, k in zip(q["instrument"], q["item"], strict=True)]
    value = pd.Series(to_text(q["value"], "float"), dtype=object)
    clock = np.asarray(kind) == "clock"
    value[clock] = _clock(q["value"][clock]).astype(object)
    ids = {"record_id": q["patient_id"].to_numpy(), "redcap_event_name": event.to_numpy()}
    long = pd.DataFrame({**ids, "field": field, "value": value.fillna("").to_numpy()})
    if dates:
        forms = q[["patient_id", "visit", "instrument"]].assign(record_id=ids["record_id"], redcap_event_name=ids["redcap_event_name"])
        forms = forms.drop_duplicates(["patient_id", "visit", "instrument"])
        text = [dates.get(k, "") for k in zip(forms["patient_id"], forms["visit"], forms["instrument"], strict=True)]
        long = pd.concat([long, pd.DataFrame({"record_id": forms["record_id"].to_numpy(),
                                              "redcap_event_name": forms["redcap_event_name"].to_numpy(),
                                              "field": forms["instrument"].map(date_of).to_numpy(), "value": text})],
                         ignore_index=True)
    wide = long.pivot(index=["record_id", "redcap_event_name"], columns="field", values="value").astype(object)
    wide = wide.where(wide.notna(), "").copy()
    given = pd.DataFrame({**ids, "form": ("q_" + q["instrument"] + "_complete").to_numpy()})
    complete = pd.crosstab([given["record_id"], given["redcap_event_name"]], given["form"]).reindex(wide.index)
    complete = pd.DataFrame(np.where(complete.to_numpy() > 0, "2", ""), index=wide.index, columns=complete.columns)
    extra = pd.DataFrame({"redcap_repeat_instrument": "", "redcap_repeat_instance": ""}, index=wide.index)
    return pd.concat([wide, complete, extra], axis=1).copy().reset_index()


def write_redcap_project(
    protocol: Protocol, folder: str | PathLike[str], *, data: TrialData | None = None, overwrite: bool = False
) -> list[Path]:
    """Write the REDCap project files into ``folder`` (created if needed).

    Files: ``data_dictionary.csv`` (:func:`redcap_dictionary`), ``instrument_event_mapping.csv``
    (:func:`redcap_instrument_events`), ``events.csv`` (``event_name, arm_num,
    unique_event_name``: the label REDCap is given and the name it derives from it),
    ``repeating_instruments.csv`` (``event_name, form_name, custom_form_label``; the event
    by its unique name, as REDCap's repeating-instruments file wants),
    ``mapping.json`` (:func:`redcap_mapping`), and, when ``data`` is given,
    ``records.csv`` (:func:`to_redcap_records`, ready for REDCap's data import tool).

    The files are written together (built in a temporary folder beside ``folder``, then
    renamed into place); other files in ``folder`` are left alone.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    DataError
        ``folder`` is a file, or already holds one of these files and ``overwrite`` is False.
    """
    out = Path(folder)
    names = [*_PROJECT_FILES, *(["records.csv"] if data is not None else [])]
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    existing = [n for n in names if os.path.lexists(out / n)]
    if existing and not overwrite:
        raise DataError(template="{path} already holds {names}; pass {@overwrite=True} to replace them",
                        params={"path": out, "names": ", ".join(existing)})
    with entries_write(out, names) as tmp:
        _write_project(protocol, tmp, data)
    return [out / n for n in names]


_PROJECT_FILES = ("data_dictionary.csv", "instrument_event_mapping.csv", "events.csv",
                  "repeating_instruments.csv", "mapping.json")


def _write_project(protocol: Protocol, out: Path, data: TrialData | None) -> None:
    """Write the project files of :func:`write_redcap_project` into the folder ``out``."""
    def csv(frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(out / name, index=False, lineterminator="\r\n")

    csv(redcap_dictionary(protocol, data=data), "data_dictionary.csv")
    csv(redcap_instrument_events(protocol, data=data), "instrument_event_mapping.csv")
    ev = _events(protocol, data)
    csv(pd.DataFrame([(e.label, ARM_NUM, e.name) for e in ev], columns=["event_name", "arm_num", "unique_event_name"]), "events.csv")
    csv(
        pd.DataFrame(
            [(e.name, form, "") for e in ev for form in e.forms if form in REPEATING],
            columns=["event_name", "form_name", "custom_form_label"],
        ),
        "repeating_instruments.csv",
    )
    text = json.dumps(redcap_mapping(protocol, data=data), indent=2) + "\n"
    (out / "mapping.json").write_text(text, encoding="utf-8")
    if data is not None:
        csv(to_redcap_records(data, protocol), "records.csv")


def load_mapping(mapping: Mapping[str, Any] | str | PathLike[str]) -> dict[str, Any]:
    """A mapping given as a dict, or a ``.toml`` / ``.json`` file, checked for its shape."""
    if isinstance(mapping, Mapping):
        raw = dict(mapping)
        where = "mapping"
    else:
        path = Path(mapping)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
            raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        except OSError as exc:
            raise DataError(f"{where}: cannot read the mapping file: {exc.strerror or exc}") from None
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise DataError(f"{where}: not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {exc}") from None
    for key in ("events", "fields"):
        if not isinstance(raw.get(key), Mapping):
            raise DataError(f"{where}: '{key}' must be a table of REDCap name -> target")
    raw.setdefault("repeating", dict(REPEATING))
    raw.setdefault("codes", {})
    for field, target in raw["fields"].items():
        if not isinstance(target, Mapping) or "table" not in target:
            raise DataError(f"{where}: fields.{field} must be a table with at least 'table'")
        if target["table"] == "questionnaires" and not (
            "instrument" in target and ("item" in target or target.get("column") == "completed_date")
        ):
            raise DataError(f"{where}: fields.{field}: a questionnaires field needs 'instrument' and either 'item' or "
                            "column = 'completed_date'")
    return raw

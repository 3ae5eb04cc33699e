"""ODM 1.3.2 rules that the XSD (tests/interop/schemas/odm1-3-2) does not enforce, checked on a
document: a list of problems, empty when the document keeps them.

Each rule quotes the ODM 1.3.2 specification (ODM1-3-2-Final.htm, CDISC, 2009; the copy in
github.com/cdisc-org/DataExchange-ODM, archive/ODM1-3-2/):

- ItemDef (3.1.1.3.6): "The Length attribute is required when DataType is text or string,
  optional when DataType is integer or float, and should not be given for the other
  datatypes. The SignificantDigits attribute is optional when DataType is float, and should
  not be given for the other datatypes. When DataType is float both Length and
  SignificantDigits must be given or both be absent."
- ItemData (3.1.4.1.1.1.1.1): "For text, string, integer or float datatypes, it must be
  possible to store the item value within the Length constraint defined in the ItemDef"
  (integer: magnitude below 10^Length; float: a multiple of 10^-S of magnitude below
  10^(Length-S); text: at most Length characters). "The Value attribute string must obey
  the rules for that format of data listed in the Data Formats section" (2.13: integer,
  float, boolean, date). "If the Value attribute is set, IsNull must not be set. If IsNull is
  set, the Value attribute must not be provided."
- References: every OID used (StudyEventRef, FormRef, ItemGroupRef, ItemRef, CodeListRef, and
  the StudyEventOID/FormOID/ItemGroupOID/ItemOID of ClinicalData) names a definition of the
  right kind, and ClinicalData names the Study and MetaDataVersion (xs:IDREF cannot say
  which kind of element an OID belongs to; the XSD types them as plain strings).
- CodeListRef (3.1.1.3.6.5): "The DataType attributes of the referenced CodeList and the
  containing ItemDef must be the same"; and a value of an item with a code list is one of its
  ``CodedValue``s.
- RangeCheck (3.1.1.3.6.4) with ``SoftHard="Hard"``: every value satisfies it ("an expression
  that evaluates to True when the ItemData value is valid").

IsNull's advice ("one should not use ItemData elements with IsNull set to "Yes" to indicate
uncollected data") is about what the data mean, so the tests of the export check it against
the trial, not here.
"""

from __future__ import annotations

import operator
import re
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation

NS = "{http://www.cdisc.org/ns/odm/v1.3}"
_FORMATS = {
    "integer": re.compile(r"^[+-]?\d+$"),
    "float": re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"),
    "boolean": re.compile(r"^(true|false|1|0)$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
}
_COMPARE = {"LT": operator.lt, "LE": operator.le, "GT": operator.gt, "GE": operator.ge,
            "EQ": operator.eq, "NE": operator.ne}


def odm_rule_problems(xml: bytes) -> list[str]:
    """Every breach of the rules in the module docstring, one line each (empty: none)."""
    root = ET.fromstring(xml)
    problems: list[str] = []
    study = root.find(f"{NS}Study")
    mdv = study.find(f"{NS}MetaDataVersion")
    defs = {kind: {e.get("OID"): e for e in mdv.findall(f"{NS}{kind}")}
            for kind in ("StudyEventDef", "FormDef", "ItemGroupDef", "ItemDef", "CodeList")}
    for kind, found in defs.items():
        if len(found) != len(mdv.findall(f"{NS}{kind}")):
            problems.append(f"{kind}: OIDs are not unique")
    for tag, attr, kind in (("StudyEventRef", "StudyEventOID", "StudyEventDef"), ("FormRef", "FormOID", "FormDef"),
                            ("ItemGroupRef", "ItemGroupOID", "ItemGroupDef"), ("ItemRef", "ItemOID", "ItemDef"),
                            ("CodeListRef", "CodeListOID", "CodeList"), ("StudyEventData", "StudyEventOID", "StudyEventDef"),
                            ("FormData", "FormOID", "FormDef"), ("ItemGroupData", "ItemGroupOID", "ItemGroupDef"),
                            ("ItemData", "ItemOID", "ItemDef")):
        for oid in sorted({e.get(attr) for e in root.iter(f"{NS}{tag}")} - set(defs[kind])):
            problems.append(f"{tag}: {attr}={oid!r} is not a {kind}")
    for cd in root.iter(f"{NS}ClinicalData"):
        if cd.get("StudyOID") != study.get("OID") or cd.get("MetaDataVersionOID") != mdv.get("OID"):
            problems.append(f"ClinicalData: StudyOID/MetaDataVersionOID {cd.get('StudyOID')}/{cd.get('MetaDataVersionOID')} "
                            f"is not {study.get('OID')}/{mdv.get('OID')}")
    problems += _size_attributes(defs["ItemDef"])
    for oid, idef in defs["ItemDef"].items():
        ref = idef.find(f"{NS}CodeListRef")
        cl = defs["CodeList"].get(ref.get("CodeListOID")) if ref is not None else None
        if cl is not None and cl.get("DataType") != idef.get("DataType"):
            problems.append(f"ItemDef {oid}: DataType {idef.get('DataType')} but its CodeList {cl.get('OID')} is {cl.get('DataType')}")
    codes = {oid: {c.get("CodedValue") for c in cl.findall(f"{NS}CodeListItem")} for oid, cl in defs["CodeList"].items()}
    for idat in root.iter(f"{NS}ItemData"):
        problems += _item_value(idat, defs["ItemDef"].get(idat.get("ItemOID")), codes)
    return problems


def _size_attributes(items: dict[str, ET.Element]) -> list[str]:
    out = []
    for oid, idef in items.items():
        dtype, length, sig = idef.get("DataType"), idef.get("Length"), idef.get("SignificantDigits")
        if dtype in ("text", "string") and length is None:
            out.append(f"ItemDef {oid}: DataType {dtype} without Length")
        if dtype not in ("text", "string", "integer", "float") and length is not None:
            out.append(f"ItemDef {oid}: Length given for DataType {dtype}")
        if dtype != "float" and sig is not None:
            out.append(f"ItemDef {oid}: SignificantDigits given for DataType {dtype}")
        if dtype == "float" and (length is None) != (sig is None):
            out.append(f"ItemDef {oid}: float with only one of Length and SignificantDigits")
        if length is not None and not (length.isdigit() and int(length) >= 1):
            out.append(f"ItemDef {oid}: Length={length!r} is not a positive integer")
        if sig is not None and not sig.isdigit():
            out.append(f"ItemDef {oid}: SignificantDigits={sig!r} is not a non-negative integer")
    return out


def _item_value(idat: ET.Element, idef: ET.Element | None, codes: dict[str, set[str]]) -> list[str]:
    oid, value = idat.get("ItemOID"), idat.get("Value")
    null = idat.get("IsNull")
    if null is not None and (null != "Yes" or value is not None):
        return [f"ItemData {oid}: IsNull={null!r} with Value={value!r} (IsNull is 'Yes' and excludes Value)"]
    if value is None:
        return [] if null == "Yes" else [f"ItemData {oid}: neither Value nor IsNull"]
    if idef is None:
        return []  # reported as an undefined reference
    dtype = idef.get("DataType")
    pattern = _FORMATS.get(dtype)
    if pattern is not None and not pattern.match(value):
        return [f"ItemData {oid}: Value {value!r} is not a {dtype}"]
    out = []
    length, sig = idef.get("Length"), idef.get("SignificantDigits")
    if length is not None and length.isdigit():
        out += _fits(oid, value, dtype, int(length), int(sig) if sig is not None and sig.isdigit() else None)
    ref = idef.find(f"{NS}CodeListRef")
    if ref is not None and value not in codes.get(ref.get("CodeListOID"), set()):
        out.append(f"ItemData {oid}: Value {value!r} is not in code list {ref.get('CodeListOID')}")
    if dtype in ("integer", "float"):
        for rc in idef.findall(f"{NS}RangeCheck"):
            compare = _COMPARE.get(rc.get("Comparator"))
            bound = rc.find(f"{NS}CheckValue").text
            if rc.get("SoftHard") == "Hard" and compare is not None and not compare(Decimal(value), Decimal(bound)):
                out.append(f"ItemData {oid}: Value {value} breaks RangeCheck {rc.get('Comparator')} {bound}")
    return out


def _fits(oid: str, value: str, dtype: str | None, length: int, sig: int | None) -> list[str]:
    if dtype in ("text", "string"):
        return [] if len(value) <= length else [f"ItemData {oid}: Value of {len(value)} characters > Length {length}"]
    try:
        number = Decimal(value)
    except InvalidOperation:
        return [f"ItemData {oid}: Value {value!r} is not a number"]
    if dtype == "integer" and abs(number) >= Decimal(10) ** length:
        return [f"ItemData {oid}: Value {value} does not fit Length {length} (magnitude below 10^{length})"]
    if dtype == "float" and sig is not None:
        step = Decimal(10) ** -sig
        if number % step != 0 or abs(number) >= Decimal(10) ** (length - sig):
            return [f"ItemData {oid}: Value {value} does not fit Length {length}, SignificantDigits {sig} "
                    f"(a multiple of 10^-{sig} below 10^{length - sig})"]
    return []

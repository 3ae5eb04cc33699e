"""CDISC ODM 1.3.2: exact round trip, metadata structure, errors on malformed documents.

The ODM 1.3.2 XSD is not available as a package here, so the schema rules this export must
meet are checked structurally: root attributes, the order of MetaDataVersion's children
(Protocol, StudyEventDef, FormDef, ItemGroupDef, ItemDef, CodeList), that every reference
(StudyEventRef, FormRef, ItemGroupRef, ItemRef, CodeListRef, and the OIDs used in
ClinicalData) resolves to a definition, and the allowed DataType / Comparator values.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from ketapain.errors import DataError
from ketapain.interop import ODM_NAMESPACE, canonical_order, from_odm, to_odm
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

NS = f"{{{ODM_NAMESPACE}}}"


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial(protocol):
    return simulate_trial(protocol, n_patients=20, seed=5)


@pytest.fixture(scope="module")
def xml(trial, protocol) -> bytes:
    return to_odm(trial, protocol)


def test_round_trip_is_exact(trial, xml, tmp_path) -> None:
    back = from_odm(xml)
    expected = canonical_order(trial)
    for name, table in expected.to_tables().items():
        pd.testing.assert_frame_equal(back.table(name), table, obj=name)  # values and dtypes, extra columns too
    assert back.equals(expected) and dict(back.meta) == dict(trial.meta)
    (tmp_path / "trial.xml").write_bytes(xml)
    assert from_odm(tmp_path / "trial.xml").equals(expected)


def test_structure_follows_odm_132(xml, protocol) -> None:
    root = ET.fromstring(xml)
    assert root.tag == f"{NS}ODM" and root.attrib["ODMVersion"] == "1.3.2" and root.attrib["FileType"] == "Snapshot"
    assert {"FileOID", "CreationDateTime"} <= set(root.attrib)
    study = root.find(f"{NS}Study")
    gv = study.find(f"{NS}GlobalVariables")
    assert [c.tag for c in gv] == [f"{NS}StudyName", f"{NS}StudyDescription", f"{NS}ProtocolName"]
    assert gv.find(f"{NS}ProtocolName").text == "NCT02467517"
    mdv = study.find(f"{NS}MetaDataVersion")
    order = ["Protocol", "StudyEventDef", "FormDef", "ItemGroupDef", "ItemDef", "CodeList"]
    seen = [c.tag.removeprefix(NS) for c in mdv]
    assert seen == sorted(seen, key=order.index)
    defs = {kind: {e.attrib["OID"] for e in mdv.findall(f"{NS}{kind}")} for kind in order[1:]}
    refs = [("StudyEventRef", "StudyEventOID", "StudyEventDef"), ("FormRef", "FormOID", "FormDef"),
            ("ItemGroupRef", "ItemGroupOID", "ItemGroupDef"), ("ItemRef", "ItemOID", "ItemDef"),
            ("CodeListRef", "CodeListOID", "CodeList")]
    for tag, attr, kind in refs:
        used = {e.attrib[attr] for e in mdv.iter(f"{NS}{tag}")}
        assert used and used <= defs[kind], tag
    for tag, attr, kind in [("StudyEventData", "StudyEventOID", "StudyEventDef"), ("FormData", "FormOID", "FormDef"),
                            ("ItemGroupData", "ItemGroupOID", "ItemGroupDef"), ("ItemData", "ItemOID", "ItemDef")]:
        assert {e.attrib[attr] for e in root.iter(f"{NS}{tag}")} <= defs[kind], tag
    assert {e.attrib["DataType"] for e in mdv.iter(f"{NS}ItemDef")} <= {"integer", "float", "text", "boolean", "date"}
    assert {e.attrib["Comparator"] for e in mdv.iter(f"{NS}RangeCheck")} <= {"LT", "LE", "GT", "GE", "EQ", "NE", "IN", "NOTIN"}
    # every ItemData holds either a Value or IsNull="Yes"
    for e in root.iter(f"{NS}ItemData"):
        assert ("Value" in e.attrib) != (e.attrib.get("IsNull") == "Yes")


def test_metadata_content(xml, protocol) -> None:
    mdv = ET.fromstring(xml).find(f"{NS}Study/{NS}MetaDataVersion")
    events = {e.attrib["OID"] for e in mdv.findall(f"{NS}StudyEventDef")}
    assert {f"SE.V.{v.name}" for v in protocol.visits if v.questionnaires} <= events
    assert {"SE.P1", "SE.P2", "SE.P3", "SE.SCREENING", "SE.LOG"} <= events
    forms = {e.attrib["OID"] for e in mdv.findall(f"{NS}FormDef")}
    assert {"F.DM", "F.SCREENING", "F.ALLOCATION", "F.DIARY", "F.AE", "F.CM", "F.QS.bpi", "F.QS.hads"} <= forms
    avg = mdv.find(f"{NS}ItemDef[@OID='IT.DIARY.avg_pain']")
    checks = {(r.attrib["Comparator"], r.find(f"{NS}CheckValue").text) for r in avg.findall(f"{NS}RangeCheck")}
    assert avg.attrib["DataType"] == "float" and checks == {("GE", "0"), ("LE", "10")}
    sev = mdv.find(f"{NS}CodeList[@OID='CL.SEVERITY']")
    assert [c.attrib["CodedValue"] for c in sev] == ["mild", "moderate", "severe"]
    diary_group = mdv.find(f"{NS}ItemGroupDef[@OID='IG.DIARY']")
    assert diary_group.attrib["Repeating"] == "Yes"


def test_not_well_formed_names_line(xml) -> None:
    broken = xml[: len(xml) // 2]
    with pytest.raises(DataError, match=r"ODM document: not well-formed XML at line \d+, column \d+"):
        from_odm(broken)


def test_unknown_oid_names_element_path(xml) -> None:
    text = xml.replace(b'ItemOID="IT.DIARY.avg_pain" Value', b'ItemOID="IT.DIARY.avg_painn" Value', 1)
    with pytest.raises(DataError) as err:
        from_odm(text)
    msg = str(err.value)
    assert "ODM/ClinicalData/SubjectData[@SubjectKey='P001']/StudyEventData[@StudyEventOID='SE.P1']/FormData[@FormOID='F.DIARY']" in msg
    assert "ItemOID 'IT.DIARY.avg_painn' is not defined in the metadata" in msg


def test_value_of_wrong_type_and_missing_attribute(xml) -> None:
    root = ET.fromstring(xml)
    item = next(e for e in root.iter(f"{NS}ItemData") if e.attrib["ItemOID"] == "IT.DIARY.day")
    item.attrib["Value"] = "three"
    with pytest.raises(DataError, match=r"ItemData\[@ItemOID='IT.DIARY.day'\]: Value 'three' is not of DataType integer"):
        from_odm(ET.tostring(root))
    root = ET.fromstring(xml)
    del next(root.iter(f"{NS}SubjectData")).attrib["SubjectKey"]
    with pytest.raises(DataError, match=r"ODM/ClinicalData/SubjectData: required attribute SubjectKey is missing"):
        from_odm(ET.tostring(root))


def test_invalid_values_reported_by_trial_validation(xml) -> None:
    root = ET.fromstring(xml)
    item = next(e for e in root.iter(f"{NS}ItemData") if e.attrib["ItemOID"] == "IT.DIARY.avg_pain" and "Value" in e.attrib)
    item.attrib["Value"] = "11"
    with pytest.raises(DataError, match=r"(?s)the clinical data do not form valid trial data:\n.*avg_pain=11 is outside 0..10"):
        from_odm(ET.tostring(root))


def test_not_odm(tmp_path) -> None:
    with pytest.raises(DataError, match="root element is 'html'"):
        from_odm(b"<html/>")
    with pytest.raises(DataError, match="cannot read the ODM file"):
        from_odm(tmp_path / "missing.xml")

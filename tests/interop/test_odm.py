"""CDISC ODM 1.3.2: exact round trip, metadata structure, errors on malformed documents.

The export is validated against the CDISC ODM 1.3.2 XSD (tests/interop/schemas/odm1-3-2, its
README names the source) with xmlschema, every import resolved from that folder (no network),
and against the specification's rules the XSD does not enforce (tests/interop/odm_rules.py:
Length and SignificantDigits, IsNull, OID references, values of their DataType, code lists,
hard range checks). Each checker is also shown to catch a broken document.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xmlschema

from ketapain.data import TrialData
from ketapain.errors import DataError
from ketapain.interop import ODM_NAMESPACE, canonical_order, from_odm, to_odm
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

from tests.interop.odm_rules import odm_rule_problems

NS = f"{{{ODM_NAMESPACE}}}"
SCHEMA = Path(__file__).parent / "schemas" / "odm1-3-2" / "ODM1-3-2.xsd"


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


# --- ODM 1.3.2 schema and specification rules (issue 20) -------------------------------------


@pytest.fixture(scope="module")
def odm_schema() -> xmlschema.XMLSchema:
    # allow="local": imports and includes (xml.xsd, xmldsig-core-schema.xsd, the foundation
    # schema) are read from the vendored folder; a remote location would be refused
    return xmlschema.XMLSchema(str(SCHEMA), allow="local")


@pytest.fixture(scope="module")
def edge_trial(protocol) -> TrialData:
    """A small trial with what the 20-patient one lacks: an unanswered questionnaire item
    (value missing), float and text extra columns, an all-missing extra column, the optional
    columns patients.country and .race, and questionnaires.completed_date (one date per form,
    none for the BPI)."""
    tables = simulate_trial(protocol, n_patients=4, seed=8).to_tables()
    q = tables["questionnaires"]
    q.loc[q.index[3], "value"] = np.nan
    form = q.groupby(["patient_id", "visit", "instrument"]).ngroup()
    q["completed_date"] = (pd.Timestamp("2026-01-05") + pd.to_timedelta(form, unit="D")).where(q["instrument"] != "bpi")
    p = tables["patients"]
    p["country"] = pd.Series(["FRA", "BEL", pd.NA, "FRA"], dtype="str")
    p["race"] = pd.Series(["WHITE", pd.NA, "NOT REPORTED", "ASIAN"], dtype="str")
    p["creatinine_umol_l"] = [61.25, 12.5, 0.00001, np.nan]  # hand-sized below: Length 7, SignificantDigits 5
    p["nickname"] = pd.Series(["Al", "Béatrice", pd.NA, "Jo"], dtype="str")
    p["never_asked"] = pd.Series([pd.NA] * 4, dtype="str")
    return TrialData.from_tables(**tables, meta={"study": "edge"})


@pytest.fixture(scope="module")
def edge_xml(edge_trial, protocol) -> bytes:
    return to_odm(edge_trial, protocol)


def test_export_is_valid_against_the_odm_132_xsd(odm_schema, edge_xml) -> None:
    errors = list(odm_schema.iter_errors(ET.fromstring(edge_xml)))
    assert errors == [], errors[0].reason if errors else ""


def test_the_xsd_check_catches_a_broken_document(odm_schema, edge_xml) -> None:
    root = ET.fromstring(edge_xml)
    next(root.iter(f"{NS}ItemDef")).set("DataType", "number")  # not one of the 22 ODM DataTypes
    mdv = root.find(f"{NS}Study/{NS}MetaDataVersion")
    first_form = mdv.find(f"{NS}FormDef")
    mdv.remove(first_form)
    mdv.insert(0, first_form)  # FormDef before Protocol: out of the schema's order
    reasons = " ".join(str(e.reason) for e in odm_schema.iter_errors(root))
    assert "attribute DataType='number': value must be one of" in reasons
    assert "Unexpected child with tag '{http://www.cdisc.org/ns/odm/v1.3}Protocol'" in reasons


@pytest.mark.parametrize("which", ["twenty", "edge"])
def test_spec_rules_the_xsd_does_not_enforce(which, xml, edge_xml) -> None:
    assert odm_rule_problems(xml if which == "twenty" else edge_xml) == []


def test_rule_checker_catches_each_breach(edge_xml) -> None:
    root = ET.fromstring(edge_xml)
    mdv = root.find(f"{NS}Study/{NS}MetaDataVersion")
    del mdv.find(f"{NS}ItemDef[@OID='IT.DM.sex']").attrib["Length"]
    mdv.find(f"{NS}ItemDef[@OID='IT.AE.severity']").set("Length", "5")  # 'moderate' has 8 characters
    mdv.find(f"{NS}ItemDef[@OID='IT.DIARY.day']").set("SignificantDigits", "0")
    del mdv.find(f"{NS}ItemDef[@OID='IT.DIARY.avg_pain']").attrib["SignificantDigits"]
    mdv.find(f"{NS}ItemDef[@OID='IT.DM.creatinine_umol_l']").set("SignificantDigits", "4")  # 0.00001 needs 5
    mdv.find(f"{NS}ItemDef[@OID='IT.AE.onset_date']").set("Length", "10")
    items = list(root.iter(f"{NS}ItemData"))
    next(e for e in items if e.get("ItemOID") == "IT.DIARY.max_pain").set("Value", "12")
    next(e for e in items if e.get("ItemOID") == "IT.DIARY.night_pain").set("IsNull", "Yes")
    next(e for e in items if e.get("ItemOID") == "IT.DM.age_years").set("Value", "forty")
    next(e for e in items if e.get("ItemOID") == "IT.DM.pain_type").set("Value", "visceral")
    next(e for e in items if e.get("ItemOID") == "IT.AE.term").set("ItemOID", "IT.AE.terms")
    problems = "\n".join(odm_rule_problems(ET.tostring(root)))
    for expected in ("ItemDef IT.DM.sex: DataType text without Length",
                     "ItemDef IT.DIARY.day: SignificantDigits given for DataType integer",
                     "ItemDef IT.DIARY.avg_pain: float with only one of Length and SignificantDigits",
                     "ItemDef IT.AE.onset_date: Length given for DataType date",
                     "ItemData IT.AE.severity: Value of 8 characters > Length 5",
                     "ItemData IT.DM.creatinine_umol_l: Value 1e-05 does not fit Length 7, SignificantDigits 4",
                     "ItemData IT.DIARY.max_pain: Value 12 breaks RangeCheck LE 10",
                     "ItemData IT.DIARY.night_pain: IsNull='Yes' with Value=",
                     "ItemData IT.DM.age_years: Value 'forty' is not a integer",
                     "ItemData IT.DM.pain_type: Value 'visceral' is not in code list CL.PAIN_TYPE",
                     "ItemData: ItemOID='IT.AE.terms' is not a ItemDef"):
        assert expected in problems, expected


def test_item_sizes_by_hand(edge_xml) -> None:
    mdv = ET.fromstring(edge_xml).find(f"{NS}Study/{NS}MetaDataVersion")

    def size(oid: str) -> tuple[str | None, str | None]:
        idef = mdv.find(f"{NS}ItemDef[@OID='{oid}']")
        return idef.get("Length"), idef.get("SignificantDigits")

    # text: the longest value or code, in characters ('Béatrice' is 8 characters, 9 UTF-8 bytes)
    assert size("IT.DM.nickname") == ("8", None)
    assert size("IT.AE.severity") == ("8", None)        # codes mild, moderate, severe
    assert size("IT.DM.sex") == ("1", None)             # codes M, F
    assert size("IT.DM.never_asked") == ("1", None)     # no value: the smallest Length ODM allows
    # integer: digits of the largest magnitude, range bounds included (diary days 1..35 of
    # the simulated periods; age_years has the range 18..120 in the schema: 120 -> 3)
    assert size("IT.DIARY.day")[0] == "2" and size("IT.DM.age_years")[0] == "3"
    # float: SignificantDigits = most decimals (61.25 -> 2, 0.00001 -> 5); Length = digits
    # left of the point of the largest magnitude (61.25 -> 2) + 5 = 7
    assert size("IT.DM.creatinine_umol_l") == ("7", "5")
    # 0..10 scores with whole values: 2 digits (10), no decimals
    assert size("IT.DIARY.avg_pain") == ("2", "0")
    # dates and booleans carry no size
    assert size("IT.AE.onset_date") == (None, None) and size("IT.AE.serious") == (None, None)


def test_only_collected_values_are_sent(edge_trial, edge_xml) -> None:
    """A missing cell has no ItemData (ODM 1.3.2, ItemData: "one should not use ItemData
    elements with IsNull set to "Yes" to indicate uncollected data"); the one IsNull is the
    questionnaire row whose value is missing, and the round trip keeps it."""
    root = ET.fromstring(edge_xml)
    sent = pd.Series([e.get("ItemOID") for e in root.iter(f"{NS}ItemData") if "Value" in e.attrib]).value_counts()
    nulls = [e.get("ItemOID") for e in root.iter(f"{NS}ItemData") if e.get("IsNull") == "Yes"]
    for oid, table, col in (("IT.DIARY.avg_pain", "diary", "avg_pain"), ("IT.DM.nickname", "patients", "nickname"),
                            ("IT.DM.creatinine_umol_l", "patients", "creatinine_umol_l"),
                            ("IT.DIARY.extra_analgesics_detail", "diary", "extra_analgesics_detail"),
                            ("IT.SCR.reason", "screening", "reason")):
        assert sent.get(oid, 0) == edge_trial.table(table)[col].notna().sum(), oid
    assert "IT.DM.never_asked" not in sent
    q = edge_trial.questionnaires
    missing = q[q["value"].isna()]
    assert len(missing) == 1
    assert nulls == [f"IT.QS.{missing['instrument'].iloc[0]}.{missing['item'].iloc[0]}"]
    assert from_odm(edge_xml).equals(canonical_order(edge_trial))


def test_optional_columns_travel(edge_trial, edge_xml) -> None:
    """patients.country and .race are items of the demographics form (race with its code
    list); questionnaires.completed_date is one date item per questionnaire form."""
    root = ET.fromstring(edge_xml)
    mdv = root.find(f"{NS}Study/{NS}MetaDataVersion")
    race = mdv.find(f"{NS}ItemDef[@OID='IT.DM.race']")
    assert race.get("Length") == "41"  # 'NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER', the longest code
    assert race.find(f"{NS}CodeListRef").get("CodeListOID") == "CL.RACE"
    assert mdv.find(f"{NS}ItemDef[@OID='IT.DM.country']").get("Length") == "3"
    assert mdv.find(f"{NS}ItemDef[@OID='IT.QSDATE.hads']").get("DataType") == "date"
    q = edge_trial.questionnaires
    dated_forms = q[q["completed_date"].notna()].groupby(["patient_id", "visit", "instrument"]).ngroups
    assert sum(e.get("ItemOID", "").startswith("IT.QSDATE.") for e in root.iter(f"{NS}ItemData")) == dated_forms
    back = from_odm(edge_xml)
    for name in ("patients", "questionnaires"):
        pd.testing.assert_frame_equal(back.table(name), canonical_order(edge_trial).table(name), obj=name)


def test_questionnaire_dates_must_agree_within_a_form(edge_trial, protocol) -> None:
    tables = edge_trial.to_tables()
    q = tables["questionnaires"]
    row = q.index[(q["instrument"] == "hads")][0]
    q.loc[row, "completed_date"] = pd.Timestamp("2020-02-02")
    data = TrialData.from_tables(**tables, meta=dict(edge_trial.meta))
    with pytest.raises(DataError, match=r"instrument 'hads': completed_date differs between its items \(2020-02-02, 2026-"):
        to_odm(data, protocol)


def test_non_finite_float_is_refused(edge_trial, protocol) -> None:
    tables = edge_trial.to_tables()
    tables["patients"].loc[1, "creatinine_umol_l"] = np.inf  # patients.csv row 3 (row 1 is the header)
    data = TrialData.from_tables(**tables, meta=dict(edge_trial.meta))
    msg = r"ODM export: patients row 3: creatinine_umol_l=inf is not a finite number; an ODM float is a decimal number"
    with pytest.raises(DataError, match=msg):
        to_odm(data, protocol)


def test_screening_extras_read_from_csv_keep_their_datatype(protocol, tmp_path) -> None:
    """The eligibility answers of screening are typed in ODM as they are in the trial, also
    after the trial went through its CSV folder (read_trial)."""
    trial = simulate_trial(protocol, n_patients=3, seed=2)
    trial.write(tmp_path / "trial")
    read = TrialData.read(tmp_path / "trial")

    def datatypes(data: TrialData) -> dict[str, str]:
        mdv = ET.fromstring(to_odm(data, protocol)).find(f"{NS}Study/{NS}MetaDataVersion")
        return {e.get("Name"): e.get("DataType") for e in mdv.iter(f"{NS}ItemDef") if e.get("OID").startswith("IT.SCR.")}

    direct = datatypes(trial)
    assert direct["previous_ketamine"] == "boolean" and direct["age"] == "integer"
    assert datatypes(read) == direct

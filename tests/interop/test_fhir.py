"""FHIR R4: ResearchStudy, Patient, ResearchSubject, Questionnaire(Response) in a Bundle,
validated with fhir.resources (R4B models), and the partial import."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from ketapain.errors import DataError
from ketapain.interop import (
    canonical_order,
    fhir_patients,
    from_fhir_bundle,
    research_study,
    research_subjects,
    to_fhir_bundle,
    validate_fhir,
)
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial(protocol):
    return simulate_trial(protocol, n_patients=6, seed=3)


@pytest.fixture(scope="module")
def bundle(trial, protocol):
    return to_fhir_bundle(trial, protocol)


def test_every_resource_validates(bundle) -> None:
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert {"ResearchStudy", "Questionnaire", "Patient", "ResearchSubject", "QuestionnaireResponse"} == set(kinds)
    for entry in bundle["entry"]:
        validate_fhir(entry["resource"])
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])


def test_research_study(protocol) -> None:
    rs = research_study(protocol)
    assert rs["title"] == protocol.study.title and rs["status"] == "completed"
    assert rs["identifier"] == [{"system": "https://clinicaltrials.gov", "value": "NCT02467517"}]
    # Williams design for 3 arms: 6 sequences, each an arm
    assert sorted(a["name"] for a in rs["arm"]) == sorted(["P-K-KM", "K-KM-P", "KM-P-K", "P-KM-K", "KM-K-P", "K-P-KM"])
    assert rs["arm"][0]["description"] == "period 1: placebo; period 2: ketamine; period 3: ketamine/magnesium"


def test_subjects_and_patients(trial, protocol) -> None:
    subjects = research_subjects(trial, protocol)
    al = trial.allocation.sort_values(["patient_id", "period"])
    for s, pid in zip(subjects, trial.patients["patient_id"], strict=True):
        mine = al[al["patient_id"] == pid]
        assert s["individual"] == {"reference": f"Patient/{pid}"}
        assert s["assignedArm"] == mine["sequence"].iloc[0]
        assert s["actualArm"] == "-".join(mine["treatment"])
    patients = fhir_patients(trial)
    first = trial.patients.iloc[0]
    year = trial.allocation.loc[trial.allocation["patient_id"] == first["patient_id"], "infusion_date"].min().year
    assert patients[0]["gender"] == {"M": "male", "F": "female"}[first["sex"]]
    assert patients[0]["birthDate"] == str(year - int(first["age_years"]))


def test_bundle_import_gives_patients_and_questionnaires(trial, bundle) -> None:
    back = from_fhir_bundle(bundle)
    expected = canonical_order(trial)
    pd.testing.assert_frame_equal(back.patients, expected.patients)
    pd.testing.assert_frame_equal(back.questionnaires, expected.questionnaires)
    assert back.allocation.empty and back.meta["source"] == "fhir-import"


def test_authored_is_the_completion_date(trial, bundle, protocol) -> None:
    # issue 20: the questionnaire's completed_date is the response's authored date (FHIR R4
    # QuestionnaireResponse.authored, "the date the answers were gathered")
    from ketapain.data import TABLE_NAMES, TrialData

    q = trial.questionnaires.dropna(subset=["value"]).iloc[0]
    responses = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    qr = next(r for r in responses if r["subject"]["reference"] == f"Patient/{q['patient_id']}"
              and r["extension"][0]["valueString"] == q["visit"] and r["id"].endswith(q["instrument"]))
    assert qr["authored"] == str(q["completed_date"].date())
    rows = trial.questionnaires.copy()
    same = (rows["patient_id"] == q["patient_id"]) & (rows["visit"] == q["visit"]) & (rows["instrument"] == q["instrument"])
    rows.loc[rows.index[same][0], "completed_date"] = pd.Timestamp("2001-01-01")
    tables = {t: trial.table(t) for t in TABLE_NAMES} | {"questionnaires": rows}
    with pytest.raises(DataError, match=r"FHIR export: questionnaires of patient .*, instrument .* have 2 completed_date"):
        to_fhir_bundle(TrialData.from_tables(**tables, meta=dict(trial.meta)), protocol)


def test_invalid_resources_are_refused(bundle) -> None:
    bad = copy.deepcopy(research_study(load_protocol("ketapain")))
    bad["status"] = 42
    with pytest.raises(DataError, match="FHIR ResearchStudy/ketapain does not validate"):
        validate_fhir(bad)
    broken = copy.deepcopy(bundle)
    patient = next(e for e in broken["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["resource"]["gender"] = "unknown"
    with pytest.raises(DataError, match=r"Bundle.entry\[\d+\] \(Patient/P001\): gender 'unknown' is not male or female"):
        from_fhir_bundle(broken)
    broken = copy.deepcopy(bundle)
    qr = next(e for e in broken["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    del qr["resource"]["extension"]
    with pytest.raises(DataError, match="needs subject Patient/<id> and the visit extension"):
        from_fhir_bundle(broken)
    with pytest.raises(DataError, match="expected a Bundle"):
        from_fhir_bundle({"resourceType": "Patient"})

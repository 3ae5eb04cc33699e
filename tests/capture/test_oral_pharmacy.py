"""The capture app on a protocol whose arms are oral (oral_ab_ba_example): the pharmacist's
preparation sheet says there is no infusion to prepare and gives the capsules to dispense."""

from __future__ import annotations

import datetime as dt

from .conftest import Api

APP_SETTINGS = {"protocol": "oral_ab_ba_example"}
TODAY = dt.datetime.now(dt.UTC).date()
DN4 = {str(i): int(i <= 5) for i in range(1, 11)}


def _randomised(c: dict[str, Api], weight_kg: float | None) -> str:
    nurse = c["nurse"]
    r = nurse.post("/screenings", {"answers": {"age": 50}, "dn4_items": DN4, "screening_date": str(TODAY - dt.timedelta(days=3))})
    assert r.status_code == 201, r.text
    assert r.json()["eligible"], r.json()
    body = {"screening_id": r.json()["screening_id"], "sex": "F", "age_years": 50, "height_m": 1.65, "pain_type": "radiculopathy",
            "pain_duration_years": 1, "dn4_total": 5}
    if weight_kg is not None:
        body["weight_kg"] = weight_kg
    r = nurse.post("/patients", body)
    assert r.status_code == 201, r.text
    pid = r.json()["patient_id"]
    r = nurse.post(f"/patients/{pid}/randomise")
    assert r.status_code == 201, r.text
    return pid


def test_pharmacy_sheet_of_an_oral_arm(clients) -> None:
    for weight in (70, None):
        pid = _randomised(clients, weight)
        r = clients["pharmacist"].get(f"/pharmacy/{pid}/1")
        assert r.status_code == 200, r.text
        prep = r.json()
        assert prep["treatment"] in ("PGB", "P") and prep["plan"]["components"] == []
        [d] = prep["plan"]["dispensing"]
        assert (d["units"], d["unit"], d["placebo"]) == (120, "capsule", prep["treatment"] == "P")
        assert (f"arm '{prep['treatment']}' is oral: no infusion preparation; dispense 120 capsules"
                in prep["preparation_sheet"])
        page = clients["pharmacist"].client.get(f"/patients/{pid}/pharmacy/1")
        assert page.status_code == 200 and "no infusion preparation" in page.text

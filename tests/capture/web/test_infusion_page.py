"""The infusion correction page (TestClient, SQLite and PostgreSQL): the allowed dates, the
refused dates, the confirmation step listing the diary entries that move, French text."""

from __future__ import annotations

import datetime as dt
import re

from .conftest import Web
from .test_pages import TODAY, new_patient


def _day(n: int) -> str:
    return str(TODAY + dt.timedelta(days=n))


def test_correction_page_with_confirmation_step(app, webs, clients):
    nurse = webs["nurse"]
    pid = new_patient(nurse, infused_days_ago=20)  # screened TODAY - 30, infused TODAY - 20
    assert clients["nurse"].post(f"/patients/{pid}/diary", {"period": 1, "day": 3, "avg_pain": 4}).status_code == 201
    casebook = nurse.get(f"/patients/{pid}").text
    assert f'href="/patients/{pid}/infusions/1"' in casebook
    r = nurse.get(f"/patients/{pid}/infusions/1")
    assert r.status_code == 200
    assert f'min="{_day(-30)}" max="{_day(0)}"' in r.text and f"{_day(-30)} to {_day(0)}" in r.text
    # a date outside the range: the error page names the field and the range; nothing changed
    r = nurse.post(f"/patients/{pid}/infusions/1", {"infusion_date": _day(3), "reason": "typo"})
    assert r.status_code == 422 and "infusion_date=" in r.text and "no date in the future" in r.text
    # a move with diary entries: the confirmation step lists them; nothing is saved yet
    form = {"infusion_date": _day(-22), "pre_infusion_pain": "6", "reason": "typo in the date"}
    r = nurse.post(f"/patients/{pid}/infusions/1", form)
    assert r.status_code == 409 and 'data-testid="confirm"' in r.text
    assert f"<td>3</td><td>{_day(-17)}</td><td>{_day(-19)}</td>" in r.text
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', r.text))
    assert hidden["confirm"] == "yes" and hidden["infusion_date"] == _day(-22) and hidden["reason"] == "typo in the date"
    assert f"<td>{_day(-20)}</td>" in nurse.get(f"/patients/{pid}").text
    # confirmed (the step's own form): saved
    r = nurse.post(f"/patients/{pid}/infusions/1", {k: v for k, v in hidden.items() if k != "csrf_token"})
    assert r.status_code == 303 and "msg=saved" in r.headers["location"]
    page = nurse.get(f"/patients/{pid}").text
    assert f"<td>{_day(-22)}</td>" in page and f"<td>{_day(-20)}</td>" not in page
    assert nurse.post(f"/patients/{pid}/infusions/1", {"pre_infusion_pain": "5"}).status_code == 422  # no reason
    assert webs["monitor"].post(f"/patients/{pid}/infusions/1", {"pre_infusion_pain": "5", "reason": "x"}).status_code == 403


def test_correction_page_in_french(app, webs, clients):
    pid = new_patient(webs["nurse"], infused_days_ago=20)
    assert clients["nurse"].post(f"/patients/{pid}/diary", {"period": 1, "day": 2, "avg_pain": 4}).status_code == 201
    fr = Web(app, "nurse", "role-password-1", lang="fr")
    r = fr.get(f"/patients/{pid}/infusions/1")
    assert "Corriger la perfusion de la période 1" in r.text and f"Dates autorisées : du {_day(-30)} au {_day(0)}" in r.text
    assert "Corriger</a>" in fr.get(f"/patients/{pid}").text
    r = fr.post(f"/patients/{pid}/infusions/1", {"infusion_date": _day(-21), "reason": "erreur de saisie"})
    assert r.status_code == 409 and "Déplacer le calendrier du journal ?" in r.text and "déplace 1 saisies" in r.text

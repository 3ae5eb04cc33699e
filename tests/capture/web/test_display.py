"""How the pages show values: computed scores rounded for reading (the stored values kept), and
the diary's "late" flag (yesterday's entry is on time with ``late_entry_days=1``)."""

from __future__ import annotations

import re

from sqlalchemy import select

from ketapain.capture.models import QuestionnaireResponse
from ketapain.instruments import get_instrument

from .conftest import Web
from .test_pages import _entry, _link, new_patient

LONG_FLOAT = re.compile(r"\d\.\d{4,}")   # 20.999999999999996, 47.89297971961609


def test_scores_are_rounded_on_the_pages_and_stored_unrounded(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse)
    sf36 = get_instrument("sf36")
    # every item at its second level: GH = 56.999999999999986 and PCS = 47.89297971961609 as computed
    form = {"visit": "inclusion", "instrument": "sf36"} | {f"item_{it.key}": str(int(it.minimum) + 1) for it in sf36.items}
    assert nurse.post(f"/patients/{pid}/questionnaire", form).status_code == 303
    with app.state.sessionmaker() as s:
        stored = s.execute(select(QuestionnaireResponse).where(QuestionnaireResponse.patient_id == pid)).scalars().one().scores
    assert stored["GH"] != 57 and round(stored["GH"], 9) == 57 and round(stored["PCS"], 1) == 47.9   # kept as computed
    for role in ("nurse", "investigator", "monitor"):
        page = webs[role].get(f"/patients/{pid}").text
        assert LONG_FLOAT.search(page) is None, LONG_FLOAT.search(page)
        assert "GH = 57<" in page and "PCS = 47.9<" in page and "BP = 74<" in page and "n_missing = 0<" in page
    fr = nurse.get(f"/patients/{pid}?lang=fr").text
    assert "PCS = 47,9<" in fr and LONG_FLOAT.search(fr) is None
    # the weight and the pre-infusion pain read as numbers, not as 70.0
    assert re.search(r">70\.0<|>7\.0<", nurse.get(f"/patients/{pid}").text) is None


def test_yesterdays_diary_entry_is_not_late_anywhere(app, webs):
    nurse = webs["nurse"]
    pid = new_patient(nurse, infused_days_ago=5)   # today is day 5 of period 1
    link = _link(nurse, pid)
    patient = Web(app, lang="en")
    yesterday = patient.get(f"{link}?period=1&day=4").text
    assert "Missed day" in yesterday and 'data-testid="late-note"' not in yesterday and "marked as late" not in yesterday
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', yesterday).group(1)
    form = {"csrf_token": csrf, "period": "1", "day": "4", "mode": "new", "avg_pain": "4"}
    r = patient.post(link, form, csrf=False)
    assert r.status_code == 303
    assert 'data-testid="late"' not in patient.get(r.headers["location"]).text and _entry(app, pid, 1, 4).late is False
    # the day before yesterday is late: warned before saving, flagged after
    older = patient.get(f"{link}?period=1&day=3").text
    assert 'data-testid="late-note"' in older
    r = patient.post(link, form | {"day": "3"}, csrf=False)
    assert 'data-testid="late"' in patient.get(r.headers["location"]).text and _entry(app, pid, 1, 3).late is True
    case = nurse.get(f"/patients/{pid}").text
    assert "2 entries, 1 late" in case

"""How the pages show values: computed scores rounded for reading (the stored values kept)."""

from __future__ import annotations

import re

from sqlalchemy import select

from ketapain.capture.models import QuestionnaireResponse
from ketapain.instruments import get_instrument

from .test_pages import new_patient

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

"""The casebook grid page and the record pages (issue 16), with the ``webs`` page clients: the
grid linked from the patient page, cell status and open-query counts, a query raised from a
field's link (the form pre-filled with table, record and field, back to the record after),
the visit form's out-of-window reason, no allocation on the grid for any role, French."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select

from ketapain.capture.models import DataQuery, Infusion, VisitRecord
from ketapain.protocol import load_protocol

from .test_i18n import untranslated, visible_text
from .test_pages import ROLES, TODAY, _public_protocol_text, allocation_leaks, new_patient


def _cell(page: str, key: str) -> tuple[str, int]:
    """(status, open queries) of the grid cell ``row:column``."""
    m = re.search(rf'data-cell="{re.escape(key)}" data-status="(\w+)" data-queries="(\d+)"', page)
    assert m, key
    return m.group(1), int(m.group(2))


def _visit_id(app, pid: str, visit: str) -> int:
    with app.state.sessionmaker() as s:
        return s.execute(select(VisitRecord.id).where(VisitRecord.patient_id == pid, VisitRecord.visit == visit)).scalar_one()


def test_out_of_window_visit_and_a_query_from_the_field_in_the_grid(app, webs):
    nurse, mon = webs["nurse"], webs["monitor"]
    pid = new_patient(nurse, infused_days_ago=25)  # screened 30 days ago
    assert f'href="/patients/{pid}/grid"' in nurse.get(f"/patients/{pid}").text
    grid = nurse.get(f"/patients/{pid}/grid").text
    assert _cell(grid, "randomisation:visit") == ("not_started", 0) and _cell(grid, "period_1:infusion") == ("complete", 0)
    # the visit form: out of window without a reason is refused with the window, then recorded with one
    late = {"visit": "randomisation", "visit_date": str(TODAY)}  # day 0: expected on the infusion day
    r = nurse.post(f"/patients/{pid}/visits", late)
    assert r.status_code == 422
    window = f"{TODAY - dt.timedelta(days=28)} to {TODAY - dt.timedelta(days=22)}"
    assert window in html.unescape(r.text) and "visit randomisation" in r.text
    r = nurse.post(f"/patients/{pid}/visits", late | {"out_of_window_reason": "patient was in hospital"})
    assert r.status_code == 303
    vid = _visit_id(app, pid, "randomisation")
    grid = mon.get(f"/patients/{pid}/grid").text
    assert _cell(grid, "randomisation:visit") == ("out_of_window", 0)
    assert f'href="/patients/{pid}/records/visits/{vid}"' in grid
    # the record page: a query link per field for the monitor, none for the nurse
    rec = mon.get(f"/patients/{pid}/records/visits/{vid}").text
    assert "patient was in hospital" in rec
    link = html.unescape(re.search(r'href="([^"]+)" data-testid="query-visit_date"', rec).group(1))
    assert link.startswith("/queries?table_name=visits&record_id=") and "field=visit_date" in link
    assert 'data-testid="query-' not in nurse.get(f"/patients/{pid}/records/visits/{vid}").text
    form = mon.get(link).text
    assert re.search(r"<option value=\"visits\" selected>", form)
    assert f'name="record_id" min="1" value="{vid}"' in form and 'name="field" value="visit_date"' in form
    assert f'name="next" value="/patients/{pid}/records/visits/{vid}"' in form
    r = mon.post("/queries", {"table_name": "visits", "record_id": str(vid), "field": "visit_date", "text": "Date checked?",
                              "next": f"/patients/{pid}/records/visits/{vid}"})
    assert r.status_code == 303 and r.headers["location"] == f"/patients/{pid}/records/visits/{vid}?msg=saved#record-queries"
    with app.state.sessionmaker() as s:
        q = s.execute(select(DataQuery)).scalars().one()
        assert (q.table_name, q.record_id, q.field, q.patient_id, q.status) == ("visits", vid, "visit_date", pid, "open")
    assert "Date checked?" in mon.get(f"/patients/{pid}/records/visits/{vid}").text
    assert _cell(mon.get(f"/patients/{pid}/grid").text, "randomisation:visit") == ("out_of_window", 1)


def test_next_is_only_a_record_page(webs):
    mon = webs["monitor"]
    pid = new_patient(webs["nurse"])
    for bad in ("https://evil.example/x", "//evil.example", f"/patients/{pid}/records/visits/1/../../x", "/queries/1"):
        r = mon.post("/queries", {"table_name": "patients", "record_id": "1", "text": "?", "next": bad})
        assert r.status_code == 303 and r.headers["location"] == "/queries?msg=saved", bad


def test_grid_for_every_role_without_allocation_and_in_french(app, webs):
    protocol = load_protocol("ketapain")
    pid = new_patient(webs["nurse"])
    public = [html.unescape(t) for t in _public_protocol_text(protocol)]
    for role in ROLES:
        r = webs[role].get(f"/patients/{pid}/grid")
        assert r.status_code == 200, role
        assert allocation_leaks(r.text, protocol) == [], role
        assert 'data-testid="casebook-grid"' in r.text and "not signed" in r.text
        fr = webs[role].get(f"/patients/{pid}/grid?lang=fr").text
        assert untranslated(visible_text(fr), public) == [], role
        assert "Grille du cahier" in fr and "non signé" in fr
    with app.state.sessionmaker() as s:
        inf = s.execute(select(Infusion.id).where(Infusion.patient_id == pid)).scalar_one()
    for role in ROLES:  # the infusion's record page: kit code and dates, never the arm
        r = webs[role].get(f"/patients/{pid}/records/infusions/{inf}")
        assert r.status_code == 200 and 'data-field="kit_code"' in r.text, role
        assert allocation_leaks(r.text, protocol) == [], role
    assert webs["nurse"].get("/patients/P999/grid").status_code == 404
    assert webs["nurse"].get(f"/patients/{pid}/records/allocations/1").status_code == 404
    assert webs["nurse"].get(f"/patients/{pid}/records/visits/99").status_code == 404

"""Issue 17, audit at scale: the audit listing filters and pages in SQL. The SQL form of the
blinding rule must keep exactly the rows ``roles.visible_audit_row`` (the reference, tested with
the blinding tests) keeps, for every table and field kind, and paging must give the same rows
as slicing the whole filtered trail."""

from __future__ import annotations

import itertools

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from ketapain.capture.models import AuditLog, Base
from ketapain.capture.roles import BLINDED_FIELDS, visible_audit_row
from ketapain.capture.services.audit_log import visible_to_blinded

TABLES = ["allocations", "spare_kits", "patients", "diary_entries", "users"]
FIELDS = [None, "treatment", "sequence", "used_for", "status", "kit_code", "avg_pain"]


def _rows() -> list[dict]:
    return [{"seq": i + 1, "at": "t", "username": "u", "action": "update", "table_name": t, "record_id": str(i % 7),
             "field": f, "old_value": None, "new_value": "x", "reason": None, "prev_hash": "p", "hash": "h"}
            for i, (t, f) in enumerate(itertools.product(TABLES, FIELDS))]


def test_sql_filter_equals_the_reference_rule():
    assert set(BLINDED_FIELDS) <= set(TABLES)  # every blinded table is exercised
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[AuditLog.__table__])
    rows = _rows()
    with Session(engine) as s:
        s.execute(AuditLog.__table__.insert(), rows)
        kept = {r.seq for r in s.execute(select(AuditLog).where(*visible_to_blinded())).scalars()}
        expected = {r["seq"] for r in rows if visible_audit_row(r["table_name"], r["field"], blinded=True)}
        assert kept == expected
        assert 0 < len(kept) < len(rows)  # the rule removes some rows and keeps others
        # paging in SQL = slicing the filtered trail (newest first)
        ordered = sorted(expected, reverse=True)
        q = select(AuditLog.seq).where(*visible_to_blinded()).order_by(AuditLog.seq.desc())
        for offset, limit in ((0, 5), (5, 5), (len(ordered) - 2, 10)):
            assert list(s.execute(q.offset(offset).limit(limit)).scalars()) == ordered[offset:offset + limit]

"""audit listing indexes (issue 17: the audit page filters and pages in SQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a table's rows newest first, and one record's rows newest first, without a sort of the trail
    op.create_index('ix_audit_log_table_seq', 'audit_log', ['table_name', 'seq'])
    op.create_index('ix_audit_log_table_record_seq', 'audit_log', ['table_name', 'record_id', 'seq'])


def downgrade() -> None:
    op.drop_index('ix_audit_log_table_record_seq', table_name='audit_log')
    op.drop_index('ix_audit_log_table_seq', table_name='audit_log')

"""visit windows (a visit outside its protocol window is flagged, with its reason)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 10:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('visits', sa.Column('out_of_window', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('visits', sa.Column('out_of_window_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('visits', 'out_of_window_reason')
    op.drop_column('visits', 'out_of_window')

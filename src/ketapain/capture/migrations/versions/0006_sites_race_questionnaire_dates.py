"""site country, race and questionnaire completion dates (issue 20)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 17:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('patients', sa.Column('country', sa.String(length=3), nullable=True))
    op.add_column('patients', sa.Column('race', sa.String(length=64), nullable=True))
    op.add_column('questionnaire_responses', sa.Column('completed_date', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('questionnaire_responses', 'completed_date')
    op.drop_column('patients', 'race')
    op.drop_column('patients', 'country')

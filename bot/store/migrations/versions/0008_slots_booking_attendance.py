"""slots: whether an applicant came to a booked appointment (marked by staff)

Revision ID: 0008_slots
Revises: 0007
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_slots'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        batch.add_column(sa.Column('attendance', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        batch.drop_column('attendance')

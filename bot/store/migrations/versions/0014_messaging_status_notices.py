"""status notices: whether the applicant of a conversation wants to hear of status changes

Revision ID: 0014_messaging_status_notices
Revises: 0013_slots_booking_attendance
Create Date: 2026-12-06 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_messaging_status_notices'
down_revision = '0013_slots_booking_attendance'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations') as batch:
        batch.add_column(
            sa.Column('status_notices_off', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('conversations') as batch:
        batch.drop_column('status_notices_off')

"""slots: whether an applicant came to a booked appointment (marked by staff)

Revision ID: 0013_slots_booking_attendance
Revises: 0012_admin_screens_totp_throttle
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_slots_booking_attendance'
down_revision = '0012_admin_screens_totp_throttle'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        batch.add_column(sa.Column('attendance', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        batch.drop_column('attendance')

"""device links: a digest of the web chat's device key, linking the conversations of one device

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations') as batch:
        batch.add_column(sa.Column('device_hash', sa.String(length=64), nullable=True))
        batch.create_index('ix_conversations_device_hash', ['device_hash'])


def downgrade() -> None:
    with op.batch_alter_table('conversations') as batch:
        batch.drop_index('ix_conversations_device_hash')
        batch.drop_column('device_hash')

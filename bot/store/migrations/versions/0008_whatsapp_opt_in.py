"""whatsapp opt-in: when the applicant was asked, in which language, and the template
language they chose when theirs has no approved template

Revision ID: 0008_whatsapp_opt_in
Revises: 0007
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_whatsapp_opt_in'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('whatsapp_contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opt_in_asked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('template_language', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('whatsapp_contacts', schema=None) as batch_op:
        batch_op.drop_column('template_language')
        batch_op.drop_column('language')
        batch_op.drop_column('opt_in_asked_at')

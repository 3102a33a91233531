"""privacy: legal holds on cases, what is left of erased cases, the lookup key's fingerprint

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('legal_hold_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('legal_hold_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f('ix_cases_retention_until'), ['retention_until'], unique=False)

    op.create_table('erased_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('created_month', sa.String(length=7), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erased_cases'))
    )
    with op.batch_alter_table('erased_cases') as batch:
        batch.create_index(batch.f('ix_erased_cases_erased_at'), ['erased_at'], unique=False)
        batch.create_index(batch.f('ix_erased_cases_reference'), ['reference'], unique=False)

    op.create_table('key_checks',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_key_checks'))
    )


def downgrade() -> None:
    op.drop_table('key_checks')
    with op.batch_alter_table('erased_cases') as batch:
        batch.drop_index(batch.f('ix_erased_cases_reference'))
        batch.drop_index(batch.f('ix_erased_cases_erased_at'))
    op.drop_table('erased_cases')
    with op.batch_alter_table('cases') as batch:
        batch.drop_index(batch.f('ix_cases_retention_until'))
        batch.drop_column('legal_hold_at')
        batch.drop_column('legal_hold_reason')

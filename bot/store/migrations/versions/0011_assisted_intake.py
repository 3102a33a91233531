"""assisted intake: the intakes staff run for applicants, and one-time link codes

Revision ID: 0011_assisted_intake
Revises: 0010_webhooks_outbox
Create Date: 2026-12-06 21:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_assisted_intake'
down_revision = '0010_webhooks_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assisted_intakes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by', sa.String(length=128), nullable=False),
    sa.Column('organisation', sa.String(length=64), nullable=False),
    sa.Column('consent_method', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('flow_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_message_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_assisted_intakes_staff_id_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assisted_intakes'))
    )
    with op.batch_alter_table('assisted_intakes') as batch:
        batch.create_index(batch.f('ix_assisted_intakes_staff_id'), ['staff_id'], unique=False)
        batch.create_index(batch.f('ix_assisted_intakes_created_at'), ['created_at'], unique=False)

    op.create_table('case_link_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('intake_id', sa.String(length=32), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_link_codes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_link_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_case_link_codes_code_hash'))
    )
    with op.batch_alter_table('case_link_codes') as batch:
        batch.create_index(batch.f('ix_case_link_codes_case_id'), ['case_id'], unique=False)
        batch.create_index(batch.f('ix_case_link_codes_intake_id'), ['intake_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_link_codes') as batch:
        batch.drop_index(batch.f('ix_case_link_codes_intake_id'))
        batch.drop_index(batch.f('ix_case_link_codes_case_id'))
    op.drop_table('case_link_codes')
    with op.batch_alter_table('assisted_intakes') as batch:
        batch.drop_index(batch.f('ix_assisted_intakes_created_at'))
        batch.drop_index(batch.f('ix_assisted_intakes_staff_id'))
    op.drop_table('assisted_intakes')

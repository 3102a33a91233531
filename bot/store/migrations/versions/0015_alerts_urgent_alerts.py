"""alerts: urgent cases to the on-duty staff, one e-mail delivery per staff member; an
index for the dashboard's figures

Revision ID: 0015_alerts_urgent_alerts
Revises: 0014_messaging_status_notices
Create Date: 2026-12-06 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_alerts_urgent_alerts'
down_revision = '0014_messaging_status_notices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('case_reference', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipients_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_alerts_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['staff_users.id'], name=op.f('fk_alerts_acknowledged_by_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts') as batch:
        batch.create_index(batch.f('ix_alerts_case_id'), ['case_id'], unique=False)
        batch.create_index(batch.f('ix_alerts_recipients_at'), ['recipients_at'], unique=False)
        batch.create_index(batch.f('ix_alerts_acknowledged_at'), ['acknowledged_at'], unique=False)

    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_deliveries_alert_id_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_alert_deliveries_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('alert_id', 'staff_id', name=op.f('uq_alert_deliveries_alert_id'))
    )
    with op.batch_alter_table('alert_deliveries') as batch:
        batch.create_index(batch.f('ix_alert_deliveries_staff_id'), ['staff_id'], unique=False)
        batch.create_index('ix_alert_deliveries_status_due_at', ['status', 'due_at'], unique=False)

    with op.batch_alter_table('cases') as batch:
        batch.create_index(
            'ix_cases_created_at_kind_language', ['created_at', 'kind', 'language', 'first_answer_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_index('ix_cases_created_at_kind_language')
    op.drop_table('alert_deliveries')
    op.drop_table('alerts')

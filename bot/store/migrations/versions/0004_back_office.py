"""back office: organisations, which kinds they see, staff, sessions, audit log, notes,
steps, and the plain case columns the access check reads

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ORGANISATIONS = [
    (1, 'immigration-office', 'Immigration Office'),
    (2, 'fedasil', 'Fedasil'),
    (3, 'iom', 'IOM'),
    (4, 'ngo', 'Example NGO'),
]
KIND_ACCESS = [
    # A voluntary-return request: Fedasil, and IOM where the applicant agreed; never the
    # offices that decide on residence or removal.
    ('voluntary_return', 2, 'always'),
    ('voluntary_return', 3, 'shared'),
    ('visa_question', 1, 'always'),
    ('visa_question', 2, 'vulnerable'),
    ('protection_appointment', 1, 'always'),
    ('protection_appointment', 2, 'vulnerable'),
    ('urgent_safety', 1, 'on_duty'),
    ('urgent_safety', 2, 'on_duty'),
    # A call-back is seen as the journey it came from; a call-back asked for directly:
    ('human_callback', 1, 'always'),
]


def upgrade() -> None:
    organisations = op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('slug', name=op.f('uq_organisations_slug'))
    )
    kind_access = op.create_table('kind_access',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_kind_access_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kind_access')),
    sa.UniqueConstraint('kind', 'organisation_id', name=op.f('uq_kind_access_kind'))
    )
    with op.batch_alter_table('kind_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kind_access_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('staff_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('on_duty', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('totp_secret_enc', sa.LargeBinary(), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_staff_users_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_users_email'))
    )
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_users_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('staff_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_staff_sessions_user_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_sessions_token_hash'))
    )
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('case_reference', sa.String(length=16), nullable=True),
    sa.Column('detail', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_case_reference'), ['case_reference'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_flow', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('shared_with', sa.String(length=255), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('submitted_org', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('first_answer_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_cases_assignee_id_staff_users'), 'staff_users', ['assignee_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_cases_assignee_id'), ['assignee_id'], unique=False)

    op.create_table('case_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body_enc', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['staff_users.id'], name=op.f('fk_case_notes_author_id_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notes_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_case_notes_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notes'))
    )
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_notes_case_id'), ['case_id'], unique=False)

    op.create_table('case_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_steps_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_steps')),
    sa.UniqueConstraint('case_id', 'step', name=op.f('uq_case_steps_case_id'))
    )

    op.bulk_insert(organisations, [{'id': i, 'slug': s, 'name': n} for i, s, n in ORGANISATIONS])
    op.bulk_insert(kind_access, [{'kind': k, 'organisation_id': o, 'rule': r} for k, o, r in KIND_ACCESS])
    if op.get_bind().dialect.name == 'postgresql':  # ids given above: move the sequence on
        op.execute("SELECT setval('organisations_id_seq', (SELECT max(id) FROM organisations))")


def downgrade() -> None:
    op.drop_table('case_steps')
    op.drop_table('case_notes')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_assignee_id'))
        batch_op.drop_constraint(batch_op.f('fk_cases_assignee_id_staff_users'), type_='foreignkey')
        for column in ('first_answer_at', 'assignee_id', 'outcome', 'submitted_org', 'shared_with', 'origin_flow'):
            batch_op.drop_column(column)
    op.drop_table('audit_log')
    op.drop_table('staff_sessions')
    op.drop_table('staff_users')
    op.drop_table('kind_access')
    op.drop_table('organisations')

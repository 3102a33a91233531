"""admin screens: last sign-in and TOTP columns of staff, sign-in failures shared by every
worker, the pending second-factor step, and the audit log made append-only in the database

Revision ID: 0012_admin_screens_totp_throttle
Revises: 0011_assisted_intake
Create Date: 2026-12-06 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_admin_screens_totp_throttle'
down_revision = '0011_assisted_intake'
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"
SQLITE_TRIGGERS = {
    'audit_log_no_update': 'UPDATE',
    'audit_log_no_delete': 'DELETE',
}


def upgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.add_column(sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))

    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures') as batch:
        batch.create_index(batch.f('ix_login_failures_at'), ['at'], unique=False)
        batch.create_index('ix_login_failures_key_hash_at', ['key_hash', 'at'], unique=False)

    op.create_table('login_challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pre_session_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_login_challenges_user_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_challenges')),
    sa.UniqueConstraint('pre_session_hash', name=op.f('uq_login_challenges_pre_session_hash'))
    )
    with op.batch_alter_table('login_challenges') as batch:
        batch.create_index(batch.f('ix_login_challenges_user_id'), ['user_id'], unique=False)

    # The audit log: rows are added, never changed or removed, whoever asks. Erasure never
    # needs to touch it (its rows hold references, ids and slugs, no personal values).
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
            END
            $$""")
        op.execute("""
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""")
    else:
        for name, operation in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {operation} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: {operation} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('login_challenges')
    with op.batch_alter_table('login_failures') as batch:
        batch.drop_index('ix_login_failures_key_hash_at')
        batch.drop_index(batch.f('ix_login_failures_at'))
    op.drop_table('login_failures')
    with op.batch_alter_table('staff_users') as batch:
        batch.drop_column('totp_last_step')
        batch.drop_column('totp_enabled_at')
        batch.drop_column('last_sign_in_at')

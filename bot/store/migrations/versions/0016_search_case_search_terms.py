"""search: blind indexes of cases' names, dates of birth and phones (case_search_terms); the case list's sort indexes

The rows are HMACs under the lookup key, which a migration does not have: existing cases
are indexed by `intake cases reindex`, which `intake serve` (and every command that opens
the services) also runs by itself when the index's marker in key_checks is missing or
stale (bot/store/case_search.py, ensure_search_index).

Revision ID: 0016_search_case_search_terms
Revises: 0015_alerts_urgent_alerts
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016_search_case_search_terms'
down_revision = '0015_alerts_urgent_alerts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_search_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_search_terms_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_search_terms'))
    )
    with op.batch_alter_table('case_search_terms') as batch:
        batch.create_index('ix_case_search_terms_case_id', ['case_id', 'field', 'digest'], unique=False)
        batch.create_index('ix_case_search_terms_field_digest', ['field', 'digest', 'case_id'], unique=False)
    # The case list on 100,000 cases (bot/store/casework.py): its orders read along an index.
    op.create_index('ix_cases_priority_created_at', 'cases', ['priority', 'created_at'], unique=False)
    op.create_index('ix_cases_updated_at', 'cases', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_updated_at', table_name='cases')
    op.drop_index('ix_cases_priority_created_at', table_name='cases')
    with op.batch_alter_table('case_search_terms') as batch:
        batch.drop_index('ix_case_search_terms_field_digest')
        batch.drop_index('ix_case_search_terms_case_id')
    op.drop_table('case_search_terms')
    op.execute("DELETE FROM key_checks WHERE name = 'search_index'")

"""purge: an index on cases (status, retention_until)

The purge looks, every five minutes, for final cases without a retention date. With the
index on retention_until alone, SQLite's planner walked every open case (all of them are
undated) and read each row to check its status: a full pass over the cases' encrypted
data in every worker at every purge.

Revision ID: 0017_purge_status_retention
Revises: 0016_search_case_search_terms
Create Date: 2026-12-07 00:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0017_purge_status_retention'
down_revision = '0016_search_case_search_terms'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_status_retention_until', 'cases', ['status', 'retention_until'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_status_retention_until', table_name='cases')

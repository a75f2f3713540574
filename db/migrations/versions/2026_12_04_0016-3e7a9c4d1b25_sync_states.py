"""data sources synced by watermark; each order's currency; whether an import run changed anything

Revision ID: 3e7a9c4d1b25
Revises: 8a2d5c71e3f0
Create Date: 2026-12-04 20:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3e7a9c4d1b25'
down_revision: str | None = '8a2d5c71e3f0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_states',
                    sa.Column('source', sa.String(length=64), nullable=False),
                    sa.Column('part', sa.String(length=16), nullable=False),
                    sa.Column('watermark', sa.JSON(), nullable=True),
                    sa.Column('first_sync_done', sa.Boolean(), nullable=False),
                    sa.Column('started_at', sa.DateTime(), nullable=True),
                    sa.Column('succeeded_at', sa.DateTime(), nullable=True),
                    sa.Column('failed_at', sa.DateTime(), nullable=True),
                    sa.Column('failing_since', sa.DateTime(), nullable=True),
                    sa.Column('error', sa.Text(), nullable=True),
                    sa.Column('failures_total', sa.Integer(), nullable=False),
                    sa.Column('rows_total', sa.BigInteger(), nullable=False),
                    sa.Column('rows_last', sa.Integer(), nullable=False),
                    sa.Column('null_watermark_rows', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('source', 'part', name=op.f('pk_sync_states')))
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('changed', sa.Boolean(), server_default=sa.true(), nullable=False))
    # Orders stored before this revision take their import run's currency.
    op.execute("UPDATE orders SET currency = (SELECT import_runs.currency FROM import_runs "
               "WHERE import_runs.id = orders.import_run_id)")


def downgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('changed')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('currency')
    op.drop_table('sync_states')

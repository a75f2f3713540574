"""orders record whether the analytics count them (their currency is the store's main one)

Revision ID: 9b4e2a7c5d10
Revises: 3e7a9c4d1b25
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '9b4e2a7c5d10'
down_revision: str | None = '3e7a9c4d1b25'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('in_main_currency', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_index('ix_orders_kept_apart', 'orders', ['currency'], postgresql_where=sa.text('NOT in_main_currency'),
                    sqlite_where=sa.text('NOT in_main_currency'))
    # The currency most orders are in counts; the next refresh applies CRM_CURRENCY if it names another
    # (db.currencies.mark_main_currency).
    op.execute("UPDATE orders SET in_main_currency = false WHERE currency IS NOT NULL AND currency <> "
               "(SELECT currency FROM orders WHERE currency IS NOT NULL GROUP BY currency "
               "ORDER BY count(*) DESC, currency LIMIT 1)")


def downgrade() -> None:
    op.drop_index('ix_orders_kept_apart', table_name='orders')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('in_main_currency')

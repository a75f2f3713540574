"""the three large rollup tables keep no foreign keys: rows are derived, and deleted explicitly

A rollup row is written by one INSERT ... SELECT from orders, products and customers that exist,
and deleted with its run (``db.snapshots.prune_runs``) or its customer (``db.erasure``) by explicit
statements, never by cascade.  Checking each written row against its parents cost a third of the
rollup build (2 of 6 s on the Online Retail store, PostgreSQL).

Revision ID: c2f7d9e14a60
Revises: 9b4e2a7c5d10
Create Date: 2026-12-05 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = 'c2f7d9e14a60'
down_revision: str | None = '9b4e2a7c5d10'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = {
    'sales_rollup': (('run_id', 'analytics_runs', 'CASCADE'),),
    'product_sales_rollup': (('run_id', 'analytics_runs', 'CASCADE'), ('product_id', 'products', None)),
    'customer_sales_rollup': (('run_id', 'analytics_runs', 'CASCADE'), ('customer_id', 'customers', None)),
}


def upgrade() -> None:
    for table, keys in DROPPED.items():
        with op.batch_alter_table(table) as batch:
            for column, parent, _ in keys:
                batch.drop_constraint(f'fk_{table}_{column}_{parent}', type_='foreignkey')


def downgrade() -> None:
    for table, keys in DROPPED.items():
        with op.batch_alter_table(table) as batch:
            for column, parent, on_delete in keys:
                batch.create_foreign_key(f'fk_{table}_{column}_{parent}', parent, [column], ['id'],
                                         ondelete=on_delete)

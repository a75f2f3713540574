"""rollups: pre-aggregated sales written with each analytics run

Revision ID: 4bcb2d34540a
Revises: 9d4e1b7c2a60
Create Date: 2026-12-02 09:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '4bcb2d34540a'
down_revision: str | None = '9d4e1b7c2a60'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customer_figure_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=80), nullable=True),
    sa.Column('segment', sa.String(length=32), nullable=True),
    sa.Column('cluster', sa.Integer(), nullable=True),
    sa.Column('lifetimes', sa.Integer(), nullable=False),
    sa.Column('p_alive_risk', sa.Float(), nullable=False),
    sa.Column('clv_micros', sa.BigInteger(), nullable=False),
    sa.Column('predicted', sa.Integer(), nullable=False),
    sa.Column('propensity_risk', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['analytics_runs.id'], name=op.f('fk_customer_figure_rollup_run_id_analytics_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_figure_rollup'))
    )
    with op.batch_alter_table('customer_figure_rollup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_figure_rollup_run_id'), ['run_id'], unique=False)

    op.create_table('new_customer_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=80), nullable=True),
    sa.Column('segment', sa.String(length=32), nullable=True),
    sa.Column('cluster', sa.Integer(), nullable=True),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['analytics_runs.id'], name=op.f('fk_new_customer_rollup_run_id_analytics_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_new_customer_rollup'))
    )
    with op.batch_alter_table('new_customer_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_new_customer_rollup_run_day', ['run_id', 'day'], unique=False)

    op.create_table('product_sales_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=80), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('net_micros', sa.BigInteger(), nullable=False),
    sa.Column('sold_micros', sa.BigInteger(), nullable=False),
    sa.Column('credited_micros', sa.BigInteger(), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('sale_orders', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_sales_rollup_product_id_products')),
    sa.ForeignKeyConstraint(['run_id'], ['analytics_runs.id'], name=op.f('fk_product_sales_rollup_run_id_analytics_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_sales_rollup'))
    )
    with op.batch_alter_table('product_sales_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_product_sales_rollup_run_day', ['run_id', 'day'], unique=False)
        batch_op.create_index('ix_product_sales_rollup_run_product', ['run_id', 'product_id', 'day'], unique=False)

    op.create_table('rollup_runs',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('built_at', sa.DateTime(), nullable=False),
    sa.Column('max_order_id', sa.BigInteger(), nullable=False),
    sa.Column('max_line_id', sa.BigInteger(), nullable=False),
    sa.Column('max_import_run_id', sa.Integer(), nullable=False),
    sa.Column('erased_customers', sa.Integer(), nullable=False),
    sa.Column('propensity_model_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['analytics_runs.id'], name=op.f('fk_rollup_runs_run_id_analytics_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_rollup_runs'))
    )
    op.create_table('sales_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=80), nullable=True),
    sa.Column('segment', sa.String(length=32), nullable=True),
    sa.Column('cluster', sa.Integer(), nullable=True),
    sa.Column('net_micros', sa.BigInteger(), nullable=False),
    sa.Column('sold_micros', sa.BigInteger(), nullable=False),
    sa.Column('credited_micros', sa.BigInteger(), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('sale_orders', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['analytics_runs.id'], name=op.f('fk_sales_rollup_run_id_analytics_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_rollup'))
    )
    with op.batch_alter_table('sales_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_sales_rollup_run_day', ['run_id', 'day'], unique=False)

    op.create_table('customer_sales_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('country', sa.String(length=80), nullable=True),
    sa.Column('segment', sa.String(length=32), nullable=True),
    sa.Column('cluster', sa.Integer(), nullable=True),
    sa.Column('net_micros', sa.BigInteger(), nullable=False),
    sa.Column('sold_micros', sa.BigInteger(), nullable=False),
    sa.Column('credited_micros', sa.BigInteger(), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('sale_orders', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_sales_rollup_customer_id_customers')),
    sa.ForeignKeyConstraint(['run_id'], ['analytics_runs.id'], name=op.f('fk_customer_sales_rollup_run_id_analytics_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_sales_rollup'))
    )
    with op.batch_alter_table('customer_sales_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_customer_sales_rollup_customer', ['customer_id'], unique=False)
        batch_op.create_index('ix_customer_sales_rollup_run_day', ['run_id', 'day'], unique=False)

    op.create_table('customer_total_rollup',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=True),
    sa.Column('cluster', sa.Integer(), nullable=True),
    sa.Column('net_micros', sa.BigInteger(), nullable=False),
    sa.Column('sold_micros', sa.BigInteger(), nullable=False),
    sa.Column('credited_micros', sa.BigInteger(), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('sale_orders', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_total_rollup_customer_id_customers')),
    sa.ForeignKeyConstraint(['run_id'], ['analytics_runs.id'], name=op.f('fk_customer_total_rollup_run_id_analytics_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'customer_id', name=op.f('pk_customer_total_rollup'))
    )
    with op.batch_alter_table('customer_total_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_customer_total_rollup_run_net', ['run_id', 'net_micros'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customer_total_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_total_rollup_run_net')

    op.drop_table('customer_total_rollup')
    with op.batch_alter_table('customer_sales_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_sales_rollup_run_day')
        batch_op.drop_index('ix_customer_sales_rollup_customer')

    op.drop_table('customer_sales_rollup')
    with op.batch_alter_table('sales_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_rollup_run_day')

    op.drop_table('sales_rollup')
    op.drop_table('rollup_runs')
    with op.batch_alter_table('product_sales_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_product_sales_rollup_run_product')
        batch_op.drop_index('ix_product_sales_rollup_run_day')

    op.drop_table('product_sales_rollup')
    with op.batch_alter_table('new_customer_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_new_customer_rollup_run_day')

    op.drop_table('new_customer_rollup')
    with op.batch_alter_table('customer_figure_rollup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_figure_rollup_run_id'))

    op.drop_table('customer_figure_rollup')

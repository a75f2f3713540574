"""erasure and shared channels

Revision ID: 1a2d0d33ba68
Revises: 586243c3f6e2
Create Date: 2026-11-24 10:12:28.707916
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '1a2d0d33ba68'
down_revision: str | None = '586243c3f6e2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('erased_customers',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(), nullable=False),
    sa.Column('erased_by', sa.String(length=64), nullable=False),
    sa.Column('removed', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_erased_customers'))
    )
    op.create_table('store_keys',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_store_keys'))
    )
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allow_shared', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('allow_shared')

    op.drop_table('store_keys')
    op.drop_table('erased_customers')

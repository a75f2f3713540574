"""notes about customers, and previews of writes awaiting Save

Revision ID: 6f1c8e2b7d94
Revises: 4bcb2d34540a
Create Date: 2026-12-03 09:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '6f1c8e2b7d94'
down_revision: str | None = '4bcb2d34540a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customer_notes',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('customer_id', sa.Integer(), nullable=False),
                    sa.Column('author', sa.String(length=32), nullable=False),
                    sa.Column('written_at', sa.DateTime(), nullable=False),
                    sa.Column('text', sa.Text(), nullable=False),
                    sa.Column('source_key', sa.String(length=80), nullable=False),
                    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                            name=op.f('fk_customer_notes_customer_id_customers')),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_notes')),
                    sa.UniqueConstraint('source_key', name=op.f('uq_customer_notes_source_key')))
    with op.batch_alter_table('customer_notes', schema=None) as batch_op:
        batch_op.create_index('ix_customer_notes_customer_id_written_at', ['customer_id', 'written_at'],
                              unique=False)
    op.create_table('pending_writes',
                    sa.Column('token', sa.String(length=32), nullable=False),
                    sa.Column('user_id', sa.String(length=32), nullable=False),
                    sa.Column('kind', sa.String(length=16), nullable=False),
                    sa.Column('customer_ref', sa.String(length=64), nullable=False),
                    sa.Column('payload', sa.JSON(), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.Column('status', sa.String(length=16), nullable=False),
                    sa.Column('decided_at', sa.DateTime(), nullable=True),
                    sa.CheckConstraint("kind IN ('note', 'assign')", name=op.f('ck_pending_writes_kind')),
                    sa.CheckConstraint("status IN ('pending', 'saved', 'cancelled')",
                                       name=op.f('ck_pending_writes_status')),
                    sa.PrimaryKeyConstraint('token', name=op.f('pk_pending_writes')))
    with op.batch_alter_table('pending_writes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_writes_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_writes_customer_ref'), ['customer_ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pending_writes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_writes_customer_ref'))
        batch_op.drop_index(batch_op.f('ix_pending_writes_created_at'))
    op.drop_table('pending_writes')
    with op.batch_alter_table('customer_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_notes_customer_id_written_at')
    op.drop_table('customer_notes')

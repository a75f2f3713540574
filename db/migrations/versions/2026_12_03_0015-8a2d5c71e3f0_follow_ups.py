"""follow-ups about customers and their reminders; previews may hold a follow-up

Revision ID: 8a2d5c71e3f0
Revises: 6f1c8e2b7d94
Create Date: 2026-12-03 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '8a2d5c71e3f0'
down_revision: str | None = '6f1c8e2b7d94'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('follow_ups',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('customer_id', sa.Integer(), nullable=False),
                    sa.Column('owner', sa.String(length=32), nullable=False),
                    sa.Column('created_by', sa.String(length=32), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.Column('due_at', sa.DateTime(), nullable=False),
                    sa.Column('timezone', sa.String(length=64), nullable=False),
                    sa.Column('text', sa.Text(), nullable=False),
                    sa.Column('source_key', sa.String(length=80), nullable=False),
                    sa.Column('state', sa.String(length=16), nullable=False),
                    sa.Column('done_at', sa.DateTime(), nullable=True),
                    sa.Column('done_by', sa.String(length=32), nullable=True),
                    sa.Column('reminder', sa.String(length=16), nullable=False),
                    sa.Column('token', sa.String(length=36), nullable=False),
                    sa.Column('attempts', sa.Integer(), nullable=False),
                    sa.Column('claimed_by', sa.String(length=120), nullable=True),
                    sa.Column('first_claimed_at', sa.DateTime(), nullable=True),
                    sa.Column('lease_until', sa.DateTime(), nullable=True),
                    sa.Column('message_channel', sa.String(length=32), nullable=True),
                    sa.Column('message_ts', sa.String(length=32), nullable=True),
                    sa.Column('sent_at', sa.DateTime(), nullable=True),
                    sa.Column('detail', sa.Text(), nullable=True),
                    sa.CheckConstraint("state IN ('open', 'done', 'cancelled')", name=op.f('ck_follow_ups_state')),
                    sa.CheckConstraint("reminder IN ('waiting', 'claimed', 'sent', 'missed', 'failed')",
                                       name=op.f('ck_follow_ups_reminder')),
                    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                            name=op.f('fk_follow_ups_customer_id_customers')),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
                    sa.UniqueConstraint('source_key', name=op.f('uq_follow_ups_source_key')))
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_follow_ups_owner_state_due_at', ['owner', 'state', 'due_at'], unique=False)
        batch_op.create_index('ix_follow_ups_reminder_due_at', ['reminder', 'due_at'], unique=False)
    with op.batch_alter_table('pending_writes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_pending_writes_kind'), type_='check')
        batch_op.create_check_constraint('kind', "kind IN ('note', 'assign', 'follow_up')")


def downgrade() -> None:
    op.execute("DELETE FROM pending_writes WHERE kind = 'follow_up'")
    with op.batch_alter_table('pending_writes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_pending_writes_kind'), type_='check')
        batch_op.create_check_constraint('kind', "kind IN ('note', 'assign')")
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_ups_reminder_due_at')
        batch_op.drop_index('ix_follow_ups_owner_state_due_at')
        batch_op.drop_index(batch_op.f('ix_follow_ups_customer_id'))
    op.drop_table('follow_ups')

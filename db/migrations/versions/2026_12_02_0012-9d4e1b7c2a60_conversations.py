"""conversations: the last question asked in a thread or DM, for follow-ups

Revision ID: 9d4e1b7c2a60
Revises: 5b8d2f6a91c3
Create Date: 2026-12-02 07:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '9d4e1b7c2a60'
down_revision: str | None = '5b8d2f6a91c3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('conversations',
                    sa.Column('key', sa.String(length=200), nullable=False),
                    sa.Column('user_id', sa.String(length=32), nullable=False),
                    sa.Column('question', sa.JSON(), nullable=False),
                    sa.Column('asked_at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('key', name=op.f('pk_conversations')))
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_asked_at'), ['asked_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_asked_at'))
    op.drop_table('conversations')

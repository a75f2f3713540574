"""digest subscriptions name who is told when they fail

Revision ID: 7c3e9a41d2b5
Revises: 1a2d0d33ba68
Create Date: 2026-12-02 00:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '7c3e9a41d2b5'
down_revision: str | None = '1a2d0d33ba68'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_user', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('notify_user')

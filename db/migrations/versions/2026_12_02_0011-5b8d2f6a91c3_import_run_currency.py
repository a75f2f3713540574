"""import runs record the currency of their prices

Revision ID: 5b8d2f6a91c3
Revises: 7c3e9a41d2b5
Create Date: 2026-12-02 06:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5b8d2f6a91c3'
down_revision: str | None = '7c3e9a41d2b5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
    # UCI Online Retail's prices are in pounds sterling (its documentation): stores loaded before
    # this revision learn it too.
    op.execute("UPDATE import_runs SET currency = 'GBP' WHERE source_format = 'online-retail'")


def downgrade() -> None:
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_column('currency')

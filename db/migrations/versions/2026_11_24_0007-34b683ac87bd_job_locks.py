"""job locks

Revision ID: 34b683ac87bd
Revises: f903adc91a33
Create Date: 2026-11-24 07:55:55.329641
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '34b683ac87bd'
down_revision: str | None = 'f903adc91a33'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_locks',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('acquired_at', sa.DateTime(), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_locks'))
    )


def downgrade() -> None:
    op.drop_table('job_locks')

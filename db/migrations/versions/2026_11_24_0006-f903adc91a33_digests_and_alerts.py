"""digests and alerts

Revision ID: f903adc91a33
Revises: 2dc6b6e49b0f
Create Date: 2026-11-24 06:54:29.489308
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f903adc91a33'
down_revision: str | None = '2dc6b6e49b0f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('min_value_micros', sa.BigInteger(), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('fallback_channel', sa.String(length=32), nullable=True),
    sa.Column('max_per_hour', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('churn_risk', 'large_order', 'kpi_anomaly')", name=op.f('ck_alert_rules_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules'))
    )
    op.create_table('digest_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('cadence', sa.String(length=8), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('minute', sa.SmallInteger(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=True),
    sa.Column('quiet', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('failure_notified', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("cadence IN ('weekly', 'daily')", name=op.f('ck_digest_subscriptions_cadence')),
    sa.CheckConstraint("quiet IN ('short', 'skip')", name=op.f('ck_digest_subscriptions_quiet')),
    sa.CheckConstraint("status IN ('active', 'failing', 'unsubscribed')", name=op.f('ck_digest_subscriptions_status')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6 AND hour BETWEEN 0 AND 23 AND minute BETWEEN 0 AND 59', name=op.f('ck_digest_subscriptions_time')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_subscriptions')),
    sa.UniqueConstraint('key', name=op.f('uq_digest_subscriptions_key'))
    )
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_subscriptions_channel_id'), ['channel_id'], unique=False)

    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=120), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.CheckConstraint("status IN ('claimed', 'posted', 'suppressed', 'failed')", name=op.f('ck_alert_deliveries_status')),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rules.id'], name=op.f('fk_alert_deliveries_rule_id_alert_rules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('rule_id', 'subject', name='uq_alert_deliveries_subject')
    )
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_deliveries_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_deliveries_rule_id'), ['rule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_deliveries_target'), ['target'], unique=False)

    op.create_table('digest_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('period_key', sa.String(length=32), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('token', sa.String(length=36), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('claimed_by', sa.String(length=80), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('posted_at', sa.DateTime(), nullable=True),
    sa.Column('chart_file_id', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('claimed', 'posted', 'skipped', 'failed')", name=op.f('ck_digest_deliveries_status')),
    sa.ForeignKeyConstraint(['subscription_id'], ['digest_subscriptions.id'], name=op.f('fk_digest_deliveries_subscription_id_digest_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_deliveries')),
    sa.UniqueConstraint('subscription_id', 'period_key', name='uq_digest_deliveries_period')
    )
    with op.batch_alter_table('digest_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_deliveries_subscription_id'), ['subscription_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('digest_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_deliveries_subscription_id'))

    op.drop_table('digest_deliveries')
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_deliveries_target'))
        batch_op.drop_index(batch_op.f('ix_alert_deliveries_rule_id'))
        batch_op.drop_index(batch_op.f('ix_alert_deliveries_created_at'))

    op.drop_table('alert_deliveries')
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_subscriptions_channel_id'))

    op.drop_table('digest_subscriptions')
    op.drop_table('alert_rules')

"""exactly-once payouts: request deadline on payouts, applied channel events, worker heartbeats

Revision ID: 0004_channel_fencing
Revises: 0003_fast_refunds
Create Date: 2026-11-25 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004_channel_fencing'
down_revision = '0003_fast_refunds'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_not_after', sa.DateTime(), nullable=True))
    op.create_table('channel_event',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('payout_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['payout_id'], ['payout.id'], name=op.f('fk_channel_event_payout_id_payout')),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_channel_event'))
    )
    with op.batch_alter_table('channel_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_event_payout_id'), ['payout_id'], unique=False)
    op.create_table('worker_heartbeat',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('beat_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeat'))
    )


def downgrade():
    op.drop_table('worker_heartbeat')
    with op.batch_alter_table('channel_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_event_payout_id'))
    op.drop_table('channel_event')
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_column('channel_not_after')

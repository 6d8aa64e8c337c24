"""sign-in throttle: the counters of password checks per login name, address and device, for the
embedded default (with REDIS_URL set they live in Redis and this table stays empty)

Revision ID: 0012_signin_throttle
Revises: 0011_server_sessions
Create Date: 2026-11-28 10:00:00

A row is one budget's fixed window: attempts reserved before the password check and the instant
(epoch ms) the window ends. Expired rows mean nothing and are purged now and then; the table holds
only recent activity, so it needs no index beyond its key. The downgrade drops it: the counters are
worth nothing after a few minutes.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_signin_throttle'
down_revision = '0011_server_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signin_bucket',
    sa.Column('key', sa.String(length=96), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('resets_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_signin_bucket_attempts_not_negative')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_signin_bucket'))
    )


def downgrade():
    op.drop_table('signin_bucket')

"""server-side sessions (R27): signed-in sessions kept on the server, so signing out, disabling
an account or resetting its password ends them everywhere

Revision ID: 0011_server_sessions
Revises: 0010_badge_indexes
Create Date: 2026-11-28 09:00:00

The browser's cookie holds a random id; a row holds its SHA-256, the account it signs in, the
session's keys and when it was created, last seen and expires. With REDIS_URL set the sessions
live in Redis instead and this table stays empty. The downgrade drops the table: everyone signs
in again (the older schema had no server-side sessions, and its signed cookies are not these).
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_server_sessions'
down_revision = '0010_badge_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_session',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('account_kind', sa.String(length=1), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.Column('user_agent', sa.String(length=255), nullable=True),
        sa.CheckConstraint("account_kind IN ('m', 'b')", name=op.f('ck_user_session_account_kind_known')),
        sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_user_session')),
    )
    op.create_index('ix_user_session_account', 'user_session', ['account_kind', 'account_id'], unique=False)
    op.create_index('ix_user_session_expires_at', 'user_session', ['expires_at'], unique=False)


def downgrade():
    op.drop_index('ix_user_session_expires_at', table_name='user_session')
    op.drop_index('ix_user_session_account', table_name='user_session')
    op.drop_table('user_session')

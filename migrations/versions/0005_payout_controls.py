"""payout controls: undo window, approval, refund limits for sub-accounts (R20, R21, R22)

Revision ID: 0005_payout_controls
Revises: 0004_channel_fencing
Create Date: 2026-11-25 12:30:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0005_payout_controls'
down_revision = '0004_channel_fencing'
branch_labels = None
depends_on = None


OLD_STATUSES = "status IN ('pending', 'processing', 'succeeded', 'failed')"
NEW_STATUSES = "status IN ('awaiting_approval', 'pending', 'processing', 'succeeded', 'failed', 'cancelled')"
FEN = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('shop', schema=None) as batch_op:
        batch_op.add_column(sa.Column('undo_window_seconds', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('payout_approval_fen', FEN, nullable=True))
        batch_op.add_column(sa.Column('refund_approval_fen', FEN, nullable=True))
        batch_op.create_check_constraint('undo_window_range', 'undo_window_seconds BETWEEN 0 AND 600')
        batch_op.create_check_constraint('payout_approval_positive', 'payout_approval_fen IS NULL OR payout_approval_fen > 0')
        batch_op.create_check_constraint('refund_approval_positive', 'refund_approval_fen IS NULL OR refund_approval_fen > 0')
    with op.batch_alter_table('merchant_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_approver', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('payout_quota', schema=None) as batch_op:  # R22
        batch_op.add_column(sa.Column('refund_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('per_refund_fen', FEN, nullable=True))
        batch_op.add_column(sa.Column('refund_daily_fen', FEN, nullable=True))
        batch_op.create_check_constraint('per_refund_positive', 'per_refund_fen IS NULL OR per_refund_fen > 0')
        batch_op.create_check_constraint('refund_daily_positive', 'refund_daily_fen IS NULL OR refund_daily_fen > 0')
        batch_op.create_check_constraint(
            'per_refund_within_daily', 'per_refund_fen IS NULL OR refund_daily_fen IS NULL OR per_refund_fen <= refund_daily_fen')
    with op.batch_alter_table('account_day_usage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_fen', FEN, nullable=False, server_default='0'))
        batch_op.create_check_constraint('refunded_not_negative', 'refunded_fen >= 0')
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('decided_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('decision_note', sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_payout_decided_by_id_merchant_account'), 'merchant_account',
                                    ['decided_by_id'], ['id'])
        batch_op.alter_column('status', existing_type=sa.String(length=16), type_=sa.String(length=20),
                              existing_nullable=False)
        batch_op.drop_constraint(op.f('ck_payout_status_known'), type_='check')
        batch_op.create_check_constraint('status_known', NEW_STATUSES)


def downgrade():
    # Cancelled payouts had their money released, like failed ones; one awaiting approval is held, like pending.
    op.execute("UPDATE payout SET status = 'failed', failure_reason = 'cancelled' WHERE status = 'cancelled'")
    op.execute("UPDATE payout SET status = 'pending' WHERE status = 'awaiting_approval'")
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payout_status_known'), type_='check')
        # The column first: on PostgreSQL a check made before the type change reads differently.
        batch_op.alter_column('status', existing_type=sa.String(length=20), type_=sa.String(length=16),
                              existing_nullable=False)
        batch_op.create_check_constraint('status_known', OLD_STATUSES)
        batch_op.drop_constraint(batch_op.f('fk_payout_decided_by_id_merchant_account'), type_='foreignkey')
        batch_op.drop_column('decision_note')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_by_id')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')
    with op.batch_alter_table('account_day_usage', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_account_day_usage_refunded_not_negative'), type_='check')
        batch_op.drop_column('refunded_fen')
    with op.batch_alter_table('payout_quota', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payout_quota_per_refund_within_daily'), type_='check')
        batch_op.drop_constraint(op.f('ck_payout_quota_refund_daily_positive'), type_='check')
        batch_op.drop_constraint(op.f('ck_payout_quota_per_refund_positive'), type_='check')
        batch_op.drop_column('refund_daily_fen')
        batch_op.drop_column('per_refund_fen')
        batch_op.drop_column('refund_enabled')
    with op.batch_alter_table('merchant_account', schema=None) as batch_op:
        batch_op.drop_column('is_approver')
    with op.batch_alter_table('shop', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_shop_refund_approval_positive'), type_='check')
        batch_op.drop_constraint(op.f('ck_shop_payout_approval_positive'), type_='check')
        batch_op.drop_constraint(op.f('ck_shop_undo_window_range'), type_='check')
        batch_op.drop_column('refund_approval_fen')
        batch_op.drop_column('payout_approval_fen')
        batch_op.drop_column('undo_window_seconds')

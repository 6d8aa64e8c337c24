"""payout rollups: payouts counted and summed per shop, shop-local day, starter and status (R5)

Revision ID: 0009_payout_rollups
Revises: 0008_order_search
Create Date: 2026-11-27 10:00:00

The records page's totals read this table instead of scanning every payout. The app keeps it in
the same transaction as each payout change; this revision fills it from the payouts already
there, with one INSERT ... SELECT ... GROUP BY. Run it with the old app's writers stopped (the
old code does not keep the rollups): a payout changed by old code after the backfill is not
counted.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_payout_rollups'
down_revision = '0008_order_search'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payout_day_total',
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('payout_count', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint('amount_fen >= 0', name=op.f('ck_payout_day_total_amount_not_negative')),
    sa.CheckConstraint('payout_count >= 0', name=op.f('ck_payout_day_total_count_not_negative')),
    sa.ForeignKeyConstraint(['shop_id'], ['shop.id'], name=op.f('fk_payout_day_total_shop_id_shop')),
    sa.ForeignKeyConstraint(['started_by_id'], ['merchant_account.id'],
                            name=op.f('fk_payout_day_total_started_by_id_merchant_account')),
    sa.PrimaryKeyConstraint('shop_id', 'day', 'started_by_id', 'status', name=op.f('pk_payout_day_total'))
    )
    op.execute(
        "INSERT INTO payout_day_total (shop_id, day, started_by_id, status, payout_count, amount_fen) "
        "SELECT shop_id, shop_day, started_by_id, status, COUNT(*), SUM(amount_fen) "
        "FROM payout GROUP BY shop_id, shop_day, started_by_id, status"
    )


def downgrade():
    op.drop_table('payout_day_total')

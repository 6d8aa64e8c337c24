"""badge indexes: the counts every page shows (unread messages, cases awaiting review, payouts
awaiting approval) read partial indexes of just those rows

Revision ID: 0010_badge_indexes
Revises: 0009_payout_rollups
Create Date: 2026-11-25 15:10:00

The navigation badges and the bells run on every page and every poll. Without these, counting a
shop's unread messages meant reading all of its messages (a sequential scan at 66 k messages);
each partial index holds only the rows the count wants, so it stays small however long the
history grows.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_badge_indexes'
down_revision = '0009_payout_rollups'
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_insite_message_shop_unread", "insite_message", ["shop_id"], "read_at IS NULL"),
    ("ix_insite_message_buyer_unread", "insite_message", ["buyer_id"], "read_at IS NULL"),
    ("ix_after_sales_case_shop_awaiting", "after_sales_case", ["shop_id"], "status = 'awaiting_merchant'"),
    ("ix_payout_shop_awaiting_approval", "payout", ["shop_id", "created_at"], "status = 'awaiting_approval'"),
]


def upgrade():
    for name, table, columns, where in INDEXES:
        op.create_index(name, table, columns, unique=False,
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade():
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)

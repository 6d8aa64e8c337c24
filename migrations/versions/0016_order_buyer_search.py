"""orders carry the buyer's name and phone, searched by the name's first characters and the
phone's last digits (issue 13, search as merchants search)

Revision ID: 0016_order_buyer_search
Revises: 0015_reason_codes
Create Date: 2026-11-30 09:00:00

`orders.buyer_name` and `orders.buyer_phone`: who the order is for, as the order carries it (the
name filled from the buyer's display name for the orders already there; their phone unknown).
`orders.buyer_phone_reversed` is a generated column like `order_no_reversed` (migration 0008:
STORED and COLLATE "C" on PostgreSQL, VIRTUAL with its index holding the values on SQLite), so
"the phone ends with q" is one range scan. Two indexes within a shop: `(shop_id, buyer_name)`
(bytewise on PostgreSQL) and `(shop_id, buyer_phone_reversed)`.
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_order_buyer_search'
down_revision = '0015_reason_codes'
branch_labels = None
depends_on = None

PHONE_LENGTH = 20
ORDER_NO_LENGTH = 32
SQLITE_REVERSE = " || ".join(f"substr(buyer_phone, {i}, 1)" for i in range(ORDER_NO_LENGTH, 0, -1))


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    op.add_column('orders', sa.Column('buyer_name', sa.String(64), nullable=False, server_default=''))
    op.add_column('orders', sa.Column('buyer_phone', sa.String(PHONE_LENGTH), nullable=True))
    if pg:
        op.add_column('orders', sa.Column('buyer_phone_reversed', sa.String(PHONE_LENGTH, collation="C"),
                                          sa.Computed("reverse(buyer_phone)", persisted=True), nullable=True))
    else:
        op.add_column('orders', sa.Column('buyer_phone_reversed', sa.String(PHONE_LENGTH),
                                          sa.Computed(SQLITE_REVERSE, persisted=False), nullable=True))
    op.execute("UPDATE orders SET buyer_name = (SELECT display_name FROM buyer WHERE buyer.id = orders.buyer_id)")
    if pg:
        op.execute('CREATE INDEX ix_orders_shop_buyer_name ON orders (shop_id, buyer_name COLLATE "C")')
    else:
        op.create_index('ix_orders_shop_buyer_name', 'orders', ['shop_id', 'buyer_name'], unique=False)
    op.create_index('ix_orders_shop_buyer_phone_reversed', 'orders', ['shop_id', 'buyer_phone_reversed'], unique=False)


def downgrade():
    op.drop_index('ix_orders_shop_buyer_phone_reversed', table_name='orders')
    op.drop_index('ix_orders_shop_buyer_name', table_name='orders')
    op.drop_column('orders', 'buyer_phone_reversed')
    op.drop_column('orders', 'buyer_phone')
    op.drop_column('orders', 'buyer_name')

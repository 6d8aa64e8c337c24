"""order search by the first or the last digits of the number, served by indexes

Revision ID: 0008_order_search
Revises: 0007_buyer_inbox
Create Date: 2026-11-26 09:00:00

`orders.order_no_reversed` is a generated column, the order number reversed: the database fills
it on every INSERT and UPDATE (rows already there included), so ORM, Core and plain-SQL inserts
stay as they were and must not name it. PostgreSQL: STORED, `reverse(order_no)`, COLLATE "C" (the
ADD COLUMN rewrites the table once, under an exclusive lock). SQLite: ALTER TABLE can only add a
VIRTUAL generated column; SQLite has no reverse(), so the expression spells it out with substr()
over the 32 characters an order number may have; its index stores the values.

Two indexes, one range scan each for "starts with" and "ends with" within a shop:
`(shop_id, order_no)` and `(shop_id, order_no_reversed)`. On PostgreSQL both compare bytewise
(COLLATE "C"), so `col >= q AND col < q_next` is an index range whatever the database's collation,
in generic and custom plans alike; the order_no column and its unique index keep their collation.

A table rebuild of `orders` in a later SQLite migration (batch_alter_table) must leave this column
out of the copied columns (it cannot be inserted into): drop it before, add it back after.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_order_search'
down_revision = '0007_buyer_inbox'
branch_labels = None
depends_on = None

ORDER_NO_LENGTH = 32
SQLITE_REVERSE = " || ".join(f"substr(order_no, {i}, 1)" for i in range(ORDER_NO_LENGTH, 0, -1))


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.add_column('orders', sa.Column('order_no_reversed', sa.String(ORDER_NO_LENGTH, collation="C"),
                                          sa.Computed("reverse(order_no)", persisted=True), nullable=False))
        op.execute('CREATE INDEX ix_orders_shop_order_no ON orders (shop_id, order_no COLLATE "C")')
    else:
        op.add_column('orders', sa.Column('order_no_reversed', sa.String(ORDER_NO_LENGTH),
                                          sa.Computed(SQLITE_REVERSE, persisted=False), nullable=False))
        op.create_index('ix_orders_shop_order_no', 'orders', ['shop_id', 'order_no'], unique=False)
    op.create_index('ix_orders_shop_order_no_reversed', 'orders', ['shop_id', 'order_no_reversed'], unique=False)


def downgrade():
    op.drop_index('ix_orders_shop_order_no_reversed', table_name='orders')
    op.drop_index('ix_orders_shop_order_no', table_name='orders')
    op.drop_column('orders', 'order_no_reversed')

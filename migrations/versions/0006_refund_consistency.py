"""refunds follow their money: repair cases, order refund state (R23, R24)

Revision ID: 0006_refund_consistency
Revises: 0005_payout_controls
Create Date: 2026-11-25 12:30:00

Before the constraints go on, existing rows are repaired:
- every case marked refunded (已退款) without money gets its amount and its ledger movement
  (from the funds account as far as it goes, the platform advancing the rest as arrears, as R13
  does), if its order still has anything left to refund; otherwise it is closed with a note
  saying what it is: no money moved;
- every order gets `refunded_fen`, the sum of its refunds; a fully refunded order is closed.
Then the database refuses a refunded case without money and an order refunded past its paid amount.
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0006_refund_consistency'
down_revision = '0005_payout_controls'
branch_labels = None
depends_on = None

FEN = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
REPAIR_MEMO = "0006 repair: refund recorded without money"


def _repair(conn) -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    paid = dict(conn.execute(sa.text("SELECT id, paid_fen FROM orders")).all())
    # What each order has really refunded so far: the cases whose money moved.
    refunded = {order_id: int(total) for order_id, total in conn.execute(sa.text(
        "SELECT order_id, SUM(refund_fen) FROM after_sales_case "
        "WHERE status = 'refunded' AND refund_fen IS NOT NULL AND refund_fen > 0 GROUP BY order_id")).all()}
    broken = conn.execute(sa.text(
        "SELECT id, shop_id, order_id, requested_fen FROM after_sales_case "
        "WHERE status = 'refunded' AND (refund_fen IS NULL OR refund_fen <= 0) ORDER BY id")).all()

    def event(case_id, shop_id, kind, detail):
        conn.execute(sa.text("INSERT INTO case_event (shop_id, case_id, kind, detail, created_at) "
                             "VALUES (:s, :c, :k, :d, :t)"), {"s": shop_id, "c": case_id, "k": kind, "d": detail, "t": now})

    def audit(shop_id, action, target_type, target_id, after):
        import json

        conn.execute(sa.text(
            "INSERT INTO audit_event (shop_id, actor_kind, actor_id, action, target_type, target_id, before, after, ip, created_at) "
            "VALUES (:s, 'system', NULL, :a, :tt, :ti, NULL, :after, NULL, :t)"),
            {"s": shop_id, "a": action, "tt": target_type, "ti": str(target_id), "after": json.dumps(after), "t": now})

    def ledger(shop_id, case_id, movement, source, target, amount, memo):
        conn.execute(sa.text(
            "INSERT INTO ledger_entry (shop_id, movement, from_account, to_account, amount_fen, case_id, memo, created_at) "
            "VALUES (:s, :m, :f, :to, :a, :c, :memo, :t)"),
            {"s": shop_id, "m": movement, "f": source, "to": target, "a": amount, "c": case_id, "memo": memo, "t": now})

    for case_id, shop_id, order_id, requested in broken:
        left = int(paid[order_id]) - refunded.get(order_id, 0)
        amount = min(int(requested), left)
        if amount <= 0:
            conn.execute(sa.text("UPDATE after_sales_case SET status = 'closed', refund_fen = NULL, advanced_fen = NULL, "
                                 "decided_at = COALESCE(decided_at, :t) WHERE id = :c"), {"t": now, "c": case_id})
            event(case_id, shop_id, "repaired_closed",
                  "marked refunded, but no money had moved and the order has nothing left to refund")
            audit(shop_id, "refund.repaired_closed", "case", case_id, {"status": "closed", "refund_fen": None})
            continue
        funds = conn.execute(sa.text("SELECT available_fen FROM funds_account WHERE shop_id = :s"), {"s": shop_id}).first()
        if funds is None:
            conn.execute(sa.text(
                "INSERT INTO funds_account (shop_id, available_fen, held_fen, paid_out_fen, topped_up_fen, refunded_fen, "
                "arrears_fen, updated_at) VALUES (:s, 0, 0, 0, 0, 0, 0, :t)"), {"s": shop_id, "t": now})
            available = 0
        else:
            available = int(funds[0])
        from_funds = max(0, min(amount, available))
        advanced = amount - from_funds
        if from_funds:
            ledger(shop_id, case_id, "refund", "available", "refunded", from_funds, REPAIR_MEMO)
        if advanced:
            ledger(shop_id, case_id, "advance", "advance", "refunded", advanced, "platform advance (平台垫付); " + REPAIR_MEMO)
        conn.execute(sa.text(
            "UPDATE funds_account SET available_fen = available_fen - :ff, refunded_fen = refunded_fen + :a, "
            "arrears_fen = arrears_fen + :adv, updated_at = :t WHERE shop_id = :s"),
            {"ff": from_funds, "a": amount, "adv": advanced, "t": now, "s": shop_id})
        conn.execute(sa.text("UPDATE after_sales_case SET refund_fen = :a, advanced_fen = :adv, "
                             "decided_at = COALESCE(decided_at, :t) WHERE id = :c"),
                     {"a": amount, "adv": advanced, "t": now, "c": case_id})
        event(case_id, shop_id, "repaired_refunded", "marked refunded without money; the refund was paid now")
        audit(shop_id, "refund.repaired", "case", case_id, {"amount_fen": amount, "advanced_fen": advanced})
        refunded[order_id] = refunded.get(order_id, 0) + amount

    # Orders follow their money (R24): their refunded total, and a full refund closes them.
    for order_id, total in refunded.items():
        conn.execute(sa.text("UPDATE orders SET refunded_fen = :r WHERE id = :o"), {"r": total, "o": order_id})
    closing = conn.execute(sa.text(
        "SELECT id, shop_id, status FROM orders WHERE refunded_fen >= paid_fen AND status <> 'closed'")).all()
    for order_id, shop_id, status in closing:
        conn.execute(sa.text("UPDATE orders SET status = 'closed' WHERE id = :o"), {"o": order_id})
        audit(shop_id, "order.refunded_closed", "order", order_id, {"status": "closed", "was": status})


def upgrade():
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        # The batch copies below drop and rename tables other rows point at: check the keys at commit.
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_fen', FEN, nullable=False, server_default='0'))

    _repair(conn)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_check_constraint('refunded_within_paid', 'refunded_fen >= 0 AND refunded_fen <= paid_fen')
    with op.batch_alter_table('after_sales_case', schema=None) as batch_op:
        batch_op.create_check_constraint(
            'refunded_has_money', "status <> 'refunded' OR (refund_fen IS NOT NULL AND refund_fen > 0)")


def downgrade():
    # The repaired rows stay repaired: their money really moved.
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    with op.batch_alter_table('after_sales_case', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_after_sales_case_refunded_has_money'), type_='check')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_refunded_within_paid'), type_='check')
        batch_op.drop_column('refunded_fen')

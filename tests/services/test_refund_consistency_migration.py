"""Migration 0006 repairs refunds that never moved money, on SQLite and PostgreSQL (R24): a DB is
built at 0005 with the testers' inconsistent rows, upgraded to head, and checked."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.support import T0

NOW = T0.replace(tzinfo=None)




def _app(url):
    from webapp import create_app
    from webapp.config import TestConfig

    return create_app(TestConfig(url))


def _upgrade(url, revision):
    from flask_migrate import upgrade

    app = _app(url)
    with app.app_context():
        upgrade(revision=revision)
        from webapp.extensions import db

        db.engine.dispose()


class Rows:
    """Raw inserts that fill any other NOT NULL column without a default (the schema at 0005 is
    not the models' schema)."""

    def __init__(self, conn):
        self.conn = conn
        self.meta = sa.MetaData()
        self.meta.reflect(conn)

    def insert(self, table, **values):
        t = self.meta.tables[table]
        for col in t.columns:
            if col.name in values or col.nullable or col.server_default is not None or col.primary_key:
                continue
            py = col.type.python_type if not isinstance(col.type, sa.types.NullType) else str
            values[col.name] = {bool: False, int: 1, str: "", datetime: NOW}.get(py, 1)
        pk = list(t.primary_key.columns)[0]
        result = self.conn.execute(t.insert().values(**values).returning(pk))
        return result.scalar_one()


def _seed_at_0005(url):
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        r = Rows(conn)
        shop = r.insert("shop", name="星河", certified=True, setup_complete=True, daily_payout_cap_fen=1_500_000, created_at=NOW - timedelta(days=30))
        buyer = r.insert("buyer", login="buyer-m", display_name="张三", password_hash="x", created_at=NOW)

        def order(no, paid, status="paid"):
            return r.insert("orders", order_no=no, shop_id=shop, buyer_id=buyer, item_summary="数据线", quantity=1,
                            paid_fen=paid, paid_at=NOW - timedelta(hours=2), status=status)

        def case(order_id, status, requested, refund=None):
            return r.insert("after_sales_case", shop_id=shop, order_id=order_id, buyer_id=buyer, kind="refund_only",
                            requested_fen=requested, reason="七天无理由", status=status, created_at=NOW - timedelta(hours=1),
                            fast=refund is not None, refund_fen=refund, advanced_fen=0 if refund else None)

        # ¥40 topped up, and the ¥9.90 that the second (fast) refund really paid: ¥30.10 available.
        r.insert("funds_account", shop_id=shop, available_fen=4_000 - 990, held_fen=0, paid_out_fen=0,
                 topped_up_fen=4_000, refunded_fen=990, arrears_fen=0, updated_at=NOW)
        r.insert("ledger_entry", shop_id=shop, movement="topup", from_account="outside", to_account="available",
                 amount_fen=4_000, memo="", created_at=NOW)
        a = order("6926000000000000001", 990)  # the testers' ¥9.90 order refunded twice
        demo_case = case(a, "refunded", 990)  # 已退款 without money (the demo seed)
        paid_case = case(a, "refunded", 990, refund=990)  # the buyer's second refund, which moved money
        r.insert("ledger_entry", shop_id=shop, movement="refund", from_account="available", to_account="refunded",
                 amount_fen=990, case_id=paid_case, memo="", created_at=NOW)
        b = order("6926000000000000002", 10_000, status="shipped")
        partial_case = case(b, "refunded", 2_000)  # gets its money: ¥20 from the funds
        c = order("6926000000000000003", 5_000)
        full_case = case(c, "refunded", 5_000)  # ¥10.10 left in the funds, the platform advances ¥39.90
        d = order("6926000000000000004", 3_000)
        open_case = case(d, "awaiting_merchant", 3_000)
    engine.dispose()
    return dict(shop=shop, buyer=buyer, a=a, b=b, c=c, d=d, demo_case=demo_case, paid_case=paid_case,
                partial_case=partial_case, full_case=full_case, open_case=open_case)


def test_r24_migration_0006_repairs_refunded_cases_without_money(fresh_url):
    _upgrade(fresh_url, "0005_payout_controls")
    ids = _seed_at_0005(fresh_url)
    _upgrade(fresh_url, "head")

    from tests.support import assert_money_invariants
    from webapp.models import AfterSalesCase, Buyer, CaseEvent, FundsAccount, LedgerEntry, Order
    from webapp.services import refunds

    app = _app(fresh_url)
    with app.app_context():
        from webapp.extensions import db

        s = db.session
        case = lambda key: s.get(AfterSalesCase, ids[key], populate_existing=True)  # noqa: E731
        order = lambda key: s.get(Order, ids[key], populate_existing=True)  # noqa: E731
        events = lambda key: [e.kind for e in refunds.timeline(s, ids[key])]  # noqa: E731
        money_of = lambda key: sorted((e.movement, e.amount_fen) for e in s.scalars(  # noqa: E731
            sa.select(LedgerEntry).where(LedgerEntry.case_id == ids[key])))

        # The demo's 已退款 without money on an order that was already refunded in full: closed, with a note.
        assert case("demo_case").status == "closed" and case("demo_case").refund_fen is None
        assert events("demo_case") == ["repaired_closed"] and money_of("demo_case") == []
        assert case("paid_case").status == "refunded" and money_of("paid_case") == [("refund", 990)]
        assert order("a").refunded_fen == 990 and order("a").status == "closed"
        # Refunded cases that never moved money get their amount and ledger movement.
        assert case("partial_case").refund_fen == 2_000 and money_of("partial_case") == [("refund", 2_000)]
        assert order("b").refunded_fen == 2_000 and order("b").status == "shipped"  # partly refunded ¥20
        assert case("full_case").refund_fen == 5_000 and case("full_case").advanced_fen == 3_990
        assert money_of("full_case") == [("advance", 3_990), ("refund", 1_010)]
        assert order("c").refunded_fen == 5_000 and order("c").status == "closed"
        assert events("partial_case") == ["repaired_refunded"]
        assert case("open_case").status == "awaiting_merchant" and order("d").refunded_fen == 0
        funds = s.get(FundsAccount, ids["shop"], populate_existing=True)
        assert (funds.available_fen, funds.refunded_fen, funds.arrears_fen) == (0, 990 + 2_000 + 5_000, 3_990)
        assert_money_invariants(db, ids["shop"])

        # No refunded case without money, on every row.
        assert s.scalar(sa.select(sa.func.count()).select_from(AfterSalesCase).where(
            AfterSalesCase.status == "refunded", AfterSalesCase.refund_fen.is_(None))) == 0

        # The double refund replayed: the buyer applies again on the ¥9.90 order; still one refund.
        buyer = s.get(Buyer, ids["buyer"])
        again = refunds.apply(s, buyer, "6926000000000000001", kind="refund_only", goods_intact=None,
                              now=T0 + timedelta(minutes=1))
        assert not again.created and again.case.id == ids["paid_case"]
        assert s.scalar(sa.select(sa.func.sum(LedgerEntry.amount_fen)).join(
            AfterSalesCase, LedgerEntry.case_id == AfterSalesCase.id).where(AfterSalesCase.order_id == ids["a"])) == 990

        # From now on the database refuses a refunded case without money, and an order refunded past its price.
        with pytest.raises((IntegrityError, DBAPIError)):
            s.execute(sa.update(AfterSalesCase).where(AfterSalesCase.id == ids["open_case"]).values(status="refunded"))
            s.commit()
        s.rollback()
        with pytest.raises((IntegrityError, DBAPIError)):
            s.execute(sa.update(Order).where(Order.id == ids["b"]).values(refunded_fen=10_001))
            s.commit()
        s.rollback()
        assert s.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) >= 2
        db.session.remove()
        db.engine.dispose()

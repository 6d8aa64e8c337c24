"""The schema and the read queries behave the same on SQLite and PostgreSQL."""
from datetime import timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from tests.support import T0, both_backends
from webapp.models import AfterSalesCase, Order, Shop
from webapp.services import queries

pytestmark = both_backends


def test_migrations_build_the_whole_model(db):
    """`flask db upgrade` produced every table the models declare (no create_all drift)."""
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_r16_money_columns_keep_exact_fen(db, make):
    shop = make.shop()
    order = make.order(shop, make.buyer(), paid_fen=299_900)
    db.session.expire_all()
    assert db.session.get(Order, order.id).paid_fen == 299_900
    assert isinstance(db.session.get(Shop, shop.id).daily_payout_cap_fen, int)
    assert db.session.get(Shop, shop.id).daily_payout_cap_fen == 1_500_000  # ¥15,000 default (R2.5)


def test_times_round_trip_as_aware_utc(db, make):
    order = make.order(make.shop(), make.buyer(), paid_at=T0)
    db.session.expire_all()
    got = db.session.get(Order, order.id).paid_at
    assert got == T0 and got.tzinfo == timezone.utc


@pytest.mark.parametrize(
    "change",
    [
        {"paid_fen": 0}, {"paid_fen": -1}, {"quantity": 0}, {"status": "lost"},
    ],
)
def test_database_refuses_bad_orders(db, make, change):
    shop, buyer = make.shop(), make.buyer()
    with pytest.raises(IntegrityError):
        make.order(shop, buyer, **change)
    db.session.rollback()
    assert db.session.scalar(select(Order.id)) is None  # nothing half-written


def test_order_numbers_are_unique(db, make):
    shop, buyer = make.shop(), make.buyer()
    make.order(shop, buyer, order_no="6900000000000000009")
    with pytest.raises(IntegrityError):
        make.order(shop, buyer, order_no="6900000000000000009")
    db.session.rollback()


def test_r18_a_case_cannot_point_at_another_shops_order(db, make):
    a, b = make.shop(), make.shop()
    order_a = make.order(a, make.buyer())
    db.session.add(AfterSalesCase(
        shop_id=b.id, order_id=order_a.id, kind="refund_only", requested_fen=100, reason="x",
        status="awaiting_merchant", created_at=T0,
    ))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_r18_shop_queries_never_return_another_shops_rows(db, world):
    assert queries.shop_order(db.session, world.shop_a.id, world.order_b.order_no) is None
    assert queries.shop_order(db.session, world.shop_a.id, world.order_a.order_no).id == world.order_a.id
    assert queries.shop_case(db.session, world.shop_a.id, world.case_b.id) is None
    assert [o.id for o in queries.shop_orders(db.session, world.shop_a.id).rows] == [world.order_a.id]
    assert [c.id for c in queries.shop_cases(db.session, world.shop_b.id).rows] == [world.case_b.id]
    assert queries.buyer_order(db.session, world.buyer_x.id, world.order_b.order_no) is None
    assert [o.id for o in queries.buyer_orders(db.session, world.buyer_y.id).rows] == [world.order_b.id]


def test_keyset_pagination_walks_every_order_once_newest_first(db, make):
    shop, buyer = make.shop(), make.buyer()
    # Some orders share a paid_at instant, to exercise the id tie-breaker.
    made = [make.order(shop, buyer, paid_at=T0 - timedelta(minutes=i // 2)) for i in range(23)]
    seen, cursor, pages = [], None, 0
    while True:
        page = queries.shop_orders(db.session, shop.id, cursor=cursor, limit=5)
        seen += [o.id for o in page.rows]
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert sorted(seen) == sorted(o.id for o in made) and len(seen) == len(set(seen))
    keys = [(o.paid_at, o.id) for o in (db.session.get(Order, i) for i in seen)]
    assert keys == sorted(keys, reverse=True)


def test_search_by_order_number_prefix_and_status(db, make):
    shop, buyer = make.shop(), make.buyer()
    make.order(shop, buyer, order_no="6911110000000000001", status="paid")
    make.order(shop, buyer, order_no="6911120000000000002", status="shipped")
    make.order(shop, buyer, order_no="6922220000000000003", status="shipped")
    assert {o.order_no for o in queries.shop_orders(db.session, shop.id, q="691111").rows} == {"6911110000000000001"}
    assert {o.order_no for o in queries.shop_orders(db.session, shop.id, q=" 6911-1 ").rows} == {"6911110000000000001", "6911120000000000002"}
    assert {o.order_no for o in queries.shop_orders(db.session, shop.id, status="shipped").rows} == {"6911120000000000002", "6922220000000000003"}
    assert queries.shop_orders(db.session, shop.id, q="6911%").rows == queries.shop_orders(db.session, shop.id, q="6911").rows  # % is not a wildcard


@pytest.mark.parametrize("bad", ["", "x", "1.2.3", "99999999999999999999999.1", "-1.5", "1e9.1"])
def test_bad_cursors_are_ignored(db, world, bad):
    assert len(queries.shop_orders(db.session, world.shop_a.id, cursor=bad).rows) == 1


def test_demo_seed_is_complete_and_idempotent(app, db, runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "xinghe-main" in first.output and "buyer1" in first.output
    counts = {t: db.session.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in ("shop", "merchant_account", "buyer", "orders", "after_sales_case")}
    assert counts == {"shop": 2, "merchant_account": 6, "buyer": 4, "orders": 300, "after_sales_case": 24}
    shops = db.session.scalars(select(Shop).order_by(Shop.id)).all()
    assert [s.certified for s in shops] == [True, False]
    amounts = db.session.execute(select(Order.paid_fen)).scalars().all()
    assert min(amounts) >= 990 and max(amounts) <= 299_900
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    again = {t: db.session.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in counts}
    assert again == counts

"""Search as merchants search (issue 13): one box for the order number's first or last digits,
the buyer's name and the last digits of the buyer's phone, on the order list and the after-sales
list, each way one index range scan of the shop's slice. R18: another shop's orders never appear."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.services.test_order_search import pg_plans, statements
from tests.support import T0, both_backends
from webapp.domain import search as rules
from webapp.models.types import UTCDateTime
from webapp.services import queries

pg_only = pytest.mark.parametrize("db_url", [pytest.param("pg", marks=pytest.mark.pg)], indirect=True)


# --- what the box means (pure) ---------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "order_no", "phone", "name"), [
    ("4821", "4821", "4821", None),  # 尾号: the order's or the phone's
    (" 6926-0401 ", "69260401", "69260401", None),
    ("138 0013 8000", "13800138000", "13800138000", None),  # a whole phone number
    ("6926040112345678901", "6926040112345678901", None, None),  # a whole order number: no phone that long
    ("482", "482", None, None),  # fewer than 4 digits: the number only
    ("王", None, None, "王"),
    ("  王  小明 ", None, None, "王 小明"),
    ("tom2", "tom2", None, "tom2"),  # letters and digits: a number with a prefix, or a name
    ("", None, None, None),
    ("  ", None, None, None),
])
def test_the_box_says_what_to_look_for(typed, order_no, phone, name):
    q = rules.parse(typed)
    assert (q.order_no, q.phone_tail, q.buyer_name) == (order_no, phone, name)
    assert q.empty == (order_no is None and phone is None and name is None)


def test_a_phone_is_shown_by_its_last_four_digits_only():
    assert rules.mask_phone("13800138000") == "****8000"
    assert rules.mask_phone(None) == ""


# --- the queries ---------------------------------------------------------------------------------

@pytest.fixture
def shop(make):
    class S:
        pass

    s = S()
    s.a, s.b = make.shop(name="Buyers A"), make.shop(name="Buyers B")
    s.wang = make.buyer(display_name="王小明")
    s.li = make.buyer(display_name="李雷")
    return s


def nos(page) -> list[str]:
    return [o.order_no for o in page.rows]


def find(db, shop, typed, **kw):
    return queries.shop_orders(db.session, shop.id, q=typed, **kw)


@both_backends
def test_finds_orders_by_the_last_digits_of_the_buyers_phone(db, make, shop, clock):
    hit = make.order(shop.a, shop.wang, order_no="6926000000000000001", buyer_phone="13800004821")
    make.order(shop.a, shop.li, order_no="6926000000000000002", buyer_phone="13800004822")
    make.order(shop.a, shop.li, order_no="6926000000000000003")  # no phone on the order
    assert nos(find(db, shop.a, "4821")) == [hit.order_no]
    assert nos(find(db, shop.a, "0004821")) == [hit.order_no]
    assert nos(find(db, shop.a, "138 0000 4821")) == [hit.order_no]


@both_backends
def test_finds_orders_by_the_first_characters_of_the_buyers_name_newest_first(db, make, shop):
    older = make.order(shop.a, shop.wang, order_no="6926000000000000011", paid_at=T0.replace(hour=1))
    newer = make.order(shop.a, shop.wang, order_no="6926000000000000012", paid_at=T0.replace(hour=2))
    make.order(shop.a, shop.li, order_no="6926000000000000013")
    assert nos(find(db, shop.a, "王")) == [newer.order_no, older.order_no]
    assert nos(find(db, shop.a, "王小明")) == [newer.order_no, older.order_no]
    assert nos(find(db, shop.a, "小明")) == []  # the first characters, as a name is read
    assert nos(find(db, shop.a, "李")) == ["6926000000000000013"]


@both_backends
def test_number_matches_come_first_then_phones_none_twice(db, make, shop):
    by_tail = make.order(shop.a, shop.li, order_no="6926000000000004821")
    by_phone = make.order(shop.a, shop.wang, order_no="6926000000000000021", buyer_phone="13900004821")
    both = make.order(shop.a, shop.wang, order_no="6926000000000014821", buyer_phone="13700004821")
    page = find(db, shop.a, "4821")
    assert nos(page) == [by_tail.order_no, both.order_no, by_phone.order_no] and not page.more


@both_backends
def test_r18_another_shops_buyers_are_never_found(db, make, shop):
    make.order(shop.b, shop.wang, order_no="6926000000000000031", buyer_phone="13800009999")
    mine = make.order(shop.a, shop.wang, order_no="6926000000000000032")
    assert nos(find(db, shop.a, "9999")) == []
    assert nos(find(db, shop.a, "王")) == [mine.order_no]
    assert nos(find(db, shop.b, "王")) == ["6926000000000000031"]


@both_backends
def test_a_buyer_search_longer_than_a_page_says_so(db, make, shop):
    for i in range(5):
        make.order(shop.a, shop.wang, order_no=f"69260000000000001{i:02d}")
    page = find(db, shop.a, "王", limit=3)
    assert len(page.rows) == 3 and page.more
    assert not find(db, shop.a, "王", limit=5).more


@both_backends
def test_the_after_sales_list_is_searched_the_same_way(db, make, shop):
    wang_order = make.order(shop.a, shop.wang, order_no="6926000000000000041", buyer_phone="13800001234")
    li_order = make.order(shop.a, shop.li, order_no="6926000000000000042")
    wang_case = make.case(wang_order)
    li_case = make.case(li_order)
    theirs = make.case(make.order(shop.b, shop.wang, order_no="6926000000000000043", buyer_phone="13800001234"))

    def cases(typed):
        return [c.id for c in queries.shop_cases(db.session, shop.a.id, q=typed).rows]

    assert cases("王") == [wang_case.id]
    assert cases("1234") == [wang_case.id]  # the phone's tail
    assert cases("0042") == [li_case.id]  # the order number's tail
    assert cases("6926") == [li_case.id, wang_case.id]  # newest first
    assert theirs.id not in cases("6926") + cases("王")
    assert cases("张") == []
    assert set(cases("")) == {wang_case.id, li_case.id}


def test_after_sales_search_reads_a_bounded_number_of_orders():
    assert queries.SEARCH_ORDERS <= 500


# --- plans: each way is an index range scan, however large the shop ------------------------------

def bulk_orders_with_buyers(db, shop, buyer, count: int, first: int = 1) -> None:
    """`count` orders by plain SQL with a buyer name and phone per order (a thousand names)."""
    db.session.execute(sa.text(
        "WITH RECURSIVE n(i) AS (SELECT CAST(:first AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
        "INSERT INTO orders (order_no, shop_id, buyer_id, buyer_name, buyer_phone, item_summary, quantity, paid_fen,"
        " paid_at, status, refunded_fen) "
        "SELECT CAST(6900000000000000000 + i AS VARCHAR(32)), :shop, :buyer, 'name' || CAST(i % 1000 AS VARCHAR(8)),"
        " CAST(13000000000 + i * 7919 AS VARCHAR(20)), 'bulk', 1, 100, :at, 'paid', 0 FROM n"
    ).bindparams(sa.bindparam("at", type_=UTCDateTime())),
        {"first": first, "last": first + count - 1, "shop": shop.id, "buyer": buyer.id, "at": T0})
    db.session.commit()


BUYER_INDEXES = {"phone": "ix_orders_shop_buyer_phone_reversed", "name": "ix_orders_shop_buyer_name"}


@pg_only
def test_pg_buyer_searches_are_index_range_scans_on_a_large_table(db, shop):
    bulk_orders_with_buyers(db, shop.a, shop.wang, 20_000)
    bulk_orders_with_buyers(db, shop.b, shop.wang, 20_000, first=20_001)
    db.session.execute(sa.text("ANALYZE orders"))
    db.session.commit()
    for typed, way in [("name12", "name"), ("name1", "name")]:
        with statements(db) as seen:
            page = find(db, shop.a, typed)
        assert page.rows and all(o.shop_id == shop.a.id for o in page.rows)
        statement, params = seen[-1]
        for mode, plan in pg_plans(db, statement, params).items():
            assert f"Index Scan using {BUYER_INDEXES[way]} on orders" in plan, (typed, mode, plan)
            assert "Seq Scan on orders" not in plan, (typed, mode, plan)
            rows = [int(m) for m in re.findall(rf"Index Scan using {BUYER_INDEXES[way]} on orders .*?rows=(\d+)", plan)]
            assert rows and rows[0] <= 26, (typed, mode, plan)
        db.session.rollback()
    phone = str(13000000000 + 777 * 7919)
    with statements(db) as seen:
        page = find(db, shop.a, phone[-6:])
    assert [o.buyer_phone for o in page.rows] == [phone]
    phone_statement = next((s, p) for s, p in seen if "buyer_phone_reversed" in s.split("WHERE", 1)[1])
    for mode, plan in pg_plans(db, *phone_statement).items():
        assert f"Index Scan using {BUYER_INDEXES['phone']} on orders" in plan, (mode, plan)
    db.session.rollback()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_buyer_searches_are_index_range_scans(db, shop):
    bulk_orders_with_buyers(db, shop.a, shop.wang, 3_000)
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    for typed, column in [("name12", "buyer_name"), ("27919", "buyer_phone_reversed")]:
        with statements(db) as seen:
            find(db, shop.a, typed)
        statement, params = next((s, p) for s, p in seen if column in s.split("WHERE", 1)[1])
        plan = " | ".join(r[-1] for r in db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
        index = BUYER_INDEXES["name" if column == "buyer_name" else "phone"]
        assert re.search(rf"SEARCH orders USING INDEX {index} \(shop_id=\? AND \w+>\? AND \w+<\?\)", plan), plan
        db.session.rollback()


# --- migration 0016: the orders already there get their buyer's name --------------------------------

def test_migration_0016_names_existing_orders_and_goes_back_cleanly(fresh_url):
    from tests.services.test_migrations import NOW, _insert, connect, downgrade, upgrade

    before = _previous_revision()
    upgrade(fresh_url, before)
    with connect(fresh_url) as conn, conn.begin():
        shop = _insert(conn, "shop", name="迁移", certified=True, setup_complete=True, daily_payout_cap_fen=1_500_000,
                       created_at=NOW, undo_window_seconds=0)
        buyer = _insert(conn, "buyer", login="buyer-0016", display_name="王小明", password_hash="x", active=True,
                        session_epoch=0, created_at=NOW)
        _insert(conn, "orders", order_no="6926000000000000123", shop_id=shop, buyer_id=buyer, item_summary="x",
                quantity=1, paid_fen=100, paid_at=NOW, status="paid", refunded_fen=0)
    upgrade(fresh_url, "0016_order_buyer_search")
    with connect(fresh_url) as conn, conn.begin():
        assert conn.execute(sa.text("SELECT buyer_name, buyer_phone FROM orders")).one() == ("王小明", None)
        conn.execute(sa.text("UPDATE orders SET buyer_phone = '13800004821'"))
        assert conn.execute(sa.text("SELECT buyer_phone_reversed FROM orders")).scalar() == "12840000831"
    downgrade(fresh_url, before)
    with connect(fresh_url) as conn:
        insp = sa.inspect(conn)
        assert not {"buyer_name", "buyer_phone", "buyer_phone_reversed"} & {c["name"] for c in insp.get_columns("orders")}
        assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar() == 1


def _previous_revision() -> str:
    from tests.services.test_migrations import CHAIN

    return CHAIN[CHAIN.index("0016_order_buyer_search") - 1]

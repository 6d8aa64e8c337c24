"""Order search by number (issue "Speed and scale"): the orders whose number starts with what was
typed, then those whose number ends with it, one page at most, each group one index range scan of
the shop's slice, on SQLite and PostgreSQL. R18: another shop's orders never appear."""
from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from tests.support import T0, both_backends
from webapp.models import Order
from webapp.models.types import UTCDateTime
from webapp.services import queries

INDEXES = ("ix_orders_shop_order_no", "ix_orders_shop_order_no_reversed")  # starts with, ends with
pg_only = pytest.mark.parametrize("db_url", [pytest.param("pg", marks=pytest.mark.pg)], indirect=True)


@pytest.fixture
def shops(make):
    """Shop A with orders whose numbers share heads and tails; shop B with look-alikes."""
    class S:
        pass

    s = S()
    s.a, s.b = make.shop(name="Search A"), make.shop(name="Search B")
    s.buyer = make.buyer()

    def order(shop, no, **kw):
        return make.order(shop, s.buyer, order_no=no, **kw)

    s.order = order
    return s


def nos(page) -> list[str]:
    return [o.order_no for o in page.rows]


def search(db, shop, q, **kw):
    return queries.shop_orders(db.session, shop.id, q=q, **kw)


@both_backends
def test_finds_an_order_by_its_first_digits(db, shops):
    hit = shops.order(shops.a, "6926111100000000001")
    shops.order(shops.a, "6927111100000000001")
    page = search(db, shops.a, "69261111")
    assert nos(page) == [hit.order_no] and not page.more and page.next_cursor is None


@both_backends
def test_finds_an_order_by_its_last_digits(db, shops):
    hit = shops.order(shops.a, "6926000000000004321")
    shops.order(shops.a, "6926000000000004322")
    assert nos(search(db, shops.a, "4321")) == [hit.order_no]
    assert nos(search(db, shops.a, "04321")) == [hit.order_no]


@both_backends
def test_starts_with_first_then_ends_with_each_by_number_and_none_twice(db, shops):
    for no in ["6920000000000000123", "1230000000000000690", "1239999999999999999", "1200000000000000123",
               "1230000000000000123", "5550000000000000123", "6990000000000000124"]:
        shops.order(shops.a, no)
    page = search(db, shops.a, "123")
    assert nos(page) == [
        # starts with 123, by number (the one that also ends with 123 only here)
        "1230000000000000123", "1230000000000000690", "1239999999999999999",
        # then ends with 123, by number
        "1200000000000000123", "5550000000000000123", "6920000000000000123",
    ]
    assert not page.more


@both_backends
def test_digits_only_in_the_middle_do_not_match(db, shops):
    shops.order(shops.a, "6926000077770000001")
    page = search(db, shops.a, "7777")
    assert page.rows == [] and not page.more


@both_backends
def test_a_number_nobody_has_finds_nothing(db, shops):
    shops.order(shops.a, "6926000000000000001")
    assert search(db, shops.a, "8888").rows == []


@both_backends
def test_r18_another_shops_order_is_never_found(db, shops):
    mine = shops.order(shops.a, "6926000000000000777")
    theirs = [shops.order(shops.b, "6926000000000001777"), shops.order(shops.b, "7770000000000000001")]
    for q in ["777", "6926", theirs[0].order_no, theirs[1].order_no, "1777"]:
        found = nos(search(db, shops.a, q))
        assert not {o.order_no for o in theirs} & set(found), q
    assert nos(search(db, shops.a, "777")) == [mine.order_no]
    assert nos(search(db, shops.b, "777")) == ["7770000000000000001", "6926000000000001777"]


@both_backends
def test_status_filter_applies_to_both_groups(db, shops):
    head_paid = shops.order(shops.a, "5150000000000000001", status="paid")
    head_shipped = shops.order(shops.a, "5150000000000000002", status="shipped")
    tail_paid = shops.order(shops.a, "6926000000000000515", status="paid")
    tail_shipped = shops.order(shops.a, "6927000000000000515", status="shipped")
    assert nos(search(db, shops.a, "515", status="shipped")) == [head_shipped.order_no, tail_shipped.order_no]
    assert nos(search(db, shops.a, "515", status="paid")) == [head_paid.order_no, tail_paid.order_no]
    refunded = shops.order(shops.a, "6928000000000000515", status="closed", refunded_fen=10_000)
    assert nos(search(db, shops.a, "515", status="refunded")) == [refunded.order_no]


@both_backends
def test_more_than_a_page_says_so_and_shows_one_page(db, shops):
    for i in range(4):
        shops.order(shops.a, f"42{i:017d}")  # start with 42
    for i in range(3):
        shops.order(shops.a, f"69{i:015d}42")  # end with 42
    page = search(db, shops.a, "42", limit=3)  # the first group alone fills the page
    assert nos(page) == [f"42{i:017d}" for i in range(3)] and page.more
    page = search(db, shops.a, "42", limit=5)  # the second group does not fit
    assert nos(page) == [f"42{i:017d}" for i in range(4)] + [f"69{0:015d}42"]  # the first tail by index
    assert page.more
    page = search(db, shops.a, "42", limit=7)  # exactly a page: nothing more
    assert len(page.rows) == 7 and not page.more
    assert not search(db, shops.a, "42", limit=8).more


@both_backends
def test_exactly_a_page_of_first_digits_with_more_at_the_end_says_so(db, shops):
    for i in range(3):
        shops.order(shops.a, f"42{i:017d}")
    shops.order(shops.a, f"69{0:015d}42")
    page = search(db, shops.a, "42", limit=3)
    assert len(page.rows) == 3 and page.more


@both_backends
def test_spaces_dashes_and_the_like_are_ignored(db, shops):
    hit = shops.order(shops.a, "6926123456789012345")
    for typed in [" 6926 1234 ", "6926-1234", "6926\t1234\n", "(6926)1234", "9012 345", "…012-345 "]:
        assert nos(search(db, shops.a, typed)) == [hit.order_no], typed
    assert queries.normalize_order_no(" 69-26 12 ") == "692612"


@both_backends
def test_without_a_number_the_list_stays_keyset_by_payment_time(db, shops, make):
    from datetime import timedelta

    for i in range(4):
        shops.order(shops.a, f"6926{i:015d}", paid_at=T0 - timedelta(minutes=i))
    page = search(db, shops.a, "", limit=3)
    assert nos(page) == [f"6926{i:015d}" for i in range(3)] and page.next_cursor and not page.more
    rest = queries.shop_orders(db.session, shops.a.id, cursor=page.next_cursor, limit=3)
    assert nos(rest) == ["6926000000000000003"] and rest.next_cursor is None


# --- the reversed number: always the reverse, however the row was written ------------------------

def reversed_of(db, order_id) -> str:
    return db.session.scalar(sa.select(Order.order_no_reversed).where(Order.id == order_id))


@both_backends
def test_the_reversed_number_is_the_reverse_for_orm_core_and_sql_inserts_and_updates(db, shops):
    orm = shops.order(shops.a, "6926000000000000123")
    assert orm.order_no_reversed == "3210000000000006296"
    columns = dict(shop_id=shops.a.id, buyer_id=shops.buyer.id, item_summary="x", quantity=1, paid_fen=100,
                   paid_at=T0, status="paid")
    core = db.session.execute(sa.insert(Order).values(order_no="12345", **columns).returning(Order.id)).scalar_one()
    db.session.execute(sa.text(
        "INSERT INTO orders (order_no, shop_id, buyer_id, item_summary, quantity, paid_fen, paid_at, status,"
        " refunded_fen) VALUES ('ABC-987', :shop, :buyer, 'x', 1, 100, :at, 'paid', 0)"
    ).bindparams(sa.bindparam("at", type_=UTCDateTime())), {"shop": shops.a.id, "buyer": shops.buyer.id, "at": T0})
    db.session.commit()
    assert reversed_of(db, core) == "54321"
    sql = db.session.scalar(sa.select(Order.id).where(Order.order_no == "ABC-987"))
    assert reversed_of(db, sql) == "789-CBA"
    long = "1234567890123456789012345678901X"  # the longest order number there can be (32)
    db.session.execute(sa.update(Order).where(Order.id == sql).values(order_no=long))
    db.session.commit()
    assert reversed_of(db, sql) == long[::-1]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order).where(
        Order.order_no_reversed == sa.literal(""))) == 0


@both_backends
def test_the_reversed_number_cannot_be_written(db, shops):
    order = shops.order(shops.a, "6926000000000000123")
    with pytest.raises(DatabaseError):
        db.session.execute(sa.text("UPDATE orders SET order_no_reversed = 'x' WHERE id = :id"), {"id": order.id})
    db.session.rollback()
    assert reversed_of(db, order.id) == "3210000000000006296"


# --- plans: each group is an index range scan, in index order ------------------------------------

def bulk_orders(db, shop, buyer, count: int, first: int = 1) -> None:
    """`count` orders written with plain SQL, as the bench does (order_no_reversed not named):
    numbers 69 + i (17 digits) with four pseudo-random last digits."""
    db.session.execute(sa.text(
        "WITH RECURSIVE n(i) AS (SELECT CAST(:first AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
        "INSERT INTO orders (order_no, shop_id, buyer_id, item_summary, quantity, paid_fen, paid_at, status, refunded_fen) "
        "SELECT CAST(6900000000000000000 + i * 10000 + (i * 7919) % 10000 AS VARCHAR(32)), :shop, :buyer, 'bulk', 1,"
        " 100, :at, CASE WHEN i % 3 = 0 THEN 'shipped' ELSE 'paid' END, 0 FROM n"
    ).bindparams(sa.bindparam("at", type_=UTCDateTime())),
        {"first": first, "last": first + count - 1, "shop": shop.id, "buyer": buyer.id, "at": T0})
    db.session.commit()


@contextmanager
def statements(db):
    """The SELECTs from orders the block sends, as (SQL, parameters)."""
    seen: list = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM orders" in statement:
            seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)


def pg_plans(db, statement, params) -> dict[str, str]:
    """EXPLAIN ANALYZE of the statement as a custom and as a generic plan (as a prepared statement
    gets after a few runs: parameters unknown to the planner)."""
    names: list[str] = []

    def number(m):
        names.append(m.group(1))
        return f"${len(names)}"

    sql = re.sub(r"%\((\w+)\)s", number, statement)
    args = ", ".join(str(params[n]) if isinstance(params[n], int) else "'" + str(params[n]) + "'" for n in names)
    conn = db.session.connection()
    plans = {}
    for mode in ("force_custom_plan", "force_generic_plan"):
        conn.exec_driver_sql(f"SET LOCAL plan_cache_mode = {mode}")
        conn.exec_driver_sql(f"PREPARE search_plan AS {sql}")
        try:
            rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE search_plan({args})")
            plans[mode] = "\n".join(r[0] for r in rows)
        finally:
            conn.exec_driver_sql("DEALLOCATE search_plan")
    return plans


@pg_only
def test_pg_both_searches_are_ordered_index_range_scans_on_a_large_table(db, shops):
    other = shops.b
    bulk_orders(db, shops.a, shops.buyer, 20_000)
    bulk_orders(db, other, shops.buyer, 20_000, first=20_001)
    db.session.execute(sa.text("ANALYZE orders"))
    db.session.commit()

    cases = [
        "6900000000",  # thousands start with it: the first group fills the page
        "69000000001230",  # ten start with it (i = 12300..12309), then the tails (none), those ten excluded
        "19",  # hundreds end with it (i = 1 mod 100)
        "069",  # twenty end with it
    ]
    for q in cases:
        with statements(db) as seen:
            page = search(db, shops.a, q)
        assert page.rows and all(o.shop_id == shops.a.id for o in page.rows), q
        assert len(seen) == (1 if page.more and q.startswith("69") else 2), q
        for (statement, params), index in zip(seen, INDEXES[:len(seen)], strict=True):
            for mode, plan in pg_plans(db, statement, params).items():
                assert f"Index Scan using {index} on orders" in plan, (q, mode, plan)
                assert "Seq Scan on orders" not in plan and "Sort" not in plan, (q, mode, plan)
                rows = [int(m) for m in re.findall(rf"Index Scan using {index} on orders .*?rows=(\d+)", plan)]
                assert rows and rows[0] <= 26, (q, mode, plan)  # a page and one more, however many match
        db.session.rollback()


@pg_only
def test_pg_indexes_compare_bytewise_whatever_the_database_collation(db):
    ddl = db.session.scalar(sa.text("SELECT pg_get_indexdef('ix_orders_shop_order_no'::regclass)"))
    assert re.search(r'\(shop_id, order_no COLLATE "C"\)', ddl), ddl
    collation = db.session.scalar(sa.text(
        "SELECT collation_name FROM information_schema.columns WHERE table_name = 'orders' "
        "AND column_name = 'order_no_reversed'"))
    assert collation == "C"
    generated = db.session.scalar(sa.text(
        "SELECT generation_expression FROM information_schema.columns WHERE table_name = 'orders' "
        "AND column_name = 'order_no_reversed'"))
    assert generated.replace(" ", "") == "reverse((order_no)::text)"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_both_searches_are_index_range_scans_in_index_order(db, shops):
    bulk_orders(db, shops.a, shops.buyer, 3_000)
    bulk_orders(db, shops.b, shops.buyer, 3_000, first=3_001)
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    for q in ["690000000001", "69000000000123", "19"]:  # page full, ten (i = 1230..1239), tails
        with statements(db) as seen:
            page = search(db, shops.a, q)
        assert page.rows and len(seen) == (1 if page.more and q.startswith("69") else 2), q
        for (statement, params), index in zip(seen, INDEXES[:len(seen)], strict=True):
            plan = " | ".join(r[-1] for r in db.session.connection().exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, params))
            assert re.search(rf"SEARCH orders USING INDEX {index} \(shop_id=\? AND \w+>\? AND \w+<\?\)", plan), plan
            assert "TEMP B-TREE" not in plan, plan
        db.session.rollback()


# --- migration 0008: the orders already there get their reversed number ----------------------------



def test_migration_0008_fills_existing_orders_and_goes_back_cleanly(fresh_url):
    from tests.services.test_migrations import NOW, _insert, connect, downgrade, upgrade

    upgrade(fresh_url, "0007_buyer_inbox")
    with connect(fresh_url) as conn, conn.begin():
        shop = _insert(conn, "shop", name="迁移", certified=True, setup_complete=True, daily_payout_cap_fen=1_500_000,
                       created_at=NOW, undo_window_seconds=0)
        buyer = _insert(conn, "buyer", login="buyer-0008", display_name="买家", password_hash="x", active=True,
                        session_epoch=0, created_at=NOW)
        for no in ("6926000000000000123", "12-AB"):
            _insert(conn, "orders", order_no=no, shop_id=shop, buyer_id=buyer, item_summary="x", quantity=1,
                    paid_fen=100, paid_at=NOW, status="paid", refunded_fen=0)
    upgrade(fresh_url, "0008_order_search")
    with connect(fresh_url) as conn:
        got = dict(conn.execute(sa.text("SELECT order_no, order_no_reversed FROM orders")).all())
        assert got == {"6926000000000000123": "3210000000000006296", "12-AB": "BA-21"}
        indexes = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("orders")}
        assert indexes["ix_orders_shop_order_no"] == ["shop_id", "order_no"]
        assert indexes["ix_orders_shop_order_no_reversed"] == ["shop_id", "order_no_reversed"]
    downgrade(fresh_url, "0007_buyer_inbox")
    with connect(fresh_url) as conn:
        insp = sa.inspect(conn)
        assert "order_no_reversed" not in {c["name"] for c in insp.get_columns("orders")}
        assert not {"ix_orders_shop_order_no", "ix_orders_shop_order_no_reversed"} & {
            i["name"] for i in insp.get_indexes("orders")}
        assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar() == 2

"""The migrations round trip, on SQLite and PostgreSQL: upgrade to head, downgrade step by step to
base, upgrade to head again, then `flask db check` (the models and the migrated schema agree).

After every step down, the schema must be exactly the one the same revision had on the way up
(tables, columns, keys, indexes, CHECK constraints, triggers and functions): a downgrade that
forgets to restore an earlier check, or leaves a trigger behind, fails here. A second round trip
carries rows (a shop, accounts, an order, a payout, its money) through the SQLite table rebuilds
with foreign keys checked after every migration (migrations/env.py).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.support import T0

NOW = T0.replace(tzinfo=None)
CHAIN = [
    "0001_foundation",
    "0002_payouts",
    "0003_fast_refunds",
    "0004_channel_fencing",
    "0005_payout_controls",
    "0006_refund_consistency",
    "0007_buyer_inbox",
    "0008_order_search",
    "0009_payout_rollups",
    "0010_badge_indexes",
    "0011_server_sessions",
    "0012_signin_throttle",
    "0013_two_factor",
    "0014_funds_topup",
    "0015_reason_codes",
    "0016_order_buyer_search",
]
BALANCES_0002 = "available_fen + held_fen + paid_out_fen = topped_up_fen"




@contextmanager
def migrations(url):
    """The app (TestConfig) on `url`, inside its app context, and Alembic's config as `flask db`
    builds it. Alembic's commands are called directly so a failing migration raises its own error
    (Flask-Migrate's wrappers turn it into a bare exit status)."""
    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db

    app = create_app(TestConfig(url))
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        try:
            yield app, config
        finally:
            db.session.remove()
            db.engine.dispose()


def upgrade(url, revision="head"):
    from alembic import command

    with migrations(url) as (_, config):
        command.upgrade(config, revision)


def downgrade(url, revision):
    from alembic import command

    with migrations(url) as (_, config):
        command.downgrade(config, revision)


@contextmanager
def connect(url):
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def current(url) -> str | None:
    with connect(url) as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _sql(text) -> str:
    """A constraint or trigger text, without the spacing and parentheses that differ by path."""
    return re.sub(r"[\s()]+", "", str(text or "")).lower()


def snapshot(url) -> dict:
    """Everything about the schema a migration may change, in comparable form."""
    with connect(url) as conn:
        insp = sa.inspect(conn)
        tables = {}
        for name in sorted(insp.get_table_names()):
            if name == "alembic_version":
                continue
            tables[name] = {
                "columns": {c["name"]: (str(c["type"]).upper(), c["nullable"], _sql(c.get("default")))
                            for c in insp.get_columns(name)},
                "pk": tuple(insp.get_pk_constraint(name)["constrained_columns"]),
                "fks": sorted((fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"],
                               tuple(fk["referred_columns"])) for fk in insp.get_foreign_keys(name)),
                "uniques": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(name)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in insp.get_indexes(name)),
                "checks": {c["name"]: _sql(c["sqltext"]) for c in insp.get_check_constraints(name)},
            }
        if conn.dialect.name == "postgresql":
            triggers = sorted((n, _sql(d)) for n, d in conn.execute(sa.text(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal")))
            functions = sorted(conn.execute(sa.text(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public'")).scalars())
        else:
            triggers = sorted((n, _sql(s)) for n, s in conn.execute(sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")))
            functions = []
    return {"tables": tables, "triggers": triggers, "functions": functions}


def diff(expected: dict, got: dict) -> list[str]:
    """Readable differences between two snapshots."""
    out = []
    for key in ("triggers", "functions"):
        if expected[key] != got[key]:
            out.append(f"{key}: expected {expected[key]}, got {got[key]}")
    for table in sorted(set(expected["tables"]) | set(got["tables"])):
        e, g = expected["tables"].get(table), got["tables"].get(table)
        if e is None or g is None:
            out.append(f"table {table}: {'unexpected' if e is None else 'missing'}")
            continue
        for part in e:
            if e[part] != g[part]:
                out.append(f"{table}.{part}: expected {e[part]}, got {g[part]}")
    return out


def check_models_match(url) -> None:
    """`flask db check`: autogenerate finds nothing to do. The differences are listed first (with
    the same comparison options the CLI uses), then the real command is run."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with migrations(url) as (app, _):
        from webapp.extensions import db

        options = {k: v for k, v in app.extensions["migrate"].configure_args.items()
                   if k in ("compare_type", "compare_server_default")}
        with db.engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts=options)
            differences = compare_metadata(mc, db.metadata)
        assert differences == [], f"models and migrated schema differ: {differences}"

        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code == 0, result.output


def pg_constraint(url, name) -> str | None:
    with connect(url) as conn:
        text = conn.execute(sa.text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
                            {"n": name}).scalar()
    return text and re.sub(r"^CHECK\s*", "", text)


def check_constraint(url, table, name) -> str | None:
    with connect(url) as conn:
        found = {c["name"]: c["sqltext"] for c in sa.inspect(conn).get_check_constraints(table)}
    return found.get(name)


def test_migrations_round_trip_step_by_step_then_models_match(fresh_url):
    # Up, one revision at a time, remembering each revision's schema.
    schemas = {None: snapshot(fresh_url)}
    for revision in CHAIN:
        upgrade(fresh_url, revision)
        schemas[revision] = snapshot(fresh_url)
    assert current(fresh_url) == CHAIN[-1]

    # Down to base, one revision at a time: each step gives back the schema it had on the way up.
    for revision in reversed([None, *CHAIN[:-1]]):
        downgrade(fresh_url, revision or "base")
        assert current(fresh_url) == revision
        problems = diff(schemas[revision], snapshot(fresh_url))
        assert problems == [], f"after downgrading to {revision or 'base'}: " + "; ".join(problems)
        if revision == "0002_payouts":
            # The known gaps: 0003's downgrade must restore 0002's balance check and drop its trigger.
            text = check_constraint(fresh_url, "funds_account", "ck_funds_account_balances_add_up")
            assert _sql(text) == _sql(BALANCES_0002)
            if fresh_url.startswith("postgresql"):
                assert _sql(pg_constraint(fresh_url, "ck_funds_account_balances_add_up")) == _sql(BALANCES_0002)
            assert schemas[revision]["triggers"] == [] and schemas[revision]["functions"] == []
    assert schemas[None]["tables"] == {}

    # Up again, all at once, to the same head schema, which is the models' schema.
    upgrade(fresh_url, "head")
    assert current(fresh_url) == CHAIN[-1]
    assert diff(schemas[CHAIN[-1]], snapshot(fresh_url)) == []
    check_models_match(fresh_url)


def _insert(conn, table, **values):
    t = sa.Table(table, sa.MetaData(), autoload_with=conn)
    pk = list(t.primary_key.columns)[0]
    return conn.execute(t.insert().values(**values).returning(pk)).scalar_one()


def _seed_at_0004(url) -> dict:
    """A shop with its main and staff accounts, a buyer, an order with an after-sales case, ¥100
    topped up and a ¥5 payout pending (held), a ¥3 one paid, a message and a channel event."""
    with connect(url) as conn, conn.begin():
        shop = _insert(conn, "shop", name="星河", certified=True, setup_complete=True,
                       daily_payout_cap_fen=1_500_000, created_at=NOW - timedelta(days=30))
        accounts = {role: _insert(conn, "merchant_account", shop_id=shop, login=f"{role}-m", display_name=role,
                                  password_hash="x", role=role, active=True, session_epoch=0, created_at=NOW)
                    for role in ("main", "staff")}
        _insert(conn, "payout_quota", account_id=accounts["staff"], shop_id=shop, enabled=True,
                per_payout_fen=5_000, daily_fen=20_000, updated_at=NOW)
        buyer = _insert(conn, "buyer", login="buyer-m", display_name="张三", password_hash="x", active=True,
                        session_epoch=0, created_at=NOW)
        order = _insert(conn, "orders", order_no="6926000000000000001", shop_id=shop, buyer_id=buyer,
                        item_summary="数据线", quantity=1, paid_fen=9_900, paid_at=NOW - timedelta(hours=2),
                        status="paid")
        case = _insert(conn, "after_sales_case", shop_id=shop, order_id=order, buyer_id=buyer, kind="refund_only",
                       requested_fen=500, reason="运费争议", status="awaiting_merchant", created_at=NOW)
        _insert(conn, "funds_account", shop_id=shop, available_fen=9_200, held_fen=500, paid_out_fen=300,
                topped_up_fen=10_000, refunded_fen=0, arrears_fen=0, updated_at=NOW)

        def payout(amount, status, key):
            return _insert(conn, "payout", shop_id=shop, order_id=order, buyer_id=buyer,
                           started_by_id=accounts["staff"], amount_fen=amount, reason_code="shipping_fee", note="",
                           request_key=key, status=status, shop_day=NOW.date(), attempts=1,
                           maybe_at_channel=status != "pending", created_at=NOW, updated_at=NOW)

        pending, paid = payout(500, "pending", "k-pending"), payout(300, "succeeded", "k-paid")
        for movement, source, target, amount, payout_id in [
                ("topup", "outside", "available", 10_000, None), ("hold", "available", "held", 500, pending),
                ("hold", "available", "held", 300, paid), ("capture", "held", "paid_out", 300, paid)]:
            _insert(conn, "ledger_entry", shop_id=shop, movement=movement, from_account=source, to_account=target,
                    amount_fen=amount, payout_id=payout_id, actor_id=accounts["staff"], memo="", created_at=NOW)
        _insert(conn, "insite_message", shop_id=shop, kind="payout_failed", payout_id=pending, params="{}",
                link="/orders/6926000000000000001", created_at=NOW)
        conn.execute(sa.text("INSERT INTO channel_event (event_id, payout_id, state, received_at) "
                             "VALUES ('ev-1', :p, 'succeeded', :t)"), {"p": paid, "t": NOW})
        _insert(conn, "case_event", shop_id=shop, case_id=case, kind="created", detail="", created_at=NOW)
    return dict(shop=shop, buyer=buyer, order=order, case=case, pending=pending, paid=paid, **accounts)


def _rows(url) -> dict:
    """The seeded rows as every revision from 0002 on has them (columns common to all)."""
    with connect(url) as conn:
        q = lambda sql: sorted(tuple(r) for r in conn.execute(sa.text(sql)))  # noqa: E731
        return {
            "shop": q("SELECT id, name, daily_payout_cap_fen FROM shop"),
            "merchant_account": q("SELECT id, shop_id, login, role FROM merchant_account"),
            "payout_quota": q("SELECT account_id, shop_id, per_payout_fen, daily_fen FROM payout_quota"),
            "buyer": q("SELECT id, login FROM buyer"),
            "orders": q("SELECT id, shop_id, buyer_id, order_no, paid_fen, status FROM orders"),
            "after_sales_case": q("SELECT id, shop_id, order_id, requested_fen, status FROM after_sales_case"),
            "funds_account": q("SELECT shop_id, available_fen, held_fen, paid_out_fen, topped_up_fen FROM funds_account"),
            "payout": q("SELECT id, shop_id, order_id, buyer_id, started_by_id, amount_fen, status FROM payout"),
            "ledger_entry": q("SELECT id, shop_id, movement, amount_fen, payout_id FROM ledger_entry"),
            "insite_message": q("SELECT id, shop_id, kind, payout_id FROM insite_message"),
        }


def _foreign_keys_hold(url) -> None:
    with connect(url) as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []


def test_migrations_round_trip_keeps_rows_through_table_rebuilds(fresh_url):
    upgrade(fresh_url, "0004_channel_fencing")
    ids = _seed_at_0004(fresh_url)
    before = _rows(fresh_url)
    assert len(before["payout"]) == 2 and len(before["ledger_entry"]) == 4

    upgrade(fresh_url, "head")  # 0005 rebuilds shop, merchant_account, payout, ... on SQLite
    assert _rows(fresh_url) == before
    _foreign_keys_hold(fresh_url)

    downgrade(fresh_url, "0002_payouts")  # rebuilds them back, and funds_account, ledger_entry, cases
    assert current(fresh_url) == "0002_payouts"
    assert _rows(fresh_url) == before
    _foreign_keys_hold(fresh_url)
    with connect(fresh_url) as conn:  # the restored 0002 balance check holds the money to account
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("UPDATE funds_account SET available_fen = available_fen + 1 WHERE shop_id = :s"),
                         {"s": ids["shop"]})
        conn.rollback()
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("UPDATE ledger_entry SET movement = 'refund' WHERE payout_id = :p"),
                         {"p": ids["pending"]})
        conn.rollback()

    upgrade(fresh_url, "head")
    assert _rows(fresh_url) == before
    _foreign_keys_hold(fresh_url)
    check_models_match(fresh_url)

    downgrade(fresh_url, "base")
    assert snapshot(fresh_url)["tables"] == {}


def test_downgrade_below_0003_refuses_while_refund_money_is_recorded(fresh_url):
    """0002 has no place for refunds or arrears: rather than drop money movements, the downgrade
    of 0003 stops before changing anything and says why."""
    upgrade(fresh_url, "0003_fast_refunds")
    ids = _seed_refund_at_0003(fresh_url)
    with pytest.raises(RuntimeError, match="refund"):
        downgrade(fresh_url, "0002_payouts")
    assert current(fresh_url) == "0003_fast_refunds"
    with connect(fresh_url) as conn:
        assert conn.execute(sa.text("SELECT refunded_fen FROM funds_account WHERE shop_id = :s"),
                            {"s": ids["shop"]}).scalar() == 500
    upgrade(fresh_url, "head")
    assert current(fresh_url) == CHAIN[-1]


def _seed_refund_at_0003(url) -> dict:
    with connect(url) as conn, conn.begin():
        shop = _insert(conn, "shop", name="晨光", certified=True, setup_complete=True,
                       daily_payout_cap_fen=1_500_000, created_at=NOW)
        buyer = _insert(conn, "buyer", login="buyer-r", display_name="李四", password_hash="x", active=True,
                        session_epoch=0, created_at=NOW)
        order = _insert(conn, "orders", order_no="6926000000000000009", shop_id=shop, buyer_id=buyer,
                        item_summary="台灯", quantity=1, paid_fen=500, paid_at=NOW, status="paid")
        case = _insert(conn, "after_sales_case", shop_id=shop, order_id=order, buyer_id=buyer, kind="refund_only",
                       requested_fen=500, reason="七天无理由", status="refunded", created_at=NOW, fast=True,
                       refund_fen=500, advanced_fen=0, decided_at=NOW)
        _insert(conn, "funds_account", shop_id=shop, available_fen=500, held_fen=0, paid_out_fen=0,
                topped_up_fen=1_000, refunded_fen=500, arrears_fen=0, updated_at=NOW)
        _insert(conn, "ledger_entry", shop_id=shop, movement="topup", from_account="outside", to_account="available",
                amount_fen=1_000, memo="", created_at=NOW)
        _insert(conn, "ledger_entry", shop_id=shop, movement="refund", from_account="available", to_account="refunded",
                amount_fen=500, case_id=case, memo="", created_at=NOW)
    return dict(shop=shop, case=case)


def test_downgrade_below_the_new_revisions_maps_their_rows_to_the_old_schema(fresh_url):
    """0005-0007 with their own rows: a payout awaiting approval goes back to pending (its money
    is still held), a cancelled one to failed (its money was released), buyer messages go (0006
    and earlier have no buyer audience), shop messages stay."""
    upgrade(fresh_url, "0004_channel_fencing")
    ids = _seed_at_0004(fresh_url)
    upgrade(fresh_url, "head")
    with connect(fresh_url) as conn, conn.begin():
        def payout(status, key, **kw):
            return _insert(conn, "payout", shop_id=ids["shop"], order_id=ids["order"], buyer_id=ids["buyer"],
                           started_by_id=ids["staff"], amount_fen=200, reason_code="other", note="",
                           request_key=key, status=status, shop_day=NOW.date(), attempts=0,
                           maybe_at_channel=False, created_at=NOW, updated_at=NOW, **kw)

        waiting = payout("awaiting_approval", "k-waiting")
        cancelled = payout("cancelled", "k-cancelled", cancelled_at=NOW, cancel_reason="rejected",
                           decided_by_id=ids["main"], decided_at=NOW)
        conn.execute(sa.text("UPDATE funds_account SET available_fen = available_fen - 200, held_fen = held_fen + 200"))
        buyer_message = _insert(conn, "insite_message", buyer_id=ids["buyer"], kind="payout_received",
                                payout_id=ids["paid"], params="{}", link="/buyer/orders", created_at=NOW)
        conn.execute(sa.text("UPDATE orders SET refunded_fen = 100"))

    downgrade(fresh_url, "0004_channel_fencing")
    _foreign_keys_hold(fresh_url)
    with connect(fresh_url) as conn:
        status = dict(conn.execute(sa.text("SELECT id, status FROM payout")).all())
        assert status[waiting] == "pending" and status[cancelled] == "failed"
        assert conn.execute(sa.text("SELECT failure_reason FROM payout WHERE id = :p"), {"p": cancelled}).scalar() == "cancelled"
        messages = conn.execute(sa.text("SELECT id, shop_id FROM insite_message")).all()
        assert buyer_message not in {m for m, _ in messages} and [s for _, s in messages] == [ids["shop"]]

    upgrade(fresh_url, "head")
    check_models_match(fresh_url)

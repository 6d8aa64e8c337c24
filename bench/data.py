"""Bench databases: built by the app's own migrations (`flask db upgrade`), then filled with
set-based SQL (generate_series, INSERT ... SELECT): a million rows in well under a minute or two.

A dataset is reused when it exists at the same spec and the same schema head; otherwise it is
dropped and built again. What is in one (see SPEC_VERSION and `Dataset`):
- `shops` shops of skewed sizes; shop 1 (the measured shop) holds `hot_share` of the orders and
  every one of `hot_payouts`; the others' orders fall on a power-law over their ids;
- buyers, a main account per shop, 5 ordinary staff and 50 bench staff in the measured shop, one
  bench staff in each of shops 2..51; every bench account has a huge quota and its shop huge funds
  and a huge daily cap, so bench payouts are never refused;
- orders numbered like real ones (19 digits: yyMMdd of payment + sequence + check digits), paid
  over the past 200 days, statuses by age;
- payouts over many past days, mostly succeeded, some failed or cancelled, the last hour's still
  pending or processing; their ledger movements (hold, capture or release), the shop's in-site
  messages for the failed ones (all read but the newest 20);
- counters consistent with the rows: funds balances, shop-day and account-day usage;
- a pool of fresh orders per bench shop (order numbers 69 + shop id + sequence), never paid out
  before, which the confirm benchmarks use one per request (R2: one payout per order per minute).
Not generated (no figure reads them): audit events, after-sales cases, buyers' messages.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import asdict, dataclass

import psycopg

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SPEC_VERSION = "5"  # 5: ledger rows carry the available balance after them (migration 0014)
PASSWORD = "bench-password"
HOT_SHOP = 1
SOLO_SHOPS = range(2, 52)  # 50 shops with one bench staff each (the hotspot figure)
HOT_STAFF = 50


@dataclass(frozen=True)
class Dataset:
    name: str
    orders: int
    hot_payouts: int
    other_payouts: int
    shops: int = 200
    buyers: int = 50_000
    hot_share: float = 0.5
    pool: int = 30_000  # fresh orders for the measured shop; each solo shop gets pool // 10

    @property
    def db(self) -> str:
        return f"afterdesk_bench_{self.name}"

    @property
    def url(self) -> str:
        return f"{PG}/{self.db}"


DATASETS = {
    "small": Dataset("small", orders=200_000, hot_payouts=1_000, other_payouts=2_000, buyers=20_000),
    "large": Dataset("large", orders=1_200_000, hot_payouts=1_000_000, other_payouts=100_000),
}


def pool_prefix(shop_id: int) -> str:
    return f"69{shop_id:03d}"


def pool_order_no(shop_id: int, k: int) -> str:
    return f"{pool_prefix(shop_id)}{k:014d}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(f"{PG}/postgres", autocommit=True)


def _exists(db: str) -> bool:
    with _admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is not None


def schema_head(app_dir: str) -> str:
    """The head revision of the app's migrations folder (what `db upgrade` would reach)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(app_dir, "migrations"))
    return ",".join(sorted(ScriptDirectory.from_config(cfg).get_heads()))


def _meta(url: str) -> dict[str, str]:
    try:
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT key, value FROM bench_meta").fetchall()
            head = conn.execute("SELECT string_agg(version_num, ',' ORDER BY version_num) FROM alembic_version").fetchone()
    except psycopg.Error:
        return {}
    meta = dict(rows)
    meta["schema_head"] = head[0] if head else ""
    return meta


def _spec(ds: Dataset) -> str:
    return SPEC_VERSION + ":" + repr(sorted(asdict(ds).items()))


def ensure(ds: Dataset, app_dir: str, python: str, log=print) -> None:
    """Build the dataset's database unless it already exists at this spec and schema head."""
    head = schema_head(app_dir)
    if _exists(ds.db):
        meta = _meta(ds.url)
        if meta.get("spec") == _spec(ds) and meta.get("schema_head") == head and meta.get("complete") == "1":
            log(f"[data] {ds.db}: reused (schema {head})")
            return
        log(f"[data] {ds.db}: stale (schema {meta.get('schema_head')!r} vs {head!r}, or other spec): rebuilding")
    build(ds, app_dir, python, head, log)


def build(ds: Dataset, app_dir: str, python: str, head: str, log=print) -> None:
    t0 = time.monotonic()
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{ds.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{ds.db}"')
    env = {**os.environ, "DATABASE_URL": ds.url, "AFTERDESK_WORKER": "off", "SECRET_KEY": "bench-build",
           "PYTHONPATH": app_dir}
    subprocess.run([python, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=app_dir, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log(f"[data] {ds.db}: schema {head} migrated in {time.monotonic() - t0:.1f} s; loading rows")
    with psycopg.connect(ds.url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET work_mem = '128MB'")
        for label, sql in _steps(ds):
            t = time.monotonic()
            conn.execute(sql)
            log(f"[data]   {label}: {time.monotonic() - t:.1f} s")
        conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        conn.execute("INSERT INTO bench_meta VALUES ('spec', %s), ('complete', '1')", (_spec(ds),))
        for shop_id, size in _pool_sizes(ds).items():
            conn.execute("INSERT INTO bench_meta VALUES (%s, %s)", (f"pool:{shop_id}", str(size)))
        t = time.monotonic()
        conn.execute("VACUUM ANALYZE")
        log(f"[data]   vacuum analyze: {time.monotonic() - t:.1f} s")
    log(f"[data] {ds.db}: built in {time.monotonic() - t0:.1f} s")


def _pool_sizes(ds: Dataset) -> dict[int, int]:
    return {HOT_SHOP: ds.pool, **{s: ds.pool // 10 for s in SOLO_SHOPS}}


def _password_hash() -> str:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=3, memory_cost=65536).hash(PASSWORD)  # the app's Config parameters


CATALOG = [
    ("数据线 Type-C 1米", 990), ("手机壳 透明防摔", 1990), ("无线鼠标", 5990), ("机械键盘 87键", 29900),
    ("蓝牙耳机 降噪版", 49900), ("纯棉四件套 1.8米", 39900), ("北欧台灯", 12900), ("保温杯 500ml", 8900),
    ("空气炸锅 5L", 39900), ("扫地机器人", 129900), ("平板电脑 10英寸", 199900), ("笔记本支架", 6900),
    ("显示器 27英寸 4K", 299900), ("收纳箱 三件套", 4990), ("香薰蜡烛", 3900),
]


def _steps(ds: Dataset) -> list[tuple[str, str]]:
    pw = _password_hash().replace("'", "''")
    n = ds.orders
    hot_every = round(1 / ds.hot_share)  # every hot_every-th order id belongs to the measured shop
    n_hot = n // hot_every
    stride = max(1, n_hot // ds.hot_payouts)  # fewer payouts than orders: spread over the whole history
    names = "(ARRAY[" + ",".join("'" + name + "'" for name, _ in CATALOG) + "])"
    prices = "(ARRAY[" + ",".join(str(p) for _, p in CATALOG) + "])"
    now = "(SELECT t FROM bench_now)"
    # A deterministic fraction in [0, 1) from an integer: no random(), so every build is the same.
    frac = "((({x})::bigint * 2654435761 % 1000003) / 1000003.0)"
    shop_of = f"CASE WHEN i % {hot_every} = 0 THEN {HOT_SHOP} ELSE 2 + floor({ds.shops - 1} * power({frac.format(x='i')}, 2.5))::int END"
    pools = _pool_sizes(ds)
    pool_rows = " UNION ALL ".join(f"SELECT {s} AS shop_id, {size} AS size" for s, size in pools.items())
    committed = "('awaiting_approval', 'pending', 'processing', 'succeeded')"
    return [
        ("clock", "CREATE TABLE bench_now AS SELECT date_trunc('second', now() AT TIME ZONE 'UTC') AS t"),
        ("shops", f"""
            INSERT INTO shop (id, name, certified, setup_complete, daily_payout_cap_fen, undo_window_seconds,
                              payout_approval_fen, refund_approval_fen, created_at)
            SELECT s, CASE WHEN s = {HOT_SHOP} THEN '星河数码旗舰店(bench)' ELSE '店铺' || s END, s % 3 <> 0, true,
                   1000000000000, 30, NULL, NULL, {now} - interval '400 days'
            FROM generate_series(1, {ds.shops}) s;
            SELECT setval(pg_get_serial_sequence('shop', 'id'), {ds.shops})"""),
        ("accounts", f"""
            INSERT INTO merchant_account (shop_id, login, display_name, password_hash, role, active, session_epoch,
                                          is_approver, created_at)
            SELECT s, 'bshop' || s || '-main', '店主' || s, '{pw}', 'main', true, 0, false, {now} - interval '400 days'
            FROM generate_series(1, {ds.shops}) s
            UNION ALL
            SELECT {HOT_SHOP}, 'bshop{HOT_SHOP}-staff' || k, '客服' || k, '{pw}', 'staff', true, 0, false,
                   {now} - interval '300 days' FROM generate_series(1, 5) k
            UNION ALL
            SELECT {HOT_SHOP}, 'bench-hot-' || lpad(k::text, 2, '0'), '压测客服' || k, '{pw}', 'staff', true, 0, false,
                   {now} - interval '30 days' FROM generate_series(1, {HOT_STAFF}) k
            UNION ALL
            SELECT s, 'bench-solo-' || lpad(s::text, 3, '0'), '压测客服', '{pw}', 'staff', true, 0, false,
                   {now} - interval '30 days' FROM generate_series({SOLO_SHOPS.start}, {SOLO_SHOPS.stop - 1}) s;
            INSERT INTO payout_quota (account_id, shop_id, enabled, per_payout_fen, daily_fen, refund_enabled,
                                      per_refund_fen, refund_daily_fen, updated_at)
            SELECT id, shop_id, true, 10000000000, 1000000000000, false, NULL, NULL, {now} - interval '30 days'
            FROM merchant_account WHERE role = 'staff'"""),
        ("buyers", f"""
            INSERT INTO buyer (id, login, display_name, password_hash, active, session_epoch, created_at)
            SELECT b, 'bbuyer' || b, '买家' || b, '{pw}', true, 0, {now} - interval '300 days'
            FROM generate_series(1, {ds.buyers}) b;
            SELECT setval(pg_get_serial_sequence('buyer', 'id'), {ds.buyers})"""),
        (f"orders ({n:,})", f"""
            INSERT INTO orders (id, order_no, shop_id, buyer_id, item_summary, quantity, paid_fen, paid_at, status,
                                refunded_fen)
            SELECT i, to_char(paid_at, 'YYMMDD') || lpad(i::text, 9, '0') || lpad((i::bigint * 7919 % 10000)::text, 4, '0'),
                   shop_id, 1 + (i::bigint * 48271) % {ds.buyers}, {names}[1 + i % 15], 1, {prices}[1 + i % 15], paid_at,
                   CASE WHEN i % 33 = 0 THEN 'closed'
                        WHEN age > interval '8 days' THEN 'completed' WHEN age > interval '4 days' THEN 'delivered'
                        WHEN age > interval '36 hours' THEN 'shipped' ELSE 'paid' END, 0
            FROM (SELECT i, {shop_of} AS shop_id,
                         {now} - interval '200 days' * (1 - i::float8 / {n}) - interval '1 minute' * (i % 50) AS paid_at,
                         interval '200 days' * (1 - i::float8 / {n}) + interval '1 minute' * (i % 50) AS age
                  FROM generate_series(1, {n}) i) g"""),
        ("pool orders", f"""
            INSERT INTO orders (id, order_no, shop_id, buyer_id, item_summary, quantity, paid_fen, paid_at, status,
                                refunded_fen)
            SELECT {n} + row_number() OVER (ORDER BY p.shop_id, k),
                   '69' || lpad(p.shop_id::text, 3, '0') || lpad(k::text, 14, '0'), p.shop_id,
                   1 + (k::bigint * 48271) % {ds.buyers}, {names}[1 + k % 15], 1, {prices}[1 + k % 15] + 100000,
                   {now} - interval '2 days', 'delivered', 0
            FROM ({pool_rows}) p, generate_series(1, p.size) k;
            SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))"""),
        (f"payouts ({ds.hot_payouts + ds.other_payouts:,})", f"""
            CREATE TEMP TABLE starters AS
              SELECT shop_id, array_agg(id ORDER BY id) AS ids FROM merchant_account GROUP BY shop_id;
            INSERT INTO payout (id, shop_id, order_id, buyer_id, started_by_id, amount_fen, reason_code, note,
                                request_key, status, shop_day, failure_reason, channel_ref, attempts, maybe_at_channel,
                                channel_not_after, next_attempt_at, lease_until, created_at, processing_at,
                                succeeded_at, failed_at, cancelled_at, cancel_reason, updated_at)
            SELECT j, o.shop_id, o.id, o.buyer_id, st.ids[1 + j % array_length(st.ids, 1)],
                   LEAST(o.paid_fen / 3, 100 + (j * 37) % 4900),
                   (ARRAY['shipping_fee', 'price_difference', 'compensation', 'other'])[1 + j % 4],
                   CASE WHEN j % 5 = 0 THEN '运费补偿，感谢支持' ELSE '' END,
                   md5(j::text), pst,
                   ((pat AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai')::date,
                   CASE WHEN pst = 'failed' THEN
                     (ARRAY['buyer_wallet_frozen', 'rejected_by_channel', 'failed_at_channel'])[1 + j % 3] END,
                   CASE WHEN pst IN ('succeeded', 'failed') THEN 'sim-' || j END,
                   CASE WHEN pst IN ('pending', 'cancelled') THEN 0 ELSE 1 END,
                   pst IN ('succeeded', 'failed', 'processing'),
                   CASE WHEN pst IN ('succeeded', 'failed', 'processing') THEN pat + interval '50 seconds' END,
                   CASE WHEN pst = 'pending' THEN pat + interval '30 seconds'
                        WHEN pst = 'processing' THEN pat + interval '2 minutes' END,
                   NULL, pat,
                   CASE WHEN pst IN ('succeeded', 'failed', 'processing') THEN pat + interval '30 seconds' END,
                   CASE WHEN pst = 'succeeded' THEN pat + interval '40 seconds' END,
                   CASE WHEN pst = 'failed' THEN pat + interval '40 seconds' END,
                   CASE WHEN pst = 'cancelled' THEN pat + interval '10 seconds' END,
                   CASE WHEN pst = 'cancelled' THEN 'withdrawn' END,
                   pat + interval '40 seconds'
            FROM (
              SELECT j, order_id, created_at AS pat,
                     CASE WHEN created_at > {now} - interval '1 hour' THEN
                            (CASE WHEN j % 4 = 0 THEN 'processing' ELSE 'pending' END)
                          WHEN j % 100 < 90 THEN 'succeeded' WHEN j % 100 < 96 THEN 'failed' ELSE 'cancelled' END AS pst
              FROM (
                SELECT j, order_id,
                       LEAST(o.paid_at + interval '1 day' * (1 + pass) + interval '1 second' * (j * 7 % 36000),
                             {now} - interval '1 second' * (j % 7200)) AS created_at
                FROM (
                  SELECT j, {hot_every} * (1 + ((j - 1) * {stride}) % {n_hot}) AS order_id,
                         ((j - 1) * {stride}) / {n_hot} AS pass
                  FROM generate_series(1, {ds.hot_payouts}) j
                  UNION ALL
                  SELECT {ds.hot_payouts} + j, oid, 0
                  FROM (SELECT row_number() OVER (ORDER BY id) AS j, id AS oid FROM orders
                        WHERE shop_id <> {HOT_SHOP} AND id <= {n} ORDER BY id LIMIT {ds.other_payouts}) other
                ) jo JOIN orders o ON o.id = jo.order_id
              ) c
            ) p JOIN orders o ON o.id = p.order_id JOIN starters st ON st.shop_id = o.shop_id;
            SELECT setval(pg_get_serial_sequence('payout', 'id'), (SELECT max(id) FROM payout))"""),
        ("payout rollups", """
            INSERT INTO payout_day_total (shop_id, day, started_by_id, status, payout_count, amount_fen)
            SELECT shop_id, shop_day, started_by_id, status, COUNT(*), SUM(amount_fen)
            FROM payout GROUP BY shop_id, shop_day, started_by_id, status"""),
        ("ledger", f"""
            INSERT INTO ledger_entry (shop_id, movement, from_account, to_account, amount_fen, payout_id, case_id,
                                      actor_id, memo, created_at, available_after_fen)
            SELECT shop_id, movement, from_account, to_account, amount_fen, payout_id, case_id, actor_id, memo, created_at,
                   SUM(CASE WHEN to_account = 'available' THEN amount_fen
                            WHEN from_account = 'available' THEN -amount_fen ELSE 0 END)
                     OVER (PARTITION BY shop_id ORDER BY created_at, step, payout_id ROWS UNBOUNDED PRECEDING)
            FROM (
              SELECT s AS shop_id, 'topup' AS movement, 'outside' AS from_account, 'available' AS to_account,
                     100000000000000 AS amount_fen, NULL::int AS payout_id, NULL::int AS case_id, NULL::int AS actor_id,
                     'bench top-up' AS memo, {now} - interval '300 days' AS created_at, 0 AS step
              FROM generate_series(1, {ds.shops}) s
              UNION ALL
              SELECT shop_id, 'hold', 'available', 'held', amount_fen, id, NULL::int, started_by_id, '', created_at, 1
              FROM payout
              UNION ALL
              SELECT shop_id, 'capture', 'held', 'paid_out', amount_fen, id, NULL::int, NULL::int, '', succeeded_at, 2
              FROM payout WHERE status = 'succeeded'
              UNION ALL
              SELECT shop_id, 'release', 'held', 'available', amount_fen, id, NULL::int, NULL::int, '',
                     COALESCE(failed_at, cancelled_at), 2 FROM payout WHERE status IN ('failed', 'cancelled')
            ) m
            -- ids in the order the money moved, as ledger.post writes them (the running balance chains)
            ORDER BY created_at, step, payout_id"""),
        ("funds and counters", f"""
            INSERT INTO funds_account (shop_id, available_fen, held_fen, paid_out_fen, topped_up_fen, refunded_fen,
                                       arrears_fen, updated_at)
            SELECT s.id, 100000000000000 - COALESCE(t.held, 0) - COALESCE(t.paid, 0), COALESCE(t.held, 0),
                   COALESCE(t.paid, 0), 100000000000000, 0, 0, {now}
            FROM shop s LEFT JOIN (
              SELECT shop_id,
                     SUM(amount_fen) FILTER (WHERE status IN ('awaiting_approval', 'pending', 'processing')) AS held,
                     SUM(amount_fen) FILTER (WHERE status = 'succeeded') AS paid
              FROM payout GROUP BY shop_id) t ON t.shop_id = s.id;
            INSERT INTO shop_day_usage (shop_id, day, committed_fen)
            SELECT shop_id, shop_day, SUM(amount_fen) FROM payout WHERE status IN {committed} GROUP BY 1, 2;
            INSERT INTO account_day_usage (account_id, day, shop_id, committed_fen, refunded_fen)
            SELECT p.started_by_id, p.shop_day, p.shop_id, SUM(p.amount_fen), 0
            FROM payout p JOIN merchant_account a ON a.id = p.started_by_id
            WHERE a.role = 'staff' AND p.status IN {committed} GROUP BY 1, 2, 3"""),
        ("in-site messages", """
            INSERT INTO insite_message (shop_id, buyer_id, kind, payout_id, case_id, params, link, read_at, created_at)
            SELECT p.shop_id, NULL::int, 'payout_failed', p.id, NULL::int,
                   json_build_object('order_no', o.order_no, 'amount_fen', p.amount_fen,
                                     'reason', p.failure_reason)::text, '',
                   CASE WHEN row_number() OVER (PARTITION BY p.shop_id ORDER BY p.failed_at DESC) > 20
                        THEN p.failed_at + interval '1 hour' END,
                   p.failed_at
            FROM payout p JOIN orders o ON o.id = p.order_id WHERE p.status = 'failed' ORDER BY p.failed_at"""),
    ]


def add_pool(url: str, shop_id: int, more: int) -> int:
    """More fresh orders for a bench shop (after many runs used the pool up). Returns the new size."""
    with psycopg.connect(url, autocommit=True) as conn:
        size = int(conn.execute("SELECT value FROM bench_meta WHERE key = %s", (f"pool:{shop_id}",)).fetchone()[0])
        conn.execute(f"""
            INSERT INTO orders (order_no, shop_id, buyer_id, item_summary, quantity, paid_fen, paid_at, status, refunded_fen)
            SELECT '69' || lpad(%(s)s::text, 3, '0') || lpad(k::text, 14, '0'), %(s)s, 1 + (k::bigint * 48271) %% 1000,
                   '压测订单', 1, 101990, (now() AT TIME ZONE 'UTC') - interval '2 days', 'delivered', 0
            FROM generate_series({size + 1}, {size + more}) k""", {"s": shop_id})
        conn.execute("UPDATE bench_meta SET value = %s WHERE key = %s", (str(size + more), f"pool:{shop_id}"))
        conn.execute("ANALYZE orders")
    return size + more


def pool_next(url: str, shop_id: int) -> tuple[int, int]:
    """(first unused pool index, pool size) for a bench shop: past the highest pool order paid out."""
    prefix = pool_prefix(shop_id)
    with psycopg.connect(url) as conn:
        size = int(conn.execute("SELECT value FROM bench_meta WHERE key = %s", (f"pool:{shop_id}",)).fetchone()[0])
        top = conn.execute(
            "SELECT max(o.order_no) FROM payout p JOIN orders o ON o.id = p.order_id "
            "WHERE p.shop_id = %s AND p.created_at > (now() AT TIME ZONE 'UTC') - interval '2 days' "
            "AND p.request_key LIKE 'beecbeec%%'", (shop_id,)).fetchone()[0]
    used = int(top[len(prefix):]) if top and top.startswith(prefix) else 0
    return used + 1, size


PGBENCH_BLOCK = 20_000


def pgbench_block(url: str) -> tuple[int, int]:
    """The measured shop's orders for pgbench (order numbers 69001 + 10^13 + k, k = 1..PGBENCH_BLOCK),
    made once with contiguous ids, buyer 40001 + k % 1000. Returns (id of k = 1, block size)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT value FROM bench_meta WHERE key = 'pgbench_base'").fetchone()
        if row:
            return int(row[0]), PGBENCH_BLOCK
        with conn.transaction():
            conn.execute("LOCK TABLE orders IN EXCLUSIVE MODE")
            base = conn.execute("SELECT max(id) + 1 FROM orders").fetchone()[0]
            conn.execute(f"""
                INSERT INTO orders (id, order_no, shop_id, buyer_id, item_summary, quantity, paid_fen, paid_at, status,
                                    refunded_fen)
                SELECT {base} + k - 1, '69001' || lpad((10000000000000 + k)::text, 14, '0'), {HOT_SHOP}, 40001 + k % 1000,
                       '压测订单 pgbench', 1, 10000000, (now() AT TIME ZONE 'UTC') - interval '2 days', 'delivered', 0
                FROM generate_series(1, {PGBENCH_BLOCK}) k""")
            conn.execute("SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))")
            conn.execute("INSERT INTO bench_meta VALUES ('pgbench_base', %s)", (str(base),))
        conn.execute("ANALYZE orders")
    return base, PGBENCH_BLOCK


def repair_counters(url: str, shop_id: int = HOT_SHOP) -> None:
    """pgbench replays the confirm's UPDATEs with the literal balances it captured: put the shop's
    cached balances and today's usage counters back in line with its payout rows."""
    committed = "('awaiting_approval', 'pending', 'processing', 'succeeded')"
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("""
            UPDATE funds_account f SET held_fen = t.held, paid_out_fen = t.paid,
                   available_fen = f.topped_up_fen + f.arrears_fen - f.refunded_fen - t.held - t.paid
            FROM (SELECT COALESCE(SUM(amount_fen) FILTER (WHERE status IN ('awaiting_approval', 'pending', 'processing')), 0)
                         AS held,
                         COALESCE(SUM(amount_fen) FILTER (WHERE status = 'succeeded'), 0) AS paid
                  FROM payout WHERE shop_id = %(s)s) t
            WHERE f.shop_id = %(s)s""", {"s": shop_id})
        conn.execute(f"""
            UPDATE shop_day_usage u SET committed_fen = t.c
            FROM (SELECT shop_day, SUM(amount_fen) AS c FROM payout
                  WHERE shop_id = %(s)s AND status IN {committed} AND shop_day >= CURRENT_DATE - 2 GROUP BY shop_day) t
            WHERE u.shop_id = %(s)s AND u.day = t.shop_day""", {"s": shop_id})
        conn.execute(f"""
            UPDATE account_day_usage u SET committed_fen = t.c
            FROM (SELECT started_by_id, shop_day, SUM(amount_fen) AS c FROM payout
                  WHERE shop_id = %(s)s AND status IN {committed} AND shop_day >= CURRENT_DATE - 2
                  GROUP BY started_by_id, shop_day) t
            WHERE u.account_id = t.started_by_id AND u.day = t.shop_day""", {"s": shop_id})

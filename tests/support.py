"""Shared test plumbing, the one set of helpers: backends, migrations, factories, sign-in helpers,
payout set-ups and money checks, the worker and the channel, thread races."""
from __future__ import annotations

import itertools
import os
import re
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("AFTERDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "Correct-Horse-42"
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai

both_backends = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("pg", marks=pytest.mark.pg)], indirect=True
)


def unavailable(what: str, why: str):
    """Skip locally; fail loudly in CI, where every suite must run."""
    message = f"{what} is not available: {why}"
    if CI:
        pytest.fail(message + " (CI=true: this suite must run, not skip)", pytrace=False)
    pytest.skip(message)


def create_pg_database() -> tuple[str, callable]:
    """A fresh PostgreSQL database for this test run; returns its URL and a drop function."""
    name = f"afterdesk_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        unavailable("PostgreSQL at " + PG_ADMIN_URL, str(exc).splitlines()[0])
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def migrate(url: str) -> None:
    """Build the schema exactly as production does: `flask db upgrade`."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.config import TestConfig

    app = create_app(TestConfig(url))
    with app.app_context():
        upgrade()
        from webapp.extensions import db

        db.engine.dispose()


def wipe(db) -> None:
    """Empty every table (children first) between tests."""
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for t in tables:
            db.session.execute(t.delete())
    db.session.commit()


_seq = itertools.count(1)


class Factory:
    """Builds rows with sensible defaults; every call commits."""

    def __init__(self, db, now: datetime):
        self.db = db
        self.now = now
        self._hash = None

    def _pw(self) -> str:
        from webapp.services.passwords import hash_password

        if self._hash is None:
            self._hash = hash_password(PASSWORD)
        return self._hash

    def _save(self, obj):
        """One write transaction per row (BEGIN IMMEDIATE on SQLite). A plain commit would upgrade
        the read snapshot opened by reading e.g. `shop.id`, and on a live server's SQLite file the
        worker thread commits its heartbeat every 0.2 s: the upgrade of a stale snapshot fails at
        once with "database is locked" (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out)."""
        from webapp.db import write_transaction

        with write_transaction(self.db.session):
            self.db.session.add(obj)
        return obj

    def shop(self, **kw):
        from webapp.models import Shop

        n = next(_seq)
        kw.setdefault("name", f"Shop {n}")
        kw.setdefault("certified", True)
        kw.setdefault("setup_complete", True)
        kw.setdefault("created_at", self.now - timedelta(days=30))
        kw.setdefault("undo_window_seconds", 0)  # tests about the R21 undo window set their own
        return self._save(Shop(**kw))

    def account(self, shop, role="staff", **kw):
        from webapp.models import MerchantAccount

        n = next(_seq)
        kw.setdefault("login", f"{role}{n}")
        kw.setdefault("display_name", f"{role.title()} {n}")
        kw.setdefault("created_at", self.now - timedelta(days=30))
        return self._save(MerchantAccount(shop_id=shop.id, role=role, password_hash=self._pw(), **kw))

    def buyer(self, **kw):
        from webapp.models import Buyer

        n = next(_seq)
        kw.setdefault("login", f"buyer{n}")
        kw.setdefault("display_name", f"Buyer {n}")
        kw.setdefault("created_at", self.now - timedelta(days=30))
        return self._save(Buyer(password_hash=self._pw(), **kw))

    def order(self, shop, buyer, **kw):
        from webapp.models import Order

        n = next(_seq)
        kw.setdefault("order_no", f"69{n:017d}")
        kw.setdefault("item_summary", f"Item {n}")
        kw.setdefault("quantity", 1)
        kw.setdefault("paid_fen", 10_000)
        kw.setdefault("paid_at", self.now - timedelta(hours=1))
        kw.setdefault("status", "paid")
        kw.setdefault("buyer_name", buyer.display_name)
        return self._save(Order(shop_id=shop.id, buyer_id=buyer.id, **kw))

    def quota(self, account, per_payout_fen, daily_fen, enabled=True, refunds=None):
        """R7 payout limits; `refunds=(per_refund_fen, daily_fen)` also lets it decide refunds (R22)."""
        from webapp.models import PayoutQuota

        per_refund, refund_daily = refunds or (None, None)
        return self._save(PayoutQuota(account_id=account.id, shop_id=account.shop_id, enabled=enabled,
                                      per_payout_fen=per_payout_fen, daily_fen=daily_fen, updated_at=self.now,
                                      refund_enabled=refunds is not None, per_refund_fen=per_refund,
                                      refund_daily_fen=refund_daily))

    def funds(self, shop, fen):
        from webapp.services import ledger

        return ledger.topup(self.db.session, shop.id, fen, self.now)

    def case(self, order, **kw):
        from webapp.models import AfterSalesCase

        kw.setdefault("kind", "refund_only")
        kw.setdefault("requested_fen", min(order.paid_fen, 500))
        kw.setdefault("reason", "shipping_dispute")  # a CaseReason code (运费争议)
        kw.setdefault("status", "awaiting_merchant")
        kw.setdefault("created_at", self.now)
        kw.setdefault("buyer_id", order.buyer_id)
        return self._save(AfterSalesCase(shop_id=order.shop_id, order_id=order.id, **kw))


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1) or m.group(2)


def login(client, account, *, password: str = PASSWORD, next_url: str | None = None):
    """Sign in through the real form (CSRF included)."""
    from webapp.models import Buyer

    path = "/buyer/login" if isinstance(account, Buyer) else "/login"
    token = csrf_from(client.get(path).get_data(as_text=True))
    data = {"login": account.login, "password": password, "csrf_token": token}
    if next_url:
        data["next"] = next_url
    return client.post(path, data=data)


def page_token(client, path: str = "/") -> str:
    """A CSRF token for the current session (from the hx-headers on <body>)."""
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    m = re.search(r'X-CSRFToken&#34;: &#34;([^&]+)&#34;|"X-CSRFToken": "([^"]+)"', html)
    if m:
        return m.group(1) or m.group(2)
    return csrf_from(html)


def payout_world(make, db, *, paid_fen=10_000, funds_fen=1_000_000, quota=(5_000, 20_000), cap_fen=None,
                 refund_quota=None, buyer_login=None):
    """A shop with funds, a main and a staff account (with quota unless `quota=None`), a buyer and
    an order. `w.shop_id` is a plain value, for tests that drop the session as a dead worker would."""
    class W:
        pass

    w = W()
    w.shop = make.shop(**({"daily_payout_cap_fen": cap_fen} if cap_fen else {}))
    w.shop_id = w.shop.id
    w.main = make.account(w.shop, role="main")
    w.staff = make.account(w.shop, role="staff")
    w.buyer = make.buyer(**({"login": buyer_login} if buyer_login else {}))
    w.order = make.order(w.shop, w.buyer, paid_fen=paid_fen)
    if quota:
        make.quota(w.staff, *quota, refunds=refund_quota)
    if funds_fen:
        make.funds(w.shop, funds_fen)
    return w


def intent(order, amount_fen, key=None, reason="shipping_fee", note=""):
    from webapp.services.payouts import PayoutIntent

    return PayoutIntent(order.order_no, amount_fen, reason, note, key or uuid.uuid4().hex)


def new_payout(db, actor, order, clock, amount_fen=1_234, key=None) -> int:
    """Create a payout through the service (a fresh request key), commit, and return its id."""
    from webapp.services import payouts as svc

    created = svc.create_payout(db.session, actor, intent(order, amount_fen, key=key or f"k-{order.order_no}-{amount_fen}"),
                                clock.now())
    assert not created.replayed
    pid = created.payout.id  # read before the commit: afterwards it would open a new read transaction
    db.session.commit()
    return pid


def fresh(db, pid):
    """The payout as committed now (any read snapshot of this session ends first)."""
    from webapp.models import Payout

    db.session.commit()
    return db.session.get(Payout, pid, populate_existing=True)


# --- literal truth tables for the state machines -------------------------------------------------

def assert_truth_table_covers_every_pair(truth: dict, status_enum) -> None:
    """A literal (from, to) -> allowed table names every pair of statuses once: a new status must be
    written into it by hand."""
    statuses = {s.value for s in status_enum}
    assert {a for a, _ in truth} == statuses and {b for _, b in truth} == statuses
    assert len(truth) == len(statuses) ** 2


def assert_transition(table: dict, status_enum, current: str, target: str, allowed: bool) -> None:
    """One cell of a literal truth table: check_transition accepts `current -> target` iff `allowed`."""
    from webapp.domain.states import IllegalTransition, check_transition

    if allowed:
        check_transition(table, status_enum(current), status_enum(target))
    else:
        with pytest.raises(IllegalTransition):
            check_transition(table, status_enum(current), status_enum(target))


# --- the worker and the embedded channel ------------------------------------------------------------

def channel(app):
    return app.extensions["afterdesk.channel"]


def transfers_of(app, pid) -> list[dict]:
    return [t for t in channel(app).transfers() if t["payout_id"] == pid]


def shop_messages_of(db, pid) -> int:
    """How many in-site messages the shop (not the buyer) got about this payout."""
    from sqlalchemy import func, select

    from webapp.models import InSiteMessage

    return db.session.scalar(select(func.count()).select_from(InSiteMessage).where(
        InSiteMessage.payout_id == pid, InSiteMessage.shop_id.is_not(None)))


def lease(app) -> timedelta:
    return timedelta(seconds=app.config["PAYOUT_CLAIM_LEASE_SECONDS"])


def run_until_final(db, clock, pid, *, step_seconds=1, max_rounds=200):
    """A healthy worker, one round per `step_seconds` of the clock, until the payout is final."""
    from webapp import worker

    for _ in range(max_rounds):
        worker.run_once(clock.now())
        p = fresh(db, pid)
        if p.status in ("succeeded", "failed"):
            return p
        clock.advance(seconds=step_seconds)
    raise AssertionError(f"payout {pid} still {fresh(db, pid).status} after {max_rounds} rounds")


# --- money checks ---------------------------------------------------------------------------------

def assert_money_invariants(db, shop_id):
    """Ledger legs and cached balances agree; available + held + paid out + refunded == topped up +
    arrears; nothing negative; held and paid out match the payouts' statuses; the shop-day and the
    account-day counters match the payouts that still count (not failed, not cancelled)."""
    from sqlalchemy import func, select

    from webapp.models import AccountDayUsage, FundsAccount, Payout, ShopDayUsage
    from webapp.services.ledger import derived_balances

    db.session.commit()
    funds = db.session.get(FundsAccount, shop_id, populate_existing=True)
    derived = derived_balances(db.session, shop_id)
    assert (funds.available_fen, funds.held_fen, funds.paid_out_fen) == (derived.available_fen, derived.held_fen, derived.paid_out_fen)
    assert funds.topped_up_fen == derived.topped_up_fen
    assert (funds.refunded_fen, funds.arrears_fen) == (derived.refunded_fen, derived.arrears_fen)
    assert funds.available_fen + funds.held_fen + funds.paid_out_fen + funds.refunded_fen == funds.topped_up_fen + funds.arrears_fen
    assert min(funds.available_fen, funds.held_fen, funds.paid_out_fen, funds.refunded_fen, funds.arrears_fen) >= 0

    def total(*statuses):
        return db.session.scalar(select(func.coalesce(func.sum(Payout.amount_fen), 0)).where(
            Payout.shop_id == shop_id, Payout.status.in_(statuses)))

    assert funds.held_fen == total("awaiting_approval", "pending", "processing")
    assert funds.paid_out_fen == total("succeeded")
    counting = Payout.status.not_in(("failed", "cancelled"))
    for usage in db.session.scalars(select(ShopDayUsage).where(ShopDayUsage.shop_id == shop_id)).all():
        committed = db.session.scalar(select(func.coalesce(func.sum(Payout.amount_fen), 0)).where(
            Payout.shop_id == shop_id, Payout.shop_day == usage.day, counting))
        assert usage.committed_fen == committed, f"shop-day counter of {usage.day}"
    for usage in db.session.scalars(select(AccountDayUsage).where(AccountDayUsage.shop_id == shop_id)).all():
        committed = db.session.scalar(select(func.coalesce(func.sum(Payout.amount_fen), 0)).where(
            Payout.started_by_id == usage.account_id, Payout.shop_day == usage.day, counting))
        assert usage.committed_fen == committed, f"account-day counter of {usage.account_id} on {usage.day}"


def assert_money_where_status_says(app, db, pid):
    """One payout: its ledger movements, the channel's record and the shop's in-site message agree
    with its status (held while live, captured once paid, released once failed)."""
    from sqlalchemy import select

    from webapp.channel import TransferState
    from webapp.models import LedgerEntry

    p = fresh(db, pid)
    moves = sorted(db.session.scalars(select(LedgerEntry.movement).where(LedgerEntry.payout_id == pid)))
    amounts = set(db.session.scalars(select(LedgerEntry.amount_fen).where(LedgerEntry.payout_id == pid)))
    assert amounts == {p.amount_fen}
    transfers = transfers_of(app, pid)
    assert len(transfers) <= 1  # the channel never holds two transfers for one id
    paying = [t for t in transfers if t["state"] != TransferState.FAILED]  # processing or succeeded: money moves
    if p.status == "succeeded":
        assert moves == ["capture", "hold"]
        assert len(paying) == 1 and paying[0]["amount_fen"] == p.amount_fen, "succeeded, but the channel did not pay it"
        assert shop_messages_of(db, pid) == 0
    elif p.status == "failed":
        assert moves == ["hold", "release"]
        assert not paying, f"payout {pid} is failed and its money released, but the channel pays it: {paying}"
        assert shop_messages_of(db, pid) == 1
    else:
        assert moves == ["hold"]
        assert shop_messages_of(db, pid) == 0


# --- races with real threads ----------------------------------------------------------------------

def race(app, n: int, fn):
    """Run fn(i) in n threads released together, each with its own app context, session and
    connection; returns [(ok, value_or_exception)]."""
    import threading

    from webapp.extensions import db

    db.session.commit()  # the test's own snapshot ends before the race and again after it
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results[i] = (True, fn(i))
            except Exception as exc:  # noqa: BLE001 - collected and asserted on below
                results[i] = (False, exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(not t.is_alive() for t in threads), "a racing thread hung"
    db.session.commit()
    return results


def account(app, account_id):
    """The merchant account, loaded in the calling thread's own session."""
    from webapp.extensions import db
    from webapp.models import MerchantAccount

    return db.session.get(MerchantAccount, account_id)


@contextmanager
def flushed_redis(url: str, **options):
    """A client of the test Redis database at `url`, emptied before and after; a missing Redis
    skips locally and fails with CI=true."""
    import redis

    client = redis.Redis.from_url(url, **options)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable("Redis at " + url, str(exc))
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()

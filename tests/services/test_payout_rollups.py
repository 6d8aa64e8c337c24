"""R5 totals from the per-day rollups (payout_day_total), on SQLite and PostgreSQL.

The rollups are kept by the services in the payout's own transaction (deltas recorded by
create and move(), applied sorted at commit), so after every step of any sequence of creates,
approvals, rejections, withdrawals, worker rounds and settlements, the totals read from them equal
the totals counted on the payout table, for every filter. A rolled-back transaction leaves them
unchanged; the migration fills them from the payouts already there; and without an order-number
filter the records page's totals are one query on the rollup table, none on the payout table.
"""
from __future__ import annotations

import itertools
import re
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import event, func, select

from tests.services.test_migrations import _insert, _seed_at_0004, connect, downgrade, upgrade
from tests.support import T0, Factory, both_backends, intent, payout_world, wipe
from webapp import worker
from webapp.db import write_transaction
from webapp.domain.calendar import day_bounds, shop_day
from webapp.domain.states import PayoutStatus
from webapp.models import MerchantAccount, Payout, PayoutQuota
from webapp.models.rollups import PayoutDayTotal
from webapp.services import audit
from webapp.services import payout_reports as reports
from webapp.services import payouts as svc
from webapp.services import rollups
from webapp.services.payout_reports import RecordFilter
from webapp.services.payouts import PayoutIntent

STATUSES = ("awaiting_approval", "pending", "processing", "succeeded", "failed", "cancelled")


# --- helpers ----------------------------------------------------------------------------------------

def rollup_rows(session, shop_id=None) -> dict:
    """(shop, day, starter, status) -> (count, fen), rows at zero left out (they stand for nothing)."""
    stmt = select(PayoutDayTotal).execution_options(populate_existing=True)
    if shop_id is not None:
        stmt = stmt.where(PayoutDayTotal.shop_id == shop_id)
    return {(r.shop_id, r.day, r.started_by_id, r.status): (r.payout_count, r.amount_fen)
            for r in session.scalars(stmt) if r.payout_count or r.amount_fen}


def grouped_payouts(session, shop_id=None) -> dict:
    """The same, counted on the payout table."""
    stmt = select(Payout.shop_id, Payout.shop_day, Payout.started_by_id, Payout.status, func.count(),
                  func.sum(Payout.amount_fen)).group_by(Payout.shop_id, Payout.shop_day, Payout.started_by_id, Payout.status)
    if shop_id is not None:
        stmt = stmt.where(Payout.shop_id == shop_id)
    return {(s, d, a, st_): (int(n), int(fen)) for s, d, a, st_, n, fen in session.execute(stmt)}


def filters_for(session, shop_id) -> list[RecordFilter]:
    """No filter, each status, each starter, days (one, a range, open-ended, an empty one) and mixes."""
    days = sorted(set(session.scalars(select(Payout.shop_day).where(Payout.shop_id == shop_id))))
    staff = list(session.scalars(select(MerchantAccount.id).where(MerchantAccount.shop_id == shop_id)))
    out = [RecordFilter()]
    out += [RecordFilter(status=s) for s in STATUSES]
    out += [RecordFilter(staff_id=a) for a in staff]
    for d in days[:3] + days[-2:]:
        out += [RecordFilter(date_from=d, date_to=d), RecordFilter(date_from=d), RecordFilter(date_to=d)]
    if days:
        out += [RecordFilter(date_from=days[0] - timedelta(days=3), date_to=days[0] - timedelta(days=1)),  # nothing
                RecordFilter(date_from=days[0], date_to=days[-1], status="pending"),
                RecordFilter(date_from=days[-1], staff_id=staff[-1], status="succeeded")]
    out += [RecordFilter(status=s, staff_id=a) for s, a in itertools.product(("pending", "failed", "cancelled"), staff)]
    return out


def assert_rollups_match(session, shop_id):
    session.commit()  # end any read snapshot: compare what is committed now
    assert rollups.pending_rollup_deltas(session) == {}
    assert rollup_rows(session, shop_id) == grouped_payouts(session, shop_id)
    for f in filters_for(session, shop_id):
        assert reports.totals(session, shop_id, f) == reports.direct_totals(session, shop_id, f), f


# --- (a) random sequences: rollup totals == direct totals after every step ---------------------------

class RollupMachine(RuleBasedStateMachine):
    """Creates (some waiting for approval), approvals, rejections, withdrawals, worker rounds (the
    simulated channel pays, or fails a frozen wallet), direct settlements, requeues, failing
    transactions and time passing across Shanghai midnight."""

    def __init__(self, app, db, clock):
        super().__init__()
        self.app, self.db, self.clock = app, db, clock
        self.channel = app.extensions["afterdesk.channel"]
        self.lease = timedelta(seconds=app.config["PAYOUT_CLAIM_LEASE_SECONDS"])
        self.ttl = timedelta(seconds=app.config["CHANNEL_REQUEST_TTL_SECONDS"])
        db.session.rollback()
        wipe(db)
        clock.set(T0)
        self.channel.outage = False
        self.channel.frozen_buyers = {"frozen-buyer"}
        self.channel.transient_rate = 0.0

        make = Factory(db, T0)
        shop = make.shop(daily_payout_cap_fen=10_000_000, payout_approval_fen=3_000)  # staff from ¥30 wait (R20)
        self.shop_id = shop.id
        self.accounts = {"main": make.account(shop, role="main").id,
                         "staff": make.account(shop, role="staff").id,
                         "approver": make.account(shop, role="staff", is_approver=True).id}
        for who in ("staff", "approver"):
            db.session.add(PayoutQuota(account_id=self.accounts[who], shop_id=shop.id, enabled=True,
                                       per_payout_fen=8_000, daily_fen=1_000_000, updated_at=T0))
        db.session.commit()
        buyers = [make.buyer(), make.buyer(login="frozen-buyer")]
        self.orders = [make.order(shop, buyers[i % 2], paid_fen=100_000).order_no for i in range(8)]
        make.funds(shop, 10_000_000)
        self.ids: list[int] = []

    @property
    def session(self):
        return self.db.session

    @property
    def now(self):
        return self.clock.now()

    def actor(self, who):
        return self.session.get(MerchantAccount, self.accounts[who], populate_existing=True)

    def with_status(self, *statuses) -> list[int]:
        self.session.commit()
        return list(self.session.scalars(select(Payout.id).where(Payout.shop_id == self.shop_id,
                                                                  Payout.status.in_(statuses)).order_by(Payout.id)))

    @rule(order=st.integers(0, 7), amount=st.sampled_from([1, 99, 500, 2_999, 3_000, 4_500, 8_000]),
          who=st.sampled_from(["main", "staff", "staff", "approver"]))
    def create(self, order, amount, who):
        self.clock.advance(minutes=1)  # R2.2: one payout a minute per order
        try:
            it = PayoutIntent(self.orders[order], amount, "other", "", uuid.uuid4().hex)
            svc.create_payout(self.session, self.actor(who), it, self.now)
        except svc.PayoutRefused:
            pass  # five per order (R2.1): nothing written

    @precondition(lambda self: self.with_status("awaiting_approval"))
    @rule(data=st.data(), decision=st.sampled_from(["approve", "reject", "withdraw"]))
    def decide(self, data, decision):
        pid = data.draw(st.sampled_from(self.with_status("awaiting_approval")))
        main = self.actor("main")
        if decision == "approve":
            svc.approve(self.session, main, pid, self.now)
        elif decision == "reject":
            svc.reject(self.session, main, pid, "no", self.now)
        else:
            svc.withdraw(self.session, main, pid, self.now)

    @precondition(lambda self: self.with_status("pending"))
    @rule(data=st.data())
    def withdraw_pending(self, data):
        pid = data.draw(st.sampled_from(self.with_status("pending")))
        try:
            svc.withdraw(self.session, self.actor("main"), pid, self.now)
        except svc.DecisionRefused:
            pass  # already sent once (R21)

    @rule(limit=st.integers(1, 5))
    def claim(self, limit):
        """A worker claims a few (pending -> processing, several payouts in one transaction)."""
        worker.claim_due(self.now, limit=limit)

    @precondition(lambda self: self.with_status("pending", "processing"))
    @rule(data=st.data(), outcome=st.sampled_from(["succeeded", "failed", "requeued"]))
    def settle(self, data, outcome):
        pid = data.draw(st.sampled_from(self.with_status("pending", "processing")))
        if outcome == "succeeded":
            svc.settle_succeeded(self.session, pid, self.now, reference=f"ref-{pid}")
        elif outcome == "failed":
            svc.settle_failed(self.session, pid, "rejected_by_channel", self.now)
        else:  # the channel call failed before it left: back to pending
            claims = [c for c in worker.claim_due(self.now, limit=50) if c.payout_id == pid]
            for claim in claims:
                attempt = svc.begin_attempt(self.session, claim, self.now, lease=self.lease, ttl=self.ttl)
                if attempt is not None:
                    svc.attempt_failed(self.session, attempt, self.now, delivered=False)

    @rule(seconds=st.sampled_from([0, 5, 60, 3_600]))
    def worker_runs(self, seconds):
        worker.run_once(self.now)
        self.clock.advance(seconds=seconds)
        worker.run_once(self.now)

    @precondition(lambda self: self.with_status("awaiting_approval", "pending", "processing"))
    @rule(data=st.data())
    def a_transaction_fails_after_moving(self, data):
        """Moves made, then an error: the rollback takes the deltas with it."""
        pid = data.draw(st.sampled_from(self.with_status("awaiting_approval", "pending", "processing")))
        with pytest.raises(_Boom), write_transaction(self.session):
            p = self.session.get(Payout, pid, populate_existing=True)
            svc.move(p, PayoutStatus.FAILED if p.status != "awaiting_approval" else PayoutStatus.CANCELLED,
                     self.now)
            self.session.flush()
            raise _Boom

    @rule(hours=st.sampled_from([1, 6, 14, 25]))
    def time_passes(self, hours):
        """Across Shanghai midnight (16:00 UTC); after 24 h undecided approvals expire (R20)."""
        self.clock.advance(hours=hours)

    @invariant()
    def rollups_match_the_payouts(self):
        assert_rollups_match(self.session, self.shop_id)

    def teardown(self):
        self.session.rollback()


class _Boom(Exception):
    pass


@both_backends
def test_r5_rollup_totals_equal_direct_totals_after_every_step(app, db, clock):
    run_state_machine_as_test(
        lambda: RollupMachine(app, db, clock),
        settings=settings(max_examples=12, stateful_step_count=30, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]),
    )


# --- (c) a rollback leaves the rollups unchanged ---------------------------------------------------------

@both_backends
def test_r5_rolled_back_transactions_leave_the_rollups_unchanged(app, db, make, clock, monkeypatch):
    w = payout_world(make, db)
    now, main_id = clock.now(), w.main.id
    pid = svc.create_payout(db.session, w.main, intent(w.order, 700), now).payout_id
    db.session.commit()
    before = rollup_rows(db.session, w.shop_id)
    assert before == {(w.shop_id, shop_day(now), main_id, "pending"): (1, 700)}

    def boom(*_a, **_kw):
        raise _Boom

    # A settlement that fails after move() (the audit record raises): nothing of it stays.
    monkeypatch.setattr(audit, "record", boom)
    with pytest.raises(_Boom):
        svc.settle_failed(db.session, pid, "rejected_by_channel", now)
    assert rollups.pending_rollup_deltas(db.session) == {}
    # A create that fails after its INSERT: neither the payout nor its count stays.
    with pytest.raises(_Boom):
        svc.create_payout(db.session, w.main, intent(make.order(w.shop, w.buyer), 300), now + timedelta(minutes=1))
    assert rollups.pending_rollup_deltas(db.session) == {}
    monkeypatch.undo()
    assert rollup_rows(db.session, w.shop_id) == before

    # Moves in a session closed without commit: dropped too, and the next commit applies nothing stale.
    p = db.session.get(Payout, pid)
    db.session.connection()
    svc.move(p, PayoutStatus.PROCESSING, now)
    assert rollups.pending_rollup_deltas(db.session) != {}
    db.session.close()
    assert rollups.pending_rollup_deltas(db.session) == {}
    db.session.commit()
    assert rollup_rows(db.session, w.shop_id) == before
    assert_rollups_match(db.session, w.shop_id)

    # The control: the same settlement, not failing, is counted.
    svc.settle_failed(db.session, pid, "rejected_by_channel", now)
    assert rollup_rows(db.session, w.shop_id) == {(w.shop_id, shop_day(now), main_id, "failed"): (1, 700)}
    assert_rollups_match(db.session, w.shop_id)


@both_backends
def test_r5_a_missing_rollup_row_fails_the_move_loudly(app, db, make, clock):
    """Drift (a payout changed past the services, before the rollups existed) is not hidden: taking
    a payout out of a rollup row that is not there refuses the transaction."""
    w = payout_world(make, db)
    pid = svc.create_payout(db.session, w.main, intent(w.order, 700), clock.now()).payout_id
    db.session.commit()
    db.session.execute(sa.delete(PayoutDayTotal))
    db.session.commit()
    with pytest.raises(rollups.RollupDrift):
        svc.settle_failed(db.session, pid, "rejected_by_channel", clock.now())
    assert db.session.get(Payout, pid, populate_existing=True).status == "pending"
    rollups.rebuild_rollups(db.session)  # the repair
    assert_rollups_match(db.session, w.shop_id)
    svc.settle_failed(db.session, pid, "rejected_by_channel", clock.now())
    assert_rollups_match(db.session, w.shop_id)


# --- (e) totals() is one query on the rollup table, none on the payout table --------------------------

@both_backends
def test_r5_totals_read_only_the_rollup_table_without_an_order_filter(app, db, make, clock):
    w = payout_world(make, db)
    for i, amount in enumerate((300, 400, 500)):
        svc.create_payout(db.session, w.main if i % 2 else w.staff, intent(make.order(w.shop, w.buyer), amount),
                          clock.now())
    db.session.commit()
    statements: list[str] = []

    def capture(_conn, _cursor, statement, *_args):
        statements.append(statement)

    day = shop_day(clock.now())
    no_order_filters = [RecordFilter(), RecordFilter(status="pending"), RecordFilter(staff_id=w.staff.id),
                        RecordFilter(date_from=day, date_to=day),
                        RecordFilter(status="pending", date_from=day - timedelta(days=7), staff_id=w.main.id),
                        reports.searched(db.session, w.shop_id, RecordFilter(q="  "))]  # blank: no search
    engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for f in no_order_filters:
            statements.clear()
            result = reports.totals(db.session, w.shop_id, f)
            assert len(statements) == 1, (f, statements)
            assert re.search(r"\bpayout_day_total\b", statements[0]), statements[0]
            assert not re.search(r"\bpayout\b", statements[0]), statements[0]  # payout_day_total is one word
            assert result  # something was counted
        statements.clear()
        by_order = reports.searched(db.session, w.shop_id, RecordFilter(q=w.order.order_no[:6]))
        assert by_order.order_ids and w.order.id in by_order.order_ids
        statements.clear()
        with_order = reports.totals(db.session, w.shop_id, by_order)
        assert any(re.search(r"\bpayout\b", s) for s in statements)  # the direct query, bounded by the orders
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert with_order == reports.direct_totals(db.session, w.shop_id, by_order)
    assert reports.totals(db.session, w.shop_id, RecordFilter()) == {"pending": (3, 1_200)}


def test_r5_date_filters_are_shop_local_days(app, db, make, clock):
    """Payouts either side of Shanghai midnight (16:00 UTC) fall on their shop-local days."""
    w = payout_world(make, db)
    start, _ = day_bounds(date(2026, 11, 24))  # 2026-11-23 16:00 UTC
    for minutes, amount in ((-1, 100), (0, 200), (1, 300)):
        svc.create_payout(db.session, w.main, intent(make.order(w.shop, w.buyer), amount), start + timedelta(minutes=minutes))
    db.session.commit()
    on = lambda d: reports.totals(db.session, w.shop_id, RecordFilter(date_from=d, date_to=d))  # noqa: E731
    assert on(date(2026, 11, 23)) == {"pending": (1, 100)}
    assert on(date(2026, 11, 24)) == {"pending": (2, 500)}
    assert_rollups_match(db.session, w.shop_id)


# --- (b) the migration fills the rollups from the payouts already there --------------------------------



def _seed_payouts(url, ids) -> None:
    """Payouts of two starters over three shop-local days, in every status (the 0008 schema)."""
    now = T0.replace(tzinfo=None)
    with connect(url) as conn, conn.begin():
        other_shop = _insert(conn, "shop", name="其他", certified=True, setup_complete=True,
                             daily_payout_cap_fen=1_500_000, created_at=now)
        other_main = _insert(conn, "merchant_account", shop_id=other_shop, login="other-main", display_name="o",
                             password_hash="x", role="main", active=True, session_epoch=0, created_at=now)
        other_order = _insert(conn, "orders", order_no="6926000000000000777", shop_id=other_shop, buyer_id=ids["buyer"],
                              item_summary="杯子", quantity=1, paid_fen=9_900, paid_at=now, status="paid")
        n = 0
        for hours in (-20, -3, 0, 13, 14, 30):  # T0 is 10:00 in Shanghai: 14 h later is the next day
            for status in STATUSES:
                for starter in ("main", "staff"):
                    n += 1
                    at = now + timedelta(hours=hours, minutes=n)
                    _insert(conn, "payout", shop_id=ids["shop"], order_id=ids["order"], buyer_id=ids["buyer"],
                            started_by_id=ids[starter], amount_fen=100 + n, reason_code="other", note="",
                            request_key=f"seed-{n}", status=status, attempts=0, maybe_at_channel=False,
                            shop_day=shop_day(at.replace(tzinfo=T0.tzinfo)), created_at=at, updated_at=at)
        _insert(conn, "payout", shop_id=other_shop, order_id=other_order, buyer_id=ids["buyer"],
                started_by_id=other_main, amount_fen=5_000, reason_code="other", note="", request_key="other-1",
                status="succeeded", attempts=1, maybe_at_channel=True, shop_day=now.date(), created_at=now,
                updated_at=now)


def _compare_through_the_app(url, shop_id) -> int:
    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db

    app = create_app(TestConfig(url))
    with app.app_context():
        try:
            rows = rollup_rows(db.session)
            assert rows == grouped_payouts(db.session) and rows
            for f in filters_for(db.session, shop_id):
                assert reports.totals(db.session, shop_id, f) == reports.direct_totals(db.session, shop_id, f), f
            return len(rows)
        finally:
            db.session.remove()
            db.engine.dispose()


def test_r5_migration_backfills_the_rollups_from_existing_payouts(fresh_url):
    upgrade(fresh_url, "0004_channel_fencing")
    ids = _seed_at_0004(fresh_url)  # a pending and a paid payout from before 0005
    upgrade(fresh_url, "0008_order_search")
    _seed_payouts(fresh_url, ids)

    upgrade(fresh_url, "0009_payout_rollups")
    keys = _compare_through_the_app(fresh_url, ids["shop"])
    assert keys > 20

    downgrade(fresh_url, "0008_order_search")
    with connect(fresh_url) as conn:
        assert not sa.inspect(conn).has_table("payout_day_total")
    upgrade(fresh_url, "head")
    assert _compare_through_the_app(fresh_url, ids["shop"]) == keys


# --- registration ---------------------------------------------------------------------------------------

def test_the_rollup_listeners_are_registered_once_for_every_session():
    from sqlalchemy.orm import Session

    assert event.contains(Session, "before_commit", rollups._apply_rollup_deltas)
    assert event.contains(Session, "after_transaction_end", rollups._discard_rollup_deltas)


@both_backends
def test_r5_several_moves_of_one_key_in_one_transaction_net_out(app, db, make, clock):
    """A claim of many payouts applies one statement per rollup key, and a key whose deltas net to
    zero is left alone."""
    w = payout_world(make, db)
    for _ in range(4):
        svc.create_payout(db.session, w.main, intent(make.order(w.shop, w.buyer), 250), clock.now())
    db.session.commit()
    statements: list[str] = []

    def capture(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        claims = worker.claim_due(clock.now(), limit=10)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len(claims) == 4
    touching = [s for s in statements if "payout_day_total" in s]
    assert len(touching) == 2, touching  # pending -4, processing +4
    assert rollup_rows(db.session, w.shop_id) == {(w.shop_id, shop_day(clock.now()), w.main.id, "processing"): (4, 1_000)}
    assert_rollups_match(db.session, w.shop_id)

    with write_transaction(db.session):  # there and back in one transaction: nothing to apply
        for c in claims[:2]:
            p = db.session.get(Payout, c.payout_id)
            svc.move(p, PayoutStatus.PENDING, clock.now())
            svc.move(p, PayoutStatus.PROCESSING, clock.now())
        deltas = rollups.pending_rollup_deltas(db.session)
        assert set(deltas.values()) == {(0, 0)}
    assert_rollups_match(db.session, w.shop_id)


"""R2-R6 under random sequences of operations: a Hypothesis state machine over the real services
and the real worker (SQLite). Merchants create payouts (sometimes replaying a request key),
press continue payout, the worker runs or dies mid-way, the channel freezes a buyer's wallet or
goes down, top-ups arrive, and time passes (seconds to hours, across Shanghai midnight). After
every step the limits hold, the money adds up and is where each payout's status says, and every
failed payout has exactly one in-site message.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test,
)
from sqlalchemy import func, select

from tests.support import T0, Factory, wipe
from webapp import worker
from webapp.channel import TransientChannelError
from webapp.domain.calendar import shop_day
from webapp.models import (
    AccountDayUsage, FundsAccount, InSiteMessage, LedgerEntry, Payout, PayoutQuota, ShopDayUsage,
)
from webapp.services import ledger
from webapp.services import payouts as svc
from webapp.services.payouts import PayoutIntent

SHOP_CAP_FEN = 9_000  # ¥90 a day for the whole shop
QUOTA = (2_000, 4_500)  # the staff account: ¥20 per payout, ¥45 a day (never changed)
FIRST_TOPUP_FEN = 12_000
ORDERS_PAID_FEN = (3_000, 5_500, 8_000)  # ¥30, ¥55, ¥80
FROZEN = "frozen-buyer"  # TestConfig's frozen wallet
MAX_PAYOUTS_PER_ORDER = 5  # R2.1 (written out here, not imported: the test is an independent oracle)
MIN_INTERVAL = timedelta(minutes=1)  # R2.2

AMOUNTS = st.one_of(
    st.integers(min_value=1, max_value=2_000),
    st.integers(min_value=2_000, max_value=9_500),
    st.sampled_from([0, 1, QUOTA[0], QUOTA[0] + 1, QUOTA[1], 8_000, 8_001, SHOP_CAP_FEN + 1]),
)
CLOCK_STEPS = st.sampled_from([1, 2, 3, 5, 30, 61, 300, 1_500, 1_801, 3_600, 5 * 3_600, 14 * 3_600])
FINAL = ("succeeded", "failed")


class PayoutMachine(RuleBasedStateMachine):
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
        self.channel.frozen_buyers = {FROZEN}
        self.channel.settle_seconds = 3
        self.channel.transient_rate = 0.0
        self.channel.submit_calls = 0

        make = Factory(db, T0)
        shop = make.shop(daily_payout_cap_fen=SHOP_CAP_FEN)
        self.shop_id = shop.id
        self.main_id = make.account(shop, role="main").id
        self.staff_id = make.account(shop, role="staff").id
        self.no_quota_id = make.account(shop, role="staff").id  # R2.3: may not pay out at all
        db.session.add(PayoutQuota(account_id=self.staff_id, shop_id=shop.id, enabled=True, per_payout_fen=QUOTA[0],
                                   daily_fen=QUOTA[1], updated_at=T0))
        db.session.commit()
        ok_buyer = make.buyer()
        frozen_buyer = make.buyer(login=FROZEN)
        toggled_buyer = make.buyer()  # its wallet freezes and thaws
        self.toggled_buyer = toggled_buyer.login
        self.orders = []  # (order id, order_no, paid_fen)
        for buyer, paid in zip((ok_buyer, frozen_buyer, toggled_buyer), ORDERS_PAID_FEN, strict=True):
            order = make.order(shop, buyer, paid_fen=paid)
            self.orders.append((order.id, order.order_no, paid))
        ledger.topup(db.session, shop.id, FIRST_TOPUP_FEN, T0)
        self.keys: dict[str, tuple[PayoutIntent, int]] = {}  # request key -> (intent, payout id) it created
        self.payout_ids: list[int] = []

    # --- helpers ---------------------------------------------------------------------------------

    @property
    def now(self):
        return self.clock.now()

    @property
    def session(self):
        return self.db.session

    def actor(self, which):
        from webapp.models import MerchantAccount

        account_id = {"main": self.main_id, "staff": self.staff_id, "no-quota": self.no_quota_id}[which]
        return self.session.get(MerchantAccount, account_id, populate_existing=True)

    def payouts(self) -> list[Payout]:
        self.session.commit()
        return self.session.scalars(select(Payout).execution_options(populate_existing=True).order_by(Payout.id)).all()

    def expected_to_pass(self, which: str, order_id: int, paid_fen: int, amount: int) -> bool:
        """R2 + R3 recomputed from the payout rows alone (not from the counters the service keeps)."""
        rows = self.payouts()
        on_order = [p for p in rows if p.order_id == order_id]
        active = [p for p in on_order if p.status != "failed"]
        today = shop_day(self.now)
        shop_today = sum(p.amount_fen for p in rows if p.status != "failed" and p.shop_day == today)
        available = ledger.derived_balances(self.session, self.shop_id).available_fen
        checks = [
            amount > 0,
            len(active) < MAX_PAYOUTS_PER_ORDER,  # R2.1
            all(p.created_at + MIN_INTERVAL <= self.now for p in on_order),  # R2.2
            which != "no-quota",  # R2.3
            sum(p.amount_fen for p in active) + amount <= paid_fen,  # R2.4, R3.5
            shop_today + amount <= SHOP_CAP_FEN,  # R2.5, R3.3
            amount <= available,  # R3.4
        ]
        if which == "staff":
            staff_today = sum(p.amount_fen for p in rows
                              if p.status != "failed" and p.shop_day == today and p.started_by_id == self.staff_id)
            checks += [amount <= QUOTA[0], staff_today + amount <= QUOTA[1]]  # R3.1, R3.2
        return all(checks)

    # --- rules -------------------------------------------------------------------------------------

    @initialize(amounts=st.lists(st.integers(1, 1_500), min_size=1, max_size=3), who=st.sampled_from(["main", "staff"]))
    def some_payouts_already_started(self, amounts, who):
        for amount in amounts:
            self.create_payout(2, amount, who, "shipping_fee", minutes_later=1)

    @rule(order=st.integers(0, len(ORDERS_PAID_FEN) - 1), amount=AMOUNTS,
          who=st.sampled_from(["main", "staff", "staff", "no-quota"]), reason=st.sampled_from(["shipping_fee", "other"]),
          minutes_later=st.sampled_from([0, 1, 1, 60]))
    def create_payout(self, order, amount, who, reason, minutes_later=0):
        """The merchant comes back to an order a little later (R2.2 allows one payout a minute)."""
        self.clock.advance(minutes=minutes_later)
        order_id, order_no, paid_fen = self.orders[order]
        expected = self.expected_to_pass(who, order_id, paid_fen, amount)
        before = len(self.payouts())
        it = PayoutIntent(order_no, amount, reason, "", uuid.uuid4().hex)
        try:
            created = svc.create_payout(self.session, self.actor(who), it, self.now)
        except svc.PayoutRefused as refused:
            assert not expected, f"refused a payout every rule allows: {refused}"
            assert len(self.payouts()) == before  # a refusal writes nothing
            return
        assert expected, f"created a payout a rule forbids: {who} {amount} on {order_no}"
        assert not created.replayed and created.payout.status == "pending"
        self.keys[it.request_key] = (it, created.payout.id)
        self.payout_ids.append(created.payout.id)

    @rule(order=st.sampled_from([0, 1, 2, 2, 2]), amount=st.one_of(st.integers(1, 600), st.integers(200, 2_500)),
          who=st.sampled_from(["main", "staff"]), minutes_later=st.sampled_from([0, 1, 1, 2]))
    def create_small_payout(self, order, amount, who, minutes_later):
        self.create_payout(order, amount, who, "compensation", minutes_later)

    @precondition(lambda self: self.keys)
    @rule(data=st.data(), same=st.booleans(), who=st.sampled_from(["main", "staff"]))
    def replay_request_key(self, data, same, who):
        key = data.draw(st.sampled_from(sorted(self.keys)))
        it, payout_id = self.keys[key]
        count = len(self.payouts())
        if same:  # a double click or a retried request: the same payout back, nothing new
            created = svc.create_payout(self.session, self.actor(who), it, self.now)
            assert created.replayed and created.payout.id == payout_id
        else:  # the same key for something else is refused (Stripe's rule)
            other = PayoutIntent(it.order_no, it.amount_fen + 1, it.reason_code, it.note, key)
            with pytest.raises(svc.RequestKeyConflict):
                svc.create_payout(self.session, self.actor(who), other, self.now)
            self.session.rollback()
        assert len(self.payouts()) == count

    @precondition(lambda self: self.payout_ids)
    @rule(data=st.data(), who=st.sampled_from(["main", "staff"]))
    def continue_payout(self, data, who):
        pid = data.draw(st.sampled_from(self.payout_ids))
        before = self.session.get(Payout, pid, populate_existing=True)
        status, due = before.status, before.next_attempt_at
        svc.continue_payout(self.session, self.actor(who), pid, self.now)
        after = self.session.get(Payout, pid, populate_existing=True)
        assert after.status == status  # continue never moves a payout by itself
        assert after.next_attempt_at == (self.now if status == "pending" else due)

    @rule(total=st.sampled_from([0, 0, 3, 65, 600, 1_560, 1_860, 2_400]), step=st.sampled_from([2, 20, 300]))
    def worker_runs(self, total, step):
        """One worker round now, or rounds every `step` seconds while `total` seconds pass."""
        worker.run_once(self.now)
        step = max(step, total // 12)  # at most ~12 rounds
        end = self.now + timedelta(seconds=total)
        while self.now < end:
            self.clock.set(min(end, self.now + timedelta(seconds=step)))
            worker.run_once(self.now)

    @rule(after=st.sampled_from(["claiming", "the channel answered", "the channel answered"]),
          silence=st.sampled_from([0, 0, 61, 1_801]))
    def worker_dies(self, after, silence):
        """A worker claims what is due and dies: before the channel call, or after it (the answer is
        lost). After `silence` seconds with no worker at all, a fresh one does one round."""
        for claim in worker.claim_due(self.now):
            if after == "claiming":
                continue
            attempt = svc.begin_attempt(self.session, claim, self.now, lease=self.lease, ttl=self.ttl)
            try:
                self.channel.submit(claim.payout_id, attempt.buyer_ref, attempt.amount_fen, self.now, attempt.not_after)
            except TransientChannelError:
                pass
        if silence:
            self.clock.advance(seconds=silence)
            worker.run_once(self.now)

    @rule(trouble=st.sampled_from(["frozen wallet", "outage"]))
    def channel_trouble_toggles(self, trouble):
        if trouble == "outage":
            self.channel.outage = not self.channel.outage
        else:
            self.channel.frozen_buyers ^= {self.toggled_buyer}

    @rule(seconds=CLOCK_STEPS)
    def time_passes(self, seconds):
        self.clock.advance(seconds=seconds)

    @rule()
    def top_up(self):
        ledger.topup(self.session, self.shop_id, 3_000, self.now)

    @rule()
    def channel_recovers_and_the_worker_catches_up(self):
        """Liveness: with the channel up and the worker running, every payout becomes final within
        minutes (a dead worker's lease, a backoff and the channel's settling time at most)."""
        self.channel.outage = False
        give_up_at = self.now + timedelta(minutes=5)
        while True:
            worker.run_once(self.now)
            open_ = [p for p in self.payouts() if p.status not in FINAL]
            if not open_:
                return
            assert self.now < give_up_at, f"not final with the channel up and the worker running: {open_}"
            wake = [p.next_attempt_at for p in open_ if p.next_attempt_at is not None]
            wake += [p.lease_until + timedelta(seconds=1) for p in open_ if p.lease_until is not None]
            self.clock.set(max(self.now + timedelta(seconds=1), min(wake, default=self.now)))  # next due moment

    # --- invariants ---------------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self):
        rows = self.payouts()  # loaded once per step, checked six ways
        self.order_limits(rows)
        self.day_counters(rows)
        self.money_adds_up(rows)
        self.money_is_where_each_status_says(rows)
        self.one_message_per_failed_payout(rows)
        self.request_keys_unique_per_shop(rows)

    def order_limits(self, rows):
        for order_id, _, paid_fen in self.orders:
            active = [p for p in rows if p.order_id == order_id and p.status != "failed"]
            assert sum(p.amount_fen for p in active) <= paid_fen  # R2.4 / R3.5
            assert len(active) <= MAX_PAYOUTS_PER_ORDER  # R2.1

    def day_counters(self, rows):
        usages = self.session.scalars(select(ShopDayUsage).execution_options(populate_existing=True)).all()
        days = {p.shop_day for p in rows}
        assert days <= {u.day for u in usages}
        for u in usages:
            committed = sum(p.amount_fen for p in rows if p.shop_day == u.day and p.status != "failed")
            assert u.committed_fen == committed, f"shop counter of {u.day}"
            assert u.committed_fen <= SHOP_CAP_FEN  # R2.5 / R3.3
        for u in self.session.scalars(select(AccountDayUsage).execution_options(populate_existing=True)):
            assert u.account_id == self.staff_id  # the main account has no quota and no counter
            committed = sum(p.amount_fen for p in rows
                            if p.shop_day == u.day and p.status != "failed" and p.started_by_id == self.staff_id)
            assert u.committed_fen == committed, f"staff counter of {u.day}"
            assert u.committed_fen <= QUOTA[1]  # R3.2
        assert all(p.amount_fen <= QUOTA[0] for p in rows if p.started_by_id == self.staff_id)  # R3.1
        assert not any(p.started_by_id == self.no_quota_id for p in rows)  # R2.3

    def money_adds_up(self, rows):
        funds = self.session.get(FundsAccount, self.shop_id, populate_existing=True)
        derived = ledger.derived_balances(self.session, self.shop_id)
        assert (funds.available_fen, funds.held_fen, funds.paid_out_fen, funds.topped_up_fen) == (
            derived.available_fen, derived.held_fen, derived.paid_out_fen, derived.topped_up_fen)
        assert funds.available_fen + funds.held_fen + funds.paid_out_fen == funds.topped_up_fen
        assert min(funds.available_fen, funds.held_fen, funds.paid_out_fen) >= 0
        assert funds.held_fen == sum(p.amount_fen for p in rows if p.status in ("pending", "processing"))
        assert funds.paid_out_fen == sum(p.amount_fen for p in rows if p.status == "succeeded")

    def money_is_where_each_status_says(self, rows):
        moves: dict[int, list[str]] = {}
        for payout_id, movement, _amount in self.session.execute(
            select(LedgerEntry.payout_id, LedgerEntry.movement, LedgerEntry.amount_fen).where(LedgerEntry.payout_id.is_not(None))
        ):
            moves.setdefault(payout_id, []).append(movement)
        transfers = {t["payout_id"]: t for t in self.channel.transfers()}
        expected_moves = {"pending": ["hold"], "processing": ["hold"], "succeeded": ["capture", "hold"],
                          "failed": ["hold", "release"]}
        for p in rows:
            assert sorted(moves.get(p.id, [])) == expected_moves[p.status], (p.id, p.status, moves.get(p.id))
            t = transfers.get(p.id)
            paying = t is not None and t["state"] != "failed"
            if p.status == "succeeded":
                assert paying and t["amount_fen"] == p.amount_fen, f"payout {p.id} succeeded but the channel did not pay"
            if p.status == "failed":
                assert not paying, f"payout {p.id} failed (money released) but the channel pays it"
            if p.status == "pending":
                assert p.channel_ref is None
        assert set(transfers) <= {p.id for p in rows}

    def one_message_per_failed_payout(self, rows):
        counts = dict(self.session.execute(
            select(InSiteMessage.payout_id, func.count()).where(InSiteMessage.shop_id.is_not(None)).group_by(InSiteMessage.payout_id)).all())
        for p in rows:
            assert counts.get(p.id, 0) == (1 if p.status == "failed" else 0), (p.id, p.status)
        assert set(counts) <= {p.id for p in rows}

    def request_keys_unique_per_shop(self, rows):
        assert len({(p.shop_id, p.request_key) for p in rows}) == len(rows)
        for key, (it, payout_id) in self.keys.items():
            p = next(p for p in rows if p.id == payout_id)
            assert (p.request_key, p.amount_fen) == (key, it.amount_fen)

    def teardown(self):
        self.session.rollback()


def test_r6_payout_state_machine_invariants(app, db, clock):
    run_state_machine_as_test(
        lambda: PayoutMachine(app, db, clock),
        settings=settings(max_examples=25, stateful_step_count=40, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]),
    )

"""R2 eligibility and R3 amount rules at their boundaries (pure, no database)."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from webapp.domain import payout_rules as rules
from webapp.domain.payout_rules import Code, PayoutFacts, Quota

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
QUOTA = Quota(enabled=True, per_payout_fen=5_000, daily_fen=20_000)

MAIN = PayoutFacts(
    now=NOW, order_paid_fen=10_000, order_committed_fen=0, order_active_count=0, order_last_payout_at=None,
    shop_cap_fen=1_500_000, shop_used_today_fen=0, funds_available_fen=1_000_000, is_staff=False,
)
STAFF = replace(MAIN, is_staff=True, quota=QUOTA)


def codes(refusals):
    return [r.code for r in refusals]


def test_a_fresh_order_is_eligible():
    assert rules.blocking_reasons(MAIN) == [] and rules.blocking_reasons(STAFF) == []


def test_r2_1_five_payouts_per_order():
    assert Code.ORDER_COUNT_LIMIT not in codes(rules.blocking_reasons(replace(MAIN, order_active_count=4)))
    r = rules.blocking_reasons(replace(MAIN, order_active_count=5))
    assert codes(r) == [Code.ORDER_COUNT_LIMIT] and r[0].rule == "R2.1" and r[0].params == {"count": 5}


def test_r2_2_one_payout_per_order_per_minute():
    just_now = replace(MAIN, order_last_payout_at=NOW - timedelta(seconds=59, microseconds=999_999))
    assert codes(rules.blocking_reasons(just_now)) == [Code.TOO_FREQUENT]
    assert rules.blocking_reasons(just_now)[0].params["at"] == NOW + timedelta(microseconds=1)
    a_minute_ago = replace(MAIN, order_last_payout_at=NOW - timedelta(minutes=1))
    assert rules.blocking_reasons(a_minute_ago) == []


@pytest.mark.parametrize(
    "quota",
    [None, Quota(False, 5_000, 20_000), Quota(True, None, 20_000), Quota(True, 5_000, None), Quota(True, 0, 0)],
)
def test_r2_3_staff_without_quota(quota):
    r = rules.blocking_reasons(replace(STAFF, quota=quota))
    assert Code.NO_QUOTA in codes(r)
    assert rules.allowances(replace(STAFF, quota=quota)).max_fen == 0


def test_r2_3_main_accounts_need_no_quota():
    assert rules.blocking_reasons(replace(MAIN, quota=None)) == []


def test_r2_4_order_fully_paid_out():
    assert rules.blocking_reasons(replace(MAIN, order_committed_fen=9_999)) == []
    assert codes(rules.blocking_reasons(replace(MAIN, order_committed_fen=10_000))) == [Code.ORDER_FULLY_PAID_OUT]


def test_r2_5_shop_daily_cap():
    assert rules.blocking_reasons(replace(MAIN, shop_used_today_fen=1_499_999)) == []
    assert codes(rules.blocking_reasons(replace(MAIN, shop_used_today_fen=1_500_000))) == [Code.SHOP_DAILY_CAP_REACHED]


def test_every_blocking_reason_is_reported_at_once():
    f = replace(STAFF, quota=None, order_active_count=5, order_committed_fen=10_000, shop_used_today_fen=1_500_000,
                order_last_payout_at=NOW)
    assert codes(rules.blocking_reasons(f)) == [
        Code.ORDER_COUNT_LIMIT, Code.TOO_FREQUENT, Code.NO_QUOTA, Code.ORDER_FULLY_PAID_OUT, Code.SHOP_DAILY_CAP_REACHED,
    ]


def test_r3_1_per_payout_limit():
    assert rules.amount_refusals(STAFF, 5_000) == []
    r = rules.amount_refusals(STAFF, 5_001)
    assert codes(r) == [Code.OVER_PER_PAYOUT_LIMIT] and r[0].params == {"limit": 5_000}
    assert rules.amount_refusals(MAIN, 9_000) == []  # main accounts have no per-payout limit


def test_r3_2_account_daily_limit():
    f = replace(STAFF, account_used_today_fen=16_000)
    assert rules.amount_refusals(f, 4_000) == []
    r = rules.amount_refusals(f, 4_001)
    assert codes(r) == [Code.OVER_ACCOUNT_DAILY_LIMIT] and r[0].params == {"remaining": 4_000, "limit": 20_000}


def test_r3_2_daily_limit_used_up_blocks_before_an_amount_is_typed():
    f = replace(STAFF, account_used_today_fen=20_000)
    assert codes(rules.blocking_reasons(f)) == [Code.OVER_ACCOUNT_DAILY_LIMIT]


def test_r3_3_shop_remaining_today():
    f = replace(MAIN, shop_used_today_fen=1_495_000)
    assert rules.amount_refusals(f, 5_000) == []
    assert codes(rules.amount_refusals(f, 5_001)) == [Code.OVER_SHOP_REMAINING]


def test_r3_4_funds_balance():
    f = replace(MAIN, funds_available_fen=3_000)
    assert rules.amount_refusals(f, 3_000) == []
    assert codes(rules.amount_refusals(f, 3_001)) == [Code.INSUFFICIENT_FUNDS]
    assert codes(rules.blocking_reasons(replace(MAIN, funds_available_fen=0))) == [Code.INSUFFICIENT_FUNDS]


def test_r3_4_arrears_block_payouts():
    f = replace(MAIN, arrears_fen=1)
    b = rules.blocking_reasons(f)  # told before an amount is typed, even with money in the funds account
    assert codes(b) == [Code.INSUFFICIENT_FUNDS] and b[0].params == {"available": 1_000_000, "arrears": 1}
    assert b[0].message == rules.ARREARS_MESSAGE and b[0].rule == "R3.4"
    assert codes(rules.check_create(f, 100)) == [Code.INSUFFICIENT_FUNDS]
    r = rules.amount_refusals(f, 100)
    assert codes(r) == [Code.INSUFFICIENT_FUNDS] and r[0].message == rules.ARREARS_MESSAGE
    assert rules.allowances(f).max_fen == 0


def test_r3_5_order_remaining_and_positive():
    f = replace(MAIN, order_committed_fen=7_000)
    assert rules.amount_refusals(f, 3_000) == []
    r = rules.amount_refusals(f, 3_001)
    assert codes(r) == [Code.OVER_ORDER_REMAINING] and r[0].rule == "R3.5"
    assert r[0].params == {"remaining": 3_000, "paid": 10_000, "committed": 7_000}  # the message names all three
    assert codes(rules.amount_refusals(f, 0)) == [Code.AMOUNT_NOT_POSITIVE]
    assert codes(rules.amount_refusals(f, -1)) == [Code.AMOUNT_NOT_POSITIVE]


def test_r3_refusals_come_binding_limit_first_ties_in_rule_order():
    """The smallest allowance the amount exceeds comes first (it is the one shown); equal ones keep
    the order of R3.1..R3.5."""
    f = replace(STAFF, order_paid_fen=3_000, funds_available_fen=1_000, shop_used_today_fen=1_499_000,
                account_used_today_fen=19_000)
    assert codes(rules.amount_refusals(f, 6_000)) == [
        Code.OVER_ACCOUNT_DAILY_LIMIT, Code.OVER_SHOP_REMAINING, Code.INSUFFICIENT_FUNDS,  # ¥10 each
        Code.OVER_ORDER_REMAINING,  # ¥30
        Code.OVER_PER_PAYOUT_LIMIT,  # ¥50
    ]


def test_allowances_max_is_the_tightest_limit():
    f = replace(STAFF, order_committed_fen=2_000, account_used_today_fen=17_000)
    a = rules.allowances(f)
    assert (a.order_remaining_fen, a.per_payout_fen, a.account_remaining_fen) == (8_000, 5_000, 3_000)
    assert a.max_fen == 3_000
    assert rules.allowances(MAIN).per_payout_fen is None and rules.allowances(MAIN).max_fen == 10_000


def test_check_create_lists_blockers_then_amount_rules_without_repeats():
    f = replace(STAFF, order_active_count=5, funds_available_fen=0)
    assert codes(rules.check_create(f, 6_000)) == [Code.ORDER_COUNT_LIMIT, Code.INSUFFICIENT_FUNDS, Code.OVER_PER_PAYOUT_LIMIT]


def test_every_code_has_a_rule_and_a_message():
    assert set(rules.RULE) == set(Code) == set(rules.MESSAGES)

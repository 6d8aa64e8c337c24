"""Issue 13 point 3 (pure): the refusal shown names the limit that binds (R3), and every action the
app records in the activity log (R19) has a label in the reader's language."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from webapp.domain import payout_rules as rules
from webapp.domain.payout_rules import Code, PayoutFacts, Quota

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
STAFF = PayoutFacts(
    now=NOW, order_paid_fen=10_000, order_committed_fen=0, order_active_count=0, order_last_payout_at=None,
    shop_cap_fen=15_000, shop_used_today_fen=0, funds_available_fen=1_000_000, is_staff=True,
    quota=Quota(enabled=True, per_payout_fen=5_000, daily_fen=8_000),
)


@pytest.mark.parametrize("facts, first", [
    # order < per payout < staff daily < shop cap: the order's paid amount binds (the issue's ¥19.80)
    (replace(STAFF, order_paid_fen=1_980), Code.OVER_ORDER_REMAINING),
    # per payout < order < staff daily < shop
    (STAFF, Code.OVER_PER_PAYOUT_LIMIT),
    # staff daily left < per payout < order < shop
    (replace(STAFF, account_used_today_fen=7_000), Code.OVER_ACCOUNT_DAILY_LIMIT),
    # shop left < everything else
    (replace(STAFF, shop_used_today_fen=14_000), Code.OVER_SHOP_REMAINING),
    # funds < everything else
    (replace(STAFF, funds_available_fen=300), Code.INSUFFICIENT_FUNDS),
    # a main account: no quota; the order binds before the ¥15,000 cap
    (replace(STAFF, is_staff=False, quota=None, shop_cap_fen=1_500_000, order_paid_fen=1_980), Code.OVER_ORDER_REMAINING),
    (replace(STAFF, is_staff=False, quota=None, shop_cap_fen=1_000, order_paid_fen=1_980), Code.OVER_SHOP_REMAINING),
])
def test_r3_the_first_refusal_is_the_smallest_allowance_exceeded(facts, first):
    refusals = rules.check_create(facts, 9_999_900)
    assert refusals[0].code == first
    allowances = [r.allowance_fen for r in refusals]
    assert allowances == sorted(allowances) and len(refusals) >= 2


def test_r3_an_amount_within_the_binding_limit_names_the_next_one_it_exceeds():
    f = replace(STAFF, order_paid_fen=1_980, funds_available_fen=1_000)  # funds ¥10 < order ¥19.80
    assert [r.code for r in rules.check_create(f, 1_500)] == [Code.INSUFFICIENT_FUNDS]
    assert [r.code for r in rules.check_create(f, 1_000)] == []


def test_r3_messages_say_what_binds_without_the_rule_number():
    for code in Code:
        for staff in (False, True):
            assert not re.search(r"\bR\d", rules.Refusal(code, {"arrears": 0}).message_for(staff=staff))
    assert rules.Refusal(Code.INSUFFICIENT_FUNDS, {"available": 1}).message_for(staff=True) != \
        rules.Refusal(Code.INSUFFICIENT_FUNDS, {"available": 1}).message_for(staff=False)


def test_r19_every_action_the_app_records_has_a_label():
    from webapp.domain.payout_controls import CancelReason
    from webapp.services import reauth
    from webapp.web.messages import ACTION_LABELS

    root = Path(__file__).resolve().parents[2] / "webapp"
    source = "\n".join(p.read_text(encoding="utf-8") for p in (root / "services").glob("*.py"))
    recorded = set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', source))
    recorded |= set(re.findall(r'"((?:staff|quota|settings|session|refund|payout|funds|order)\.[a-z_]+)" if', source))
    recorded |= set(re.findall(r'else "((?:staff|quota|settings|session|refund|payout|funds|order)\.[a-z_]+)"', source))
    recorded |= set(re.findall(r'_audit\(session, account, "([a-z_.]+)"', source))
    recorded |= {f"payout.{r.value}" for r in CancelReason} | {reauth.CONFIRMED, reauth.REFUSED}
    assert {"settings.fast_refund_confirm", "payout.create", "quota.disable", "session.end"} <= recorded
    assert sorted(recorded - set(ACTION_LABELS)) == []



"""R20 approval and R21 undo window, the pure rules (webapp/domain/payout_controls.py), as literal
truth tables: every expected answer is written out here, not computed."""
from datetime import datetime, timedelta, timezone

import pytest

from webapp.domain import payout_controls as pc

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
Y, N = True, False

# --- R20: which payouts wait for approval ---------------------------------------------------------

#  amount  threshold  requester_is_main   waits?
NEEDS_APPROVAL = [
    (19_999, 20_000, N, N),  # below the threshold
    (20_000, 20_000, N, Y),  # "at or above"
    (20_001, 20_000, N, Y),
    (20_000, 20_000, Y, N),  # the main account approves, so its own payouts never wait
    (99_999, 20_000, Y, N),
    (99_999, None, N, N),    # no threshold set (the default): nothing waits
    (1, 1, N, Y),
]


@pytest.mark.parametrize(("amount", "threshold", "is_main", "waits"), NEEDS_APPROVAL)
def test_r20_needs_approval(amount, threshold, is_main, waits):
    assert pc.needs_approval(amount_fen=amount, threshold_fen=threshold, requester_is_main=is_main) is waits


# --- R20: who may approve or reject ------------------------------------------------------------------

#  actor is main, actor is approver, actor is the requester   may decide?
MAY_DECIDE = [
    (Y, N, N, Y),  # the main account
    (Y, Y, N, Y),
    (N, Y, N, Y),  # a sub-account the main account made an approver
    (N, N, N, N),  # any other sub-account
    (Y, N, Y, N),  # never the requester, not even the main account
    (Y, Y, Y, N),
    (N, Y, Y, N),  # an approver never approves its own request
    (N, N, Y, N),
]


@pytest.mark.parametrize(("is_main", "is_approver", "is_requester", "may"), MAY_DECIDE)
def test_r20_may_decide(is_main, is_approver, is_requester, may):
    actor_id, requester_id = 7, (7 if is_requester else 8)
    assert pc.may_decide(actor_id=actor_id, actor_is_main=is_main, actor_is_approver=is_approver,
                         requester_id=requester_id) is may


# --- R20/R21: who may withdraw, and until when ---------------------------------------------------------

REQUESTER, MAIN, MAIN_REQUESTER, OTHER = "requester", "main", "main-requester", "other-staff"
ACTORS = {  # who -> (actor_id, actor_is_main); the requester is account 8
    REQUESTER: (8, N), MAIN: (1, Y), MAIN_REQUESTER: (8, Y), OTHER: (9, N),
}
#  who              status               ever sent  approved   may withdraw?
MAY_WITHDRAW = [
    (REQUESTER,      "awaiting_approval", N, N, Y),  # R20 withdrawn by the requester
    (MAIN,           "awaiting_approval", N, N, Y),
    (OTHER,          "awaiting_approval", N, N, N),  # not its payout
    (REQUESTER,      "pending",           N, N, Y),  # R21 inside the undo window: nothing left yet
    (MAIN,           "pending",           N, N, Y),
    (MAIN_REQUESTER, "pending",           N, N, Y),
    (OTHER,          "pending",           N, N, N),
    (REQUESTER,      "pending",           Y, N, N),  # a request may be at the channel: too late
    (MAIN,           "pending",           Y, N, N),
    (REQUESTER,      "pending",           N, Y, N),  # approved: decided, it goes
    (MAIN,           "pending",           N, Y, N),
    (REQUESTER,      "processing",        N, N, N),  # the channel is paying
    (MAIN,           "processing",        Y, N, N),
    (REQUESTER,      "succeeded",         Y, N, N),  # final
    (MAIN,           "succeeded",         Y, N, N),
    (REQUESTER,      "failed",            Y, N, N),
    (MAIN,           "failed",            Y, N, N),
    (REQUESTER,      "cancelled",         N, N, N),
    (MAIN,           "cancelled",         N, N, N),
]


def test_r21_withdraw_table_names_every_status():
    assert {row[1] for row in MAY_WITHDRAW} == {s.value for s in pc.PayoutStatus}


@pytest.mark.parametrize(("who", "status", "ever_sent", "approved", "may"), MAY_WITHDRAW)
def test_r20_r21_may_withdraw(who, status, ever_sent, approved, may):
    actor_id, is_main = ACTORS[who]
    assert pc.may_withdraw(actor_id=actor_id, actor_is_main=is_main, requester_id=8, status=status,
                           ever_sent=ever_sent, approved=approved) is may
    assert pc.may_withdraw(actor_id=actor_id, actor_is_main=is_main, requester_id=8, status=pc.PayoutStatus(status),
                           ever_sent=ever_sent, approved=approved) is may


# --- R20: 24 hours to decide ------------------------------------------------------------------------

@pytest.mark.parametrize(("age", "expired"), [
    (timedelta(0), N),
    (timedelta(hours=23, minutes=59, seconds=59), N),
    (timedelta(hours=24), Y),  # "not decided within 24 h"
    (timedelta(hours=24, seconds=1), Y),
    (timedelta(days=3), Y),
])
def test_r20_approval_expires_after_24_hours(age, expired):
    assert pc.approval_expired(T0, T0 + age) is expired


# --- R21: the undo window ---------------------------------------------------------------------------

@pytest.mark.parametrize(("window", "sent_from"), [
    (0, T0),
    (30, T0 + timedelta(seconds=30)),  # the default
    (600, T0 + timedelta(minutes=10)),
])
def test_r21_send_after_the_undo_window(window, sent_from):
    assert pc.send_after(T0, window) == sent_from


@pytest.mark.parametrize(("seconds", "ok"), [(-1, N), (0, Y), (1, Y), (30, Y), (600, Y), (601, N), (3_600, N)])
def test_r21_undo_window_is_0_to_600_seconds(seconds, ok):
    assert pc.undo_window_ok(seconds) is ok


def test_every_cancel_reason_has_a_label():
    assert set(pc.CANCEL_REASON_LABELS) == set(pc.CancelReason)

"""R18 permissions and the order and after-sales case state machines as literal truth tables.

The expected outcomes are written out here by hand, not derived from the tables under test
(PERMISSIONS, CASE_TRANSITIONS, ORDER_TRANSITIONS), so a change to any of them must change this
file too; a new action or status without a row here fails the coverage checks.
"""
import pytest

from tests.support import assert_transition, assert_truth_table_covers_every_pair
from webapp.domain.permissions import PERMISSIONS, Role, can
from webapp.domain.states import (
    CASE_STATUS_LABELS, CASE_TRANSITIONS, ORDER_STATUS_LABELS, ORDER_TRANSITIONS, CaseStatus, IllegalTransition,
    OrderStatus, check_transition,
)

Y, N = True, False

# --- R18: who may use which action ------------------------------------------------------------

#  action                    main staff buyer
PERMISSION_TRUTH = {
    "orders.view":           (Y,   Y,    N),  # merchants see their shop's orders
    "aftersales.view":       (Y,   Y,    N),
    "buyer.orders.view":     (N,   N,    Y),  # a buyer's own orders only
    "payouts.view":          (Y,   Y,    N),
    "payouts.create":        (Y,   Y,    N),  # staff within its quota (R2.3, R3.1, R3.2)
    "payouts.approve":       (Y,   Y,    N),  # R20: the service checks approver and never-the-requester
    "messages.view":         (Y,   Y,    N),
    "staff.manage":          (Y,   N,    N),  # R7: quotas are the main account's
    "activity.view":         (Y,   N,    N),  # R19 audit trail
    "quota.own":             (N,   Y,    N),  # a sub-account sees its own quota
    "settings.manage":       (Y,   N,    N),  # R11 settlement settings
    "funds.view":            (Y,   Y,    N),
    "funds.topup":           (Y,   N,    N),  # money in is the main account's; staff read the funds page
    "aftersales.decide":     (Y,   Y,    N),  # staff within its refund limits (R22)
    "buyer.refunds":         (N,   N,    Y),
    "buyer.messages.view":   (N,   N,    Y),  # R25
    "account.sessions":      (Y,   Y,    Y),  # R27: everyone's own sessions
    "account.reauth":        (Y,   Y,    N),  # step-up: re-enter the password before money settings
    "account.two_factor":    (Y,   Y,    N),  # a merchant's own two-factor sign-in; buyers have none
}
ROLES = (Role.MAIN, Role.STAFF, Role.BUYER)


def test_r18_permission_truth_table_covers_exactly_the_actions_and_roles():
    """A new action (or role) must be written into PERMISSION_TRUTH by hand."""
    assert set(PERMISSION_TRUTH) == set(PERMISSIONS)
    assert set(ROLES) == set(Role)


@pytest.mark.parametrize("action", list(PERMISSION_TRUTH))
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_r18_permission(role, action):
    assert can(role, action) is PERMISSION_TRUTH[action][ROLES.index(role)]
    assert can(role.value, action) is PERMISSION_TRUTH[action][ROLES.index(role)]  # as stored in the session


def test_r18_unknown_action_or_no_role_is_denied():
    for role in ROLES:
        assert not can(role, "no.such.action")
        assert not can(role, "")
    assert not can(None, "orders.view")
    try:
        assert not can("admin", "orders.view")  # not a role at all: never a yes
    except ValueError:
        pass


# --- after-sales case: 待商家处理 -> 已退款 / 已拒绝 / 已关闭 ---------------------------------------

AW, RF, RJ, CL = "awaiting_merchant", "refunded", "rejected", "closed"

# (from, to): allowed?   and why
CASE_TRUTH = {
    (AW, AW): N,  # no self-moves
    (AW, RF): Y,  # R13 refunded at once, or the merchant approves (R22)
    (AW, RJ): Y,  # the merchant rejects
    (AW, CL): Y,  # withdrawn by the buyer, or closed by the platform
    (RF, AW): N,  # final: money moved (R24), never reopened
    (RF, RF): N,
    (RF, RJ): N,
    (RF, CL): N,
    (RJ, AW): N,  # a rejected case is not reopened: the buyer applies again (R23)
    (RJ, RF): N,  # no refund after a rejection without a new application
    (RJ, RJ): N,
    (RJ, CL): Y,  # a rejected case is closed afterwards
    (CL, AW): N,  # final
    (CL, RF): N,
    (CL, RJ): N,
    (CL, CL): N,
}


def test_case_truth_table_covers_every_pair():
    assert_truth_table_covers_every_pair(CASE_TRUTH, CaseStatus)


@pytest.mark.parametrize(("current", "target"), list(CASE_TRUTH))
def test_case_transition(current, target):
    assert_transition(CASE_TRANSITIONS, CaseStatus, current, target, CASE_TRUTH[(current, target)])


# --- order: paid -> shipped -> delivered -> completed, closed from anywhere --------------------

PA, SH, DE, CO, CD = "paid", "shipped", "delivered", "completed", "closed"

ORDER_TRUTH = {
    (PA, PA): N,  # no self-moves
    (PA, SH): Y,
    (PA, DE): N,  # never skips shipping
    (PA, CO): N,
    (PA, CD): Y,  # R24 refunded in full before shipping: 交易关闭
    (SH, PA): N,  # never backwards
    (SH, SH): N,
    (SH, DE): Y,
    (SH, CO): N,
    (SH, CD): Y,  # R24 refunded in full
    (DE, PA): N,
    (DE, SH): N,
    (DE, DE): N,
    (DE, CO): Y,
    (DE, CD): Y,  # R24 refunded in full
    (CO, PA): N,
    (CO, SH): N,
    (CO, DE): N,
    (CO, CO): N,
    (CO, CD): Y,  # R24 a completed order refunded in full is closed too
    (CD, PA): N,  # final
    (CD, SH): N,
    (CD, DE): N,
    (CD, CO): N,
    (CD, CD): N,
}


def test_order_truth_table_covers_every_pair():
    assert_truth_table_covers_every_pair(ORDER_TRUTH, OrderStatus)


@pytest.mark.parametrize(("current", "target"), list(ORDER_TRUTH))
def test_order_transition(current, target):
    assert_transition(ORDER_TRANSITIONS, OrderStatus, current, target, ORDER_TRUTH[(current, target)])


def test_a_status_missing_from_a_table_allows_nothing():
    with pytest.raises(IllegalTransition):
        check_transition({}, OrderStatus.PAID, OrderStatus.SHIPPED)


def test_every_status_has_a_label():
    assert set(ORDER_STATUS_LABELS) == set(OrderStatus)
    assert set(CASE_STATUS_LABELS) == set(CaseStatus)

import pytest

from webapp.domain.permissions import PERMISSIONS, Role, can
from webapp.domain.states import (
    CASE_STATUS_LABELS, CASE_TRANSITIONS, ORDER_STATUS_LABELS, ORDER_TRANSITIONS, CaseStatus, IllegalTransition,
    OrderStatus, check_transition,
)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", sorted(PERMISSIONS))
def test_r18_permission_table_is_the_only_source(role, action):
    assert can(role, action) == (role in PERMISSIONS[action])


def test_r18_unknown_action_or_no_role_is_denied():
    assert not can(Role.MAIN, "no.such.action")
    assert not can(None, "orders.view")


def test_r18_buyers_cannot_use_merchant_actions_and_vice_versa():
    assert not can(Role.BUYER, "orders.view")
    assert not can(Role.STAFF, "buyer.orders.view")


@pytest.mark.parametrize("current", list(CaseStatus))
@pytest.mark.parametrize("target", list(CaseStatus))
def test_case_transition_truth_table(current, target):
    if target in CASE_TRANSITIONS[current]:
        check_transition(CASE_TRANSITIONS, current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(CASE_TRANSITIONS, current, target)


@pytest.mark.parametrize("current", list(OrderStatus))
@pytest.mark.parametrize("target", list(OrderStatus))
def test_order_transition_truth_table(current, target):
    allowed = target in ORDER_TRANSITIONS[current]
    if allowed:
        check_transition(ORDER_TRANSITIONS, current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(ORDER_TRANSITIONS, current, target)


def test_every_status_has_a_label():
    assert set(ORDER_STATUS_LABELS) == set(OrderStatus)
    assert set(CASE_STATUS_LABELS) == set(CaseStatus)

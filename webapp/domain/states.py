"""Status enums with their labels; each state machine is a transition table."""
from __future__ import annotations

from enum import StrEnum

from . import N_


class IllegalTransition(ValueError):
    pass


class OrderStatus(StrEnum):
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CLOSED = "closed"


ORDER_STATUS_LABELS = {
    OrderStatus.PAID: N_("Paid, awaiting shipment"),
    OrderStatus.SHIPPED: N_("Shipped"),
    OrderStatus.DELIVERED: N_("Delivered"),
    OrderStatus.COMPLETED: N_("Completed"),
    OrderStatus.CLOSED: N_("Closed"),
}

#: R24: what refunds did to an order (refund_rules.RefundState), as the order pages show it.
ORDER_REFUND_LABELS = {
    "partial": N_("Partly refunded %(amount)s"),
    "full": N_("Trade closed, refunded %(amount)s"),
}
#: Extra choices of the merchant's order status filter, by refund state.
ORDER_REFUND_FILTERS = {
    "partly_refunded": N_("Partly refunded"),
    "refunded": N_("Refunded in full (trade closed)"),
}


class CaseKind(StrEnum):
    REFUND_ONLY = "refund_only"  # 仅退款
    RETURN_AND_REFUND = "return_and_refund"  # 退货退款


CASE_KIND_LABELS = {
    CaseKind.REFUND_ONLY: N_("Refund only"),
    CaseKind.RETURN_AND_REFUND: N_("Return and refund"),
}


class CaseStatus(StrEnum):
    AWAITING_MERCHANT = "awaiting_merchant"  # 待商家处理
    REFUNDED = "refunded"  # 已退款
    REJECTED = "rejected"  # 已拒绝
    CLOSED = "closed"  # 已关闭


CASE_STATUS_LABELS = {
    CaseStatus.AWAITING_MERCHANT: N_("Awaiting merchant"),
    CaseStatus.REFUNDED: N_("Refunded"),
    CaseStatus.REJECTED: N_("Rejected"),
    CaseStatus.CLOSED: N_("Closed"),
}

CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.AWAITING_MERCHANT: frozenset({CaseStatus.REFUNDED, CaseStatus.REJECTED, CaseStatus.CLOSED}),
    CaseStatus.REFUNDED: frozenset(),
    CaseStatus.REJECTED: frozenset({CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}

ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CLOSED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.CLOSED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.COMPLETED, OrderStatus.CLOSED}),
    OrderStatus.COMPLETED: frozenset({OrderStatus.CLOSED}),
    OrderStatus.CLOSED: frozenset(),
}


def check_transition(table: dict, current, target) -> None:
    """Raise IllegalTransition unless `current -> target` is in the table."""
    if target not in table.get(current, frozenset()):
        raise IllegalTransition(f"{current} -> {target} is not allowed")


class PayoutStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # 待审批: at or above the shop's threshold (R20); money held
    PENDING = "pending"  # 待打款: created, not yet accepted by the channel
    PROCESSING = "processing"  # 打款中: the channel is paying the buyer
    SUCCEEDED = "succeeded"  # 打款成功
    FAILED = "failed"  # 打款失败
    CANCELLED = "cancelled"  # 已取消: withdrawn, rejected or not approved in time (R20, R21); money released


PAYOUT_STATUS_LABELS = {
    PayoutStatus.AWAITING_APPROVAL: N_("Awaiting approval"),
    PayoutStatus.PENDING: N_("Pending payout"),
    PayoutStatus.PROCESSING: N_("Paying out"),
    PayoutStatus.SUCCEEDED: N_("Paid out"),
    PayoutStatus.FAILED: N_("Payout failed"),
    PayoutStatus.CANCELLED: N_("Cancelled"),
}

#: Statuses whose money is committed against the order, the shop day and the account day (R2.1,
#: R2.4, R2.5; R20: a payout awaiting approval counts from the moment it is made).
PAYOUT_COMMITTED = frozenset({PayoutStatus.AWAITING_APPROVAL, PayoutStatus.PENDING, PayoutStatus.PROCESSING,
                              PayoutStatus.SUCCEEDED})
PAYOUT_FINAL = frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.CANCELLED})
#: Not final and still followed live on the pages.
PAYOUT_LIVE = frozenset({PayoutStatus.AWAITING_APPROVAL, PayoutStatus.PENDING, PayoutStatus.PROCESSING})
#: Sent or about to be sent to the channel, not final yet (the buyer sees "on its way").
PAYOUT_IN_FLIGHT = frozenset({PayoutStatus.PENDING, PayoutStatus.PROCESSING})

PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    # Approved: into the queue; rejected, withdrawn or not decided within 24 h: cancelled (R20).
    PayoutStatus.AWAITING_APPROVAL: frozenset({PayoutStatus.PENDING, PayoutStatus.CANCELLED}),
    # A worker claims it; the reconciler fails it when no request for it can still reach the
    # channel, or settles it from the channel's word (an answer lost in transit: the channel paid
    # it); withdrawn before any request left (R21 undo window): cancelled.
    PayoutStatus.PENDING: frozenset({PayoutStatus.PROCESSING, PayoutStatus.SUCCEEDED, PayoutStatus.FAILED,
                                     PayoutStatus.CANCELLED}),
    # The channel answers; a transient error before acceptance sends it back to the queue.
    PayoutStatus.PROCESSING: frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.PENDING}),
    PayoutStatus.SUCCEEDED: frozenset(),
    PayoutStatus.FAILED: frozenset(),
    PayoutStatus.CANCELLED: frozenset(),
}

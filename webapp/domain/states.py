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
    PENDING = "pending"  # 待打款: created, not yet accepted by the channel
    PROCESSING = "processing"  # 打款中: the channel is paying the buyer
    SUCCEEDED = "succeeded"  # 打款成功
    FAILED = "failed"  # 打款失败


PAYOUT_STATUS_LABELS = {
    PayoutStatus.PENDING: N_("Pending payout"),
    PayoutStatus.PROCESSING: N_("Paying out"),
    PayoutStatus.SUCCEEDED: N_("Paid out"),
    PayoutStatus.FAILED: N_("Payout failed"),
}

#: Statuses whose money is committed against the order, the shop day and the account day (R2.1, R2.4, R2.5).
PAYOUT_COMMITTED = frozenset({PayoutStatus.PENDING, PayoutStatus.PROCESSING, PayoutStatus.SUCCEEDED})
PAYOUT_FINAL = frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED})

PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    # A worker claims it; the reconciler fails it when the channel never knew it by the deadline,
    # or settles it from the channel's word (an answer lost in transit: the channel paid it).
    PayoutStatus.PENDING: frozenset({PayoutStatus.PROCESSING, PayoutStatus.SUCCEEDED, PayoutStatus.FAILED}),
    # The channel answers; a transient error before acceptance sends it back to the queue.
    PayoutStatus.PROCESSING: frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.PENDING}),
    PayoutStatus.SUCCEEDED: frozenset(),
    PayoutStatus.FAILED: frozenset(),
}

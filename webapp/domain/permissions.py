"""Who may do what: the one place (R18 tenancy is enforced by scoping queries to the actor's
shop or buyer; this table says which roles may use which action at all)."""
from __future__ import annotations

from enum import StrEnum

from . import N_


class Role(StrEnum):
    MAIN = "main"  # 主账号
    STAFF = "staff"  # 子账号
    BUYER = "buyer"  # 买家


ROLE_LABELS = {
    Role.MAIN: N_("Main account"),
    Role.STAFF: N_("Sub-account"),
    Role.BUYER: N_("Buyer"),
}

MERCHANT_ROLES = frozenset({Role.MAIN, Role.STAFF})

# action -> roles allowed. Anything not listed here is denied (deny by default).
PERMISSIONS: dict[str, frozenset[Role]] = {
    "orders.view": MERCHANT_ROLES,
    "aftersales.view": MERCHANT_ROLES,
    "buyer.orders.view": frozenset({Role.BUYER}),
    # Small payouts: staff too, limited by the quota its main account set (R2.3, R3.1, R3.2).
    "payouts.view": MERCHANT_ROLES,
    "payouts.create": MERCHANT_ROLES,
    # R20: the queue is the shop's; who may decide (main or an approver, never the requester)
    # is checked by the service on the locked payout.
    "payouts.approve": MERCHANT_ROLES,
    "messages.view": MERCHANT_ROLES,
    # Staff and quotas (R7) and the audit trail (R19): the main account only.
    "staff.manage": frozenset({Role.MAIN}),
    "activity.view": frozenset({Role.MAIN}),
    "quota.own": frozenset({Role.STAFF}),
    # Fast refunds: settlement settings are the main account's; staff may decide refund cases.
    "settings.manage": frozenset({Role.MAIN}),
    "funds.view": MERCHANT_ROLES,
    # Money in (a top-up through the payment channel): the main account's; staff see the funds page read-only.
    "funds.topup": frozenset({Role.MAIN}),
    "aftersales.decide": MERCHANT_ROLES,
    "buyer.refunds": frozenset({Role.BUYER}),
    # Buyer in-site messages (R25): only the buyer's own (R18).
    "buyer.messages.view": frozenset({Role.BUYER}),
    # R27: everyone sees and ends their own signed-in sessions (never another account's).
    "account.sessions": frozenset(Role),
    # Step-up re-authentication (ASVS 4.3.3): a merchant confirms its own password before money settings.
    "account.reauth": MERCHANT_ROLES,
    # Two-factor sign-in (issue 12 point 3): a merchant sets up its own (buyers have none).
    "account.two_factor": MERCHANT_ROLES,
}


def can(role: Role | str | None, action: str) -> bool:
    if role is None:
        return False
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        return False
    return Role(role) in allowed

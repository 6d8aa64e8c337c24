"""The merchant funds account (货款账户) and its double-entry ledger.

Each ledger row is one movement between two accounts of the same shop: a debit leg on
`from_account` and a credit leg on `to_account` of the same positive amount, so the legs of
every movement sum to zero by construction (the database enforces amount > 0 and
from <> to; TigerBeetle's transfer model). The balances on `funds_account` are a cache of the
ledger, updated in the same transaction and checked against it in the tests, and the database
also checks that available + held + paid out always equals everything topped up.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import Fen, UTCDateTime


class LedgerAccount(StrEnum):
    OUTSIDE = "outside"  # money outside the platform (the merchant's bank): top-ups come from here
    AVAILABLE = "available"  # 可用余额
    HELD = "held"  # held for payouts in flight
    PAID_OUT = "paid_out"  # paid to buyers by small payouts
    REFUNDED = "refunded"  # refunded to buyers (fast refunds and approved after-sales refunds)
    ADVANCE = "advance"  # the platform's advances to this shop (平台垫付); its debit balance is the arrears


class Movement(StrEnum):
    TOPUP = "topup"  # outside -> available
    HOLD = "hold"  # available -> held (payout created)
    CAPTURE = "capture"  # held -> paid_out (payout succeeded)
    RELEASE = "release"  # held -> available (payout failed)
    REFUND = "refund"  # available -> refunded (a refund paid from the funds account)
    ADVANCE = "advance"  # advance -> refunded (the platform pays the shortfall: arrears grow)
    RECOVER = "recover"  # available -> advance (a top-up pays arrears back: 追缴成功)


MOVEMENT_LEGS = {
    Movement.TOPUP: (LedgerAccount.OUTSIDE, LedgerAccount.AVAILABLE),
    Movement.HOLD: (LedgerAccount.AVAILABLE, LedgerAccount.HELD),
    Movement.CAPTURE: (LedgerAccount.HELD, LedgerAccount.PAID_OUT),
    Movement.RELEASE: (LedgerAccount.HELD, LedgerAccount.AVAILABLE),
    Movement.REFUND: (LedgerAccount.AVAILABLE, LedgerAccount.REFUNDED),
    Movement.ADVANCE: (LedgerAccount.ADVANCE, LedgerAccount.REFUNDED),
    Movement.RECOVER: (LedgerAccount.AVAILABLE, LedgerAccount.ADVANCE),
}


def available_delta(movement: str, amount_fen: int) -> int:
    """What a movement does to the available balance (可用余额): +amount when money comes into it,
    -amount when it leaves it, 0 when it moves elsewhere (a payout paid from held money, a
    platform advance paid straight to the buyer)."""
    source, target = MOVEMENT_LEGS[Movement(movement)]
    if target == LedgerAccount.AVAILABLE:
        return amount_fen
    if source == LedgerAccount.AVAILABLE:
        return -amount_fen
    return 0


class Memo(StrEnum):
    """Why a ledger row was written, as a code the pages translate (migration 0014 turned the older
    English texts into these; a row whose memo is not a code shows its text as it is)."""

    TOPUP_APP = "topup_app"  # the main account topped up on the funds page, through the payment channel
    TOPUP_CLI = "topup_cli"  # an operator's `flask funds topup`
    TOPUP_DEMO = "topup_demo"  # `flask seed-demo`
    ARREARS_RECOVERED = "arrears_recovered"  # R13 追缴: a top-up paid back the platform's advances
    PLATFORM_ADVANCE = "platform_advance"  # R13 平台垫付: the platform paid what the balance could not
    REPAIR_0006 = "repair_0006"  # migration 0006 recorded a refund that had been marked without money
    PLATFORM_ADVANCE_REPAIR_0006 = "platform_advance_repair_0006"  # the same, advanced by the platform


class FundsAccount(Model):
    __tablename__ = "funds_account"
    __table_args__ = (
        CheckConstraint("available_fen >= 0", name="available_not_negative"),
        CheckConstraint("held_fen >= 0", name="held_not_negative"),
        CheckConstraint("paid_out_fen >= 0", name="paid_out_not_negative"),
        CheckConstraint("refunded_fen >= 0", name="refunded_not_negative"),
        CheckConstraint("arrears_fen >= 0", name="arrears_not_negative"),
        # Everything the shop has is what it topped up plus what the platform advanced and is owed.
        CheckConstraint(
            "available_fen + held_fen + paid_out_fen + refunded_fen = topped_up_fen + arrears_fen",
            name="balances_add_up",
        ),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    available_fen: Mapped[int] = mapped_column(Fen, default=0)
    held_fen: Mapped[int] = mapped_column(Fen, default=0)
    paid_out_fen: Mapped[int] = mapped_column(Fen, default=0)
    topped_up_fen: Mapped[int] = mapped_column(Fen, default=0)
    refunded_fen: Mapped[int] = mapped_column(Fen, default=0)
    arrears_fen: Mapped[int] = mapped_column(Fen, default=0)  # 欠款: advances not yet recovered
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerEntry(Model):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("from_account <> to_account", name="two_accounts"),
        CheckConstraint(
            "movement IN ('topup', 'hold', 'capture', 'release', 'refund', 'advance', 'recover')", name="movement_known"
        ),
        CheckConstraint("available_after_fen >= 0", name="available_after_not_negative"),
        Index("ix_ledger_entry_shop_created", "shop_id", "created_at", "id"),
        # The funds page filtered by kind (one movement) reads this index in order, newest first.
        Index("ix_ledger_entry_shop_movement_created", "shop_id", "movement", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    movement: Mapped[str] = mapped_column(String(16))
    from_account: Mapped[str] = mapped_column(String(16))
    to_account: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(Fen)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payout.id"), nullable=True, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("after_sales_case.id"), nullable=True, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_account.id"), nullable=True)
    memo: Mapped[str] = mapped_column(String(200), default="")  # a Memo code ("" none); older rows: free text
    # The running balance: the available balance right after this movement. A shop's movements are
    # written one at a time under its funds-account lock, so (created_at, id) is the order they
    # happened in and this is exact (services/ledger.py).
    available_after_fen: Mapped[int] = mapped_column(Fen)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TopupStatus(StrEnum):
    PENDING = "pending"  # recorded; the payment channel has not (yet) said it took the money
    SUCCEEDED = "succeeded"  # the channel took it and the funds account was credited (once)
    FAILED = "failed"  # the channel refused it, or it never reached the channel: nothing moved


class FundsTopup(Model):
    """A top-up the main account asked for on the funds page (a simulated recharge through the
    payment channel port). One row per form (UNIQUE request key): a double submit finds it again.
    The row's id is the recharge's idempotency key at the channel."""

    __tablename__ = "funds_topup"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
        UniqueConstraint("shop_id", "request_key", name="uq_funds_topup_shop_request_key"),
        # Only the pending ones are indexed: the funds page shows its shop's, the worker settles them all.
        Index("ix_funds_topup_pending", "shop_id", "created_at", sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))  # (the UNIQUE key's first column indexes it)
    request_key: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(Fen)
    status: Mapped[str] = mapped_column(String(16), default=TopupStatus.PENDING)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_account.id"), nullable=True)
    channel_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The channel never records this recharge after this instant (the port's not_after rule), so
    # once it has passed, "unknown to the channel" means "never taken".
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

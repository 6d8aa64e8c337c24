"""Small payouts (小额打款), staff quotas (客服打款配额) and the daily usage counters."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint, Date, ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint, text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .accounts import MerchantAccount
from .orders import Order
from .types import Fen, UTCDateTime


class Payout(Model):
    """One small payout. The table is also the outbox the workers drain (DESIGN.md)."""

    __tablename__ = "payout"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(
            "status IN ('awaiting_approval', 'pending', 'processing', 'succeeded', 'failed', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint(
            "reason_code IN ('shipping_fee', 'price_difference', 'compensation', 'other')", name="reason_known"
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        UniqueConstraint("shop_id", "request_key", name="uq_payout_shop_request_key"),
        ForeignKeyConstraint(["order_id", "shop_id"], ["orders.id", "orders.shop_id"], name="fk_payout_order_same_shop"),
        Index("ix_payout_order_created", "order_id", "created_at"),
        Index("ix_payout_shop_created", "shop_id", "created_at", "id"),
        Index("ix_payout_status_due", "status", "next_attempt_at"),
        # The approvals badge (R20) on every page: only the payouts awaiting approval are indexed.
        Index("ix_payout_shop_awaiting_approval", "shop_id", "created_at", sqlite_where=text("status = 'awaiting_approval'"), postgresql_where=text("status = 'awaiting_approval'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    order_id: Mapped[int] = mapped_column()
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyer.id"), index=True)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id"))
    amount_fen: Mapped[int] = mapped_column(Fen)
    reason_code: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(String(200), default="")
    request_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    shop_day: Mapped[date] = mapped_column(Date)  # the shop-local day whose caps this payout counts against
    failure_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    channel_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # True once any attempt may have reached the channel (a timeout, a worker that died while
    # submitting); never cleared. Only while it is False may the reconciler give up on a pending
    # payout without asking the channel.
    maybe_at_channel: Mapped[bool] = mapped_column(default=False)
    # The latest instant at which any request sent for this payout may still take effect at the
    # channel (each request carries its own `not_after`; the channel refuses it after that). A
    # payout in doubt is failed only on the channel's "unknown" asked after this instant.
    channel_not_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # due for the worker
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # a worker holds it until then
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processing_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # R20/R21: why it was cancelled (withdrawn, rejected, approval_expired), who decided, with what note.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_account.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(foreign_keys=[order_id], primaryjoin="Payout.order_id == Order.id", viewonly=True)
    started_by: Mapped[MerchantAccount] = relationship(viewonly=True, foreign_keys=[started_by_id])
    decided_by: Mapped[MerchantAccount | None] = relationship(viewonly=True, foreign_keys=[decided_by_id])


class PayoutQuota(Model):
    """R7: what a sub-account may pay out. No row, disabled or a missing limit: no quota (R2.3)."""

    __tablename__ = "payout_quota"
    __table_args__ = (
        CheckConstraint("per_payout_fen IS NULL OR per_payout_fen > 0", name="per_payout_positive"),
        CheckConstraint("daily_fen IS NULL OR daily_fen > 0", name="daily_positive"),
        CheckConstraint(
            "per_payout_fen IS NULL OR daily_fen IS NULL OR per_payout_fen <= daily_fen", name="per_payout_within_daily"
        ),
        CheckConstraint("per_refund_fen IS NULL OR per_refund_fen > 0", name="per_refund_positive"),
        CheckConstraint("refund_daily_fen IS NULL OR refund_daily_fen > 0", name="refund_daily_positive"),
        CheckConstraint("per_refund_fen IS NULL OR refund_daily_fen IS NULL OR per_refund_fen <= refund_daily_fen",
                        name="per_refund_within_daily"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), index=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    per_payout_fen: Mapped[int | None] = mapped_column(Fen, nullable=True)
    daily_fen: Mapped[int | None] = mapped_column(Fen, nullable=True)
    # R22: whether, and up to what, this sub-account may decide refund cases (same shape as R7).
    refund_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    per_refund_fen: Mapped[int | None] = mapped_column(Fen, nullable=True)
    refund_daily_fen: Mapped[int | None] = mapped_column(Fen, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShopDayUsage(Model):
    """Payouts committed (pending + processing + succeeded) per shop and shop-local day (R2.5, R3.3)."""

    __tablename__ = "shop_day_usage"
    __table_args__ = (CheckConstraint("committed_fen >= 0", name="committed_not_negative"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    committed_fen: Mapped[int] = mapped_column(Fen, default=0)


class AccountDayUsage(Model):
    """Payouts committed per sub-account and shop-local day (R3.2)."""

    __tablename__ = "account_day_usage"
    __table_args__ = (
        CheckConstraint("committed_fen >= 0", name="committed_not_negative"),
        CheckConstraint("refunded_fen >= 0", name="refunded_not_negative"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    committed_fen: Mapped[int] = mapped_column(Fen, default=0)
    refunded_fen: Mapped[int] = mapped_column(Fen, default=0, server_default="0")  # R22: refunds it approved

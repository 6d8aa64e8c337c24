from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .accounts import Buyer
from .types import Fen, UTCDateTime


class Order(Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("paid_fen > 0", name="paid_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # R24: what was refunded on this order, kept with the refund's ledger movement; never more than paid.
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= paid_fen", name="refunded_within_paid"),
        CheckConstraint(
            "status IN ('paid', 'shipped', 'delivered', 'completed', 'closed')", name="status_known"
        ),
        # Lets shop-owned children reference (order, shop) so a row can never cross shops.
        UniqueConstraint("id", "shop_id", name="uq_orders_id_shop"),
        Index("ix_orders_shop_paid", "shop_id", "paid_at", "id"),
        Index("ix_orders_buyer_paid", "buyer_id", "paid_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyer.id"))
    item_summary: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(default=1)
    paid_fen: Mapped[int] = mapped_column(Fen)  # 实付金额
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    # R24: the sum of this order's refunds, updated under the order row lock in the transaction
    # that posts the refund's ledger movement. A full refund closes the order.
    refunded_fen: Mapped[int] = mapped_column(Fen, default=0, server_default="0")

    @property
    def refund_state(self) -> str:
        from ..domain.refund_rules import refund_state

        return refund_state(paid_fen=self.paid_fen, refunded_fen=self.refunded_fen or 0).value

    buyer: Mapped[Buyer] = relationship(lazy="joined")
    cases: Mapped[list["AfterSalesCase"]] = relationship(
        back_populates="order", order_by="AfterSalesCase.created_at.desc()", viewonly=True
    )


class AfterSalesCase(Model):
    __tablename__ = "after_sales_case"
    __table_args__ = (
        CheckConstraint("requested_fen > 0", name="requested_positive"),
        CheckConstraint("kind IN ('refund_only', 'return_and_refund')", name="kind_known"),
        CheckConstraint(
            "status IN ('awaiting_merchant', 'refunded', 'rejected', 'closed')", name="status_known"
        ),
        ForeignKeyConstraint(
            ["order_id", "shop_id"], ["orders.id", "orders.shop_id"], name="fk_case_order_same_shop"
        ),
        Index("ix_after_sales_case_shop_created", "shop_id", "created_at", "id"),
        CheckConstraint("refund_fen IS NULL OR refund_fen > 0", name="refund_positive"),
        CheckConstraint("advanced_fen IS NULL OR advanced_fen >= 0", name="advanced_not_negative"),
        # R24: no case says 已退款 without money having moved.
        CheckConstraint("status <> 'refunded' OR (refund_fen IS NOT NULL AND refund_fen > 0)",
                        name="refunded_has_money"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    order_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(24))
    requested_fen: Mapped[int] = mapped_column(Fen)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Fast refunds (R12-R14) and the merchant's review.
    fast: Mapped[bool] = mapped_column(default=False)  # applied for as a fast refund (极速退款)
    goods_intact: Mapped[bool | None] = mapped_column(nullable=True)  # return-and-refund: the buyer's word (R14)
    review_why: Mapped[str | None] = mapped_column(String(32), nullable=True)  # why it went to review
    refund_fen: Mapped[int | None] = mapped_column(Fen, nullable=True)  # what was refunded
    advanced_fen: Mapped[int | None] = mapped_column(Fen, nullable=True)  # of which the platform advanced (R13)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_account.id"), nullable=True)
    reject_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("buyer.id"), nullable=True, index=True)

    order: Mapped[Order] = relationship(
        back_populates="cases", foreign_keys=[order_id], primaryjoin="AfterSalesCase.order_id == Order.id"
    )


class CaseEvent(Model):
    """The history of an after-sales case, as the buyer's status page shows it (R15)."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case_created", "case_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("after_sales_case.id"))
    kind: Mapped[str] = mapped_column(String(32))  # submitted, auto_approved, to_review, approved, refunded, rejected, order_closed, repaired_closed, repaired_refunded
    detail: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

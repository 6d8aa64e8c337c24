from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Computed, ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import column
from sqlalchemy.sql.functions import FunctionElement

from ..extensions import Model
from .accounts import Buyer
from .types import Fen, UTCDateTime


ORDER_NO_LENGTH = 32
BUYER_NAME_LENGTH = 64
PHONE_LENGTH = 20  # digits with a country code at most; within reversed_text's ORDER_NO_LENGTH


class bytewise(FunctionElement[str]):
    """`bytewise(col)`: the column compared and sorted byte by byte, as the search indexes are built.
    PostgreSQL: `col COLLATE "C"` (under a language collation such as en_US a prefix range is not
    what it seems, and `LIKE 'q%'` cannot use a btree index); SQLite compares bytes already (BINARY)."""

    type = String()
    inherit_cache = True


@compiles(bytewise)
def _bytewise(element: bytewise, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(bytewise, "postgresql")
def _bytewise_pg(element: bytewise, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


class reversed_text(FunctionElement[str]):
    """The text reversed: PostgreSQL's immutable `reverse()`; SQLite has no such function, so there
    it is spelled out with `substr()` over the at most ORDER_NO_LENGTH characters an order number
    has (`substr` past the end gives ''). Used as a generated column's expression, which both
    databases accept only from deterministic built-in functions."""

    type = String()
    inherit_cache = True


@compiles(reversed_text)
def _reversed_text(element: reversed_text, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return " || ".join(f"substr({arg}, {i}, 1)" for i in range(ORDER_NO_LENGTH, 0, -1))


@compiles(reversed_text, "postgresql")
def _reversed_text_pg(element: reversed_text, compiler: Any, **kw: Any) -> str:
    return f"reverse({compiler.process(element.clauses, **kw)})"


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
        # Search by number (services/queries.shop_orders): a prefix and a suffix, each one range scan
        # of its shop's slice, `col >= q AND col < q_next`, read in index order with a LIMIT. On
        # PostgreSQL both keys compare byte by byte (COLLATE "C"): order_no_reversed by its column
        # collation; order_no in this index only (migration 0008 builds it as
        # `(shop_id, order_no COLLATE "C")`; the column and its unique index keep the database's
        # collation). Reflection does not report an index's collation, so autogenerate sees the
        # columns named here; tests/services/test_order_search.py checks the collation and the plans.
        Index("ix_orders_shop_order_no", "shop_id", "order_no"),
        Index("ix_orders_shop_order_no_reversed", "shop_id", "order_no_reversed"),
        # Search by buyer (migration 0016): the name by its first characters, the phone by its last
        # digits (its reversed form by its first), each one range scan of the shop's slice, as above.
        Index("ix_orders_shop_buyer_name", "shop_id", "buyer_name"),
        Index("ix_orders_shop_buyer_phone_reversed", "shop_id", "buyer_phone_reversed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(ORDER_NO_LENGTH), unique=True)
    # The order number reversed, so "ends with q" is "order_no_reversed starts with reverse(q)": a
    # generated column, computed by the database on every INSERT and UPDATE (ORM, Core or plain
    # SQL alike; it can be neither written nor out of step). Never name it in an INSERT. STORED:
    # PostgreSQL indexes only stored generated columns; on SQLite, where ALTER TABLE can add only
    # a VIRTUAL one, migration 0008 adds it VIRTUAL (its index holds the values; Alembic compares
    # the expression, not the storage).
    order_no_reversed: Mapped[str] = mapped_column(
        String(ORDER_NO_LENGTH).with_variant(String(ORDER_NO_LENGTH, collation="C"), "postgresql"),
        Computed(reversed_text(column("order_no")), persisted=True), nullable=False,
    )
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyer.id"))
    # Who the order is for, as the order carries it (收货人 and their phone, kept with the order like
    # the platform's order data; not looked up later): what merchants search by. The phone is shown
    # masked (its last 4 digits); reversed, as a generated column, for "the phone ends with".
    buyer_name: Mapped[str] = mapped_column(String(BUYER_NAME_LENGTH), default="", server_default="")
    buyer_phone: Mapped[str | None] = mapped_column(String(PHONE_LENGTH), nullable=True)
    buyer_phone_reversed: Mapped[str | None] = mapped_column(
        String(PHONE_LENGTH).with_variant(String(PHONE_LENGTH, collation="C"), "postgresql"),
        Computed(reversed_text(column("buyer_phone")), persisted=True), nullable=True,
    )
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
        # The after-sales badge on every page: only the cases awaiting the merchant are indexed.
        Index("ix_after_sales_case_shop_awaiting", "shop_id", sqlite_where=text("status = 'awaiting_merchant'"), postgresql_where=text("status = 'awaiting_merchant'")),
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

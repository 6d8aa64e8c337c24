"""In-site messages (站内信) and the append-only audit trail (R19)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime


class InSiteMessage(Model):
    """A message to a shop (R6) or to a buyer (R25): exactly one audience. Codes and params are
    stored; title and body are rendered per language at the edge from `kind` and `params`.

    A buyer's message has no shop_id: it belongs to the buyer (its shop is named in params), so a
    shop-scoped query can never show it. One message per (audience, kind, payout or case): a
    retried settlement inserts with ON CONFLICT DO NOTHING and never messages twice."""

    __tablename__ = "insite_message"
    __table_args__ = (
        CheckConstraint("(shop_id IS NULL) <> (buyer_id IS NULL)", name="one_audience"),
        CheckConstraint("payout_id IS NULL OR case_id IS NULL", name="one_subject"),
        UniqueConstraint("shop_id", "kind", "payout_id", name="uq_insite_message_shop_kind_payout"),
        UniqueConstraint("buyer_id", "kind", "payout_id", name="uq_insite_message_buyer_kind_payout"),
        UniqueConstraint("buyer_id", "kind", "case_id", name="uq_insite_message_buyer_kind_case"),
        Index("ix_insite_message_shop_created", "shop_id", "created_at", "id"),
        Index("ix_insite_message_buyer_created", "buyer_id", "created_at", "id"),
        # The bells count unread messages on every page: only the unread rows are indexed.
        Index("ix_insite_message_shop_unread", "shop_id", sqlite_where=text("read_at IS NULL"), postgresql_where=text("read_at IS NULL")),
        Index("ix_insite_message_buyer_unread", "buyer_id", sqlite_where=text("read_at IS NULL"), postgresql_where=text("read_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id"), nullable=True)  # audience: a shop
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("buyer.id"), nullable=True)  # audience: a buyer
    kind: Mapped[str] = mapped_column(String(32))
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payout.id"), nullable=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("after_sales_case.id"), nullable=True)
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    link: Mapped[str] = mapped_column(String(200), default="")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Model):
    """Who did what, when, to what, with the state before and after. Never updated or deleted."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_shop_created", "shop_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id"), nullable=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # merchant / buyer / system
    actor_id: Mapped[int | None] = mapped_column(nullable=True)
    action: Mapped[str] = mapped_column(String(48))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    after: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

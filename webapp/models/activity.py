"""In-site messages (站内信) and the append-only audit trail (R19)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class InSiteMessage(db.Model):
    """A message to the shop. Title and body are rendered per language from `kind` and `params`."""

    __tablename__ = "insite_message"
    __table_args__ = (
        UniqueConstraint("kind", "payout_id", name="uq_insite_message_kind_payout"),  # one message per event
        Index("ix_insite_message_shop_created", "shop_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    kind: Mapped[str] = mapped_column(String(32))
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payout.id"), nullable=True)
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    link: Mapped[str] = mapped_column(String(200), default="")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(db.Model):
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

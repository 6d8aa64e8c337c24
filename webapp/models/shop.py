from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import Fen, UTCDateTime

DEFAULT_DAILY_PAYOUT_CAP_FEN = 1_500_000  # ¥15,000 (R2.5)


class Shop(db.Model):
    __tablename__ = "shop"
    __table_args__ = (CheckConstraint("daily_payout_cap_fen > 0", name="daily_cap_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    certified: Mapped[bool] = mapped_column(default=False)  # 商家认证 passed (R10)
    setup_complete: Mapped[bool] = mapped_column(default=False)  # R10
    daily_payout_cap_fen: Mapped[int] = mapped_column(Fen, default=DEFAULT_DAILY_PAYOUT_CAP_FEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefundSettings(db.Model):
    """结算设置: fast refund on/off and the refund note (退款说明). Once confirmed, the note, the
    confirmation time and who confirmed are frozen: a database trigger refuses any change (R11)."""

    __tablename__ = "refund_settings"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_account.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

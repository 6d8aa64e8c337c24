from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
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

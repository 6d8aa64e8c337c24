from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import Fen, UTCDateTime

DEFAULT_DAILY_PAYOUT_CAP_FEN = 1_500_000  # ¥15,000 (R2.5)
DEFAULT_UNDO_WINDOW_SECONDS = 30  # R21
from ..domain.payout_controls import MAX_UNDO_WINDOW_SECONDS  # noqa: E402  (R21, one place)


class Shop(Model):
    __tablename__ = "shop"
    __table_args__ = (
        CheckConstraint("daily_payout_cap_fen > 0", name="daily_cap_positive"),
        CheckConstraint(f"undo_window_seconds BETWEEN 0 AND {MAX_UNDO_WINDOW_SECONDS}", name="undo_window_range"),
        CheckConstraint("payout_approval_fen IS NULL OR payout_approval_fen > 0", name="payout_approval_positive"),
        CheckConstraint("refund_approval_fen IS NULL OR refund_approval_fen > 0", name="refund_approval_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    certified: Mapped[bool] = mapped_column(default=False)  # 商家认证 passed (R10)
    setup_complete: Mapped[bool] = mapped_column(default=False)  # R10
    daily_payout_cap_fen: Mapped[int] = mapped_column(Fen, default=DEFAULT_DAILY_PAYOUT_CAP_FEN)
    # R21: a new payout goes to the channel only after this many seconds (it can be withdrawn until then).
    undo_window_seconds: Mapped[int] = mapped_column(default=DEFAULT_UNDO_WINDOW_SECONDS,
                                                     server_default=str(DEFAULT_UNDO_WINDOW_SECONDS))
    # R20: payouts (and refunds a sub-account decides) at or above these need approval; None: off.
    payout_approval_fen: Mapped[int | None] = mapped_column(Fen, nullable=True)
    refund_approval_fen: Mapped[int | None] = mapped_column(Fen, nullable=True)
    # Sub-accounts must use two-factor sign-in (issue 12 point 3): set by the main account; off by default.
    staff_two_factor_required: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefundSettings(Model):
    """结算设置: fast refund on/off and the refund note (退款说明). Once confirmed, the note, the
    confirmation time and who confirmed are frozen: a database trigger refuses any change (R11)."""

    __tablename__ = "refund_settings"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_account.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""Read-side rollups of the payout table, kept in the same transaction as the payouts they count."""
from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import Fen


class PayoutDayTotal(Model):
    """How many payouts, and how much, per shop, shop-local day (`Payout.shop_day`), starter and
    status: what the records page totals (R5) read, so they cost the same at 1 k or 1 M payouts.

    Written only by services/payout_reports.py at commit (deltas recorded by `_create` and
    `move()`, applied sorted by key; rollup rows are the last rows a transaction locks). A row
    whose payouts all left its status stays with zeros."""

    __tablename__ = "payout_day_total"
    __table_args__ = (
        CheckConstraint("payout_count >= 0", name="count_not_negative"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    payout_count: Mapped[int] = mapped_column(default=0)
    amount_fen: Mapped[int] = mapped_column(Fen, default=0)

"""Read models for payouts: shop-wide records with filters and totals (R5), today at a glance and
the last 14 days by status. Every query is scoped to one shop (R18)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select

from ..domain.calendar import day_bounds, shop_day
from ..domain.states import PayoutStatus
from ..extensions import db
from ..models import AccountDayUsage, MerchantAccount, Order, Payout, PayoutQuota, Shop, ShopDayUsage
from .queries import Page, keyset, normalize_order_no


@dataclass(frozen=True)
class RecordFilter:
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    staff_id: int | None = None
    order_no: str = ""


def _filtered(shop_id: int, f: RecordFilter) -> Select:
    stmt = select(Payout).where(Payout.shop_id == shop_id)
    if f.status:
        stmt = stmt.where(Payout.status == f.status)
    if f.date_from:
        stmt = stmt.where(Payout.created_at >= day_bounds(f.date_from)[0])
    if f.date_to:
        stmt = stmt.where(Payout.created_at < day_bounds(f.date_to)[1])
    if f.staff_id:
        stmt = stmt.where(Payout.started_by_id == f.staff_id)
    no = normalize_order_no(f.order_no)
    if no:
        stmt = stmt.join(Order, Order.id == Payout.order_id).where(Order.order_no.startswith(no, autoescape=True))
    return stmt


def records(shop_id: int, f: RecordFilter, cursor: str | None = None, limit: int = 25) -> Page[Payout]:
    return keyset(_filtered(shop_id, f), Payout.created_at, Payout.id, cursor, limit)


def totals(shop_id: int, f: RecordFilter) -> dict[str, tuple[int, int]]:
    """status -> (count, sum of fen) over every row the filter matches (not only this page)."""
    sub = _filtered(shop_id, f).with_only_columns(Payout.status, Payout.amount_fen).subquery()
    rows = db.session.execute(
        select(sub.c.status, func.count(), func.coalesce(func.sum(sub.c.amount_fen), 0)).group_by(sub.c.status)
    ).all()
    return {status: (int(n), int(s)) for status, n, s in rows}


def export_rows(shop_id: int, f: RecordFilter, batch: int = 1000):
    """Every matching payout, newest first, streamed in batches (for CSV export)."""
    cursor = None
    while True:
        page = records(shop_id, f, cursor=cursor, limit=batch)
        yield from page.rows
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def shop_staff(shop_id: int) -> Sequence[MerchantAccount]:
    return db.session.scalars(
        select(MerchantAccount).where(MerchantAccount.shop_id == shop_id).order_by(MerchantAccount.role, MerchantAccount.id)
    ).all()


@dataclass(frozen=True)
class Glance:
    shop_used_fen: int
    shop_cap_fen: int
    account_used_fen: int | None  # None for main accounts (no quota)
    account_daily_fen: int | None
    account_enabled: bool

    @staticmethod
    def pct(used: int, cap: int | None) -> int:
        return 0 if not cap else min(100, round(used * 100 / cap))


def glance(account: MerchantAccount, now: datetime) -> Glance:
    day = shop_day(now)
    shop = db.session.get(Shop, account.shop_id)
    assert shop is not None  # the account's own shop (a foreign key)
    shop_usage = db.session.get(ShopDayUsage, (account.shop_id, day))
    quota = None if account.is_main else db.session.get(PayoutQuota, account.id)
    acct_usage = None if account.is_main else db.session.get(AccountDayUsage, (account.id, day))
    return Glance(
        shop_used_fen=shop_usage.committed_fen if shop_usage else 0, shop_cap_fen=shop.daily_payout_cap_fen,
        account_used_fen=None if account.is_main else (acct_usage.committed_fen if acct_usage else 0),
        account_daily_fen=quota.daily_fen if quota else None, account_enabled=bool(quota and quota.enabled),
    )


def daily_series(shop_id: int, now: datetime, days: int = 14) -> list[tuple[date, dict[str, int]]]:
    """The last `days` shop-local days (oldest first), each with fen per status."""
    last = shop_day(now)
    first = last - timedelta(days=days - 1)
    rows = db.session.execute(
        select(Payout.shop_day, Payout.status, func.sum(Payout.amount_fen))
        .where(Payout.shop_id == shop_id, Payout.shop_day >= first, Payout.shop_day <= last)
        .group_by(Payout.shop_day, Payout.status)
    ).all()
    by_day: dict[date, dict[str, int]] = {first + timedelta(days=i): {s: 0 for s in PayoutStatus} for i in range(days)}
    for day, status, total in rows:
        by_day[day][status] = int(total)
    return sorted(by_day.items())

"""Read models for payouts: shop-wide records with filters and totals (R5), today at a glance and
the last 14 days by status. Every query is scoped to one shop (R18)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Row, Select, and_, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from ..domain import search
from ..domain.calendar import day_bounds, shop_day
from ..domain.states import PayoutStatus
from ..db import AnySession
from ..models import AccountDayUsage, Buyer, MerchantAccount, Order, Payout, PayoutQuota, Shop, ShopDayUsage
from .queries import SEARCH_ORDERS, Page, keyset, matching_order_ids
from ..models.rollups import PayoutDayTotal


@dataclass(frozen=True)
class RecordFilter:
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    staff_id: int | None = None
    q: str = ""  # the search box: order number head or tail, buyer name or phone tail (domain/search.py)
    # What `q` found (searched()): the matching orders' ids, None when nothing was searched, and
    # whether more orders matched than a search looks through.
    order_ids: tuple[int, ...] | None = None
    more_orders: bool = False


def searched(session: AnySession, shop_id: int, f: RecordFilter) -> RecordFilter:
    """The filter with its search resolved to the orders it finds (at most SEARCH_ORDERS of them,
    each way one index range scan: services/queries.find_orders)."""
    query = search.parse(f.q)
    if query.empty:
        return replace(f, q="", order_ids=None, more_orders=False)
    ids, more = matching_order_ids(session, shop_id, query, SEARCH_ORDERS)
    return replace(f, q=query.text, order_ids=tuple(ids), more_orders=more)


def _filtered(shop_id: int, f: RecordFilter, *, join_order: bool = False) -> Select:
    stmt = select(Payout).where(Payout.shop_id == shop_id)
    if f.status:
        stmt = stmt.where(Payout.status == f.status)
    if f.date_from:
        stmt = stmt.where(Payout.created_at >= day_bounds(f.date_from)[0])
    if f.date_to:
        stmt = stmt.where(Payout.created_at < day_bounds(f.date_to)[1])
    if f.staff_id:
        stmt = stmt.where(Payout.started_by_id == f.staff_id)
    if f.order_ids is not None:
        stmt = stmt.where(Payout.order_id.in_(f.order_ids or (0,)))
    if join_order:
        stmt = stmt.join(Order, Order.id == Payout.order_id)
    return stmt


def records(session: AnySession, shop_id: int, f: RecordFilter, cursor: str | None = None, limit: int = 25) -> Page[Payout]:
    """A page of payouts with the order, its buyer and the starter loaded in the same query (no N+1)."""
    stmt = _filtered(shop_id, f).options(
        joinedload(Payout.order), joinedload(Payout.started_by).lazyload(MerchantAccount.shop))
    return keyset(session, stmt, Payout.created_at, Payout.id, cursor, limit)


def totals(session: AnySession, shop_id: int, f: RecordFilter) -> dict[str, tuple[int, int]]:
    """status -> (count, sum of fen) over every row the filter matches (not only this page).

    Without a search: one query on the per-day rollups (payout_day_total, whose rows grow with days
    x staff x statuses, not with payouts). With one: the payouts of the orders it found (at most
    SEARCH_ORDERS), counted directly."""
    if f.order_ids is not None:
        return direct_totals(session, shop_id, f)
    t = PayoutDayTotal
    stmt = select(t.status, func.sum(t.payout_count), func.sum(t.amount_fen)).where(t.shop_id == shop_id)
    if f.status:
        stmt = stmt.where(t.status == f.status)
    if f.date_from:  # shop-local days: Payout.shop_day is the day of created_at in the shop's zone
        stmt = stmt.where(t.day >= f.date_from)
    if f.date_to:
        stmt = stmt.where(t.day <= f.date_to)
    if f.staff_id:
        stmt = stmt.where(t.started_by_id == f.staff_id)
    stmt = stmt.group_by(t.status).having(func.sum(t.payout_count) > 0)  # rows left at zero stand for nothing
    return {status: (int(n), int(s)) for status, n, s in session.execute(stmt).all()}


def direct_totals(session: AnySession, shop_id: int, f: RecordFilter) -> dict[str, tuple[int, int]]:
    """totals() counted on the payout table itself: with a search (bounded by the orders it found),
    and the reference the rollups are tested against."""
    sub = _filtered(shop_id, f).with_only_columns(Payout.status, Payout.amount_fen).subquery()
    rows = session.execute(
        select(sub.c.status, func.count(), func.coalesce(func.sum(sub.c.amount_fen), 0)).group_by(sub.c.status)
    ).all()
    return {status: (int(n), int(s)) for status, n, s in rows}


# --- keeping the rollups (payout_day_total) ---------------------------------------------------------
#
def export_rows(session: AnySession, shop_id: int, f: RecordFilter, batch: int = 1000) -> Iterator[Row]:
    """Every matching payout, newest first, as plain rows (no ORM objects: constant memory),
    one query per `batch` rows with the order number and the two names joined in."""
    buyer, starter = aliased(Buyer), aliased(MerchantAccount)
    stmt = (
        _filtered(shop_id, f, join_order=True).join(buyer, buyer.id == Payout.buyer_id).join(starter, starter.id == Payout.started_by_id)
        .with_only_columns(
            Payout.id, Order.order_no, buyer.display_name.label("buyer_name"), Payout.amount_fen, Payout.reason_code,
            Payout.note, starter.display_name.label("starter_name"), Payout.created_at, Payout.status,
            Payout.failure_reason, Payout.cancel_reason, Payout.succeeded_at, Payout.failed_at, Payout.cancelled_at)
        .order_by(Payout.created_at.desc(), Payout.id.desc()).limit(batch)
    )
    after: tuple[datetime, int] | None = None
    while True:
        page = stmt if after is None else stmt.where(or_(Payout.created_at < after[0],
                                                          and_(Payout.created_at == after[0], Payout.id < after[1])))
        rows = session.execute(page).all()
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].id)


def shop_staff(session: AnySession, shop_id: int) -> Sequence[MerchantAccount]:
    return session.scalars(
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


def glance(session: AnySession, account: MerchantAccount, now: datetime) -> Glance:
    day = shop_day(now)
    shop = session.get(Shop, account.shop_id)
    assert shop is not None  # the account's own shop (a foreign key)
    shop_usage = session.get(ShopDayUsage, (account.shop_id, day))
    quota = None if account.is_main else session.get(PayoutQuota, account.id)
    acct_usage = None if account.is_main else session.get(AccountDayUsage, (account.id, day))
    return Glance(
        shop_used_fen=shop_usage.committed_fen if shop_usage else 0, shop_cap_fen=shop.daily_payout_cap_fen,
        account_used_fen=None if account.is_main else (acct_usage.committed_fen if acct_usage else 0),
        account_daily_fen=quota.daily_fen if quota else None, account_enabled=bool(quota and quota.enabled),
    )


def daily_series(session: AnySession, shop_id: int, now: datetime, days: int = 14) -> list[tuple[date, dict[str, int]]]:
    """The last `days` shop-local days (oldest first), each with fen per status."""
    last = shop_day(now)
    first = last - timedelta(days=days - 1)
    rows = session.execute(
        select(Payout.shop_day, Payout.status, func.sum(Payout.amount_fen))
        .where(Payout.shop_id == shop_id, Payout.shop_day >= first, Payout.shop_day <= last)
        .group_by(Payout.shop_day, Payout.status)
    ).all()
    by_day: dict[date, dict[str, int]] = {first + timedelta(days=i): {s: 0 for s in PayoutStatus} for i in range(days)}
    for day, status, total in rows:
        by_day[day][status] = int(total)
    return sorted(by_day.items())

"""Read models for the pages: every merchant query is scoped to a shop, every buyer query to a
buyer (R18). Lists use keyset pagination, newest first (no OFFSET). The `get_*` readers raise a
NotFound (services/errors.py) that the web layer answers with 404 in one place."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, Sequence, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import AfterSalesCase, MerchantAccount, Order, Payout, Shop
from .errors import CaseNotFound, OrderNotFound, PayoutNotFound

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    next_cursor: str | None


def encode_cursor(at: datetime, pk: int) -> str:
    micros = int(at.timestamp() * 1_000_000)
    return f"{micros}.{pk}"


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor or not re.fullmatch(r"\d{1,17}\.\d{1,18}", cursor):
        return None
    micros, pk = cursor.split(".")
    try:
        at = datetime.fromtimestamp(int(micros) / 1_000_000, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return at, int(pk)


def keyset(stmt: Select, time_col, id_col, cursor: str | None, limit: int) -> Page:
    """Newest first by (time, id), `limit` rows after the cursor; no OFFSET."""
    after = decode_cursor(cursor)
    if after is not None:
        at, pk = after
        stmt = stmt.where(or_(time_col < at, and_(time_col == at, id_col < pk)))
    rows = db.session.scalars(stmt.order_by(time_col.desc(), id_col.desc()).limit(limit + 1)).unique().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, time_col.key), getattr(last, id_col.key))
    return Page(rows, next_cursor)


def normalize_order_no(text: str | None) -> str:
    """Order numbers are digits; people paste them with spaces or dashes."""
    return re.sub(r"[^0-9A-Za-z]", "", text or "")[:32]


def shop_orders(shop_id: int, *, q: str = "", status: str = "", cursor: str | None = None, limit: int = 25) -> Page[Order]:
    stmt = select(Order).where(Order.shop_id == shop_id)
    q = normalize_order_no(q)
    if q:
        stmt = stmt.where(Order.order_no.startswith(q, autoescape=True))
    if status == "partly_refunded":  # R24: by what refunds did to the order
        stmt = stmt.where(Order.refunded_fen > 0, Order.refunded_fen < Order.paid_fen)
    elif status == "refunded":
        stmt = stmt.where(Order.refunded_fen > 0, Order.refunded_fen >= Order.paid_fen)
    elif status:
        stmt = stmt.where(Order.status == status)
    return keyset(stmt, Order.paid_at, Order.id, cursor, limit)


def shop_order(shop_id: int, order_no: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.shop_id == shop_id, Order.order_no == order_no))


def buyer_orders(buyer_id: int, *, cursor: str | None = None, limit: int = 25) -> Page[Order]:
    stmt = select(Order).where(Order.buyer_id == buyer_id)
    return keyset(stmt, Order.paid_at, Order.id, cursor, limit)


def buyer_order(buyer_id: int, order_no: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.buyer_id == buyer_id, Order.order_no == order_no))


def shop_cases(shop_id: int, *, status: str = "", fast: bool = False, cursor: str | None = None,
               limit: int = 25) -> Page[AfterSalesCase]:
    stmt = select(AfterSalesCase).where(AfterSalesCase.shop_id == shop_id)
    if status:
        stmt = stmt.where(AfterSalesCase.status == status)
    if fast:
        stmt = stmt.where(AfterSalesCase.fast.is_(True))
    return keyset(stmt, AfterSalesCase.created_at, AfterSalesCase.id, cursor, limit)


def shop_case(shop_id: int, case_id: int) -> AfterSalesCase | None:
    return db.session.scalar(
        select(AfterSalesCase).where(AfterSalesCase.shop_id == shop_id, AfterSalesCase.id == case_id)
    )


def get_shop_order(shop_id: int, order_no: str) -> Order:
    """The shop's order, or OrderNotFound (another shop's order included, R18)."""
    order = shop_order(shop_id, order_no)
    if order is None:
        raise OrderNotFound(order_no)
    return order


def get_buyer_order(buyer_id: int, order_no: str) -> Order:
    order = buyer_order(buyer_id, order_no)
    if order is None:
        raise OrderNotFound(order_no)
    return order


def get_shop_case(shop_id: int, case_id: int) -> AfterSalesCase:
    case = shop_case(shop_id, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def get_buyer_case(buyer_id: int, case_id: int) -> AfterSalesCase:
    case = db.session.scalar(select(AfterSalesCase).where(AfterSalesCase.id == case_id,
                                                          AfterSalesCase.buyer_id == buyer_id))
    if case is None:
        raise CaseNotFound(case_id)
    return case


def latest_buyer_case(buyer_id: int, order_id: int) -> AfterSalesCase | None:
    """The buyer's most recent application on this order, whatever its status."""
    return db.session.scalar(select(AfterSalesCase).where(
        AfterSalesCase.order_id == order_id, AfterSalesCase.buyer_id == buyer_id).order_by(AfterSalesCase.id.desc()))


# --- payouts ---------------------------------------------------------------------------------

def get_shop_payout(shop_id: int, payout_id: int, *, for_row: bool = False) -> Payout:
    """The shop's payout, or PayoutNotFound. `for_row`: with what its status row shows, in one
    indexed read by primary key (the live status polls this)."""
    stmt = select(Payout).where(Payout.id == payout_id, Payout.shop_id == shop_id)
    if for_row:
        stmt = stmt.options(joinedload(Payout.started_by).lazyload("*"), joinedload(Payout.order).lazyload("*"))
    payout = db.session.scalar(stmt)
    if payout is None:
        raise PayoutNotFound(payout_id)
    return payout


def order_payouts(order_id: int, *, buyer_id: int | None = None) -> list[Payout]:
    """An order's payouts, newest first; with `buyer_id`, only if they went to that buyer."""
    stmt = select(Payout).where(Payout.order_id == order_id)
    if buyer_id is not None:
        stmt = stmt.where(Payout.buyer_id == buyer_id)
    return list(db.session.scalars(stmt.order_by(Payout.created_at.desc(), Payout.id.desc())))


def order_payout(order_id: int, payout_id: int) -> Payout | None:
    """One payout of this order (the result step of the flow), or None."""
    return db.session.scalar(select(Payout).where(Payout.id == payout_id, Payout.order_id == order_id))


def get_buyer_payout(buyer_id: int, payout_id: int) -> Payout:
    payout = db.session.scalar(select(Payout).where(Payout.id == payout_id, Payout.buyer_id == buyer_id))
    if payout is None:
        raise PayoutNotFound(payout_id)
    return payout


# --- shops -----------------------------------------------------------------------------------

def shop(shop_id: int) -> Shop:
    found = db.session.get(Shop, shop_id)
    assert found is not None  # the signed-in account's shop (a foreign key)
    return found


def shop_account(shop_id: int, account_id: int | None) -> MerchantAccount | None:
    """An account of this shop (who confirmed a setting, ...), or None."""
    if account_id is None:
        return None
    return db.session.scalar(select(MerchantAccount).where(MerchantAccount.id == account_id,
                                                           MerchantAccount.shop_id == shop_id))

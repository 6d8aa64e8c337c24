"""Read models for the pages: every merchant query is scoped to a shop, every buyer query to a
buyer (R18). Lists use keyset pagination, newest first (no OFFSET)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, Sequence, TypeVar

from sqlalchemy import Select, and_, or_, select

from ..extensions import db
from ..models import AfterSalesCase, Order

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

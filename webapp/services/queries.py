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

from ..db import AnySession
from ..domain import search
from ..domain.search import SearchQuery
from ..models import AfterSalesCase, MerchantAccount, Order, Payout, Shop
from ..models.orders import ORDER_NO_LENGTH, bytewise
from .errors import CaseNotFound, OrderNotFound, PayoutNotFound

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    next_cursor: str | None


def encode_cursor(at: datetime, pk: int) -> str:
    micros = int(at.timestamp() * 1_000_000)
    return f"{micros}.{pk}"


# Every table's id is an INTEGER column: 32 bits on PostgreSQL, which refuses (an error, not "no
# row") to compare one with a bigger number. An id from a URL, a query or a cursor is at most this.
MAX_ID = 2**31 - 1


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor or not re.fullmatch(r"[0-9]{1,17}\.[0-9]{1,10}", cursor) or int(cursor.split(".")[1]) > MAX_ID:
        return None
    micros, pk = cursor.split(".")
    try:
        at = datetime.fromtimestamp(int(micros) / 1_000_000, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return at, int(pk)


def keyset(session: AnySession, stmt: Select, time_col, id_col, cursor: str | None, limit: int) -> Page:
    """Newest first by (time, id), `limit` rows after the cursor; no OFFSET."""
    after = decode_cursor(cursor)
    if after is not None:
        at, pk = after
        stmt = stmt.where(or_(time_col < at, and_(time_col == at, id_col < pk)))
    rows = session.scalars(stmt.order_by(time_col.desc(), id_col.desc()).limit(limit + 1)).unique().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, time_col.key), getattr(last, id_col.key))
    return Page(rows, next_cursor)


def normalize_order_no(text: str | None) -> str:
    """Order numbers are digits; people paste them with spaces or dashes."""
    return re.sub(r"[^0-9A-Za-z]", "", text or "")[:ORDER_NO_LENGTH]


@dataclass(frozen=True)
class OrderPage(Page[Order]):
    """The order list. A search by number (`q`) is one page without a cursor: the orders whose
    number starts with q, then those whose number ends with q; `more` when others match too."""

    more: bool = False


def _after(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix` (by code point, which is the
    bytewise order of UTF-8): its last character incremented (past the surrogates, which UTF-8
    cannot hold); None when there is no such string (only U+10FFFF characters)."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    if last > 0x10FFFF:
        return _after(prefix[:-1]) if len(prefix) > 1 else None
    return prefix[:-1] + chr(last)


def _starts_with(key, prefix: str):
    """`key` starts with `prefix` as an index range (never LIKE: generic plans use the index too)."""
    upper = _after(prefix)
    return and_(key >= prefix, key < upper) if upper is not None else key >= prefix


def _with_status(stmt: Select, status: str) -> Select:
    if status == "partly_refunded":  # R24: by what refunds did to the order
        return stmt.where(Order.refunded_fen > 0, Order.refunded_fen < Order.paid_fen)
    if status == "refunded":
        return stmt.where(Order.refunded_fen > 0, Order.refunded_fen >= Order.paid_fen)
    if status:
        return stmt.where(Order.status == status)
    return stmt


def shop_orders(session: AnySession, shop_id: int, *, q: str | SearchQuery = "", status: str = "",
                cursor: str | None = None, limit: int = 25) -> OrderPage:
    """The shop's orders, newest first by keyset; with `q` (the search box's text, or parsed), a
    search (see find_orders)."""
    query = q if isinstance(q, SearchQuery) else search.parse(q)
    if not query.empty:
        return find_orders(session, shop_id, query, status=status, limit=limit)
    page = keyset(session, _with_status(select(Order).where(Order.shop_id == shop_id), status),
                  Order.paid_at, Order.id, cursor, limit)
    return OrderPage(page.rows, page.next_cursor)


def search_orders(session: AnySession, shop_id: int, q: str, *, status: str = "", limit: int = 25) -> OrderPage:
    """Orders of the shop whose number starts or ends with `q` (see find_orders)."""
    q = normalize_order_no(q)
    if not q:
        raise ValueError("an order search needs a number")
    return find_orders(session, shop_id, SearchQuery(q, order_no=q), status=status, limit=limit)


def _search_groups(query: SearchQuery) -> list[tuple[object, object, bool]]:
    """(condition, index key, shown by number) of each way the search finds an order, in the order
    the page lists them: number starts with, number ends with, phone ends with, name starts with."""
    groups: list[tuple[object, object, bool]] = []
    if query.order_no:
        number = bytewise(Order.order_no)
        groups.append((_starts_with(number, query.order_no), number, True))
        groups.append((_starts_with(Order.order_no_reversed, query.order_no[::-1]), Order.order_no_reversed, True))
    if query.phone_tail:
        groups.append((_starts_with(Order.buyer_phone_reversed, query.phone_tail[::-1]), Order.buyer_phone_reversed,
                       False))
    if query.buyer_name:
        name = bytewise(Order.buyer_name)
        groups.append((_starts_with(name, query.buyer_name), name, False))
    return groups


def find_orders(session: AnySession, shop_id: int, query: SearchQuery, *, status: str = "",
                limit: int = 25) -> OrderPage:
    """The shop's orders the search finds: those whose number starts with it (by number), then
    ends with it (by number), then whose buyer's phone ends with it, then whose buyer's name starts
    with it (newest first): none twice, at most `limit`, and `more` when others match too.

    Each way is one range scan of an index on (shop_id, key), `key >= q AND key < q_next`, read in
    index order with LIMIT `limit` + 1: the cost is the same at 200 k or 1.2 M orders and however
    many match (a status filter is checked on the rows the scan reads, so a rare status makes it
    read further). "Ends with q" is "the reversed key starts with q reversed" (generated columns
    orders.order_no_reversed and orders.buyer_phone_reversed). Keys compare bytewise, as their
    indexes are built (models/orders.py)."""
    base = _with_status(select(Order).where(Order.shop_id == shop_id), status)
    rows: list[Order] = []
    for condition, key, by_number in _search_groups(query):
        room = limit - len(rows)
        stmt = base.where(condition)  # type: ignore[arg-type]
        if rows:  # none twice
            stmt = stmt.where(Order.id.not_in([o.id for o in rows]))
        found = list(session.scalars(stmt.order_by(key).limit(room + 1)).unique())  # type: ignore[arg-type]
        if len(found) > room:
            rows += _shown(found[:room], by_number)
            return OrderPage(rows, None, more=True)
        rows += _shown(found, by_number)
    return OrderPage(rows, None, more=False)


def _shown(found: list[Order], by_number: bool) -> list[Order]:
    """A group read in its index's order, shown by number (numbers) or newest first (buyers)."""
    if by_number:
        return sorted(found, key=lambda o: o.order_no)
    return sorted(found, key=lambda o: (o.paid_at, o.id), reverse=True)


def matching_order_ids(session: AnySession, shop_id: int, query: SearchQuery, limit: int) -> tuple[list[int], bool]:
    """The ids of at most `limit` of the shop's orders the search finds (find_orders), and whether
    there are more: what the after-sales and payout lists search through."""
    page = find_orders(session, shop_id, query, limit=limit)
    return [o.id for o in page.rows], page.more


def shop_order(session: AnySession, shop_id: int, order_no: str) -> Order | None:
    return session.scalar(select(Order).where(Order.shop_id == shop_id, Order.order_no == order_no))


def buyer_orders(session: AnySession, buyer_id: int, *, cursor: str | None = None, limit: int = 25) -> Page[Order]:
    stmt = select(Order).where(Order.buyer_id == buyer_id)
    return keyset(session, stmt, Order.paid_at, Order.id, cursor, limit)


def buyer_order(session: AnySession, buyer_id: int, order_no: str) -> Order | None:
    return session.scalar(select(Order).where(Order.buyer_id == buyer_id, Order.order_no == order_no))


@dataclass(frozen=True)
class CasePage(Page[AfterSalesCase]):
    """The after-sales list. A search (`q`) is one page without a cursor, over the cases of the
    first SEARCH_ORDERS orders the search finds; `more` when there are more of either."""

    more: bool = False


SEARCH_ORDERS = 200  # how many matching orders a search of after-sales or payouts looks through


def shop_cases(session: AnySession, shop_id: int, *, status: str = "", fast: bool = False, cursor: str | None = None,
               limit: int = 25, q: str | SearchQuery = "") -> CasePage:
    stmt = select(AfterSalesCase).where(AfterSalesCase.shop_id == shop_id).options(joinedload(AfterSalesCase.order))
    if status:
        stmt = stmt.where(AfterSalesCase.status == status)
    if fast:
        stmt = stmt.where(AfterSalesCase.fast.is_(True))
    query = q if isinstance(q, SearchQuery) else search.parse(q)
    if not query.empty:
        order_ids, more_orders = matching_order_ids(session, shop_id, query, SEARCH_ORDERS)
        stmt = stmt.where(AfterSalesCase.order_id.in_(order_ids or [0]))
        page = keyset(session, stmt, AfterSalesCase.created_at, AfterSalesCase.id, None, limit)
        return CasePage(page.rows, None, more=more_orders or page.next_cursor is not None)
    page = keyset(session, stmt, AfterSalesCase.created_at, AfterSalesCase.id, cursor, limit)
    return CasePage(page.rows, page.next_cursor)


def shop_case(session: AnySession, shop_id: int, case_id: int) -> AfterSalesCase | None:
    return session.scalar(
        select(AfterSalesCase).where(AfterSalesCase.shop_id == shop_id, AfterSalesCase.id == case_id)
    )


def get_shop_order(session: AnySession, shop_id: int, order_no: str) -> Order:
    """The shop's order, or OrderNotFound (another shop's order included, R18)."""
    order = shop_order(session, shop_id, order_no)
    if order is None:
        raise OrderNotFound(order_no)
    return order


def get_buyer_order(session: AnySession, buyer_id: int, order_no: str) -> Order:
    order = buyer_order(session, buyer_id, order_no)
    if order is None:
        raise OrderNotFound(order_no)
    return order


def get_shop_case(session: AnySession, shop_id: int, case_id: int) -> AfterSalesCase:
    case = shop_case(session, shop_id, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def get_buyer_case(session: AnySession, buyer_id: int, case_id: int) -> AfterSalesCase:
    case = session.scalar(select(AfterSalesCase).where(AfterSalesCase.id == case_id,
                                                          AfterSalesCase.buyer_id == buyer_id))
    if case is None:
        raise CaseNotFound(case_id)
    return case


def latest_buyer_case(session: AnySession, buyer_id: int, order_id: int) -> AfterSalesCase | None:
    """The buyer's most recent application on this order, whatever its status."""
    return session.scalar(select(AfterSalesCase).where(
        AfterSalesCase.order_id == order_id, AfterSalesCase.buyer_id == buyer_id).order_by(AfterSalesCase.id.desc()))


# --- payouts ---------------------------------------------------------------------------------

def get_shop_payout(session: AnySession, shop_id: int, payout_id: int, *, for_row: bool = False) -> Payout:
    """The shop's payout, or PayoutNotFound. `for_row`: with what its status row shows, in one
    indexed read by primary key (the live status polls this)."""
    stmt = select(Payout).where(Payout.id == payout_id, Payout.shop_id == shop_id)
    if for_row:
        stmt = stmt.options(joinedload(Payout.started_by).lazyload("*"), joinedload(Payout.order).lazyload("*"))
    payout = session.scalar(stmt)
    if payout is None:
        raise PayoutNotFound(payout_id)
    return payout


def order_payouts(session: AnySession, order_id: int, *, buyer_id: int | None = None) -> list[Payout]:
    """An order's payouts, newest first; with `buyer_id`, only if they went to that buyer."""
    stmt = select(Payout).where(Payout.order_id == order_id)
    if buyer_id is not None:
        stmt = stmt.where(Payout.buyer_id == buyer_id)
    return list(session.scalars(stmt.order_by(Payout.created_at.desc(), Payout.id.desc())))


def order_payout(session: AnySession, order_id: int, payout_id: int) -> Payout | None:
    """One payout of this order (the result step of the flow), or None."""
    return session.scalar(select(Payout).where(Payout.id == payout_id, Payout.order_id == order_id))


@dataclass(frozen=True)
class PayoutVersion:
    """What a live status row needs to tell whether it changed: the status, when the payout was
    last written, and what the undo countdown (R21) reads."""

    status: str
    updated_at: datetime
    next_attempt_at: datetime | None
    channel_not_after: datetime | None


def payout_version(session: AnySession, payout_id: int, *, shop_id: int | None = None,
                   buyer_id: int | None = None) -> PayoutVersion:
    """One narrow read by primary key (no joins, no ORM object) for the status polls; scoped to
    the shop or the buyer (R18). PayoutNotFound otherwise."""
    if (shop_id is None) == (buyer_id is None):
        raise ValueError("a payout version is read for one shop or one buyer")
    owner = Payout.shop_id == shop_id if shop_id is not None else Payout.buyer_id == buyer_id
    row = session.execute(select(Payout.status, Payout.updated_at, Payout.next_attempt_at, Payout.channel_not_after)
                          .where(Payout.id == payout_id, owner)).first()
    if row is None:
        raise PayoutNotFound(payout_id)
    return PayoutVersion(*row)


def get_buyer_payout(session: AnySession, buyer_id: int, payout_id: int) -> Payout:
    payout = session.scalar(select(Payout).where(Payout.id == payout_id, Payout.buyer_id == buyer_id))
    if payout is None:
        raise PayoutNotFound(payout_id)
    return payout


# --- shops -----------------------------------------------------------------------------------

def shop(session: AnySession, shop_id: int) -> Shop:
    found = session.get(Shop, shop_id)
    assert found is not None  # the signed-in account's shop (a foreign key)
    return found


def shop_names(session: AnySession, shop_ids: set[int]) -> dict[int, str]:
    """The names of these shops (a buyer's orders say which shop each is from), in one read."""
    if not shop_ids:
        return {}
    return {i: n for i, n in session.execute(select(Shop.id, Shop.name).where(Shop.id.in_(shop_ids)))}


def shop_account(session: AnySession, shop_id: int, account_id: int | None) -> MerchantAccount | None:
    """An account of this shop (who confirmed a setting, ...), or None."""
    if account_id is None:
        return None
    return session.scalar(select(MerchantAccount).where(MerchantAccount.id == account_id,
                                                           MerchantAccount.shop_id == shop_id))

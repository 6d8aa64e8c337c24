"""In-site messages (站内信): to a shop (R6) and to a buyer (R25); unread count, list, mark read.

Every query is scoped to its audience (R18): a shop's by shop_id, a buyer's by buyer_id. A message
has exactly one of the two (a CHECK in the database), so neither can ever read the other's."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select, update

from ..db import AnySession, write_transaction
from ..models import InSiteMessage, Order, Shop
from .errors import MessageNotFound
from .queries import Page, keyset
from .rows import ensure_row


def unread_count(session: AnySession, shop_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(InSiteMessage).where(InSiteMessage.shop_id == shop_id, InSiteMessage.read_at.is_(None))
    ) or 0  # COUNT: never None


def messages(session: AnySession, shop_id: int, cursor: str | None = None, limit: int = 25) -> Page[InSiteMessage]:
    stmt = select(InSiteMessage).where(InSiteMessage.shop_id == shop_id)
    return keyset(session, stmt, InSiteMessage.created_at, InSiteMessage.id, cursor, limit)


def get(session: AnySession, shop_id: int, message_id: int) -> InSiteMessage | None:
    return session.scalar(select(InSiteMessage).where(InSiteMessage.shop_id == shop_id, InSiteMessage.id == message_id))


def get_message(session: AnySession, shop_id: int, message_id: int) -> InSiteMessage:
    """The shop's message, or MessageNotFound (a 404 at the edge)."""
    message = get(session, shop_id, message_id)
    if message is None:
        raise MessageNotFound(message_id)
    return message


def mark_read(session: AnySession, shop_id: int, message_id: int, now: datetime) -> None:
    with write_transaction(session):
        session.execute(update(InSiteMessage).where(
            InSiteMessage.shop_id == shop_id, InSiteMessage.id == message_id, InSiteMessage.read_at.is_(None))
            .values(read_at=now))


def mark_all_read(session: AnySession, shop_id: int, now: datetime) -> None:
    with write_transaction(session):
        session.execute(update(InSiteMessage).where(
            InSiteMessage.shop_id == shop_id, InSiteMessage.read_at.is_(None)).values(read_at=now))


# --- buyers (R25): payouts received or failed, every refund decision ---------------------------
#
# Created inside the caller's open transaction (the settlement or the decision), never committed
# here. Idempotent through the per-audience UNIQUE constraints: a retried settlement or a replayed
# channel event inserts nothing the second time.

BUYER_PAYOUT_KINDS = {"succeeded": "payout_received", "failed": "payout_failed"}
BUYER_CASE_KINDS = ("refund_auto", "refund_approved", "refund_rejected")


def notify_buyer(session: AnySession, buyer_id: int, kind: str, *, payout_id: int | None = None, case_id: int | None = None,
                 params: dict, link: str = "", now: datetime) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING one message to a buyer. True if this call created it."""
    return ensure_row(session, InSiteMessage, buyer_id=buyer_id, kind=kind, payout_id=payout_id, case_id=case_id,
                      params=json.dumps(params, ensure_ascii=False, sort_keys=True), link=link, created_at=now)


def tell_buyer_payout(session: AnySession, payout, now: datetime) -> bool:
    """After a payout became final: "it arrived" or "it failed, and what you can do" (R25)."""
    kind = BUYER_PAYOUT_KINDS.get(str(payout.status))
    if kind is None:
        return False
    head = session.execute(select(Order.order_no, Shop.name).join(Shop, Shop.id == Order.shop_id)
                           .where(Order.id == payout.order_id)).one()
    params = {"order_no": head.order_no, "shop": head.name, "amount_fen": payout.amount_fen}
    if kind == "payout_failed":
        params["reason"] = payout.failure_reason
    return notify_buyer(session, payout.buyer_id, kind, payout_id=payout.id, params=params, now=now)


def tell_buyer_case(session: AnySession, case, now: datetime) -> bool:
    """After a refund decision: refunded automatically (fast refund), approved, or rejected with the
    shop's reason (R25). A case is decided once, so one message per case."""
    head = session.execute(select(Order.order_no, Order.buyer_id, Shop.name).join(Shop, Shop.id == Order.shop_id)
                           .where(Order.id == case.order_id)).one()
    params = {"order_no": head.order_no, "shop": head.name}
    if case.status == "refunded":
        kind = "refund_approved" if case.decided_by_id is not None else "refund_auto"
        params["amount_fen"] = case.refund_fen
    elif case.status == "rejected":
        kind = "refund_rejected"
        params["reason"] = case.reject_reason or ""
    else:
        return False
    return notify_buyer(session, case.buyer_id or head.buyer_id, kind, case_id=case.id, params=params, now=now)


def buyer_unread_count(session: AnySession, buyer_id: int) -> int:
    return session.scalar(select(func.count()).select_from(InSiteMessage).where(
        InSiteMessage.buyer_id == buyer_id, InSiteMessage.read_at.is_(None))) or 0  # COUNT: never None


def buyer_messages(session: AnySession, buyer_id: int, cursor: str | None = None, limit: int = 25) -> Page[InSiteMessage]:
    stmt = select(InSiteMessage).where(InSiteMessage.buyer_id == buyer_id)
    return keyset(session, stmt, InSiteMessage.created_at, InSiteMessage.id, cursor, limit)


def buyer_get(session: AnySession, buyer_id: int, message_id: int) -> InSiteMessage | None:
    """The buyer's own message, or None (another buyer's message does not exist for them, R18)."""
    return session.scalar(select(InSiteMessage).where(InSiteMessage.buyer_id == buyer_id, InSiteMessage.id == message_id))


def get_buyer_message(session: AnySession, buyer_id: int, message_id: int) -> InSiteMessage:
    """The buyer's own message, or MessageNotFound (R18: another buyer's answers 404)."""
    message = buyer_get(session, buyer_id, message_id)
    if message is None:
        raise MessageNotFound(message_id)
    return message


def buyer_mark_read(session: AnySession, buyer_id: int, message_id: int, now: datetime) -> None:
    with write_transaction(session):
        session.execute(update(InSiteMessage).where(
            InSiteMessage.buyer_id == buyer_id, InSiteMessage.id == message_id, InSiteMessage.read_at.is_(None))
            .values(read_at=now))


def buyer_mark_all_read(session: AnySession, buyer_id: int, now: datetime) -> None:
    with write_transaction(session):
        session.execute(update(InSiteMessage).where(
            InSiteMessage.buyer_id == buyer_id, InSiteMessage.read_at.is_(None)).values(read_at=now))

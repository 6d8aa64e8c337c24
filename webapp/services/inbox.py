"""In-site messages (站内信) to a shop: unread count, list, mark read (R6)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from ..db import write_transaction
from ..extensions import db
from ..models import InSiteMessage
from .queries import Page, keyset


def unread_count(shop_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(InSiteMessage).where(InSiteMessage.shop_id == shop_id, InSiteMessage.read_at.is_(None))
    )


def messages(shop_id: int, cursor: str | None = None, limit: int = 25) -> Page[InSiteMessage]:
    stmt = select(InSiteMessage).where(InSiteMessage.shop_id == shop_id)
    return keyset(stmt, InSiteMessage.created_at, InSiteMessage.id, cursor, limit)


def get(shop_id: int, message_id: int) -> InSiteMessage | None:
    return db.session.scalar(select(InSiteMessage).where(InSiteMessage.shop_id == shop_id, InSiteMessage.id == message_id))


def mark_read(shop_id: int, message_id: int, now: datetime) -> None:
    with write_transaction(db.session):
        db.session.execute(update(InSiteMessage).where(
            InSiteMessage.shop_id == shop_id, InSiteMessage.id == message_id, InSiteMessage.read_at.is_(None))
            .values(read_at=now))


def mark_all_read(shop_id: int, now: datetime) -> None:
    with write_transaction(db.session):
        db.session.execute(update(InSiteMessage).where(
            InSiteMessage.shop_id == shop_id, InSiteMessage.read_at.is_(None)).values(read_at=now))

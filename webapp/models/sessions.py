"""Signed-in sessions kept on the server (R27; webapp/sessions.py, services/sessions.py). The
embedded default keeps them here; with REDIS_URL set they live in Redis and this table stays empty."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime


class UserSession(Model):
    """One signed-in session. The browser's cookie holds a random id; only its SHA-256 is stored
    (`id_hash`, the key every request reads by), so reading this table never yields a usable
    cookie. A session that signs nobody in is never stored (its few keys stay in a signed cookie).

    `account_kind` + `account_id` name a merchant account ("m") or a buyer ("b"): the index lists
    and ends all of one account's sessions. No foreign key, the id points into one of two tables.
    The session ends at `expires_at` = min(last seen + idle timeout, created + absolute timeout):
    refused and deleted when presented after it, and purged in bulk by its index."""

    __tablename__ = "user_session"
    __table_args__ = (
        CheckConstraint("account_kind IN ('m', 'b')", name="account_kind_known"),
        Index("ix_user_session_account", "account_kind", "account_id"),
        Index("ix_user_session_expires_at", "expires_at"),
    )

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256 of the cookie's id
    account_kind: Mapped[str] = mapped_column(String(1))
    account_id: Mapped[int]
    data: Mapped[str] = mapped_column(Text)  # the session's keys, Flask's tagged JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # signed in at
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # moved at most once a minute
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)  # the latest client address
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)

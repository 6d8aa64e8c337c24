"""What the app keeps about the payment channel's notifications and about its workers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime


class ChannelEvent(Model):
    """A channel notification already applied: its event id is written in the same transaction
    as the settlement it caused, so a duplicate delivery changes nothing."""

    __tablename__ = "channel_event"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payout.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkerHeartbeat(Model):
    """One row per running payout worker, touched every round (read by /readyz)."""

    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""The injected clock. Domain code takes `now` as an argument; services get it from here."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock tests set and move by hand."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta) -> datetime:
        self.at = self.at + timedelta(**delta)
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


def now() -> datetime:
    """Current instant from the app's clock (use at the service/web edge only)."""
    return current_app.extensions["afterdesk.clock"].now()

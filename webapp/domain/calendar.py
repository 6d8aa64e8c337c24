"""Shop-local calendar days (R17): "today" is the shop's day in Asia/Shanghai."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SHOP_TZ = ZoneInfo("Asia/Shanghai")


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: pass an aware instant (UTC inside the app)")
    return instant


def shop_day(instant: datetime, tz: ZoneInfo = SHOP_TZ) -> date:
    """The shop-local calendar day that contains this instant."""
    return _aware(instant).astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo = SHOP_TZ) -> tuple[datetime, datetime]:
    """[start, end) of a shop-local day, as UTC instants."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def local(instant: datetime, tz: ZoneInfo = SHOP_TZ) -> datetime:
    """The instant as shop-local wall time, for display."""
    return _aware(instant).astimezone(tz)


def next_day_start(instant: datetime, tz: ZoneInfo = SHOP_TZ) -> datetime:
    """When the shop's next day begins (00:00 shop time), as a UTC instant: when daily limits start again."""
    return day_bounds(shop_day(instant, tz), tz)[1]

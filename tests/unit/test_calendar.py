"""R17: "today" is the shop's calendar day in Asia/Shanghai (UTC+8, no DST)."""
from datetime import date, datetime, timedelta, timezone

import pytest

from webapp.domain.calendar import day_bounds, local, shop_day

UTC = timezone.utc


@pytest.mark.parametrize(
    "instant, day",
    [
        (datetime(2026, 11, 22, 15, 59, 59, 999999, tzinfo=UTC), date(2026, 11, 22)),  # 23:59:59.999999 local
        (datetime(2026, 11, 22, 16, 0, 0, tzinfo=UTC), date(2026, 11, 23)),  # 00:00 local
        (datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC), date(2026, 11, 23)),
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), date(2027, 1, 1)),  # new year local, still 2026 in UTC
    ],
)
def test_r17_shop_day_turns_at_midnight_shanghai(instant, day):
    assert shop_day(instant) == day


def test_r17_day_bounds_are_shanghai_midnights_in_utc():
    start, end = day_bounds(date(2026, 11, 23))
    assert start == datetime(2026, 11, 22, 16, tzinfo=UTC)
    assert end == datetime(2026, 11, 23, 16, tzinfo=UTC)
    assert shop_day(start) == date(2026, 11, 23)
    assert shop_day(end - timedelta(microseconds=1)) == date(2026, 11, 23)
    assert shop_day(end) == date(2026, 11, 24)


def test_r17_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        shop_day(datetime(2026, 11, 23, 12, 0))


def test_r17_local_wall_time():
    assert local(datetime(2026, 11, 22, 16, 30, tzinfo=UTC)).strftime("%Y-%m-%d %H:%M") == "2026-11-23 00:30"

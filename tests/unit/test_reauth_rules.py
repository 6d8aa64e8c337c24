"""Step-up re-authentication (ASVS 4.3.3): is the last password entry recent enough? A truth table."""
from datetime import datetime, timedelta, timezone

import pytest

from webapp.domain.reauth import password_is_recent

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
FIVE = timedelta(minutes=5)


@pytest.mark.parametrize("entered_at, recent", [
    (None, False),  # never entered in this session
    (NOW, True),
    (NOW - timedelta(minutes=4, seconds=59), True),
    (NOW - FIVE, True),  # exactly the limit still counts
    (NOW - FIVE - timedelta(microseconds=1), False),
    (NOW - timedelta(hours=3), False),
    (NOW + timedelta(seconds=1), False),  # later than now (clock moved back, forged): not believed
])
def test_a_password_entry_counts_for_five_minutes_and_never_from_the_future(entered_at, recent):
    assert password_is_recent(entered_at, NOW, FIVE) is recent

"""Step-up re-authentication (OWASP ASVS 4.0.3 V4.3.3 / V3.7.1: re-authenticate before sensitive
changes). Pure: the rule only, over plain values; the web side is webapp/web/step_up.py.

Changing staff quotas, approval thresholds, the undo window or fast refund, creating a sub-account
or setting a sub-account's password needs a password entered within STEP_UP_MAX_AGE (5 minutes).
"""
from __future__ import annotations

from datetime import datetime, timedelta


def password_is_recent(entered_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """Was the password entered at most `max_age` before `now`? Never entered: no. An entry later
    than now (a clock moved back, a forged value) is not believed either: fail closed."""
    if entered_at is None:
        return False
    age = now - entered_at
    return timedelta(0) <= age <= max_age

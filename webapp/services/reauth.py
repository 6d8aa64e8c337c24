"""Step-up re-authentication (ASVS 4.3.3): check the signed-in merchant's password again before a
change to money settings, and record every attempt, right or wrong, in the shop's activity log (R19).
The throttling (services/signin_throttle.py) and the session (web/step_up.py) are the caller's."""
from __future__ import annotations

from datetime import datetime

from ..db import AnySession, write_transaction
from ..models import MerchantAccount
from . import audit
from .passwords import verify_password

CONFIRMED = "session.reauth"
REFUSED = "session.reauth_failed"


def confirm_password(session: AnySession, account: MerchantAccount, password: str, now: datetime,
                     ip: str | None = None) -> bool:
    """True if `password` is the account's own (an active account: the caller has it signed in)."""
    fresh = session.get(MerchantAccount, account.id, populate_existing=True)
    ok = fresh is not None and fresh.active and verify_password(fresh.password_hash, password)
    with write_transaction(session):
        audit.record(session, shop_id=account.shop_id, actor=account, action=CONFIRMED if ok else REFUSED,
                     target_type="account", target_id=account.id, now=now, ip=ip)
    return ok

"""Step-up re-authentication (ASVS 4.3.3): check the signed-in merchant's password again before a
change to money settings, and record every attempt, right or wrong, in the shop's activity log (R19).
An account with two-factor sign-in also gives a current code (or a recovery code), checked and spent
under its row lock (services/two_factor.py). The throttling (services/signin_throttle.py) and the
session (web/step_up.py) are the caller's."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..db import AnySession, write_transaction
from ..models import MerchantAccount
from . import audit
from . import two_factor
from .passwords import verify_password
from .rows import lock

CONFIRMED = "session.reauth"
REFUSED = "session.reauth_failed"


@dataclass(frozen=True)
class Confirmation:
    """Truthy when the step-up passed: the password, and the code when the account has two-factor."""

    password_ok: bool
    second: two_factor.Verified | None = None  # None: no code checked (no two-factor, or a wrong password)

    def __bool__(self) -> bool:
        return self.password_ok and (self.second is None or self.second.accepted)


def confirm_password(session: AnySession, account: MerchantAccount, password: str, now: datetime,
                     ip: str | None = None, *, code: str | None = None,
                     recovery_code: str | None = None) -> Confirmation:
    """Is `password` the account's own (an active account: the caller has it signed in) and, if it
    has two-factor on, `code` a current code not used before (or `recovery_code` an unused one)?
    The code is checked only after the right password, so a wrong password spends no code."""
    fresh = session.get(MerchantAccount, account.id, populate_existing=True)
    ok = fresh is not None and fresh.active and verify_password(fresh.password_hash, password)
    second = None
    with write_transaction(session):
        if ok:
            locked = lock(session, MerchantAccount, MerchantAccount.id == account.id)
            if locked is not None and locked.two_factor_enabled:
                second = two_factor.check_locked(session, locked, code, recovery_code, now)
        result = Confirmation(ok, second)
        after: dict[str, object] | None = None
        if second is not None:
            after = {"factor": two_factor.BY_RECOVERY_CODE if second.by_recovery_code or second.field == "recovery_code"
                     else two_factor.BY_AUTHENTICATOR}
            if second.by_recovery_code:
                after["recovery_codes_left"] = second.recovery_codes_left
        audit.record(session, shop_id=account.shop_id, actor=account, action=CONFIRMED if result else REFUSED,
                     target_type="account", target_id=account.id, now=now, ip=ip, after=after)
    return result

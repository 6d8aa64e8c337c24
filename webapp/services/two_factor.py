"""Two-factor sign-in for merchant accounts (issue 12 point 3; rules in domain/two_factor.py): turning
it on with a confirmed code, off, new recovery codes, checking a code at sign-in (and for the step-up,
services/reauth.py), and what the main account decides for its sub-accounts (require it, reset it).

Every check of a code runs under the account's row lock (`lock`: FOR UPDATE on PostgreSQL, BEGIN
IMMEDIATE on SQLite) and writes the step it used, or marks the recovery code used, in the same
transaction: two requests with the same code, at the same moment, cannot both be accepted.
Recovery codes leave this module once, in clear, as the return value of `enable` or `regenerate`
(the page shows them and forgets them); the database holds only their salted hashes.
Every change, and every code used or refused at sign-in, is in the shop's activity log (R19).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from ..db import AnySession, write_transaction
from ..domain import two_factor as rules
from ..domain.permissions import Role
from ..domain.two_factor import Outcome
from ..models import MerchantAccount, RecoveryCode, Shop
from . import audit, errors, sessions
from .rows import lock

# Activity log actions (labels: web/messages.py ACTION_LABELS).
ENABLED = "two_factor.enable"
DISABLED = "two_factor.disable"
CODES_RENEWED = "two_factor.recovery_codes"
RECOVERY_USED = "two_factor.recovery_used"
SECOND_STEP_FAILED = "two_factor.failed"
RESET_BY_MAIN = "two_factor.reset"
REQUIRED_ON = "settings.staff_two_factor_on"
REQUIRED_OFF = "settings.staff_two_factor_off"
# How a code was given, for the activity log ("factor": DETAIL_LABELS).
BY_AUTHENTICATOR = "authenticator"
BY_RECOVERY_CODE = "recovery_code"


class TwoFactorError(Exception):
    """A change that does not apply to the account as it is now: "already_on", "not_on",
    "required_by_shop" (a sub-account of a shop that requires it cannot turn it off)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class CodeRefused(Exception):
    """The code typed to confirm the set-up is not a current code of the new secret."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome)
        self.outcome = outcome


@dataclass(frozen=True)
class Verified:
    """The result of checking what someone typed: an authenticator code or a recovery code."""

    outcome: Outcome
    by_recovery_code: bool = False
    recovery_codes_left: int | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome == Outcome.ACCEPTED

    @property
    def field(self) -> str:
        """The form field a refusal belongs to."""
        return "recovery_code" if self.outcome == Outcome.RECOVERY_WRONG else "code"


def new_secret() -> str:
    """A new authenticator secret (160 random bits, base32), for the set-up page."""
    return rules.secret_from_bytes(secrets.token_bytes(rules.SECRET_BYTES))


def _new_recovery_codes(session: AnySession, account_id: int, now: datetime) -> list[str]:
    """Replace the account's recovery codes with RECOVERY_CODES new ones; the codes are returned
    once, only their salted hashes are stored."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    codes = []
    for _ in range(rules.RECOVERY_CODES):
        code = rules.recovery_code_from_bytes(secrets.token_bytes(rules.RECOVERY_CODE_BYTES))
        normalized = rules.normalize_recovery_code(code)
        assert normalized is not None
        salt = secrets.token_hex(16)
        session.add(RecoveryCode(account_id=account_id, salt=salt, code_hash=rules.recovery_code_digest(salt, normalized),
                                 created_at=now))
        codes.append(code)
    return codes


def _turn_off(session: AnySession, account: MerchantAccount) -> None:
    account.totp_secret = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))


def check_locked(session: AnySession, account: MerchantAccount, code: str | None, recovery_code: str | None,
                  now: datetime) -> Verified:
    """Check an authenticator code (when one was typed) or else a recovery code, for an account whose
    row the caller has locked in its write transaction (here, and the step-up: services/reauth.py); an
    accepted one is spent at once (its step stored, the recovery code marked used)."""
    if not (code or "").strip() and (recovery_code or "").strip():
        normalized = rules.normalize_recovery_code(recovery_code)
        if normalized is None:
            return Verified(Outcome.RECOVERY_WRONG)
        unused = session.scalars(select(RecoveryCode).where(RecoveryCode.account_id == account.id,
                                                           RecoveryCode.used_at.is_(None))).all()
        matches = [row for row in unused if rules.recovery_code_matches(row.salt, row.code_hash, normalized)]
        if not matches:
            return Verified(Outcome.RECOVERY_WRONG)
        matches[0].used_at = now
        session.flush()
        return Verified(Outcome.ACCEPTED, by_recovery_code=True, recovery_codes_left=len(unused) - 1)
    assert account.totp_secret is not None
    outcome, step = rules.check_code(account.totp_secret, code, now, account.totp_last_step)
    if outcome == Outcome.ACCEPTED:
        account.totp_last_step = step
    return Verified(outcome)


def _locked_account(session: AnySession, account_id: int) -> MerchantAccount:
    account = lock(session, MerchantAccount, MerchantAccount.id == account_id)
    if account is None:
        raise errors.AccountNotFound(account_id)
    return account


def _shop_requires(session: AnySession, shop_id: int) -> bool:
    return bool(session.scalar(select(Shop.staff_two_factor_required).where(Shop.id == shop_id)))


# -- the account's own settings ----------------------------------------------------------------------

def enable(session: AnySession, account: MerchantAccount, secret: str, code: str | None, now: datetime,
           ip: str | None = None) -> list[str]:
    """Turn two-factor on with `secret` (the one the set-up page showed, kept in the session) once
    `code` is a current code of it. Returns the new recovery codes, to be shown once. Raises
    CodeRefused (nothing changed) or TwoFactorError("already_on")."""
    with write_transaction(session):
        locked = _locked_account(session, account.id)
        if locked.two_factor_enabled:
            raise TwoFactorError("already_on")
        outcome, step = rules.check_code(secret, code, now, None)
        if outcome != Outcome.ACCEPTED:
            raise CodeRefused(outcome)
        locked.totp_secret, locked.totp_enabled_at, locked.totp_last_step = secret, now, step
        codes = _new_recovery_codes(session, locked.id, now)
        audit.record(session, shop_id=locked.shop_id, actor=locked, action=ENABLED, target_type="account",
                     target_id=locked.id, now=now, ip=ip, after={"recovery_codes_left": len(codes)})
    return codes


def disable(session: AnySession, account: MerchantAccount, code: str | None, recovery_code: str | None,
            now: datetime, ip: str | None = None) -> Verified:
    """Turn two-factor off, with a current code (or a recovery code). A refused code changes nothing
    (the Verified says why). Raises TwoFactorError("not_on") or ("required_by_shop")."""
    with write_transaction(session):
        locked = _locked_account(session, account.id)
        if not locked.two_factor_enabled:
            raise TwoFactorError("not_on")
        if rules.must_use_two_factor(locked.role, _shop_requires(session, locked.shop_id)):
            raise TwoFactorError("required_by_shop")
        verified = check_locked(session, locked, code, recovery_code, now)
        if verified.accepted:
            _turn_off(session, locked)
            audit.record(session, shop_id=locked.shop_id, actor=locked, action=DISABLED, target_type="account",
                         target_id=locked.id, now=now, ip=ip,
                         after={"factor": BY_RECOVERY_CODE if verified.by_recovery_code else BY_AUTHENTICATOR})
    return verified


def regenerate_recovery_codes(session: AnySession, account: MerchantAccount, now: datetime,
                              ip: str | None = None) -> list[str]:
    """New recovery codes replace all the old ones (used or not). Returned once, to be shown."""
    with write_transaction(session):
        locked = _locked_account(session, account.id)
        if not locked.two_factor_enabled:
            raise TwoFactorError("not_on")
        codes = _new_recovery_codes(session, locked.id, now)
        audit.record(session, shop_id=locked.shop_id, actor=locked, action=CODES_RENEWED, target_type="account",
                     target_id=locked.id, now=now, ip=ip, after={"recovery_codes_left": len(codes)})
    return codes


def recovery_codes_left(session: AnySession, account_id: int) -> int:
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None))) or 0


# -- the second step of a sign-in --------------------------------------------------------------------

def pending_account(session: AnySession, account_id: int, epoch: int) -> MerchantAccount | None:
    """The account a sign-in's password step was for, if it can still finish: active, its password
    not reset since (the session epoch), and two-factor still on."""
    account = session.get(MerchantAccount, account_id, populate_existing=True)
    if account is None or not account.active or account.session_epoch != epoch or not account.two_factor_enabled:
        return None
    return account


def second_step(session: AnySession, account_id: int, code: str | None, recovery_code: str | None, now: datetime,
                ip: str | None = None) -> Verified:
    """The code step of a sign-in (the password was right). A recovery code used and every refused
    code are in the shop's activity log."""
    with write_transaction(session):
        locked = _locked_account(session, account_id)
        if not (locked.active and locked.two_factor_enabled):
            return Verified(Outcome.WRONG)
        verified = check_locked(session, locked, code, recovery_code, now)
        factor = BY_RECOVERY_CODE if (verified.by_recovery_code or verified.field == "recovery_code") else BY_AUTHENTICATOR
        if verified.accepted and verified.by_recovery_code:
            audit.record(session, shop_id=locked.shop_id, actor=locked, action=RECOVERY_USED, target_type="account",
                         target_id=locked.id, now=now, ip=ip,
                         after={"recovery_codes_left": verified.recovery_codes_left})
        elif not verified.accepted:
            audit.record(session, shop_id=locked.shop_id, actor=locked, action=SECOND_STEP_FAILED,
                         target_type="account", target_id=locked.id, now=now, ip=ip, after={"factor": factor})
    return verified


# -- what the main account decides for its sub-accounts ----------------------------------------------

def set_staff_requirement(session: AnySession, actor: MerchantAccount, required: bool, now: datetime,
                          ip: str | None = None) -> bool:
    """Require two-factor of the shop's sub-accounts, or stop requiring it. Those without it are
    sent to set it up on their next request. True if the setting changed."""
    if actor.role != Role.MAIN:
        raise errors.AccountNotFound(actor.id)
    with write_transaction(session):
        shop = lock(session, Shop, Shop.id == actor.shop_id)
        assert shop is not None  # the actor's own shop (a foreign key)
        before = shop.staff_two_factor_required
        shop.staff_two_factor_required = required
        if before != required:
            audit.record(session, shop_id=shop.id, actor=actor, action=REQUIRED_ON if required else REQUIRED_OFF,
                         target_type="shop", target_id=shop.id, now=now, ip=ip,
                         before={"staff_two_factor_required": before}, after={"staff_two_factor_required": required})
    return before != required


def reset_for_staff(session: AnySession, actor: MerchantAccount, account_id: int, now: datetime,
                    ip: str | None = None) -> int:
    """A sub-account lost its phone: its two-factor and recovery codes are removed and every session
    of it ends (R27: deleted from the store in this transaction, and its session epoch moves on).
    It signs in again with its password and sets two-factor up again (at once, if the shop requires
    it). Another shop's account, or the main account, is not found. Returns the sessions ended."""
    found = session.scalar(select(MerchantAccount.id).where(
        MerchantAccount.id == account_id, MerchantAccount.shop_id == actor.shop_id,
        MerchantAccount.role == Role.STAFF))
    if found is None or actor.role != Role.MAIN:
        raise errors.AccountNotFound(account_id)
    with write_transaction(session):
        locked = _locked_account(session, account_id)
        if not locked.two_factor_enabled:
            raise TwoFactorError("not_on")
        _turn_off(session, locked)
        locked.session_epoch += 1
        ended = sessions.end_all(session, locked.KIND, locked.id)
        audit.record(session, shop_id=actor.shop_id, actor=actor, action=RESET_BY_MAIN, target_type="account",
                     target_id=locked.id, now=now, ip=ip, after={"sessions_ended": ended})
    return ended

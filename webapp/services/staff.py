"""Main accounts manage their shop's sub-accounts and payout quotas (R7); every change is
audited (R19). Every function takes the acting main account and touches its shop only (R18)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..db import AnySession, write_transaction
from ..domain import accounts as rules
from ..domain.calendar import day_bounds, shop_day
from ..domain.permissions import Role
from ..domain.states import PAYOUT_COMMITTED
from ..models import AccountDayUsage, MerchantAccount, Payout, PayoutQuota, Shop, ShopDayUsage
from . import audit, errors, sessions
from .passwords import hash_password
from .rows import lock, lock_or_create


class StaffError(Exception):
    """Field -> problem codes (domain.accounts.MESSAGES), for the form to show in place."""

    def __init__(self, problems: dict[str, list[str]], params: dict | None = None):
        super().__init__(problems)
        self.problems = problems
        self.params = params or {}


class NotInShop(errors.AccountNotFound):
    """No such account in the actor's shop (or not one the main account manages): a 404 at the edge."""


@dataclass(frozen=True)
class StaffRow:
    account: MerchantAccount
    quota: PayoutQuota | None
    used_today_fen: int  # payouts this account started today that count against the caps
    shop_used_today_fen: int | None = None  # the main account's row: the whole shop's today (its limit is the shop's)


def _main_used_today(session: AnySession, account: MerchantAccount, now: datetime) -> int:
    """What the main account itself started today (pending, processing, succeeded; awaiting
    approval): it has no quota, so no day counter of its own; its payouts, read by the day's bounds."""
    start, end = day_bounds(shop_day(now))
    return int(session.scalar(select(func.coalesce(func.sum(Payout.amount_fen), 0)).where(
        Payout.shop_id == account.shop_id, Payout.created_at >= start, Payout.created_at < end,
        Payout.started_by_id == account.id, Payout.status.in_(PAYOUT_COMMITTED))) or 0)


def _shop_used_today(session: AnySession, shop_id: int, now: datetime) -> int:
    usage = session.get(ShopDayUsage, (shop_id, shop_day(now)), populate_existing=True)
    return usage.committed_fen if usage else 0


def _row_of(session: AnySession, account: MerchantAccount, quota: PayoutQuota | None, used: int, now: datetime) -> StaffRow:
    if account.role == Role.MAIN:
        return StaffRow(account, quota, _main_used_today(session, account, now), _shop_used_today(session, account.shop_id, now))
    return StaffRow(account, quota, used)


def _account(session: AnySession, actor: MerchantAccount, account_id: int) -> MerchantAccount:
    account = session.scalar(select(MerchantAccount).where(
        MerchantAccount.id == account_id, MerchantAccount.shop_id == actor.shop_id))
    if account is None:
        raise NotInShop(account_id)
    return account


def staff_rows(session: AnySession, actor: MerchantAccount, now: datetime) -> list[StaffRow]:
    day = shop_day(now)
    accounts = session.scalars(select(MerchantAccount).where(MerchantAccount.shop_id == actor.shop_id)
                               .order_by(MerchantAccount.role, MerchantAccount.id)).all()
    quotas = {q.account_id: q for q in session.scalars(select(PayoutQuota).where(PayoutQuota.shop_id == actor.shop_id))}
    usage = {u.account_id: u.committed_fen for u in session.scalars(
        select(AccountDayUsage).where(AccountDayUsage.shop_id == actor.shop_id, AccountDayUsage.day == day))}
    return [_row_of(session, a, quotas.get(a.id), usage.get(a.id, 0), now) for a in accounts]


def staff_row(session: AnySession, actor: MerchantAccount, account_id: int, now: datetime) -> StaffRow:
    account = _account(session, actor, account_id)
    usage = session.get(AccountDayUsage, (account.id, shop_day(now)), populate_existing=True)
    return _row_of(session, account, session.get(PayoutQuota, account.id, populate_existing=True),
                   usage.committed_fen if usage else 0, now)


def managed_row(session: AnySession, actor: MerchantAccount, account_id: int, now: datetime) -> StaffRow:
    """A sub-account's row, for what the main account manages on it (quota, password); the main
    account itself is not managed here, so it is not found."""
    row = staff_row(session, actor, account_id, now)
    if row.account.role != Role.STAFF:
        raise NotInShop(account_id)
    return row


def create_staff(session: AnySession, actor: MerchantAccount, *, login: str, display_name: str, password: str,
                 now: datetime, ip: str | None = None) -> MerchantAccount:
    login = (login or "").strip().lower()
    problems: dict[str, list[str]] = {}
    for field, found in (("login", rules.login_problems(login)), ("display_name", rules.display_name_problems(display_name)),
                         ("password", rules.password_problems(password, login))):
        if found:
            problems[field] = found
    if not problems.get("login") and session.scalar(select(MerchantAccount.id).where(MerchantAccount.login == login)):
        problems["login"] = ["login_taken"]
    if problems:
        raise StaffError(problems)
    account = MerchantAccount(shop_id=actor.shop_id, login=login, display_name=display_name.strip(),
                              password_hash=hash_password(password), role=Role.STAFF, active=True, created_at=now)
    try:
        with write_transaction(session):
            session.add(account)
            session.flush()
            # A new sub-account starts without payout permission: the main account grants it (R2.3).
            session.add(PayoutQuota(account_id=account.id, shop_id=actor.shop_id, enabled=False, updated_at=now))
            audit.record(session, shop_id=actor.shop_id, actor=actor, action="staff.create", target_type="account",
                         target_id=account.id, now=now, ip=ip, after={"login": login, "display_name": account.display_name})
    except IntegrityError:
        raise StaffError({"login": ["login_taken"]}) from None
    return account


def reset_password(session: AnySession, actor: MerchantAccount, account_id: int, password: str, now: datetime,
                   ip: str | None = None) -> None:
    """A new password; every session of that account ends (R27): deleted from the session store in
    this transaction, and its session epoch moves on (a session that slipped in meanwhile is refused)."""
    account = _account(session, actor, account_id)
    problems = rules.password_problems(password, account.login)
    if problems:
        raise StaffError({"password": problems})
    with write_transaction(session):
        account = lock(session, MerchantAccount, MerchantAccount.id == account_id)
        account.password_hash = hash_password(password)
        account.session_epoch += 1
        ended = sessions.end_all(session, account.KIND, account.id)
        audit.record(session, shop_id=actor.shop_id, actor=actor, action="staff.password_reset", target_type="account",
                     target_id=account.id, now=now, ip=ip, after={"sessions_ended": ended})


def set_active(session: AnySession, actor: MerchantAccount, account_id: int, active: bool, now: datetime,
               ip: str | None = None) -> MerchantAccount:
    """Disable or enable a sub-account. Disabling ends every session of it at once (R27): deleted from
    the session store in this transaction, and its session epoch moves on, so no session from before
    (not even one that slipped in while this ran) comes back when it is enabled again; enabling
    revives nothing."""
    account = _account(session, actor, account_id)
    if account.role != Role.STAFF:
        raise NotInShop(account_id)  # the main account is not managed here
    with write_transaction(session):
        account = lock(session, MerchantAccount, MerchantAccount.id == account_id)
        before = account.active
        account.active = active
        after: dict = {"active": active}
        if not active:
            account.session_epoch += 1
            after["sessions_ended"] = sessions.end_all(session, account.KIND, account.id)
        if before != active:
            audit.record(session, shop_id=actor.shop_id, actor=actor, action="staff.enable" if active else "staff.disable",
                         target_type="account", target_id=account.id, now=now, ip=ip,
                         before={"active": before}, after=after)
    return account


def set_approver(session: AnySession, actor: MerchantAccount, account_id: int, approver: bool, now: datetime,
                 ip: str | None = None) -> MerchantAccount:
    """R20: the main account lets a sub-account approve others' payouts (or stops it)."""
    account = _account(session, actor, account_id)
    if account.role != Role.STAFF:
        raise NotInShop(account_id)
    with write_transaction(session):
        account = lock(session, MerchantAccount, MerchantAccount.id == account_id)
        before = account.is_approver
        account.is_approver = approver
        if before != approver:
            audit.record(session, shop_id=actor.shop_id, actor=actor, action="staff.approver", target_type="account",
                         target_id=account.id, now=now, ip=ip, before={"approver": before}, after={"approver": approver})
    return account


@dataclass(frozen=True)
class QuotaSaved:
    quota: PayoutQuota
    used_today_fen: int

    @property
    def below_used_today(self) -> bool:
        daily = self.quota.daily_fen
        return daily is not None and daily != 0 and self.used_today_fen >= daily


def update_quota(session: AnySession, actor: MerchantAccount, account_id: int, *, enabled: bool,
                 per_payout_fen: int | None, daily_fen: int | None, now: datetime, ip: str | None = None,
                 refund_enabled: bool = False, per_refund_fen: int | None = None,
                 refund_daily_fen: int | None = None) -> QuotaSaved:
    """R7 and R22. Takes the account's day-counter lock, the lock every payout and every refund
    decision of that account takes before it reads the limits: each is checked against the limits
    in force at that moment, and none checked after this commit sees the old ones."""
    account = _account(session, actor, account_id)
    if account.role != Role.STAFF:
        raise NotInShop(account_id)
    shop = session.get(Shop, actor.shop_id)
    assert shop is not None  # the actor's own shop (a foreign key)
    problems = rules.quota_problems(enabled=enabled, per_payout_fen=per_payout_fen, daily_fen=daily_fen,
                                    shop_cap_fen=shop.daily_payout_cap_fen)
    problems.update(rules.quota_problems(enabled=refund_enabled, per_payout_fen=per_refund_fen,
                                         daily_fen=refund_daily_fen, shop_cap_fen=None,
                                         fields=("refund_enabled", "per_refund", "refund_daily"), prefix="refund_"))
    if problems:
        raise StaffError(problems, {"cap": shop.daily_payout_cap_fen})
    day = shop_day(now)
    fields = ("enabled", "per_payout_fen", "daily_fen", "refund_enabled", "per_refund_fen", "refund_daily_fen")
    values = (enabled, per_payout_fen, daily_fen, refund_enabled, per_refund_fen, refund_daily_fen)
    with write_transaction(session):
        usage = lock_or_create(session, AccountDayUsage, account_id=account.id, day=day, shop_id=actor.shop_id,
                               committed_fen=0, refunded_fen=0)
        quota = lock_or_create(session, PayoutQuota, account_id=account.id, shop_id=actor.shop_id, enabled=False,
                               updated_at=now)
        before = {f: getattr(quota, f) for f in fields}
        for f, v in zip(fields, values, strict=True):
            setattr(quota, f, v)
        quota.updated_at = now
        after = dict(zip(fields, values, strict=True))
        if before != after:
            action = "quota.update" if before["enabled"] == enabled else ("quota.enable" if enabled else "quota.disable")
            audit.record(session, shop_id=actor.shop_id, actor=actor, action=action, target_type="account",
                         target_id=account.id, now=now, ip=ip, before=before,
                         after={**after, "used_today_fen": usage.committed_fen, "refunded_today_fen": usage.refunded_fen})
        used = usage.committed_fen
    return QuotaSaved(quota, used)

"""The funds account and its double-entry ledger (R6 money, R13 later)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from ..db import AnySession, write_transaction
from ..models import FundsAccount, LedgerAccount, LedgerEntry, Movement
from ..models.funds import MOVEMENT_LEGS
from ..domain.refund_rules import recovery
from . import audit
from .rows import lock_or_create

# Which cached balance column each ledger account maps to (OUTSIDE has none: it is the world).
_COLUMN = {
    LedgerAccount.AVAILABLE: "available_fen",
    LedgerAccount.HELD: "held_fen",
    LedgerAccount.PAID_OUT: "paid_out_fen",
    LedgerAccount.REFUNDED: "refunded_fen",
}


def lock_funds(session: AnySession, shop_id: int, now: datetime) -> FundsAccount:
    """The first lock of every money transaction (DESIGN.md lock order)."""
    return lock_or_create(session, FundsAccount, shop_id=shop_id, available_fen=0, held_fen=0, paid_out_fen=0,
                          topped_up_fen=0, refunded_fen=0, arrears_fen=0, updated_at=now)


def post(session: AnySession, funds: FundsAccount, movement: Movement, amount_fen: int, now: datetime, *,
         payout_id: int | None = None, case_id: int | None = None, actor_id: int | None = None,
         memo: str = "") -> LedgerEntry:
    """Write one movement (a debit and a credit leg of the same amount) and update the cached
    balances of the locked funds account. The database refuses a balance below zero."""
    if amount_fen <= 0:
        raise ValueError("a movement moves a positive amount")
    source, target = MOVEMENT_LEGS[movement]
    entry = LedgerEntry(
        shop_id=funds.shop_id, movement=movement, from_account=source, to_account=target, amount_fen=amount_fen,
        payout_id=payout_id, case_id=case_id, actor_id=actor_id, memo=memo, created_at=now,
    )
    session.add(entry)
    if source in _COLUMN:
        setattr(funds, _COLUMN[source], getattr(funds, _COLUMN[source]) - amount_fen)
    if target in _COLUMN:
        setattr(funds, _COLUMN[target], getattr(funds, _COLUMN[target]) + amount_fen)
    if movement == Movement.TOPUP:
        funds.topped_up_fen += amount_fen
    if source == LedgerAccount.ADVANCE:  # the platform advanced money: the shop owes it
        funds.arrears_fen += amount_fen
    if target == LedgerAccount.ADVANCE:  # paid back
        funds.arrears_fen -= amount_fen
    funds.updated_at = now
    return entry


def topup(session: AnySession, shop_id: int, amount_fen: int, now: datetime, actor=None, memo: str = "") -> FundsAccount:
    """Money in. Outstanding arrears are recovered from it first (R13: 追缴)."""
    with write_transaction(session):
        funds = lock_funds(session, shop_id, now)
        before = {"available_fen": funds.available_fen, "arrears_fen": funds.arrears_fen}
        actor_id = getattr(actor, "id", None)
        post(session, funds, Movement.TOPUP, amount_fen, now, actor_id=actor_id, memo=memo)
        recovered = recovery(amount_fen, funds.arrears_fen)
        if recovered:
            post(session, funds, Movement.RECOVER, recovered, now, actor_id=actor_id, memo="arrears recovered")
        audit.record(session, shop_id=shop_id, actor=actor, action="funds.topup", target_type="funds_account",
                     target_id=shop_id, now=now, before=before, after={
                         "available_fen": funds.available_fen, "amount_fen": amount_fen,
                         "arrears_fen": funds.arrears_fen, "recovered_fen": recovered})
    return funds


@dataclass(frozen=True)
class Balances:
    available_fen: int
    held_fen: int
    paid_out_fen: int
    outside_fen: int
    refunded_fen: int = 0
    advance_fen: int = 0

    @property
    def topped_up_fen(self) -> int:
        return -self.outside_fen

    @property
    def arrears_fen(self) -> int:
        return -self.advance_fen


def derived_balances(session: AnySession, shop_id: int) -> Balances:
    """Balances recomputed from the ledger legs alone (for checks and reports)."""
    values = {}
    for account in LedgerAccount:
        credit = func.coalesce(func.sum(case((LedgerEntry.to_account == account, LedgerEntry.amount_fen), else_=0)), 0)
        debit = func.coalesce(func.sum(case((LedgerEntry.from_account == account, LedgerEntry.amount_fen), else_=0)), 0)
        values[account] = int(session.execute(select(credit - debit).where(LedgerEntry.shop_id == shop_id)).scalar_one())
    return Balances(values[LedgerAccount.AVAILABLE], values[LedgerAccount.HELD], values[LedgerAccount.PAID_OUT],
                    values[LedgerAccount.OUTSIDE], values[LedgerAccount.REFUNDED], values[LedgerAccount.ADVANCE])


def funds_of(session: AnySession, shop_id: int) -> FundsAccount | None:
    return session.get(FundsAccount, shop_id)


def entries(session: AnySession, shop_id: int, cursor: str | None = None, limit: int = 25):
    """The shop's ledger movements, newest first (keyset pages)."""
    from .queries import keyset

    return keyset(session, select(LedgerEntry).where(LedgerEntry.shop_id == shop_id), LedgerEntry.created_at, LedgerEntry.id,
                  cursor, limit)

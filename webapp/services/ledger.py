"""The funds account and its double-entry ledger (R6 money, R13 later)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Row, Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from ..db import AnySession, write_transaction
from ..domain.calendar import day_bounds
from ..models import AfterSalesCase, FundsAccount, LedgerAccount, LedgerEntry, MerchantAccount, Movement, Order, Payout
from ..models.funds import MOVEMENT_LEGS, Memo
from ..domain.refund_rules import recovery
from . import audit
from .queries import Page, decode_cursor, encode_cursor
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
    balances of the locked funds account. The database refuses a balance below zero.

    The row records the available balance after it (the funds page's running balance). Movements
    of a shop are written one at a time under its funds lock, so they are stamped in that order:
    never before the shop's previous movement (a request whose clock read came before another's
    commit waits for the lock and is stamped after it), which keeps (created_at, id) the order the
    money moved in."""
    if amount_fen <= 0:
        raise ValueError("a movement moves a positive amount")
    source, target = MOVEMENT_LEGS[movement]
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
    at = max(now, funds.updated_at) if funds.updated_at is not None else now
    entry = LedgerEntry(
        shop_id=funds.shop_id, movement=movement, from_account=source, to_account=target, amount_fen=amount_fen,
        payout_id=payout_id, case_id=case_id, actor_id=actor_id, memo=memo, available_after_fen=funds.available_fen,
        created_at=at,
    )
    session.add(entry)
    funds.updated_at = at
    return entry


def credit_topup(session: AnySession, funds: FundsAccount, amount_fen: int, now: datetime, *, actor=None,
                 memo: str, ip: str | None = None, audit_extra: dict | None = None) -> int:
    """Money in, on the locked funds account: the top-up, then outstanding arrears recovered from it
    first (R13: 追缴), and the activity row (R19). The one rule for every top-up (the funds page's,
    the CLI's, the demo's). Returns what went to the arrears."""
    before = {"available_fen": funds.available_fen, "arrears_fen": funds.arrears_fen}
    actor_id = getattr(actor, "id", None)
    post(session, funds, Movement.TOPUP, amount_fen, now, actor_id=actor_id, memo=memo)
    recovered = recovery(amount_fen, funds.arrears_fen)
    if recovered:
        post(session, funds, Movement.RECOVER, recovered, now, actor_id=actor_id, memo=Memo.ARREARS_RECOVERED)
    audit.record(session, shop_id=funds.shop_id, actor=actor, action="funds.topup", target_type="funds_account",
                 target_id=funds.shop_id, now=now, ip=ip, before=before, after={
                     "available_fen": funds.available_fen, "amount_fen": amount_fen,
                     "arrears_fen": funds.arrears_fen, "recovered_fen": recovered, **(audit_extra or {})})
    return recovered


def topup(session: AnySession, shop_id: int, amount_fen: int, now: datetime, actor=None,
          memo: str = Memo.TOPUP_CLI) -> FundsAccount:
    """Money in without a payment channel (the operator's CLI, the demo). Outstanding arrears are
    recovered from it first (R13: 追缴)."""
    with write_transaction(session):
        funds = lock_funds(session, shop_id, now)
        credit_topup(session, funds, amount_fen, now, actor=actor, memo=memo)
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


@dataclass(frozen=True)
class MovementFilter:
    """The funds page's filters: one kind of movement, shop-local days from and to (R17)."""

    kind: str = ""  # a Movement value, or "" for all
    date_from: date | None = None
    date_to: date | None = None


def _movements(shop_id: int, f: MovementFilter) -> Select:
    """The shop's movements as plain rows, each with what the page says about it: the order of its
    payout or case (two primary-key joins) and who moved it; newest first by (created_at, id), the
    order they happened in. Read through (shop, created_at, id), or (shop, movement, created_at, id)
    for one kind: a page costs the same at any length of history."""
    payout_order, case_order = aliased(Order), aliased(Order)
    stmt = (
        select(LedgerEntry.id, LedgerEntry.created_at, LedgerEntry.movement, LedgerEntry.amount_fen,
               LedgerEntry.available_after_fen, LedgerEntry.payout_id, LedgerEntry.case_id, LedgerEntry.memo,
               func.coalesce(payout_order.order_no, case_order.order_no).label("order_no"),
               MerchantAccount.display_name.label("actor_name"))
        .select_from(LedgerEntry)
        .outerjoin(Payout, Payout.id == LedgerEntry.payout_id)
        .outerjoin(payout_order, payout_order.id == Payout.order_id)
        .outerjoin(AfterSalesCase, AfterSalesCase.id == LedgerEntry.case_id)
        .outerjoin(case_order, case_order.id == AfterSalesCase.order_id)
        .outerjoin(MerchantAccount, MerchantAccount.id == LedgerEntry.actor_id)
        .where(LedgerEntry.shop_id == shop_id)
    )
    if f.kind:
        stmt = stmt.where(LedgerEntry.movement == f.kind)
    if f.date_from:
        stmt = stmt.where(LedgerEntry.created_at >= day_bounds(f.date_from)[0])
    if f.date_to:
        stmt = stmt.where(LedgerEntry.created_at < day_bounds(f.date_to)[1])
    return stmt.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())


def _older_than(stmt: Select, after: tuple[datetime, int] | None) -> Select:
    if after is None:
        return stmt
    at, pk = after
    return stmt.where(or_(LedgerEntry.created_at < at, and_(LedgerEntry.created_at == at, LedgerEntry.id < pk)))


def movements(session: AnySession, shop_id: int, f: MovementFilter, cursor: str | None = None,
              limit: int = 25) -> Page[Row]:
    """One page of movements (keyset, no OFFSET): `limit` rows after the cursor, and the next cursor."""
    rows = session.execute(_older_than(_movements(shop_id, f), decode_cursor(cursor)).limit(limit + 1)).all()
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].created_at, rows[-1].id))


def export_movements(session: AnySession, shop_id: int, f: MovementFilter, batch: int = 1000) -> Iterator[Row]:
    """Every matching movement, newest first, as plain rows: one query per `batch` rows."""
    stmt = _movements(shop_id, f).limit(batch)
    after: tuple[datetime, int] | None = None
    while True:
        rows = session.execute(_older_than(stmt, after)).all()
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].id)

"""Money in: the main account tops up the funds account (货款账户) on the funds page, as a
(simulated) recharge through the payment channel port.

Three steps, like a payout (Brandur Leach's atomic phases):
  1. record the intent, one row per form (UNIQUE request key), under the shop's funds lock: a
     double submit finds the same row and never asks for the money twice;
  2. outside any transaction, ask the channel to take the money, with the top-up's id as its
     idempotency key and a deadline (`not_after`) after which the channel never records it;
  3. settle, under the funds lock again: credit the funds account once (ledger.credit_topup, the
     same rule as the CLI's top-up: arrears are recovered first, R13) or record the refusal.
If the channel does not answer in step 2, the top-up stays pending: sending the same form again
asks the channel again (it takes an id once), and the worker's reconciler (`reconcile`) asks the
channel about it; once its deadline has passed, "unknown to the channel" means never taken.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ..channel.base import ChannelAnswer, PaymentChannel, TransferState, TransientChannelError
from ..db import AnySession, write_transaction
from ..domain.funds_rules import topup_problem
from ..models import FundsTopup, MerchantAccount
from ..models.funds import Memo, TopupStatus
from . import audit, ledger
from .rows import lock

NEVER_REACHED = "never_reached_channel"


class TopupRefused(Exception):
    """The amount is outside the bounds (`code`: a domain.funds_rules.TOPUP_MESSAGES key)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class TopupKeyConflict(Exception):
    """This form's request key was already used for a top-up of another amount."""


@dataclass(frozen=True)
class TopupResult:
    topup_id: int
    amount_fen: int
    status: TopupStatus
    replayed: bool = False  # a double submit: this form's top-up was already settled
    available_fen: int | None = None  # the available balance once credited
    recovered_fen: int = 0  # of the top-up, what paid back the arrears (R13)
    failure_reason: str | None = None
    in_doubt: bool = False  # pending: the request may have reached the channel, which has not answered


def shop_ref(shop_id: int) -> str:
    """How the channel knows the shop (its bank account on file)."""
    return f"shop-{shop_id}"


def request_topup(session: AnySession, actor: MerchantAccount, amount_fen: int, request_key: str, now: datetime, *,
                  channel: PaymentChannel, ttl: timedelta, skew: timedelta = timedelta(0),
                  ip: str | None = None) -> TopupResult:
    """Top up the actor's shop by `amount_fen` through the channel, once per request key."""
    if not actor.is_main:
        raise PermissionError("only the main account tops up the funds account")
    problem = topup_problem(amount_fen)
    if problem:
        raise TopupRefused(problem)
    shop_id = actor.shop_id

    with write_transaction(session, keep_loaded=True):  # 1. the intent, once per form
        ledger.lock_funds(session, shop_id, now)
        topup = session.scalar(select(FundsTopup).where(FundsTopup.shop_id == shop_id,
                                                        FundsTopup.request_key == request_key))
        if topup is None:
            topup = FundsTopup(shop_id=shop_id, request_key=request_key, amount_fen=amount_fen,
                               status=TopupStatus.PENDING, requested_by_id=actor.id, not_after=now + ttl,
                               created_at=now, updated_at=now)
            session.add(topup)
            session.flush()
        elif topup.amount_fen != amount_fen:
            raise TopupKeyConflict(request_key)
        elif topup.status != TopupStatus.PENDING:
            return _result(topup, replayed=True)
        topup_id, not_after = topup.id, topup.not_after

    if now > not_after:  # a pending top-up sent again too late to be recorded: the channel's word settles it
        return reconcile_one(session, shop_id, topup_id, now, channel=channel, skew=skew) or _pending(session, topup_id)
    try:  # 2. the channel, outside any transaction
        answer = channel.recharge(topup_id, shop_ref(shop_id), amount_fen, now, not_after)
    except TransientChannelError as exc:
        return _pending(session, topup_id, in_doubt=exc.delivered)
    return settle(session, shop_id, topup_id, answer, now, actor=actor, ip=ip)  # 3.


def settle(session: AnySession, shop_id: int, topup_id: int, answer: ChannelAnswer, now: datetime, *,
           actor: MerchantAccount | None = None, ip: str | None = None) -> TopupResult:
    """The channel's final word on a top-up: credit it once, or record why not. Locks the funds
    account first, then the top-up (the lock order); a top-up already settled is left as it is."""
    with write_transaction(session, keep_loaded=True):
        funds = ledger.lock_funds(session, shop_id, now)
        topup = lock(session, FundsTopup, FundsTopup.id == topup_id, FundsTopup.shop_id == shop_id)
        if topup is None:
            raise LookupError(f"no top-up {topup_id} in shop {shop_id}")
        if topup.status != TopupStatus.PENDING:
            return _result(topup, replayed=True, available_fen=funds.available_fen)
        topup.updated_at, topup.channel_ref = now, answer.reference
        if answer.accepted:
            recovered = ledger.credit_topup(
                session, funds, topup.amount_fen, now, actor=actor, memo=Memo.TOPUP_APP, ip=ip,
                audit_extra={"topup_id": topup.id, "channel_ref": answer.reference})
            topup.status = TopupStatus.SUCCEEDED
            return _result(topup, available_fen=funds.available_fen, recovered_fen=recovered)
        topup.status, topup.failure_reason = TopupStatus.FAILED, (answer.reason or "rejected")[:64]
        audit.record(session, shop_id=shop_id, actor=actor, action="funds.topup_failed", target_type="funds_topup",
                     target_id=topup.id, now=now, ip=ip,
                     after={"amount_fen": topup.amount_fen, "topup_failure": topup.failure_reason})
        return _result(topup)


def reconcile_one(session: AnySession, shop_id: int, topup_id: int, now: datetime, *, channel: PaymentChannel,
                  skew: timedelta = timedelta(0)) -> TopupResult | None:
    """Ask the channel about a pending top-up and act on its word: taken (credit it), refused, or
    unknown once no request for it can still be recorded (failed: nothing was taken). None while
    it cannot tell yet (the channel is unreachable, or the deadline has not passed)."""
    try:
        status = channel.recharge_status(topup_id, now)
    except TransientChannelError:
        return None
    if status.state == TransferState.SUCCEEDED:
        return settle(session, shop_id, topup_id, ChannelAnswer(True, status.reference), now)
    if status.state == TransferState.FAILED:
        return settle(session, shop_id, topup_id, ChannelAnswer(False, status.reference, status.reason), now)
    not_after = session.scalar(select(FundsTopup.not_after).where(FundsTopup.id == topup_id))
    session.commit()  # ends the read (nothing written)
    if not_after is not None and now > not_after + skew:
        return settle(session, shop_id, topup_id, ChannelAnswer(False, None, NEVER_REACHED), now)
    return None


def reconcile(session: AnySession, now: datetime, *, channel: PaymentChannel, skew: timedelta,
              older_than: timedelta = timedelta(seconds=10), limit: int = 50) -> int:
    """The worker's pass over pending top-ups (those a request did not settle itself, e.g. the
    channel timed out): how many it settled."""
    rows = session.execute(
        select(FundsTopup.shop_id, FundsTopup.id).where(FundsTopup.status == TopupStatus.PENDING,
                                                        FundsTopup.created_at <= now - older_than)
        .order_by(FundsTopup.created_at).limit(limit)).all()
    session.commit()
    return sum(reconcile_one(session, shop_id, topup_id, now, channel=channel, skew=skew) is not None
               for shop_id, topup_id in rows)


def pending_topups(session: AnySession, shop_id: int) -> Sequence[FundsTopup]:
    """The shop's top-ups still waiting for the channel's word (a partial index holds only these)."""
    return session.scalars(select(FundsTopup).where(FundsTopup.shop_id == shop_id,
                                                    FundsTopup.status == TopupStatus.PENDING)
                           .order_by(FundsTopup.created_at)).all()


def _pending(session: AnySession, topup_id: int, *, in_doubt: bool = True) -> TopupResult:
    topup = session.get(FundsTopup, topup_id, populate_existing=True)
    assert topup is not None  # written in step 1
    session.commit()
    return _result(topup, in_doubt=in_doubt and topup.status == TopupStatus.PENDING)


def _result(topup: FundsTopup, **kw) -> TopupResult:
    return TopupResult(topup_id=topup.id, amount_fen=topup.amount_fen, status=TopupStatus(topup.status),
                       failure_reason=topup.failure_reason, **kw)

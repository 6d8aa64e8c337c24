"""The embedded simulated payment channel: the default when no real channel is configured.

It keeps its own record of transfers (its own table, written on its own connection and
committed at once, like a remote system), so it can be asked after a crash and never pays one
payout id twice. It takes a configurable time to settle, and fails realistically: buyers
whose wallet is frozen are rejected, a random share of calls fail transiently, and an outage
switch makes every call fail transiently. It keeps the port's deadline rule: a request that
would be recorded after its `not_after` (on the app's clock, checked once its insert holds the
row) is refused and nothing is recorded. On PostgreSQL each call is bounded by a lock and
statement timeout, like a remote call's read timeout.
"""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import String, Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from ..db import IMMEDIATE
from ..extensions import Model, db
from ..models.types import Fen, UTCDateTime
from .base import ChannelAnswer, TransferState, TransferStatus, TransientChannelError

FROZEN_REASON = "buyer_wallet_frozen"
DECLINED_REASON = "bank_declined"


class SimTransfer(Model):
    """The simulated channel's own books (one row per payout id it ever accepted or rejected)."""

    __tablename__ = "sim_channel_transfer"

    payout_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reference: Mapped[str] = mapped_column(String(64))
    buyer_ref: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(Fen)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settle_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SimRecharge(Model):
    """The simulated channel's books of recharges (money from a shop's bank into its funds account)."""

    __tablename__ = "sim_channel_recharge"

    topup_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reference: Mapped[str] = mapped_column(String(64))
    shop_ref: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(Fen)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The mapped Tables (declarative typing calls `__table__` a FromClause; for a mapped class it is a Table).
_SIM_TRANSFER = cast(Table, SimTransfer.__table__)
_SIM_RECHARGE = cast(Table, SimRecharge.__table__)


class SimulatedChannel:
    def __init__(self, engine_getter, *, settle_seconds: float = 3.0, transient_rate: float = 0.0,
                 frozen_buyers: set[str] | None = None, outage: bool = False, seed: int | None = None,
                 clock=None, timeout_seconds: float = 5.0, declined_shops: set[str] | None = None):
        self._engine_getter = engine_getter
        self._clock = clock
        self.timeout_ms = int(timeout_seconds * 1000)
        self.settle_seconds = settle_seconds
        self.transient_rate = transient_rate
        self.frozen_buyers = set(frozen_buyers or ())
        self.declined_shops = set(declined_shops or ())  # shop refs whose bank declines a recharge
        self.outage = outage
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.submit_calls = 0  # for tests and the benchmark: how often it was asked to pay
        self.recharge_calls = 0  # for tests: how often it was asked to take money in

    @property
    def engine(self) -> Engine:
        return self._engine_getter()

    def _flaky(self) -> None:
        if self.outage:
            raise TransientChannelError("channel outage", delivered=False)
        with self._lock:
            roll = self._rng.random()
        if roll < self.transient_rate:
            raise TransientChannelError("simulated transient error", delivered=False)

    def _row(self, conn, payout_id: int):
        return conn.execute(select(SimTransfer.__table__).where(SimTransfer.payout_id == payout_id)).mappings().first()

    def _connect(self):
        return self.engine.connect().execution_options(**{IMMEDIATE: True})

    def _bounded(self, conn) -> None:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {self.timeout_ms}")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {self.timeout_ms}")

    def submit(self, payout_id: int, buyer_ref: str, amount_fen: int, now: datetime, not_after: datetime) -> ChannelAnswer:
        self._flaky()
        with self._lock:
            self.submit_calls += 1
        try:
            return self._submit(payout_id, buyer_ref, amount_fen, now, not_after)
        except OperationalError as exc:  # the call timed out inside the channel: nothing was recorded
            raise TransientChannelError(f"channel timeout: {exc.orig}", delivered=False) from None

    def _submit(self, payout_id, buyer_ref, amount_fen, now, not_after) -> ChannelAnswer:
        with self._connect() as conn, conn.begin():
            self._bounded(conn)
            row = self._row(conn, payout_id)
            if row is None:
                frozen = buyer_ref in self.frozen_buyers
                row = {
                    "payout_id": payout_id, "reference": f"SIM{payout_id:010d}", "buyer_ref": buyer_ref,
                    "amount_fen": amount_fen, "state": TransferState.FAILED if frozen else TransferState.PROCESSING,
                    "reason": FROZEN_REASON if frozen else None, "accepted_at": now,
                    "settle_at": now + timedelta(seconds=self.settle_seconds),
                }
                conn.execute(insert(_SIM_TRANSFER).values(**row))
                if self._clock is not None and self._clock.now() > not_after:
                    # The request came too late: the channel never takes it (the insert rolls back).
                    raise TransientChannelError("request expired at the channel", delivered=False)
            elif row["amount_fen"] != amount_fen or row["buyer_ref"] != buyer_ref:
                raise ValueError(f"payout {payout_id} was submitted before with other details")
        if row["state"] == TransferState.FAILED:
            return ChannelAnswer(accepted=False, reference=row["reference"], reason=row["reason"])
        return ChannelAnswer(accepted=True, reference=row["reference"])

    def status(self, payout_id: int, now: datetime) -> TransferStatus:
        self._flaky()
        with self._connect() as conn, conn.begin():
            row = self._row(conn, payout_id)
            if row is None:
                return TransferStatus(TransferState.UNKNOWN)
            state = TransferState(row["state"])
            if state == TransferState.PROCESSING and now >= row["settle_at"]:
                state = TransferState.SUCCEEDED
                conn.execute(
                    update(_SIM_TRANSFER).where(SimTransfer.payout_id == payout_id).values(state=state)
                )
        return TransferStatus(state, reference=row["reference"], reason=row["reason"])

    # --- recharges (money in) ----------------------------------------------------------------
    def recharge(self, topup_id: int, shop_ref: str, amount_fen: int, now: datetime, not_after: datetime) -> ChannelAnswer:
        self._flaky()
        with self._lock:
            self.recharge_calls += 1
        try:
            try:
                return self._recharge(topup_id, shop_ref, amount_fen, now, not_after)
            except IntegrityError:  # the same id recorded at the same moment by a racing request (a double
                return self._recharge(topup_id, shop_ref, amount_fen, now, not_after)  # submit): answer what it recorded
        except OperationalError as exc:  # timed out inside the channel: nothing was recorded
            raise TransientChannelError(f"channel timeout: {exc.orig}", delivered=False) from None

    def _recharge(self, topup_id, shop_ref, amount_fen, now, not_after) -> ChannelAnswer:
        with self._connect() as conn, conn.begin():
            self._bounded(conn)
            row = conn.execute(select(_SIM_RECHARGE).where(SimRecharge.topup_id == topup_id)).mappings().first()
            if row is None:
                declined = shop_ref in self.declined_shops
                row = {"topup_id": topup_id, "reference": f"SIMR{topup_id:010d}", "shop_ref": shop_ref,
                       "amount_fen": amount_fen, "state": TransferState.FAILED if declined else TransferState.SUCCEEDED,
                       "reason": DECLINED_REASON if declined else None, "accepted_at": now}
                conn.execute(insert(_SIM_RECHARGE).values(**row))
                if self._clock is not None and self._clock.now() > not_after:
                    raise TransientChannelError("request expired at the channel", delivered=False)
            elif row["amount_fen"] != amount_fen or row["shop_ref"] != shop_ref:
                raise ValueError(f"top-up {topup_id} was submitted before with other details")
        if row["state"] == TransferState.FAILED:
            return ChannelAnswer(accepted=False, reference=row["reference"], reason=row["reason"])
        return ChannelAnswer(accepted=True, reference=row["reference"])

    def recharge_status(self, topup_id: int, now: datetime) -> TransferStatus:
        self._flaky()
        with self._connect() as conn, conn.begin():
            row = conn.execute(select(_SIM_RECHARGE).where(SimRecharge.topup_id == topup_id)).mappings().first()
        if row is None:
            return TransferStatus(TransferState.UNKNOWN)
        return TransferStatus(TransferState(row["state"]), reference=row["reference"], reason=row["reason"])

    # --- for tests and the demo -------------------------------------------------------------
    def transfers(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(SimTransfer.__table__).order_by(SimTransfer.payout_id)).mappings()]


def from_config(app) -> SimulatedChannel:
    cfg = app.config
    return SimulatedChannel(
        lambda: db.engine,
        settle_seconds=float(cfg["SIM_CHANNEL_SETTLE_SECONDS"]),
        transient_rate=float(cfg["SIM_CHANNEL_TRANSIENT_RATE"]),
        frozen_buyers={b.strip() for b in str(cfg["SIM_CHANNEL_FROZEN_BUYERS"]).split(",") if b.strip()},
        outage=bool(cfg["SIM_CHANNEL_OUTAGE"]),
        clock=app.extensions["afterdesk.clock"],
        timeout_seconds=float(cfg["CHANNEL_READ_TIMEOUT"]),
    )

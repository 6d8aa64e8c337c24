"""What AfterDesk needs from a payment channel. The payout id is the idempotency key: the
channel must never pay one id twice, and must answer `status(id)` after any crash. Each submit
carries a deadline (`not_after`): the channel never takes a request after it, so once the
deadline has passed, "unknown" means "never" and the payout's money may be released.

Money in works the same way: a recharge (top-up of the funds account from the shop's bank) is
idempotent by the top-up's id, carries its own `not_after`, and can be asked about after a crash."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class TransientChannelError(Exception):
    """The channel could not be reached or did not answer; try again later.

    `delivered=False` means the request certainly did not reach the channel (connection
    refused, outage notice); the default True means it may have (a timeout): only the
    channel's status can then tell what happened.
    """

    def __init__(self, message: str = "", *, delivered: bool = True):
        super().__init__(message)
        self.delivered = delivered


class TransferState(StrEnum):
    UNKNOWN = "unknown"  # the channel never accepted this id
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class ChannelAnswer:
    accepted: bool  # False: rejected for good, with a reason
    reference: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TransferStatus:
    state: TransferState
    reference: str | None = None
    reason: str | None = None


class PaymentChannel(Protocol):
    def submit(self, payout_id: int, buyer_ref: str, amount_fen: int, now: datetime,
               not_after: datetime) -> ChannelAnswer:
        """Ask the channel to pay. Idempotent by payout_id; refused (nothing recorded) if the
        channel would record it after `not_after`. Raises TransientChannelError."""

    def status(self, payout_id: int, now: datetime) -> TransferStatus:
        """What the channel knows about this payout id. Raises TransientChannelError."""

    def recharge(self, topup_id: int, shop_ref: str, amount_fen: int, now: datetime,
                 not_after: datetime) -> ChannelAnswer:
        """Take `amount_fen` from the shop's bank account into its funds account. Final at once:
        accepted (the money was taken) or rejected with a reason. Idempotent by topup_id (a repeat
        answers what was recorded); refused, nothing recorded, after `not_after`. Raises
        TransientChannelError."""

    def recharge_status(self, topup_id: int, now: datetime) -> TransferStatus:
        """SUCCEEDED, FAILED, or UNKNOWN (never recorded) for this top-up id. Raises TransientChannelError."""

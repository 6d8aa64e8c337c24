"""Shop-wide money controls (R20, R21): the undo window and the approval thresholds. Main account
only (the route says so); every change is audited (R19)."""
from __future__ import annotations

from datetime import datetime


from ..db import AnySession, write_transaction
from ..domain.payout_controls import undo_window_ok
from ..models import MerchantAccount, Shop
from . import audit
from .rows import lock


def update_payout_controls(session: AnySession, actor: MerchantAccount, *, undo_window_seconds: int,
                           payout_approval_fen: int | None, refund_approval_fen: int | None, now: datetime,
                           ip: str | None = None) -> Shop:
    if not undo_window_ok(undo_window_seconds):
        raise ValueError("undo window out of range")
    if any(v is not None and v <= 0 for v in (payout_approval_fen, refund_approval_fen)):
        raise ValueError("thresholds must be positive")
    with write_transaction(session):
        shop = lock(session, Shop, Shop.id == actor.shop_id)
        fields = ("undo_window_seconds", "payout_approval_fen", "refund_approval_fen")
        before = {f: getattr(shop, f) for f in fields}
        shop.undo_window_seconds = undo_window_seconds
        shop.payout_approval_fen = payout_approval_fen
        shop.refund_approval_fen = refund_approval_fen
        after = {f: getattr(shop, f) for f in fields}
        if before != after:
            audit.record(session, shop_id=shop.id, actor=actor, action="settings.payout_controls", target_type="shop",
                         target_id=shop.id, now=now, ip=ip, before=before, after=after)
    return shop

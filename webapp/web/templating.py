"""Rules and codes the templates compare with or show, as values (never literals in templates):
status enums and sets from domain/states.py, limits from the domain, where a message leads.

The application factory calls `register(app)`; until it does, the core blueprint registers it
when it is registered (webapp/web/core/__init__.py). Registering twice is harmless."""
from __future__ import annotations

from flask import Flask

from ..domain.payout_controls import APPROVAL_EXPIRES_AFTER
from ..domain.payout_rules import MAX_PAYOUTS_PER_ORDER
from ..domain.permissions import Role
from ..domain.refund_rules import WINDOW, Offer, RefundState
from ..domain.states import PAYOUT_FINAL, PAYOUT_IN_FLIGHT, PAYOUT_LIVE, CaseStatus, PayoutStatus
from .messages import message_target, review_why_text


def register(app: Flask) -> None:
    app.jinja_env.globals.update(
        PayoutStatus=PayoutStatus,
        CaseStatus=CaseStatus,
        Role=Role,
        Offer=Offer,
        RefundState=RefundState,
        PAYOUT_LIVE=PAYOUT_LIVE,
        PAYOUT_FINAL=PAYOUT_FINAL,
        PAYOUT_IN_FLIGHT=PAYOUT_IN_FLIGHT,
        MAX_PAYOUTS_PER_ORDER=MAX_PAYOUTS_PER_ORDER,
        REFUND_WINDOW_DAYS=WINDOW.days,  # R12
        APPROVAL_EXPIRY_HOURS=int(APPROVAL_EXPIRES_AFTER.total_seconds() // 3600),  # R20
        review_why_text=review_why_text,
        message_target=message_target,
    )

"""The shop's audit trail for the main account's Activity page (R19). Read-only: the app has
no path that updates or deletes an audit event."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..domain.calendar import day_bounds
from ..db import AnySession
from ..models import AuditEvent
from .queries import Page, keyset

ACTIONS = (
    "payout.create", "payout.continue", "payout.succeeded", "payout.failed", "funds.topup",
    "staff.create", "staff.disable", "staff.enable", "staff.password_reset",
    "quota.update", "quota.enable", "quota.disable",
    "refund.apply", "refund.approve", "refund.reject", "refund.paid",
    "settings.fast_refund_confirm", "settings.fast_refund_on", "settings.fast_refund_off",
    "session.end", "session.end_others",
    "two_factor.enable", "two_factor.disable", "two_factor.recovery_codes", "two_factor.recovery_used",
    "two_factor.failed", "two_factor.reset", "settings.staff_two_factor_on", "settings.staff_two_factor_off",
)
GROUPS = ("payout.", "quota.", "staff.", "funds.", "refund.", "settings.", "session.", "two_factor.")


@dataclass(frozen=True)
class ActivityFilter:
    action: str = ""  # an exact action or a prefix such as "payout."
    actor_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def events(session: AnySession, shop_id: int, f: ActivityFilter, cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.shop_id == shop_id)
    if f.action:
        stmt = stmt.where(AuditEvent.action.startswith(f.action, autoescape=True))
    if f.actor_id:
        stmt = stmt.where(AuditEvent.actor_kind == "merchant", AuditEvent.actor_id == f.actor_id)
    if f.date_from:
        stmt = stmt.where(AuditEvent.created_at >= day_bounds(f.date_from)[0])
    if f.date_to:
        stmt = stmt.where(AuditEvent.created_at < day_bounds(f.date_to)[1])
    return keyset(session, stmt, AuditEvent.created_at, AuditEvent.id, cursor, limit)

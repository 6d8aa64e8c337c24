"""Everything the templates use, registered in one place by the application factory: filters
(money, local time), labels and texts in the reader's language, the per-request badges, and the
rules and codes templates compare with, as values (never literals in templates): status enums
and sets from domain/states.py, limits from the domain, where a message leads."""
from __future__ import annotations

from flask import Flask, g
from flask_babel import get_locale, gettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..domain import calendar, money, payout_rules, refund_rules, states
from ..domain.permissions import ROLE_LABELS

from ..domain.payout_controls import APPROVAL_EXPIRES_AFTER
from ..domain.payout_rules import MAX_PAYOUTS_PER_ORDER
from ..domain.permissions import Role
from ..domain.refund_rules import WINDOW, Offer, RefundState
from ..domain.states import PAYOUT_FINAL, PAYOUT_IN_FLIGHT, PAYOUT_LIVE, CaseStatus, PayoutStatus
from .htmx import version
from .steps import FlowMode, FlowStep, SettlementStep
from .messages import (
    MOVEMENT_LABELS, TIMELINE_LABELS, action_label, audit_details, cancel_text, failure_text, message_body,
    message_target, message_title, refusal_action, refusal_text, review_why_text, buyer_failure_text,
)


def register(app: Flask) -> None:
    app.jinja_env.filters["fen"] = money.format_fen
    app.jinja_env.filters["fen_words"] = _fen_words
    app.jinja_env.filters["localtime"] = _localtime
    app.jinja_env.globals.update(
        label=label,
        csrf_token=generate_csrf,
        ROLE_LABELS=ROLE_LABELS,
        ORDER_STATUS_LABELS=states.ORDER_STATUS_LABELS,
        ORDER_REFUND_LABELS=states.ORDER_REFUND_LABELS,
        ORDER_REFUND_FILTERS=states.ORDER_REFUND_FILTERS,
        CASE_STATUS_LABELS=states.CASE_STATUS_LABELS,
        CASE_KIND_LABELS=states.CASE_KIND_LABELS,
        CASE_REASON_LABELS=refund_rules.CASE_REASON_LABELS,
        PAYOUT_STATUS_LABELS=states.PAYOUT_STATUS_LABELS,
        REASON_LABELS=payout_rules.REASON_LABELS,
        MOVEMENT_LABELS=MOVEMENT_LABELS,
        TIMELINE_LABELS=TIMELINE_LABELS,
        settings_missing={m: refund_rules.MISSING_MESSAGES[m] for m in refund_rules.Missing},
        refusal_text=refusal_text,
        refusal_action=refusal_action,
        buyer_failure_text=buyer_failure_text,
        failure_text=failure_text,
        cancel_text=cancel_text,
        message_title=message_title,
        message_body=message_body,
        action_label=action_label,
        audit_details=audit_details,
        unread_messages=unread_messages,
        awaiting_cases=awaiting_cases,
        awaiting_approvals=awaiting_approvals,
        PayoutStatus=PayoutStatus,
        live_version=version,  # ?v= on a live fragment's poll URL
        FlowMode=FlowMode,
        FlowStep=FlowStep,
        SettlementStep=SettlementStep,
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

    app.context_processor(_current_locale)


def _fen_words(fen: int) -> str:
    return money.fen_to_chinese_words(fen) if get_locale().language == "zh" else money.fen_to_english_words(fen)


def _localtime(dt, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return calendar.local(dt).strftime(fmt) if dt else ""


def _current_locale() -> dict:
    locale = get_locale()
    return {"current_locale": "zh_CN" if locale and locale.language == "zh" else "en"}


def label(mapping: dict, key) -> str:
    return gettext(mapping[key]) if key in mapping else str(key)


def unread_messages() -> int:
    """The bell: the shop's unread messages, or the buyer's own (R25)."""
    from ..extensions import db
    from ..services.inbox import buyer_unread_count, unread_count

    shop_id = getattr(current_user, "shop_id", None)
    if shop_id:
        return unread_count(db.session, shop_id)
    if getattr(current_user, "role_enum", None) == "buyer":
        return buyer_unread_count(db.session, current_user.id)
    return 0


def awaiting_cases() -> int:
    """The after-sales badge: cases awaiting the merchant's review (cached per request)."""
    if "awaiting_cases" not in g:
        from ..extensions import db
        from ..services.refunds import awaiting_count

        shop_id = getattr(current_user, "shop_id", None)
        g.awaiting_cases = awaiting_count(db.session, shop_id) if shop_id else 0
    return g.awaiting_cases


def awaiting_approvals() -> int:
    """The approvals badge (R20), cached per request."""
    if "awaiting_approvals" not in g:
        from ..extensions import db
        from ..services.payouts import awaiting_approval_count

        shop_id = getattr(current_user, "shop_id", None)
        g.awaiting_approvals = awaiting_approval_count(db.session, shop_id) if shop_id else 0
    return g.awaiting_approvals

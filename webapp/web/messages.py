"""Turning domain refusals into the user's language (the domain keeps untranslated msgids)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext

from ..domain import N_, calendar, money
from ..domain.payout_rules import Refusal


def _format(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return money.format_fen(value)
    if isinstance(value, datetime):
        return calendar.local(value).strftime("%H:%M:%S")
    return value


def refusal_text(refusal: Refusal) -> str:
    params = {k: (v if k == "count" else _format(v)) for k, v in refusal.params.items()}
    return gettext(refusal.message, **params)


# Channel failure reasons (stable codes from the channel and the worker) in plain words.
FAILURE_REASONS = {
    "buyer_wallet_frozen": N_("The buyer's wallet is frozen, so the channel could not pay it. Contact the buyer, then start a new payout."),
    "channel_did_not_accept_in_time": N_("The payment channel did not accept the payout within 25 minutes. The money is back in the funds account; start a new payout."),
    "rejected_by_channel": N_("The payment channel rejected the payout. The money is back in the funds account."),
    "failed_at_channel": N_("The payment channel could not complete the payout. The money is back in the funds account."),
}


def failure_text(code: str | None) -> str:
    if not code:
        return ""
    return gettext(FAILURE_REASONS[code]) if code in FAILURE_REASONS else code


def message_title(message) -> str:
    if message.kind == "payout_failed":
        return gettext("Small payout failed")
    return message.kind


def message_body(message) -> str:
    import json

    params = json.loads(message.params or "{}")
    if message.kind == "payout_failed":
        return gettext(
            "The payout of %(amount)s for order %(order_no)s failed: %(reason)s",
            amount=money.format_fen(int(params.get("amount_fen", 0))), order_no=params.get("order_no", ""),
            reason=failure_text(params.get("reason")),
        )
    return ""


ACTION_LABELS = {
    "payout.create": N_("Payout started"),
    "payout.continue": N_("Continue payout pressed"),
    "payout.succeeded": N_("Payout succeeded"),
    "payout.failed": N_("Payout failed"),
    "funds.topup": N_("Funds topped up"),
    "staff.create": N_("Sub-account created"),
    "staff.disable": N_("Sub-account disabled"),
    "staff.enable": N_("Sub-account enabled"),
    "staff.password_reset": N_("Password reset"),
    "quota.update": N_("Quota changed"),
    "quota.enable": N_("Payouts enabled"),
    "quota.disable": N_("Payouts disabled"),
    "refund.apply": N_("Refund applied for (buyer)"),
    "refund.approve": N_("Refund approved"),
    "refund.reject": N_("Refund rejected"),
    "refund.paid": N_("Refund paid"),
    "settings.fast_refund_confirm": N_("Fast refund confirmed with its refund note"),
    "settings.fast_refund_on": N_("Fast refund turned on"),
    "settings.fast_refund_off": N_("Fast refund turned off"),
}

DETAIL_LABELS = {
    "enabled": N_("payouts allowed"),
    "per_payout_fen": N_("per payout"),
    "daily_fen": N_("daily"),
    "active": N_("active"),
    "amount_fen": N_("amount"),
    "status": N_("status"),
    "reason": N_("reason"),
    "failure_reason": N_("failure"),
    "available_fen": N_("available"),
    "used_today_fen": N_("used today"),
    "login": N_("login"),
    "display_name": N_("name"),
    "quota_daily_fen": N_("daily limit checked"),
    "account_used_before_fen": N_("used before"),
    "advanced_fen": N_("platform advanced"),
    "arrears_fen": N_("arrears"),
    "recovered_fen": N_("arrears recovered"),
    "note": N_("refund note"),
}


def action_label(action: str) -> str:
    return gettext(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def _detail_value(key: str, value) -> str:
    from ..domain.payout_rules import REASON_LABELS
    from ..domain.states import PAYOUT_STATUS_LABELS

    if value is None:
        return "—"
    if key == "status" and value in PAYOUT_STATUS_LABELS:
        return gettext(PAYOUT_STATUS_LABELS[value])
    if key == "reason" and value in REASON_LABELS:
        return gettext(REASON_LABELS[value])
    if key == "failure_reason":
        return failure_text(value)
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if key.endswith("_fen") and isinstance(value, int):
        return money.format_fen(value)
    return str(value)


def audit_details(event) -> str:
    """"daily: ¥200.00 → ¥50.00; …" for the keys a person cares about."""
    import json

    before = json.loads(event.before) if event.before else {}
    after = json.loads(event.after) if event.after else {}
    parts = []
    for key in DETAIL_LABELS:
        if key not in before and key not in after:
            continue
        name = gettext(DETAIL_LABELS[key])
        if key in before and key in after and before[key] != after[key]:
            parts.append(f"{name}: {_detail_value(key, before[key])} → {_detail_value(key, after[key])}")
        elif key in after and key not in before and after[key] is not None:
            parts.append(f"{name}: {_detail_value(key, after[key])}")
    return "; ".join(parts)


MOVEMENT_LABELS = {
    "topup": N_("Top-up"),
    "hold": N_("Held for a payout"),
    "capture": N_("Payout paid"),
    "release": N_("Payout failed, released"),
    "refund": N_("Refund paid"),
    "advance": N_("Platform advance (平台垫付)"),
    "recover": N_("Arrears recovered (追缴成功)"),
}

TIMELINE_LABELS = {
    "submitted": N_("Application submitted"),
    "auto_approved": N_("Approved automatically (fast refund)"),
    "to_review": N_("Waiting for the shop to review"),
    "approved": N_("Approved by the shop"),
    "refunded": N_("Refunded"),
    "rejected": N_("Rejected by the shop"),
}

REVIEW_WHY = {
    "goods_not_intact": N_("The goods are not intact, so the shop reviews the return."),
    "shop_not_opted_in": N_("This shop does not offer fast refund right now, so the shop reviews it."),
}



def apply_refusal_text(refusal, params: dict) -> str:
    from ..domain.refund_rules import APPLY_MESSAGES

    formatted = {k: calendar.local(v).strftime("%Y-%m-%d %H:%M") for k, v in params.items() if isinstance(v, datetime)}
    return gettext(APPLY_MESSAGES[refusal], **formatted)

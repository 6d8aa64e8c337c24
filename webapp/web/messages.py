"""Turning domain refusals into the user's language (the domain keeps untranslated msgids)."""
from __future__ import annotations

import json
from datetime import datetime

from flask import current_app, url_for
from flask_babel import gettext, ngettext

from ..domain import N_, calendar, money
from ..domain.payout_rules import Refusal
from ..models.funds import Memo


def _format(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return money.format_fen(value)
    if isinstance(value, datetime):
        return calendar.local(value).strftime("%H:%M:%S")
    return value


def _viewer_is_staff() -> bool:
    from flask_login import current_user

    return getattr(current_user, "is_main", True) is False


def refusal_text(refusal: Refusal) -> str:
    """A payout refusal in the reader's words, for whoever reads it (a sub-account asks the main
    account where the main account acts), with when the shop's next day starts for daily limits."""
    from .. import clock

    params = {k: (v if k == "count" else _format(v)) for k, v in refusal.params.items()}
    params["until"] = calendar.local(calendar.next_day_start(clock.now())).strftime("%Y-%m-%d %H:%M")
    return gettext(refusal.message_for(staff=_viewer_is_staff()), **params)


def refusal_action(refusal: Refusal) -> tuple[str, str] | None:
    """The link to what the reader can do about it, where there is one: the main account tops up
    the funds account (the funds page). (label, url) or None."""
    from ..domain.payout_rules import Code

    if refusal.code == Code.INSUFFICIENT_FUNDS and not _viewer_is_staff():
        return gettext("Top up the funds account"), url_for("settings.funds", _anchor="topup-title")
    return None


# Channel failure reasons (stable codes from the channel and the worker) in plain words. Limits
# come in as values (%(minutes)s: PAYOUT_GIVE_UP_MINUTES), never written into the text.
FAILURE_REASONS = {
    "buyer_wallet_frozen": N_("The buyer's wallet is frozen, so the channel could not pay it. Contact the buyer, then start a new payout."),
    "channel_did_not_accept_in_time": N_("The payment channel did not accept the payout within %(minutes)s minutes. The money is back in the funds account; start a new payout."),
    "rejected_by_channel": N_("The payment channel rejected the payout. The money is back in the funds account."),
    "failed_at_channel": N_("The payment channel could not complete the payout. The money is back in the funds account."),
}


def failure_text(code: str | None) -> str:
    if not code:
        return ""
    if code not in FAILURE_REASONS:
        return code
    return gettext(FAILURE_REASONS[code], minutes=current_app.config["PAYOUT_GIVE_UP_MINUTES"])


# Messages to a buyer (R25): what happened, in the buyer's words, and what they can do.
BUYER_MESSAGE_TITLES = {
    "payout_received": N_("Payout received"),
    "payout_failed": N_("A payout to you did not arrive"),
    "refund_auto": N_("Fast refund: refunded"),
    "refund_approved": N_("Refund approved and paid"),
    "refund_rejected": N_("Refund application rejected"),
}

# What the buyer can do about a failed payout, by the channel's failure code.
BUYER_FAILURE_ADVICE = {
    "buyer_wallet_frozen": N_("Your wallet is frozen: unfreeze it, then ask the shop to pay again."),
}
BUYER_FAILURE_ADVICE_OTHER = N_("Nothing reached your wallet. If you still expect this money, ask the shop to pay again.")

# Why a payout to the buyer failed, in the buyer's words (the channel's failure codes), and what to do.
BUYER_FAILURE_WHY = {
    "buyer_wallet_frozen": N_("Your wallet is frozen, so the payment channel could not pay into it. Unfreeze your wallet, then contact the shop to pay you again."),
    "channel_did_not_accept_in_time": N_("The payment channel did not take this payout in time, so nothing reached your wallet. Contact the shop if you still expect this money: it can pay you again."),
    "rejected_by_channel": N_("The payment channel turned this payout down, so nothing reached your wallet. Contact the shop if you still expect this money: it can pay you again."),
}
BUYER_FAILURE_WHY_OTHER = N_("The payment channel could not complete this payout, so nothing reached your wallet. Contact the shop if you still expect this money: it can pay you again.")


def buyer_failure_text(code: str | None) -> str:
    """A failed payout on the buyer's own pages (R9, R25): why, and what the buyer can do."""
    return gettext(BUYER_FAILURE_WHY.get(code or "", BUYER_FAILURE_WHY_OTHER))


def buyer_message_title(message) -> str:
    return gettext(BUYER_MESSAGE_TITLES[message.kind]) if message.kind in BUYER_MESSAGE_TITLES else message.kind


def buyer_message_body(message) -> str:
    p = json.loads(message.params or "{}")
    amount = money.format_fen(int(p.get("amount_fen") or 0))
    shop, order_no = p.get("shop", ""), p.get("order_no", "")
    if message.kind == "payout_received":
        return gettext("%(shop)s paid you %(amount)s for order %(order_no)s. It has arrived in your wallet.",
                       shop=shop, amount=amount, order_no=order_no)
    if message.kind == "payout_failed":
        advice = BUYER_FAILURE_ADVICE.get(p.get("reason") or "", BUYER_FAILURE_ADVICE_OTHER)
        return gettext("The payout of %(amount)s from %(shop)s for order %(order_no)s did not arrive. %(advice)s",
                       shop=shop, amount=amount, order_no=order_no, advice=gettext(advice))
    if message.kind == "refund_auto":
        return gettext("Your fast refund for order %(order_no)s at %(shop)s was approved automatically: %(amount)s is refunded.",
                       shop=shop, amount=amount, order_no=order_no)
    if message.kind == "refund_approved":
        return gettext("%(shop)s approved your refund for order %(order_no)s: %(amount)s is refunded.",
                       shop=shop, amount=amount, order_no=order_no)
    if message.kind == "refund_rejected":
        return gettext("%(shop)s rejected your refund application for order %(order_no)s. Reason: %(reason)s",
                       shop=shop, order_no=order_no, reason=p.get("reason", ""))
    return ""


def message_title(message) -> str:
    if getattr(message, "buyer_id", None) is not None:
        return buyer_message_title(message)
    if message.kind == "payout_failed":
        return gettext("Small payout failed")
    if message.kind == "payout_awaiting_approval":
        return gettext("A payout awaits approval")
    if message.kind == "payout_cancelled":
        return gettext("Small payout cancelled")
    return message.kind


def message_body(message) -> str:
    if getattr(message, "buyer_id", None) is not None:
        return buyer_message_body(message)
    params = json.loads(message.params or "{}")
    if message.kind == "payout_failed":
        return gettext(
            "The payout of %(amount)s for order %(order_no)s failed: %(reason)s",
            amount=money.format_fen(int(params.get("amount_fen", 0))), order_no=params.get("order_no", ""),
            reason=failure_text(params.get("reason")),
        )
    amount, order_no = money.format_fen(int(params.get("amount_fen", 0))), params.get("order_no", "")
    if message.kind == "payout_awaiting_approval":
        return gettext("A payout of %(amount)s for order %(order_no)s is at or above the approval threshold and "
                       "waits for the main account or an approver.", amount=amount, order_no=order_no)
    if message.kind == "payout_cancelled":
        text = gettext("The payout of %(amount)s for order %(order_no)s was cancelled: %(reason)s",
                       amount=amount, order_no=order_no, reason=cancel_text(params.get("reason")))
        note = params.get("note")
        return text + (" " + gettext("Note: %(note)s", note=note) if note else "")
    return ""


def message_target(message) -> str:
    """Where a message leads, built here from its codes (the services store no URLs): the refund's
    status page or the order with the payout. An older row's stored local link is the fallback."""
    from .access import safe_next

    params = json.loads(message.params or "{}")
    order_no = params.get("order_no")
    anchor = f"payout-{message.payout_id}" if message.payout_id else None
    if getattr(message, "buyer_id", None) is not None:
        if message.case_id is not None:
            return url_for("buyer.refund", case_id=message.case_id)
        if order_no:
            return url_for("buyer.order_detail", order_no=order_no, _anchor=anchor)
        return safe_next(message.link) or url_for("buyer_inbox.index")
    if order_no:
        return url_for("merchant.order_detail", order_no=order_no, _anchor=anchor)
    return safe_next(message.link) or url_for("inbox.index")


def cancel_text(code: str | None) -> str:
    from ..domain.payout_controls import APPROVAL_EXPIRES_AFTER, CANCEL_REASON_LABELS

    hours = int(APPROVAL_EXPIRES_AFTER.total_seconds() // 3600)
    return gettext(CANCEL_REASON_LABELS[code], hours=hours) if code in CANCEL_REASON_LABELS else (code or "")


DECISION_REFUSED = {
    "not_allowed": N_("Only the main account or an approver can decide this payout."),
    "own_request": N_("You started this payout, so someone else must approve it: the main account or another approver."),
    "already_decided": N_("This payout has already been decided or withdrawn."),
    "already_sent": N_("This payout has already been sent to the payment channel and can no longer be withdrawn."),
}


ACTION_LABELS = {
    "payout.create": N_("Payout started"),
    "payout.continue": N_("Continue payout pressed"),
    "payout.succeeded": N_("Payout succeeded"),
    "payout.failed": N_("Payout failed"),
    "payout.approve": N_("Payout approved"),
    "payout.rejected": N_("Payout rejected"),
    "payout.withdrawn": N_("Payout withdrawn"),
    "payout.approval_expired": N_("Payout approval expired"),
    "settings.payout_controls": N_("Payout controls changed"),
    "staff.approver": N_("Approver changed"),
    "funds.topup": N_("Funds topped up"),
    "funds.topup_failed": N_("Top-up not completed"),
    "staff.create": N_("Sub-account created"),
    "staff.disable": N_("Sub-account disabled"),
    "staff.enable": N_("Sub-account enabled"),
    "staff.password_reset": N_("Password reset"),
    "session.end": N_("Signed out one of their sessions"),
    "session.end_others": N_("Signed out everywhere else"),
    "session.reauth": N_("Password confirmed for money settings"),
    "session.reauth_failed": N_("Wrong password when confirming for money settings"),
    "quota.update": N_("Quota changed"),
    "quota.enable": N_("Payouts enabled"),
    "quota.disable": N_("Payouts disabled"),
    "refund.apply": N_("Refund applied for (buyer)"),
    "refund.approve": N_("Refund approved"),
    "refund.reject": N_("Refund rejected"),
    "refund.paid": N_("Refund paid"),
    "refund.repaired": N_("Refund record corrected: refund paid"),
    "refund.repaired_closed": N_("Refund record corrected: case closed"),
    "order.refunded_closed": N_("Order closed: refunded in full"),
    "settings.fast_refund_confirm": N_("Fast refund confirmed with its refund note"),
    "settings.fast_refund_on": N_("Fast refund turned on"),
    "settings.fast_refund_off": N_("Fast refund turned off"),
    # Two-factor sign-in (services/two_factor.py)
    "two_factor.enable": N_("Two-step verification turned on"),
    "two_factor.disable": N_("Two-step verification turned off"),
    "two_factor.recovery_codes": N_("New recovery codes generated"),
    "two_factor.recovery_used": N_("Signed in with a recovery code"),
    "two_factor.failed": N_("Wrong code at sign-in (two-step verification)"),
    "two_factor.reset": N_("Two-step verification reset by the main account"),
    "settings.staff_two_factor_on": N_("Two-step verification required for sub-accounts"),
    "settings.staff_two_factor_off": N_("Two-step verification no longer required for sub-accounts"),
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
    "device": N_("device"),
    "address": N_("IP address"),
    "sessions_ended": N_("sessions ended"),
    "refund_enabled": N_("refunds allowed"),
    "per_refund_fen": N_("per refund"),
    "refund_daily_fen": N_("daily refunds"),
    "refunded_today_fen": N_("refunded today"),
    "approver": N_("approver"),
    "undo_window_seconds": N_("undo window (seconds)"),
    "payout_approval_fen": N_("payout approval from"),
    "refund_approval_fen": N_("refund approval from"),
    "kind": N_("kind"),
    "goods_intact": N_("goods intact"),
    "route": N_("handled by"),
    "refunded_fen": N_("refunded"),
    "factor": N_("with"),
    "recovery_codes_left": N_("recovery codes left"),
    "staff_two_factor_required": N_("required for sub-accounts"),
    "topup_failure": N_("why"),
}


# How a code was given (services/two_factor.py BY_*), in the activity details.
FACTOR_LABELS = {
    "authenticator": N_("authenticator app"),
    "recovery_code": N_("recovery code"),
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
    if key == "factor" and value in FACTOR_LABELS:  # how a two-step code was given
        return gettext(FACTOR_LABELS[value])
    if key == "topup_failure":
        return topup_failure_text(value)
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if key.endswith("_fen") and isinstance(value, int):
        return money.format_fen(value)
    return str(value)


# A detail means something else in some actions: "enabled" is the payout permission in a quota
# change but fast refund itself in the settlement settings (R11); an order's status is not a payout's.
ACTION_DETAIL_LABELS = {
    "settings.fast_refund_confirm": {"enabled": N_("fast refund")},
    "settings.fast_refund_on": {"enabled": N_("fast refund")},
    "settings.fast_refund_off": {"enabled": N_("fast refund")},
    "refund.reject": {"reason": N_("reason for rejecting")},
}
ROUTE_LABELS = {"automatic": N_("fast refund, at once"), "review": N_("the shop's review")}


def _action_detail_value(action: str, key: str, value) -> str:
    from ..domain.states import CASE_KIND_LABELS, ORDER_STATUS_LABELS

    if action.startswith("settings.fast_refund") and key == "enabled" and isinstance(value, bool):
        return gettext("On") if value else gettext("Off")
    if action.startswith("order.") and key == "status" and value in ORDER_STATUS_LABELS:
        return gettext(ORDER_STATUS_LABELS[value])
    if key in ("payout_approval_fen", "refund_approval_fen") and value is None:
        return gettext("Off")  # R20: no threshold, no approval
    if key == "kind" and value in CASE_KIND_LABELS:
        return gettext(CASE_KIND_LABELS[value])
    if key == "route" and value in ROUTE_LABELS:
        return gettext(ROUTE_LABELS[value])
    return _detail_value(key, value)


def audit_details(event) -> str:
    """"daily: ¥200.00 → ¥50.00; …" for the keys a person cares about, named as this action means them."""
    before = json.loads(event.before) if event.before else {}
    after = json.loads(event.after) if event.after else {}
    names = ACTION_DETAIL_LABELS.get(event.action, {})
    parts = []
    for key in DETAIL_LABELS:
        if key not in before and key not in after:
            continue
        name = gettext(names.get(key, DETAIL_LABELS[key]))
        if key in before and key in after and before[key] != after[key]:
            parts.append(f"{name}: {_action_detail_value(event.action, key, before[key])} → "
                         f"{_action_detail_value(event.action, key, after[key])}")
        elif key in after and key not in before and after[key] is not None:
            parts.append(f"{name}: {_action_detail_value(event.action, key, after[key])}")
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

# Ledger memos (models/funds.py Memo): stored as codes, said in the reader's language here. A row
# from before codes (migration 0014 mapped the texts it knew) shows its text as it is.
LEDGER_MEMO_LABELS: dict[str, str] = {
    Memo.TOPUP_APP: N_("Top-up on the funds page"),
    Memo.TOPUP_CLI: N_("Top-up by the platform operator"),
    Memo.TOPUP_DEMO: N_("Demo top-up"),
    Memo.ARREARS_RECOVERED: N_("Arrears paid back from the top-up"),
    Memo.PLATFORM_ADVANCE: N_("The platform advanced what the balance could not cover"),
    Memo.REPAIR_0006: N_("Record corrected: a refund marked without money"),
    Memo.PLATFORM_ADVANCE_REPAIR_0006: N_("Record corrected: a refund marked without money, advanced by the platform"),
}


def memo_text(memo: str | None) -> str:
    return gettext(LEDGER_MEMO_LABELS[memo]) if memo in LEDGER_MEMO_LABELS else (memo or "")


def topup_failure_text(code: str | None) -> str:
    from ..domain.funds_rules import TOPUP_FAILURE_OTHER, TOPUP_FAILURES

    if not code:
        return ""
    return gettext(TOPUP_FAILURES.get(code, TOPUP_FAILURE_OTHER))


TIMELINE_LABELS = {
    "submitted": N_("Application submitted"),
    "auto_approved": N_("Approved automatically (fast refund)"),
    "to_review": N_("Waiting for the shop to review"),
    "approved": N_("Approved by the shop"),
    "refunded": N_("Refunded"),
    "rejected": N_("Rejected by the shop"),
    "order_closed": N_("Refunded in full: the order is closed"),
    "repaired_refunded": N_("Refund paid (record corrected)"),
    "repaired_closed": N_("Closed: no money had moved (record corrected)"),
}

REVIEW_WHY = {
    "goods_not_intact": N_("The goods are not intact, so the shop reviews the return."),
    "shop_not_opted_in": N_("This shop does not offer fast refund right now, so the shop reviews it."),
    "fast_refund_off": N_("The shop has switched fast refund off, so the shop reviews your application."),
    "outside_window": N_("More than %(days)s days have passed since payment, so fast refund no longer applies; the shop reviews your application."),
}


def review_why_text(code: str | None) -> str:
    """Why an application waits for the shop (R23), with the window from the rule itself (R12)."""
    from ..domain.refund_rules import WINDOW

    return gettext(REVIEW_WHY[code], days=WINDOW.days) if code in REVIEW_WHY else ""



def apply_refusal_text(refusal, params: dict) -> str:
    from ..domain.refund_rules import APPLY_MESSAGES

    from ..domain.refund_rules import WINDOW

    formatted = {k: calendar.local(v).strftime("%Y-%m-%d %H:%M") for k, v in params.items() if isinstance(v, datetime)}
    return gettext(APPLY_MESSAGES[refusal], days=WINDOW.days, **formatted)


def signin_wait_text(seconds: float) -> str:
    """How long a throttled sign-in (or step-up) must wait, in seconds under a minute, else minutes."""
    from ..domain.signin_throttle import wait_parts

    n, unit = wait_parts(seconds)
    if unit == "seconds":
        return ngettext("Too many failed sign-ins. Wait %(num)s second and try again.",
                        "Too many failed sign-ins. Wait %(num)s seconds and try again.", n)
    return ngettext("Too many failed sign-ins. Wait %(num)s minute and try again.",
                    "Too many failed sign-ins. Wait %(num)s minutes and try again.", n)

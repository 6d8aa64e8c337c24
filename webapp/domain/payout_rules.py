"""Small-payout rules (R2 eligibility, R3 amount). Pure: plain values in, refusals out.

The service loads the facts from rows it has locked (DESIGN.md: funds account -> shop-day
counter -> account-day counter -> order) and calls these functions; views never decide.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from . import N_

MAX_PAYOUTS_PER_ORDER = 5  # R2.1: pending, processing and succeeded count; failed do not
MIN_INTERVAL = timedelta(minutes=1)  # R2.2: one payout per order per minute, any status
NOTE_MAX_CHARS = 200


class Reason(StrEnum):
    """Why the shop pays (打款原因)."""

    SHIPPING_FEE = "shipping_fee"  # 补运费
    PRICE_DIFFERENCE = "price_difference"  # 补差价
    COMPENSATION = "compensation"  # 赔付
    OTHER = "other"  # 其他


REASON_LABELS = {
    Reason.SHIPPING_FEE: N_("Shipping fee"),
    Reason.PRICE_DIFFERENCE: N_("Price difference"),
    Reason.COMPENSATION: N_("Compensation"),
    Reason.OTHER: N_("Other"),
}


class Code(StrEnum):
    """Stable refusal codes; the rule number is in RULE."""

    ORDER_COUNT_LIMIT = "order_count_limit"
    TOO_FREQUENT = "too_frequent"
    NO_QUOTA = "no_quota"
    ORDER_FULLY_PAID_OUT = "order_fully_paid_out"
    SHOP_DAILY_CAP_REACHED = "shop_daily_cap_reached"
    OVER_PER_PAYOUT_LIMIT = "over_per_payout_limit"
    OVER_ACCOUNT_DAILY_LIMIT = "over_account_daily_limit"
    OVER_SHOP_REMAINING = "over_shop_remaining"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    OVER_ORDER_REMAINING = "over_order_remaining"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"


RULE = {
    Code.ORDER_COUNT_LIMIT: "R2.1",
    Code.TOO_FREQUENT: "R2.2",
    Code.NO_QUOTA: "R2.3",
    Code.ORDER_FULLY_PAID_OUT: "R2.4",
    Code.SHOP_DAILY_CAP_REACHED: "R2.5",
    Code.OVER_PER_PAYOUT_LIMIT: "R3.1",
    Code.OVER_ACCOUNT_DAILY_LIMIT: "R3.2",
    Code.OVER_SHOP_REMAINING: "R3.3",
    Code.INSUFFICIENT_FUNDS: "R3.4",
    Code.OVER_ORDER_REMAINING: "R3.5",
    Code.AMOUNT_NOT_POSITIVE: "R3.5",
}

# Messages say, in plain words, what stops the payout (the limit by its name and amount, never
# the rule number: RULE is for code and tests) and what to do next. Placeholders are formatted at
# the edge: amounts as ¥, instants as shop time; %(until)s is when the shop's next day starts (R17),
# when daily limits start again. A sub-account's next step is sometimes another (STAFF_MESSAGES):
# it cannot top up, it asks the main account.
MESSAGES = {
    Code.ORDER_COUNT_LIMIT: N_("This order already has %(count)s small payouts, the most one order can have. Failed payouts do not count."),
    Code.TOO_FREQUENT: N_("A payout was started for this order less than a minute ago. Wait until %(at)s and try again."),
    Code.NO_QUOTA: N_("Your account has no payout quota. Ask the main account to enable payouts for you and set your limits."),
    Code.ORDER_FULLY_PAID_OUT: N_("Payouts for this order already reach its paid amount of %(paid)s. Nothing more can be paid out for it."),
    Code.SHOP_DAILY_CAP_REACHED: N_("The shop has paid out its daily maximum of %(cap)s today. Payouts can start again at %(until)s (shop time)."),
    Code.OVER_PER_PAYOUT_LIMIT: N_("Above your per-payout limit of %(limit)s. Enter at most %(limit)s, or ask the main account to raise your quota."),
    Code.OVER_ACCOUNT_DAILY_LIMIT: N_("You can pay out at most %(remaining)s more today: your daily limit is %(limit)s. Enter %(remaining)s or less, wait until %(until)s, or ask the main account to raise your quota."),
    Code.OVER_SHOP_REMAINING: N_("The shop can pay out at most %(remaining)s more today: its daily maximum is %(cap)s. Enter %(remaining)s or less, or wait until %(until)s (shop time)."),
    Code.INSUFFICIENT_FUNDS: N_("The funds account has only %(available)s available. Top up the funds account, then try again."),
    Code.OVER_ORDER_REMAINING: N_("At most %(remaining)s can be paid out on this order: that is its paid amount. Enter %(remaining)s or less."),
    Code.AMOUNT_NOT_POSITIVE: N_("The amount must be more than ¥0.00."),
}
STAFF_MESSAGES = {
    Code.INSUFFICIENT_FUNDS: N_("The funds account has only %(available)s available. Ask the main account to top up the funds account."),
}
ARREARS_MESSAGE = N_("The shop owes %(arrears)s in arrears from refunds the platform advanced. Top up the funds account to clear them before starting payouts.")
ARREARS_MESSAGE_STAFF = N_("The shop owes %(arrears)s in arrears from refunds the platform advanced, so no payouts can start until they are cleared. Ask the main account to top up the funds account.")
# Part of the order's paid amount is already paid out or on its way: say so, with both amounts.
ORDER_PARTLY_PAID_OUT_MESSAGE = N_("At most %(remaining)s can still be paid out on this order: its paid amount is %(paid)s and %(committed)s is already paid out or on its way. Enter %(remaining)s or less.")
# Nothing left of a sub-account's daily limit (told before an amount is typed).
DAILY_LIMIT_USED_UP_MESSAGE = N_("You have used all of your daily limit of %(limit)s today. Payouts can start again at %(until)s (shop time), or ask the main account to raise your quota.")


@dataclass(frozen=True)
class Quota:
    """A sub-account's payout quota (R7); None limits mean "not set"."""

    enabled: bool
    per_payout_fen: int | None
    daily_fen: int | None

    @property
    def usable(self) -> bool:
        return self.enabled and bool(self.per_payout_fen) and bool(self.daily_fen)


@dataclass(frozen=True)
class PayoutFacts:
    """Everything the rules need, read from locked rows (or unlocked, for display only)."""

    now: datetime
    order_paid_fen: int
    order_committed_fen: int  # pending + processing + succeeded on this order
    order_active_count: int  # payouts on this order that are not failed
    order_last_payout_at: datetime | None  # any status
    shop_cap_fen: int
    shop_used_today_fen: int
    funds_available_fen: int
    is_staff: bool
    quota: Quota | None = None
    account_used_today_fen: int = 0
    arrears_fen: int = 0


@dataclass(frozen=True)
class Refusal:
    code: Code
    params: dict = field(default_factory=dict)  # fen amounts, counts, instants; formatted at the edge

    @property
    def rule(self) -> str:
        return RULE[self.code]

    @property
    def message(self) -> str:
        """The text for the main account (msgid, untranslated)."""
        return self.message_for(staff=False)

    def message_for(self, *, staff: bool) -> str:
        """The text for whoever is paying: a sub-account's next step is sometimes another."""
        if self.params.get("arrears"):
            return ARREARS_MESSAGE_STAFF if staff else ARREARS_MESSAGE
        if self.code == Code.OVER_ORDER_REMAINING and self.params.get("committed"):
            return ORDER_PARTLY_PAID_OUT_MESSAGE
        if self.code == Code.OVER_ACCOUNT_DAILY_LIMIT and self.params.get("remaining") == 0:
            return DAILY_LIMIT_USED_UP_MESSAGE
        if staff and self.code in STAFF_MESSAGES:
            return STAFF_MESSAGES[self.code]
        return MESSAGES[self.code]

    @property
    def allowance_fen(self) -> int | None:
        """The amount this refusal's limit still allows (an R3 refusal), else None."""
        if self.code == Code.INSUFFICIENT_FUNDS:
            return 0 if self.params.get("arrears") else max(0, self.params["available"])
        key = {Code.OVER_PER_PAYOUT_LIMIT: "limit", Code.OVER_ACCOUNT_DAILY_LIMIT: "remaining",
               Code.OVER_SHOP_REMAINING: "remaining", Code.OVER_ORDER_REMAINING: "remaining"}.get(self.code)
        return self.params[key] if key else None


@dataclass(frozen=True)
class Allowances:
    order_remaining_fen: int
    shop_remaining_fen: int
    funds_available_fen: int
    per_payout_fen: int | None  # staff only
    account_remaining_fen: int | None  # staff only
    account_daily_fen: int | None

    @property
    def max_fen(self) -> int:
        """The largest amount every rule allows right now (0: nothing can be paid)."""
        caps = [self.order_remaining_fen, self.shop_remaining_fen, self.funds_available_fen]
        caps += [v for v in (self.per_payout_fen, self.account_remaining_fen) if v is not None]
        return max(0, min(caps))


def allowances(f: PayoutFacts) -> Allowances:
    staff_quota = f.quota if f.is_staff else None
    account_remaining_fen: int | None = 0 if f.is_staff else None
    if staff_quota and staff_quota.usable:
        assert staff_quota.daily_fen is not None  # usable: both limits are set
        account_remaining_fen = max(0, staff_quota.daily_fen - f.account_used_today_fen)
    return Allowances(
        order_remaining_fen=max(0, f.order_paid_fen - f.order_committed_fen),
        shop_remaining_fen=max(0, f.shop_cap_fen - f.shop_used_today_fen),
        funds_available_fen=0 if f.arrears_fen else max(0, f.funds_available_fen),
        per_payout_fen=(staff_quota.per_payout_fen if staff_quota and staff_quota.usable else (0 if f.is_staff else None)),
        account_remaining_fen=account_remaining_fen,
        account_daily_fen=staff_quota.daily_fen if staff_quota else None,
    )


def blocking_reasons(f: PayoutFacts) -> list[Refusal]:
    """R2: every reason a payout cannot be started for this order by this account now.

    Also reports when no amount at all could pass R3 (daily limit used up, no funds, arrears),
    so the person learns it before typing an amount.
    """
    out: list[Refusal] = []
    if f.order_active_count >= MAX_PAYOUTS_PER_ORDER:
        out.append(Refusal(Code.ORDER_COUNT_LIMIT, {"count": f.order_active_count}))
    if f.order_last_payout_at is not None and f.now < f.order_last_payout_at + MIN_INTERVAL:
        out.append(Refusal(Code.TOO_FREQUENT, {"at": f.order_last_payout_at + MIN_INTERVAL}))
    if f.is_staff and (f.quota is None or not f.quota.usable):
        out.append(Refusal(Code.NO_QUOTA))
    if f.order_committed_fen >= f.order_paid_fen:
        out.append(Refusal(Code.ORDER_FULLY_PAID_OUT, {"paid": f.order_paid_fen}))
    if f.shop_used_today_fen >= f.shop_cap_fen:
        out.append(Refusal(Code.SHOP_DAILY_CAP_REACHED, {"cap": f.shop_cap_fen}))
    a = allowances(f)
    if f.is_staff and f.quota is not None and f.quota.usable and a.account_remaining_fen == 0:
        out.append(Refusal(Code.OVER_ACCOUNT_DAILY_LIMIT, {"remaining": 0, "limit": f.quota.daily_fen}))
    if f.arrears_fen > 0:
        out.append(Refusal(Code.INSUFFICIENT_FUNDS, {"available": f.funds_available_fen, "arrears": f.arrears_fen}))
    elif f.funds_available_fen <= 0:
        out.append(Refusal(Code.INSUFFICIENT_FUNDS, {"available": f.funds_available_fen}))
    return out


def amount_refusals(f: PayoutFacts, amount_fen: int) -> list[Refusal]:
    """R3: every rule this amount breaks, the limit that binds first: the smallest allowance the
    amount exceeds (¥99,999 on a ¥19.80 order names the order's ¥19.80, not the shop's daily
    maximum). Equal allowances keep the order of R3.1..R3.5. The first is the one shown."""
    if amount_fen <= 0:
        return [Refusal(Code.AMOUNT_NOT_POSITIVE)]
    out: list[Refusal] = []
    a = allowances(f)
    if f.is_staff and f.quota is not None and f.quota.usable:
        # usable: both limits are set, and allowances() gave this staff account its remaining amount
        assert f.quota.per_payout_fen is not None and a.account_remaining_fen is not None
        if amount_fen > f.quota.per_payout_fen:
            out.append(Refusal(Code.OVER_PER_PAYOUT_LIMIT, {"limit": f.quota.per_payout_fen}))
        if amount_fen > a.account_remaining_fen:
            out.append(Refusal(Code.OVER_ACCOUNT_DAILY_LIMIT, {"remaining": a.account_remaining_fen, "limit": f.quota.daily_fen}))
    if amount_fen > a.shop_remaining_fen:
        out.append(Refusal(Code.OVER_SHOP_REMAINING, {"remaining": a.shop_remaining_fen, "cap": f.shop_cap_fen}))
    if f.arrears_fen > 0:
        out.append(Refusal(Code.INSUFFICIENT_FUNDS, {"available": f.funds_available_fen, "arrears": f.arrears_fen}))
    elif amount_fen > f.funds_available_fen:
        out.append(Refusal(Code.INSUFFICIENT_FUNDS, {"available": f.funds_available_fen}))
    if amount_fen > a.order_remaining_fen:
        out.append(Refusal(Code.OVER_ORDER_REMAINING, {"remaining": a.order_remaining_fen, "paid": f.order_paid_fen,
                                                       "committed": f.order_committed_fen}))
    return sorted(out, key=lambda r: r.allowance_fen or 0)  # stable: ties stay in rule order


def check_create(f: PayoutFacts, amount_fen: int) -> list[Refusal]:
    """Everything that stops this payout: R2 blockers first, then R3 for the amount."""
    blockers = blocking_reasons(f)
    seen = {r.code for r in blockers}
    return blockers + [r for r in amount_refusals(f, amount_fen) if r.code not in seen]

"""Rules for sub-accounts and their payout quotas (R7). Pure: plain values in, problem codes out."""
from __future__ import annotations

import re

from . import N_

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
PASSWORD_MIN = 10
COMMON_PASSWORDS = frozenset({
    "1234567890", "12345678910", "password123", "qwertyuiop", "1qaz2wsx3edc", "abc1234567", "aa12345678",
    "password12", "iloveyou12", "qwerty1234", "a123456789", "woaini1314", "1234qwer!!",
})

MESSAGES = {
    "login_format": N_("Use 3 to 32 characters: lowercase letters, digits, and . _ - (starting with a letter or digit)."),
    "login_taken": N_("This login name is taken. Choose another one."),
    "display_name": N_("Enter a display name of at most 32 characters."),
    "password_short": N_("Use at least 10 characters."),
    "password_classes": N_("Mix letters and digits."),
    "password_login": N_("The password must not contain the login name."),
    "password_common": N_("This password is too common. Choose another one."),
    "limit_positive": N_("Enter an amount above ¥0.00, or leave it empty."),
    "per_over_daily": N_("The per-payout limit cannot be above the daily limit."),
    "daily_over_cap": N_("The daily limit cannot be above the shop's daily maximum of %(cap)s."),
    "limits_required": N_("Set both limits to enable payouts for this account."),
    "refund_limit_positive": N_("Enter an amount above ¥0.00, or leave it empty."),
    "refund_per_over_daily": N_("The per-refund limit cannot be above the daily refund limit."),
    "refund_limits_required": N_("Set both refund limits to let this account decide refunds."),
}


def login_problems(login: str) -> list[str]:
    return [] if LOGIN_RE.match(login or "") else ["login_format"]


def display_name_problems(name: str) -> list[str]:
    name = (name or "").strip()
    return [] if 0 < len(name) <= 32 else ["display_name"]


def password_problems(password: str, login: str = "") -> list[str]:
    """ASVS 2.1-style: length first, plus a few checks that stop the worst choices."""
    password = password or ""
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append("password_short")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        problems.append("password_classes")
    if login and login.lower() in password.lower():
        problems.append("password_login")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("password_common")
    return problems


def quota_problems(*, enabled: bool, per_payout_fen: int | None, daily_fen: int | None,
                   shop_cap_fen: int | None, fields: tuple[str, str, str] = ("enabled", "per_payout", "daily"),
                   prefix: str = "") -> dict[str, list[str]]:
    """R7 (and R22, the same shape for refunds, with its own `fields` and no cap): limits are
    positive, per-item <= daily, daily <= the shop's daily cap; enabling needs both limits.
    Returns field -> problem codes (empty dict: valid)."""
    enabled_field, per_field, daily_field = fields
    out: dict[str, list[str]] = {}
    for field, value in ((per_field, per_payout_fen), (daily_field, daily_fen)):
        if value is not None and value <= 0:
            out.setdefault(field, []).append(prefix + "limit_positive")
    if per_payout_fen is not None and daily_fen is not None and 0 < daily_fen < per_payout_fen:
        out.setdefault(per_field, []).append(prefix + "per_over_daily")
    if daily_fen and shop_cap_fen is not None and daily_fen > shop_cap_fen:
        out.setdefault(daily_field, []).append("daily_over_cap")
    if enabled and (per_payout_fen is None or daily_fen is None):
        out.setdefault(enabled_field, []).append(prefix + "limits_required")
    return out

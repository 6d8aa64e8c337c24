"""Rules for sub-accounts and their payout quotas (R7). Pure: plain values in, problem codes out."""
from __future__ import annotations

import functools
import re
import string
from importlib import resources

from . import N_, text

# \Z, not $: "$" also matches before a final line break, which would let "kefu01\n" through.
LOGIN_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{2,31}\Z")
PASSWORD_MIN = 10
# The common-password list (ASVS 2.1.7): Django's, itself Royce Williams's list of the 20,000 most
# used passwords, lowercased, most used first (webapp/domain/data/README.md). Read once, on first use.
COMMON_PASSWORDS_FILE = "common-passwords.txt"
# A few the list lacks that people here pick (pinyin, keyboard walks with a suffix).
EXTRA_COMMON = frozenset({"aa12345678", "1234qwer!!", "woaini1314520", "qwer1234!!", "a1234567890"})
# Characters people swap for letters ("p@ssw0rd"): read back as the letters for the variant checks.
_LEET = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"})
_AFFIX = string.digits + string.punctuation + string.whitespace
VARIANT_MIN = 5  # a common word this long, with digits or symbols around it or letters swapped, is refused


@functools.cache
def common_passwords() -> frozenset[str]:
    """The list, loaded lazily and once (about 20,000 lines, a few milliseconds)."""
    data = resources.files(__package__).joinpath("data", COMMON_PASSWORDS_FILE).read_text(encoding="utf-8")
    return frozenset(line for line in data.splitlines() if line) | EXTRA_COMMON


MESSAGES = {
    "login_format": N_("Use 3 to 32 characters: lowercase letters, digits, and . _ - (starting with a letter or digit)."),
    "login_taken": N_("This login name is taken. Choose another one."),
    "display_name": N_("Enter a display name of at most 32 characters."),
    "display_name_control": text.CONTROL_MESSAGE,
    "password_short": N_("Use at least 10 characters."),
    "password_classes": N_("Mix letters and digits."),
    "password_login": N_("The password must not contain the login name, nor the login name reversed or with letters swapped for look-alike characters."),
    "password_common": N_("This password is one of the 20,000 most used passwords, the first ones attackers try. Choose another one."),
    "password_common_variant": N_("This password is a very common password with a few characters added or swapped (such as “p@ssw0rd2024”), which attackers also try first. Choose another one."),
    "password_control": N_("The password must not contain control characters (such as tabs or line breaks)."),
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
    if text.unsafe(name):
        return ["display_name_control"]
    return [] if 0 < len(name) <= 32 else ["display_name"]


def _letters(value: str) -> str:
    """Lowercase, look-alikes read as letters, only letters and digits left: how a guesser sees it."""
    return "".join(c for c in value.lower().translate(_LEET) if c.isalnum())


def _common_variants(password: str) -> set[str]:
    """The password with digits and symbols around it taken off, and look-alikes read as letters."""
    lower = password.lower()
    core = lower.strip(_AFFIX)
    return {v for v in (core, lower.translate(_LEET), core.translate(_LEET), lower.translate(_LEET).strip(_AFFIX))
            if len(v) >= VARIANT_MIN} - {lower}


def password_problems(password: str, login: str = "") -> list[str]:
    """ASVS 2.1: length first (no composition rules beyond letters and digits), then what
    attackers try first: the most used passwords (2.1.7), a common one with a few characters
    added or swapped, and the account's own login name in any simple variant."""
    password = password or ""
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append("password_short")
    if not (any(c.isalpha() for c in password) and any(c.isdecimal() for c in password)):  # 汉字 are letters too
        problems.append("password_classes")
    if text.unsafe(password):
        problems.append("password_control")
    name = _letters(login)
    if login and (login.lower() in password.lower() or (
            len(name) >= 3 and (name in _letters(password) or name[::-1] in _letters(password)))):
        problems.append("password_login")
    common = common_passwords()
    if password.lower() in common:
        problems.append("password_common")
    elif not _common_variants(password).isdisjoint(common):
        problems.append("password_common_variant")
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

"""Money is integer fen (分) inside; yuan text only at the edges (R16)."""
from __future__ import annotations

import re
from decimal import Decimal

from . import N_

#: The largest amount the app accepts anywhere: ¥99,999,999.99.
MAX_FEN = 9_999_999_999

_PLAIN = re.compile(r"^(\d{1,3}(,\d{3})+|\d+)(\.(\d{1,2}))?$")
_TOO_MANY_DECIMALS = re.compile(r"^[\d,]+\.\d{3,}$")


class MoneyError(ValueError):
    """User input that is not a valid amount. `code` is stable; `message` is an untranslated msgid."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


MESSAGES = {
    "empty": N_("Enter an amount."),
    "fullwidth": N_("Use half-width digits (0-9), not full-width ones."),
    "not_a_number": N_("Enter the amount in yuan, like 12.50."),
    "negative": N_("The amount cannot be negative."),
    "not_positive": N_("The amount must be more than ¥0.00."),
    "too_many_decimals": N_("Use at most two decimals (fen)."),
    "too_large": N_("The amount is too large."),
}


def _error(code: str) -> MoneyError:
    return MoneyError(code, MESSAGES[code])


def parse_yuan(text: str | None, *, allow_zero: bool = False) -> int:
    """Parse what a person typed as yuan into fen, strictly.

    Accepts "12", "12.5", "12.50", "1,234.56" and a leading "¥"/"￥"; surrounding spaces are
    ignored. Refuses everything else with a MoneyError (exponents, signs, full-width digits,
    more than two decimals, zero unless allow_zero, more than MAX_FEN).
    """
    s = (text or "").strip()
    if s[:1] in ("¥", "￥"):
        s = s[1:].strip()
    if not s:
        raise _error("empty")
    if any(("\uff10" <= ch <= "\uff19") or ch in "\uff0e\uff0c" for ch in s):
        raise _error("fullwidth")
    if s.startswith("-"):
        raise _error("negative")
    if _TOO_MANY_DECIMALS.match(s):
        raise _error("too_many_decimals")
    m = _PLAIN.match(s)
    if not m or not s.isascii():
        raise _error("not_a_number")
    integer = m.group(1).replace(",", "")
    if len(integer) > 12:
        raise _error("too_large")
    fen = int(integer) * 100 + int((m.group(4) or "").ljust(2, "0"))
    if fen > MAX_FEN:
        raise _error("too_large")
    if fen == 0 and not allow_zero:
        raise _error("not_positive")
    return fen


def format_fen(fen: int, *, symbol: bool = True) -> str:
    """12345 -> "¥123.45"; -12345 -> "-¥123.45"; grouping with commas."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"fen must be int, not {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{'¥' if symbol else ''}{yuan:,}.{cents:02d}"


def fen_to_input(fen: int) -> str:
    """Fen as the plain text a form field shows back: 1250 -> "12.50"."""
    return format_fen(fen, symbol=False).replace(",", "")


def fen_to_decimal(fen: int) -> Decimal:
    return Decimal(fen) / 100


# --- amounts in words (R4: the review shows the amount in words and figures) ---------------

_CN_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CN_GROUPS = ("", "万", "亿")


def _cn_group(n: int) -> str:
    out, pending_zero = "", False
    for power, unit in ((3, "仟"), (2, "佰"), (1, "拾"), (0, "")):
        d = n // 10**power % 10
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out += "零"
            pending_zero = False
        out += _CN_DIGITS[d] + unit
    return out


def _cn_yuan(n: int) -> str:
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out, gap = "", False
    for idx in reversed(range(len(groups))):
        g = groups[idx]
        if g == 0:
            gap = bool(out)
            continue
        if out and (gap or g < 1000):
            out += "零"
        out += _cn_group(g) + _CN_GROUPS[idx]
        gap = False
    return out


def fen_to_chinese_words(fen: int) -> str:
    """Chinese financial capitals (人民币大写): 100550 -> "壹仟零伍元伍角"."""
    if fen < 0:
        return "负" + fen_to_chinese_words(-fen)
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    if fen == 0:
        return "零元整"
    out = _cn_yuan(yuan) + "元" if yuan else ""
    if jiao:
        out += _CN_DIGITS[jiao] + "角"
    if cents:
        if yuan and not jiao:
            out += "零"
        out += _CN_DIGITS[cents] + "分"
    if not jiao and not cents:
        out += "整"
    return out


_EN_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen").split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _en_below_1000(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(_EN_ONES[n // 100] + " hundred")
        n %= 100
    if n >= 20:
        parts.append(_EN_TENS[n // 10] + ("-" + _EN_ONES[n % 10] if n % 10 else ""))
    elif n or not parts:
        parts.append(_EN_ONES[n])
    return " ".join(parts)


def _en_number(n: int) -> str:
    if n < 1000:
        return _en_below_1000(n)
    out = []
    for value, name in ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"), (1, "")):
        if n >= value:
            out.append((_en_below_1000(n // value) + (" " + name if name else "")).strip())
            n %= value
    return " ".join(out)


def fen_to_english_words(fen: int) -> str:
    """1250 -> "twelve yuan fifty fen"."""
    yuan, cents = divmod(abs(fen), 100)
    words = f"{_en_number(yuan)} yuan" if yuan or not cents else ""
    if cents:
        words = (words + " " if words else "") + f"{_en_number(cents)} fen"
    return ("minus " if fen < 0 else "") + words

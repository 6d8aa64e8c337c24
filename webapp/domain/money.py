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

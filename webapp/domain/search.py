"""What a merchant's search box means (orders, after-sales, payout records; issue 13).

Merchants search the way they read: the first digits of an order number from a screen, the last
digits from a parcel label or a chat ("尾号 4821"), the buyer's name, or the last digits of the
buyer's phone. One box takes all of them; this module decides, from the text alone, what to look
for. Pure: no database, no Flask.

- Digits (spaces, dashes and other marks between them are ignored, as people paste "6926-0401 …"): an order
  number starting or ending with them; with PHONE_TAIL_MIN to PHONE_TAIL_MAX digits, also a buyer
  phone ending with them.
- Latin letters with digits (an order number with a letter prefix): the order number, and a name.
- Anything else, and any text with a letter or a Chinese character: a buyer name starting with it
  (names are matched as typed, at most BUYER_NAME_MAX characters).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ORDER_NO_MAX = 32
BUYER_NAME_MAX = 64
PHONE_TAIL_MIN = 4
PHONE_TAIL_MAX = 11

_SEPARATORS = re.compile(r"[\W_]+")  # anything but letters and digits: spaces, dashes, brackets, …
_DIGITS = re.compile(r"[0-9]+")
_ORDER_NO = re.compile(r"[0-9A-Za-z]+")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class SearchQuery:
    """`text`: the search as shown back to the user. Each of the others is None when not searched."""

    text: str
    order_no: str | None = None  # starts or ends with
    phone_tail: str | None = None  # the buyer phone ends with
    buyer_name: str | None = None  # the buyer name starts with

    @property
    def empty(self) -> bool:
        return self.order_no is None and self.phone_tail is None and self.buyer_name is None


def parse(raw: str | None) -> SearchQuery:
    """The search in a box's text; `SearchQuery("")` (empty) for nothing to search."""
    text = _WHITESPACE.sub(" ", (raw or "").strip())
    if not text:
        return SearchQuery("")
    compact = _SEPARATORS.sub("", text)
    if _DIGITS.fullmatch(compact):
        digits = compact[:ORDER_NO_MAX]
        phone = digits if PHONE_TAIL_MIN <= len(digits) <= PHONE_TAIL_MAX else None
        return SearchQuery(digits, order_no=digits, phone_tail=phone)
    name = text[:BUYER_NAME_MAX]
    if _ORDER_NO.fullmatch(compact) and any(ch.isdigit() for ch in compact):
        return SearchQuery(name, order_no=compact[:ORDER_NO_MAX], buyer_name=name)
    return SearchQuery(name, buyer_name=name)


def mask_phone(phone: str | None) -> str:
    """A buyer phone as merchants see it: only its last 4 digits (138****4821 → ****4821)."""
    if not phone:
        return ""
    return "****" + phone[-4:]

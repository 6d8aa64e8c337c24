"""Reading query parameters leniently: a bad value is ignored, never an error page."""
from __future__ import annotations

from datetime import date

from flask import request
from werkzeug.routing import BaseConverter, ValidationError

from ..services import queries


MAX_ID = queries.MAX_ID  # ids are INTEGER columns (32 bits on PostgreSQL)
FILTER_RESERVED = {"endpoint", "cursor"}


def date_arg(name: str) -> date | None:
    """A yyyy-mm-dd day between 2000 and 2100, else None."""
    try:
        value = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return value if 2000 <= value.year <= 2100 else None


def parse_id(value: str | None) -> int | None:
    """ASCII digits that fit a database id (no "²", no 30-digit numbers), else None."""
    value = value or ""
    if not (value.isascii() and value.isdigit() and len(value) <= 10) or int(value) > MAX_ID:
        return None
    return int(value)


def parse_count(value: str | None, max_digits: int = 9) -> int | None:
    """A whole number typed into a form (seconds, a count): ASCII digits, at most `max_digits` of
    them (int() of thousands of digits is slow, then refused), else None."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit() and len(value) <= max_digits):
        return None
    return int(value)


def int_arg(name: str) -> int | None:
    return parse_id(request.args.get(name))


def page_args(**extra) -> dict:
    """The current filters for a link (pager, export): query keys that are not url_for's own."""
    args = {k: v for k, v in request.args.items() if k not in FILTER_RESERVED and not k.startswith("_")}
    args.update({k: v for k, v in extra.items() if v is not None})
    return args


class IdConverter(BaseConverter):
    """`<id:name>`: a database id (ASCII digits, at most MAX_ID); anything else is a 404. Not
    `\\d`, which also matches "１２３" or "١٢٣" (int() reads both as 123), and not more than an
    INTEGER column holds: PostgreSQL answers a bigger one with an error, not with "no row"."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        if int(value) > MAX_ID:
            raise ValidationError()  # the rule does not match: 404
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))

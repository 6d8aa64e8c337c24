"""Reading query parameters leniently: a bad value is ignored, never an error page."""
from __future__ import annotations

from datetime import date

from flask import request
from werkzeug.routing import BaseConverter


MAX_ID = 2**63 - 1
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
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
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
    """`<id:name>`: a positive database id that fits BIGINT; anything else is a 404."""

    regex = r"\d{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))

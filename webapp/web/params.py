"""Reading query parameters leniently: a bad value is ignored, never an error page."""
from __future__ import annotations

from datetime import date

from flask import request


def date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None

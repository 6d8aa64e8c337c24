"""htmx helpers on top of flask-htmx: one template source serves full pages and fragments."""
from __future__ import annotations

import json

from flask import Response, render_template
from jinja2_fragments.flask import render_block

from ..extensions import htmx


def is_htmx() -> bool:
    """A request htmx made for a fragment (not boosted, not a history restore)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def page_or_fragment(template: str, block: str, **context) -> str:
    """The whole page, or only `block` of it when htmx asks."""
    if is_htmx():
        return render_block(template, block, **context)
    return render_template(template, **context)


def hx_trigger(response: Response, event: str, detail=None) -> Response:
    """Add an event to HX-Trigger (cross-component refresh, never element-id sniffing)."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing and existing.startswith("{") else ({existing: None} if existing else {})
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response

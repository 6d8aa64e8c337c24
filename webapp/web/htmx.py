"""The one way views talk htmx: request side from flask-htmx's `htmx` extension, response headers
through flask-htmx's `make_response` (never set by hand). One template source serves full pages
and fragments."""
from __future__ import annotations

from collections.abc import Iterable

from flask import Response, render_template
from flask_htmx import make_response
from flask_htmx.constants import HTMX_STOP_POLLING
from jinja2_fragments.flask import render_block

from ..extensions import htmx


def is_htmx() -> bool:
    """A request htmx made for a fragment (not boosted, not a history restore)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def htmx_request() -> bool:
    """Any request htmx made (boosted ones included)."""
    return bool(htmx)


def page_or_fragment(template: str, block: str, **context) -> str:
    """The whole page, or only `block` of it when htmx asks."""
    if is_htmx():
        return render_block(template, block, **context)
    return render_template(template, **context)


def _events(trigger: str | Iterable[str] | None) -> str | None:
    if not trigger:
        return None
    return trigger if isinstance(trigger, str) else ", ".join(trigger)


def version(row) -> str:
    """The version a live fragment shows (`?v=` on its poll URL): its status and when its row was
    last written (every write of a payout or case sets updated_at)."""
    return f"{row.status}.{int(row.updated_at.timestamp() * 1_000_000)}"


def unchanged(seen: str | None, row) -> Response | None:
    """A live fragment polls with the version it shows: when nothing changed since, the answer is
    an empty 204, which htmx does not swap (it keeps polling). None: render it."""
    if seen and seen == version(row) and is_htmx():
        return Response(status=204)
    return None


def fragment(body="", status: int = 200, *, trigger: str | Iterable[str] | None = None,
             redirect: str | None = None) -> Response:
    """An htmx answer: the fragment, and the events other components listen for (HX-Trigger:
    cross-component refresh, never element-id sniffing) or a full-page redirect (HX-Redirect).
    Never on a 3xx: the browser follows a redirect itself and htmx never sees its headers."""
    if (trigger or redirect) and 300 <= status < 400:
        raise ValueError("htmx never sees the headers of a redirect")
    return make_response(body, status, trigger=_events(trigger), redirect=redirect)


def live(body, final: bool, *, trigger: str | Iterable[str] | None = None) -> Response:
    """A fragment that polls itself: once `final`, 286 tells htmx to stop, and `trigger` tells the
    rest of the page. Without htmx (a plain GET) it is just the fragment, 200."""
    if final and is_htmx():
        return fragment(body, HTMX_STOP_POLLING, trigger=trigger)
    return fragment(body)

"""The bell and the in-site message list (站内信)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ... import clock
from ...extensions import db
from ...services import inbox
from ..access import background, current_shop_id, requires
from ..htmx import fragment, is_htmx, page_or_fragment
from ..messages import message_target

bp = Blueprint("inbox", __name__, url_prefix="/messages")

CHANGED = "messages-changed"  # the bell listens for it (HX-Trigger), never by element id


@bp.route("/bell")
@background
@requires("messages.view")
def bell():
    """The unread count in the top bar; refreshed by htmx on a timer and on `messages-changed`."""
    return render_template("inbox/_bell.html", unread=inbox.unread_count(db.session, current_shop_id()))


def _list_context() -> dict:
    page = inbox.messages(db.session, current_shop_id(), cursor=request.args.get("cursor"), limit=current_app.config["ORDERS_PAGE_SIZE"])
    return {"page": page, "unread": inbox.unread_count(db.session, current_shop_id())}


@bp.route("")
@requires("messages.view")
def index():
    return page_or_fragment("inbox/index.html", "results", **_list_context())


@bp.route("/<id:message_id>/read", methods=["POST"])
@requires("messages.view")
def read(message_id: int):
    """Mark one message read and open what it is about."""
    message = inbox.get_message(db.session, current_shop_id(), message_id)
    inbox.mark_read(db.session, current_shop_id(), message.id, clock.now())
    return redirect(message_target(message), code=303)


@bp.route("/read-all", methods=["POST"])
@requires("messages.view")
def read_all():
    """htmx: the list, all read, swapped in place and the bell told (HX-Trigger on the 200, which
    htmx sees; never on a redirect, which it does not). Everyone else: a 303 back to the list."""
    inbox.mark_all_read(db.session, current_shop_id(), clock.now())
    if is_htmx():
        return fragment(page_or_fragment("inbox/index.html", "listing", **_list_context()), trigger=CHANGED)
    return redirect(url_for("inbox.index"), code=303)

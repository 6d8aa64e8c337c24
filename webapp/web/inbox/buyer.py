"""The buyer's bell and in-site messages (R25): payouts received or failed, refund decisions.

Only the signed-in buyer's own messages (R18): another buyer's message answers 404."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from ... import clock
from ...extensions import db
from ...services import inbox
from ..access import background, requires
from ..htmx import fragment, is_htmx, page_or_fragment
from ..messages import message_target

bp = Blueprint("buyer_inbox", __name__, url_prefix="/my/messages")

CHANGED = "messages-changed"  # the bell listens for it (HX-Trigger), never by element id


@bp.route("/bell")
@background
@requires("buyer.messages.view")
def bell():
    """The unread count in the buyer's top bar; refreshed by htmx on a timer and on `messages-changed`."""
    return render_template("inbox/_bell.html", unread=inbox.buyer_unread_count(db.session, current_user.id))


def _list_context() -> dict:
    page = inbox.buyer_messages(db.session, current_user.id, cursor=request.args.get("cursor"),
                                limit=current_app.config["ORDERS_PAGE_SIZE"])
    return {"page": page, "unread": inbox.buyer_unread_count(db.session, current_user.id)}


@bp.route("")
@requires("buyer.messages.view")
def index():
    return page_or_fragment("inbox/buyer_index.html", "results", **_list_context())


@bp.route("/<id:message_id>/read", methods=["POST"])
@requires("buyer.messages.view")
def read(message_id: int):
    """Mark one message read. "Open" goes on to what it is about; "Mark as read" stays on the list
    (htmx: the message is swapped in place and the bell told)."""
    message = inbox.get_buyer_message(db.session, current_user.id, message_id)
    inbox.buyer_mark_read(db.session, current_user.id, message.id, clock.now())
    if request.form.get("then") != "list":
        return redirect(message_target(message), code=303)
    if is_htmx():
        message = inbox.get_buyer_message(db.session, current_user.id, message_id)
        return fragment(render_template("inbox/_buyer_message.html", m=message), trigger=CHANGED)
    return redirect(url_for("buyer_inbox.index"), code=303)


@bp.route("/read-all", methods=["POST"])
@requires("buyer.messages.view")
def read_all():
    inbox.buyer_mark_all_read(db.session, current_user.id, clock.now())
    if is_htmx():
        return fragment(page_or_fragment("inbox/buyer_index.html", "listing", **_list_context()), trigger=CHANGED)
    return redirect(url_for("buyer_inbox.index"), code=303)

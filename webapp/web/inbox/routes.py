"""The bell and the in-site message list (站内信)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from ... import clock
from ...services import inbox
from ..access import background, current_shop_id, requires, safe_next
from ..htmx import is_htmx, page_or_fragment

bp = Blueprint("inbox", __name__, url_prefix="/messages")


@bp.route("/bell")
@background
@requires("messages.view")
def bell():
    """The unread count in the top bar; refreshed by htmx on a timer and on `messages-changed`."""
    return render_template("inbox/_bell.html", unread=inbox.unread_count(current_shop_id()))


@bp.route("")
@requires("messages.view")
def index():
    page = inbox.messages(current_shop_id(), cursor=request.args.get("cursor"), limit=current_app.config["ORDERS_PAGE_SIZE"])
    return page_or_fragment("inbox/index.html", "results", page=page, unread=inbox.unread_count(current_shop_id()))


@bp.route("/<id:message_id>/read", methods=["POST"])
@requires("messages.view")
def read(message_id: int):
    """Mark one message read and open what it is about."""
    message = inbox.get(current_shop_id(), message_id)
    if message is None:
        abort(404)
    inbox.mark_read(current_shop_id(), message.id, clock.now())
    return redirect(safe_next(message.link) or url_for("inbox.index"), code=303)


@bp.route("/read-all", methods=["POST"])
@requires("messages.view")
def read_all():
    inbox.mark_all_read(current_shop_id(), clock.now())
    if is_htmx():
        resp = redirect(url_for("inbox.index"), code=303)
        resp.headers["HX-Trigger"] = "messages-changed"
        return resp
    return redirect(url_for("inbox.index"), code=303)

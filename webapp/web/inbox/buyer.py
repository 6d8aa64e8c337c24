"""The buyer's bell and in-site messages (R25): payouts received or failed, refund decisions.

Only the signed-in buyer's own messages (R18): another buyer's message answers 404."""
from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from ... import clock
from ...services import inbox
from ..access import background, requires
from ..htmx import hx_trigger, is_htmx, page_or_fragment

bp = Blueprint("buyer_inbox", __name__, url_prefix="/my/messages")

CHANGED = "messages-changed"  # the bell listens for it (HX-Trigger), never by element id


def target(message) -> str:
    """Where a message leads: the refund's status page, or the order with the payout."""
    if message.case_id is not None:
        return url_for("buyer.refund", case_id=message.case_id)
    order_no = json.loads(message.params or "{}").get("order_no")
    if order_no:
        anchor = f"payout-{message.payout_id}" if message.payout_id else None
        return url_for("buyer.order_detail", order_no=order_no, _anchor=anchor)
    return url_for("buyer_inbox.index")


def _own_or_404(message_id: int):
    message = inbox.buyer_get(current_user.id, message_id)
    if message is None:
        abort(404)
    return message


@bp.route("/bell")
@background
@requires("buyer.messages.view")
def bell():
    """The unread count in the buyer's top bar; refreshed by htmx on a timer and on `messages-changed`."""
    return render_template("inbox/_bell.html", unread=inbox.buyer_unread_count(current_user.id))


def _list_context() -> dict:
    page = inbox.buyer_messages(current_user.id, cursor=request.args.get("cursor"),
                                limit=current_app.config["ORDERS_PAGE_SIZE"])
    return {"page": page, "unread": inbox.buyer_unread_count(current_user.id), "target": target}


@bp.route("")
@requires("buyer.messages.view")
def index():
    return page_or_fragment("inbox/buyer_index.html", "results", **_list_context())


@bp.route("/<id:message_id>/read", methods=["POST"])
@requires("buyer.messages.view")
def read(message_id: int):
    """Mark one message read. "Open" goes on to what it is about; "Mark as read" stays on the list
    (htmx: the message is swapped in place and the bell told)."""
    message = _own_or_404(message_id)
    inbox.buyer_mark_read(current_user.id, message.id, clock.now())
    if request.form.get("then") != "list":
        return redirect(target(message), code=303)
    if is_htmx():
        message = _own_or_404(message_id)
        resp = current_app.make_response(render_template("inbox/_buyer_message.html", m=message, target=target))
        return hx_trigger(resp, CHANGED)
    return redirect(url_for("buyer_inbox.index"), code=303)


@bp.route("/read-all", methods=["POST"])
@requires("buyer.messages.view")
def read_all():
    inbox.buyer_mark_all_read(current_user.id, clock.now())
    if is_htmx():
        resp = current_app.make_response(page_or_fragment("inbox/buyer_index.html", "listing", **_list_context()))
        return hx_trigger(resp, CHANGED)
    return redirect(url_for("buyer_inbox.index"), code=303)

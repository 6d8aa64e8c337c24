"""The payment channel's signed notifications (protocol: webapp/channel/protocol.py).

Verified (HMAC over timestamp, method, path and body; constant-time compare; 5-minute
tolerance), then applied in one transaction that also records the event id, so a replay or a
duplicate changes nothing. Answers at once; polling stays the fallback for lost notifications.
"""
from __future__ import annotations

import json
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request

from ... import clock
from ...channel.protocol import SignatureError, verify
from ...domain import text
from ...extensions import csrf, db
from ...services import payouts as svc
from ..access import public
from ..params import MAX_ID

bp = Blueprint("channel_notify", __name__)

STATES = {"succeeded", "failed", "processing"}


def _text(value, max_chars: int) -> str | None:
    """A text field of a notification, or None when absent. Even a signed body is checked before
    it reaches the database: a string, not too long, no control character (PostgreSQL refuses
    NUL) nor lone surrogate (not encodable). Anything else is malformed (ValueError)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_chars or text.unsafe(value):
        raise ValueError("malformed text")
    return value


def _bad(status: int, error: str):
    return jsonify(error=error), status


@bp.route("/channel/notify", methods=["POST"])
@public  # no session: authenticated by the channel's signature
@csrf.exempt
def notify():
    cfg = current_app.config
    if not cfg["CHANNEL_SECRET"]:
        return _bad(404, "no channel configured")
    body = request.get_data()
    now = clock.now()
    try:
        verify(cfg["CHANNEL_SECRET"], request.method, request.path, body, request.headers, now.timestamp(),
               tolerance=cfg["NOTIFY_TOLERANCE_SECONDS"])
    except SignatureError as exc:
        current_app.logger.warning("channel notification refused: %s", exc.reason)
        return _bad(401, exc.reason)
    try:
        event = json.loads(body)
        event_id, payout_id, state = str(event["event_id"]), int(event["payout_id"]), str(event["state"])
        _text(event_id, 64)
        # the reference's column holds 64 characters (a longer one is not our channel's); a reason is cut to 200
        reference, reason = _text(event.get("reference"), 64), _text(event.get("reason"), 2_000)
    except (TypeError, KeyError, ValueError, OverflowError, RecursionError):  # JSONDecodeError is a ValueError
        return _bad(400, "malformed")
    if state not in STATES or not event_id or not 0 < payout_id <= MAX_ID:
        return _bad(400, "malformed")
    try:
        applied = svc.apply_channel_event(
            db.session, event_id=event_id, payout_id=payout_id, state=state, reference=reference,
            reason=reason, now=now, poll_in=timedelta(seconds=cfg["PAYOUT_POLL_SECONDS"]),
        )
    except svc.UnknownPayout:
        current_app.logger.warning("channel notification for unknown payout %s ignored", payout_id)
        return jsonify(result="unknown payout"), 200  # acknowledged: retrying cannot help
    return jsonify(result="applied" if applied else "duplicate"), 200

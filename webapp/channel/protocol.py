"""Payment channel protocol v1, spoken by `webapp.channel.http` and served by `channelsim`.

Stdlib only: the simulator imports this file too.

Signing (every request both ways, callbacks included)
    X-Channel-Timestamp: integer unix seconds (the sender's clock)
    X-Channel-Signature: lowercase hex HMAC-SHA256(secret, f"{ts}.{METHOD}.{path}.".encode() + body)
    `path` is the URL path only (no host, no query string); `body` the raw bytes (b"" for GET).
    The receiver refuses a missing header, |now - ts| > 300 s, or a wrong signature.

POST /v1/transfers
    {"payout_id": int, "idempotency_key": str, "buyer_ref": str, "amount_fen": int,
     "not_after": int unix seconds, "notify_url": str | null}
    200 {"payout_id", "state": "processing"|"failed"|"succeeded", "reference": str, "reason": str|null}
        Idempotent by idempotency_key (the app sends str(payout_id)): a repeat answers the
        transfer already recorded. A frozen wallet is recorded as failed, "buyer_wallet_frozen".
    409 {"error": "conflict"}  same key, other buyer_ref or amount_fen
    410 {"error": "expired"}   nothing recorded, see the not_after rule
GET /v1/transfers/<idempotency_key>
    200 as above, or 404 {"state": "unknown"}: never recorded.
POST /v1/recharges   (money in: a shop's top-up of its funds account from its bank)
    {"topup_id": int, "idempotency_key": str, "shop_ref": str, "amount_fen": int,
     "not_after": int unix seconds}
    200 {"topup_id", "state": "succeeded"|"failed", "reference": str, "reason": str|null}
        Final at once. Idempotent by idempotency_key (the app sends str(topup_id)); 409 and 410
        as for transfers (same key with other details; nothing recorded after not_after).
GET /v1/recharges/<idempotency_key>
    200 as above, or 404 {"state": "unknown"}: never recorded.
401 {"error": "missing"|"stale"|"bad_signature"} on any badly signed request;
503 {"error": ...} on an outage or overload: try again.

The not_after rule (what makes exactly-once possible): the channel never records a NEW transfer
after `not_after`. It checks at the moment it would record (after any internal delay or queue),
on its own clock. So once the channel's clock is past not_after, a payout it does not know can
never be paid: the caller may give the money back.

Callbacks: when a transfer becomes final the channel POSTs to its notify_url
    {"event_id": str (unique per event), "payout_id": int, "idempotency_key": str,
     "state": "succeeded"|"failed"|"processing", "reference": str, "reason": str|null,
     "occurred_at": int}
signed as above (method POST, path of the notify URL). Any 2xx acknowledges; otherwise it is
retried with backoff. The same event may come twice, and events may come out of order (a stale
"processing" after the final state): dedupe by event_id, never move a final state back.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Channel-Timestamp"
SIGNATURE_HEADER = "X-Channel-Signature"
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """A request or callback whose signature must not be trusted; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "missing" | "stale" | "bad_signature"


def signature(secret: str, method: str, path: str, body: bytes, timestamp: int) -> str:
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The two headers that sign one request."""
    return {TIMESTAMP_HEADER: str(int(timestamp)),
            SIGNATURE_HEADER: signature(secret, method, path, body, int(timestamp))}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict with other capitalisation
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def verify(secret: str, method: str, path: str, body: bytes, headers: Mapping[str, str],
           now_ts: float, tolerance: float = TOLERANCE_SECONDS) -> None:
    """Raise SignatureError unless `headers` sign this request within `tolerance` of now_ts."""
    ts_text, given = _header(headers, TIMESTAMP_HEADER), _header(headers, SIGNATURE_HEADER)
    if not ts_text or not given:
        raise SignatureError("missing")
    try:
        ts = int(ts_text)
    except ValueError:
        raise SignatureError("bad_signature") from None
    if abs(now_ts - ts) > tolerance:
        raise SignatureError("stale")
    expected = signature(secret, method, path, body, ts).encode()
    if not hmac.compare_digest(expected, given.strip().lower().encode()):
        raise SignatureError("bad_signature")

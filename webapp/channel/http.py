"""The payment channel over HTTP (protocol v1, see protocol.py): signed requests, timeouts, and
every failure mapped to what the worker needs to know (could the request have landed?)."""
from __future__ import annotations

import json
import logging
from datetime import datetime
from urllib.parse import quote, urlsplit

import httpx

from . import protocol
from .base import ChannelAnswer, TransferState, TransferStatus, TransientChannelError

log = logging.getLogger(__name__)


class ChannelConflict(Exception):
    """The channel already holds this idempotency key with another buyer or amount (HTTP 409)."""


class HttpChannel:
    def __init__(self, base_url: str, secret: str, notify_url: str | None = None,
                 connect_timeout: float = 2.0, read_timeout: float = 5.0):
        if not base_url or not secret:
            raise ValueError("HttpChannel needs a base URL and a secret")
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path  # signed paths include any path prefix
        self._secret = secret
        self.notify_url = notify_url or None  # "" (unset in the environment) means: no callbacks
        # trust_env=False: never route money calls through a proxy picked up from the environment
        self._client = httpx.Client(timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
                                    trust_env=False, headers={"Content-Type": "application/json"})

    @classmethod
    def from_config(cls, app) -> HttpChannel:
        c = app.config
        return cls(c.get("CHANNEL_URL"), c.get("CHANNEL_SECRET"), c.get("CHANNEL_NOTIFY_URL"),
                   float(c.get("CHANNEL_CONNECT_TIMEOUT", 2.0)), float(c.get("CHANNEL_READ_TIMEOUT", 5.0)))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpChannel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, payout_id: int, buyer_ref: str, amount_fen: int, now: datetime,
               not_after: datetime) -> ChannelAnswer:
        """Ask the channel to pay, unless it is later than not_after on its clock (then nothing is
        recorded: TransientChannelError("expired", delivered=False)). Idempotent by payout_id."""
        body = {"payout_id": payout_id, "idempotency_key": str(payout_id), "buyer_ref": buyer_ref,
                "amount_fen": amount_fen, "not_after": int(not_after.timestamp()), "notify_url": self.notify_url}
        response = self._call("POST", "/v1/transfers", body, now)
        if response.status_code == 409:
            raise ChannelConflict(f"payout {payout_id}: the channel holds this key with other details")
        if response.status_code == 410:
            raise TransientChannelError("expired", delivered=False)
        answer = self._answer(response, payout_id)
        if answer.state == TransferState.FAILED:
            return ChannelAnswer(accepted=False, reference=answer.reference, reason=answer.reason)
        return ChannelAnswer(accepted=True, reference=answer.reference)

    def status(self, payout_id: int, now: datetime) -> TransferStatus:
        response = self._call("GET", f"/v1/transfers/{quote(str(payout_id), safe='')}", None, now)
        if response.status_code == 404 and _json(response).get("state") == TransferState.UNKNOWN:
            return TransferStatus(TransferState.UNKNOWN)  # only the channel's own "never recorded"
        return self._answer(response, payout_id)

    def recharge(self, topup_id: int, shop_ref: str, amount_fen: int, now: datetime,
                 not_after: datetime) -> ChannelAnswer:
        """Money in (a top-up), final at once; idempotent by topup_id, never recorded after not_after."""
        body = {"topup_id": topup_id, "idempotency_key": str(topup_id), "shop_ref": shop_ref,
                "amount_fen": amount_fen, "not_after": int(not_after.timestamp())}
        response = self._call("POST", "/v1/recharges", body, now)
        if response.status_code == 409:
            raise ChannelConflict(f"top-up {topup_id}: the channel holds this key with other details")
        if response.status_code == 410:
            raise TransientChannelError("expired", delivered=False)
        answer = self._answer(response, topup_id, id_field="topup_id")
        if answer.state == TransferState.FAILED:
            return ChannelAnswer(accepted=False, reference=answer.reference, reason=answer.reason)
        return ChannelAnswer(accepted=True, reference=answer.reference)

    def recharge_status(self, topup_id: int, now: datetime) -> TransferStatus:
        response = self._call("GET", f"/v1/recharges/{quote(str(topup_id), safe='')}", None, now)
        if response.status_code == 404 and _json(response).get("state") == TransferState.UNKNOWN:
            return TransferStatus(TransferState.UNKNOWN)
        return self._answer(response, topup_id, id_field="topup_id")

    def _call(self, method: str, path: str, body: dict | None, now: datetime) -> httpx.Response:
        content = json.dumps(body).encode() if body is not None else b""
        headers = protocol.sign(self._secret, method, self._prefix + path, content, int(now.timestamp()))
        url = self.base_url + path
        try:
            response = self._client.request(method, url, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientChannelError(f"{method} {path}: cannot connect: {exc}", delivered=False) from exc
        except httpx.TransportError as exc:  # read/write timeout, connection closed without an answer
            raise TransientChannelError(f"{method} {path}: no answer: {exc!r}", delivered=True) from exc
        if response.status_code == 401:
            log.error("payment channel refused our signature (%s): check CHANNEL_SECRET and this host's clock",
                      _json(response).get("error"))
            raise TransientChannelError("signature refused", delivered=False)
        if response.status_code >= 500:
            raise TransientChannelError(f"{method} {path}: HTTP {response.status_code}", delivered=True)
        return response

    @staticmethod
    def _answer(response: httpx.Response, payout_id: int, id_field: str = "payout_id") -> TransferStatus:
        data = _json(response)
        try:
            if response.status_code != 200 or data[id_field] != payout_id:
                raise ValueError("unexpected answer")
            state = TransferState(data["state"])
            if state == TransferState.UNKNOWN:
                raise ValueError("a 200 never says unknown")
            return TransferStatus(state, data.get("reference"), data.get("reason"))
        except (KeyError, ValueError) as exc:
            log.error("payment channel answered HTTP %s %r for %s %s", response.status_code, data, id_field, payout_id)
            raise TransientChannelError(f"unexpected answer HTTP {response.status_code}", delivered=True) from exc


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


from_config = HttpChannel.from_config

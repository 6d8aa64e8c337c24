"""Signing and verifying channel requests and callbacks (webapp/channel/protocol.py)."""
import hashlib
import hmac

import pytest

from webapp.channel.protocol import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, sign, verify

SECRET, TS = "s3cret", 1_790_000_000
BODY = b'{"payout_id": 7, "amount_fen": 500}'


def reason(**kw) -> str:
    args = dict(secret=SECRET, method="POST", path="/v1/transfers", body=BODY,
                headers=sign(SECRET, "POST", "/v1/transfers", BODY, TS), now_ts=TS)
    args.update(kw)
    with pytest.raises(SignatureError) as err:
        verify(**args)
    return err.value.reason


def test_signature_is_lowercase_hex_hmac_sha256_of_timestamp_method_path_and_body():
    headers = sign(SECRET, "POST", "/v1/transfers", BODY, TS)
    expected = hmac.new(SECRET.encode(), f"{TS}.POST./v1/transfers.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: str(TS), SIGNATURE_HEADER: expected}


def test_good_signature_verifies_within_tolerance_and_with_any_header_case():
    headers = sign(SECRET, "GET", "/v1/transfers/7", b"", TS)
    verify(SECRET, "GET", "/v1/transfers/7", b"", headers, now_ts=TS + 299.5)
    verify(SECRET, "GET", "/v1/transfers/7", b"", {k.lower(): v for k, v in headers.items()}, now_ts=TS - 300)


def test_tampered_body_is_refused():
    assert reason(body=BODY.replace(b"500", b"50000")) == "bad_signature"


def test_other_path_or_method_is_refused():
    assert reason(path="/v1/transfers/7") == "bad_signature"
    assert reason(method="GET") == "bad_signature"


def test_wrong_secret_is_refused():
    assert reason(secret="other") == "bad_signature"


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_stale_timestamp_is_refused_in_both_directions(skew):
    assert reason(now_ts=TS + skew) == "stale"


def test_a_fresh_timestamp_cannot_be_pasted_onto_an_old_signature():
    headers = sign(SECRET, "POST", "/v1/transfers", BODY, TS)
    assert reason(headers={**headers, TIMESTAMP_HEADER: str(TS + 1)}, now_ts=TS + 1) == "bad_signature"


@pytest.mark.parametrize("drop", [TIMESTAMP_HEADER, SIGNATURE_HEADER, "both"])
def test_missing_headers_are_refused(drop):
    headers = sign(SECRET, "POST", "/v1/transfers", BODY, TS)
    headers = {} if drop == "both" else {k: v for k, v in headers.items() if k != drop}
    assert reason(headers=headers) == "missing"


def test_garbage_timestamp_or_signature_is_a_bad_signature():
    headers = sign(SECRET, "POST", "/v1/transfers", BODY, TS)
    assert reason(headers={**headers, TIMESTAMP_HEADER: "yesterday"}) == "bad_signature"
    assert reason(headers={**headers, SIGNATURE_HEADER: "é" * 64}) == "bad_signature"

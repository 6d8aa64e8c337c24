"""Two-factor sign-in for merchant accounts (issue 12 point 3; OWASP ASVS 4.0.3 V2.8 one-time
verifiers, V2.5-2.6 recovery codes). Pure: the rules over plain values, standard library only; the
storage is services/two_factor.py, the pages web/two_factor/ and the second sign-in step web/auth.

- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps), any authenticator app. A code is accepted
  for the current step and one step either side (a phone clock a little off, a code typed as it
  changed), and never twice: the last accepted step is stored on the account and a code for that
  step or an earlier one is refused (ASVS 2.8.4, replay).
- Recovery codes: 10, each 80 random bits (ASVS 2.6.2 asks at least 20 bits of entropy) written as
  16 Crockford base32 characters in groups of four ("7K3Q-M9XD-2PVA-H4TR"); what people type is
  normalised (case, spaces, dashes, full-width characters, O/0 and I/L/1). Shown once, stored only
  as a salted SHA-256 (`recovery_code_digest`), each works once.
- Optional for every merchant account; compulsory for the sub-accounts of a shop whose main
  account requires it (`must_use_two_factor`): those cannot turn it off, and until they set it
  up they can reach nothing but the set-up page.
- The password is step one of a sign-in; step two (the code) must follow within
  PENDING_SIGN_IN_MAX_AGE (5 minutes), else the sign-in starts again.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import unicodedata
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote, urlencode

from . import N_
from .permissions import Role

ISSUER = "AfterDesk"  # the name authenticator apps show above the code
STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # codes of one step before and after the current one are accepted too
SECRET_BYTES = 20  # 160 bits: RFC 4226's recommended key length for HMAC-SHA1
PENDING_SIGN_IN_MAX_AGE = timedelta(minutes=5)  # between the password and the code at sign-in
RECOVERY_CODES = 10
RECOVERY_CODE_BYTES = 10  # 80 bits each
RECOVERY_CODES_LOW = 3  # at or below this many unused codes the page suggests new ones
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
RECOVERY_GROUP = 4
_RECOVERY_CHARS = RECOVERY_CODE_BYTES * 8 // 5  # 16
# Characters people read or type for others (Crockford's decoding rules), and separators to drop.
_RECOVERY_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = " \t-_.\u00b7\u30fb\u2010\u2011\u2012\u2013\u2014\u2212"


class Outcome(StrEnum):
    """What became of a code someone typed."""

    ACCEPTED = "accepted"
    MISSING = "missing"  # nothing typed
    MALFORMED = "malformed"  # not 6 digits
    WRONG = "wrong"  # no step in the window has this code
    REUSED = "reused"  # the code's step (or a later one) was already used: a replay
    RECOVERY_WRONG = "recovery_wrong"  # not one of the account's unused recovery codes


MESSAGES = {
    Outcome.MISSING: N_("Enter the 6-digit code from your authenticator app."),
    Outcome.MALFORMED: N_("The code has 6 digits. Enter the code your authenticator app shows now."),
    Outcome.WRONG: N_("That code is not right. Enter the code your authenticator app shows now (it changes every "
                      "30 seconds). If it keeps failing, check that your phone sets its time automatically."),
    Outcome.REUSED: N_("That code has already been used. Wait for the next code in your authenticator app and "
                       "enter it."),
    Outcome.RECOVERY_WRONG: N_("That recovery code is not right, or it has already been used. Each recovery code "
                               "works once."),
}


# -- TOTP ------------------------------------------------------------------------------------------

def time_step(now: datetime) -> int:
    """The 30-second step an instant falls in (RFC 6238's T, counted from the Unix epoch)."""
    return int(now.timestamp()) // STEP_SECONDS


def secret_from_bytes(raw: bytes) -> str:
    """The base32 secret (no padding) authenticator apps take, from random bytes."""
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    clean = secret.strip().replace(" ", "").upper()
    return base64.b32decode(clean + "=" * (-len(clean) % 8))


def code_at(secret: str, step: int) -> str:
    """The code for one time step (RFC 4226 HOTP with the step as the counter, dynamic truncation)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10 ** DIGITS).zfill(DIGITS)


def _folded(text: str) -> str:
    """Full-width and other compatibility characters as their plain forms (NFKC: "１２３" -> "123"),
    separators removed."""
    plain = unicodedata.normalize("NFKC", text or "")
    return "".join(c for c in plain if c not in _SEPARATORS and not c.isspace())


def normalize_code(text: str | None) -> str | None:
    """The 6 digits of what was typed ("123 456", "１２３４５６" and "123-456" included), else None."""
    folded = _folded(text or "")
    if len(folded) == DIGITS and folded.isascii() and folded.isdigit():
        return folded
    return None


def check_code(secret: str, typed: str | None, now: datetime, last_used_step: int | None) -> tuple[Outcome, int | None]:
    """(ACCEPTED, the step it matched) for a code of the current step or one step either side that
    is later than `last_used_step`; otherwise the reason and None. Every step of the window is
    compared, in constant time, whatever matches first."""
    if not (typed or "").strip():
        return Outcome.MISSING, None
    code = normalize_code(typed)
    if code is None:
        return Outcome.MALFORMED, None
    current = time_step(now)
    matched = [step for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1)
               if hmac.compare_digest(code_at(secret, step), code)]
    if not matched:
        return Outcome.WRONG, None
    fresh = [step for step in matched if last_used_step is None or step > last_used_step]
    if not fresh:
        return Outcome.REUSED, None
    return Outcome.ACCEPTED, max(fresh)


def provisioning_uri(secret: str, login: str) -> str:
    """The otpauth:// URI of the QR code (Google Authenticator's key URI format): the issuer and the
    account's login name label the entry in the app."""
    label = quote(f"{ISSUER}:{login}", safe=":@")
    query = urlencode({"secret": secret, "issuer": ISSUER, "algorithm": "SHA1", "digits": DIGITS,
                       "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


def grouped(text: str, size: int = 4) -> str:
    """"JBSW Y3DP EHPK ..." for typing a secret by hand."""
    return " ".join(text[i:i + size] for i in range(0, len(text), size))


# -- recovery codes --------------------------------------------------------------------------------

def recovery_code_from_bytes(raw: bytes) -> str:
    """"7K3Q-M9XD-2PVA-H4TR": 80 random bits as 16 Crockford base32 characters, in groups of four."""
    if len(raw) != RECOVERY_CODE_BYTES:
        raise ValueError(f"a recovery code takes {RECOVERY_CODE_BYTES} random bytes, not {len(raw)}")
    number = int.from_bytes(raw, "big")
    chars = "".join(RECOVERY_ALPHABET[(number >> (5 * i)) & 0x1F] for i in reversed(range(_RECOVERY_CHARS)))
    return "-".join(chars[i:i + RECOVERY_GROUP] for i in range(0, _RECOVERY_CHARS, RECOVERY_GROUP))


def normalize_recovery_code(text: str | None) -> str | None:
    """The 16 characters of a recovery code as typed in any case, with or without spaces or dashes,
    full-width, or with O for 0 and I or L for 1; None if it cannot be one."""
    folded = _folded(text or "").upper().translate(_RECOVERY_LOOKALIKES)
    if len(folded) == _RECOVERY_CHARS and all(c in RECOVERY_ALPHABET for c in folded):
        return folded
    return None


def recovery_code_digest(salt_hex: str, normalized: str) -> str:
    """What is stored for a recovery code: SHA-256 over its own random salt and the normalised code.
    (80 random bits need no slow hash: guessing one is 2^80 tries, whatever the hash costs.)"""
    return hashlib.sha256(bytes.fromhex(salt_hex) + normalized.encode("ascii")).hexdigest()


def recovery_code_matches(salt_hex: str, stored_digest: str, normalized: str) -> bool:
    return hmac.compare_digest(recovery_code_digest(salt_hex, normalized), stored_digest)


# -- who must use it, and the sign-in in between ---------------------------------------------------

def must_use_two_factor(role: Role | str, shop_requires: bool) -> bool:
    """A sub-account of a shop whose main account requires two-factor. (The main account decides
    for its shop and may always choose for itself.)"""
    return bool(shop_requires) and Role(role) == Role.STAFF


def must_set_up(role: Role | str, shop_requires: bool, enabled: bool) -> bool:
    """Required and not set up yet: until it is, the account reaches only the set-up page."""
    return not enabled and must_use_two_factor(role, shop_requires)


def pending_sign_in_is_fresh(started_at: datetime | None, now: datetime) -> bool:
    """Is the password step of a sign-in recent enough for its code step? A start later than now
    (a clock moved back, a forged value) is not believed: fail closed."""
    if started_at is None:
        return False
    return timedelta(0) <= now - started_at <= PENDING_SIGN_IN_MAX_AGE

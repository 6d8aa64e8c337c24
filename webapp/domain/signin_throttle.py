"""Sign-in throttling rules (OWASP ASVS 2.2.1; OWASP "Slow Down Online Guessing Attacks with Device
Cookies"). Pure: plain values in, bucket keys and waits out; the counting is services/signin_throttle.py.

Which budget a sign-in attempt spends, before its password is checked:
- A browser holding a valid device cookie for that login (it signed in to that account before) spends
  only its own budget, per device: failures from anywhere else never lock it out.
- Any other browser (no cookie, a cookie for another login, a forged, tampered or expired one) spends
  the login name's budget for unknown browsers (a lockout of untrusted attempts on that account) AND
  its address's budget (IPv6: per /64, what one subscriber is usually given).
The login name's budget is kept whether or not an account has that name, so a lockout says nothing
about which accounts exist.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """At most `limit` password checks per `window_s` seconds (a fixed window that opens at the first)."""

    limit: int
    window_s: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s < 1:
            raise ValueError(f"a sign-in budget needs at least 1 attempt per at least 1 second, not {self}")


@dataclass(frozen=True)
class Bucket:
    key: str
    budget: Budget


def normalize_login(login: str) -> str:
    """The login name as throttled: trimmed and lowercase (merchant logins are stored lowercase; for
    buyers, names differing only in case share one budget, which only throttles more)."""
    return (login or "").strip().lower()


def account_key(kind: str, login: str) -> str:
    """A short, stable name for (kind of sign-in page, login name): the budget's key and what a
    device cookie names. A digest, so no login name is stored in the throttle or shown in a cookie."""
    digest = hashlib.sha256(f"{kind}\x00{normalize_login(login)}".encode()).hexdigest()
    return digest[:32]


def address_key(address: str | None) -> str:
    """The client address's budget: IPv4 per address, IPv6 per /64 (one subscriber's usual share:
    per-address keys would give an IPv6 attacker 2^64 budgets)."""
    raw = (address or "").strip()
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return "ip:" + raw[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"ip:{ip}"


def buckets_for(kind: str, login: str, address: str | None, device_nonce: str | None, *,
                per_login: Budget, per_address: Budget, per_device: Budget) -> list[Bucket]:
    """The budgets one attempt spends, in the order they are reserved."""
    if device_nonce:
        return [Bucket("dev:" + device_nonce, per_device)]
    return [Bucket(address_key(address), per_address), Bucket("acct:" + account_key(kind, login), per_login)]


@dataclass(frozen=True)
class DeviceEntry:
    """One login this browser signed in to: the account key, a random nonce (the device's budget
    key) and when it was issued (epoch seconds)."""

    account: str
    nonce: str
    issued_at: int


def trusted_nonce(entries: list[DeviceEntry], account: str, now_s: int, lifetime_s: int) -> str | None:
    """The device nonce for this account if the (verified) cookie holds a current entry for it."""
    for e in entries:
        if e.account == account and 0 <= now_s - e.issued_at <= lifetime_s:
            return e.nonce
    return None


def remember(entries: list[DeviceEntry], entry: DeviceEntry, keep: int, now_s: int, lifetime_s: int) -> list[DeviceEntry]:
    """After a successful sign-in: this login's new entry first, then the other current ones, at most `keep`."""
    others = [e for e in entries if e.account != entry.account and 0 <= now_s - e.issued_at <= lifetime_s]
    return [entry, *others][:max(1, keep)]


def wait_parts(seconds: float) -> tuple[int, str]:
    """How long to tell the user to wait: (n, "seconds") under a minute, else whole minutes rounded up."""
    s = max(1, math.ceil(seconds))
    if s < 60:
        return s, "seconds"
    return math.ceil(s / 60), "minutes"

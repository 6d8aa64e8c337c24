"""Argon2id password hashing (argon2-cffi), parameters from the app config."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# A hash to verify against when the login name is unknown, so both paths cost the same.
_DUMMY: dict[tuple[int, int], str] = {}


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    ph = _hasher()
    if password_hash is None:
        key = (ph.time_cost, ph.memory_cost)
        if key not in _DUMMY:
            _DUMMY[key] = ph.hash("not-a-real-password")
        password_hash = _DUMMY[key]
        try:
            ph.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False

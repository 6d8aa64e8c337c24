"""Logging in and loading the signed-in principal."""
from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import select, update

from ..db import AnySession, write_transaction
from ..models import Buyer, MerchantAccount
from .passwords import verify_password


# One of the two kinds of account; a constrained TypeVar, so that mypy checks the helpers below for each.
_Account = TypeVar("_Account", MerchantAccount, Buyer)


class AccountDisabled(Exception):
    """The login name and password match, but the account is disabled (a sub-account its main account
    switched off). Raised only after the right password, so it tells nothing to someone without it."""


def authenticate(session: AnySession, kind: str, login: str, password: str, now: datetime) -> MerchantAccount | Buyer | None:
    """The account if the login name and password match and it is active, else None; AccountDisabled
    if they match a disabled account."""
    if kind == "merchant":
        return _authenticate(session, MerchantAccount, login.strip().lower(), password, now)  # merchant logins are stored lowercase
    return _authenticate(session, Buyer, login.strip(), password, now)


def _authenticate(session: AnySession, model: type[_Account], name: str, password: str, now: datetime) -> _Account | None:
    account = session.scalar(select(model).where(model.login == name))
    ok = verify_password(account.password_hash if account else None, password)
    if not ok or account is None:
        return None
    if not account.active:
        raise AccountDisabled(account.id)
    with write_transaction(session):  # a write: on SQLite it must not upgrade a read transaction
        session.execute(update(model).where(model.id == account.id).values(last_login_at=now))
    return session.get(model, account.id, populate_existing=True)


def load_principal(session: AnySession, user_id: str) -> MerchantAccount | Buyer | None:
    """Flask-Login's user loader: "m:<id>:<epoch>" or "b:<id>:<epoch>"."""
    try:
        kind, raw_id, raw_epoch = user_id.split(":")
        pk, epoch = int(raw_id), int(raw_epoch)
    except ValueError:
        return None
    if kind == "m":
        return _load(session, MerchantAccount, pk, epoch)
    if kind == "b":
        return _load(session, Buyer, pk, epoch)
    return None


def _load(session: AnySession, model: type[_Account], pk: int, epoch: int) -> _Account | None:
    account = session.get(model, pk)
    if account is None or not account.active or account.session_epoch != epoch:
        return None
    return account

"""Logging in and loading the signed-in principal."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from ..db import write_transaction

from ..extensions import db
from ..models import Buyer, MerchantAccount
from .passwords import verify_password


def authenticate(kind: str, login: str, password: str, now: datetime) -> MerchantAccount | Buyer | None:
    """The account if the login name and password match and it is active, else None."""
    model = MerchantAccount if kind == "merchant" else Buyer
    name = login.strip().lower() if kind == "merchant" else login.strip()  # merchant logins are stored lowercase
    account = db.session.scalar(select(model).where(model.login == name))
    ok = verify_password(account.password_hash if account else None, password)
    if not ok or account is None or not account.active:
        return None
    with write_transaction(db.session):  # a write: on SQLite it must not upgrade a read transaction
        db.session.execute(update(model).where(model.id == account.id).values(last_login_at=now))
    return db.session.get(model, account.id, populate_existing=True)


def load_principal(user_id: str) -> MerchantAccount | Buyer | None:
    """Flask-Login's user loader: "m:<id>:<epoch>" or "b:<id>:<epoch>"."""
    try:
        kind, raw_id, raw_epoch = user_id.split(":")
        pk, epoch = int(raw_id), int(raw_epoch)
    except ValueError:
        return None
    model = {"m": MerchantAccount, "b": Buyer}.get(kind)
    if model is None:
        return None
    account = db.session.get(model, pk)
    if account is None or not account.active or account.session_epoch != epoch:
        return None
    return account

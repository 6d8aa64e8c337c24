"""Row helpers for write transactions: create-if-missing, then lock."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import lazyload

from ..db import AnySession


def ensure_row(session: AnySession, model, **values) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: a row that does not exist yet cannot be locked.
    Returns True if this call inserted it."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING tells whether a row was inserted (psycopg's rowcount is not reliable here).
    key = list(model.__table__.primary_key.columns)[0]
    stmt = insert(model).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(stmt).first() is not None


def lock(session: AnySession, model, *where):
    """SELECT ... FOR UPDATE (PostgreSQL row lock; SQLite is already serialized by BEGIN IMMEDIATE).

    populate_existing: under READ COMMITTED the locked read returns the latest committed row,
    and the identity map must not hand back an older copy.
    """
    stmt = (
        select(model).where(*where).options(lazyload("*"))  # lock this row only, no joined relations
        .with_for_update().execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()


def lock_or_create(session: AnySession, model, **key_and_defaults):
    """The row with this primary key, locked; created first (with the defaults) if it does not exist.

    One statement when the row exists (the usual case: a shop's funds account, today's usage
    counter after the day's first payout); a missing row costs the INSERT ... ON CONFLICT DO
    NOTHING and a second lock, so two creators racing still end up locking the one row."""
    where = [col == key_and_defaults[col.key] for col in model.__table__.primary_key.columns]
    row = lock(session, model, *where)
    if row is None:
        ensure_row(session, model, **key_and_defaults)
        row = lock(session, model, *where)
    return row

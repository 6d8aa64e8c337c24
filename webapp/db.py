"""Engine set-up per backend, and the write transaction that serializes writers.

PostgreSQL: row locks (`SELECT ... FOR UPDATE`) under READ COMMITTED.
SQLite: the pysqlite driver's own BEGIN is switched off and we emit BEGIN ourselves
(SQLAlchemy's documented recipe); write transactions use BEGIN IMMEDIATE so that two
writers serialize on the database lock instead of failing with SQLITE_BUSY on upgrade.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, TypeAlias

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

IMMEDIATE = "afterdesk_sqlite_immediate"

# What the services accept: a plain Session (tests, scripts) or Flask-SQLAlchemy's `db.session`,
# a scoped_session that proxies the Session methods to the current one. (scoped_session is invariant
# in its session class, and Flask-SQLAlchemy's is its own Session subclass, hence Any.)
AnySession: TypeAlias = Session | scoped_session[Any]


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver glue
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver glue
        if conn.get_execution_options().get(IMMEDIATE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_postgres(session: AnySession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class PendingChangesError(RuntimeError):
    """A write transaction was opened on a session that holds changes of its own."""


@contextmanager
def write_transaction(session: AnySession, *, keep_loaded: bool = False) -> Iterator[AnySession]:
    """One atomic unit of work that changes money or limits.

    On SQLite it starts with BEGIN IMMEDIATE (writers queue on the busy timeout); on
    PostgreSQL the service locks its rows with FOR UPDATE in the documented order.
    Commits on success, rolls back on any exception. Refuses to start (PendingChangesError) if
    the session holds unsaved changes: they are not part of this unit of work.

    keep_loaded: the commit does not expire what the session holds, so the caller can show the
    rows it just locked and wrote (exactly what was committed: they stayed locked until the commit)
    without reading them again.
    """
    real = session() if isinstance(session, scoped_session) else session
    if real.new or real.dirty or real.deleted:
        # Changes made outside this unit of work would be committed with it, silently: refuse.
        raise PendingChangesError(
            f"write_transaction with unsaved changes in the session: {len(real.new)} new, {len(real.dirty)} changed, "
            f"{len(real.deleted)} deleted; commit or roll them back first")
    if real.in_transaction():
        real.commit()  # ends a read-only snapshot (nothing pending): the locked reads below see the latest rows
    real.connection(execution_options={IMMEDIATE: True})
    try:
        yield session
        if keep_loaded:
            real.expire_on_commit = False
            try:
                session.commit()
            finally:
                real.expire_on_commit = True
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise

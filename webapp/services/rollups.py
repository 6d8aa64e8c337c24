"""The per-day payout rollups behind the records page's totals (R5): payout_day_total kept in step
with the payouts in the same transaction, so totals never scan history (issue 11)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import delete, event, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction, object_session

from ..db import AnySession, is_postgres, write_transaction
from ..domain.states import PayoutStatus
from ..models import Payout
from ..models.rollups import PayoutDayTotal

# A payout counts in the rollup row of (shop, shop_day, started_by, status). Creating it adds it to
# its status; move() takes it out of the old status and into the new one. Nothing else can change
# a row's key or amount: shop_id, shop_day and started_by_id are set at creation and never
# written again, and Payout.amount_fen never changes after creation either (no code writes it; a
# replayed request key with another amount is refused, R4). If that ever changes, the writer must
# record the change here too.
#
# Deadlocks: rollup rows are shared by every payout of a shop's day, so updating them as we went
# would let two transactions take them in opposite orders (worker A moves payouts of staff 1 then
# staff 2, worker B of staff 2 then staff 1). Instead each change is recorded as a delta in
# `session.info`, and at commit (the before_commit session event, i.e. the commit that ends
# write_transaction), after the payout rows are flushed, the deltas are applied once, sorted by
# key, one statement per key. Rollup rows are therefore the LAST rows every transaction locks
# (after DESIGN.md's funds account -> shop-day counter -> account-day counter -> order -> payout),
# always in key order, and while holding them a transaction waits for no other kind of row: no
# cycle of waits can form. A rollback, or a session closed without commit, drops the deltas.

_DELTAS = "afterdesk.payout_rollup_deltas"

RollupKey = tuple[int, date, int, str]  # (shop_id, day, started_by_id, status)


class RollupDrift(RuntimeError):
    """A rollup row that must exist (a payout is leaving it) does not: the table has drifted from
    the payouts (rows written past the services, or changed by code older than the rollups)."""


def record_status_change(payout: Payout, leaving: str | None, entering: str) -> None:
    """Count `payout` out of status `leaving` (None: it is being created) and into `entering`, in
    the open transaction of the session that holds it (applied when that transaction commits)."""
    session = object_session(payout)
    if session is None:
        raise RuntimeError("a payout outside any session: its rollup change would be lost")
    if session.in_nested_transaction():
        # The deltas belong to the whole transaction: a savepoint rolled back would leave its own behind.
        raise RuntimeError("payout status changes inside a SAVEPOINT are not supported by the rollups")
    deltas: dict[RollupKey, list[int]] = session.info.setdefault(_DELTAS, {})
    for status, sign in ((leaving, -1), (entering, +1)):
        if status is not None:
            d = deltas.setdefault((payout.shop_id, payout.shop_day, payout.started_by_id, str(PayoutStatus(status))), [0, 0])
            d[0] += sign
            d[1] += sign * payout.amount_fen


def pending_rollup_deltas(session: AnySession) -> dict[RollupKey, tuple[int, int]]:
    """What this session's open transaction will add to the rollups at commit (tests, debugging)."""
    return {k: (n, fen) for k, (n, fen) in session.info.get(_DELTAS, {}).items()}


@event.listens_for(Session, "before_commit")  # every Session, Flask-SQLAlchemy's included; registered once (import)
def _apply_rollup_deltas(session: Session) -> None:
    deltas: dict[RollupKey, list[int]] | None = session.info.pop(_DELTAS, None)
    if not deltas:
        return
    session.flush()  # the payout rows (and everything else) first: rollup rows are locked last
    insert = pg_insert if is_postgres(session) else sqlite_insert
    t = PayoutDayTotal
    for key in sorted(deltas):  # one fixed order in every transaction
        count, fen = deltas[key]
        if count == 0 and fen == 0:
            continue
        shop_id, day, started_by_id, status = key
        if count >= 0 and fen >= 0:
            ins = insert(t).values(shop_id=shop_id, day=day, started_by_id=started_by_id, status=status,
                                   payout_count=count, amount_fen=fen)
            session.execute(ins.on_conflict_do_update(
                index_elements=[t.shop_id, t.day, t.started_by_id, t.status],
                set_={"payout_count": t.payout_count + ins.excluded.payout_count,
                      "amount_fen": t.amount_fen + ins.excluded.amount_fen},
            ))
        else:
            # A payout leaves this key, so its row exists: an UPDATE. (Not the upsert: PostgreSQL
            # and SQLite both check the CHECKs on the row to insert before looking for the
            # conflict, so INSERT of a negative delta fails even when the row is there.)
            row = session.execute(
                update(t).where(t.shop_id == shop_id, t.day == day, t.started_by_id == started_by_id, t.status == status)
                .values(payout_count=t.payout_count + count, amount_fen=t.amount_fen + fen)
                .returning(t.payout_count).execution_options(synchronize_session=False)
            ).first()
            if row is None:
                raise RollupDrift(f"no payout_day_total row {key} to take {-count} payout(s), {-fen} fen from")


@event.listens_for(Session, "after_transaction_end")
def _discard_rollup_deltas(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed (deltas applied) or not
        session.info.pop(_DELTAS, None)


def rebuild_rollups(session: AnySession) -> None:
    """Recount every rollup row from the payouts: a repair, or after payouts were loaded past the
    services (a benchmark's bulk load). On PostgreSQL writers of the payout table wait meanwhile
    (LOCK ... IN SHARE MODE), so no change slips between the delete and the recount."""
    with write_transaction(session):
        if is_postgres(session):
            session.execute(text("LOCK TABLE payout IN SHARE MODE"))
        session.execute(delete(PayoutDayTotal).execution_options(synchronize_session=False))
        session.execute(text(
            "INSERT INTO payout_day_total (shop_id, day, started_by_id, status, payout_count, amount_fen) "
            "SELECT shop_id, shop_day, started_by_id, status, COUNT(*), SUM(amount_fen) "
            "FROM payout GROUP BY shop_id, shop_day, started_by_id, status"))

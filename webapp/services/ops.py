"""What operators ask the app: is it ready to serve (/readyz), how are the payouts doing (/metrics)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import scoped_session

from ..domain.states import PayoutStatus
from ..db import AnySession
from ..models import Payout, WorkerHeartbeat

UNSETTLED = (PayoutStatus.PENDING, PayoutStatus.PROCESSING)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round(max(0.0, (now - then).total_seconds()), 3)


def readiness(session: AnySession, now: datetime, heartbeat_max_age_s: float) -> dict:
    """Ready when the database answers and some worker beat within `heartbeat_max_age_s`."""
    try:
        beat = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
        oldest_due = session.scalar(select(func.min(Payout.next_attempt_at)).where(
            Payout.status == PayoutStatus.PENDING, Payout.next_attempt_at <= now))
        session.rollback()  # end the read transaction
    except SQLAlchemyError:
        _forget_session(session)
        return {"database": "error", "worker": {"fresh": False, "last_beat_age_s": None},
                "oldest_due_payout_age_s": None, "ready": False}
    beat_age = _age(now, beat)
    fresh = beat_age is not None and beat_age <= heartbeat_max_age_s
    return {"database": "ok", "worker": {"fresh": fresh, "last_beat_age_s": beat_age},
            "oldest_due_payout_age_s": _age(now, oldest_due), "ready": fresh}


@dataclass(frozen=True)
class PayoutGauges:
    by_status: dict[str, int]
    in_doubt: int  # may have reached the channel, and the channel has not answered with a reference
    oldest_pending_age_s: float  # the oldest payout not yet final, from its creation; 0 if none


def payout_gauges(session: AnySession, now: datetime) -> PayoutGauges:
    try:
        counts = dict(session.execute(select(Payout.status, func.count()).group_by(Payout.status)).all())
        in_doubt = session.scalar(select(func.count()).select_from(Payout).where(
            Payout.status.in_(UNSETTLED), Payout.maybe_at_channel.is_(True), Payout.channel_ref.is_(None)))
        oldest = session.scalar(select(func.min(Payout.created_at)).where(Payout.status.in_(UNSETTLED)))
        session.rollback()
    except SQLAlchemyError:
        _forget_session(session)
        raise
    by_status = {str(s): counts.get(str(s), 0) for s in PayoutStatus} | counts
    return PayoutGauges(by_status, in_doubt or 0, _age(now, oldest) or 0.0)


def _forget_session(session: AnySession) -> None:
    """After a database error: drop the session and its connection, whatever state they are in."""
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; removing the session is enough
        pass
    if isinstance(session, scoped_session):
        session.remove()
    else:
        session.close()

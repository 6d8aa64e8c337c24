"""Sign-in throttling counters for the embedded default (services/signin_throttle.py; Redis when REDIS_URL is set)."""
from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model


class SignInBucket(Model):
    """One budget of password checks (a login name's for unknown browsers, an address's, a device's):
    `attempts` reserved in the fixed window ending at `resets_at_ms` (epoch milliseconds, the app's
    clock). Changed only by one UPSERT ... RETURNING (a reservation) or one conditional UPDATE (a
    success giving its reservation back), so concurrent attempts never pass the limit. `granted`
    is the outcome of the latest reservation, read back by RETURNING in the same statement."""

    __tablename__ = "signin_bucket"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_not_negative"),)

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)
    resets_at_ms: Mapped[int] = mapped_column(BigInteger)
    granted: Mapped[bool] = mapped_column(default=True)

"""Recovery codes of two-factor sign-in (issue 12 point 3; domain/two_factor.py). The code itself
is shown once and never stored: a row holds a random salt and the SHA-256 of salt and code (ASVS
2.6.2), and when it was used (a code works once)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime


class RecoveryCode(Model):
    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id"), index=True)
    salt: Mapped[str] = mapped_column(String(32))  # 16 random bytes, hex
    code_hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256(salt + normalised code)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

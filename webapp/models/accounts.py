"""Merchant accounts (main / staff) and buyers. Both log in through Flask-Login with a typed id."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.permissions import Role
from ..extensions import Model
from .shop import Shop
from .types import UTCDateTime


class _LoginMixin(UserMixin):
    KIND = ""
    session_epoch: Mapped[int]
    active: Mapped[bool]

    def get_id(self) -> str:
        # The epoch changes on password reset, which ends every other session of the account.
        return f"{self.KIND}:{self.id}:{self.session_epoch}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)


class MerchantAccount(_LoginMixin, Model):
    __tablename__ = "merchant_account"
    __table_args__ = (
        CheckConstraint("role IN ('main', 'staff')", name="role_known"),
        CheckConstraint("totp_enabled_at IS NULL OR totp_secret IS NOT NULL", name="totp_secret_when_enabled"),
    )
    KIND = "m"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), index=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    session_epoch: Mapped[int] = mapped_column(default=0)
    # R20: a sub-account the main account made an approver may approve others' payouts.
    is_approver: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Two-factor sign-in (TOTP, issue 12 point 3; domain/two_factor.py): the authenticator's base32
    # secret, when it was turned on (None: off), and the last time step whose code was accepted
    # (a code is never accepted twice, ASVS 2.8.4).
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    shop: Mapped[Shop] = relationship(lazy="joined")

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_main(self) -> bool:
        return self.role == Role.MAIN


class Buyer(_LoginMixin, Model):
    __tablename__ = "buyer"
    KIND = "b"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def role_enum(self) -> Role:
        return Role.BUYER

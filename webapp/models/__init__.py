"""SQLAlchemy models, one file per aggregate. Import them all here so Alembic sees them."""
from .accounts import Buyer, MerchantAccount
from .activity import AuditEvent, InSiteMessage
from .channel import ChannelEvent, WorkerHeartbeat
from .funds import FundsAccount, LedgerAccount, LedgerEntry, Movement
from .funds import FundsTopup as FundsTopup  # top-ups through the payment channel
from .orders import AfterSalesCase, CaseEvent, Order
from .payouts import AccountDayUsage, Payout, PayoutQuota, ShopDayUsage
from .rollups import PayoutDayTotal as PayoutDayTotal  # R5 totals (the alias marks the re-export)
from .shop import RefundSettings, Shop
from .sessions import UserSession as UserSession  # R27 signed-in sessions (embedded default)
from .signin_throttle import SignInBucket as SignInBucket  # sign-in throttling counters (embedded default)
from .two_factor import RecoveryCode as RecoveryCode  # two-factor recovery codes, hashed (issue 12)

__all__ = [
    "AccountDayUsage", "AfterSalesCase", "AuditEvent", "CaseEvent", "ChannelEvent", "WorkerHeartbeat", "RefundSettings", "Buyer", "FundsAccount", "InSiteMessage", "LedgerAccount",
    "LedgerEntry", "MerchantAccount", "Movement", "Order", "Payout", "PayoutQuota", "Shop", "ShopDayUsage",
]

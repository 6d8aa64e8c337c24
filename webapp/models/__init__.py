"""SQLAlchemy models, one file per aggregate. Import them all here so Alembic sees them."""
from .accounts import Buyer, MerchantAccount
from .orders import AfterSalesCase, Order
from .shop import Shop

__all__ = ["AfterSalesCase", "Buyer", "MerchantAccount", "Order", "Shop"]

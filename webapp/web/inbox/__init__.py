from .buyer import bp as buyer_bp
from .routes import bp

__all__ = ["bp", "buyer_bp"]

from . import funds as funds  # noqa: F401  (the funds page's routes, on the same blueprint)
from .routes import bp

__all__ = ["bp"]

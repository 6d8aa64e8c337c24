"""AfterDesk: after-sales money (small payouts, fast refunds) for shop merchants.

This package init is deliberately light (standard library only): `webapp.domain` and
`webapp.channel.protocol` must import without Flask or SQLAlchemy (tests/unit/test_import_light.py).
The application factory lives in `webapp/app.py`; `from webapp import create_app` keeps working
through the lazy module `__getattr__` below (PEP 562), which imports `webapp.app` on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs only; at runtime these come through __getattr__
    from .app import RETRY_AFTER_SECONDS, create_app, database_unavailable, serving

__all__ = ["create_app", "serving", "database_unavailable", "RETRY_AFTER_SECONDS"]
_FROM_APP = frozenset(__all__)


def __getattr__(name: str) -> Any:
    if name in _FROM_APP:
        from . import app as factory

        return getattr(factory, name)
    # AttributeError (not ImportError) so that `from webapp import worker` falls back to the submodule.
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_FROM_APP})

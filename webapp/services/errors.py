"""What the services raise when the object asked for does not exist for this actor.

Another shop's or another buyer's object is "not found" too (R18: never confirm it exists). The
web layer maps every NotFound to the 404 page in one error handler (webapp/web/errors.py); views
do not catch these."""
from __future__ import annotations


class NotFound(LookupError):
    """Base class: nothing with this id or number for this actor."""


class OrderNotFound(NotFound):
    pass


class CaseNotFound(NotFound):
    pass


class PayoutNotFound(NotFound):
    pass


class MessageNotFound(NotFound):
    pass


class AccountNotFound(NotFound):
    pass

"""What a search looked for, in the user's language, for the line above its results
("Order number starts or ends with 4821 · buyer's phone ends with 4821: 3 orders")."""
from __future__ import annotations

from flask_babel import gettext as _

from ..domain.search import SearchQuery


def describe(query: SearchQuery) -> str:
    """Each way the search looked, joined; "" for no search."""
    parts = []
    if query.order_no:
        parts.append(_("order number starts or ends with %(q)s", q=query.order_no))
    if query.phone_tail:
        parts.append(_("buyer's phone ends with %(q)s", q=query.phone_tail))
    if query.buyer_name:
        parts.append(_("buyer's name starts with “%(q)s”", q=query.buyer_name))
    return " · ".join(parts)
